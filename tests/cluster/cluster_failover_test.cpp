// Failover and rebalancing of a cluster of runtimes, each a process of its own
// (strata-cluster-host) on 127.0.0.1 against the test PostgreSQL server, with short timings:
// a frozen owner is declared dead, fenced and joins again, a killed node's shards are taken
// over under load with every acknowledged command stored once, a joining node takes its share
// by drained hand-offs, and the table shows the round's suspicion before its declaration.
// Every wait is a bounded poll of a condition.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "strata/persistence/cluster.hpp"
#include "tests/cluster/cluster_hosts.hpp"
#include "tests/persistence/postgres_support.hpp"
#include "tests/support/wait_until.hpp"

namespace strata::cluster_testing {
namespace {

using namespace std::chrono_literals;
using persistence::testing::pg_exec;
using persistence::testing::schema_guard;
using persistence::testing::unique_schema;

constexpr std::uint32_t shard_count = 16;  // as strata-cluster-host

std::uint32_t shard_of_tally(const std::string& id) {
  return shard_of("Tally", id, shard_count);
}

/// Nodes on a fresh schema; `settle` waits until the running ones share the 16 shards.
struct cluster {
  std::string conninfo;
  std::string schema = unique_schema("cfail");
  schema_guard guard;
  schema_guard read_guard;
  node_timings timings;
  std::vector<std::unique_ptr<node_process>> nodes;

  cluster(std::string c, std::size_t count)
      : conninfo(std::move(c)), guard(conninfo, schema), read_guard(conninfo, schema + "_read") {
    signal(SIGPIPE, SIG_IGN);  // a line written to a killed node must not end the test
    for (std::size_t i = 0; i < count; ++i) add();
    settle();
  }

  node_process& add() {
    nodes.push_back(std::make_unique<node_process>(
        conninfo, schema, "node-" + std::to_string(nodes.size() + 1), timings.args()));
    return *nodes.back();
  }

  /// Waits until every running node counts the running nodes live, knows all 16 owners and
  /// owns its share (16 / n, rounded either way).
  void settle() {
    std::size_t running = 0;
    for (auto& n : nodes) running += n->gone() ? 0 : 1;
    const bool settled = testing::wait_until(
        [&] {
          std::size_t owned = 0;
          for (auto& n : nodes) {
            if (n->gone()) continue;
            const auto s = n->status();
            if (s.live != running || s.routed != shard_count || s.owned < shard_count / running ||
                s.owned > (shard_count + running - 1) / running)
              return false;
            owned += s.owned;
          }
          return owned == shard_count;
        },
        60s);
    REQUIRE_MESSAGE(settled, running << " nodes did not share the 16 shards within 60 s");
  }

  /// An aggregate id (prefix + number) that `asked` sees owned by `owner`.
  std::string owned_by(node_process& asked, const std::string& owner, const std::string& prefix) {
    for (int k = 0; k < 2000; ++k) {
      const auto id = prefix + std::to_string(k);
      if (asked.owner(id) == owner) return id;
    }
    FAIL("no aggregate owned by " << owner);
    return {};
  }

  std::string member_status(const std::string& node_id) {
    const auto rows = pg_exec(conninfo, "SELECT status FROM " + schema +
                                            ".cluster_members WHERE node_id = '" + node_id + "'");
    return rows.empty() ? std::string{} : rows[0][0].as<std::string>();
  }

  std::uint64_t member_epoch(const std::string& node_id) {
    const auto rows = pg_exec(conninfo, "SELECT epoch FROM " + schema +
                                            ".cluster_members WHERE node_id = '" + node_id + "'");
    return rows.empty() ? 0 : rows[0][0].as<std::uint64_t>();
  }

  std::uint64_t lease_epoch(std::uint32_t shard) {
    const auto rows =
        pg_exec(conninfo, "SELECT lease_epoch FROM " + schema +
                              ".cluster_shard_leases WHERE shard = " + std::to_string(shard));
    return rows.empty() ? 0 : rows[0][0].as<std::uint64_t>();
  }

  /// Sends the command through `via` until it is accepted (a retry keeps its command id), for
  /// at most `bound`; the last answer.
  node_answer until_accepted(node_process& via, const std::string& line,
                             std::chrono::milliseconds bound = 60s) {
    node_answer a;
    testing::wait_until(
        [&] {
          a = via.command(line);
          return a.status == "accepted";
        },
        bound);
    return a;
  }

