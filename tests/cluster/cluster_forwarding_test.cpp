// Three runtimes as cluster nodes, each a process of its own (strata-cluster-host) on
// 127.0.0.1, against the test PostgreSQL server: shards spread over them, and commands sent
// to any node for an aggregate another node owns are forwarded to that owner and answered
// with its result. Every wait is a bounded poll of a condition.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "strata/runtime/runtime.hpp"
#include "tests/cluster/cluster_hosts.hpp"
#include "tests/cluster/cluster_support.hpp"
#include "tests/persistence/postgres_support.hpp"
#include "tests/support/wait_until.hpp"

namespace strata::cluster_testing {
namespace {

using namespace std::chrono_literals;
using persistence::testing::pg_exec;
using persistence::testing::schema_guard;
using persistence::testing::unique_schema;

/// Starts three nodes on a fresh schema and waits until every shard has an owner that all
/// three know, and each node owns some.
struct three_nodes {
  std::string conninfo;
  std::string schema = unique_schema("cnet");
  schema_guard guard;
  schema_guard read_guard;
  std::vector<std::unique_ptr<node_process>> nodes;

  /// `registers_later`: the node started without its aggregate type (cluster_host.cpp's
  /// STRATA_CLUSTER_HOST_REGISTER=later), none when empty.
  explicit three_nodes(std::string c, const std::string& registers_later = {})
      : conninfo(std::move(c)), guard(conninfo, schema), read_guard(conninfo, schema + "_read") {
    for (const char* id : {"node-1", "node-2", "node-3"}) {
      if (id == registers_later) setenv("STRATA_CLUSTER_HOST_REGISTER", "later", 1);
      nodes.push_back(std::make_unique<node_process>(conninfo, schema, id));
      unsetenv("STRATA_CLUSTER_HOST_REGISTER");
    }
    const bool settled = testing::wait_until(
        [&] {
          std::size_t owned = 0;
          for (auto& n : nodes) {
            const auto s = n->status();
            if (s.live != 3 || s.routed != 16 || s.owned == 0) return false;
            owned += s.owned;
          }
          return owned == 16;
        },
        30s);
    REQUIRE_MESSAGE(settled, "the three nodes did not share the 16 shards within 30 s");
  }

