#pragma once

#include <any>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/actors/aggregate_model.hpp"
#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/log.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/metrics/metrics.hpp"
#include "strata/persistence/journal.hpp"
#include "strata/persistence/snapshot_store.hpp"

namespace strata::actors {

/// One command id an aggregate remembers for idempotency: a 64-bit hash of the id (stable
/// across runs) and the versions its events took.
struct remembered_command {
  std::uint64_t id_hash = 0;
  version first;
  version last;
  global_position position;
};

/// FNV-1a of a command id; 0 is reserved for "no id".
std::uint64_t hash_command_id(std::string_view id) noexcept;

/// Adds the event at `v` of command `h` to the window, keeping the newest `window` commands.
void remember(std::vector<remembered_command>& recent, std::size_t window, std::uint64_t h,
              version v, global_position p);

/// Where to stop: at a version, at a time (the longest prefix of the stream whose events
/// all have timestamps at or before it), or, with neither, at the head.
struct rehydration_target {
  std::optional<version> to;
  std::optional<timestamp> until;
};

/// A state rebuilt from the journal.
struct rehydrated {
  std::any state;
  version at;                         ///< The last event applied (0: none).
  timestamp time{};                   ///< Timestamp of that event (epoch when none).
  std::uint64_t events_replayed = 0;  ///< Events read and applied (the tail after a snapshot).
  std::optional<version> snapshot;    ///< The snapshot it started from, if one was used.
  std::vector<remembered_command> recent;
};

/// Rebuilds the state of `stream`: the newest valid snapshot at or below the target (when
/// `snapshots` is not null), then the events after it, each upcast, decoded and evolved.
///
/// A snapshot is used only if its state schema version is the model's, its body decodes,
/// and the journal's event at the snapshot's version still carries the hash the snapshot
/// recorded; otherwise it is ignored (counted in `metrics` under its reason, reported to
/// `log` as a warning of component "rehydration", to a `stderr_log_sink` when `log` is null)
/// and an older one or a full replay is used. Snapshots are never written here.
///
/// Errors: the journal's, and `corrupted` / `unsupported` from decoding an event (the message
/// names stream, version and event type). Snapshot store failures are not errors: the
/// rebuild falls back to the events.
result<rehydrated> rehydrate(persistence::journal& journal, persistence::snapshot_store* snapshots,
                             const aggregate_model& model, const stream_id& stream,
                             const rehydration_target& target, std::size_t idempotency_window,
                             metrics::aggregate_metrics* metrics, log_sink* log = nullptr);

/// The body of a snapshot the actor layer writes: the state's JSON plus the aggregate's
/// idempotency window, `{"state": {...}, "recent": [[hash, first, last, position], ...]}`.
std::string encode_snapshot_body(std::string_view state_json,
                                 const std::vector<remembered_command>& recent);

struct snapshot_body {
  std::string state_json;
  std::vector<remembered_command> recent;
};

/// Errors: `corrupted` when `text` is not a body `encode_snapshot_body` wrote.
result<snapshot_body> decode_snapshot_body(std::string_view text);

}  // namespace strata::actors
