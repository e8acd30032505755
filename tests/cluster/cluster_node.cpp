// A cluster node as a process of its own, for the kill -9 case of cluster_store_test.cpp:
//   strata-cluster-node <conninfo> <schema> <node id> <shard>
// joins, heartbeats, tries to take the shard's lease, prints "ready <epoch> <lease epoch>"
// ("-" when the lease is held by another) and then heartbeats and renews every 50 ms until it
// is killed or fenced (exit code 3).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "strata/persistence/postgres/cluster_store.hpp"

using namespace strata;
using namespace strata::persistence;

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: strata-cluster-node <conninfo> <schema> <node id> <shard>\n");
    return 2;
  }
  cluster_store_options options;
  options.conninfo = argv[1];
  options.schema = argv[2];
  options.node_id = argv[3];
  options.shard_count = 16;
  options.dead_timeout_ms = 1500;
  options.lease_duration_ms = 400;
  const shard_id shard{static_cast<std::uint32_t>(std::strtoul(argv[4], nullptr, 10))};

  auto membership = cluster_membership::open(options);
  if (!membership) {
    std::fprintf(stderr, "%s\n", to_string(membership.err()).c_str());
    return 1;
  }
  auto joined = (*membership)->join({"127.0.0.1", 4100});
  if (!joined || !(*membership)->heartbeat()) return 1;
  auto leases = cluster_leases::open(options, joined->epoch);
  if (!leases) return 1;
  auto held = (*leases)->acquire(shard);
  std::printf("ready %llu %s\n", static_cast<unsigned long long>(joined->epoch),
              held ? std::to_string(held->lease_epoch).c_str() : "-");
  std::fflush(stdout);
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the node's own cadence
    if (auto beat = (*membership)->heartbeat(); !beat) return 3;
    if (held)
      if (auto renewed = (*leases)->renew(shard, held->lease_epoch); !renewed) return 3;
  }
}
