#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "strata/domain/kernel/error.hpp"
#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/result.hpp"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Histogram;
class Registry;
}  // namespace prometheus

/// strata's Prometheus metrics: the metric families every layer reports into and the HTTP
/// exposer that serves them on `GET /metrics`.
///
/// Usage: one `registry` per process (or per runtime). Layers fetch handles once, keep the
/// reference, and call the cheap handle methods on the hot path:
///
///     auto metrics = strata::metrics::registry::create();
///     auto& orders = metrics->for_aggregate("Order");   // once, at region start
///     orders.command_done(command_status::accepted, 0.0012);  // per command: no lookups
///
/// Every handle method is thread-safe, lock-free or takes one uncontended per-metric mutex
/// (histograms), never allocates and never throws. Every metric name and label is documented
/// in docs/METRICS.md.
namespace strata::metrics {

/// How a registry is exposed over HTTP.
struct metrics_options {
  /// The off switch: when false, `expose` starts no HTTP server. Metrics are still recorded
  /// (handles stay callable and cheap) and `scrape_text` still renders them.
  bool enabled = true;
  /// The address the exposer listens on; loopback by default.
  std::string bind_address = "127.0.0.1";
  /// The TCP port; 0 (the default) lets the operating system pick a free one, reported by
  /// `registry::bound_port`, so any number of registries share a host. A fixed port (e.g.
  /// 9464, the port a Prometheus scrape configuration names) fails to expose when taken.
  std::uint16_t port = 0;
};

/// Commands are counted by `command_status` (domain/kernel/error.hpp): its `to_string` is the
/// `outcome` label of `strata_commands_total`, and `status_of(errc)` is the status a command
/// failing with that code is counted under.

/// Why a stored snapshot was not used, the `reason` label of `strata_snapshots_ignored_total`.
enum class snapshot_ignore_reason : std::uint8_t {
  state_version,  ///< Written by a different state schema version: full replay instead.
  hash_mismatch,  ///< Its integrity check failed.
  decode,         ///< Its JSON could not be decoded into the state.
};

/// The number of `snapshot_ignore_reason` values.
inline constexpr std::size_t snapshot_ignore_reason_count = 3;

/// The label value of `reason`, e.g. "state_version".
std::string_view to_string(snapshot_ignore_reason reason) noexcept;

/// The handles of one aggregate type (label `aggregate_type`).
///
/// Obtained from `registry::for_aggregate`; lives as long as its registry. Thread-safe: any
/// number of threads may call any method concurrently. No method allocates, looks up a label
/// or throws.
class aggregate_metrics {
 public:
  aggregate_metrics(const aggregate_metrics&) = delete;
  aggregate_metrics& operator=(const aggregate_metrics&) = delete;

  /// The aggregate type these handles are labelled with, e.g. "Order".
  const std::string& type() const noexcept { return type_; }

  /// Counts one finished command under `outcome` and observes its latency, from receipt to
  /// reply, in `strata_command_duration_seconds`. Negative `seconds` are counted as 0.
  void command_done(command_status outcome, double seconds) noexcept;

  /// As above, with the latency as a `std::chrono` duration.
  template <class Rep, class Period>
  void command_done(command_status outcome, std::chrono::duration<Rep, Period> latency) noexcept {
    command_done(outcome, std::chrono::duration<double>(latency).count());
  }

  /// Adds `n` to `strata_events_appended_total` (call after the append is durable).
  void events_appended(std::uint64_t n) noexcept;

  /// Moves `strata_live_aggregates` by `delta` (+1 when an instance starts, -1 when it stops).
  void live_add(std::int64_t delta) noexcept;

  /// Moves `strata_commands_in_flight` by `delta` (+1 when admitted, -1 when replied).
  void in_flight_add(std::int64_t delta) noexcept;

  /// Counts one instance spawned on first use (`strata_aggregate_spawns_total`). Does not move
  /// the live gauge: call `live_add` for that.
  void spawned() noexcept;

  /// Counts one instance passivated (`strata_aggregate_passivations_total`). Does not move the
  /// live gauge.
  void passivated() noexcept;

  /// Counts one idle instance that gave up its actor and kept only its state
  /// (`strata_aggregate_hibernations_total`). Does not move the live gauge: it is still in
  /// memory.
  void hibernated() noexcept;

  /// Counts one instance restarted after a failure (`strata_aggregate_restarts_total`).
  void restarted() noexcept;

