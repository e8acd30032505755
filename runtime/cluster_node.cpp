#include "strata/runtime/cluster_node.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <utility>
#include <vector>

#include "strata/actors/cluster_wire.hpp"
#include "strata/metrics/metrics.hpp"
#include "strata/persistence/cluster.hpp"
#include "strata/persistence/postgres/cluster_store.hpp"

namespace strata::detail {

namespace {

using steady = std::chrono::steady_clock;

std::int64_t steady_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(steady::now().time_since_epoch())
      .count();
}

command_result failure(error e) {
  command_result r;
  r.status = status_of(e.code);
  r.failure = std::move(e);
  return r;
}

/// A peer that owns a shard, as the last round saw it.
struct route_entry {
  std::string node_id;
  node_address address;
};

}  // namespace

struct cluster_node::impl {
  cluster_config config;
  actors::engine* engine = nullptr;
  logger log;
  std::unique_ptr<persistence::cluster_membership> membership;  ///< Loop thread only.
  std::unique_ptr<persistence::cluster_leases> leases;          ///< Loop thread only.
  std::uint64_t epoch = 0;
  std::uint16_t port = 0;
  /// Kept from the end of one lease period: a round may come this late.
  std::int64_t margin_us = 0;

  /// Per shard: until when (steady clock, microseconds) this node acts on it; 0: it does not.
  /// Written by the loop thread, read by every caller of `route` without a lock.
  std::unique_ptr<std::atomic<std::int64_t>[]> acting_until;
  std::vector<std::uint64_t> held;  ///< Loop thread only: the lease epoch held per shard, 0: none.

  mutable std::shared_mutex routes_mutex;
  // Under routes_mutex: the peers owning shards, the node link (owned by the engine) and
  // whether commands are still routed.
  std::vector<std::shared_ptr<const route_entry>> routes;
  actors::node_link* link = nullptr;
  bool routing = true;
  std::size_t live_members = 0;

  metrics::cluster_metrics* metrics = nullptr;  ///< The engine's registry's.
  std::atomic<std::uint64_t> forwarded{0};
  std::atomic<std::uint64_t> served{0};

  std::thread loop;
  std::mutex loop_mutex;
  std::condition_variable wake;
  bool stopping = false;  ///< Under loop_mutex.
  bool left = false;      ///< Under loop_mutex.

  std::uint32_t shard(std::string_view type, std::string_view id) const noexcept {
    return shard_of(type, id, config.shard_count);
  }

  bool acting(std::uint32_t s) const noexcept {
    const auto until = acting_until[s].load(std::memory_order_acquire);
    return until != 0 && until > steady_now_us();
  }

  void stop_acting(std::uint32_t s) noexcept {
    acting_until[s].store(0, std::memory_order_release);
  }

  /// A lease read at `called_us` with `remaining_us` left (database clock): acted on until
  /// then, minus the margin.
  void act_until(std::uint32_t s, std::int64_t called_us, std::int64_t remaining_us) noexcept {
    const auto until = called_us + remaining_us - margin_us;
    acting_until[s].store(until > called_us ? until : 0, std::memory_order_release);
  }

  /// A peer's request: a forwarded command, run here when this node acts on its shard.
  void serve(std::string request, std::function<void(std::string)> reply) {
    served.fetch_add(1, std::memory_order_relaxed);
    metrics->served();
    auto c = actors::decode_forwarded(request);
    if (!c) return reply(actors::encode_result(failure(std::move(c).err())));
    const auto s = shard(c->type, c->aggregate_id);
    if (!acting(s))
      return reply(actors::encode_result(
          failure(error{errc::unavailable,
                        "node " + config.node_id + " does not hold shard " + std::to_string(s) +
                            " now (it moved or its lease ran out): retry with the same "
                            "command id"})));
    auto model = engine->model(c->type);
    if (!model)
      return reply(actors::encode_result(
          failure(error{errc::not_found, "aggregate type '" + c->type +
                                             "' is not registered on node " + config.node_id})));
    auto command = model->decode_command(c->command);
    if (!command) return reply(actors::encode_result(failure(std::move(command).err())));
    engine->send(c->type, std::move(c->aggregate_id), std::move(*command), std::move(c->meta),
                 [reply = std::move(reply)](command_result r) { reply(actors::encode_result(r)); });
  }

