#pragma once

#include <any>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/actors/aggregate_model.hpp"
#include "strata/actors/command_result.hpp"
#include "strata/actors/projection_lag.hpp"
#include "strata/domain/kernel/aggregate.hpp"
#include "strata/domain/kernel/decider_check.hpp"
#include "strata/domain/kernel/log.hpp"
#include "strata/domain/kernel/metadata.hpp"
#include "strata/domain/kernel/recorded.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/persistence/audit_chain.hpp"
#include "strata/persistence/event_record.hpp"
#include "strata/persistence/host_lock.hpp"
#include "strata/persistence/journal.hpp"
#include "strata/persistence/projection.hpp"
#include "strata/persistence/projection_store.hpp"
#include "strata/persistence/read_model.hpp"
#include "strata/persistence/recorded_decoding.hpp"
#include "strata/persistence/snapshot_store.hpp"
#include "strata/runtime/config.hpp"

namespace strata::metrics {
class registry;  // metrics/metrics.hpp; a host that reads metrics includes it
}  // namespace strata::metrics

namespace strata {

/// An aggregate's state as of a version.
template <class A>
struct aggregate_view {
  typename A::state state;
  version at;  ///< The version the state reflects (0: no events).
};

/// Replacements for what the runtime would otherwise build from its configuration; tests
/// and benchmarks use them to inject a fault-injecting journal or a manual clock.
struct runtime_overrides {
  std::shared_ptr<persistence::journal_factory> journal;
  std::shared_ptr<const clock> time_source;
  std::shared_ptr<metrics::registry> metrics;
  /// Snapshot storage; when `journal` is overridden and this is null, snapshots are off.
  std::shared_ptr<persistence::snapshot_store_factory> snapshots;
  /// The read-model database; null: SQLite at `projections.path`.
  std::shared_ptr<persistence::projection_store_factory> read_models;
  /// Where the library reports, for the messages at or above `log.level`; null: one line
  /// per message on stderr (`stderr_log_sink`).
  std::shared_ptr<log_sink> log;
};

/// What a cluster node (`cluster.enabled`, docs/CLUSTER.md) knows of its cluster now.
struct cluster_status {
  std::string node_id;
  std::uint64_t epoch = 0;        ///< This node's membership epoch.
  std::uint16_t port = 0;         ///< The port peers reach this node on.
  std::size_t live_members = 0;   ///< Live members at the last heartbeat, this node included.
  std::size_t shards_owned = 0;   ///< Shards whose lease this node holds and acts on.
  std::size_t shards_routed = 0;  ///< Shards with a known live owner (this node or a peer).
  std::uint64_t forwarded = 0;    ///< Commands this node sent to their shard's owner.
  std::uint64_t served = 0;       ///< Commands other nodes sent to this node.
  /// Peers with a connection to this node now (one per pair of nodes, docs/CLUSTER.md).
  std::size_t peers_connected = 0;
  /// The leases of the projections and the relay this node runs now ("projection:<name>",
  /// "relay:rabbitmq"), in the order they were added.
  std::vector<std::string> singletons;
};

/// An aggregate's state at a point of its history, rebuilt off to the side.
template <class A>
struct historic_view {
  typename A::state state;
  version at;      ///< The last event it reflects (0: before the first event).
  timestamp time;  ///< That event's timestamp (the epoch when `at` is 0).
};

/// The clock of the machine (UTC, microseconds). Thread-safe.
class system_clock final : public clock {
 public:
  timestamp now() const override;
};

/// Takes the host lock (persistence/host_lock.hpp) of the journal store `c` names: a lock
/// file beside an SQLite journal (the operating system lets go of it when its process dies),
/// an advisory lock for a PostgreSQL schema (the server lets go when it has ended the dead
/// process's session, so `runtime::start` waits up to 10 s for it; `wait` is that bound, 0
/// not at all); null for the memory journal, which no other process can reach. What
/// `runtime::start` holds while the runtime runs, and what `strata rebuild` and `strata retry` take
/// to know that no runtime runs on the store. Errors: `conflict` when another holder has it (a
/// runtime is running on the store); `unavailable` when it cannot be taken (a read-only
/// directory, PostgreSQL unreachable). Thread-safe.
result<std::unique_ptr<host_lock>> lock_journal_store(const journal_config& c,
                                                      std::chrono::milliseconds wait = {});

/// A new id for `command_metadata::command_id`: a UUIDv7 (RFC 9562), 36 characters, which
/// grows with time, so the journal's command index takes it at its right edge (README.md,
/// "Idempotency"). Keep it with the command and send the same id again on a retry.
/// Thread-safe; ids from one thread sort in the order they were made.
std::string new_command_id();

/// strata embedded in a host program: it owns the actor system, the journal and the
/// metrics, and hides all of them (and CAF) behind this class.
///
/// Usage: `start` it, `register_aggregate<A>()` for each aggregate type, then `send`
/// commands and read states from any thread. Each command is answered exactly once.
///
/// Reads are typed: `history<A>` and `command_result::events<A>()` give `recorded<A>` events
/// (decoded, upcast, with their `event_info`), `state_at` / `state_as_of` rebuild past states.
/// What the methods take and return is in namespace `strata`; the actor engine, the journal
/// writer, the projection host and the metrics registry stay behind a private `impl` (this
/// header includes none of them, nor any CAF header; `<future>` is the one standard header
/// with thread primitives that the API needs).
///
/// Thread-safety: every method may be called from any thread, concurrently.
/// Lifetime: `stop()` (also run by the destructor) finishes in-flight commands, flushes the
/// journal and stops every actor.
class runtime {
 public:
  /// Starts a runtime. It takes the host lock of the journal the configuration names
  /// (persistence/host_lock.hpp: a lock file beside an SQLite journal, an advisory lock for a
  /// PostgreSQL schema; none for the memory journal or an overridden one) and holds it until
  /// `stop`, so that neither a second runtime nor `strata rebuild`/`retry` runs on the same
  /// store meanwhile. Errors: `invalid_argument` for a bad configuration; `conflict` when the
  /// host lock is held (a runtime is running on the store); `unavailable` when the journal
  /// or the host lock cannot be opened.
  static result<std::unique_ptr<runtime>> start(const runtime_config& config,
                                                runtime_overrides overrides = {});
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Registers decider `A`. Errors: `invalid_argument` when its type is already registered,
  /// its name is not usable as a stream prefix, or `A::events()` misses an alternative of
  /// `A::event` (the message names the structs) or registers something twice. A decider that
  /// does not fit the contract fails to compile here, with a message saying what to write.
  ///
  /// Snapshots are taken every `aggregates.snapshot_every` events unless `policy` says
  /// otherwise (`policy.every`, or a predicate `policy.when`).
  template <class A>
  result<void> register_aggregate() {
    if constexpr (check_decider<A>()) {
      snapshot_policy<A> policy;
      policy.every = config_.aggregates.snapshot_every;
      return register_aggregate<A>(std::move(policy));
    } else {
      return error{errc::invalid_argument, "not a decider"};
    }
  }
  template <class A>
  result<void> register_aggregate(snapshot_policy<A> policy) {
    if constexpr (check_decider<A>()) {
      if (auto valid = A::events().validate(); !valid)
        return error{errc::invalid_argument, std::string{A::type} + ": " + valid.err().message};
      auto added = add_model(actors::model_of<A>(std::move(policy)));
      if (added) catalog_.add<A>();
      return added;
    } else {
      return error{errc::invalid_argument, "not a decider"};
    }
  }

