#include "strata/runtime/runtime.hpp"

#include <mutex>

#include "strata/actors/engine.hpp"
#include "strata/actors/projections.hpp"
#include "strata/domain/kernel/input.hpp"
#include "strata/metrics/metrics.hpp"
#include "strata/persistence/host_lock.hpp"
#include "strata/persistence/memory_journal.hpp"
#include "strata/persistence/memory_snapshot_store.hpp"
#if STRATA_WITH_POSTGRES
#include "strata/persistence/postgres/postgres_host_lock.hpp"
#include "strata/persistence/postgres/postgres_journal.hpp"
#include "strata/persistence/postgres/postgres_projection_store.hpp"
#include "strata/persistence/postgres/postgres_snapshot_store.hpp"
#include "strata/runtime/cluster_node.hpp"
#include "strata/runtime/cluster_singletons.hpp"
#endif
#if STRATA_WITH_RABBITMQ
#include "strata/persistence/rabbitmq/event_relay.hpp"
#endif
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/persistence/sqlite_projection_store.hpp"
#include "strata/persistence/sqlite_snapshot_store.hpp"

namespace strata {

timestamp system_clock::now() const {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

namespace {

// Both switches are over every enumerator with no default, so a new backend that is not
// handled here does not compile (-Wswitch); `validate` has refused a value outside the enum.

std::shared_ptr<persistence::journal_factory> make_journal(
    const journal_config& c, [[maybe_unused]] const cluster_config& cluster) {
  switch (c.backend) {
    case journal_backend::memory:
      return std::make_shared<persistence::memory_journal_factory>();
    case journal_backend::sqlite: {
      persistence::sqlite_journal_options o;
      o.path = c.sqlite.path;
      switch (c.sqlite.synchronous) {
        case sqlite_synchronous::full:
          o.sync = persistence::sqlite_journal_options::durability::full;
          break;
        case sqlite_synchronous::normal:
          o.sync = persistence::sqlite_journal_options::durability::normal;
          break;
      }
      return std::make_shared<persistence::sqlite_journal_factory>(o);
    }
    case journal_backend::postgres: {
#if STRATA_WITH_POSTGRES
      persistence::postgres_journal_options o;
      o.conninfo = c.postgres.conninfo;
      o.schema = c.postgres.schema;
      // A node frozen mid-append must not hold the counter row for the whole cluster.
      if (cluster.enabled) o.idle_in_transaction_timeout_ms = cluster.lease_duration_ms;
      return std::make_shared<persistence::postgres_journal_factory>(o);
#else
      return nullptr;  // refused by runtime::start before
#endif
    }
  }
  return nullptr;
}

std::shared_ptr<persistence::snapshot_store_factory> make_snapshots(const runtime_config& c) {
  if (c.aggregates.snapshot_every == 0) return nullptr;
  const std::size_t keep = c.aggregates.snapshots_kept;
  const auto& j = c.journal;
  switch (j.backend) {
    case journal_backend::sqlite: {
      persistence::sqlite_snapshot_store_options o;
      o.path = j.sqlite.path;  // the journal's file: one file to back up
      o.keep_last = keep;
      o.synchronous_full = false;  // a cache: losing the newest one costs a longer replay only
      return std::make_shared<persistence::sqlite_snapshot_store_factory>(o);
    }
    case journal_backend::postgres: {
#if STRATA_WITH_POSTGRES
      persistence::postgres_snapshot_store_options o;
      o.conninfo = j.postgres.conninfo;
      o.schema = j.postgres.schema;
      o.keep_last = keep;
      return std::make_shared<persistence::postgres_snapshot_store_factory>(o);
#else
      return nullptr;
#endif
    }
    case journal_backend::memory: {
      persistence::memory_snapshot_store_options o;
      o.keep_last = keep;
      return std::make_shared<persistence::memory_snapshot_store_factory>(o);
    }
  }
  return nullptr;
}

// `idle_timeout_ms`: the read-model connections' idle-in-transaction timeout (0: none). A
// cluster node sets it, so that a frozen projection holder cannot keep its rows locked.
std::shared_ptr<persistence::projection_store_factory> make_read_models(
    const projections_config& c, std::uint32_t idle_timeout_ms) {
  switch (c.backend) {
    case projections_backend::sqlite: {
      persistence::sqlite_projection_store_options o;
      o.path = c.path;
      o.synchronous_full = c.synchronous == sqlite_synchronous::full;
      return std::make_shared<persistence::sqlite_projection_store_factory>(o);
    }
    case projections_backend::postgres: {
#if STRATA_WITH_POSTGRES
      persistence::postgres_projection_store_options o;
      o.conninfo = c.postgres.conninfo;
      o.schema = c.postgres.schema;
      o.idle_in_transaction_timeout_ms = idle_timeout_ms;
      return std::make_shared<persistence::postgres_projection_store_factory>(o);
#else
      return nullptr;  // refused by runtime::start before
#endif
    }
  }
  return nullptr;
}

/// How often a projection running on a cluster node reads the journal for the events other
/// nodes committed: the lag of read-your-writes through another node.
constexpr std::chrono::milliseconds cluster_journal_poll{50};

#if STRATA_WITH_RABBITMQ
// Its own thread, journal connection and store connection: never on the command path.
result<std::unique_ptr<persistence::event_relay>> start_relay(
    const relay_config& r, std::shared_ptr<persistence::journal_factory> journal,
    std::shared_ptr<persistence::projection_store_factory> read_models,
    std::shared_ptr<metrics::registry> metrics, std::shared_ptr<log_sink> log) {
  persistence::event_relay_options ro;
  ro.broker.address = *persistence::parse_amqp_url(r.rabbitmq.url);  // validated before
  ro.exchange = r.rabbitmq.exchange;
  ro.batch_events = r.batch_events;
  ro.backoff_min = std::chrono::milliseconds{r.backoff_min_ms};
  ro.backoff_max = std::chrono::milliseconds{r.backoff_max_ms};
  ro.confirm_timeout = std::chrono::milliseconds{r.confirm_timeout_ms};
  ro.poll_interval = std::chrono::milliseconds{r.poll_ms};
  ro.broker.connect_timeout = std::min(ro.confirm_timeout, std::chrono::milliseconds{5000});
  return persistence::event_relay::start(std::move(ro), std::move(journal), std::move(read_models),
                                         std::move(metrics), std::move(log));
}
#endif

}  // namespace

std::string new_command_id() {
  return actors::make_time_ordered_id(system_clock{}.now());
}

result<std::unique_ptr<host_lock>> lock_journal_store(const journal_config& c,
                                                      std::chrono::milliseconds wait) {
  switch (c.backend) {
    case journal_backend::memory:
      break;
    case journal_backend::sqlite:
      return lock_sqlite_host(c.sqlite.path);
    case journal_backend::postgres:
#if STRATA_WITH_POSTGRES
      return lock_postgres_host(c.postgres.conninfo, c.postgres.schema, wait);
#else
      return error{errc::invalid_argument, "this strata was built without PostgreSQL"};
#endif
  }
  return std::unique_ptr<host_lock>{};
}

struct runtime::impl {
  std::unique_ptr<host_lock> store_lock;  ///< Held from start to stop: a runtime runs here.
  std::shared_ptr<persistence::journal_factory> journal;
  std::unique_ptr<actors::engine> engine;
  actors::projection_host* projections = nullptr;  ///< Owned by `engine`.
#if STRATA_WITH_POSTGRES
  std::unique_ptr<detail::cluster_node> cluster;  ///< When `cluster.enabled`.
  /// When `cluster.enabled`: the projections and the relay, each run under its lease.
  std::unique_ptr<detail::cluster_singletons> singletons;
#endif
#if STRATA_WITH_RABBITMQ
  /// When `relay.enabled` (and, in a cluster, while this node holds its lease). Guarded by
  /// `relay_mutex`: in a cluster the singletons' thread starts and stops it.
  std::unique_ptr<persistence::event_relay> relay;
  std::mutex relay_mutex;
#endif

  /// Whether every node reaches the same read-model database (PostgreSQL, or one a host
  /// supplied in `runtime_overrides`), which a projection in a cluster needs.
  bool shared_read_models = false;

  result<void> start_projections(const projections_config& c,
                                 std::shared_ptr<persistence::projection_store_factory> store,
                                 bool cluster_enabled);
  /// Adds `p`: at once without a cluster, under its lease in one.
  result<void> add_projection(std::shared_ptr<persistence::projection> p, projection_start how);
};

result<std::unique_ptr<runtime>> runtime::start(const runtime_config& config,
                                                runtime_overrides overrides) {
  // A configuration built in code has not been through parse_config.
  if (auto valid = validate(config); !valid) return std::move(valid).err();
#if !STRATA_WITH_POSTGRES
  if (config.journal.backend == journal_backend::postgres && !overrides.journal)
    return error{errc::invalid_argument,
                 "journal.backend is \"postgres\", but this strata was built without PostgreSQL "
                 "(STRATA_WITH_POSTGRES=OFF)"};
  if (config.projections.backend == projections_backend::postgres && !overrides.read_models)
    return error{errc::invalid_argument,
                 "projections.backend is \"postgres\", but this strata was built without "
                 "PostgreSQL (STRATA_WITH_POSTGRES=OFF)"};
#endif
#if !STRATA_WITH_RABBITMQ
  if (config.relay.enabled)
    return error{errc::invalid_argument,
                 "relay.enabled is true, but this strata was built without RabbitMQ "
                 "(STRATA_WITH_RABBITMQ=OFF)"};
#endif
  if (config.cluster.enabled && config.relay.enabled &&
      config.projections.backend != projections_backend::postgres && !overrides.read_models)
    return error{errc::invalid_argument,
                 "relay.enabled in a cluster (cluster.enabled) needs projections.backend "
                 "\"postgres\": the relay's checkpoint lives in the read-model database, which "
                 "every node must share"};
  // The node's TLS files, before anything starts: a bad one names its key.
  if (auto files = check_cluster_files(config.cluster); !files) return std::move(files).err();
  if (config.cluster.enabled && config.cluster.tls.enabled) {
    const auto& t = config.cluster.tls;
    if (auto usable = actors::check_node_tls({t.certificate, t.key, t.ca, t.passphrase}); !usable)
      return error{usable.err().code, "cluster.tls." + usable.err().message};
  }
  // Decided before `overrides.journal` is moved from: an overridden journal without a
  // snapshot store means snapshots are off.
  const bool journal_overridden = overrides.journal != nullptr;
  // Before anything touches the store: a second runtime on it, or one while `strata rebuild`
  // runs, would race the other's writes and cached state.
  std::unique_ptr<host_lock> host;
  if (!journal_overridden) {
    // A bounded wait: after a crash the server may not yet have ended the old session. The
    // nodes of a cluster share the store: they hold the lock together (shared), which still
    // keeps `strata rebuild` and a runtime that is no cluster node out.
#if STRATA_WITH_POSTGRES
    auto locked =
        config.cluster.enabled
            ? lock_postgres_host(config.journal.postgres.conninfo, config.journal.postgres.schema,
                                 std::chrono::seconds(10), true)
            : lock_journal_store(config.journal, std::chrono::seconds(10));
#else
    auto locked = lock_journal_store(config.journal, std::chrono::seconds(10));
#endif
    if (!locked)
      return error{locked.err().code, "cannot start the runtime: " + locked.err().message};
    host = std::move(*locked);
  }
  std::shared_ptr<persistence::journal_factory> journal = std::move(overrides.journal);
  if (!journal) journal = make_journal(config.journal, config.cluster);
  std::shared_ptr<const clock> clk = std::move(overrides.time_source);
  if (!clk) clk = std::make_shared<system_clock>();

  actors::engine_options o;
  o.scheduler_threads = config.scheduler_threads;
  o.moderate_polling = config.scheduler_moderate_polling;
  o.reader_threads = config.journal.reader_threads;
  o.writer.max_batch_events = config.journal.max_batch_events;
  o.writer.max_wait = std::chrono::microseconds{config.journal.max_wait_us};
  o.writer.wait_after_events = config.journal.wait_after_events;
  o.max_in_flight_per_type = config.commands.max_in_flight_per_type;
  o.command_timeout = std::chrono::milliseconds{config.commands.timeout_ms};
  o.idle_timeout = std::chrono::milliseconds{config.aggregates.idle_timeout_ms};
  o.hibernate_after = std::chrono::milliseconds{config.aggregates.hibernate_after_ms};
  o.idempotency_window = config.commands.idempotency_window;
  o.max_queued_per_aggregate = config.commands.max_queued_per_aggregate;
  o.max_live_per_type = config.aggregates.max_live_per_type;
  o.max_crashes = config.aggregates.max_crashes;
  o.crash_window = std::chrono::milliseconds{config.aggregates.crash_window_ms};
  if (config.cluster.enabled) {
    o.network = true;
    // Every node has the same cluster settings, hence the same two values (CAF notes §8).
    o.network_heartbeat = std::chrono::milliseconds{config.cluster.heartbeat_interval_ms};
    o.network_timeout = std::chrono::milliseconds{config.cluster.suspect_timeout_ms};
    if (const auto& t = config.cluster.tls; t.enabled)
      o.network_tls = {t.certificate, t.key, t.ca, t.passphrase};
  }
  o.log = overrides.log ? filter_log(std::move(overrides.log), config.log.level)
                        : std::make_shared<stderr_log_sink>(config.log.level);
  auto registry = overrides.metrics ? std::move(overrides.metrics) : metrics::registry::create();
  [[maybe_unused]] const auto relay_metrics = registry;
  if (config.metrics.enabled) {
    metrics::metrics_options m;
    m.bind_address = config.metrics.bind_address;
    m.port = config.metrics.port;
    if (auto exposed = registry->expose(m); !exposed) return std::move(exposed).err();
    // With port 0 the port is known only now: the one place an operator learns it.
    const bool ipv6 = m.bind_address.find(':') != std::string::npos && m.bind_address[0] != '[';
    o.log->write(log_level::info, "metrics",
                 "serving metrics on http://" +
                     (ipv6 ? "[" + m.bind_address + "]" : m.bind_address) + ":" +
                     std::to_string(registry->bound_port()) + "/metrics");
  }
  auto snapshots = overrides.snapshots;
  if (!snapshots && !journal_overridden) snapshots = make_snapshots(config);
  auto eng =
      actors::engine::start(o, journal, std::move(clk), std::move(registry), std::move(snapshots));
  if (!eng) return std::move(eng).err();
  auto p = std::make_unique<impl>();
  p->store_lock = std::move(host);
  p->journal = std::move(journal);
  p->engine = std::move(*eng);
  p->shared_read_models = overrides.read_models != nullptr ||
                          config.projections.backend == projections_backend::postgres;
  auto read_models = std::move(overrides.read_models);
  if (!read_models)
    read_models = make_read_models(config.projections,
                                   config.cluster.enabled ? config.cluster.lease_duration_ms : 0);
  if (auto started = p->start_projections(config.projections, read_models, config.cluster.enabled);
      !started)
    return std::move(started).err();
#if STRATA_WITH_POSTGRES
  if (config.cluster.enabled) {
    auto node = detail::cluster_node::start(config.cluster, config.journal, *p->engine, o.log,
                                            o.command_timeout);
    if (!node) {
      p->engine->stop(std::chrono::seconds(1));
      return error{node.err().code, "cannot join the cluster: " + node.err().message};
    }
    p->cluster = std::move(*node);
    auto singletons = detail::cluster_singletons::start(
        config.cluster, config.journal, [node = p->cluster.get()] { return node->epoch(); }, o.log,
        relay_metrics);
    if (!singletons) {
      p->cluster->leave();
      p->engine->stop(std::chrono::seconds(1));
      return error{singletons.err().code, "cannot join the cluster: " + singletons.err().message};
    }
    p->singletons = std::move(*singletons);
  }
#endif
#if STRATA_WITH_RABBITMQ
  if (config.relay.enabled) {
#if STRATA_WITH_POSTGRES
    if (p->singletons) {
      // In a cluster it runs on the node holding its lease only, from the shared checkpoint.
      auto* rt = p.get();
      detail::singleton relay;
      relay.key = std::string{detail::relay_lease};
      relay.start = [rt, r = config.relay, read_models, relay_metrics]() -> result<void> {
        auto started = start_relay(r, rt->journal, read_models, relay_metrics, rt->engine->log());
        if (!started) return std::move(started).err();
        std::lock_guard<std::mutex> lock{rt->relay_mutex};
        rt->relay = std::move(*started);
        return ok();
      };
      relay.stop = [rt] {
        std::unique_ptr<persistence::event_relay> running;
        {
          std::lock_guard<std::mutex> lock{rt->relay_mutex};
          running = std::move(rt->relay);
        }
        // A batch in flight, unconfirmed, is published again by the next holder (at least once).
        if (running) running->stop();
      };
      p->singletons->add(std::move(relay));
    }
#endif
    if (!config.cluster.enabled) {
      auto relay =
          start_relay(config.relay, p->journal, read_models, relay_metrics, p->engine->log());
      if (!relay) {
        p->engine->stop(std::chrono::seconds(1));
        return std::move(relay).err();
      }
      p->relay = std::move(*relay);
    }
  }
#endif
  return std::unique_ptr<runtime>{new runtime{config, std::move(p)}};
}

runtime::runtime(runtime_config config, std::unique_ptr<impl> p)
    : config_(std::move(config)), impl_(std::move(p)) {}

runtime::~runtime() {
  stop();
}

result<void> runtime::add_model(std::shared_ptr<const actors::aggregate_model> model) {
  return impl_->engine->add_aggregate(std::move(model));
}

void runtime::dispatch(std::string_view type, std::string&& id, std::any&& command,
                       command_metadata&& meta, std::function<void(command_result)>&& done) {
#if STRATA_WITH_POSTGRES
  if (impl_->cluster) {
    impl_->cluster->route(type, std::move(id), std::move(command), std::move(meta),
                          std::move(done));
    return;
  }
#endif
  impl_->engine->send(type, std::move(id), std::move(command), std::move(meta), std::move(done));
}

void runtime::query(std::string_view type, std::string id,
                    std::function<void(result<erased_state>)> done) {
  impl_->engine->query_state(type, std::move(id),
                             [done = std::move(done)](result<actors::state_view> v) {
                               if (!v) return done(std::move(v).err());
                               done(erased_state{std::move(v->state), v->at, timestamp{}});
                             });
}

void runtime::rebuild(std::string_view type, std::string id, std::optional<version> to,
                      std::optional<timestamp> until,
                      std::function<void(result<erased_state>)> done) {
  actors::rehydration_target t;
  t.to = to;
  t.until = until;
  impl_->engine->rebuild_state(type, std::move(id), t,
                               [done = std::move(done)](result<actors::rehydrated> r) {
                                 if (!r) return done(std::move(r).err());
                                 done(erased_state{std::move(r->state), r->at, r->time});
                               });
}

void runtime::read_stream(
    stream_id stream, version from, version to,
    std::function<void(result<std::vector<persistence::event_record>>)> done) {
  if (auto valid = check_aggregate_id(stream.aggregate_id()); !valid)
    return done(std::move(valid).err());
  if (from > to)
    return done(error{errc::invalid_argument, "history of " + quote_for_message(stream.str()) +
                                                  ": from (version " + std::to_string(from.value) +
                                                  ") is after to (version " +
                                                  std::to_string(to.value) + ")"});
  impl_->engine->read([done = std::move(done), stream = std::move(stream), from,
                       to](result<persistence::journal*> j) {
    if (!j) return done(std::move(j).err());
    persistence::stream_range range;
    range.from = from;
    range.to = to;
    auto records = (*j)->read_stream(stream, range);
    // A history that does not start where asked may have an archived prefix: never hand
    // out a partial one.
    if (records && (records->empty() || records->front().stream_version > from)) {
      if (auto hot = persistence::check_not_archived(**j, stream, from); !hot)
        return done(std::move(hot).err());
    }
    done(std::move(records));
  });
}

std::future<result<std::optional<chain_violation>>> runtime::verify(stream_id stream) {
  auto p = std::make_shared<std::promise<result<std::optional<chain_violation>>>>();
  auto f = p->get_future();
  if (!stream.empty()) {
    if (auto valid = check_aggregate_id(stream.aggregate_id()); !valid) {
      p->set_value(std::move(valid).err());
      return f;
    }
  }
  impl_->engine->read([p, stream = std::move(stream)](result<persistence::journal*> j) {
    if (!j) {
      p->set_value(std::move(j).err());
      return;
    }
    p->set_value(stream.empty() ? persistence::verify_journal(**j)
                                : persistence::verify_stream(**j, stream));
  });
  return f;
}

std::future<result<std::optional<chain_violation>>> runtime::verify_audit_trail() {
  return verify(stream_id{});
}

result<strata::cluster_status> runtime::cluster_status() const {
#if STRATA_WITH_POSTGRES
  if (impl_->cluster) {
    const auto v = impl_->cluster->view();
    strata::cluster_status s;
    s.node_id = v.node_id;
    s.epoch = v.epoch;
    s.port = v.port;
    s.live_members = v.live_members;
    s.shards_owned = v.shards_owned;
    s.shards_routed = v.shards_routed;
    s.forwarded = v.forwarded;
    s.served = v.served;
    s.peers_connected = v.peers_connected;
    if (impl_->singletons) s.singletons = impl_->singletons->held();
    return s;
  }
#endif
  return error{errc::not_found, "this runtime is no cluster node (cluster.enabled)"};
}

result<std::string> runtime::owner_of(std::string_view aggregate_type,
                                      std::string_view aggregate_id) const {
#if STRATA_WITH_POSTGRES
  if (impl_->cluster) return impl_->cluster->owner_of(aggregate_type, aggregate_id);
#endif
  static_cast<void>(aggregate_type);
  static_cast<void>(aggregate_id);
  return error{errc::not_found, "this runtime is no cluster node (cluster.enabled)"};
}

std::size_t runtime::in_flight() const noexcept {
  return impl_->engine->in_flight();
}

metrics::registry& runtime::metrics() const noexcept {
  return impl_->engine->metrics();
}

const std::shared_ptr<log_sink>& runtime::log() const noexcept {
  return impl_->engine->log();
}

result<strata::relay_status> runtime::relay_status() const {
#if STRATA_WITH_RABBITMQ
  std::lock_guard<std::mutex> lock{impl_->relay_mutex};
  if (impl_->relay) {
    strata::relay_status s;
    s.confirmed = impl_->relay->confirmed();
    s.lag_events = impl_->relay->lag();
    s.connected = impl_->relay->connected();
    return s;
  }
#endif
#if STRATA_WITH_POSTGRES
  if (config_.relay.enabled && config_.cluster.enabled)
    return error{errc::unavailable, "the relay runs on the node holding lease " +
                                        std::string{detail::relay_lease} + ", not on node " +
                                        config_.cluster.node_id + " now"};
#endif
  return error{errc::not_found, "the relay is not enabled (relay.enabled)"};
}

void runtime::stop(std::chrono::milliseconds drain_timeout) {
#if STRATA_WITH_POSTGRES
  // No more forwarding; the heartbeats and leases go on while the engine drains, and no
  // projection or relay starts here any more.
  if (impl_->cluster) impl_->cluster->stop_routing();
  if (impl_->singletons) impl_->singletons->stop_acquiring();
#endif
  impl_->engine->stop(drain_timeout);  // the projections too, after the last commits reached them
#if STRATA_WITH_RABBITMQ
  {
    // What it can publish within the drain time, it publishes now (not while the broker is
    // down; in a cluster, while this node still renews its lease); the rest on the next start.
    std::lock_guard<std::mutex> lock{impl_->relay_mutex};
    if (impl_->relay) impl_->relay->drain(std::min(drain_timeout, std::chrono::milliseconds{5000}));
  }
#endif
#if STRATA_WITH_POSTGRES
  if (impl_->singletons) impl_->singletons->stop();  // stops what runs here, frees its leases
  if (impl_->cluster) impl_->cluster->leave();       // frees this node's leases for the others
#endif
#if STRATA_WITH_RABBITMQ
  std::unique_ptr<persistence::event_relay> relay;
  {
    std::lock_guard<std::mutex> lock{impl_->relay_mutex};
    relay = std::move(impl_->relay);
  }
  if (relay) relay->stop();
#endif
  // A stopped runtime frees its port; a registry supplied in `runtime_overrides` stays usable.
  if (config_.metrics.enabled) impl_->engine->metrics().stop_exposing();
  impl_->store_lock.reset();  // the store is free for another runtime or `strata rebuild`
}

result<void> runtime::impl::start_projections(
    const projections_config& c, std::shared_ptr<persistence::projection_store_factory> read_models,
    bool cluster_enabled) {
  actors::projection_options o;
  o.batch_events = c.batch_events;
  o.buffer_events = c.buffer_events;
  o.on_poison = c.on_poison;
  o.retry_delay = std::chrono::milliseconds{c.retry_delay_ms};
  // Cluster nodes commit to one journal, and a node's bus carries its own commits only: the
  // node running a projection also reads the journal for the other nodes' events.
  if (cluster_enabled) o.journal_poll = cluster_journal_poll;
  auto host = engine->start_projections(o, std::move(read_models));
  if (!host) return std::move(host).err();
  projections = *host;
  return ok();
}

result<void> runtime::add_projection(std::shared_ptr<projection> p, projection_start how) {
  auto bound = bind_projection(std::move(p), catalog_);
  if (!bound) return std::move(bound).err();
  return impl_->add_projection(std::move(*bound), how);
}

result<void> runtime::add_projection(std::shared_ptr<persistence::projection> p,
                                     projection_start how) {
  return impl_->add_projection(std::move(p), how);
}

result<void> runtime::impl::add_projection(std::shared_ptr<persistence::projection> p,
                                           projection_start how) {
#if STRATA_WITH_POSTGRES
  if (singletons && p && !p->name().empty()) {
    const auto key = detail::projection_lease(p->name());
    if (!shared_read_models)
      return error{errc::invalid_argument,
                   "projection '" + std::string{p->name()} + "' (lease " + key +
                       ") cannot run in a cluster on SQLite read models: every node must reach "
                       "the same read models and checkpoint; set projections.backend to "
                       "\"postgres\""};
    if (how == projection_start::rebuild)
      return error{errc::invalid_argument,
                   "projection '" + std::string{p->name()} + "' (lease " + key +
                       "): projection_start::rebuild is refused in a cluster, where each node "
                       "taking the lease would rebuild it again; call rebuild_projection on the "
                       "node that runs it, or `strata rebuild` while the cluster is stopped"};
    const std::string name{p->name()};
    if (auto added = projections->add_idle(std::move(p)); !added) return added;
    detail::singleton s;
    s.key = key;
    s.start = [host = projections, name] { return host->start_one(name); };
    s.stop = [host = projections, name] { host->stop_one(name); };
    singletons->add(std::move(s));
    return ok();
  }
#endif
  return projections->add(std::move(p), how);
}

result<void> runtime::wait_for(std::string_view name, global_position position,
                               std::chrono::milliseconds timeout) {
  return impl_->projections->wait_for(name, position, timeout);
}

result<projection_lag> runtime::projection_lag(std::string_view name) {
  return impl_->projections->lag(name);
}

result<std::vector<dead_letter>> runtime::dead_letters(std::string_view name) {
  return impl_->projections->dead_letters(name);
}

result<void> runtime::retry_dead_letter(std::string_view name, global_position position) {
  return impl_->projections->retry(name, position);
}

result<void> runtime::rebuild_projection(std::string_view name) {
  return impl_->projections->rebuild(name);
}

result<read_model_reader> runtime::open_read_models() {
  auto store = impl_->projections->open_store();
  if (!store) return std::move(store).err();
  return read_model_reader{std::move(*store)};
}

}  // namespace strata
