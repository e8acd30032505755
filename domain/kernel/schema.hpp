#pragma once

#include <cassert>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/json.hpp>

#include "strata/domain/kernel/json.hpp"
#include "strata/domain/kernel/result.hpp"

namespace strata {

/// One stored event as the upcasting chain sees it: wire name, schema version, JSON body.
struct raw_event {
  std::string type;
  std::uint32_t version = 1;
  boost::json::object data;
};

/// A pure step from one stored shape `(type, v)` to one or more events of version `v + 1`
/// (the same or another name: a rename is `(Old, v) -> (New, v + 1)`, a split returns two).
/// It may throw on a malformed body; the schema turns that into `errc::corrupted`.
using upcaster = std::function<std::vector<raw_event>(boost::json::object data)>;

/// An event encoded for the journal.
struct encoded_event {
  std::string_view type;             ///< Wire name; points into the schema (lives as long).
  std::uint32_t schema_version = 1;  ///< The current version of that wire name.
  std::string data;                  ///< JSON text of the event body.
};

namespace detail {

/// The untyped half of `schema`: names, versions and the upcasting chain.
class schema_core {
 public:
  struct type_entry {
    std::string name;
    std::uint32_t version = 1;
    std::size_t index = 0;
  };

  void add_type(std::string_view name, std::uint32_t version, std::size_t index);
  void add_upcaster(std::string_view name, std::uint32_t from_version, upcaster step);

  /// The current entry registered under `name`, or nullptr.
  const type_entry* current(std::string_view name) const noexcept;
  /// REQUIRES: an entry was registered for `index`.
  const type_entry& entry_for(std::size_t index) const noexcept;
  bool has_index(std::size_t index) const noexcept;

  using sink = std::function<result<void>(std::size_t index, const boost::json::value& body)>;

  /// Parses `data`, upcasts `(type, version)` to current shapes and hands each resulting
  /// event to `out`. Errors: `corrupted` (malformed JSON, unknown type, failing upcaster),
  /// `unsupported` (a version newer than the code knows, or no upcaster from an old one).
  result<void> resolve(std::string_view type, std::uint32_t version, std::string_view data,
                       const sink& out) const;

 private:
  result<void> resolve_object(std::string_view type, std::uint32_t version,
                              boost::json::object data, const sink& out, int depth) const;
  struct step {
    std::string name;
    std::uint32_t from_version;
    upcaster fn;
  };
  const step* find_step(std::string_view name, std::uint32_t version) const noexcept;
  bool knows_name(std::string_view name) const noexcept;

  std::vector<type_entry> types_;
  std::vector<step> steps_;
};

template <class T, class Variant>
struct variant_index;
template <class T, class... Ts>
struct variant_index<T, std::variant<Ts...>> {
  static constexpr std::size_t value = [] {
    constexpr bool matches[] = {std::is_same_v<T, Ts>...};
    for (std::size_t i = 0; i < sizeof...(Ts); ++i)
      if (matches[i]) return i;
    return sizeof...(Ts);
  }();
  static_assert(value < sizeof...(Ts), "type is not an alternative of the event variant");
};

}  // namespace detail

/// The storage contract of an aggregate's events: for each alternative of the `Event`
/// variant its wire name and current version, and the upcasters that bring older stored
/// shapes to the current ones. JSON bodies come from Boost.Describe (see `strata::json`).
///
/// Built once (usually a function-local static), then immutable and safe to share between
/// threads.
template <class Event>
class schema {
 public:
  class builder {
   public:
    /// Registers alternative `E` under `wire_name` at `current_version` (>= 1).
    template <class E>
    builder& event(std::string_view wire_name, std::uint32_t current_version = 1) {
      constexpr std::size_t index = detail::variant_index<E, Event>::value;
      assert(current_version >= 1);
      s_.core_.add_type(wire_name, current_version, index);
      s_.decoders_[index] = [](const boost::json::value& v) -> Event {
        return Event{std::in_place_index<index>, json::from_json<E>(v)};
      };
      s_.encoders_[index] = [](const Event& e) -> std::string {
        return json::to_json(std::get<index>(e));
      };
      return *this;
    }

    /// Registers the step that upgrades stored `(wire_name, from_version)` bodies.
    builder& upcast(std::string_view wire_name, std::uint32_t from_version, upcaster step) {
      s_.core_.add_upcaster(wire_name, from_version, std::move(step));
      return *this;
    }

    /// REQUIRES: every alternative of `Event` was registered.
    schema build() {
      for (std::size_t i = 0; i < std::variant_size_v<Event>; ++i) assert(s_.core_.has_index(i));
      return std::move(s_);
    }

   private:
    schema s_;
  };

  /// Encodes `e` with its wire name and current version.
  encoded_event encode(const Event& e) const {
    const auto& entry = core_.entry_for(e.index());
    return encoded_event{entry.name, entry.version, encoders_[e.index()](e)};
  }

  /// The wire name of `e`'s alternative.
  std::string_view type_name(const Event& e) const { return core_.entry_for(e.index()).name; }

  /// The current version of the alternative `E`.
  template <class E>
  std::uint32_t version_of() const {
    return core_.entry_for(detail::variant_index<E, Event>::value).version;
  }

  /// Decodes one stored event, upcasting it first; calls `out(Event&&)` for each resulting
  /// current event (usually one; more when an upcaster splits). Errors as in
  /// `detail::schema_core::resolve`; a body that does not fit the type is `corrupted`.
  template <class Sink>
  result<void> decode(std::string_view type, std::uint32_t version, std::string_view data,
                      Sink&& out) const {
    return core_.resolve(type, version, data,
                         [&](std::size_t index, const boost::json::value& body) -> result<void> {
                           try {
                             out(decoders_[index](body));
                           } catch (const std::exception& ex) {
                             return error{errc::corrupted,
                                          "event " + std::string{type} + " v" +
                                              std::to_string(version) +
                                              " does not fit its type: " + ex.what()};
                           }
                           return ok();
                         });
  }

  /// Decodes one stored event into the list of current events it stands for.
  result<std::vector<Event>> decode(std::string_view type, std::uint32_t version,
                                    std::string_view data) const {
    std::vector<Event> out;
    auto r = decode(type, version, data, [&](Event&& e) { out.push_back(std::move(e)); });
    if (!r) return std::move(r).err();
    return out;
  }

 private:
  schema() = default;

  detail::schema_core core_;
  Event (*decoders_[std::variant_size_v<Event>])(const boost::json::value&) = {};
  std::string (*encoders_[std::variant_size_v<Event>])(const Event&) = {};
};

}  // namespace strata
