#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/time.hpp"

namespace strata {

/// A business rule said no. `code` is a stable machine-readable name (e.g. "order_empty"),
/// `message` is for people.
struct rejection {
  std::string code;
  std::string message;
};

/// Shorthand for building a rejection inside `decide`. `code` is usually one of the
/// aggregate's `constexpr std::string_view` rejection codes.
inline rejection reject(std::string_view code, std::string message) {
  return rejection{std::string{code}, std::move(message)};
}

/// Everything `decide` may know besides the state and the command. The runtime fills it;
/// `decide` reads no clock and generates no ids itself.
///
/// The string views are valid only for the duration of the `decide` call.
struct context {
  timestamp now{};                  ///< The time the command is being decided at (UTC).
  std::string_view aggregate_id;    ///< The id of the aggregate instance deciding.
  version current{};                ///< The version of the state `decide` sees.
  std::string_view user_id;         ///< Who issued the command.
  std::string_view command_id;      ///< Unique id of the command (idempotency key).
  std::string_view correlation_id;  ///< The business flow the command belongs to.
  std::string_view causation_id;    ///< What directly caused the command.
};

/// The answer of `decide`: the events to append (possibly none: an idempotent no-op) or a
/// rejection. Never an exception.
template <class Event>
class decision {
 public:
  /// No events: the command is accepted and changes nothing.
  decision() = default;

  decision(std::vector<Event> events) : data_(std::move(events)) {}  // NOLINT: implicit
  decision(rejection r) : data_(std::move(r)) {}                     // NOLINT: implicit

  /// One event, given as any alternative of the `Event` variant.
  template <class E, class = std::enable_if_t<std::is_constructible_v<Event, E&&> &&
                                              !std::is_same_v<std::decay_t<E>, decision> &&
                                              !std::is_same_v<std::decay_t<E>, rejection>>>
  decision(E&& event)  // NOLINT: implicit
      : data_(std::vector<Event>{Event{std::forward<E>(event)}}) {}

  bool is_rejected() const noexcept { return data_.index() == 1; }

  /// REQUIRES: is_rejected().
  const rejection& why() const { return std::get<1>(data_); }

  /// REQUIRES: !is_rejected().
  const std::vector<Event>& events() const { return std::get<0>(data_); }
  std::vector<Event>& events() { return std::get<0>(data_); }

 private:
  std::variant<std::vector<Event>, rejection> data_;
};

}  // namespace strata
