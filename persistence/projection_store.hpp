#pragma once

// The read-model store seam: transactions on the read-model database, checkpoints and dead
// letters. The projection contract is in projection.hpp, the runner that applies events
// exactly once in projection_runner.hpp.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/persistence/sql_value.hpp"

namespace strata {

/// An event a projection could not apply, parked with the reason.
struct dead_letter {
  std::string projection;
  global_position position;
  std::string event_id;
  std::string event_type;
  std::string error;  ///< The handler's error, rendered ("corrupted: ...").
  timestamp parked_at{};
  std::uint32_t attempts = 1;  ///< 1 when parked; + 1 for each failed retry.
};

}  // namespace strata

namespace strata::persistence {

using strata::dead_letter;

/// Where a projection stands, as stored with its read model.
struct checkpoint {
  global_position position;     ///< The last global position applied (0: none).
  timestamp last_event_time{};  ///< The timestamp of that event (epoch when none).
  /// The id of the journal whose positions `position` counts (`journal::id`); empty when
  /// none was recorded yet (a new read model, or one stored before ids were recorded).
  std::string journal_id{};
};

/// An open transaction on the read-model database. Everything done through it (read-model
/// rows, the checkpoint, dead letters) becomes visible together on `commit`, or not at all:
/// destroying an uncommitted transaction rolls it back.
///
/// SQL uses `?` placeholders bound in order from `params`; statements are cached by their
/// text, so a handler should use constant SQL strings.
///
/// Thread-safety: one thread at a time, the thread of the store it came from.
/// Errors: `unavailable` when the database is locked, full or unreachable (retry later);
/// `conflict` for a statement that breaks a constraint; `internal` for SQL that does not
/// compile; `corrupted` for a damaged file (persistence/detail/sqlite_error.hpp has the whole
/// mapping). The runner treats only `unavailable` as the store's fault: any other error of a
/// handler's statement parks that event. No method throws.
class projection_transaction {
 public:
  virtual ~projection_transaction() = default;

  /// Runs a statement that returns no rows.
  virtual result<void> execute(std::string_view sql, const std::vector<sql_value>& params = {}) = 0;
  /// Runs a query and returns all its rows.
  virtual result<std::vector<sql_row>> query(std::string_view sql,
                                             const std::vector<sql_value>& params = {}) = 0;

  /// Asks `execute` to queue statements and send a run of them together (fewer round trips to
  /// a database server), until `defer_writes(false)`. Returns whether this transaction defers
  /// now (a store that runs every statement at once returns false and changes nothing).
  /// While deferring, `execute` may return success before its statement ran: a statement's
  /// error then comes from a later call of this transaction (`execute`, `query`, `flush`, the
  /// bookkeeping methods or `commit`), which does not say which statement failed. Queued
  /// statements run in the order they were given, and every other call runs them first, so a
  /// `query` sees the writes before it. The runner defers while it applies a batch, and on a
  /// failure applies the batch again without deferring to find the failing event.
  virtual bool defer_writes(bool on) noexcept {
    (void)on;
    return false;
  }
  /// Runs every queued statement now. Errors: the first failing statement's (as `execute`).
  virtual result<void> flush() { return ok(); }

  /// The checkpoint of `projection` as this transaction sees it (position 0 when none).
  virtual result<checkpoint> load_checkpoint(std::string_view projection) = 0;
  /// Sets the checkpoint of `projection`. An empty `c.journal_id` keeps the journal id
  /// recorded already (so the runner's per-batch checkpoints carry no id).
  virtual result<void> save_checkpoint(std::string_view projection, const checkpoint& c) = 0;
  /// Moves the checkpoint of `projection` from `expected` to `c`, only if it is still at
  /// `expected` (0: no checkpoint yet): optimistic concurrency, so that a runner whose batch
  /// another runner committed first (a projection's lease holder paused past its lease, then
  /// resuming) fails here instead of applying the batch twice. Errors: `conflict` naming both
  /// positions when the checkpoint is elsewhere. The default reads the checkpoint in this
  /// transaction and then saves it; a store whose readers and writers can interleave guards
  /// the write itself (the SQL stores: `UPDATE ... WHERE position = expected`).
  virtual result<void> advance_checkpoint(std::string_view projection, global_position expected,
                                          const checkpoint& c) {
    auto now = load_checkpoint(projection);
    if (!now) return std::move(now).err();
    if (now->position != expected) return checkpoint_moved(projection, expected, now->position);
    return save_checkpoint(projection, c);
  }
  /// Parks an event; parking the same (projection, position) again replaces it and counts
  /// one more attempt.
  virtual result<void> park(const dead_letter& d) = 0;
  /// Removes a parked event (no error when there is none).
  virtual result<void> unpark(std::string_view projection, global_position position) = 0;
  /// Removes a parked event that is still parked: `conflict` when it is not (another runner
  /// retried it meanwhile), so that two retries of one event apply it once. The SQL stores
  /// check in the removing statement itself; the default removes it as `unpark` does, without
  /// that check.
  virtual result<void> unpark_once(std::string_view projection, global_position position) {
    return unpark(projection, position);
  }
  /// Removes the checkpoint and every parked event of `projection` (for a rebuild).
  virtual result<void> forget(std::string_view projection) = 0;

  /// Makes everything done in this transaction durable and visible. After it (successful or
  /// not) the transaction is finished. A failed commit applied nothing.
  virtual result<void> commit() = 0;

 protected:
  /// The `conflict` of `advance_checkpoint`; `now` when the store knows where it is.
  static error checkpoint_moved(std::string_view projection, global_position expected,
                                std::optional<global_position> now = std::nullopt) {
    return error{errc::conflict,
                 "the checkpoint of projection " + std::string{projection} +
                     " is not at position " + std::to_string(expected.value) +
                     (now ? " but at " + std::to_string(now->value) : std::string{}) +
                     ": another runner committed these events first"};
  }
};

/// The read-model database seam: transactions, checkpoints and dead letters, so that a
/// read-model update and its checkpoint commit atomically. SQLite is the default backend;
/// another (PostgreSQL) implements the same interface.
///
/// Thread-safety: an instance is one connection, used by one thread at a time. Several
/// instances may be open on one database (the projection's writer and the host's readers).
class projection_store {
 public:
  virtual ~projection_store() = default;

  /// Begins a write transaction. REQUIRES: no other transaction of this instance is open.
  virtual result<std::unique_ptr<projection_transaction>> begin() = 0;

  /// Runs a read-only query outside any transaction (the host's read-model queries).
  virtual result<std::vector<sql_row>> query(std::string_view sql,
                                             const std::vector<sql_value>& params = {}) = 0;

  /// The committed checkpoint of `projection`.
  virtual result<checkpoint> load_checkpoint(std::string_view projection) = 0;

  /// The parked events of `projection`, oldest position first.
  virtual result<std::vector<dead_letter>> dead_letters(std::string_view projection) = 0;
};

/// Opens new connections on one read-model database. Thread-safety: any thread.
class projection_store_factory {
 public:
  virtual ~projection_store_factory() = default;
  virtual result<std::unique_ptr<projection_store>> open() = 0;
};

}  // namespace strata::persistence