  /// Sends `command` to aggregate `id` of type `A`; `done` is called exactly once, on an
  /// internal thread (keep it short, never block in it). `result.events<A>()` decodes the
  /// committed events when the caller wants them typed.
  template <class A>
  void send(std::string id, command_of_t<A> command, command_metadata meta,
            std::function<void(command_result)> done) {
    if constexpr (check_decider<A>()) {
      std::any erased{std::move(command)};
      dispatch(A::type, std::move(id), std::move(erased), std::move(meta), std::move(done));
    }
  }

  /// Sends `command` to aggregate `id` of type `A`; the future holds the outcome.
  template <class A>
  std::future<command_result> send(std::string id, command_of_t<A> command,
                                   command_metadata meta = {}) {
    auto p = std::make_shared<std::promise<command_result>>();
    auto f = p->get_future();
    send<A>(std::move(id), std::move(command), std::move(meta),
            [p](command_result r) { p->set_value(std::move(r)); });
    return f;
  }

  /// The current state of aggregate `id` (rehydrated if not live). Errors: `not_found` for
  /// an unregistered type, journal errors as `unavailable` / `corrupted`.
  template <class A>
  std::future<result<aggregate_view<A>>> current_state(std::string id) {
    auto p = std::make_shared<std::promise<result<aggregate_view<A>>>>();
    auto f = p->get_future();
    query(A::type, std::move(id), [p](result<erased_state> v) {
      if (!v) {
        p->set_value(std::move(v).err());
        return;
      }
      auto* s = std::any_cast<typename A::state>(&v->state);
      if (s == nullptr) {
        p->set_value(error{errc::internal, "state has an unexpected type"});
        return;
      }
      p->set_value(aggregate_view<A>{std::move(*s), v->at});
    });
    return f;
  }

