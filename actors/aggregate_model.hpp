#pragma once

#include <any>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/actors/command_json.hpp"
#include "strata/domain/kernel/aggregate.hpp"
#include "strata/domain/kernel/input.hpp"
#include "strata/domain/kernel/json.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/event_record.hpp"
#include "strata/persistence/journal.hpp"

namespace strata {

/// When to snapshot an aggregate type: every `every` events (0: never), or, when `when` is
/// set, whenever it says so (it sees the state, its version and the last snapshot's).
template <class A>
struct snapshot_policy {
  std::uint32_t every = 100;
  std::function<bool(const typename A::state&, version at, version last)> when;
};

}  // namespace strata

namespace strata::actors {

using strata::snapshot_policy;

/// The outcome of deciding one command on a type-erased state.
struct decided {
  std::optional<rejection> rejected;
  std::vector<encoded_event> events;  ///< Empty for a no-op or a rejection.
  /// The decided events themselves (a `std::vector<A::event>`), applied with `evolve` once
  /// the journal acknowledged them: the live state is never copied per command.
  std::any decided_events;
};

/// An aggregate type as the actor layer sees it: the decider's operations on type-erased
/// states and commands, so that no CAF code is a template over the host's aggregates.
///
/// Implementations are immutable and thread-safe. `model_of<A>()` adapts any decider.
class aggregate_model {
 public:
  virtual ~aggregate_model() = default;

  virtual std::string_view type() const noexcept = 0;
  virtual std::uint32_t state_version() const noexcept = 0;
  virtual std::any initial() const = 0;

  /// Decides `command` (an `A::command`) on `state` (an `A::state`). Business outcomes are
  /// values; errors: `invalid_argument` when `command` holds the wrong type, `internal` when
  /// the decider threw.
  virtual result<decided> decide(const std::any& state, const std::any& command,
                                 const context& ctx) const = 0;

  /// Evolves `state` in place with `events`, the `decided_events` of a `decide` on it.
  virtual void evolve(std::any& state, std::any& events) const noexcept = 0;

  /// Decodes `record` (upcasting it) and evolves `state` with the resulting events.
  /// Errors: `corrupted`/`unsupported` from the schema, prefixed with stream and version.
  virtual result<void> apply(std::any& state, const persistence::event_record& record) const = 0;

  /// Like `apply`, for an event of `stream` seen through `journal::for_each_in_stream`: decodes
  /// straight from the view's text. The default copies the view into a record for `apply`.
  /// Errors: as `apply`.
  virtual result<void> apply_view(std::any& state, const stream_id& stream,
                                  const persistence::event_view& event) const {
    return apply(state, event.to_record(stream));
  }

  /// The fields of an event `apply_view` reads. Rehydration reads only these from the
  /// journal, so a model that folds from the type, the schema version and the data
  /// (`event_fields::fold`) spares the journal the audit fields. The default, `all`, suits a
  /// model whose `apply` reads any field of the record.
  virtual persistence::event_fields fields_read() const noexcept {
    return persistence::event_fields::all;
  }

  /// Whether to take a snapshot of `state` now that it is at `at`; `last` is the version of
  /// the previous snapshot (0: none). From the type's snapshot policy.
  virtual bool wants_snapshot(const std::any& state, version at, version last) const = 0;

  /// The state as JSON (for snapshots and inspection).
  virtual std::string encode_state(const std::any& state) const = 0;
  virtual result<std::any> decode_state(std::string_view json_text) const = 0;

  /// The command (an `A::command`) as JSON text, the form a command crosses between the
  /// nodes of a cluster in (actors/command_json.hpp). Errors: `invalid_argument` when
  /// `command` holds the wrong type or does not encode; `unsupported` for a model without a
  /// wire form.
  virtual result<std::string> encode_command(const std::any& command) const {
    static_cast<void>(command);
    return error{errc::unsupported, std::string{type()} + " commands have no wire form"};
  }
  /// The command `json_text` (from `encode_command`) holds, as an `A::command`. Errors:
  /// `invalid_argument` when it does not decode; `unsupported` as above.
  virtual result<std::any> decode_command(std::string_view json_text) const {
    static_cast<void>(json_text);
    return error{errc::unsupported, std::string{type()} + " commands have no wire form"};
  }
};

template <class A>
class decider_model final : public aggregate_model {
  static_assert(is_decider_v<A>, "A does not satisfy the decider contract (aggregate.hpp)");
  using state_t = typename A::state;
  using command_t = typename A::command;
  using event_t = typename A::event;

 public:
  explicit decider_model(snapshot_policy<A> policy = {}) : policy_(std::move(policy)) {}