  /// One round: heartbeat, read members and leases, plan, then renew, release and acquire.
  void round() {
    auto beat = membership->heartbeat();
    if (!beat) {
      log.warning("heartbeat of " + config.node_id + " failed: " + to_string(beat.err()));
      if (beat.err().code == errc::conflict) {  // fenced: this epoch never acts again
        for (std::uint32_t s = 0; s < config.shard_count; ++s) stop_acting(s);
        std::fill(held.begin(), held.end(), 0);
      }
      return;
    }
    auto members = membership->members();
    if (!members) {
      log.warning("reading the members failed: " + to_string(members.err()));
      return;
    }
    auto shard_leases = leases->shard_leases();
    if (!shard_leases || shard_leases->size() != config.shard_count) {
      if (!shard_leases) log.warning("reading the leases failed: " + to_string(shard_leases.err()));
      return;
    }
    // Live: not final, and heartbeating within the dead timeout (database clock), as the
    // live voters of the membership rules.
    std::map<std::string, const member*> live;
    for (const auto& m : *members)
      if (!is_final(m.status) &&
          m.heartbeat_age_us < static_cast<std::int64_t>(config.dead_timeout_ms) * 1000)
        live.emplace(m.node_id, &m);
    auto owner_is_live = [&](const lease& l) {
      if (!l.is_held()) return false;
      auto it = live.find(l.owner);
      return it != live.end() && it->second->epoch == l.owner_epoch;
    };
    std::vector<std::string> ids;
    ids.reserve(live.size());
    for (const auto& entry : live) ids.push_back(entry.first);
    std::vector<std::string> current(config.shard_count);
    for (std::uint32_t s = 0; s < config.shard_count; ++s)
      if (owner_is_live((*shard_leases)[s])) current[s] = (*shard_leases)[s].owner;
    const auto plan = plan_assignment(ids, config.shard_count, current);

    for (std::uint32_t s = 0; s < config.shard_count; ++s) {
      const shard_id key{s};
      if (held[s] != 0 && plan[s] != config.node_id) {
        // A hand-off: stop acting first, then free the lease for the planned owner.
        stop_acting(s);
        if (auto released = leases->release(key, held[s]); !released)
          log.warning("releasing shard " + std::to_string(s) +
                      " failed: " + to_string(released.err()));
        held[s] = 0;
      } else if (held[s] != 0) {
        const auto called = steady_now_us();
        auto renewed = leases->renew(key, held[s]);
        if (renewed) {
          act_until(s, called, renewed->remaining_us);
        } else {
          stop_acting(s);
          held[s] = 0;
          log.warning("renewing shard " + std::to_string(s) +
                      " failed: " + to_string(renewed.err()));
        }
      } else if (plan[s] == config.node_id && !(*shard_leases)[s].is_held()) {
        const auto called = steady_now_us();
        if (auto acquired = leases->acquire(key)) {
          held[s] = acquired->lease_epoch;
          act_until(s, called, acquired->remaining_us);
        }  // another node was faster: the next round sees its lease
      }
    }

    std::vector<std::shared_ptr<const route_entry>> table(config.shard_count);
    std::map<std::string, std::shared_ptr<const route_entry>> peers;
    for (std::uint32_t s = 0; s < config.shard_count; ++s) {
      const auto& l = (*shard_leases)[s];
      if (held[s] != 0 || l.owner == config.node_id || !owner_is_live(l)) continue;
      auto& peer = peers[l.owner];
      if (!peer)
        peer = std::make_shared<const route_entry>(route_entry{l.owner, live[l.owner]->address});
      table[s] = peer;
    }
    std::size_t owned = 0;
    for (std::uint32_t s = 0; s < config.shard_count; ++s) owned += held[s] != 0 ? 1 : 0;
    metrics->set_view(live.size(), owned);
    std::unique_lock<std::shared_mutex> lock{routes_mutex};
    routes = std::move(table);
    live_members = live.size();
  }

