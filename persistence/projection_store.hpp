#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "domain/kernel/ids.hpp"
#include "domain/kernel/result.hpp"
#include "domain/kernel/time.hpp"
#include "persistence/event_record.hpp"
#include "persistence/journal.hpp"

namespace strata::persistence {

/// One SQL value: NULL, a 64-bit integer, a double or text.
using sql_value = std::variant<std::nullptr_t, std::int64_t, double, std::string>;
/// One result row, columns in the order of the SELECT.
using sql_row = std::vector<sql_value>;

/// The integer in `v`, or `fallback` when it holds something else.
std::int64_t as_int(const sql_value& v, std::int64_t fallback = 0) noexcept;
/// The text in `v`, or an empty string when it holds something else.
std::string as_text(const sql_value& v);

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

/// Where a projection stands, as stored with its read model.
struct checkpoint {
  global_position position;     ///< The last global position applied (0: none).
  timestamp last_event_time{};  ///< The timestamp of that event (epoch when none).
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
/// `invalid_argument` for SQL that does not compile or breaks a constraint; `corrupted` for
/// a damaged file. No method throws.
class projection_transaction {
 public:
  virtual ~projection_transaction() = default;

  /// Runs a statement that returns no rows.
  virtual result<void> execute(std::string_view sql, const std::vector<sql_value>& params = {}) = 0;
  /// Runs a query and returns all its rows.
  virtual result<std::vector<sql_row>> query(std::string_view sql,
                                             const std::vector<sql_value>& params = {}) = 0;

  /// The checkpoint of `projection` as this transaction sees it (position 0 when none).
  virtual result<checkpoint> load_checkpoint(std::string_view projection) = 0;
  /// Sets the checkpoint of `projection`.
  virtual result<void> save_checkpoint(std::string_view projection, const checkpoint& c) = 0;
  /// Parks an event; parking the same (projection, position) again replaces it and counts
  /// one more attempt.
  virtual result<void> park(const dead_letter& d) = 0;
  /// Removes a parked event (no error when there is none).
  virtual result<void> unpark(std::string_view projection, global_position position) = 0;
  /// Removes the checkpoint and every parked event of `projection` (for a rebuild).
  virtual result<void> forget(std::string_view projection) = 0;

  /// Makes everything done in this transaction durable and visible. After it (successful or
  /// not) the transaction is finished. A failed commit applied nothing.
  virtual result<void> commit() = 0;
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

/// A read model fed by the journal: the projection contract, in the spirit of the decider.
/// A projection names itself, says which event types it handles, creates its tables, and
/// applies one stored record at a time through a transaction of the read-model store. The
/// runner (`projection_runner`) owns transactions, ordering and the checkpoint; a projection
/// only writes its own rows.
///
/// Handlers decode `record.data` with the aggregate's schema (`A::events().decode(...)`), so
/// that old shapes are upcast. A handler must be deterministic in the record (no clock, no
/// I/O besides `tx`), because after a failed commit the same records are applied again.
///
/// Thread-safety: the runner calls one projection from one thread at a time; a projection
/// instance is registered with one runtime at most.
class projection {
 public:
  virtual ~projection() = default;

  /// A stable name: the checkpoint and dead letters are stored under it. Non-empty.
  virtual std::string_view name() const = 0;

  /// The wire names (`event_type`) this projection applies. Records of other types only
  /// advance the checkpoint. An empty list means every type.
  virtual std::vector<std::string> handles() const = 0;

  /// Creates the read model's tables and indexes when missing (idempotent).
  virtual result<void> setup(projection_transaction& tx) = 0;

  /// Drops the read model's tables, for a rebuild (`setup` runs again right after).
  virtual result<void> drop(projection_transaction& tx) = 0;

  /// Applies one record. An error parks the record (a dead letter) unless its code is
  /// `unavailable`, which means the store failed: the transaction is then retried later.
  virtual result<void> apply(projection_transaction& tx, const event_record& record) = 0;

  /// Applies `records` (of handled types, in global order) as if `apply` ran for each in
  /// turn, so that a projection can fold a batch in memory and write each touched row once.
  /// The default calls `apply` for each record. An error other than `unavailable` says only
  /// that some record of the batch failed: the runner rolls the transaction back and applies
  /// the batch again record by record (`apply`), which finds and parks the poison one. An
  /// override must therefore leave the read model exactly as the per-record path would
  /// (it may return any error but `unavailable` to hand a case it does not fold to `apply`).
  virtual result<void> apply_batch(projection_transaction& tx,
                                   const std::vector<const event_record*>& records);