  /// The state of aggregate `id` just after its event `at` (temporal query). Computed off to
  /// the side from the newest valid snapshot at or below `at` plus the events after it; the
  /// live actor is not disturbed and nothing is written. Before the first event (at = 0) it
  /// is the initial state; past the head it is the head state (`at` of the view says which).
  template <class A>
  std::future<result<historic_view<A>>> state_at(std::string id, version at) {
    return rebuild_as<A>(std::move(id), at, std::nullopt);
  }

  /// The state of aggregate `id` as of `time`: all events up to the last one whose timestamp
  /// is at or before `time`. Otherwise as `state_at`.
  template <class A>
  std::future<result<historic_view<A>>> state_as_of(std::string id, timestamp time) {
    return rebuild_as<A>(std::move(id), std::nullopt, time);
  }

  /// As `state_as_of(id, timestamp)`, for a time of the system clock (e.g.
  /// `std::chrono::system_clock::now() - std::chrono::hours{24}`), floored to the microsecond
  /// that event timestamps have.
  template <class A>
  std::future<result<historic_view<A>>> state_as_of(std::string id,
                                                    std::chrono::system_clock::time_point time) {
    return state_as_of<A>(std::move(id), std::chrono::floor<std::chrono::microseconds>(time));
  }

  /// The events of aggregate `id` with versions in [from, to] (a diff of its history between
  /// two points), oldest first, each decoded and upcast by `A::events()` to its current shape
  /// (as `evolve` sees it) with the metadata it was stored with (`recorded<A>::info`: position,
  /// version, time, ids, the wire name and schema version it was stored under). Read and
  /// decoded on a reader connection; the live actor is not disturbed. Errors: journal errors;
  /// the schema's (`corrupted`, `unsupported`) when a stored event does not decode.
  template <class A>
  std::future<result<std::vector<recorded<A>>>> history(std::string id, version from, version to) {
    auto p = std::make_shared<std::promise<result<std::vector<recorded<A>>>>>();
    auto f = p->get_future();
    read_stream(stream_id{A::type, id}, from, to,
                [p](result<std::vector<persistence::event_record>> records) {
                  if (!records) {
                    p->set_value(std::move(records).err());
                    return;
                  }
                  p->set_value(persistence::detail::decode_recorded<A>(*records));
                });
    return f;
  }

  /// Registers projection `p` and starts it: it catches up from its checkpoint in the
  /// read-model database, then follows committed events (see docs/PROJECTIONS.md). Its
  /// handlers' event structs are resolved against the registered aggregates' schemas:
  /// register them first.
  ///
  /// A read model records the id of the journal it was built from (`journal::id`). With
  /// `how = resume` (the default) that id is checked before anything is applied: none yet (a
  /// new read model, or one from before ids were recorded) records the runtime's journal;
  /// another journal's id, or a checkpoint past the journal's last position (the journal was
  /// replaced, or restored from an older copy), is refused, since going on would drop new
  /// events as already applied. `how = rebuild` empties the read model, its checkpoint and
  /// its dead letters, records the runtime's journal and rebuilds from position 0 (the way
  /// out of such a refusal; `wait_for` tells when it is done).
  ///
  /// Errors, all returned before it returns and leaving nothing registered:
  /// `invalid_argument` for a null `p`, an empty or already registered name, or an event
  /// struct no registered aggregate's schema declares (the message names it); `conflict`
  /// when the read model was built from another journal (the message names both ids) or is
  /// past the journal's last position (it names both positions), both saying to use
  /// `projection_start::rebuild`; the read-model store's or the journal's when its
  /// connections or tables cannot be set up.
  result<void> add_projection(std::shared_ptr<projection> p,
                              projection_start how = projection_start::resume);

  /// Registers a record-level projection (the seam under `projection`: it names its wire
  /// types and decodes records itself). Otherwise as above.
  result<void> add_projection(std::shared_ptr<persistence::projection> p,
                              projection_start how = projection_start::resume);

  /// Waits until projection `name` has applied global position `position` (e.g. the
  /// `position` of a `command_result`): read-your-writes. Errors: `not_found` for an unknown
  /// projection, `timeout` when `timeout` passed first.
  result<void> wait_for(std::string_view name, global_position position,
                        std::chrono::milliseconds timeout);

  /// Position and lag (events, seconds) of projection `name`. Errors: `not_found`.
  result<strata::projection_lag> projection_lag(std::string_view name);

  /// The events projection `name` parked. Errors: `not_found`; the store's.
  result<std::vector<dead_letter>> dead_letters(std::string_view name);

