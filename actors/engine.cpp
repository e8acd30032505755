#include "strata/actors/engine.hpp"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>

#include "strata/actors/detail/actors.hpp"
#include "strata/actors/detail/handover.hpp"
#include "strata/actors/detail/node_link_impl.hpp"
#include "strata/actors/detail/uuid.hpp"
#include "strata/actors/projection_actor.hpp"
#include "strata/domain/kernel/input.hpp"

namespace strata {

std::string to_string(const command_result& r) {
  std::string out{to_string(r.status)};
  if (r.status == command_status::accepted) {
    out += " v" + std::to_string(r.at.value);
    if (!r.records.empty()) {
      out += " @" + std::to_string(r.position.value) + " [";
      for (std::size_t i = 0; i < r.records.size(); ++i) {
        if (i > 0) out += ' ';
        out += r.records[i].event_type;
      }
      out += ']';
    }
    if (r.duplicate) out += " (duplicate)";
  } else if (r.why) {
    out += ' ' + r.why->code + ": " + r.why->message;
  } else if (r.failure) {
    out += ": " + r.failure->message;
  }
  return out;
}

}  // namespace strata

namespace strata::actors {

struct engine::impl {
  engine_options options;
  std::shared_ptr<persistence::journal_factory> factory;
  std::shared_ptr<const clock> clk;
  std::shared_ptr<metrics::registry> metrics;

  caf::actor_system_config cfg;  // must outlive the system
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<journal_writer> writer;
  std::unique_ptr<io_pool> readers;
  std::unique_ptr<snapshot_writer> snapshots;
  std::unique_ptr<deadline_watch> deadlines;
  logger log;

  struct type_entry {
    std::shared_ptr<detail::type_services> svc;
    caf::actor region;
  };
  mutable std::shared_mutex types_mutex;
  std::unordered_map<std::string, type_entry> types;

  // Set once, under `types_mutex`, by start_network; stopped and destroyed before `sys`.
  std::unique_ptr<node_link> network;

  // Set once, under `types_mutex`, before the writer starts handing it commits (the
  // writer's publish flag orders the two); destroyed before `sys`.
  std::unique_ptr<projection_host> projections;

  std::atomic<bool> accepting{true};
  std::atomic<std::size_t> in_flight{0};
  std::mutex drain_mutex;
  std::condition_variable drained;
  bool stopped = false;

  /// Wraps an admitted command in its envelope and sends it to the type's region.
  /// REQUIRES: the caller holds `types_mutex` (shared) and counted the command in flight.
  void post(const type_entry& entry, std::string id, std::any command, command_metadata meta,
            command_callback done) {
    const auto& svc = entry.svc;
    svc->metrics->in_flight_add(1);
    auto e = std::make_shared<detail::envelope>();
    e->aggregate_id = std::move(id);
    e->command = std::move(command);
    e->meta = std::move(meta);
    e->received = detail::steady::now();
    e->deadline = e->received + options.command_timeout;
    e->reply = detail::once<command_result, detail::dropped_command>{
        [this, svc, received = e->received, done = std::move(done)](command_result r) {
          // Counted out before the caller hears of it, so a caller that sends its next
          // command from the callback never sees one more in flight than admitted; and out
          // of the total before out of its type, whose count admits the next one, so that
          // the total never exceeds what the types admitted. Safe for stop(): callbacks run
          // on actor threads, which the actor system waits for.
          finished();
          svc->in_flight.fetch_sub(1, std::memory_order_acq_rel);
          svc->metrics->in_flight_add(-1);
          svc->metrics->command_done(r.status, detail::steady::now() - received);
          if (r.status == command_status::accepted && !r.duplicate)
            svc->metrics->events_appended(r.records.size());
          try {
            done(std::move(r));
          } catch (...) {  // host code must never unwind into an actor
            report_exception(log, "a command callback");
          }
        }};
    detail::handing_over(e.get());
    caf::anon_send(entry.region, std::move(e));
  }

