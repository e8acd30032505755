// The relay in a cluster runs on one node at a time, under the lease "relay:rabbitmq"
// (docs/CLUSTER.md, "Projections and the relay in a cluster"): three strata-cluster-host
// processes against the test PostgreSQL server and the test broker
// (scripts/rabbitmq-test-server.sh); its runner is killed with SIGKILL mid-stream.

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/cluster/cluster_nodes.hpp"
#include "tests/relay/support.hpp"

namespace strata::cluster_testing {
namespace {

const std::string relay_key = "relay:rabbitmq";

/// The node of `among` running the relay, once exactly one does.
projection_node& relay_runner(const std::vector<projection_node*>& among) {
  projection_node* found = nullptr;
  const bool one = testing::wait_until(
      [&] {
        std::vector<projection_node*> runners;
        for (auto* n : among)
          if (n->runs(relay_key)) runners.push_back(n);
        found = runners.size() == 1 ? runners.front() : nullptr;
        return found != nullptr;
      },
      30s);
  REQUIRE_MESSAGE(one, "no single node runs " << relay_key << " within 30 s");
  return *found;
}

TEST_CASE(
    "the relay runs on exactly one node of three, and after that node is killed mid-stream "
    "another takes its lease and publishes every event from the shared checkpoint") {
  STRATA_CLUSTER_SERVER(conninfo);
  const auto url = testing::test_amqp_url();
  if (!url) {
    MESSAGE("skipped: STRATA_TEST_AMQP_URL is not set (scripts/rabbitmq-test-server.sh)");
    return;
  }
  const auto exchange = testing::unique_name("strata.cluster.test");
  testing::test_consumer consumer{*url, exchange};
  REQUIRE(consumer.connect());
  setenv("STRATA_CLUSTER_RELAY_URL", url->c_str(), 1);
  setenv("STRATA_CLUSTER_RELAY_EXCHANGE", exchange.c_str(), 1);
  cluster_of cluster{conninfo, {"node-1", "node-2", "node-3"}, false};
  auto& victim = relay_runner(cluster.all());
  std::vector<projection_node*> survivors;
  for (auto* n : cluster.all())
    if (n != &victim) survivors.push_back(n);
  auto& sender = *survivors.front();
  for (auto* n : survivors) CHECK(n->ask("relay").rfind("relay - unavailable", 0) == 0);

  const auto ids = cluster.owned_by(sender, 5);
  const auto before = cluster.raise_all(sender, ids, "before");
  // Every event so far reaches the broker once, published by the relay's one node.
  REQUIRE(consumer.receive_until([&](const auto& got) { return got.size() >= before; }));
  CHECK(consumer.received().size() == before);
  victim.kill_hard();
  const auto during = cluster.raise_all(sender, ids, "during");
  auto& heir = relay_runner(survivors);
  const auto after = cluster.raise_all(sender, ids, "after");
  REQUIRE(after > during);
  REQUIRE(during > before);
  // Each position at least once; one published again only if the victim died between the
  // broker's confirm and its checkpoint (at-least-once, docs/RELAY.md).
  std::map<std::int64_t, int> seen;
  REQUIRE(consumer.receive_until([&](const auto& got) {
    seen.clear();
    for (const auto& m : got) ++seen[testing::int_header(m, "global_position")];
    return seen.size() == after;
  }));
  for (std::uint64_t p = 1; p <= after; ++p) CHECK(seen.count(static_cast<std::int64_t>(p)) == 1);
  for (const auto& [position, times] : seen)
    if (position > static_cast<std::int64_t>(before)) CHECK(times == 1);
  const bool confirmed = testing::wait_until(
      [&] { return heir.ask("relay") == "relay " + std::to_string(after); }, 30s);
  CHECK(confirmed);
  for (auto* n : survivors) CHECK(n->quit());
}

}  // namespace
}  // namespace strata::cluster_testing