  void run() {
    const auto period = std::chrono::milliseconds{config.heartbeat_interval_ms};
    for (;;) {
      const auto started = steady::now();
      round();
      std::unique_lock<std::mutex> lock{loop_mutex};
      if (wake.wait_until(lock, started + period, [&] { return stopping; })) return;
    }
  }
};

cluster_node::cluster_node(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

cluster_node::~cluster_node() {
  leave();
}

result<std::unique_ptr<cluster_node>> cluster_node::start(
    const cluster_config& cluster, const journal_config& journal, actors::engine& engine,
    std::shared_ptr<log_sink> log, std::chrono::milliseconds command_timeout) {
  persistence::cluster_store_options o;
  o.conninfo = journal.postgres.conninfo;
  o.schema = journal.postgres.schema;
  o.node_id = cluster.node_id;
  o.shard_count = cluster.shard_count;
  o.dead_timeout_ms = cluster.dead_timeout_ms;
  o.lease_duration_ms = cluster.lease_duration_ms;
  auto membership = persistence::cluster_membership::open(o);
  if (!membership) return std::move(membership).err();

  auto p = std::make_unique<impl>();
  p->config = cluster;
  p->engine = &engine;
  p->metrics = &engine.metrics().cluster();
  p->log = logger{std::move(log), "cluster"};
  p->membership = std::move(*membership);
  p->margin_us = static_cast<std::int64_t>(cluster.heartbeat_interval_ms) * 1000 / 2;
  p->acting_until = std::make_unique<std::atomic<std::int64_t>[]>(cluster.shard_count);
  for (std::uint32_t s = 0; s < cluster.shard_count; ++s) p->acting_until[s].store(0);
  p->held.assign(cluster.shard_count, 0);
  p->routes.resize(cluster.shard_count);

  // The handler lives in the engine's link, which may outlast this node when starting fails
  // below: it reaches the node through a pointer that `leave` clears.
  auto target = std::make_shared<std::atomic<impl*>>(p.get());
  actors::node_link_options lo;
  lo.host = cluster.host;
  lo.port = cluster.port;
  lo.connect_timeout = std::chrono::milliseconds{cluster.suspect_timeout_ms};
  // The owner answers within its command timeout; the rest is the network's share.
  lo.request_timeout = command_timeout + std::chrono::milliseconds{cluster.suspect_timeout_ms};
  auto link = engine.start_network(
      lo, [target](std::string request, std::function<void(std::string)> reply) {
        if (auto* node = target->load(std::memory_order_acquire))
          return node->serve(std::move(request), std::move(reply));
        reply(actors::encode_result(
            failure(error{errc::unavailable, "the node is not part of the cluster any more"})));
      });
  if (!link) return std::move(link).err();
  p->link = *link;
  p->port = (*link)->port();

  node_address address;
  address.host = cluster.host;
  address.port = p->port;
  auto joined = p->membership->join(address);
  if (!joined) {
    target->store(nullptr);
    return std::move(joined).err();
  }
  p->epoch = joined->epoch;
  auto leases = persistence::cluster_leases::open(o, p->epoch);
  if (!leases) {
    target->store(nullptr);
    static_cast<void>(p->membership->leave());
    return std::move(leases).err();
  }
  p->leases = std::move(*leases);
  p->log.info("node " + cluster.node_id + " joined at epoch " + std::to_string(p->epoch) +
              ", serving peers on " + cluster.host + ":" + std::to_string(p->port));
  auto* raw = p.get();
  p->loop = std::thread{[raw] { raw->run(); }};
  auto node = std::unique_ptr<cluster_node>{new cluster_node{std::move(p)}};
  node->target_ = std::move(target);
  return node;
}

void cluster_node::route(std::string_view type, std::string&& id, std::any&& command,
                         command_metadata&& meta, actors::command_callback&& done) {
  auto& p = *impl_;
  const auto s = p.shard(type, id);
  if (p.acting(s)) {
    p.engine->send(type, std::move(id), std::move(command), std::move(meta), std::move(done));
    return;
  }
  std::optional<error> refused;
  {
    // Shared: the link stays valid while it is used (stop_routing takes it exclusively).
    std::shared_lock<std::shared_mutex> lock{p.routes_mutex};
    const auto& owner = p.routes[s];
    if (!p.routing) {
      refused = error{errc::unavailable, "runtime is stopping"};
    } else if (!owner) {
      refused = error{errc::unavailable,
                      "shard " + std::to_string(s) + " of " + std::string{type} + "-" + id +
                          " has no live owner now: retry with the same command id"};
    } else if (auto model = p.engine->model(type); !model) {
      refused =
          error{errc::not_found, "aggregate type '" + std::string{type} + "' is not registered"};
    } else if (auto encoded = model->encode_command(command); !encoded) {
      refused = std::move(encoded).err();
    } else {
      actors::forwarded_command c;
      c.type = std::string{type};
      c.aggregate_id = std::move(id);
      c.command = std::move(*encoded);
      c.meta = std::move(meta);
      c.from_node = p.config.node_id;
      p.forwarded.fetch_add(1, std::memory_order_relaxed);
      p.metrics->forwarded();
      p.link->request(
          owner->address, actors::encode_forwarded(c),
          [done = std::move(done), to = owner->node_id, m = p.metrics](result<std::string> reply) {
            if (!reply) {
              m->forward_failed();
              return done(
                  failure(error{errc::unavailable,
                                "forwarded to node " + to + ": " + reply.err().message +
                                    " (the outcome is unknown: retry with the same command id)"}));
            }
            auto r = actors::decode_result(*reply);
            if (!r)
              return done(failure(
                  error{errc::internal, "the answer of node " + to + ": " + r.err().message}));
            done(std::move(*r));
          });
    }
  }
  if (refused) done(failure(std::move(*refused)));
}

std::string cluster_node::owner_of(std::string_view type, std::string_view id) const {
  auto& p = *impl_;
  const auto s = p.shard(type, id);
  if (p.acting(s)) return p.config.node_id;
  std::shared_lock<std::shared_mutex> lock{p.routes_mutex};
  return p.routes[s] ? p.routes[s]->node_id : std::string{};
}

cluster_view cluster_node::view() const {
  auto& p = *impl_;
  cluster_view v;
  v.node_id = p.config.node_id;
  v.epoch = p.epoch;
  v.port = p.port;
  v.forwarded = p.forwarded.load(std::memory_order_relaxed);
  v.served = p.served.load(std::memory_order_relaxed);
  std::shared_lock<std::shared_mutex> lock{p.routes_mutex};
  v.live_members = p.live_members;
  for (std::uint32_t s = 0; s < p.config.shard_count; ++s) {
    if (p.acting(s)) {
      ++v.shards_owned;
      ++v.shards_routed;
    } else if (p.routes[s]) {
      ++v.shards_routed;
    }
  }
  return v;
}

void cluster_node::stop_routing() {
  std::unique_lock<std::shared_mutex> lock{impl_->routes_mutex};
  impl_->routing = false;
  impl_->link = nullptr;
}

void cluster_node::leave() {
  auto& p = *impl_;
  stop_routing();
  {
    std::lock_guard<std::mutex> lock{p.loop_mutex};
    if (p.left) return;
    p.left = true;
    p.stopping = true;
  }
  p.wake.notify_all();
  if (p.loop.joinable()) p.loop.join();
  if (target_) target_->store(nullptr, std::memory_order_release);
  for (std::uint32_t s = 0; s < p.config.shard_count; ++s) p.stop_acting(s);
  if (auto left = p.membership->leave(); !left)
    p.log.warning("leaving the cluster failed (the leases run out instead): " +
                  to_string(left.err()));
}

}  // namespace strata::detail