  std::string_view type() const noexcept override { return A::type; }

  bool wants_snapshot(const std::any& state, version at, version last) const override {
    if (policy_.when) {
      const auto* s = std::any_cast<state_t>(&state);
      return s != nullptr && policy_.when(*s, at, last);
    }
    return policy_.every > 0 && at.value >= last.value + policy_.every;
  }
  std::uint32_t state_version() const noexcept override { return A::state_version; }
  std::any initial() const override { return std::any{A::initial()}; }

  result<decided> decide(const std::any& state, const std::any& command,
                         const context& ctx) const override {
    const auto* s = std::any_cast<state_t>(&state);
    const auto* c = std::any_cast<command_t>(&command);
    if (s == nullptr || c == nullptr)
      return error{errc::invalid_argument,
                   std::string{"command is not a "} + std::string{A::type} + " command"};
    try {
      auto d = A::decide(*s, *c, ctx);
      decided out;
      if (d.is_rejected()) {
        out.rejected = d.why();
        return out;
      }
      out.events.reserve(d.events().size());
      for (const auto& e : d.events()) {
        out.events.push_back(A::events().encode(e));
        // Stored text is UTF-8 without NUL on every backend (PostgreSQL's jsonb refuses
        // both): a string the command carried in refuses the command, naming the member.
        const auto& encoded = out.events.back();
        if (!storable_json_text(encoded.data))
          return check_json_text(std::string{A::type} + " event " + std::string{encoded.type},
                                 encoded.data)
              .err();
      }
      if (!d.events().empty()) out.decided_events = std::move(d.events());
      return out;
    } catch (const std::exception& ex) {
      return error{errc::internal, std::string{A::type} + " decide threw: " + ex.what()};
    }
  }

  void evolve(std::any& state, std::any& events) const noexcept override {
    auto* s = std::any_cast<state_t>(&state);
    auto* es = std::any_cast<std::vector<event_t>>(&events);
    if (s == nullptr || es == nullptr) return;
    for (const auto& e : *es) *s = A::evolve(std::move(*s), e);
  }

  result<void> apply(std::any& state, const persistence::event_record& r) const override {
    return fold(state, r.aggregate_type + "-" + r.aggregate_id, r.event_type, r.schema_version,
                r.stream_version, r.data);
  }

  result<void> apply_view(std::any& state, const stream_id& stream,
                          const persistence::event_view& v) const override {
    return fold(state, stream.str(), v.event_type, v.schema_version, v.stream_version, v.data);
  }

  persistence::event_fields fields_read() const noexcept override {
    return persistence::event_fields::fold;
  }

  std::string encode_state(const std::any& state) const override {
    const auto* s = std::any_cast<state_t>(&state);
    return s == nullptr ? std::string{} : json::to_json(*s);
  }

  result<std::string> encode_command(const std::any& command) const override {
    const auto* c = std::any_cast<command_t>(&command);
    if (c == nullptr)
      return error{errc::invalid_argument,
                   std::string{"command is not a "} + std::string{A::type} + " command"};
    return actors::encode_command(*c);
  }

  result<std::any> decode_command(std::string_view text) const override {
    auto c = actors::decode_command<command_t>(text);
    if (!c) return std::move(c).err();
    return std::any{std::move(*c)};
  }

  result<std::any> decode_state(std::string_view text) const override {
    try {
      return std::any{json::from_json<state_t>(boost::json::parse(text))};
    } catch (const std::exception& ex) {
      return error{errc::corrupted, std::string{A::type} + " state JSON: " + ex.what()};
    }
  }

 private:
  result<void> fold(std::any& state, std::string_view stream, std::string_view type,
                    std::uint32_t schema_version, version at, std::string_view data) const {
    auto* s = std::any_cast<state_t>(&state);
    if (s == nullptr) return error{errc::internal, "state is not a " + std::string{A::type}};
    auto applied = A::events().decode(type, schema_version, data,
                                      [&](event_t&& e) { *s = A::evolve(std::move(*s), e); });
    if (!applied) {
      auto e = std::move(applied).err();
      e.message = std::string{stream} + " v" + std::to_string(at.value) + " (" + std::string{type} +
                  "): " + e.message;
      return e;
    }
    return ok();
  }

  snapshot_policy<A> policy_;
};

/// The model of decider `A`, shared by every actor of that type.
template <class A>
std::shared_ptr<const aggregate_model> model_of(snapshot_policy<A> policy = {}) {
  return std::make_shared<const decider_model<A>>(std::move(policy));
}

}  // namespace strata::actors