  /// The journal, checked directly: no stream version twice, no gap, no command id twice;
  /// the command ids stored (command id -> stream and version).
  std::map<std::string, std::pair<std::string, std::uint64_t>> check_journal() {
    const auto twice = pg_exec(conninfo, "SELECT stream_key, version, count(*) FROM " + schema +
                                             ".events GROUP BY 1, 2 HAVING count(*) > 1");
    CHECK_MESSAGE(twice.empty(), "a stream version was written twice");
    const auto rows = pg_exec(conninfo, "SELECT aggregate_id, version, command_id FROM " + schema +
                                            ".events ORDER BY aggregate_id, version");
    std::map<std::string, std::pair<std::string, std::uint64_t>> commands;
    std::map<std::string, std::uint64_t> last;
    for (const auto& row : rows) {
      const auto id = row[0].as<std::string>();
      const auto version = row[1].as<std::uint64_t>();
      const auto command_id = row[2].as<std::string>();
      CHECK_MESSAGE(version == last[id] + 1, id << ": v" << version << " after v" << last[id]);
      last[id] = version;
      CHECK_MESSAGE(commands.emplace(command_id, std::make_pair(id, version)).second,
                    "command " << command_id << " stored twice");
    }
    return commands;
  }
};

/// Client threads, each sending raise commands with command ids of its own to its own
/// aggregates, through every live node in turn; a command answered `unavailable`, `timeout`
/// or by a node that ended is retried with the same command id through the next node.
struct load {
  cluster& c;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> acknowledged{0};
  std::atomic<std::size_t> refused{0};  ///< Answers that were retried.
  std::mutex mutex;
  std::map<std::string, std::string> acks;     ///< command id -> aggregate id, under mutex.
  std::vector<std::string> failures;           ///< Unexpected answers, under mutex.
  std::map<std::string, std::size_t> retried;  ///< Retried answers by status, under mutex.
  std::condition_variable paused;
  std::vector<node_process*> targets;  ///< The nodes sent to, under mutex.
  std::vector<std::thread> threads;

  load(cluster& cl, std::size_t clients) : c(cl) {
    for (auto& n : c.nodes) targets.push_back(n.get());
    for (std::size_t t = 0; t < clients; ++t) threads.emplace_back([this, t] { run(t); });
  }

  /// Sends through `n` too, from now on.
  void include(node_process& n) {
    std::lock_guard<std::mutex> lock{mutex};
    targets.push_back(&n);
  }

  node_process& next(std::size_t& turn) {
    std::lock_guard<std::mutex> lock{mutex};
    return *targets[turn++ % targets.size()];
  }
  ~load() { finish(); }

  void finish() {
    {
      std::lock_guard<std::mutex> lock{mutex};
      stopping.store(true);
    }
    paused.notify_all();
    for (auto& t : threads)
      if (t.joinable()) t.join();
  }

  void run(std::size_t t) {
    std::size_t turn = t;
    for (std::size_t n = 0; !stopping.load(); ++n) {
      const auto id = "L" + std::to_string(t) + "x" + std::to_string(n % 4);
      const auto command_id = "c" + std::to_string(t) + "-" + std::to_string(n);
      const auto line = "raise " + id + " 1 " + command_id;
      // Retried until accepted, for at most a minute (a failover takes a few seconds).
      const auto deadline = std::chrono::steady_clock::now() + 60s;
      bool done = false;
      while (!done && std::chrono::steady_clock::now() < deadline) {
        auto& via = next(turn);
        if (via.gone()) continue;
        const auto a = via.command(line);
        if (a.status == "ended" && !via.gone()) {  // a line that is no answer: out of step
          std::lock_guard<std::mutex> lock{mutex};
          failures.push_back(via.node_id + " answered " + command_id + " with: " + a.message);
          return;
        }
        if (a.status == "accepted") {
          std::lock_guard<std::mutex> lock{mutex};
          acks.emplace(command_id, id);
          acknowledged.fetch_add(1);
          done = true;
        } else if (a.status == "unavailable" || a.status == "timeout" || a.status == "ended") {
          {
            std::lock_guard<std::mutex> lock{mutex};
            ++retried[a.status];
          }
          // A client's retry backoff (not a synchronisation: the retry's answer decides).
          if (refused.fetch_add(1) % 4 == 0) backoff();
        } else {
          std::lock_guard<std::mutex> lock{mutex};
          failures.push_back(command_id + ": " + a.status + " " + a.message);
          done = true;
        }
      }
    }
  }

