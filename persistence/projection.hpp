#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/describe/enum.hpp>

#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/event_record.hpp"
#include "strata/persistence/projection_store.hpp"

namespace strata::persistence {

/// What `projection::prepare_batch` made of a batch (its events decoded) for a later
/// `apply_batch` of the same records; each projection derives its own.
class prepared_batch {
 public:
  virtual ~prepared_batch() = default;
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
/// Thread-safety: the runner calls one projection from one thread at a time, but for
/// `prepare_batch`, which may run beside the other calls; a projection instance is registered
/// with one runtime at most.
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

  /// The work of a batch fold that needs no transaction (decoding the records), done ahead:
  /// the runner calls it on a second thread for the next batch of a catch-up while this
  /// projection applies the one before, so it may run at the same time as any other method
  /// and must read only what binding fixed. Returns null to prepare nothing (the default),
  /// also when a record does not decode: `apply_batch` then meets that error itself.
  virtual std::unique_ptr<prepared_batch> prepare_batch(
      const std::vector<const event_record*>& records) const {
    (void)records;
    return nullptr;
  }

  /// `apply_batch(tx, records)`, given what `prepare_batch(records)` returned for exactly
  /// these records. The default ignores it.
  virtual result<void> apply_prepared(projection_transaction& tx,
                                      const std::vector<const event_record*>& records,
                                      const prepared_batch& prepared) {
    (void)prepared;
    return apply_batch(tx, records);
  }
};

/// What is done with an event whose handler fails. Written in configuration files by its
/// enumerator names ("park_and_continue", "stop").
enum class poison_policy : std::uint8_t {
  park_and_continue,  ///< Park it and go on with the next event (the checkpoint passes it).
  stop,               ///< Park it and stop before it until it is retried successfully.
};
BOOST_DESCRIBE_ENUM(poison_policy, park_and_continue, stop)

}  // namespace strata::persistence

namespace strata {

/// How `runtime::add_projection` starts a read model (docs/PROJECTIONS.md, "Which journal a
/// read model follows").
enum class projection_start : std::uint8_t {
  /// Go on from the stored checkpoint. Refused (`conflict`) when the read model was built
  /// from another journal than the runtime's, or its checkpoint is past the journal's last
  /// position; a read model without a recorded journal (new, or older) records this one.
  resume,
  /// Empty the read model, its checkpoint and its dead letters, record the runtime's
  /// journal, and build it again from position 0.
  rebuild,
};

}  // namespace strata
