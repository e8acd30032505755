#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "strata/domain/kernel/result.hpp"

namespace strata::persistence {

class projection_store;
class projection_transaction;

/// A process instance recorded as started and not finished.
struct process_instance {
  std::string id;     ///< The instance id (e.g. the order id).
  std::string cause;  ///< The event id of the record that started it.
};

/// Where a process manager keeps which instances of a process were started and which
/// finished, in the read-model database. Writes go through the trigger projection's
/// transaction, so they commit with its checkpoint (exactly once per event); the unfinished
/// instances are read through any connection of the same store.
///
/// Thread-safety: holds no state of its own; each call uses the transaction or connection
/// it is given (one thread at a time each), so one instance serves any number of threads.
/// Errors: the store's (see `projection_transaction`). No method throws.
class process_store {
 public:
  virtual ~process_store() = default;

  /// Creates the instance table when missing (idempotent).
  virtual result<void> setup(projection_transaction& tx) = 0;

  /// Forgets every instance of `process` (the trigger projection is being rebuilt).
  virtual result<void> forget(projection_transaction& tx, std::string_view process) = 0;

  /// Records that event `cause` started `instance` of `process`. Recording an instance
  /// again changes nothing (its first cause stays).
  virtual result<void> record_started(projection_transaction& tx, std::string_view process,
                                      std::string_view instance, std::string_view cause) = 0;

  /// Records that `instance` of `process` finished (no error when it was never started).
  virtual result<void> record_finished(projection_transaction& tx, std::string_view process,
                                       std::string_view instance) = 0;

  /// The instances of `process` started and not finished, by instance id.
  virtual result<std::vector<process_instance>> unfinished(projection_store& store,
                                                           std::string_view process) = 0;
};

}  // namespace strata::persistence
