#include "strata/runtime/cluster_singletons.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "strata/metrics/metrics.hpp"
#include "strata/persistence/cluster.hpp"
#include "strata/persistence/postgres/cluster_store.hpp"
#include "strata/runtime/cluster_node.hpp"

namespace strata::detail {

namespace {

using steady = std::chrono::steady_clock;

/// A 64-bit finaliser (splitmix64's), so that ids differing in their last byte still score
/// far apart.
std::uint64_t mix(std::uint64_t h) noexcept {
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace

std::string projection_lease(std::string_view projection_name) {
  return "projection:" + std::string{projection_name};
}

std::string planned_holder(std::string_view key, const std::vector<std::string>& live_members) {
  const auto base = fnv1a_64("\n", fnv1a_64(key));
  const std::string* best = nullptr;
  std::uint64_t best_score = 0;
  for (const auto& m : live_members) {
    const auto score = mix(fnv1a_64(m, base));
    if (best == nullptr || score > best_score || (score == best_score && m < *best)) {
      best = &m;
      best_score = score;
    }
  }
  return best != nullptr ? *best : std::string{};
}

struct cluster_singletons::impl {
  /// One singleton and, on the thread only, its lease.
  struct entry {
    singleton s;
    std::uint64_t lease_epoch = 0;  ///< 0: not held.
    std::int64_t until_us = 0;      ///< Runs until then (steady clock), when `running`.
    bool running = false;
  };

  cluster_config config;
  persistence::cluster_store_options store;  ///< To open the leases of a new epoch.
  std::function<std::uint64_t()> node_epoch;
  std::uint64_t epoch = 0;  ///< Thread only: the epoch `leases` belong to.
  logger log;
  std::shared_ptr<metrics::registry> metrics;
  std::unique_ptr<persistence::cluster_membership> membership;  ///< Thread only.
  std::unique_ptr<persistence::cluster_leases> leases;          ///< Thread only.
  std::int64_t margin_us = 0;

  mutable std::mutex mutex;
  // Under `mutex`: the entries (appended by `add`; their lease fields belong to the thread),
  // the keys running here, and the thread's flags.
  std::vector<std::shared_ptr<entry>> entries;
  std::vector<std::string> running_keys;
  bool acquiring = true;
  bool stopping = false;
  bool stopped = false;
  std::condition_variable wake;
  std::thread loop;

  std::vector<std::shared_ptr<entry>> snapshot() const {
    std::lock_guard<std::mutex> lock{mutex};
    return entries;
  }

  void publish(const std::vector<std::shared_ptr<entry>>& all) {
    std::vector<std::string> keys;
    for (const auto& e : all) {
      if (e->running) keys.push_back(e->s.key);
      metrics->set_singleton_running(e->s.key, e->running);
    }
    std::lock_guard<std::mutex> lock{mutex};
    running_keys = std::move(keys);
  }

  void halt(entry& e) {
    if (!e.running) return;
    e.running = false;
    e.s.stop();
    log.info(config.node_id + " stopped running " + e.s.key);
  }

  /// Stops every singleton whose time ran out without a renewal.
  void enforce(const std::vector<std::shared_ptr<entry>>& all) {
    for (const auto& e : all)
      if (e->running && e->until_us <= steady_now_us()) halt(*e);
  }

  /// A lease read at `called_us` with `remaining_us` left: run until then, minus the margin;
  /// started when it is not running. False when it must not run (no time left, or it did not
  /// start): the lease is then released.
  bool run_until(entry& e, std::int64_t called_us, std::int64_t remaining_us) {
    e.until_us = called_us + remaining_us - margin_us;
    if (e.until_us <= steady_now_us()) {
      halt(e);
      return true;  // held still: the next round's renewal gives it time again
    }
    if (e.running) return true;
    if (auto started = e.s.start(); !started) {
      log.warning(config.node_id + " holds " + e.s.key +
                  " but cannot start it: " + to_string(started.err()));
      return false;
    }
    e.running = true;
    log.info(config.node_id + " runs " + e.s.key + " (lease epoch " +
             std::to_string(e.lease_epoch) + ")");
    return true;
  }

  void give_up(entry& e) {
    halt(e);
    if (auto released = leases->release(e.s.key, e.lease_epoch); !released)
      log.warning("releasing " + e.s.key + " failed: " + to_string(released.err()));
    e.lease_epoch = 0;
  }

  /// Follows the node's epoch. When the node joined again, everything held under the old
  /// epoch stops (its leases are fenced; others take them) and the new epoch's leases are
  /// opened. False while they cannot be opened.
  bool follow_epoch(const std::vector<std::shared_ptr<entry>>& all) {
    const auto current = node_epoch();
    if (current == epoch) return true;
    for (const auto& e : all) {
      halt(*e);
      e->lease_epoch = 0;
    }
    auto opened = persistence::cluster_leases::open(store, current);
    if (!opened) {
      log.warning(config.node_id + " cannot open the leases of epoch " + std::to_string(current) +
                  ": " + to_string(opened.err()));
      return false;
    }
    leases = std::move(*opened);
    log.info(config.node_id + " takes singletons at epoch " + std::to_string(current) + " (was " +
             std::to_string(epoch) + ")");
    epoch = current;
    return true;
  }

  void round() {
    const auto all = snapshot();
    enforce(all);
    if (!follow_epoch(all)) {
      publish(all);
      return;
    }
    auto members = membership->members();
    if (!members) {
      log.warning("reading the members failed: " + to_string(members.err()));
      publish(all);
      return;
    }
    // Live as in the node's round: not final, heartbeating within the dead timeout.
    std::vector<std::string> live;
    bool self_live = false;
    for (const auto& m : *members) {
      if (is_final(m.status) ||
          m.heartbeat_age_us >= static_cast<std::int64_t>(config.dead_timeout_ms) * 1000)
        continue;
      live.push_back(m.node_id);
      if (m.node_id == config.node_id && m.epoch == epoch) self_live = true;
    }
    bool acquire_now = false;
    {
      std::lock_guard<std::mutex> lock{mutex};
      acquire_now = acquiring;
    }
    for (const auto& e : all) {
      enforce(all);
      const auto planned = self_live ? planned_holder(e->s.key, live) : std::string{};
      if (e->lease_epoch != 0 && planned != config.node_id) {
        // A hand-off: it stops after its last batch committed, then the lease is freed.
        give_up(*e);
      } else if (e->lease_epoch != 0) {
        const auto called = steady_now_us();
        auto renewed = leases->renew(e->s.key, e->lease_epoch);
        if (!renewed) {
          halt(*e);
          e->lease_epoch = 0;
          log.warning("renewing " + e->s.key + " failed: " + to_string(renewed.err()));
        } else if (!run_until(*e, called, renewed->remaining_us)) {
          give_up(*e);
        }
      } else if (planned == config.node_id && acquire_now) {
        const auto called = steady_now_us();
        auto acquired = leases->acquire(e->s.key);
        if (!acquired) continue;  // held by another until it expires or is released
        e->lease_epoch = acquired->lease_epoch;
        if (!run_until(*e, called, acquired->remaining_us)) give_up(*e);
      }
    }
    publish(all);
  }

  void run() {
    const auto period = std::chrono::milliseconds{config.heartbeat_interval_ms};
    for (;;) {
      const auto next = steady::now() + period;
      round();
      // Wake at the next round, or earlier when a singleton's time runs out before it.
      for (;;) {
        auto wake_at = next;
        for (const auto& e : snapshot())
          if (e->running)
            wake_at = std::min(wake_at, steady::time_point{std::chrono::microseconds{e->until_us}});
        {
          std::unique_lock<std::mutex> lock{mutex};
          if (wake.wait_until(lock, wake_at, [&] { return stopping; })) return;
        }
        if (steady::now() >= next) break;
        const auto all = snapshot();
        enforce(all);
        publish(all);
      }
    }
  }
};

cluster_singletons::cluster_singletons(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

cluster_singletons::~cluster_singletons() {
  stop();
}

result<std::unique_ptr<cluster_singletons>> cluster_singletons::start(
    const cluster_config& cluster, const journal_config& journal,
    std::function<std::uint64_t()> node_epoch, std::shared_ptr<log_sink> log,
    std::shared_ptr<metrics::registry> m) {
  const auto o = store_options(cluster, journal);
  auto membership = persistence::cluster_membership::open(o);
  if (!membership) return std::move(membership).err();
  const auto epoch = node_epoch();
  auto leases = persistence::cluster_leases::open(o, epoch);
  if (!leases) return std::move(leases).err();
  auto p = std::make_unique<impl>();
  p->config = cluster;
  p->store = o;
  p->node_epoch = std::move(node_epoch);
  p->epoch = epoch;
  p->log = logger{std::move(log), "cluster"};
  p->metrics = std::move(m);
  p->membership = std::move(*membership);
  p->leases = std::move(*leases);
  p->margin_us = static_cast<std::int64_t>(cluster.heartbeat_interval_ms) * 1000 / 2;
  auto* raw = p.get();
  p->loop = std::thread{[raw] { raw->run(); }};
  return std::unique_ptr<cluster_singletons>{new cluster_singletons{std::move(p)}};
}

void cluster_singletons::add(singleton s) {
  auto e = std::make_shared<impl::entry>();
  e->s = std::move(s);
  std::lock_guard<std::mutex> lock{impl_->mutex};
  impl_->entries.push_back(std::move(e));
}

std::vector<std::string> cluster_singletons::held() const {
  std::lock_guard<std::mutex> lock{impl_->mutex};
  return impl_->running_keys;
}

void cluster_singletons::stop_acquiring() {
  std::lock_guard<std::mutex> lock{impl_->mutex};
  impl_->acquiring = false;
}

void cluster_singletons::stop() {
  auto& p = *impl_;
  {
    std::lock_guard<std::mutex> lock{p.mutex};
    if (p.stopped) return;
    p.stopped = true;
    p.stopping = true;
    p.acquiring = false;
  }
  p.wake.notify_all();
  if (p.loop.joinable()) p.loop.join();
  const auto all = p.snapshot();
  for (const auto& e : all)
    if (e->lease_epoch != 0) p.give_up(*e);
  p.publish(all);
}

}  // namespace strata::detail