  /// True when `apply_batch` is overridden with a fold: the runner then tries it first for
  /// each transaction; otherwise it calls `apply` record by record (the default, false).
  virtual bool folds_batches() const noexcept { return false; }
};

/// What a runner does with an event whose handler fails.
enum class poison_policy : std::uint8_t {
  park_and_continue,  ///< Park it and go on with the next event (the checkpoint passes it).
  stop,               ///< Park it and stop before it until it is retried successfully.
};

/// Parses "park_and_continue" | "stop". Errors: `invalid_argument`.
result<poison_policy> parse_poison_policy(std::string_view text);

/// How a runner's call went.
struct apply_outcome {
  std::size_t applied = 0;  ///< Records newly committed (handled or passed over).
  std::size_t skipped = 0;  ///< Records at or below the checkpoint: already applied.
  std::size_t parked = 0;   ///< Records parked as dead letters.
  bool gap = false;         ///< The first new record was not checkpoint + 1: read the journal.
  bool stopped = false;     ///< The runner stopped at a parked event (policy `stop`).
};

/// Applies records to one projection, exactly once, in global order: batches share one
/// transaction with the checkpoint; a record is applied only when its position is
/// checkpoint + 1, older ones are dropped, a gap is reported to the caller. Usable without
/// any actor (benchmarks, tools), and the projection actor's core.
///
/// Thread-safety: one thread at a time (it owns a store connection).
class projection_runner {
 public:
  /// REQUIRES: `p` and `store` non-null.
  projection_runner(std::shared_ptr<projection> p, std::unique_ptr<projection_store> store,
                    poison_policy policy);

  /// Runs `setup` and loads the checkpoint. Call once before anything else.
  /// Errors: the store's.
  result<void> start();

  /// Applies `records` (in global order) in one transaction with the checkpoint. On a
  /// handler failure the transaction is redone without the failing record, which is parked
  /// (and, with policy `stop`, the runner stops before it). Errors: the store's; nothing of
  /// this call was then applied and the checkpoint is unchanged.
  result<apply_outcome> apply(const std::vector<event_record>& records);

  /// Reads the journal from the checkpoint and applies up to `max_events` in batches of
  /// `batch` records. `outcome.gap` is never set. Errors: the journal's or the store's.
  result<apply_outcome> catch_up(journal& j, std::size_t batch = 1000,
                                 std::size_t max_events = SIZE_MAX);

  /// Applies parked event `position` again (read from `j`); success removes it from the
  /// dead letters (and, when the runner stopped at it, moves the checkpoint past it and
  /// resumes). Errors: `not_found` when it is not parked; the handler's error when it fails
  /// again (the dead letter then counts one more attempt); the journal's or the store's.
  result<void> retry(journal& j, global_position position);

  /// Drops the read model, its checkpoint and its dead letters, and sets it up again empty
  /// (position 0). Errors: the store's (nothing changed then).
  result<void> reset();

  /// The committed checkpoint (as of the last successful call).
  const checkpoint& position() const noexcept { return checkpoint_; }
  bool is_stopped() const noexcept { return stopped_; }
  projection& target() noexcept { return *projection_; }
  projection_store& store() noexcept { return *store_; }

 private:
  bool is_handled(const std::string& type) const;
  result<void> apply_in(projection_transaction& tx, const event_record& r);
  result<void> apply_batch_in(projection_transaction& tx, const std::vector<event_record>& records,
                              std::size_t first, std::size_t end);
  result<apply_outcome> apply_new(const std::vector<event_record>& records, std::size_t first);

  std::shared_ptr<projection> projection_;
  std::unique_ptr<projection_store> store_;
  poison_policy policy_;
  std::vector<std::string> handles_;
  checkpoint checkpoint_;
  bool stopped_ = false;
  std::vector<const event_record*> batch_;  ///< Scratch of apply_batch_in.
};

/// Throughput of one `catch_up` run.
struct catch_up_stats {
  std::size_t events = 0;  ///< Records applied (or passed over) by the run.
  std::size_t parked = 0;
  global_position position;  ///< The checkpoint at the end.
  std::chrono::nanoseconds duration{0};
  double events_per_second() const noexcept {
    return duration.count() > 0
               ? static_cast<double>(events) * 1e9 / static_cast<double>(duration.count())
               : 0.0;
  }
};

/// Catches projection `p` up over journal `j` into `store` from its checkpoint to the head,
/// with no actor system (for benchmarks and tools). Errors: the journal's or the store's.
result<catch_up_stats> catch_up(journal& j, std::shared_ptr<projection> p,
                                std::unique_ptr<projection_store> store, std::size_t batch = 1000,
                                poison_policy policy = poison_policy::park_and_continue);

/// A decorator that fails on purpose, for tests of the exactly-once guarantee: the commit of
/// the n-th transaction (1-based, counted over every instance of one `projection_fault_plan`)
/// returns `unavailable` after rolling back, as if the process died between apply and checkpoint.
struct projection_fault_plan {
  std::atomic<std::uint64_t> commits{0};             ///< Commits attempted so far.
  std::atomic<std::uint64_t> fail_commit_number{0};  ///< 0: never fail.
  std::atomic<std::uint64_t> failed{0};              ///< Commits failed so far.
};

/// Opens the inner factory's stores wrapped so that they obey `plan`.
class fault_injecting_projection_store_factory final : public projection_store_factory {
 public:
  fault_injecting_projection_store_factory(std::shared_ptr<projection_store_factory> inner,
                                           std::shared_ptr<projection_fault_plan> plan);
  result<std::unique_ptr<projection_store>> open() override;

 private:
  std::shared_ptr<projection_store_factory> inner_;
  std::shared_ptr<projection_fault_plan> plan_;
};

}  // namespace strata::persistence