  /// Counts one finished rehydration (snapshot load plus replay) that took `seconds` and
  /// replayed `events` events (`strata_rehydrations_total`,
  /// `strata_rehydration_duration_seconds`, `strata_rehydrated_events_total`).
  void rehydrated(double seconds, std::uint64_t events) noexcept;

  /// As above, with the duration as a `std::chrono` duration.
  template <class Rep, class Period>
  void rehydrated(std::chrono::duration<Rep, Period> took, std::uint64_t events) noexcept {
    rehydrated(std::chrono::duration<double>(took).count(), events);
  }

  /// Counts one snapshot written (`strata_snapshots_written_total`).
  void snapshot_written() noexcept;

  /// Records how many events an instance had gone past its previous snapshot when it queued
  /// a new one (`strata_snapshot_distance_events`): near `snapshot_every` while the snapshot
  /// writer keeps up, growing when its queue is full and snapshots are skipped.
  void snapshot_queued(std::uint64_t distance) noexcept;

  /// Counts one snapshot found but not used, by `reason` (`strata_snapshots_ignored_total`).
  void snapshot_ignored(snapshot_ignore_reason reason) noexcept;

 private:
  friend class registry;
  aggregate_metrics() = default;

  std::string type_;
  std::array<prometheus::Counter*, command_status_count> commands_{};
  prometheus::Histogram* command_duration_ = nullptr;
  prometheus::Counter* events_appended_ = nullptr;
  prometheus::Gauge* live_ = nullptr;
  prometheus::Gauge* in_flight_ = nullptr;
  prometheus::Counter* spawns_ = nullptr;
  prometheus::Counter* passivations_ = nullptr;
  prometheus::Counter* hibernations_ = nullptr;
  prometheus::Counter* restarts_ = nullptr;
  prometheus::Counter* rehydrations_ = nullptr;
  prometheus::Histogram* rehydration_duration_ = nullptr;
  prometheus::Counter* rehydrated_events_ = nullptr;
  prometheus::Counter* snapshots_written_ = nullptr;
  prometheus::Histogram* snapshot_distance_ = nullptr;
  std::array<prometheus::Counter*, snapshot_ignore_reason_count> snapshots_ignored_{};
};

/// The handles of the journal writer (no labels but `result` on commits).
///
/// Obtained from `registry::journal`; lives as long as its registry. Thread-safe, never
/// allocates or throws.
class journal_metrics {
 public:
  journal_metrics(const journal_metrics&) = delete;
  journal_metrics& operator=(const journal_metrics&) = delete;

  /// Records one group commit of `events` events over all its streams that took `seconds`
  /// (`strata_journal_batch_events`, `strata_journal_commit_duration_seconds`) and counts it
  /// under `strata_journal_commits_total{result="ok"|"failed"}`.
  void commit_done(bool succeeded, std::uint64_t events, double seconds) noexcept;

  /// As above, with the latency as a `std::chrono` duration.
  template <class Rep, class Period>
  void commit_done(bool succeeded, std::uint64_t events,
                   std::chrono::duration<Rep, Period> took) noexcept {
    commit_done(succeeded, events, std::chrono::duration<double>(took).count());
  }

  /// Adds `n` per-stream appends refused with a version conflict
  /// (`strata_journal_append_conflicts_total`).
  void appends_conflicted(std::uint64_t n) noexcept;

 private:
  friend class registry;
  journal_metrics() = default;

  prometheus::Histogram* batch_events_ = nullptr;
  prometheus::Histogram* commit_duration_ = nullptr;
  prometheus::Counter* commits_ok_ = nullptr;
  prometheus::Counter* commits_failed_ = nullptr;
  prometheus::Counter* conflicts_ = nullptr;
};

/// The handles of one projection (label `projection`).
///
/// Obtained from `registry::for_projection`; lives as long as its registry. Thread-safe, never
/// allocates or throws.
class projection_metrics {
 public:
  projection_metrics(const projection_metrics&) = delete;
  projection_metrics& operator=(const projection_metrics&) = delete;

  /// The projection name these handles are labelled with.
  const std::string& name() const noexcept { return name_; }

  /// Sets `strata_projection_position` to the last global position applied (its checkpoint).
  void set_position(global_position position) noexcept;

  /// Sets `strata_projection_lag_events` (journal head minus position) and
  /// `strata_projection_lag_seconds` (age of the newest committed event not yet applied, 0 when
  /// caught up).
  void set_lag(std::uint64_t events, double seconds) noexcept;

