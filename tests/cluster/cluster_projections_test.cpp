// Projections in a cluster run on one node at a time, under the lease "projection:<name>"
// (docs/CLUSTER.md, "Projections and the relay in a cluster"): the plan that spreads them,
// a single node refusing what cannot be shared, and three nodes as processes of their own
// (strata-cluster-host) on 127.0.0.1 against the test PostgreSQL server, one of them killed
// with SIGKILL while it runs the projection, or frozen with SIGSTOP until it is declared dead.
// Every wait is a bounded poll of a condition.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "strata/runtime/cluster_singletons.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/cluster/cluster_nodes.hpp"
#include "tests/cluster/cluster_support.hpp"
#include "tests/cluster/tally.hpp"
#include "tests/cluster/tally_log.hpp"
#include "tests/persistence/postgres_support.hpp"
#include "tests/support/wait_until.hpp"

namespace strata::cluster_testing {
namespace {

using namespace std::chrono_literals;
using persistence::testing::pg_exec;
using persistence::testing::schema_guard;
using persistence::testing::unique_schema;

TEST_CASE(
    "the planned holder of a singleton is the same on every node and moves only when it must") {
  const std::vector<std::string> three{"node-1", "node-2", "node-3"};
  std::map<std::string, int> per_node;
  for (int k = 0; k < 300; ++k) {
    const auto key = "projection:p" + std::to_string(k);
    const auto holder = detail::planned_holder(key, three);
    ++per_node[holder];
    // The order the members were read in does not matter.
    CHECK(detail::planned_holder(key, {"node-3", "node-1", "node-2"}) == holder);
    // A member leaving moves only its own keys; one joining takes keys only for itself.
    std::vector<std::string> two;
    for (const auto& m : three)
      if (m != "node-2") two.push_back(m);
    const auto without = detail::planned_holder(key, two);
    if (holder != "node-2") CHECK(without == holder);
    const auto with_fourth = detail::planned_holder(key, {"node-1", "node-2", "node-3", "node-4"});
    CHECK((with_fourth == holder || with_fourth == "node-4"));
  }
  // Spread over the members, not all on the first.
  REQUIRE(per_node.size() == 3);
  for (const auto& entry : per_node) {
    const auto& node = entry.first;  // no structured binding: doctest's message is a lambda
    const auto count = entry.second;
    CHECK_MESSAGE(count > 60, node << " plans " << count);
  }
  CHECK(detail::planned_holder("projection:p", {}).empty());
  CHECK(detail::projection_lease("orders") == "projection:orders");
}

runtime_config node_config(const std::string& conninfo, const std::string& schema) {
  runtime_config c;
  c.journal.backend = journal_backend::postgres;
  c.journal.postgres.conninfo = conninfo;
  c.journal.postgres.schema = schema;
  c.projections.backend = projections_backend::postgres;
  c.projections.postgres.conninfo = conninfo;
  c.projections.postgres.schema = schema + "_read";
  c.cluster.enabled = true;
  c.cluster.node_id = "solo";
  c.cluster.host = "127.0.0.1";
  c.cluster.tls.enabled = false;  // one node, no peers
  c.cluster.shard_count = 4;
  c.cluster.heartbeat_interval_ms = 100;
  c.cluster.suspect_timeout_ms = 1000;
  c.cluster.dead_timeout_ms = 3000;
  c.cluster.lease_duration_ms = 1000;
  return c;
}

TEST_CASE(
    "a cluster node refuses a projection on SQLite read models and a rebuild at registration, "
    "and runs a projection on shared read models under its lease") {
  STRATA_CLUSTER_SERVER(conninfo);
  const auto schema = unique_schema("cproj");
  schema_guard guard{conninfo, schema};
  schema_guard read_guard{conninfo, schema + "_read"};
  {
    auto c = node_config(conninfo, schema);
    c.projections.backend = projections_backend::sqlite;
    c.projections.path = "/tmp/" + schema + "-read.db";
    auto rt = runtime::start(c);
    REQUIRE_MESSAGE(rt, to_string(rt.err()));
    REQUIRE((*rt)->register_aggregate<tally>());
    auto refused = (*rt)->add_projection(std::make_shared<tally_log>("solo"));
    REQUIRE_FALSE(refused);
    CHECK(refused.err().code == errc::invalid_argument);
    CHECK(refused.err().message.find(lease_key) != std::string::npos);
    CHECK(refused.err().message.find("projections.backend") != std::string::npos);
    (*rt)->stop();
    std::remove(c.projections.path.c_str());
  }
  auto rt = runtime::start(node_config(conninfo, schema));
  REQUIRE_MESSAGE(rt, to_string(rt.err()));
  auto& node = **rt;
  REQUIRE(node.register_aggregate<tally>());
  auto rebuild =
      node.add_projection(std::make_shared<tally_log>("solo"), projection_start::rebuild);
  REQUIRE_FALSE(rebuild);
  CHECK(rebuild.err().code == errc::invalid_argument);
  CHECK(rebuild.err().message.find(lease_key) != std::string::npos);
  REQUIRE(node.add_projection(std::make_shared<tally_log>("solo")));
  // The only live member is planned to run it: it takes the lease and runs it.
  const bool runs = testing::wait_until(
      [&] {
        const auto s = node.cluster_status();
        return s && s->singletons == std::vector<std::string>{lease_key};
      },
      20s);
  REQUIRE(runs);
  auto r = node.send<tally>("solo-1", raise{3, "n"}).get();
  REQUIRE(r.status == command_status::accepted);
  CHECK(node.wait_for(tally_log::projection_name, r.position, 20s));
  const auto lag = node.projection_lag(tally_log::projection_name);
  REQUIRE(lag);
  CHECK(lag->position == r.position);
  const auto rows = pg_exec(conninfo, "SELECT node FROM " + schema + "_read.tally_log");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0][0].as<std::string>() == "solo");
  const auto owner =
      pg_exec(conninfo, "SELECT owner_node FROM " + schema +
                            ".cluster_named_leases WHERE name = '" + lease_key + "'");
  REQUIRE(owner.size() == 1);
  CHECK(owner[0][0].as<std::string>() == "solo");
  CHECK(node.relay_status().err().code == errc::not_found);
  node.stop();
  // Stopping released it for the others.
  const auto freed =
      pg_exec(conninfo, "SELECT owner_node IS NULL FROM " + schema +
                            ".cluster_named_leases WHERE name = '" + lease_key + "'");
  REQUIRE(freed.size() == 1);
  CHECK(freed[0][0].as<bool>());
}

