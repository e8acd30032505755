#pragma once

#include <cassert>
#include <cstdint>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/core/type_name.hpp>
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

/// A reference to a callable that never outlives the call it is passed to: no allocation,
/// one indirect call (a `std::function` of a lambda capturing a few references allocates).
template <class Signature>
class function_ref;
template <class R, class... Args>
class function_ref<R(Args...)> {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, function_ref>>>
  function_ref(F&& f) noexcept  // NOLINT: implicit, like std::function
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(args)...);
        }) {}
  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

/// The untyped half of `schema`: names, versions and the upcasting chain.
class schema_core {
 public:
  struct type_entry {
    std::string name;
    std::uint32_t version = 1;
    std::size_t index = 0;
  };

  /// Registers a wire name; a duplicate name or a version of 0 is recorded as a problem.
  void add_type(std::string_view name, std::uint32_t version, std::size_t index);
  /// Registers an upcasting step; a duplicate step is recorded as a problem.
  void add_upcaster(std::string_view name, std::uint32_t from_version, upcaster step);
  /// Records a mistake in the schema's definition, reported by `schema::validate`.
  void add_problem(std::string what) { problems_.push_back(std::move(what)); }
  const std::vector<std::string>& problems() const noexcept { return problems_; }

  /// The current entry registered under `name`, or nullptr.
  const type_entry* current(std::string_view name) const noexcept;
  /// The entry registered for `index`, or an entry with an empty name when there is none.
  const type_entry& entry_for(std::size_t index) const noexcept;
  bool has_index(std::size_t index) const noexcept;
  /// Every wire name an upcaster reads (old names included), each once.
  std::vector<std::string> upcast_names() const;

  using sink = function_ref<result<void>(std::size_t index, const boost::json::value& body)>;

  /// Parses `data`, upcasts `(type, version)` to current shapes and hands each resulting
  /// event to `out`. Errors: `corrupted` (malformed JSON, unknown type, failing upcaster),
  /// `unsupported` (a version newer than the code knows, or no upcaster from an old one).
  /// The parsed body lives in a buffer of the calling thread that the next call reuses: `out`
  /// must copy what it keeps (decoding into the typed event does).
  result<void> resolve(std::string_view type, std::uint32_t version, std::string_view data,
                       sink out) const;

 private:
  result<void> resolve_body(std::string_view type, std::uint32_t version, boost::json::value& body,
                            sink out) const;
  result<void> resolve_object(std::string_view type, std::uint32_t version,
                              boost::json::object data, sink out, int depth) const;
  struct step {
    std::string name;
    std::uint32_t from_version;
    upcaster fn;
  };
  const step* find_step(std::string_view name, std::uint32_t version) const noexcept;
  bool knows_name(std::string_view name) const noexcept;

  std::vector<type_entry> types_;
  std::vector<step> steps_;
  std::vector<std::string> problems_;
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
  static_assert(value < sizeof...(Ts),
                "schema<Event>::builder().event<E>(...): E must be one of the alternatives of the "
                "Event variant (A::event)");
};

template <class T, class... Ts>
inline constexpr bool is_one_of_v = (std::is_same_v<T, Ts> || ...);

template <class T>
inline constexpr bool always_false_v = false;

/// Instantiated (and failing) once per alternative of the event variant that a statically
/// chained schema builder did not register; the compiler's "in instantiation of" line names it.
template <class Missing, bool Registered>
struct schema_registers_event : std::true_type {};
template <class Missing>
struct schema_registers_event<Missing, false> : std::false_type {
  static_assert(always_false_v<Missing>,
                "A::events() must register every alternative of A::event: add "
                "`.event<E>(\"WireName\", version)` to the schema builder for the E named in "
                "`schema_registers_event<E, false>` above");
};

template <class Variant, class... Registered>
struct schema_covers;
template <class... Ts, class... Registered>
struct schema_covers<std::variant<Ts...>, Registered...> {
  static constexpr bool value =
      (true & ... & schema_registers_event<Ts, is_one_of_v<Ts, Registered...>>::value);
};