  /// Convenience for the common case: sets the position and the lag in events from the
  /// journal's `head` (the lag is 0 when `position >= head`); leaves the lag in seconds alone.
  void progress(global_position position, global_position head) noexcept;

  /// Adds `n` to `strata_projection_events_applied_total`.
  void applied(std::uint64_t n = 1) noexcept;

  /// Adds `n` to `strata_dead_lettered_events_total` (events parked with a reason).
  void dead_lettered(std::uint64_t n = 1) noexcept;

 private:
  friend class registry;
  projection_metrics() = default;

  std::string name_;
  prometheus::Gauge* position_ = nullptr;
  prometheus::Gauge* lag_events_ = nullptr;
  prometheus::Gauge* lag_seconds_ = nullptr;
  prometheus::Counter* applied_ = nullptr;
  prometheus::Counter* dead_lettered_ = nullptr;
};

/// The handles of the event relay to a message broker (no labels; see docs/RELAY.md).
///
/// Obtained from `registry::relay`; lives as long as its registry. Thread-safe, never
/// allocates or throws. The series exist (at 0) from the registry's creation.
class relay_metrics {
 public:
  relay_metrics(const relay_metrics&) = delete;
  relay_metrics& operator=(const relay_metrics&) = delete;

  /// Sets `strata_relay_position` to the last global position the broker confirmed (the
  /// relay's checkpoint) and `strata_relay_lag_events` to `head` minus it (0 when caught up).
  void progress(global_position confirmed, global_position head) noexcept;

  /// Adds `n` to `strata_relay_published_total` (messages the broker confirmed).
  void published(std::uint64_t n) noexcept;

  /// Sets `strata_relay_connected` to 1 or 0.
  void set_connected(bool connected) noexcept;

  /// Adds one to `strata_relay_errors_total` (a failed connect, publish, confirm or store call).
  void failed() noexcept;

  /// Adds one to `strata_relay_reconnects_total` (a connection made after a lost one).
  void reconnected() noexcept;

 private:
  friend class registry;
  relay_metrics() = default;

  prometheus::Gauge* position_ = nullptr;
  prometheus::Gauge* lag_events_ = nullptr;
  prometheus::Counter* published_ = nullptr;
  prometheus::Gauge* connected_ = nullptr;
  prometheus::Counter* errors_ = nullptr;
  prometheus::Counter* reconnects_ = nullptr;
};

/// The handles of a cluster node (no labels; see docs/CLUSTER.md).
///
/// Obtained from `registry::cluster`; lives as long as its registry. Thread-safe, never
/// allocates or throws. The series exist (at 0) from the registry's creation.
class cluster_metrics {
 public:
  cluster_metrics(const cluster_metrics&) = delete;
  cluster_metrics& operator=(const cluster_metrics&) = delete;

  /// Sets `strata_cluster_members` (live members, this node included) and
  /// `strata_cluster_shards_owned` (shards this node acts on), after a membership round.
  void set_view(std::size_t live_members, std::size_t shards_owned) noexcept;

  /// Adds one to `strata_cluster_commands_forwarded_total` (sent to their shard's owner).
  void forwarded() noexcept;

  /// Adds one to `strata_cluster_forward_failures_total` (a forwarded command answered
  /// `unavailable` by this node: owner unreachable, connection lost or no answer in time).
  void forward_failed() noexcept;

  /// Adds one to `strata_cluster_commands_served_total` (received from another node).
  void served() noexcept;

  /// Records in `strata_cluster_forward_duration_seconds` how long a forwarded command took
  /// from its sending to the owner's answer (or this node's `unavailable`).
  void forward_done(double seconds) noexcept;

  /// Adds one to `strata_cluster_suspicions_total` (this node recorded a suspicion of a peer).
  void suspected() noexcept;

  /// Adds one to `strata_cluster_declarations_total` (this node's declaration of a peer as
  /// dead was written).
  void declared_dead() noexcept;

  /// Adds one to `strata_cluster_fenced_total` (a heartbeat of this node was refused: its
  /// epoch was declared dead or superseded, and it stopped acting on every shard).
  void fenced() noexcept;

  /// Adds one to `strata_cluster_rejoins_total` (this node, fenced after it was declared dead,
  /// joined again with a new epoch).
  void rejoined() noexcept;

  /// Adds one to `strata_cluster_handoffs_total` (a shard released to its planned owner after
  /// its commands drained and its aggregates were passivated).
  void handed_off() noexcept;

