#pragma once

#include <any>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/actors/aggregate_model.hpp"
#include "strata/actors/command_result.hpp"
#include "strata/actors/journal_writer.hpp"
#include "strata/actors/node_link.hpp"
#include "strata/actors/projections.hpp"
#include "strata/actors/rehydration.hpp"
#include "strata/domain/kernel/log.hpp"
#include "strata/domain/kernel/metadata.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/metrics/metrics.hpp"
#include "strata/persistence/journal.hpp"

namespace strata::actors {

/// How the actor layer runs. Defaults suit a 2-core machine.
struct engine_options {
  std::size_t scheduler_threads = 2;  ///< CAF workers; set to the core count.
  /// false: an idle worker polls its queue briefly, then sleeps until work is handed to it
  /// (CAF's moderate polling, 500 polls 50 µs apart in between, is off). true: CAF's default.
  bool moderate_polling = false;
  std::size_t reader_threads = 2;  ///< Threads (each with a connection) for rehydration.
  journal_writer_options writer;   ///< Group commit tuning.
  /// Commands admitted per aggregate type and not yet answered; beyond it: `overloaded`.
  std::size_t max_in_flight_per_type = 65536;
  /// A command not decided within this time is answered `timeout` and never applied.
  std::chrono::milliseconds command_timeout{10000};
  /// An aggregate that received nothing for this long is passivated (0: never).
  std::chrono::milliseconds idle_timeout{0};
  /// An aggregate that received nothing for this long gives up its actor and stays in memory
  /// as its bare state (0: never); its next command starts an actor from that state without
  /// reading the journal. Has an effect only when shorter than a non-zero `idle_timeout`.
  std::chrono::milliseconds hibernate_after{1000};
  /// Live aggregates per type at most; beyond it the least recently used are passivated.
  std::size_t max_live_per_type = 1'000'000;
  /// Commands waiting in one aggregate's queue at most; beyond it: `overloaded`.
  std::size_t max_queued_per_aggregate = 4096;
  /// An aggregate whose actor crashed this many times within `crash_window` is not restarted
  /// until the window has passed: its commands get `unavailable` meanwhile.
  std::size_t max_crashes = 3;
  std::chrono::milliseconds crash_window{10000};
  /// How many recent command ids each aggregate keeps in memory, to answer their retries
  /// without asking the journal. Older ids are still recognised: the journal refuses an
  /// append of an id its stream already has (`errc::duplicate`, README "Idempotency").
  std::size_t idempotency_window = 32;
  /// Snapshots waiting to be written at most; beyond it a snapshot is skipped (it is a cache).
  std::size_t max_queued_snapshots = 10000;
  /// Where the engine and its threads report (null: a `stderr_log_sink` at `warning`).
  std::shared_ptr<log_sink> log;
  /// Loads CAF's network layer, so that `start_network` can publish a node endpoint (a
  /// cluster node). Off: no network thread, no port.
  bool network = false;
  /// With `network`: how often connections to peers carry a heartbeat, and after how long
  /// without one a connection counts as lost (0: never). Every node of a cluster must use the
  /// same two values (a node without heartbeats looks silent to one that expects them).
  std::chrono::milliseconds network_heartbeat{0};
  std::chrono::milliseconds network_timeout{0};
  /// With `network`: TLS with mutual authentication on every connection to and from peers when
  /// it names a certificate (CAF's OpenSSL module); plaintext otherwise. `start` checks the
  /// files (`check_node_tls`; its error's message is prefixed with "TLS ").
  node_tls_options network_tls;
};

/// An aggregate's current state as of `at` (a copy; the live actor keeps its own).
struct state_view {
  std::any state;
  version at;
};

/// The actor layer behind a CAF-free facade: one actor system with one region per aggregate
/// type, a group-commit journal writer, a pool of journal readers and, once started, the
/// projections (an event bus and projection actors) that the writer feeds.
///
/// Thread-safety: every method may be called from any thread, concurrently.
/// Lifetime: `stop()` (or the destructor) finishes in-flight commands, flushes the journal,
/// lets the last commits reach the event bus, stops the projections and then every other
/// actor; commands sent afterwards are answered `unavailable`.
class engine {
 public:
  /// Starts the actor system and opens the writer's and readers' connections. Metrics go to
  /// `metrics` (a private registry when null). Snapshots are read and written through
  /// `snapshots` (none when null). Errors: whatever opening the journal returns.
  static result<std::unique_ptr<engine>> start(
      engine_options options, std::shared_ptr<persistence::journal_factory> journal,
      std::shared_ptr<const clock> clock, std::shared_ptr<metrics::registry> metrics = nullptr,
      std::shared_ptr<persistence::snapshot_store_factory> snapshots = nullptr);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  /// Registers an aggregate type (spawns its region). Errors: `invalid_argument` when the
  /// type name is empty, contains '-', or is registered already.
  result<void> add_aggregate(std::shared_ptr<const aggregate_model> model);

