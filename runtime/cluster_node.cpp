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

/// What a peer's endpoint answers to a ping at once (`cluster_node::impl::serve`): a forwarded
/// command's body starts with its kind byte 'F' (actors/cluster_wire.hpp), so no forwarded
/// command is ever taken for one.
constexpr std::string_view ping_request = "ping";
constexpr std::string_view pong_prefix = "pong ";

/// The pings of one peer's epoch: at most one in flight; written by the link's threads.
struct probe_slot {
  std::atomic<std::int64_t> answered_us{0};  ///< Steady clock of the last answer (or first sight).
  std::atomic<bool> in_flight{false};
};

struct probe {
  std::uint64_t epoch = 0;
  std::shared_ptr<probe_slot> slot;
};

/// Where a shard held by this node stands (the loop thread's bookkeeping).
enum class shard_phase : std::uint8_t {
  none,         ///< No lease held.
  warming,      ///< Lease acquired; its cached aggregates are passivated before it acts.
  acting,       ///< Lease held, commands run here.
  handing_off,  ///< Planned for another node: not acting, drained, then released.
};

struct shard_hold {
  std::uint64_t lease_epoch = 0;  ///< 0: none held.
  shard_phase phase = shard_phase::none;
  std::int64_t since_us = 0;      ///< Steady clock when the hand-off began.
  std::int64_t called_us = 0;     ///< Steady clock of the last acquire or renew call...
  std::int64_t remaining_us = 0;  ///< ...and the lease time it reported (database clock).
};

/// One round's reading of the tables, and what it derives from them.
struct round_view {
  std::vector<member> members;
  std::vector<lease> leases;  ///< Indexed by shard.
  /// Live: not final, heartbeat younger than the dead timeout (the live voters of the rules).
  std::map<std::string, const member*> live;
  std::vector<std::string> plan;  ///< The planned owner per shard.
};

}  // namespace

struct cluster_node::impl {
  cluster_config config;
  actors::engine* engine = nullptr;
  logger log;
  std::unique_ptr<persistence::cluster_membership> membership;  ///< Loop thread only.
  std::unique_ptr<persistence::cluster_leases> leases;          ///< Loop thread only.
  persistence::cluster_store_options store;  ///< To open the leases of a new epoch.
  std::atomic<std::uint64_t> epoch{0};
  std::uint16_t port = 0;
  /// Kept from the end of one lease period: a round may come this late.
  std::int64_t margin_us = 0;
  /// A hand-off waits this long at most for the shard's commands in flight (each is answered
  /// within the command timeout); then the journal's optimistic concurrency is the guard.
  std::int64_t drain_bound_us = 0;

  /// Per shard: until when (steady clock, microseconds) this node acts on it; 0: it does not.
  /// Written by the loop thread, read by every caller of `route` without a lock.
  std::unique_ptr<std::atomic<std::int64_t>[]> acting_until;
  /// Per shard: commands given to the local engine and not answered yet. With `acting_until`
  /// (both sequentially consistent) it tells a hand-off when the shard has drained: a caller
  /// counts in before it reads `acting_until`, the loop stops acting before it reads this.
  std::unique_ptr<std::atomic<std::uint32_t>[]> in_flight;
  std::vector<shard_hold> held;         ///< Loop thread only, per shard.
  std::map<std::string, probe> probes;  ///< Loop thread only, per peer node id.
  bool fenced = false;                  ///< Loop thread only: this epoch is over.

