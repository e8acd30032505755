#pragma once

// What runs on one node of a cluster at a time (docs/CLUSTER.md, "Projections and the relay
// in a cluster"): each projection and the relay, under a named lease. Included only by
// runtime/runtime.cpp; no CAF.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/domain/kernel/log.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/runtime/config.hpp"

namespace strata::metrics {
class registry;
}  // namespace strata::metrics

namespace strata::detail {

/// The lease a projection runs under: "projection:" + its name.
std::string projection_lease(std::string_view projection_name);

/// The lease the RabbitMQ relay runs under.
inline constexpr std::string_view relay_lease = "relay:rabbitmq";

/// The live member that should run `key`: the highest of a hash of `key` and each member's
/// id (rendezvous hashing), so that every node computes the same owner from the same members,
/// keys spread over the members, and a member's coming or going moves only the keys it gains
/// or had. Empty when `live_members` is.
std::string planned_holder(std::string_view key, const std::vector<std::string>& live_members);

/// Something that runs on one node of the cluster at a time.
struct singleton {
  std::string key;  ///< Its lease's name.
  /// Starts running it from its checkpoint. Called on the singletons' thread.
  std::function<result<void>()> start;
  /// Stops it once the batch it handles committed; returns when it stopped. Called on the
  /// singletons' thread.
  std::function<void()> stop;
};

/// A node's singletons: a thread of its own, with its own membership and lease connections
/// (opened for the node's epoch), runs a round every `heartbeat_interval_ms`: it reads the
/// members, counts the live ones as the node's round does, and for each singleton renews the
/// lease it holds and the plan (`planned_holder`) leaves it, stops and releases one the plan
/// gives to another, and acquires (then starts) one the plan gives it. A singleton runs from a
/// successful acquire or renew until *the time of the call* + `remaining_us` − half a
/// heartbeat interval, on the monotonic clock; the thread stops it at that moment unless a
/// renewal succeeded, and at once after a failed renewal.
///
/// Thread-safety: `add`, `held` and `stop_acquiring` may be called from any thread.
class cluster_singletons {
 public:
  /// Opens the connections for this node (`cluster.node_id`) at the membership epoch
  /// `node_epoch` answers and starts the thread. `node_epoch` is called on the thread once a
  /// round: when the node joined again with a new epoch, what ran under the old one stops and
  /// the leases of the new one are used. Errors: the store's (`unavailable` when the database
  /// cannot be reached).
  static result<std::unique_ptr<cluster_singletons>> start(
      const cluster_config& cluster, const journal_config& journal,
      std::function<std::uint64_t()> node_epoch, std::shared_ptr<log_sink> log,
      std::shared_ptr<metrics::registry> m);
  ~cluster_singletons();
  cluster_singletons(const cluster_singletons&) = delete;
  cluster_singletons& operator=(const cluster_singletons&) = delete;

  /// Adds `s`; it runs here from the round on that takes its lease. REQUIRES: its key is not
  /// added yet.
  void add(singleton s);

  /// The keys of the singletons running on this node now, in the order they were added.
  std::vector<std::string> held() const;

  /// From now on no lease is acquired (the runtime is stopping); held ones are still renewed.
  void stop_acquiring();

  /// Ends the thread, stops every singleton running here and releases its lease. Idempotent.
  void stop();

  struct impl;

 private:
  explicit cluster_singletons(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace strata::detail
