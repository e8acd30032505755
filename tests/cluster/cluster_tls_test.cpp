// TLS between cluster nodes: nodes holding certificates of the cluster's CA forward commands to
// each other over mutually authenticated TLS, and a node whose certificate another CA signed
// can neither reach them nor be reached, although it joined the membership table. Every node
// is a process of its own (strata-cluster-host) on 127.0.0.1; the certificates are made for
// each run by scripts/cluster-certs.sh with the openssl command line.

#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

/// A throwaway directory with the cluster's CA and three node certificates, and a second CA
/// that signed the certificate of `rogue`; removed at the end.
struct certificates {
  std::filesystem::path dir;

  certificates() {
    std::string pattern = (std::filesystem::temp_directory_path() / "strata-tls-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    dir = pattern;
    const std::string script = STRATA_CLUSTER_CERTS;
    const std::string d = dir.string();
    REQUIRE(std::system((script + " " + d + " cluster-ca node-1 node-2 node-3").c_str()) == 0);
    REQUIRE(std::system((script + " " + d + " other-ca rogue").c_str()) == 0);
    // The rogue trusts both CAs, so that it accepts the nodes' certificates and the refusal
    // seen is the nodes' refusal of its own.
    REQUIRE(std::system(
                ("cat " + d + "/other-ca.pem " + d + "/cluster-ca.pem > " + d + "/rogue-trust.pem")
                    .c_str()) == 0);
  }
  ~certificates() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  /// The arguments of strata-cluster-host for `node`'s certificate and key, trusting `ca`.
  /// Its timings are looser than the host's defaults: CAF drops a connection that carried no
  /// heartbeat for the suspect timeout, and a machine starved by sanitized processes (TLS
  /// handshakes included) can hold a node's network thread back for longer than one second.
  std::vector<std::string> tls_args(const std::string& node, const std::string& ca) const {
    return {"200",
            "3000",
            "6000",
            "2000",
            (dir / (node + ".pem")).string(),
            (dir / (node + ".key")).string(),
            (dir / (ca + ".pem")).string()};
  }
};

/// Raises aggregate `id` by one through `n`: the status and version of the answer
/// ("accepted 1"); the whole answer line goes to `line`, for failure messages.
std::string raise_once(node_process& n, const std::string& id, const std::string& command_id,
                       std::string* line = nullptr) {
  const auto answer = n.ask("raise " + id + " 1 " + command_id);
  if (line != nullptr) *line = answer;
  const auto a = parse_node_answer(answer);
  return a.status + " " + std::to_string(a.version);
}

/// Nodes on a fresh schema; waits until every node sees all of them live, knows every shard's
/// owner and owns some.
struct tls_cluster {
  std::string conninfo;
  std::string schema = unique_schema("ctls");
  schema_guard guard;
  schema_guard read_guard;
  std::vector<std::unique_ptr<node_process>> nodes;

  explicit tls_cluster(std::string c)
      : conninfo(std::move(c)), guard(conninfo, schema), read_guard(conninfo, schema + "_read") {}

  void start(const std::string& id, std::vector<std::string> tls) {
    nodes.push_back(std::make_unique<node_process>(conninfo, schema, id, tls));
  }

  /// Also waits until each node is connected to `peers` others: every other node by default.
  /// (A first TLS connection may outlast the connect timeout on a starved machine; a
  /// command sent then is answered `unavailable`, which is not what these cases test.) The
  /// bound is generous: with a rogue node among them, the trusted ones also spend handshakes
  /// on it that fail, and on a machine loaded by other suites 30 s was once not enough.
  void settle(std::optional<std::size_t> peers = std::nullopt) {
    const auto count = nodes.size();
    std::string seen;  // each node's last status, for the failure message
    const bool settled = testing::wait_until(
        [&] {
          seen.clear();
          bool all = true;
          for (auto& n : nodes) {
            const auto s = n->status();
            seen += " " + n->node_id + ":";
            for (auto v : {s.live, s.owned, s.routed, s.forwarded, s.served, s.peers})
              seen += " " + std::to_string(v);
            all = all && s.live == count && s.routed == 16 && s.owned > 0 &&
                  (s.peers == peers.value_or(count - 1) || n->node_id == "rogue");
          }
          return all;
        },
        90s);
    REQUIRE_MESSAGE(settled, count << " nodes did not share the 16 shards and connect to "
                                   << peers.value_or(count - 1)
                                   << " peers each within 90 s (live owned routed forwarded "
                                      "served peers:"
                                   << seen << ")");
  }

