#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/domain/kernel/decider.hpp"
#include "strata/domain/kernel/error.hpp"
#include "strata/domain/kernel/ids.hpp"
#include "strata/persistence/event_record.hpp"

namespace strata::actors {

/// The command outcomes are the kernel's (`strata::command_status`, `strata::status_of`).
using strata::command_status;

/// The outcome of one command. Exactly one is delivered per command sent.
struct command_result {
  command_status status = command_status::failed;
  /// The aggregate's version after the command (for accepted); the version the command
  /// was decided against otherwise, when known.
  version at;
  /// Global position of the last event appended (accepted with events), for read-your-writes.
  global_position position;
  /// The committed records (accepted with events), in order.
  std::vector<persistence::event_record> events;
  /// True when the command id was seen before: the original outcome, nothing appended again.
  bool duplicate = false;
  std::optional<rejection> why;  ///< Set when rejected.
  std::optional<error> failure;  ///< Set for conflict, overloaded, timeout, unavailable, failed.

  bool is_accepted() const noexcept { return status == command_status::accepted; }
};

/// Renders a result as e.g. "accepted v3 @17 [ItemAdded]" or "rejected order_empty: ...".
std::string to_string(const command_result& r);

/// Called exactly once with the outcome of a command, on an internal thread: keep it short
/// and never block in it.
using command_callback = std::function<void(command_result)>;

}  // namespace strata::actors
