#pragma once

// A runtime's part in a cluster (docs/CLUSTER.md): membership, shard leases and the routing
// of commands to their shard's owner. Included only by runtime/runtime.cpp; no CAF (the
// transport is the engine's `node_link`).

#include <any>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "strata/actors/command_result.hpp"
#include "strata/actors/engine.hpp"
#include "strata/domain/kernel/log.hpp"
#include "strata/domain/kernel/metadata.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/postgres/cluster_store.hpp"
#include "strata/runtime/config.hpp"

namespace strata::detail {

/// The membership and lease tables' options for a node: the journal's database and schema,
/// and the node's `cluster.*` settings.
inline persistence::cluster_store_options store_options(const cluster_config& cluster,
                                                        const journal_config& journal) {
  persistence::cluster_store_options o;
  o.conninfo = journal.postgres.conninfo;
  o.schema = journal.postgres.schema;
  o.node_id = cluster.node_id;
  o.shard_count = cluster.shard_count;
  o.dead_timeout_ms = cluster.dead_timeout_ms;
  o.lease_duration_ms = cluster.lease_duration_ms;
  return o;
}

/// Microseconds on the monotonic clock: what a lease holder counts its lease's end on.
inline std::int64_t steady_now_us() noexcept {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// What a node knows of the cluster at one moment.
struct cluster_view {
  std::string node_id;
  std::uint64_t epoch = 0;
  std::uint16_t port = 0;           ///< The port peers reach this node on.
  std::size_t live_members = 0;     ///< Members counted live at the last heartbeat.
  std::size_t shards_owned = 0;     ///< Shards whose lease this node holds and acts on.
  std::size_t shards_routed = 0;    ///< Shards with a known live owner (this node or a peer).
  std::uint64_t forwarded = 0;      ///< Commands sent to other nodes.
  std::uint64_t served = 0;         ///< Commands other nodes sent here.
  std::size_t peers_connected = 0;  ///< Peers with a connection to this node now.
};

/// One runtime's node: joins the membership table, publishes its endpoint, heartbeats and
/// takes, renews and hands off shard leases on a thread of its own, every
/// `heartbeat_interval_ms`, so that shards are spread evenly over the live members
/// (`plan_assignment`); routes each command to the local engine when this node holds its
/// shard's lease, to the owner over the network otherwise.
///
/// Thread-safety: `route`, `view` and `owner_of` may be called from any thread, concurrently.
class cluster_node {
 public:
  /// Opens the membership and lease tables in the journal's database, publishes the node
  /// endpoint on `engine` (started with `engine_options::network`), joins with the bound port,
  /// and starts the heartbeat thread, which takes leases from its first round on.
  /// Errors: `unavailable` when the database or the port cannot be reached or bound; the
  /// store's (`invalid_argument` for another shard count stored with the tables).
  static result<std::unique_ptr<cluster_node>> start(const cluster_config& cluster,
                                                     const journal_config& journal,
                                                     actors::engine& engine,
                                                     std::shared_ptr<log_sink> log,
                                                     std::chrono::milliseconds command_timeout);
  ~cluster_node();
  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;

  /// Sends the command to the engine when this node acts on its shard, forwards it to the
  /// shard's owner otherwise; `done` gets the owner's result, or `unavailable` when the shard
  /// has no live owner or the owner cannot be reached within the bounds.
  void route(std::string_view type, std::string&& id, std::any&& command, command_metadata&& meta,
             actors::command_callback&& done);

  /// The node id that owns aggregate `id` of `type` now ("" when none).
  std::string owner_of(std::string_view type, std::string_view id) const;

  /// What this node knows now.
  cluster_view view() const;

  /// This node's membership epoch: a new one each time it joins again after it was declared
  /// dead. Any thread.
  std::uint64_t epoch() const noexcept;

  /// Stops routing: commands are answered `unavailable` from now on. Idempotent.
  void stop_routing();

  /// Stops the heartbeat thread and leaves the cluster (its leases are freed). Call after
  /// the engine drained. Idempotent.
  void leave();

  struct impl;

 private:
  explicit cluster_node(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
  /// How the node endpoint's handler reaches this node; cleared by `leave`.
  std::shared_ptr<std::atomic<impl*>> target_;
};

}  // namespace strata::detail
