#pragma once

// Given/When/Then for any decider, with no test framework: given past events (folded with
// evolve), when a command decided in a context, then the events it records or the code it
// rejects with. Every outcome is a string, so any framework compares it and prints both sides
// on a mismatch:
//
//   CHECK(given<account>{{opened{"alice", "EUR"}}}.when(deposit{500, "EUR"}) ==
//         then<account>(deposited{500, "EUR"}));
//   CHECK(given<account>{}.when(withdraw{1, "EUR"}) == rejected("account_not_open"));
//
// Events are rendered as "<WireName><JSON body>" through the aggregate's own schema, the
// storage format, separated by a space.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/json.hpp>

#include "strata/domain/kernel/aggregate.hpp"
#include "strata/domain/kernel/json.hpp"
#include "strata/domain/kernel/time.hpp"

namespace strata::testing {

/// "OrderPlaced{...}" for one event.
template <class A>
std::string render(const typename A::event& e) {
  auto enc = A::events().encode(e);
  return std::string{enc.type} + enc.data;
}

/// The events rendered and separated by a space.
template <class A>
std::string render(const std::vector<typename A::event>& events) {
  std::string out;
  for (const auto& e : events) {
    if (!out.empty()) out += ' ';
    out += render<A>(e);
  }
  return out;
}

/// The outcome of a command that was accepted and recorded nothing.
inline const std::string no_events = "no events";

/// "rejected(code)", `no_events` or the rendered events. An event that does not survive
/// encode/decode, or a rejection without a message, is flagged in the text, so the comparison
/// with `then` or `rejected` fails and says why.
template <class A>
std::string render_decision(const decision<typename A::event>& d) {
  if (d.is_rejected())
    return "rejected(" + d.why().code + ")" + (d.why().message.empty() ? " without message" : "");
  if (d.events().empty()) return no_events;
  std::string out = render<A>(d.events());
  for (const auto& e : d.events()) {
    auto enc = A::events().encode(e);
    auto back = A::events().decode(enc.type, enc.schema_version, enc.data);
    if (!back || back->size() != 1 || render<A>(back->front()) != render<A>(e))
      out += " [" + std::string{enc.type} + " does not round-trip]";
  }
  return out;
}

/// The expected outcome "these events", rendered like `render_decision`.
template <class A, class... E>
std::string then(E&&... events) {
  std::vector<typename A::event> v{typename A::event{std::forward<E>(events)}...};
  return render<A>(v);
}

/// The expected outcome "rejected with `code`".
inline std::string rejected(std::string_view code) {
  return "rejected(" + std::string{code} + ")";
}

/// A history of events plus the context the next command is decided in (by default
/// 2026-01-01T00:00:00Z, aggregate "1", user "user-1", command "cmd-1").
template <class A>
class given {
 public:
  using event = typename A::event;

  given(std::vector<event> history = {}) : history_(std::move(history)) {}  // NOLINT

  /// The time the command is decided at (`context::now`).
  given& at(timestamp now) {
    now_ = now;
    return *this;
  }
  /// The user who sends the command (`context::user_id`).
  given& by(std::string user_id) {
    user_id_ = std::move(user_id);
    return *this;
  }
  /// The aggregate's id (`context::aggregate_id`).
  given& of(std::string aggregate_id) {
    aggregate_id_ = std::move(aggregate_id);
    return *this;
  }
  /// One more past event.
  given& then_also(event e) {
    history_.push_back(std::move(e));
    return *this;
  }

  /// The state after the history.
  typename A::state state() const { return fold<A>(A::initial(), history_); }

  /// Decides `cmd` on the folded history.
  decision<event> decide(const typename A::command& cmd) const {
    context ctx;
    ctx.now = now_;
    ctx.aggregate_id = aggregate_id_;
    ctx.current = version{history_.size()};
    ctx.user_id = user_id_;
    ctx.command_id = command_id_;
    return A::decide(state(), cmd, ctx);
  }

  /// The rendered outcome of `cmd`, to compare with `then(...)`, `rejected(...)` or
  /// `no_events`.
  std::string when(const typename A::command& cmd) const { return render_decision<A>(decide(cmd)); }

 private:
  std::vector<event> history_;
  timestamp now_ = from_unix_micros(1'767'225'600'000'000);  // 2026-01-01T00:00:00Z
  std::string aggregate_id_ = "1";
  std::string user_id_ = "user-1";
  std::string command_id_ = "cmd-1";
};

namespace detail {

template <class Variant, std::size_t... I>
std::vector<Variant> every_alternative(std::index_sequence<I...>) {
  return {Variant{std::in_place_index<I>}...};
}

}  // namespace detail

/// One default-constructed value of each alternative of `Variant`.
template <class Variant>
std::vector<Variant> every_alternative() {
  return detail::every_alternative<Variant>(
      std::make_index_sequence<std::variant_size_v<Variant>>{});
}

/// Applies every event (plus a default value of every alternative) to every state (plus the
/// initial one), twice: evolve must neither throw (it is noexcept, a throw terminates) nor
/// depend on anything but its arguments. Returns one line per pair whose two results differ;
/// empty when evolve is total and deterministic: `CHECK(evolve_mismatches<A>(...) == "")`.
template <class A>
std::string evolve_mismatches(std::vector<typename A::state> states,
                              std::vector<typename A::event> events) {
  states.push_back(A::initial());
  for (auto& e : every_alternative<typename A::event>()) events.push_back(std::move(e));
  std::string out;
  for (const auto& s : states) {
    for (const auto& e : events) {
      auto first = json::to_json(A::evolve(s, e));
      auto second = json::to_json(A::evolve(s, e));
      if (first != second)
        out += "event " + render<A>(e) + " on state " + json::to_json(s) + " gives " + first +
               ", then " + second + "\n";
    }
  }
  return out;
}

/// The snapshot JSON of `s`, decoded and encoded again: equal to `json::to_json(s)` when the
/// state round-trips.
template <class A>
std::string state_round_trip(const typename A::state& s) {
  return json::to_json(json::from_json<typename A::state>(boost::json::parse(json::to_json(s))));
}

}  // namespace strata::testing
