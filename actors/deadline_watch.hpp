#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "strata/actors/worker.hpp"
#include "strata/domain/kernel/log.hpp"

namespace strata::actors {

/// One thread that calls each armed function once its time has come: the deadlines of
/// commands waiting inside aggregates. An armed entry costs a slot in one heap (about 48
/// bytes, no allocation of its own for a small function), where a timer of the actor
/// framework would cost an extra message and two clock entries (about 190 bytes) per
/// aggregate for as long as the deadline is ahead.
///
/// Functions run on the watch's thread, in order of their time; they must be short (send a
/// message) and must not call back into the watch. An entry cannot be withdrawn: whatever it
/// does must be harmless when it comes late (the aggregate re-checks its queue). A function
/// that throws is logged (component "deadline_watch"); the watch goes on.
///
/// Thread-safety: `arm` may be called from any thread.
class deadline_watch {
 public:
  using clock = std::chrono::steady_clock;

  explicit deadline_watch(std::shared_ptr<log_sink> log = {});
  /// Stops; entries not yet due are dropped uncalled.
  ~deadline_watch() = default;
  deadline_watch(const deadline_watch&) = delete;
  deadline_watch& operator=(const deadline_watch&) = delete;

  /// Calls `fire` at `when` (or as soon as possible after it). Ignored after `stop`.
  void arm(clock::time_point when, std::function<void()> fire);

  /// Entries armed and not yet called.
  std::size_t pending() const;

  /// Calls the entries that are due, drops those that are not (uncalled), and joins the
  /// thread. Idempotent.
  void stop();

 private:
  worker<std::function<void()>> worker_;
};

}  // namespace strata::actors