  /// Applies parked event `position` of projection `name` again; success removes it from the
  /// dead letters. Errors: `not_found`, the handler's error, `timeout`, the store's.
  result<void> retry_dead_letter(std::string_view name, global_position position);

  /// Empties projection `name`'s read model and checkpoint and rebuilds it from position 0
  /// while commands go on, recording the runtime's journal as the one it follows; returns
  /// once emptied (use `wait_for` for the end). Errors:
  /// `not_found`, `timeout`, the store's.
  result<void> rebuild_projection(std::string_view name);

  /// A new connection on the read-model database for queries (one thread at a time), e.g.
  /// `read_models::orders_by_customer(*reader, "c-1")`. Errors: the store's.
  result<read_model_reader> open_read_models();

  /// Recomputes the audit hash chain of every stream on a reader connection and returns the
  /// first altered, missing, inserted or reordered event, or nullopt when the journal is
  /// intact. Errors: journal errors.
  std::future<result<std::optional<chain_violation>>> verify_audit_trail();

  /// As `verify_audit_trail`, for the stream of aggregate `id` of type `A` only.
  template <class A>
  std::future<result<std::optional<chain_violation>>> verify_stream(std::string id) {
    return verify(stream_id{A::type, id});
  }

  /// Where the RabbitMQ relay stands (docs/RELAY.md): the last position the broker
  /// confirmed, the events behind the journal head, and whether it is connected.
  /// Errors: `not_found` when `relay.enabled` is false.
  result<strata::relay_status> relay_status() const;

  /// This node's view of its cluster. Errors: `not_found` when `cluster.enabled` is false.
  result<strata::cluster_status> cluster_status() const;

  /// The node id that owns the shard of aggregate `aggregate_id` of type `aggregate_type`
  /// now, as this node knows it ("" when the shard has no live owner). Errors: `not_found`
  /// when `cluster.enabled` is false.
  result<std::string> owner_of(std::string_view aggregate_type,
                               std::string_view aggregate_id) const;

  /// Commands admitted and not yet answered.
  std::size_t in_flight() const noexcept;

  /// The metrics the runtime reports (exposed over HTTP when `metrics.enabled`); include
  /// "strata/metrics/metrics.hpp" to use it.
  metrics::registry& metrics() const noexcept;

  /// The sink the runtime reports to (filtered at `log.level`), for components a host
  /// builds on the runtime, such as process managers.
  const std::shared_ptr<log_sink>& log() const noexcept;

  /// The configuration the runtime runs with.
  const runtime_config& config() const noexcept { return config_; }

  /// Stops accepting commands, finishes those in flight (waiting at most `drain_timeout`),
  /// flushes the journal and stops every actor. Idempotent.
  void stop(std::chrono::milliseconds drain_timeout = std::chrono::seconds(30));

 private:
  /// The engine, the journal factory and the projections (runtime.cpp).
  struct impl;

  /// A state handed back type-erased by the engine.
  struct erased_state {
    std::any state;
    version at;
    timestamp time{};
  };

  runtime(runtime_config config, std::unique_ptr<impl> p);

  // The non-template halves of the templates above.
  result<void> add_model(std::shared_ptr<const actors::aggregate_model> model);
  // By rvalue reference: the command path moves each argument once, into the engine.
  void dispatch(std::string_view type, std::string&& id, std::any&& command,
                command_metadata&& meta, std::function<void(command_result)>&& done);
  void query(std::string_view type, std::string id, std::function<void(result<erased_state>)> done);
  void rebuild(std::string_view type, std::string id, std::optional<version> to,
               std::optional<timestamp> until, std::function<void(result<erased_state>)> done);
  void read_stream(stream_id stream, version from, version to,
                   std::function<void(result<std::vector<persistence::event_record>>)> done);
  std::future<result<std::optional<chain_violation>>> verify(stream_id stream);

  template <class A>
  std::future<result<historic_view<A>>> rebuild_as(std::string id, std::optional<version> to,
                                                   std::optional<timestamp> until) {
    auto p = std::make_shared<std::promise<result<historic_view<A>>>>();
    auto f = p->get_future();
    rebuild(A::type, std::move(id), to, until, [p](result<erased_state> r) {
      if (!r) {
        p->set_value(std::move(r).err());
        return;
      }
      auto* s = std::any_cast<typename A::state>(&r->state);
      if (s == nullptr) {
        p->set_value(error{errc::internal, "state has an unexpected type"});
        return;
      }
      p->set_value(historic_view<A>{std::move(*s), r->at, r->time});
    });
    return f;
  }

  runtime_config config_;
  event_catalog catalog_;  ///< The event structs of the registered aggregates.
  std::unique_ptr<impl> impl_;
};

}  // namespace strata