  /// `count` aggregate ids, not in `taken`, that `sender` sees owned by `owner` (any node but
  /// the sender when empty).
  std::vector<std::string> owned_elsewhere(node_process& sender, std::size_t count,
                                           std::set<std::string>& taken,
                                           const std::string& owner = {}) {
    std::vector<std::string> ids;
    for (int k = 0; ids.size() < count && k < 1000; ++k) {
      const auto id = "t" + std::to_string(k);
      if (taken.count(id) != 0) continue;
      const auto found = sender.owner(id);
      if (found == "-" || found == sender.node_id) continue;
      if (!owner.empty() && found != owner) continue;
      taken.insert(id);
      ids.push_back(id);
    }
    REQUIRE(ids.size() == count);
    return ids;
  }
};

TEST_CASE(
    "commands sent to every node for aggregates owned elsewhere are forwarded, accepted once "
    "and answered with the owner's result") {
  STRATA_CLUSTER_SERVER(conninfo);
  three_nodes cluster{conninfo};
  std::set<std::string> taken;
  std::map<std::string, std::vector<std::string>> commands_of;  // aggregate -> command ids
  for (auto& sender : cluster.nodes) {
    // Two aggregates owned by each of the two other nodes: every node forwards and serves.
    std::vector<std::string> ids;
    for (auto& owner : cluster.nodes) {
      if (owner == sender) continue;
      for (auto& id : cluster.owned_elsewhere(*sender, 2, taken, owner->node_id))
        ids.push_back(std::move(id));
    }
    for (const auto& id : ids) {
      for (int n = 1; n <= 2; ++n) {
        const auto command_id = sender->node_id + "-" + id + "-" + std::to_string(n);
        const auto a = parse_node_answer(
            sender->ask("raise " + id + " " + std::to_string(n * 10) + " " + command_id));
        INFO("via " << sender->node_id << " to " << id << ": " << a.status << " " << a.message);
        CHECK(a.status == "accepted");
        CHECK(a.version == static_cast<std::uint64_t>(n));
        CHECK(a.events == 1);
        CHECK(a.position > 0);
        CHECK_FALSE(a.duplicate);
        commands_of[id].push_back(command_id);
      }
      // A retry of the first command, through another node than the one that sent it: the
      // owner's original outcome, nothing appended.
      auto& other = *cluster.nodes[(&sender - &cluster.nodes[0] + 1) % 3];
      const auto again = parse_node_answer(other.ask("raise " + id + " 10 " + commands_of[id][0]));
      CHECK(again.status == "accepted");
      CHECK(again.duplicate);
    }
  }
  double shards = 0;
  for (auto& n : cluster.nodes) {
    const auto s = n->status();
    CHECK(s.forwarded >= 8);  // two commands for each of its four aggregates
    CHECK(s.served >= 8);     // two commands from each of the others, for two aggregates each
    CHECK(n->metric("strata_cluster_commands_forwarded_total") == static_cast<double>(s.forwarded));
    CHECK(n->metric("strata_cluster_commands_served_total") == static_cast<double>(s.served));
    CHECK(n->metric("strata_cluster_forward_failures_total") == 0);
    // Every forwarded command left in some message to its owner, with the pings; a message
    // carries one request at least.
    const auto messages = n->metric("strata_cluster_link_messages_total");
    const auto requests = n->metric("strata_cluster_link_requests_total");
    CHECK(requests >= static_cast<double>(s.forwarded));
    CHECK(messages >= 1);
    CHECK(messages <= requests);
    CHECK(n->metric("strata_cluster_members") == 3);
    shards += n->metric("strata_cluster_shards_owned");
  }
  CHECK(shards == 16);

  // The shared journal has each event once, versions 1 and 2 of each stream, with the
  // metadata the sender gave.
  const auto rows = pg_exec(conninfo,
                            "SELECT aggregate_id, version, command_id, user_id, correlation_id "
                            "FROM " +
                                cluster.schema + ".events ORDER BY global_position");
  CHECK(rows.size() == 2 * commands_of.size());
  std::map<std::string, std::vector<std::string>> stored;
  for (const auto& row : rows) {
    const auto id = row[0].as<std::string>();
    stored[id].push_back(row[2].as<std::string>());
    CHECK(row[1].as<std::uint64_t>() == stored[id].size());
    CHECK(row[3].as<std::string>() == "user-7");
    CHECK(row[4].as<std::string>() == "corr-" + id);
  }
  CHECK(stored == commands_of);
  for (auto& n : cluster.nodes) CHECK(n->quit());
}

TEST_CASE("a rejection's code and reason come back intact through forwarding") {
  STRATA_CLUSTER_SERVER(conninfo);
  three_nodes cluster{conninfo};
  std::set<std::string> taken;
  auto& sender = *cluster.nodes[0];
  const auto id = cluster.owned_elsewhere(sender, 1, taken).front();
  const auto refused = parse_node_answer(sender.ask("raise " + id + " -5 r-1"));
  CHECK(refused.status == "rejected");
  CHECK(refused.code == "not_positive");
  CHECK(refused.message == "a tally is raised by at least 1, not -5");
  CHECK(refused.events == 0);
  CHECK(parse_node_answer(sender.ask("close " + id + " r-2")).status == "accepted");
  const auto late = parse_node_answer(sender.ask("raise " + id + " 5 r-3"));
  CHECK(late.status == "rejected");
  CHECK(late.code == "tally_closed");
  CHECK(late.message == "the tally is closed; nothing more is added");

  // The nodes share the journal's host lock; a runtime that is no cluster node is kept out.
  runtime_config plain;
  plain.journal.backend = journal_backend::postgres;
  plain.journal.postgres.conninfo = conninfo;
  plain.journal.postgres.schema = cluster.schema;
  auto outsider = runtime::start(plain);
  REQUIRE_FALSE(outsider);
  CHECK(outsider.err().code == errc::conflict);
  for (auto& n : cluster.nodes) CHECK(n->quit());
}

TEST_CASE(
    "a command forwarded to an owner whose host has not registered its type yet is answered "
    "unavailable, and applied once after the owner registered it") {
  STRATA_CLUSTER_SERVER(conninfo);
  three_nodes cluster{conninfo, "node-3"};
  std::set<std::string> taken;
  auto& sender = *cluster.nodes[0];
  auto& late = *cluster.nodes[2];
  const auto id = cluster.owned_elsewhere(sender, 1, taken, late.node_id).front();
  const auto early = parse_node_answer(sender.ask("raise " + id + " 3 u-1"));
  CHECK(early.status == "unavailable");
  CHECK(early.message.find("aggregate type 'Tally' is not registered on node node-3") !=
        std::string::npos);
  CHECK(early.message.find("retry with the same command id") != std::string::npos);
  CHECK(early.events == 0);
  // Its own clients are told the type is unknown there: a command of theirs names no type
  // their runtime has.
  const auto local = parse_node_answer(late.ask("raise " + id + " 3 u-0"));
  CHECK(local.status == "failed");
  CHECK(local.message == "aggregate type 'Tally' is not registered");

  CHECK(late.ask("register") == "register ok");
  // Retried as a client would: the same command id until accepted (a shard moving meanwhile
  // would answer unavailable again; the cluster is settled, so the first retry is expected).
  node_answer retried;
  const bool accepted = testing::wait_until(
      [&] {
        retried = parse_node_answer(sender.ask("raise " + id + " 3 u-1"));
        return retried.status != "unavailable";
      },
      30s);
  REQUIRE_MESSAGE(accepted, retried.status << " " << retried.message);
  CHECK(retried.status == "accepted");
  CHECK(retried.version == 1);
  CHECK_FALSE(retried.duplicate);
  const auto rows = pg_exec(conninfo, "SELECT command_id FROM " + cluster.schema +
                                          ".events WHERE aggregate_id = '" + id + "'");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0][0].as<std::string>() == "u-1");
  for (auto& n : cluster.nodes) CHECK(n->quit());
}