  void finished() {
    if (in_flight.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock{drain_mutex};
      drained.notify_all();
    }
  }
};

engine::engine(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

engine::~engine() {
  stop();
}

result<std::unique_ptr<engine>> engine::start(
    engine_options options, std::shared_ptr<persistence::journal_factory> journal,
    std::shared_ptr<const clock> clk, std::shared_ptr<metrics::registry> registry,
    std::shared_ptr<persistence::snapshot_store_factory> snapshots) {
  if (!options.log) options.log = std::make_shared<stderr_log_sink>();
  if (options.network && options.network_tls.enabled()) {
    // CAF's OpenSSL module loads these files again for every connection and throws on its
    // network thread when one is bad: they are checked here, once, before anything starts.
    if (auto usable = check_node_tls(options.network_tls); !usable)
      return error{usable.err().code, "TLS " + usable.err().message};
  }
  auto p = std::make_unique<impl>();
  p->options = options;
  p->log = logger{options.log, "engine"};
  p->deadlines = std::make_unique<deadline_watch>(options.log);
  p->factory = std::move(journal);
  p->clk = std::move(clk);
  p->metrics = registry ? std::move(registry) : metrics::registry::create();
  auto* raw = p.get();
  auto* journal_metrics = &p->metrics->journal();
  auto writer = journal_writer::start(
      *p->factory, options.writer,
      [raw](journal_writer::committed_batch records) {
        raw->projections->publish(std::move(records));
      },
      [journal_metrics](const commit_stats& s) {
        journal_metrics->commit_done(s.ok, s.events, s.duration);
        if (s.conflicts > 0) journal_metrics->appends_conflicted(s.conflicts);
      },
      options.log);
  if (!writer) return std::move(writer).err();
  p->writer = std::move(*writer);
  p->writer->publish_committed(false);  // until a projection is added
  p->readers =
      std::make_unique<io_pool>(p->factory, snapshots, options.reader_threads, options.log);
  if (snapshots) {
    p->snapshots = std::make_unique<snapshot_writer>(
        snapshots, options.max_queued_snapshots,
        [raw](const persistence::snapshot_record& s, const result<void>& saved) {
          if (saved) {
            raw->metrics->for_aggregate(s.stream.aggregate_type()).snapshot_written();
          } else {
            raw->log.named("snapshot_writer")
                .warning("snapshot of " + s.stream.str() + " at v" + std::to_string(s.at.value) +
                         " not saved: " + to_string(saved.err()));
          }
        },
        options.log);
  }
  p->cfg.set("scheduler.max-threads", std::max<std::size_t>(options.scheduler_threads, 1));
  // CAF 0.17's idle worker polls its queue 100 times, then 500 times with a 50 µs sleep
  // between polls (about 25 ms of waking up every 50 µs, each wake-up a context switch), and
  // only then waits on its condition variable, which a job handed to it signals. Where the
  // cores are shared (a database server, other nodes on the same machine) those wake-ups take
  // CPU from the work, and a job that arrives mid-sleep waits for the sleep to end
  // (docs/BENCHMARKS.md, "Idle workers").
  if (!options.moderate_polling) p->cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
  if (options.network) {
    p->cfg.load<caf::io::middleman>();
    if (options.network_heartbeat.count() > 0) {
      p->cfg.set("middleman.heartbeat-interval", caf::timespan{options.network_heartbeat});
      p->cfg.set("middleman.connection-timeout", caf::timespan{options.network_timeout});
    }
    if (const auto& tls = options.network_tls; tls.enabled()) {
      p->cfg.load<caf::openssl::manager>();
      // Any of them set turns on peer verification, required on both ends (CAF 0.17's session).
      p->cfg.openssl_certificate = tls.certificate;
      p->cfg.openssl_key = tls.key;
      p->cfg.openssl_cafile = tls.ca;
      p->cfg.openssl_passphrase = tls.passphrase;
    }
  }
  p->sys = std::make_unique<caf::actor_system>(p->cfg);
  return std::unique_ptr<engine>{new engine{std::move(p)}};
}

result<void> engine::add_aggregate(std::shared_ptr<const aggregate_model> model) {
  const std::string type{model->type()};
  if (type.empty() || type.find('-') != std::string::npos)
    return error{errc::invalid_argument,
                 "aggregate type '" + type + "' must be non-empty and contain no '-'"};
  std::unique_lock<std::shared_mutex> lock{impl_->types_mutex};
  if (!impl_->accepting.load() || !impl_->sys)
    return error{errc::unavailable, "runtime is stopping"};
  if (impl_->types.count(type) != 0)
    return error{errc::invalid_argument, "aggregate type '" + type + "' is registered already"};
  auto svc = std::make_shared<detail::type_services>();
  svc->model = std::move(model);
  svc->writer = impl_->writer.get();
  svc->readers = impl_->readers.get();
  svc->snapshots = impl_->snapshots.get();
  svc->deadlines = impl_->deadlines.get();
  svc->clk = impl_->clk.get();
  svc->options = impl_->options;
  svc->metrics = &impl_->metrics->for_aggregate(type);
  svc->log = impl_->options.log.get();
  auto region = detail::spawn_region(*impl_->sys, svc);
  detail::release_spawning_thread();
  impl_->types.emplace(type, impl::type_entry{std::move(svc), std::move(region)});
  return ok();
}

void engine::send(std::string_view type, std::string id, std::any command, command_metadata meta,
                  command_callback done) {
  auto& p = *impl_;
  if (!p.accepting.load(std::memory_order_acquire)) {
    done(detail::failure_result(error{errc::unavailable, "runtime is stopping"}));
    return;
  }
  // Cheap scans of the caller's strings, before anything is admitted or stored.
  if (auto valid = check_aggregate_id(id); !valid) {
    done(detail::failure_result(std::move(valid).err()));
    return;
  }
  if (auto valid = check_metadata(meta); !valid) {
    done(detail::failure_result(std::move(valid).err()));
    return;
  }
  std::optional<error> refused;
  {
    // Admitted and posted under the shared lock that stop() takes exclusively, first to stop
    // accepting and later to clear the types before it destroys the actor system: a command
    // is either counted in flight before stop() waits for the count, or refused as
    // `unavailable`; and no region handle is used after the system is gone.
    std::shared_lock<std::shared_mutex> lock{p.types_mutex};
    auto it = p.types.find(std::string{type});
    if (!p.accepting.load(std::memory_order_acquire)) {
      refused = error{errc::unavailable, "runtime is stopping"};
    } else if (it == p.types.end()) {
      refused =
          error{errc::not_found, "aggregate type '" + std::string{type} + "' is not registered"};
    } else if (it->second.svc->in_flight.fetch_add(1, std::memory_order_acq_rel) >=
               p.options.max_in_flight_per_type) {
      it->second.svc->in_flight.fetch_sub(1, std::memory_order_acq_rel);
      it->second.svc->metrics->command_done(command_status::overloaded, 0.0);
      refused = error{errc::overloaded, std::to_string(p.options.max_in_flight_per_type) +
                                            " commands in flight for " + std::string{type}};
    } else {
      p.in_flight.fetch_add(1, std::memory_order_acq_rel);
      p.post(it->second, std::move(id), std::move(command), std::move(meta), std::move(done));
    }
  }
  if (refused) done(detail::failure_result(std::move(*refused)));
}

void engine::query_state(std::string_view type, std::string id,
                         std::function<void(result<state_view>)> done) {
  auto& p = *impl_;
  if (auto valid = check_aggregate_id(id); !valid) return done(std::move(valid).err());
  std::optional<error> refused;
  {
    std::shared_lock<std::shared_mutex> lock{p.types_mutex};  // as in send()
    auto it = p.types.find(std::string{type});
    if (it == p.types.end()) {
      refused =
          error{errc::not_found, "aggregate type '" + std::string{type} + "' is not registered"};
    } else if (!p.accepting.load(std::memory_order_acquire)) {
      refused = error{errc::unavailable, "runtime is stopping"};
    } else {
      auto q = std::make_shared<detail::state_query>();
      q->aggregate_id = std::move(id);
      q->reply = detail::once<result<state_view>, detail::dropped_query>{std::move(done)};
      detail::handing_over(q.get());
      caf::anon_send(it->second.region, std::move(q));
    }
  }
  if (refused) done(std::move(*refused));
}

void engine::rebuild_state(std::string_view type, std::string id, rehydration_target target,
                           std::function<void(result<rehydrated>)> done) {
  if (auto valid = check_aggregate_id(id); !valid) return done(std::move(valid).err());
  std::shared_ptr<detail::type_services> svc;
  {
    std::shared_lock<std::shared_mutex> lock{impl_->types_mutex};
    auto it = impl_->types.find(std::string{type});
    if (it != impl_->types.end()) svc = it->second.svc;
  }
  if (!svc) {
    done(error{errc::not_found, "aggregate type '" + std::string{type} + "' is not registered"});
    return;
  }
  impl_->readers->query<rehydrated>(
      [svc, id = std::move(id), target](persistence::journal& j,
                                        persistence::snapshot_store* snapshots) {
        return rehydrate(j, snapshots, *svc->model, stream_id{svc->model->type(), id}, target,
                         svc->options.idempotency_window, svc->metrics, svc->log);
      },
      std::move(done));
}

void engine::read(io_pool::task task) {
  impl_->readers->submit(std::move(task));
}

result<projection_host*> engine::start_projections(
    projection_options options, std::shared_ptr<persistence::projection_store_factory> store) {
  if (!store) return error{errc::invalid_argument, "projections need a read-model store"};
  auto& p = *impl_;
  std::unique_lock<std::shared_mutex> lock{p.types_mutex};
  if (!p.accepting.load() || !p.sys) return error{errc::unavailable, "runtime is stopping"};
  if (p.projections) return error{errc::invalid_argument, "projections are started already"};
  auto* writer = p.writer.get();
  p.projections =
      detail::make_projection_host(*p.sys, options, p.factory, std::move(store), p.metrics, p.clk,
                                   [writer] { writer->publish_committed(true); });
  return p.projections.get();
}

result<node_link*> engine::start_network(node_link_options options, node_request_handler handler) {
  auto& p = *impl_;
  std::unique_lock<std::shared_mutex> lock{p.types_mutex};
  if (!p.accepting.load() || !p.sys) return error{errc::unavailable, "runtime is stopping"};
  if (!p.options.network)
    return error{errc::invalid_argument, "the engine was started without its network layer"};
  if (p.network) return error{errc::invalid_argument, "the node endpoint is started already"};
  auto link = detail::start_node_link(*p.sys, std::move(options), std::move(handler));
  if (!link) return std::move(link).err();
  p.network = std::move(*link);
  return p.network.get();
}

void engine::passivate(std::function<bool(std::string_view type, std::string_view id)> which,
                       std::function<void()> done) {
  auto request = std::make_shared<detail::passivation>();
  request->which = std::move(which);
  request->done = std::move(done);
  std::shared_lock<std::shared_mutex> lock{impl_->types_mutex};
  // After stop() the regions are gone: `done` runs when `request` goes out of scope.
  for (auto& [name, t] : impl_->types) caf::anon_send(t.region, request);
}

std::shared_ptr<const aggregate_model> engine::model(std::string_view type) const {
  std::shared_lock<std::shared_mutex> lock{impl_->types_mutex};
  auto it = impl_->types.find(std::string{type});
  return it == impl_->types.end() ? nullptr : it->second.svc->model;
}

metrics::registry& engine::metrics() const noexcept {
  return *impl_->metrics;
}

const clock& engine::time_source() const noexcept {
  return *impl_->clk;
}

const std::shared_ptr<log_sink>& engine::log() const noexcept {
  return impl_->options.log;
}

std::size_t engine::in_flight() const noexcept {
  return impl_->in_flight.load(std::memory_order_acquire);
}

void engine::stop(std::chrono::milliseconds drain_timeout) {
  auto& p = *impl_;
  {
    std::lock_guard<std::mutex> lock{p.drain_mutex};
    if (p.stopped) return;
    p.stopped = true;
  }
  {
    // Exclusive: a send() admitting a command right now finishes counting it first.
    std::unique_lock<std::shared_mutex> lock{p.types_mutex};
    p.accepting.store(false, std::memory_order_release);
  }
  {
    std::unique_lock<std::mutex> lock{p.drain_mutex};
    p.drained.wait_for(lock, drain_timeout, [&] { return p.in_flight.load() == 0; });
  }
  // The writer answers every queued append, and hands its last commits to the event bus,
  // before its thread ends; then no I/O thread will message an actor any more, and the
  // actors can go: the projections once the bus forwarded those commits, then the rest.
  p.writer->stop();
  if (p.snapshots) p.snapshots->stop();
  p.readers->stop();
  p.deadlines->stop();  // it messages actors: before they go
  if (p.projections) p.projections->stop();
  // Peers' requests arriving meanwhile were answered `unavailable` (not accepting); requests
  // to peers not answered yet are answered `unavailable` now.
  if (p.network) p.network->stop();
  {
    std::unique_lock<std::shared_mutex> lock{p.types_mutex};
    for (auto& [name, t] : p.types) caf::anon_send_exit(t.region, caf::exit_reason::user_shutdown);
    p.types.clear();
  }
  p.network.reset();  // its actor handles go before the system
  p.sys.reset();      // blocks until every actor is gone
}

std::string make_time_ordered_id(timestamp now) {
  return detail::make_uuid_v7(now);
}

}  // namespace strata::actors