TEST_CASE(
    "three nodes adding the same projection run it on exactly one node, which applies each "
    "event once, and every node waits on and reads the shared checkpoint") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster_of cluster{conninfo, {"node-1", "node-2", "node-3"}};
  auto& runner = cluster.single_runner(cluster.all());
  auto& sender = *cluster.nodes[0];
  std::uint64_t last = 0;
  for (int round = 0; round < 3; ++round) {
    std::vector<std::string> ids;
    for (int k = 0; k < 5; ++k) ids.push_back("r" + std::to_string(round * 5 + k));
    last = cluster.raise_all(sender, ids, "c" + std::to_string(round));
  }
  REQUIRE(last > 0);
  for (auto& n : cluster.nodes) {
    INFO(n->node_id);
    CHECK(n->ask(wait_line(last)) == "wait ok");
    CHECK(n->ask("lag") == "lag " + std::to_string(last));
    const bool running = n.get() == &runner;
    CHECK(n->runs_projection() == running);
    CHECK(n->ask("metric strata_cluster_singleton_running{lease=\"" + lease_key + "\"}") ==
          (running ? "metric 1" : "metric 0"));
  }
  // Exactly one node ever ran it: every row is the runner's.
  for (const auto& node : cluster.check_equals_rebuild()) CHECK(node == runner.node_id);
  const auto owner =
      pg_exec(conninfo, "SELECT owner_node FROM " + cluster.schema +
                            ".cluster_named_leases WHERE name = '" + lease_key + "'");
  REQUIRE(owner.size() == 1);
  CHECK(owner[0][0].as<std::string>() == runner.node_id);
  for (auto& n : cluster.nodes) CHECK(n->quit());
}

TEST_CASE(
    "the node running a projection, frozen until it is declared dead, joins again when woken "
    "and runs the projection again under its new epoch, and the read model equals a rebuild") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster_of cluster{conninfo, {"node-1", "node-2", "node-3"}};
  auto& holder = cluster.single_runner(cluster.all());
  std::vector<projection_node*> survivors;
  for (auto* n : cluster.all())
    if (n != &holder) survivors.push_back(n);
  auto& sender = *survivors.front();
  const auto ids = cluster.owned_by(sender, 4);
  const auto before = cluster.raise_all(sender, ids, "before");
  REQUIRE(sender.ask(wait_line(before)) == "wait ok");
  const auto first_epoch =
      pg_exec(conninfo, "SELECT owner_epoch FROM " + cluster.schema +
                            ".cluster_named_leases WHERE name = '" + lease_key + "'")[0][0]
          .as<std::uint64_t>();

  REQUIRE(holder.freeze());
  // Its lease ran out: a survivor runs the projection. That can come before the round
  // declares the frozen node dead (a woken node that was only suspected keeps its epoch and
  // does not join again), so the test waits for the declaration too.
  auto& heir = cluster.single_runner(survivors);
  const auto status_of_holder = [&] {
    const auto rows =
        pg_exec(conninfo, "SELECT status FROM " + cluster.schema +
                              ".cluster_members WHERE node_id = '" + holder.node_id + "'");
    return rows.empty() ? std::string{} : rows[0][0].as<std::string>();
  };
  REQUIRE_MESSAGE(testing::wait_until([&] { return status_of_holder() == "dead"; }, 60s),
                  "the frozen node was not declared dead within 60 s");
  const auto during = cluster.raise_all(sender, ids, "during");
  REQUIRE(sender.ask(wait_line(during)) == "wait ok");

  // Woken, it is fenced and joins again with a new epoch. The plan is by node id, so it is
  // planned to run the projection again: the heir hands it over.
  REQUIRE(holder.wake());
  const bool back =
      testing::wait_until([&] { return holder.runs_projection() && !heir.runs_projection(); }, 60s);
  REQUIRE_MESSAGE(back, "the woken node did not run the projection again within 60 s");
  const auto after = cluster.raise_all(sender, ids, "after");
  REQUIRE(after > during);
  for (auto* n : cluster.all()) CHECK(n->ask(wait_line(after)) == "wait ok");
  cluster.check_equals_rebuild();  // each event applied once
  const auto lease =
      pg_exec(conninfo, "SELECT owner_node, owner_epoch FROM " + cluster.schema +
                            ".cluster_named_leases WHERE name = '" + lease_key + "'");
  REQUIRE(lease.size() == 1);
  CHECK(lease[0][0].as<std::string>() == holder.node_id);
  CHECK(lease[0][1].as<std::uint64_t>() > first_epoch);
  for (auto* n : cluster.all()) CHECK(n->quit());
}

