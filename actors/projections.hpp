#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/actors/projection_lag.hpp"
#include "strata/domain/kernel/error.hpp"
#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/metrics/metrics.hpp"
#include "strata/persistence/event_record.hpp"
#include "strata/persistence/journal.hpp"
#include "strata/persistence/projection.hpp"
#include "strata/persistence/projection_store.hpp"

namespace strata::actors {

/// How projections run.
struct projection_options {
  std::size_t batch_events = 1000;  ///< Records per read-model transaction at most.
  /// Live events buffered per projection (sent by the bus and not yet taken). Beyond it the
  /// bus drops that projection's live events and it reads the journal instead.
  std::size_t buffer_events = 10000;
  persistence::poison_policy on_poison = persistence::poison_policy::park_and_continue;
  /// Wait before trying again after the journal or the read-model store failed.
  std::chrono::milliseconds retry_delay{200};
  /// How long `retry` and `rebuild` wait for the projection's answer.
  std::chrono::milliseconds control_timeout{30000};
  /// How often the bus samples the live batches waiting in projection mailboxes
  /// (`strata_mailbox_backlog_messages{actor_kind="projection"}`) and sets every projection's
  /// lag series again from the current head.
  std::chrono::milliseconds backlog_sample_interval{250};
  /// When not 0, each projection also reads the journal this often, for events the bus never
  /// brings: those other processes committed (the nodes of a cluster share the journal, and
  /// each node's bus carries its own commits only). 0: the bus and its gaps only.
  std::chrono::milliseconds journal_poll{0};
};

using strata::projection_lag;

/// The projections of one runtime: an event bus and one projection actor per registered
/// projection, in the engine's actor system (`engine::start_projections` makes the host; the
/// engine owns it). Each projection actor has its own journal reader, read-model connection
/// and thread, so that neither the journal writer, the command actors nor the other
/// projections wait for a slow one. The engine's journal writer hands every commit to
/// `publish` once a projection was added; each projection applies the records exactly once,
/// in global order: catching up from its checkpoint by reading the journal, then following
/// the bus, and falling back to the journal whenever its bounded buffer overflowed or it saw
/// a gap.
///
/// Metrics (docs/METRICS.md), per projection under label `projection`: the position and lag
/// series are set whenever a read-model transaction committed, and the bus sets every
/// projection's lag series again from the current head every `backlog_sample_interval` (so
/// a projection stuck in a slow handler still shows its lag growing); the applied and
/// dead-lettered counters grow once per transaction. Nothing is done per event, and nothing
/// on the writer's commit -> reply path but raising an atomic head and sending the batch.
///
/// Thread-safety: every method may be called from any thread, except `publish` (see there).
/// Lifetime: `stop()` (called by `engine::stop` after the writer handed over its last
/// commit) lets the bus forward what it was sent, then ends every projection once it took
/// what the bus sent it; nothing is lost, the next start catches up from the checkpoints.
class projection_host {
 public:
  struct impl;
  /// Made by `engine::start_projections`.
  explicit projection_host(std::unique_ptr<impl> p);
  ~projection_host();
  projection_host(const projection_host&) = delete;
  projection_host& operator=(const projection_host&) = delete;

  /// Hands one commit's records (in global order, shared and immutable) to the bus and
  /// raises the head the lags are measured against. Takes no lock, copies no record and
  /// never blocks on a projection. REQUIRES: called by one thread at a time (the journal
  /// writer's hand-off), never concurrently with or after `stop`.
  void publish(std::shared_ptr<const std::vector<persistence::event_record>> records);

  /// Registers and starts `p`: checks its checkpoint against the journal and catches up from
  /// it (`resume`), or empties it and rebuilds it from position 0 (`rebuild`); see
  /// `projection_runner::start`. Everything up to the catch-up runs before it returns.
  /// Errors: `invalid_argument` for an empty or already registered name; `unavailable` after
  /// `stop`; `conflict` when (with `resume`) the read model follows another journal or is
  /// past its last position; the store's or the journal's when its connections cannot be
  /// opened or its tables set up. Nothing is registered after an error.
  result<void> add(std::shared_ptr<persistence::projection> p,
                   projection_start how = projection_start::resume);

  /// Registers `p` without running it, for a cluster node that runs it only while it holds
  /// its lease (`start_one`, `stop_one`). Nothing touches the read model here. Until it runs,
  /// `wait_for` and `lag` read its checkpoint in the (shared) read-model store, and `retry`
  /// and `rebuild` answer `unavailable`. Errors: as `add`'s for the name; `unavailable` after
  /// `stop`.
  result<void> add_idle(std::shared_ptr<persistence::projection> p);

  /// Runs projection `name` (registered by `add_idle`, or stopped by `stop_one`) from its
  /// checkpoint, as `add` with `resume` does; nothing when it runs already. Errors:
  /// `not_found`; `unavailable` after `stop`; as `add`'s for the journal and the store.
  result<void> start_one(std::string_view name);

  /// Stops projection `name` once the message it handles is done (its last batch committed
  /// its checkpoint) and returns when it ended; it stays registered, idle. Nothing when it is
  /// idle, unknown, or after `stop`.
  void stop_one(std::string_view name);

  /// Waits until projection `name` applied `position` (read-your-writes). Errors:
  /// `not_found` for an unknown name; `timeout` when `timeout` passed first.
  result<void> wait_for(std::string_view name, global_position position,
                        std::chrono::milliseconds timeout);

  /// Position and lag of `name`. Errors: `not_found`.
  result<projection_lag> lag(std::string_view name);

  /// The names of the registered projections, in registration order.
  std::vector<std::string> names() const;

  /// The parked events of `name`. Errors: `not_found`; the store's.
  result<std::vector<persistence::dead_letter>> dead_letters(std::string_view name);

  /// Applies parked event `position` of `name` again; success removes it (and resumes a
  /// projection stopped at it). Errors: `not_found` (name or dead letter), the handler's
  /// error when it fails again, `timeout`, the store's or the journal's.
  result<void> retry(std::string_view name, global_position position);

  /// Drops the read model and checkpoint of `name` and rebuilds it from position 0 while
  /// commands go on, recording the journal it follows. Returns once the read model was emptied;
  /// `wait_for` tells when the rebuild reached a position. Errors: `not_found`, `timeout`, the
  /// store's.
  result<void> rebuild(std::string_view name);

  /// A new connection on the read-model database, for the host's queries.
  result<std::unique_ptr<persistence::projection_store>> open_store();

  /// Stops the bus once it forwarded what it was sent, then every projection after the
  /// messages it was sent before. Idempotent. REQUIRES: the actor system still runs.
  void stop();

 private:
  /// `wait_for` of a projection idle here: polls its checkpoint in the read-model store.
  result<void> wait_for_shared(std::string_view name, global_position position,
                               std::chrono::milliseconds timeout);

  std::unique_ptr<impl> impl_;
};

}  // namespace strata::actors