  mutable std::shared_mutex routes_mutex;
  // Under routes_mutex: the peers owning shards, the shards this node is handing over, the
  // node link (owned by the engine) and whether commands are still routed.
  std::vector<std::shared_ptr<const route_entry>> routes;
  std::vector<std::uint8_t> in_transit;
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
    const auto until = acting_until[s].load(std::memory_order_seq_cst);
    return until != 0 && until > steady_now_us();
  }

  /// Counts a command in for the local engine if this node acts on shard `s`; false (and
  /// nothing counted) otherwise. A true answer must be followed by `leave_shard(s)` once the
  /// command is answered.
  bool enter_shard(std::uint32_t s) noexcept {
    in_flight[s].fetch_add(1, std::memory_order_seq_cst);
    if (acting(s)) return true;
    in_flight[s].fetch_sub(1, std::memory_order_seq_cst);
    return false;
  }

  /// The engine's callback for a command counted in on shard `s`.
  actors::command_callback counted(std::uint32_t s, actors::command_callback&& done) {
    return [counter = &in_flight[s], done = std::move(done)](command_result r) {
      counter->fetch_sub(1, std::memory_order_seq_cst);  // the answer is final: committed
      done(std::move(r));
    };
  }

  void stop_acting(std::uint32_t s) noexcept {
    acting_until[s].store(0, std::memory_order_seq_cst);
  }

  /// A lease read at `called_us` with `remaining_us` left (database clock): acted on until
  /// then, minus the margin.
  void act_until(std::uint32_t s, std::int64_t called_us, std::int64_t remaining_us) noexcept {
    const auto until = called_us + remaining_us - margin_us;
    acting_until[s].store(until > called_us ? until : 0, std::memory_order_seq_cst);
  }

  /// A peer's request: a ping, answered at once, or a forwarded command, run here when this
  /// node acts on its shard.
  void serve(std::string request, std::function<void(std::string)> reply) {
    if (request == ping_request)
      return reply(std::string{pong_prefix} + config.node_id + " " +
                   std::to_string(epoch.load(std::memory_order_relaxed)));
    served.fetch_add(1, std::memory_order_relaxed);
    metrics->served();
    auto c = actors::decode_forwarded(request);
    if (!c) return reply(actors::encode_result(failure(std::move(c).err())));
    const auto s = shard(c->type, c->aggregate_id);
    if (!enter_shard(s))
      return reply(actors::encode_result(
          failure(error{errc::unavailable,
                        "node " + config.node_id + " does not hold shard " + std::to_string(s) +
                            " now (it moved or its lease ran out): retry with the same "
                            "command id"})));
    auto model = engine->model(c->type);
    std::optional<error> refused;
    if (!model) {
      // The sender knows the type (it encoded the command), so the command is valid: this
      // node is not ready for it (its host registers its types after it joined) or is
      // configured apart from the sender. Either way a retry may succeed; not_found would
      // tell the client its command is wrong.
      refused =
          error{errc::unavailable,
                "aggregate type '" + c->type + "' is not registered on node " + config.node_id +
                    ", which holds its shard: retry with the same command id once it is"};
    } else if (auto command = model->decode_command(c->command); !command) {
      refused = std::move(command).err();
    } else {
      engine->send(c->type, std::move(c->aggregate_id), std::move(*command), std::move(c->meta),
                   counted(s, [reply = std::move(reply)](command_result r) {
                     reply(actors::encode_result(r));
                   }));
      return;
    }
    in_flight[s].fetch_sub(1, std::memory_order_seq_cst);
    reply(actors::encode_result(failure(std::move(*refused))));
  }

  // ---- The round. Each step is one method, in the order `round` calls them; a step that
  // needs the tables reads them from the `round_view`.

  /// One round: heartbeat; read members and leases; probe peers and suspect the silent;
  /// declare the long-silent dead; plan; renew, hand off and acquire shards; publish routes.
  void round() {
    if (!heartbeat()) return;
    round_view v;
    if (!read_tables(v)) return;
    if (fenced) rejoin(v);
    if (!fenced) {
      if (probe_peers(v) && !read_tables(v)) return;  // suspicions changed rows: read again
      declare_dead(v);
    }
    plan_shards(v);
    if (!fenced) move_shards(v);
    // Further leases taken under the same plan of live members (named leases) go here.
    publish_routes(v);
  }

  /// Step 1: the heartbeat. False when the round cannot go on (the database is unreachable).
  /// Refused as fenced (declared dead or superseded), this epoch never acts again: every
  /// shard stops at once, and the node goes on only reading the tables and forwarding until
  /// it joins again (`rejoin`).
  bool heartbeat() {
    if (fenced) return true;
    auto beat = membership->heartbeat();
    if (beat) return true;
    if (beat.err().code != errc::conflict) {
      log.warning("heartbeat of " + config.node_id + " failed: " + to_string(beat.err()));
      return false;
    }
    log.error("node " + config.node_id + " epoch " + std::to_string(epoch.load()) +
              " is fenced and stops acting on every shard: " + to_string(beat.err()));
    fenced = true;
    metrics->fenced();
    for (std::uint32_t s = 0; s < config.shard_count; ++s) stop_acting(s);
    std::fill(held.begin(), held.end(), shard_hold{});
    return true;
  }

  /// Step 2a, for a fenced node only: when this node's row says that its epoch was declared
  /// dead, it joins again with a new epoch, as a restart would, and takes part from the next
  /// round on (heartbeat, then shards by the plan like any joining member). An epoch that was
  /// superseded (another process joined with this node id) or left stays out for good, so
  /// that two processes with one node id cannot take turns fencing each other.
  void rejoin(const round_view& v) {
    auto mine = epoch.load();
    const auto row = std::find_if(v.members.begin(), v.members.end(),
                                  [&](const member& m) { return m.node_id == config.node_id; });
    if (row == v.members.end() || row->epoch != mine) return;  // superseded
    if (row->status == member_status::dead) {
      node_address address;
      address.host = config.host;
      address.port = port;
      auto joined = membership->join(address);
      if (!joined) {
        log.warning("node " + config.node_id + " could not join again: " + to_string(joined.err()));
        return;
      }
      mine = joined->epoch;
      epoch.store(mine);
    } else if (is_final(row->status)) {
      return;  // left
    }
    // Joined at `mine`: the leases of that epoch (tried again next round if this fails).
    auto opened = persistence::cluster_leases::open(store, mine);
    if (!opened) {
      log.warning("node " + config.node_id + " joined again at epoch " + std::to_string(mine) +
                  " but cannot open its leases: " + to_string(opened.err()));
      return;
    }
    leases = std::move(*opened);
    fenced = false;
    metrics->rejoined();
    log.warning("node " + config.node_id + " joined again at epoch " + std::to_string(mine) +
                " after it was declared dead");
  }

  /// Step 2: members and every shard lease; the live members among them.
  bool read_tables(round_view& v) {
    auto members = membership->members();
    if (!members) {
      log.warning("reading the members failed: " + to_string(members.err()));
      return false;
    }
    auto shard_leases = leases->shard_leases();
    if (!shard_leases || shard_leases->size() != config.shard_count) {
      if (!shard_leases) log.warning("reading the leases failed: " + to_string(shard_leases.err()));
      return false;
    }
    v.members = std::move(*members);
    v.leases = std::move(*shard_leases);
    v.live.clear();
    for (const auto& m : v.members)
      if (!is_final(m.status) && m.heartbeat_age_us < dead_timeout_us())
        v.live.emplace(m.node_id, &m);
    return true;
  }

  std::int64_t dead_timeout_us() const noexcept {
    return static_cast<std::int64_t>(config.dead_timeout_ms) * 1000;
  }
  std::int64_t suspect_timeout_us() const noexcept {
    return static_cast<std::int64_t>(config.suspect_timeout_ms) * 1000;
  }

  /// Step 3: pings every peer that is not final (one in flight each, never waited for: the
  /// answer is looked at the next round), and suspects a peer whose ping went unanswered for
  /// the suspect timeout or whose heartbeat is older than that (database clock). True when a
  /// suspicion was written (rows changed).
  bool probe_peers(const round_view& v) {
    const auto now = steady_now_us();
    std::map<std::string, probe> kept;
    {
      // Shared: the link stays valid while pings are handed to it (`request` only queues).
      std::shared_lock<std::shared_mutex> lock{routes_mutex};
      for (const auto& m : v.members) {
        if (m.node_id == config.node_id || is_final(m.status)) continue;
        auto& p = kept[m.node_id];
        if (auto it = probes.find(m.node_id); it != probes.end() && it->second.epoch == m.epoch)
          p = std::move(it->second);
        if (!p.slot) {  // first seen at this epoch: it has a suspect timeout to answer
          p.epoch = m.epoch;
          p.slot = std::make_shared<probe_slot>();
          p.slot->answered_us.store(now);
        }
        if (!routing || link == nullptr || m.address.port == 0 || p.slot->in_flight.exchange(true))
          continue;
        link->request(m.address, std::string{ping_request},
                      [slot = p.slot, expected = std::string{pong_prefix} + m.node_id + " " +
                                                 std::to_string(m.epoch)](result<std::string> r) {
                        if (r && *r == expected) slot->answered_us.store(steady_now_us());
                        slot->in_flight.store(false);
                      });
      }
    }
    probes = std::move(kept);
    bool wrote = false;
    for (const auto& m : v.members) {
      auto p = probes.find(m.node_id);
      if (p == probes.end()) continue;
      const bool silent = now - p->second.slot->answered_us.load() > suspect_timeout_us();
      const bool stale = m.heartbeat_age_us > suspect_timeout_us();
      if (!silent && !stale) continue;
      if (std::find(m.suspected_by.begin(), m.suspected_by.end(), config.node_id) !=
          m.suspected_by.end())
        continue;  // suspected already since its last heartbeat
      const auto why = std::string{silent ? "no answer to its pings" : "no heartbeat"} + " for " +
                       std::to_string(config.suspect_timeout_ms) + " ms";
      if (auto done = membership->suspect(m.node_id, m.epoch); done) {
        wrote = true;
        metrics->suspected();
        log.info("node " + config.node_id + " suspects node " + m.node_id + " epoch " +
                 std::to_string(m.epoch) + ": " + why);
      } else {
        log.debug("suspecting node " + m.node_id + " was refused: " + to_string(done.err()));
      }
    }
    return wrote;
  }

  /// Step 4: declares dead every member whose heartbeat is older than the dead timeout, at
  /// the row version read (optimistic concurrency). The table's rules decide: another node's
  /// declaration winning (`conflict`) or too few suspicions yet (`rejected`) are normal.
  void declare_dead(round_view& v) {
    for (auto& m : v.members) {
      if (m.node_id == config.node_id || is_final(m.status) ||
          m.heartbeat_age_us <= dead_timeout_us())
        continue;
      auto declared = membership->declare_dead(m.node_id, m.epoch, m.row_version);
      if (declared) {
        metrics->declared_dead();
        log.warning("node " + config.node_id + " declared node " + m.node_id + " epoch " +
                    std::to_string(m.epoch) + " dead (no heartbeat for " +
                    std::to_string(m.heartbeat_age_us / 1000) + " ms)");
        m = std::move(*declared);
      } else if (declared.err().code == errc::conflict || declared.err().code == errc::rejected) {
        log.debug("declaring node " + m.node_id + " dead: " + to_string(declared.err()));
      } else {
        log.warning("declaring node " + m.node_id + " dead failed: " + to_string(declared.err()));
      }
    }
  }

  bool owner_is_live(const round_view& v, const lease& l) const {
    if (!l.is_held()) return false;
    auto it = v.live.find(l.owner);
    return it != v.live.end() && it->second->epoch == l.owner_epoch;
  }

  /// Step 5: the plan, from the live members and each shard's live owner.
  void plan_shards(round_view& v) const {
    std::vector<std::string> ids;
    ids.reserve(v.live.size());
    for (const auto& entry : v.live) ids.push_back(entry.first);
    std::vector<std::string> current(config.shard_count);
    for (std::uint32_t s = 0; s < config.shard_count; ++s)
      if (owner_is_live(v, v.leases[s])) current[s] = v.leases[s].owner;
    v.plan = plan_assignment(ids, config.shard_count, current);
  }

  /// Step 6: renews what this node holds, begins a hand-off of what the plan gives another
  /// (it stops acting at once), acquires what the plan gives it and is free or expired; then
  /// passivates the cached aggregates of the shards just acquired and of the hand-offs whose
  /// commands drained, and only then acts on the former and releases the latter.
  void move_shards(const round_view& v) {
    std::vector<std::uint32_t> settle;
    for (std::uint32_t s = 0; s < config.shard_count; ++s) {
      const shard_id key{s};
      auto& h = held[s];
      const bool mine = v.plan[s] == config.node_id;
      if (h.lease_epoch != 0) {
        // Planned here again before the hand-off ended: it acts again once re-passivated.
        if (mine && h.phase == shard_phase::handing_off) h.phase = shard_phase::warming;
        if (!mine && h.phase != shard_phase::handing_off) {
          stop_acting(s);  // before `in_flight` is read (see there)
          h.phase = shard_phase::handing_off;
          h.since_us = steady_now_us();
          log.info("node " + config.node_id + " hands shard " + std::to_string(s) + " to " +
                   v.plan[s]);
        }
        const auto called = steady_now_us();
        auto renewed = leases->renew(key, h.lease_epoch);
        if (!renewed) {
          stop_acting(s);
          h = shard_hold{};
          log.warning("renewing shard " + std::to_string(s) +
                      " failed: " + to_string(renewed.err()));
          continue;
        }
        h.called_us = called;
        h.remaining_us = renewed->remaining_us;
        if (h.phase == shard_phase::acting) act_until(s, called, renewed->remaining_us);
        if (h.phase == shard_phase::warming || (h.phase == shard_phase::handing_off && drained(s)))
          settle.push_back(s);
      } else if (mine && !v.leases[s].is_held()) {
        const auto called = steady_now_us();
        if (auto acquired = leases->acquire(key)) {
          h.lease_epoch = acquired->lease_epoch;
          h.phase = shard_phase::warming;
          h.called_us = called;
          h.remaining_us = acquired->remaining_us;
          settle.push_back(s);
        }  // another node was faster: the next round sees its lease
      }
    }
    if (settle.empty() || !passivate(settle)) return;  // not yet: the next round tries again
    for (const auto s : settle) {
      auto& h = held[s];
      if (h.phase == shard_phase::warming) {
        h.phase = shard_phase::acting;
        act_until(s, h.called_us, h.remaining_us);
      } else if (auto released = leases->release(shard_id{s}, h.lease_epoch); !released) {
        log.warning("releasing shard " + std::to_string(s) +
                    " failed: " + to_string(released.err()));
        h = shard_hold{};
      } else {
        metrics->handed_off();
        h = shard_hold{};
      }
    }
  }

  /// True when every command the local engine got for shard `s` has its answer (so the journal
  /// writer committed it), or the drain waited longer than any command may take.
  bool drained(std::uint32_t s) {
    if (in_flight[s].load(std::memory_order_seq_cst) == 0) return true;
    if (steady_now_us() - held[s].since_us < drain_bound_us) return false;
    log.warning("shard " + std::to_string(s) + " still has " + std::to_string(in_flight[s].load()) +
                " commands in flight after the drain bound; handing it off anyway (the journal's "
                "optimistic concurrency refuses a stale append)");
    return true;
  }

  /// Passivates the cached aggregates of `shards` in the local engine; waits for it at most
  /// half a heartbeat interval. False when it did not finish in time.
  bool passivate(const std::vector<std::uint32_t>& shards) {
    struct completion {
      std::mutex mutex;
      std::condition_variable done;
      bool finished = false;
    };
    auto c = std::make_shared<completion>();
    auto selected = std::make_shared<std::vector<bool>>(config.shard_count, false);
    for (const auto s : shards) (*selected)[s] = true;
    engine->passivate(
        [selected, count = config.shard_count](std::string_view type, std::string_view id) {
          return (*selected)[shard_of(type, id, count)];
        },
        [c] {
          std::lock_guard<std::mutex> lock{c->mutex};
          c->finished = true;
          c->done.notify_all();
        });
    std::unique_lock<std::mutex> lock{c->mutex};
    const auto bound =
        std::chrono::milliseconds{std::max<std::uint32_t>(config.heartbeat_interval_ms / 2, 1)};
    if (c->done.wait_for(lock, bound, [&] { return c->finished; })) return true;
    log.info("passivating the aggregates of " + std::to_string(shards.size()) +
             " shards took longer than " + std::to_string(bound.count()) +
             " ms; the next round tries again");
    return false;
  }

  /// Step 7: the owner of every shard this node does not hold, for `route`.
  void publish_routes(const round_view& v) {
    std::vector<std::shared_ptr<const route_entry>> table(config.shard_count);
    std::vector<std::uint8_t> transit(config.shard_count, 0);
    std::map<std::string, std::shared_ptr<const route_entry>> peers;
    std::size_t owned = 0;
    for (std::uint32_t s = 0; s < config.shard_count; ++s) {
      const auto& l = v.leases[s];
      if (held[s].lease_epoch != 0) {
        owned += held[s].phase == shard_phase::acting ? 1 : 0;
        transit[s] = held[s].phase == shard_phase::handing_off ? 1 : 0;
        continue;
      }
      if (l.owner == config.node_id || !owner_is_live(v, l)) continue;
      auto& peer = peers[l.owner];
      if (!peer)
        peer =
            std::make_shared<const route_entry>(route_entry{l.owner, v.live.at(l.owner)->address});
      table[s] = peer;
    }
    metrics->set_view(v.live.size(), owned);
    std::unique_lock<std::shared_mutex> lock{routes_mutex};
    routes = std::move(table);
    in_transit = std::move(transit);
    live_members = v.live.size();
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
  const auto o = store_options(cluster, journal);
  auto membership = persistence::cluster_membership::open(o);
  if (!membership) return std::move(membership).err();

  auto p = std::make_unique<impl>();
  p->config = cluster;
  p->engine = &engine;
  p->metrics = &engine.metrics().cluster();
  p->log = logger{std::move(log), "cluster"};
  p->membership = std::move(*membership);
  p->store = o;
  p->margin_us = static_cast<std::int64_t>(cluster.heartbeat_interval_ms) * 1000 / 2;
  p->acting_until = std::make_unique<std::atomic<std::int64_t>[]>(cluster.shard_count);
  for (std::uint32_t s = 0; s < cluster.shard_count; ++s) p->acting_until[s].store(0);
  p->drain_bound_us =
      (command_timeout.count() + static_cast<std::int64_t>(cluster.suspect_timeout_ms)) * 1000;
  p->in_flight = std::make_unique<std::atomic<std::uint32_t>[]>(cluster.shard_count);
  for (std::uint32_t s = 0; s < cluster.shard_count; ++s) p->in_flight[s].store(0);
  p->held.assign(cluster.shard_count, shard_hold{});
  p->routes.resize(cluster.shard_count);
  p->in_transit.assign(cluster.shard_count, 0);

  // The handler lives in the engine's link, which may outlast this node when starting fails
  // below: it reaches the node through a pointer that `leave` clears.
  auto target = std::make_shared<std::atomic<impl*>>(p.get());
  actors::node_link_options lo;
  lo.host = cluster.host;
  lo.port = cluster.port;
  lo.connect_timeout = std::chrono::milliseconds{cluster.suspect_timeout_ms};
  // The owner answers within its command timeout; the rest is the network's share.
  lo.request_timeout = command_timeout + std::chrono::milliseconds{cluster.suspect_timeout_ms};
  // The engine's registry, which outlives the link the engine owns.
  lo.on_sent = [m = p->metrics](std::size_t requests) { m->link_sent(requests); };
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
  p->epoch.store(joined->epoch);
  auto leases = persistence::cluster_leases::open(o, joined->epoch);
  if (!leases) {
    target->store(nullptr);
    static_cast<void>(p->membership->leave());
    return std::move(leases).err();
  }
  p->leases = std::move(*leases);
  p->log.info("node " + cluster.node_id + " joined at epoch " + std::to_string(joined->epoch) +
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
  if (p.enter_shard(s)) {
    p.engine->send(type, std::move(id), std::move(command), std::move(meta),
                   p.counted(s, std::move(done)));
    return;
  }
  std::optional<error> refused;
  {
    // Shared: the link stays valid while it is used (stop_routing takes it exclusively).
    std::shared_lock<std::shared_mutex> lock{p.routes_mutex};
    const auto& owner = p.routes[s];
    if (!p.routing) {
      refused = error{errc::unavailable, "runtime is stopping"};
    } else if (!owner && p.in_transit[s] != 0) {
      refused =
          error{errc::unavailable, "shard " + std::to_string(s) + " of " + std::string{type} + "-" +
                                       id + " is being handed over by node " + p.config.node_id +
                                       " to its next owner: retry with the same command id"};
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
          [done = std::move(done), to = owner->node_id, m = p.metrics,
           sent = steady::now()](result<std::string> reply) {
            m->forward_done(std::chrono::duration<double>(steady::now() - sent).count());
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

std::uint64_t cluster_node::epoch() const noexcept {
  return impl_->epoch.load();
}

cluster_view cluster_node::view() const {
  auto& p = *impl_;
  cluster_view v;
  v.node_id = p.config.node_id;
  v.epoch = p.epoch.load(std::memory_order_relaxed);
  v.port = p.port;
  v.forwarded = p.forwarded.load(std::memory_order_relaxed);
  v.served = p.served.load(std::memory_order_relaxed);
  std::shared_lock<std::shared_mutex> lock{p.routes_mutex};
  v.live_members = p.live_members;
  if (p.link != nullptr) v.peers_connected = p.link->connected_peers();
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