  /// An aggregate id, not used before, that `sender` sees owned by `owner`.
  std::string owned_by(node_process& sender, const std::string& owner,
                       std::set<std::string>& taken) {
    for (int k = 0; k < 1000; ++k) {
      const auto id = "s" + std::to_string(k);
      if (taken.count(id) == 0 && sender.owner(id) == owner) {
        taken.insert(id);
        return id;
      }
    }
    FAIL("no aggregate id of " << owner << " among the first 1000");
    return {};
  }

  /// How many events the journal holds for aggregate `id`.
  std::size_t events_of(const std::string& id) {
    return pg_exec(conninfo,
                   "SELECT 1 FROM " + schema + ".events WHERE aggregate_id = '" + id + "'")
        .size();
  }
};

TEST_CASE("a node does not start with TLS files that cannot work, and the error names the key") {
  certificates certs;
  const auto file = [&](const std::string& name) { return (certs.dir / name).string(); };
  std::ofstream{file("garbage.pem")} << "not a certificate\n";
  runtime_config base;
  base.journal.backend = journal_backend::postgres;
  base.journal.postgres.conninfo = "host=127.0.0.1 port=1 dbname=none connect_timeout=1";
  base.cluster.enabled = true;
  base.cluster.node_id = "node-1";
  base.cluster.tls.certificate = file("node-1.pem");
  base.cluster.tls.key = file("node-1.key");
  base.cluster.tls.ca = file("cluster-ca.pem");
  const std::vector<
      std::pair<std::string cluster_tls_config::*, std::pair<std::string, std::string>>>
      cases{
          {&cluster_tls_config::certificate,
           {file("missing.pem"), "cluster.tls.certificate: cannot read " + file("missing.pem") +
                                     ": No such file or directory"}},
          {&cluster_tls_config::certificate,
           {file("garbage.pem"), "cluster.tls.certificate: " + file("garbage.pem") +
                                     " holds no usable PEM certificate"}},
          {&cluster_tls_config::key,
           {file("node-2.key"), "cluster.tls.key: " + file("node-2.key") +
                                    " is not the private key of the certificate " +
                                    file("node-1.pem")}},
          {&cluster_tls_config::ca,
           {file("garbage.pem"),
            "cluster.tls.ca: " + file("garbage.pem") + " holds no PEM certificate"}},
          {&cluster_tls_config::ca,
           {file("other-ca.pem"), "cluster.tls.certificate: " + file("node-1.pem") +
                                      " does not verify against the CA in " +
                                      file("other-ca.pem")}},
      };
  for (const auto& [field, bad] : cases) {
    auto config = base;
    config.cluster.tls.*field = bad.first;
    auto started = runtime::start(config);
    REQUIRE_FALSE(started);
    INFO(started.err().message);
    CHECK(started.err().code == errc::invalid_argument);
    CHECK(started.err().message.rfind(bad.second, 0) == 0);
  }
  // An encrypted key needs its passphrase; with it the files pass, and the start goes on to
  // the database (which is not there).
  REQUIRE(std::system(("openssl ec -in " + file("node-1.key") +
                       " -aes256 -passout pass:secret -out " + file("locked.key") + " 2>/dev/null")
                          .c_str()) == 0);
  auto locked = base;
  locked.cluster.tls.key = file("locked.key");
  auto no_passphrase = runtime::start(locked);
  REQUIRE_FALSE(no_passphrase);
  CHECK(no_passphrase.err().message.rfind(
            "cluster.tls.key: " + file("locked.key") +
                " holds no PEM private key, or an encrypted one and no passphrase is set",
            0) == 0);
  locked.cluster.tls.passphrase = "secret";
  auto past_tls = runtime::start(locked);
  REQUIRE_FALSE(past_tls);
  INFO(past_tls.err().message);
  CHECK(past_tls.err().message.find("cluster.tls") == std::string::npos);
}

TEST_CASE(
    "three nodes with certificates of the cluster's CA forward commands to each other over "
    "TLS") {
  STRATA_CLUSTER_SERVER(conninfo);
  certificates certs;
  tls_cluster cluster{conninfo};
  for (const char* id : {"node-1", "node-2", "node-3"})
    cluster.start(id, certs.tls_args(id, "cluster-ca"));
  cluster.settle();
  std::set<std::string> taken;
  for (auto& sender : cluster.nodes) {
    for (auto& owner : cluster.nodes) {
      if (owner == sender) continue;
      const auto id = cluster.owned_by(*sender, owner->node_id, taken);
      INFO("via " << sender->node_id << " to " << id << " of " << owner->node_id);
      // Accepted the first time: the two nodes of a pair share one connection, so no
      // connection is closed as redundant under a forward.
      std::string line;
      CHECK_MESSAGE(raise_once(*sender, id, sender->node_id + "-" + id, &line) == "accepted 1",
                    line);
      CHECK(cluster.events_of(id) == 1);
    }
  }
  for (auto& n : cluster.nodes) {
    const auto s = n->status();
    // Forwarded and served: one command to and from each of the two others.
    CHECK(s.forwarded == 2);
    CHECK(s.served == 2);
  }
}

TEST_CASE(
    "a node whose certificate another CA signed cannot send commands to the cluster's nodes "
    "nor receive theirs") {
  STRATA_CLUSTER_SERVER(conninfo);
  certificates certs;
  tls_cluster cluster{conninfo};
  for (const char* id : {"node-1", "node-2", "node-3"})
    cluster.start(id, certs.tls_args(id, "cluster-ca"));
  // It has the database's address, so it joins the membership table and takes a share of the
  // shards: only TLS keeps it out of the nodes' conversation.
  cluster.start("rogue", certs.tls_args("rogue", "rogue-trust"));
  cluster.settle(2);  // the three trusted ones connect to each other, none to the rogue
  auto& rogue = *cluster.nodes.back();
  std::set<std::string> taken;
  for (std::size_t i = 0; i + 1 < cluster.nodes.size(); ++i) {
    auto& node = *cluster.nodes[i];
    // The rogue's command for an aggregate of a node: refused, and nothing applied.
    const auto theirs = cluster.owned_by(rogue, node.node_id, taken);
    INFO("rogue to " << theirs << " of " << node.node_id);
    CHECK(raise_once(rogue, theirs, "rogue-" + theirs) == "unavailable 0");
    CHECK(cluster.events_of(theirs) == 0);
    // The node's command for an aggregate of the rogue: it cannot reach it.
    const auto its = cluster.owned_by(node, "rogue", taken);
    INFO(node.node_id << " to " << its << " of the rogue");
    CHECK(raise_once(node, its, node.node_id + "-" + its) == "unavailable 0");
    CHECK(cluster.events_of(its) == 0);
    // The owner itself still serves the aggregate the rogue tried: the rogue's command was
    // never run, so this one is the first.
    CHECK(raise_once(node, theirs, node.node_id + "-" + theirs) == "accepted 1");
  }
  CHECK(rogue.status().served == 0);  // it served no one
  for (std::size_t i = 0; i + 1 < cluster.nodes.size(); ++i)
    CHECK(cluster.nodes[i]->status().served == 0);  // and no node served it
}

}  // namespace
}  // namespace strata::cluster_testing