template <class... Ts>
std::vector<std::string> alternative_names(const std::variant<Ts...>*) {
  return {boost::core::type_name<Ts>()...};
}

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
  /// Builds a schema. Chained on a temporary (the usual
  /// `schema<event>::builder().event<A>("A", 1)...build()`), it remembers the registered
  /// alternatives in its type, and `build()` fails to compile, naming the missing ones, unless
  /// every alternative of `Event` was registered. A builder kept in a variable is not checked
  /// at compile time; `validate()` (run by `runtime::register_aggregate`) reports what it
  /// misses.
  template <class... Registered>
  class typed_builder {
   public:
    typed_builder() = default;

    /// Registers alternative `E` under `wire_name` at `current_version` (>= 1).
    template <class E>
    typed_builder<Registered..., E> event(std::string_view wire_name,
                                          std::uint32_t current_version = 1) && {
      static_assert(!detail::is_one_of_v<E, Registered...>,
                    "schema builder: .event<E>(...) is registered twice for the same E");
      add<E>(wire_name, current_version);
      return typed_builder<Registered..., E>{std::move(s_)};
    }
    template <class E>
    typed_builder& event(std::string_view wire_name, std::uint32_t current_version = 1) & {
      add<E>(wire_name, current_version);
      return *this;
    }

    /// Registers the step that upgrades stored `(wire_name, from_version)` bodies.
    typed_builder&& upcast(std::string_view wire_name, std::uint32_t from_version,
                           upcaster step) && {
      s_.core_.add_upcaster(wire_name, from_version, std::move(step));
      return std::move(*this);
    }
    typed_builder& upcast(std::string_view wire_name, std::uint32_t from_version, upcaster step) & {
      s_.core_.add_upcaster(wire_name, from_version, std::move(step));
      return *this;
    }

    /// The schema. Compile-time error unless every alternative of `Event` was registered.
    schema build() && {
      static_assert(detail::schema_covers<Event, Registered...>::value,
                    "A::events() must register every alternative of A::event");
      return std::move(s_);
    }
    /// The schema of a builder kept in a variable; `validate()` reports what it misses.
    schema build() & { return std::move(s_); }

   private:
    template <class...>
    friend class typed_builder;
    explicit typed_builder(schema s) : s_(std::move(s)) {}

    template <class E>
    void add(std::string_view wire_name, std::uint32_t current_version) {
      constexpr std::size_t index = detail::variant_index<E, Event>::value;
      if (s_.core_.has_index(index)) {
        s_.core_.add_problem(boost::core::type_name<E>() + " is registered twice");
        return;
      }
      s_.core_.add_type(wire_name, current_version, index);
      s_.decoders_[index] = [](const boost::json::value& v) -> Event {
        return Event{std::in_place_index<index>, json::from_json<E>(v)};
      };
      s_.encoders_[index] = [](const Event& e) -> std::string {
        return json::to_json(std::get<index>(e));
      };
    }

    schema s_;
  };
  using builder = typed_builder<>;

  /// Success, or `invalid_argument` listing what is wrong with the definition: the event
  /// structs no `.event<E>(...)` registered, and duplicate wire names, types or upcasters.
  result<void> validate() const {
    std::vector<std::string> problems = core_.problems();
    std::string missing;
    const auto names = detail::alternative_names(static_cast<const Event*>(nullptr));
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (core_.has_index(i)) continue;
      missing += (missing.empty() ? "" : ", ") + names[i];
    }
    if (!missing.empty())
      problems.insert(problems.begin(), "no .event<E>(\"WireName\", version) registers " + missing);
    if (problems.empty()) return ok();
    std::string message = "event schema is incomplete: ";
    for (std::size_t i = 0; i < problems.size(); ++i) message += (i ? "; " : "") + problems[i];
    return error{errc::invalid_argument, std::move(message)};
  }

  /// Encodes `e` with its wire name and current version. Throws `std::logic_error` for an
  /// alternative the schema does not register (see `validate`).
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

  /// The wire name of the alternative `E`.
  template <class E>
  std::string_view name_of() const {
    return core_.entry_for(detail::variant_index<E, Event>::value).name;
  }

  /// Every wire name an upcaster reads, including names no current event has any more: with
  /// the current names, every `event_type` a stored event of this schema may carry.
  std::vector<std::string> upcast_names() const { return core_.upcast_names(); }

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
  schema() {
    for (auto& e : encoders_) e = &unregistered;
  }

  [[noreturn]] static std::string unregistered(const Event&) {
    throw std::logic_error{"event alternative not registered in the schema"};
  }

  detail::schema_core core_;
  Event (*decoders_[std::variant_size_v<Event>])(const boost::json::value&) = {};
  std::string (*encoders_[std::variant_size_v<Event>])(const Event&) = {};
};

}  // namespace strata
