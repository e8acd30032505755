#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/domain/kernel/time.hpp"

namespace strata::persistence {

/// A saved aggregate state: the fold of `stream`'s events 1..`at`.
struct snapshot_record {
  stream_id stream;
  version at;                       ///< The last event folded into `state` (>= 1).
  std::uint32_t state_version = 1;  ///< The aggregate's state schema version when saved; a
                                    ///< snapshot of another version is ignored (full replay).
  std::string last_event_hash;      ///< Chain hash of the event at `at` (may be empty).
  timestamp taken{};                ///< When the snapshot was taken.
  std::string state;                ///< JSON text of the state, returned byte for byte.
};

/// How many snapshots a store keeps per stream unless told otherwise.
inline constexpr std::size_t default_snapshots_kept = 3;

/// Stores snapshots so that rehydration replays only the events after the latest one.
///
/// Snapshots are a cache: losing one costs a longer replay, never data. `save` keeps the K
/// newest snapshots (highest `at`) per stream and deletes older ones; K comes from the
/// implementation's options (default `default_snapshots_kept`). Saving a snapshot at a version
/// that already has one replaces it.
///
/// Thread-safety: like `journal`, an instance is used by one thread at a time; several
/// instances on the same storage may be used at once and see each other's saves.
///
/// Errors: `unavailable` when the storage cannot be reached or is busy (retry), `corrupted`
/// when a stored snapshot cannot be read back (the message names the stream and version),
/// `invalid_argument` for requests that break a REQUIRES. No method throws.
class snapshot_store {
 public:
  virtual ~snapshot_store() = default;

  /// Saves `s` and prunes the stream down to the K newest snapshots.
  /// REQUIRES: `s.stream` is not empty and `s.at` >= 1.
  virtual result<void> save(const snapshot_record& s) = 0;

  /// Saves every snapshot of `batch` and prunes their streams, in one transaction where the
  /// backend has them (all or none): the snapshot writer's way to keep up with many
  /// aggregates at once. The default checks them all, then saves them one by one and stops at
  /// the first error. REQUIRES: as `save`, for each; a stream appears at most once.
  virtual result<void> save_all(const std::vector<snapshot_record>& batch);

  /// The snapshot of `stream` with the highest `at` that is <= `at_or_below`, or nullopt.
  virtual result<std::optional<snapshot_record>> load_latest(const stream_id& stream,
                                                             version at_or_below) = 0;

  /// Every kept snapshot of `stream`, oldest (lowest `at`) first.
  virtual result<std::vector<snapshot_record>> list(const stream_id& stream) = 0;

  /// Deletes every snapshot of `stream` (nothing to do for an unknown stream).
  virtual result<void> remove_stream(const stream_id& stream) = 0;
};

/// Opens new instances on one snapshot storage.
/// Thread-safety: may be called from any thread.
class snapshot_store_factory {
 public:
  virtual ~snapshot_store_factory() = default;
  virtual result<std::unique_ptr<snapshot_store>> open() = 0;
};

/// Checks a snapshot against the REQUIRES of `snapshot_store::save` (shared by the backends).
inline result<void> check_snapshot(const snapshot_record& s) {
  if (s.stream.empty()) return error{errc::invalid_argument, "snapshot: stream name is empty"};
  if (s.at.value == 0)
    return error{errc::invalid_argument, "snapshot of " + s.stream.str() + ": version 0"};
  return ok();
}

/// Checks every snapshot of a `save_all` batch (see `check_snapshot`) and names the batch for
/// error messages: "save snapshot of Order-o-1", or "save 12 snapshots".
inline result<std::string> check_snapshot_batch(const std::vector<snapshot_record>& batch) {
  for (const auto& s : batch)
    if (auto checked = check_snapshot(s); !checked) return std::move(checked).err();
  return batch.size() == 1 ? "save snapshot of " + batch.front().stream.str()
                           : "save " + std::to_string(batch.size()) + " snapshots";
}

inline result<void> snapshot_store::save_all(const std::vector<snapshot_record>& batch) {
  if (auto checked = check_snapshot_batch(batch); !checked) return std::move(checked).err();
  for (const auto& s : batch)
    if (auto saved = save(s); !saved) return saved;
  return ok();
}

}  // namespace strata::persistence