  /// Sends `command` (an `A::command` in an any) to aggregate `id` of `type`; `done` is called
  /// exactly once with the outcome, on an internal thread.
  void send(std::string_view type, std::string id, std::any command, command_metadata meta,
            command_callback done);

  /// Reads the current state of aggregate `id` (rehydrating it if it is not live).
  /// Errors: `not_found` for an unknown type; journal errors as `unavailable`/`corrupted`.
  void query_state(std::string_view type, std::string id,
                   std::function<void(result<state_view>)> done);

  /// Rebuilds the state of aggregate `id` as of `target` off to the side, on a reader thread
  /// (from the newest valid snapshot at or below it, then the events): the live actor is
  /// neither consulted nor disturbed, and nothing is written. Errors: `not_found` for an
  /// unknown type; journal and decoding errors.
  void rebuild_state(std::string_view type, std::string id, rehydration_target target,
                     std::function<void(result<rehydrated>)> done);

  /// Runs `task` on a reader thread with a journal connection of its own (for temporal
  /// queries and other reads that must not disturb live actors).
  void read(io_pool::task task);

  /// Starts the projection host in this engine's actor system, reading the engine's journal
  /// and reporting to its registry and clock. From the first projection added on, the
  /// journal writer hands every commit to its event bus (one shared batch, no lock); before
  /// that nothing is copied or sent. The host is owned by the engine and valid as long as
  /// it; `stop()` stops it. Errors: `invalid_argument` when started already or `store` is
  /// null; `unavailable` after `stop`.
  result<projection_host*> start_projections(
      projection_options options, std::shared_ptr<persistence::projection_store_factory> store);

  /// Publishes this engine's node endpoint and starts its connections to peers; `handler`
  /// answers requests of peers. The link is owned by the engine and valid as long as it;
  /// `stop()` closes it after the commands in flight were drained. Errors: `invalid_argument`
  /// when started already or the engine was started without `engine_options::network`;
  /// `unavailable` when the port cannot be bound or after `stop`.
  result<node_link*> start_network(node_link_options options, node_request_handler handler);

  /// Passivates every aggregate in memory, live or hibernated, for which `which(type, id)` is
  /// true: commands it was given already finish, and the next command or query for it
  /// rehydrates a fresh actor from the journal. `done` is called once, from any thread, when
  /// every region has marked its aggregates (so a command sent after that meets no cached
  /// state from before). Not for the command path: each region walks the ids it keeps.
  /// `which` is called on actor threads and must not block.
  void passivate(std::function<bool(std::string_view type, std::string_view id)> which,
                 std::function<void()> done);

  /// The model of aggregate `type`, or null when it is not registered.
  std::shared_ptr<const aggregate_model> model(std::string_view type) const;

  /// The registry the engine reports to.
  metrics::registry& metrics() const noexcept;

  /// The clock the engine stamps events with.
  const clock& time_source() const noexcept;

  /// The sink the engine and its threads report to.
  const std::shared_ptr<log_sink>& log() const noexcept;

  /// Commands admitted and not yet answered, over all types.
  std::size_t in_flight() const noexcept;

  /// Stops accepting, waits for in-flight commands (at most `drain_timeout`), flushes the
  /// journal and stops every actor. Idempotent.
  void stop(std::chrono::milliseconds drain_timeout = std::chrono::seconds(30));

  struct impl;

 private:
  explicit engine(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// A UUIDv7 for the time `now`: the form of the event ids the aggregates give their events,
/// which grows with time. Thread-safe; ids from one thread sort in the order they were made.
std::string make_time_ordered_id(timestamp now);

}  // namespace strata::actors