  /// Adds one to `strata_cluster_link_messages_total` and `requests` to
  /// `strata_cluster_link_requests_total`: one message of requests (forwarded commands and
  /// pings) left for a peer. Their quotient is how many requests share a message.
  void link_sent(std::size_t requests) noexcept;

 private:
  friend class registry;
  cluster_metrics() = default;

  prometheus::Gauge* members_ = nullptr;
  prometheus::Gauge* shards_owned_ = nullptr;
  prometheus::Counter* forwarded_ = nullptr;
  prometheus::Counter* forward_failures_ = nullptr;
  prometheus::Counter* served_ = nullptr;
  prometheus::Histogram* forward_duration_ = nullptr;
  prometheus::Counter* suspicions_ = nullptr;
  prometheus::Counter* declarations_ = nullptr;
  prometheus::Counter* fenced_ = nullptr;
  prometheus::Counter* rejoins_ = nullptr;
  prometheus::Counter* handoffs_ = nullptr;
  prometheus::Counter* link_messages_ = nullptr;
  prometheus::Counter* link_requests_ = nullptr;
};

/// All of strata's metric families and, once `expose` succeeded, the HTTP server serving them.
///
/// Thread-safe: every method may be called from any thread. `for_aggregate`, `for_projection`
/// and `set_mailbox_backlog` take a registry mutex to find or create their handles, so call
/// the first two once and keep the reference; the handle methods take no registry lock.
/// Non-copyable; shared by `std::shared_ptr` between the layers that report into it. Handles
/// stay valid for the registry's lifetime.
class registry {
 public:
  /// A registry with every family created (the per-label children appear on first use).
  static std::shared_ptr<registry> create();

  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// Starts serving `GET /metrics` on `options.bind_address:options.port` (port 0 picks a free
  /// one). Does nothing and succeeds when `options.enabled` is false.
  /// Errors: `unavailable` when the address cannot be bound (port in use, address not local),
  /// `invalid_argument` when this registry is already exposed or `bind_address` is empty.
  result<void> expose(const metrics_options& options);

  /// Stops the HTTP server, if any; `expose` may be called again afterwards. Returns within
  /// milliseconds (it does not wait out civetweb's two-second listener poll).
  void stop_exposing() noexcept;

  /// True while the HTTP server runs.
  bool is_exposed() const noexcept;

  /// The port the HTTP server listens on, or 0 when not exposed.
  std::uint16_t bound_port() const noexcept;

  /// Every metric in the Prometheus text exposition format (version 0.0.4), the same text a
  /// scrape of `/metrics` returns.
  std::string scrape_text() const;

  /// The handles labelled `aggregate_type=type`, created on first call. The reference is stable.
  /// REQUIRES: `type` is non-empty.
  aggregate_metrics& for_aggregate(std::string_view type);

  /// The journal writer's handles.
  journal_metrics& journal() noexcept { return journal_; }

  /// The event relay's handles.
  relay_metrics& relay() noexcept { return relay_; }

  /// A cluster node's handles.
  cluster_metrics& cluster() noexcept { return cluster_; }

  /// The handles labelled `projection=name`, created on first call. The reference is stable.
  /// REQUIRES: `name` is non-empty.
  projection_metrics& for_projection(std::string_view name);

  /// Sets `strata_mailbox_backlog_messages{actor_kind=kind}` to `messages`, for callers that can
  /// sample mailbox sizes (e.g. "aggregate", "journal_writer"). Takes the registry mutex: meant
  /// for periodic sampling, not for every message.
  void set_mailbox_backlog(std::string_view kind, std::uint64_t messages);

  /// Sets `strata_cluster_singleton_running{lease=key}` to 1 while this node runs the
  /// projection or relay under lease `key`, 0 otherwise. Takes the registry mutex: called once
  /// per lease and membership round.
  void set_singleton_running(std::string_view key, bool running);

 private:
  struct families;
  registry();

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<families> families_;
  journal_metrics journal_;
  relay_metrics relay_;
  cluster_metrics cluster_;

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<aggregate_metrics>, std::less<>> aggregates_;
  std::map<std::string, std::unique_ptr<projection_metrics>, std::less<>> projections_;
  std::map<std::string, prometheus::Gauge*, std::less<>> mailboxes_;
  std::map<std::string, prometheus::Gauge*, std::less<>> singletons_;

  mutable std::mutex exposer_mutex_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::uint16_t bound_port_ = 0;
  std::string wake_host_;  ///< Where `stop_exposing` connects to wake the listener.
};

}  // namespace strata::metrics