  void backoff() {
    std::unique_lock<std::mutex> lock{mutex};
    paused.wait_for(lock, 10ms, [&] { return stopping.load(); });
  }

  /// How many commands were acknowledged and which answers were retried.
  std::string summary() {
    std::lock_guard<std::mutex> lock{mutex};
    std::string out = std::to_string(acks.size()) + " commands acknowledged; retried:";
    for (const auto& [status, count] : retried) out += " " + status + " " + std::to_string(count);
    return out;
  }

  /// Waits until `more` commands were acknowledged after now.
  bool wait_for_more(std::size_t more, std::chrono::milliseconds bound = 60s) {
    const auto target = acknowledged.load() + more;
    return testing::wait_until([&] { return acknowledged.load() >= target; }, bound);
  }
};

/// Every acknowledged command is in the journal exactly once, on its own aggregate.
void check_acknowledged(cluster& c, load& l) {
  const auto stored = c.check_journal();
  CHECK(l.failures.empty());
  for (const auto& f : l.failures) MESSAGE(f);
  std::size_t missing = 0;
  for (const auto& [command_id, id] : l.acks) {
    auto it = stored.find(command_id);
    if (it == stored.end() || it->second.first != id) ++missing;
  }
  CHECK_MESSAGE(missing == 0, missing << " acknowledged commands are not in the journal");
}

TEST_CASE(
    "a frozen owner is declared dead and fenced: survivors take its shards at a higher lease "
    "epoch, and once woken it applies nothing under its old epoch and joins again with a new "
    "one") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster c{conninfo, 3};
  auto& sender = *c.nodes[0];
  auto& frozen = *c.nodes[2];
  const auto id = c.owned_by(sender, frozen.node_id, "f");
  const auto shard = shard_of_tally(id);
  CHECK(c.until_accepted(sender, "raise " + id + " 1 f-1").version == 1);
  const auto epoch_before = c.lease_epoch(shard);
  REQUIRE(epoch_before > 0);
  const auto member_epoch_before = c.member_epoch(frozen.node_id);
  REQUIRE(member_epoch_before > 0);

  REQUIRE(frozen.freeze());
  // Past its lease and the dead timeout: the survivors suspect it, declare it dead and take
  // its shards once its leases ran out.
  CHECK(testing::wait_until([&] { return c.member_status(frozen.node_id) == "dead"; }, 60s));
  const auto taken = c.until_accepted(sender, "raise " + id + " 2 f-2");
  CHECK(taken.status == "accepted");
  CHECK(taken.version == 2);
  CHECK(c.lease_epoch(shard) > epoch_before);
  const auto new_owner = sender.owner(id);
  CHECK(new_owner != frozen.node_id);
  CHECK(new_owner != "-");

  // Woken: its heartbeat is refused as fenced, it stops acting on every shard, and, its epoch
  // having been declared dead (not superseded), it joins again with a new epoch.
  REQUIRE(frozen.wake());
  CHECK(
      testing::wait_until([&] { return frozen.metric("strata_cluster_fenced_total") >= 1; }, 30s));
  CHECK(
      testing::wait_until([&] { return frozen.metric("strata_cluster_rejoins_total") >= 1; }, 30s));
  CHECK(c.member_epoch(frozen.node_id) > member_epoch_before);
  CHECK(testing::wait_until([&] { return c.member_status(frozen.node_id) == "alive"; }, 30s));
  // Like any joining member it takes its planned share of the shards, handed over by their
  // owners.
  CHECK(testing::wait_until([&] { return frozen.status().owned > 0; }, 60s));