TEST_CASE(
    "when the node running a projection is killed mid-stream, another node takes its lease "
    "after it expired and resumes from the checkpoint, so that the read model equals a rebuild") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster_of cluster{conninfo, {"node-1", "node-2", "node-3"}};
  auto& victim = cluster.single_runner(cluster.all());
  std::vector<projection_node*> survivors;
  for (auto* n : cluster.all())
    if (n != &victim) survivors.push_back(n);
  auto& sender = *survivors.front();
  const auto ids = cluster.owned_by(sender, 6);
  const auto before = cluster.raise_all(sender, ids, "before");
  REQUIRE(sender.ask(wait_line(before)) == "wait ok");
  victim.kill_hard();
  // Events committed while nobody runs the projection wait in the journal.
  const auto during = cluster.raise_all(sender, ids, "during");
  auto& heir = cluster.single_runner(survivors);
  const auto after = cluster.raise_all(sender, ids, "after");
  REQUIRE(after > during);
  REQUIRE(during > before);
  for (auto* n : survivors) CHECK(n->ask(wait_line(after)) == "wait ok");
  const auto applied_by = cluster.check_equals_rebuild();
  // The victim applied a prefix (at least what was committed before it was killed), the heir
  // the rest: each event once, handed over at the checkpoint.
  std::size_t switched = 0;
  while (switched < applied_by.size() && applied_by[switched] == victim.node_id) ++switched;
  CHECK(switched >= before);  // a fresh journal: the row at index i has position i + 1
  for (std::size_t i = switched; i < applied_by.size(); ++i) CHECK(applied_by[i] == heir.node_id);
  const auto lease =
      pg_exec(conninfo, "SELECT owner_node, lease_epoch FROM " + cluster.schema +
                            ".cluster_named_leases WHERE name = '" + lease_key + "'");
  REQUIRE(lease.size() == 1);
  CHECK(lease[0][0].as<std::string>() == heir.node_id);
  CHECK(lease[0][1].as<std::uint64_t>() >= 2);
  for (auto* n : survivors) CHECK(n->quit());
}

TEST_CASE(
    "a node joining that the plan names takes the projection over at a planned hand-off: the "
    "old runner stops after its last batch and releases, the new one resumes from there") {
  STRATA_CLUSTER_SERVER(conninfo);
  // Ids such that the first two plan the projection on node-1, and the third is planned once
  // it joins.
  const std::string first = "node-1";
  std::string second, third;
  for (int k = 2; third.empty() && k < 200; ++k) {
    const auto id = "node-" + std::to_string(k);
    if (second.empty()) {
      if (detail::planned_holder(lease_key, {first, id}) == first) second = id;
    } else if (detail::planned_holder(lease_key, {first, second, id}) == id) {
      third = id;
    }
  }
  REQUIRE_FALSE(third.empty());
  cluster_of cluster{conninfo, {first, second}};
  auto& old_runner = cluster.single_runner(cluster.all());
  CHECK(old_runner.node_id == first);
  auto& sender = *cluster.nodes[1];
  std::vector<std::string> ids;
  for (int k = 0; k < 8; ++k) ids.push_back("h" + std::to_string(k));
  const auto applied_first = cluster.raise_all(sender, ids, "one");
  REQUIRE(sender.ask(wait_line(applied_first)) == "wait ok");
  auto& joined = cluster.start(third);
  const bool moved = testing::wait_until([&] { return joined.runs_projection(); }, 30s);
  REQUIRE(moved);
  CHECK_FALSE(old_runner.runs_projection());
  const auto last = cluster.raise_all(sender, ids, "two");
  CHECK(joined.ask(wait_line(last)) == "wait ok");
  const auto applied_by = cluster.check_equals_rebuild();
  std::size_t switched = 0;
  while (switched < applied_by.size() && applied_by[switched] == first) ++switched;
  CHECK(switched >= applied_first);
  for (std::size_t i = switched; i < applied_by.size(); ++i) CHECK(applied_by[i] == third);
  for (auto& n : cluster.nodes) CHECK(n->quit());
}

}  // namespace
}  // namespace strata::cluster_testing
