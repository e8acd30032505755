#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/persistence/event_record.hpp"
#include "strata/persistence/journal.hpp"
#include "strata/persistence/projection.hpp"
#include "strata/persistence/projection_store.hpp"

namespace strata::persistence {

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
/// any actor (benchmarks, tools, tests), and the projection actor's core. Dead letters are
/// stamped with the time of `time_source` (the runtime's clock), never the machine's directly.
///
/// Thread-safety: one thread at a time (it owns a store connection).
class projection_runner {
 public:
  /// REQUIRES: `p`, `store` and `time_source` non-null.
  projection_runner(std::shared_ptr<projection> p, std::unique_ptr<projection_store> store,
                    poison_policy policy, std::shared_ptr<const clock> time_source);

  /// Runs `setup` and loads the checkpoint, without checking which journal it counts
  /// positions of (for callers that feed `apply` themselves). Call once before anything else.
  /// Errors: the store's.
  result<void> start();

  /// Starts on journal `j`, the one it will read (call once, instead of `start()`). With
  /// `resume`: runs `setup`, loads the checkpoint and checks it against `j` before anything is
  /// applied: a checkpoint without a journal id (a new read model, or one stored before ids
  /// were recorded) records `j.id()`; one with another id, or with a position past
  /// `j.last_position()`, is refused and nothing changes. With `rebuild`: drops the read
  /// model, its checkpoint and its dead letters, sets it up again empty at position 0 and
  /// records `j.id()`, in one transaction.
  /// Errors: `conflict` when the read model follows another journal (the message names both
  /// ids) or is ahead of `j` (it names both positions), both saying that
  /// `projection_start::rebuild` rebuilds it from `j`; the journal's or the store's.
  result<void> start(journal& j, projection_start how);

  /// Applies `records` (in global order) in one transaction with the checkpoint. On a
  /// handler failure the transaction is redone without the failing record, which is parked
  /// (and, with policy `stop`, the runner stops before it). Errors: the store's; nothing of
  /// this call was then applied and the checkpoint is unchanged.
  result<apply_outcome> apply(const std::vector<event_record>& records);

  /// Reads the journal from the checkpoint and applies up to `max_events` in batches of
  /// `batch` records. `outcome.gap` is never set. Errors: the journal's or the store's.
  /// While batches come back full, the next one is read on a second thread as this one is
  /// applied; `j` is still used by one thread at a time, and is no longer in use on return.
  result<apply_outcome> catch_up(journal& j, std::size_t batch = 1000,
                                 std::size_t max_events = SIZE_MAX);

  /// Applies parked event `position` again (read from `j`); success removes it from the
  /// dead letters (and, when the runner stopped at it, moves the checkpoint past it and
  /// resumes). Errors: `not_found` when it is not parked; the handler's error when it fails
  /// again (the dead letter then counts one more attempt); the journal's or the store's.
  result<void> retry(journal& j, global_position position);

  /// Drops the read model, its checkpoint and its dead letters, and sets it up again empty
  /// (position 0), recording the id of the journal given to `start(j, ...)` (none after
  /// `start()`). Errors: the store's (nothing changed then).
  result<void> reset();

  /// The committed checkpoint (as of the last successful call).
  const checkpoint& position() const noexcept { return checkpoint_; }
  bool is_stopped() const noexcept { return stopped_; }
  projection& target() noexcept { return *projection_; }
  projection_store& store() noexcept { return *store_; }

 private:
  bool is_handled(const std::string& type) const;
  dead_letter letter_for(const event_record& r, const error& e) const;
  result<void> apply_in(projection_transaction& tx, const event_record& r);
  /// A batch read ahead by `catch_up`: the records, the handled ones among them and what the
  /// projection prepared of those (null: nothing).
  struct read_ahead {
    result<std::vector<event_record>> records;
    std::vector<const event_record*> handled;
    std::unique_ptr<prepared_batch> prepared;
  };
  /// Reads up to `limit` records after `after` and prepares the handled ones (on the thread
  /// of a read ahead: it reads only what does not change while the runner applies).
  read_ahead read_and_prepare(journal& j, global_position after, std::size_t limit) const;

  /// `apply(records)`; `prepared`, when not null, is the read ahead `records` came from.
  result<apply_outcome> apply(const std::vector<event_record>& records, const read_ahead* prepared);
  result<void> apply_batch_in(projection_transaction& tx, const std::vector<event_record>& records,
                              std::size_t first, std::size_t end, const read_ahead* prepared);
  result<apply_outcome> apply_new(const std::vector<event_record>& records, std::size_t first,
                                  const read_ahead* prepared);
  result<void> load_stopped();
  /// Marks the store's checkpoint unknown after a failed commit and returns `e`.
  error commit_failed(error e);
  /// Moves the store's checkpoint from this runner's to `cp` in `tx` (`advance_checkpoint`); a
  /// `conflict` there is handled as a failed commit.
  result<void> save_after(projection_transaction& tx, const checkpoint& cp);
  /// Reads the committed checkpoint back after a failed commit.
  result<void> resync();
  result<void> reset_to(const std::string& journal_id);
  /// Moves the committed checkpoint to `c`'s position, keeping its journal id.
  void advance(const checkpoint& c) noexcept {
    checkpoint_.position = c.position;
    checkpoint_.last_event_time = c.last_event_time;
  }

  std::shared_ptr<projection> projection_;
  std::unique_ptr<projection_store> store_;
  poison_policy policy_;
  std::shared_ptr<const clock> clock_;
  std::vector<std::string> handles_;
  checkpoint checkpoint_;
  std::string journal_id_;  ///< Of the journal given to `start(j, ...)`: what `reset` records.
  bool stopped_ = false;
  bool commit_unknown_ = false;  ///< A commit failed: the store's checkpoint is the truth.
  std::vector<const event_record*> batch_;  ///< Scratch of apply_batch_in.
};

}  // namespace strata::persistence
