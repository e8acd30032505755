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
#include "strata/domain/kernel/recorded.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/event_record.hpp"
#include "strata/persistence/recorded_decoding.hpp"

namespace strata {

/// The outcome of one command. Exactly one is delivered per command sent.
struct command_result {
  command_status status = command_status::failed;
  /// The aggregate's version after the command (for accepted); the version the command
  /// was decided against otherwise, when known.
  version at;
  /// Global position of the last event appended (accepted with events), for read-your-writes.
  global_position position;
  /// The committed records (accepted with events), in order, as stored: wire name, schema
  /// version and JSON body. `events<A>()` gives them typed.
  std::vector<persistence::event_record> records;
  /// True when the command id was seen before: the original outcome, nothing appended again.
  bool duplicate = false;
  std::optional<rejection> why;  ///< Set when rejected.
  std::optional<error> failure;  ///< Set for conflict, overloaded, timeout, unavailable, failed.

  bool is_accepted() const noexcept { return status == command_status::accepted; }

  /// The committed events as events of aggregate `A`, with their metadata, decoded (and
  /// upcast) by `A::events()` on the calling thread; nothing is decoded unless this is called.
  /// Errors: `invalid_argument` when a record belongs to another aggregate type than
  /// `A::type`; the schema's (`corrupted`, `unsupported`) when one does not decode.
  template <class A>
  result<std::vector<recorded<A>>> events() const {
    return persistence::detail::decode_recorded<A>(records);
  }
};

/// Renders a result as e.g. "accepted v3 @17 [ItemAdded]" or "rejected order_empty: ...".
std::string to_string(const command_result& r);

}  // namespace strata

namespace strata::actors {

/// The command outcomes are the kernel's (`strata::command_status`, `strata::status_of`).
using strata::command_result;
using strata::command_status;

/// Called exactly once with the outcome of a command, on an internal thread: keep it short
/// and never block in it.
using command_callback = std::function<void(command_result)>;

}  // namespace strata::actors