TEST_CASE(
    "a command for a killed node's shard is answered unavailable within a bound, and accepted "
    "once its lease ran out and a survivor took the shard") {
  STRATA_CLUSTER_SERVER(conninfo);
  three_nodes cluster{conninfo};
  auto& sender = *cluster.nodes[0];
  auto& victim = *cluster.nodes[2];
  std::string id;
  for (int k = 0; id.empty() && k < 1000; ++k)
    if (sender.owner("k" + std::to_string(k)) == victim.node_id) id = "k" + std::to_string(k);
  REQUIRE_FALSE(id.empty());
  CHECK(parse_node_answer(sender.ask("raise " + id + " 1 k-1")).status == "accepted");
  victim.kill_hard();

  const auto started = std::chrono::steady_clock::now();
  const auto lost = parse_node_answer(sender.ask("raise " + id + " 2 k-2"));
  CHECK(std::chrono::steady_clock::now() - started < 10s);  // connect or request timeout
  CHECK(lost.status == "unavailable");

  // The victim's heartbeat ages past the dead timeout (3 s): the survivors plan its shards
  // among themselves and take them once its lease ran out. The retry, same command id, is
  // applied once, on top of version 1.
  node_answer retried;
  const bool accepted = testing::wait_until(
      [&] {
        retried = parse_node_answer(sender.ask("raise " + id + " 2 k-2"));
        return retried.status == "accepted";
      },
      30s);
  REQUIRE_MESSAGE(accepted, retried.status << " " << retried.message);
  CHECK(retried.version == 2);
  const auto rows = pg_exec(conninfo, "SELECT version FROM " + cluster.schema +
                                          ".events WHERE aggregate_id = '" + id + "'");
  CHECK(rows.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) CHECK(cluster.nodes[i]->quit());
}

}  // namespace
}  // namespace strata::cluster_testing