  // A command sent to it for that aggregate is applied once, by whoever owns it now, or
  // refused while its shard is in transit.
  const auto late = frozen.command("raise " + id + " 3 f-3");
  MESSAGE("a command sent to the node that joined again: " << late.status << " " << late.message);
  CHECK((late.status == "accepted" || late.status == "unavailable"));
  if (late.status == "accepted") CHECK(late.version == 3);
  const auto stored = c.check_journal();
  CHECK(stored.count("f-1") == 1);
  CHECK(stored.count("f-2") == 1);
  // Accepted: stored once. Refused: at most once (a forward that failed may have been applied).
  if (late.status == "accepted") CHECK(stored.count("f-3") == 1);
  CHECK(stored.count("f-3") <= 1);
  CHECK(c.nodes[0]->metric("strata_cluster_declarations_total") +
            c.nodes[1]->metric("strata_cluster_declarations_total") ==
        1);
  for (std::size_t i = 0; i < 3; ++i) CHECK(c.nodes[i]->quit());
}

TEST_CASE(
    "a node killed under load loses no acknowledged command, and its aggregates take commands "
    "again within the failover bound") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster c{conninfo, 3};
  auto& victim = *c.nodes[2];
  const auto id = c.owned_by(*c.nodes[0], victim.node_id, "k");
  {
    load l{c, 4};
    REQUIRE(l.wait_for_more(40));
    victim.kill_hard();
    const auto killed = std::chrono::steady_clock::now();
    const auto a = c.until_accepted(*c.nodes[0], "raise " + id + " 1 k-1");
    const auto failover = std::chrono::steady_clock::now() - killed;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(failover).count();
    // max(dead timeout, lease) + two heartbeat intervals and a half (docs/CLUSTER.md), with
    // room for a loaded machine.
    const auto t = c.timings;
    const auto bound = std::max(t.dead_ms, t.lease_ms) + 5 * t.heartbeat_ms / 2;
    MESSAGE("failover of a killed node's aggregate: " << ms << " ms (bound " << bound
                                                      << " ms on an idle machine)");
    CHECK(a.status == "accepted");
    CHECK(ms < bound + 10000);
    REQUIRE(l.wait_for_more(40));
    l.finish();
    MESSAGE(l.summary());
    check_acknowledged(c, l);
  }
  for (std::size_t i = 0; i < 2; ++i) CHECK(c.nodes[i]->quit());
}

TEST_CASE(
    "a fourth node joining a running cluster takes its share by drained hand-offs while "
    "commands are accepted, none applied twice") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster c{conninfo, 3};
  double handoffs_before = 0;
  for (auto& n : c.nodes) handoffs_before += n->metric("strata_cluster_handoffs_total");
  {
    load l{c, 4};
    REQUIRE(l.wait_for_more(20));
    l.include(c.add());
    c.settle();  // 4 each
    for (auto& n : c.nodes) CHECK(n->status().owned == 4);
    REQUIRE(l.wait_for_more(40));
    l.finish();
    MESSAGE(l.summary());
    check_acknowledged(c, l);
  }
  // 6/5/5 became 4/4/4/4: (at least, should a slow round have changed a plan for a while) four
  // shards changed hands, each released after it drained.
  double handoffs = 0;
  for (auto& n : c.nodes) handoffs += n->metric("strata_cluster_handoffs_total");
  MESSAGE((handoffs - handoffs_before) << " hand-offs");
  CHECK(handoffs - handoffs_before >= 4);
  for (auto& n : c.nodes) CHECK(n->quit());
}

TEST_CASE("the round suspects a killed node before it declares it dead, as the table shows") {
  STRATA_CLUSTER_SERVER(conninfo);
  cluster c{conninfo, 3};
  auto& victim = *c.nodes[2];
  victim.kill_hard();
  std::vector<std::string> seen;
  const bool dead = testing::wait_until(
      [&] {
        const auto s = c.member_status(victim.node_id);
        if (seen.empty() || seen.back() != s) seen.push_back(s);
        return s == "dead";
      },
      60s);
  REQUIRE(dead);
  std::string order;
  for (const auto& s : seen) order += s + " ";
  INFO("statuses seen: " << order);
  CHECK(seen.front() != "dead");
  CHECK(std::find(seen.begin(), seen.end(), "suspect") <
        std::find(seen.begin(), seen.end(), "dead"));
  const auto suspicions = pg_exec(conninfo, "SELECT DISTINCT suspected_by FROM " + c.schema +
                                                ".cluster_suspicions WHERE node_id = 'node-3'");
  CHECK(suspicions.size() == 2);  // both survivors: more than half of the live voters
  double declarations = 0;
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(c.nodes[i]->metric("strata_cluster_suspicions_total") >= 1);
    declarations += c.nodes[i]->metric("strata_cluster_declarations_total");
  }
  CHECK(declarations == 1);  // one declaration wins; the other sees the row moved on
  // The survivors share the 16 shards.
  c.settle();
  for (std::size_t i = 0; i < 2; ++i) CHECK(c.nodes[i]->quit());
}

}  // namespace
}  // namespace strata::cluster_testing
