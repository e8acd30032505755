#pragma once

// Cluster nodes as processes of their own (strata-cluster-host), for the cases of projections
// and the relay under their leases: started on a fresh schema, driven line by line, and the
// checks that a read model equals a rebuild from the journal.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/cluster/cluster_hosts.hpp"
#include "tests/cluster/cluster_support.hpp"
#include "tests/persistence/postgres_support.hpp"
#include "tests/support/wait_until.hpp"

namespace strata::cluster_testing {

using namespace std::chrono_literals;
using persistence::testing::pg_exec;
using persistence::testing::schema_guard;
using persistence::testing::unique_schema;

inline const std::string lease_key = "projection:tally_log";

/// A node process (cluster_hosts.hpp) with what the projection cases ask of it.
struct projection_node : node_process {
  projection_node(const std::string& conninfo, const std::string& schema, std::string id)
      : node_process(conninfo, schema, std::move(id)) {}

  std::size_t live_members() { return status().live; }

  bool runs_projection() { return ask("singletons") == "singletons " + lease_key; }

  /// Whether this node runs the singleton under lease `key` now.
  bool runs(const std::string& key) {
    std::istringstream in{ask("singletons")};
    std::string word;
    in >> word;
    while (in >> word)
      if (word == key) return true;
    return false;
  }

  /// The position `raise` of aggregate `id` committed at (0 when it was not accepted within
  /// the bound). A shard moving meanwhile answers `unavailable`: the same command id is sent
  /// again, which is applied once.
  std::uint64_t raise(const std::string& id, const std::string& command_id) {
    std::uint64_t position = 0;
    testing::wait_until(
        [&] {
          const auto a = command("raise " + id + " 1 " + command_id);
          position = a.position;
          return a.status == "accepted";
        },
        30s);
    return position;
  }
};

/// Nodes on a fresh schema, each adding tally_log once all are live.
struct cluster_of {
  std::string conninfo;
  std::string schema = unique_schema("cproj");
  schema_guard guard;
  schema_guard read_guard;
  std::vector<std::unique_ptr<projection_node>> nodes;
  bool project = true;

  /// Starts nodes `ids`; each adds tally_log when `project`.
  cluster_of(std::string c, const std::vector<std::string>& ids, bool with_projection = true)
      : conninfo(std::move(c)),
        guard(conninfo, schema),
        read_guard(conninfo, schema + "_read"),
        project(with_projection) {
    for (const auto& id : ids) start(id);
  }

  projection_node& start(const std::string& id) {
    nodes.push_back(std::make_unique<projection_node>(conninfo, schema, id));
    auto& n = *nodes.back();
    const auto count = nodes.size();
    const bool live = testing::wait_until(
        [&] {
          for (auto& other : nodes)
            if (other->live_members() != count) return false;
          return true;
        },
        30s);
    REQUIRE_MESSAGE(live, "the " << count << " nodes did not see each other within 30 s");
    if (project) REQUIRE(n.ask("project") == "project ok");
    return n;
  }

  /// The nodes running the projection now.
  std::vector<projection_node*> runners(const std::vector<projection_node*>& among) {
    std::vector<projection_node*> out;
    for (auto* n : among)
      if (n->runs_projection()) out.push_back(n);
    return out;
  }
  std::vector<projection_node*> all() {
    std::vector<projection_node*> out;
    for (auto& n : nodes) out.push_back(n.get());
    return out;
  }

  /// Waits until exactly one of `among` runs the projection; that node.
  projection_node& single_runner(const std::vector<projection_node*>& among) {
    projection_node* found = nullptr;
    const bool one = testing::wait_until(
        [&] {
          auto r = runners(among);
          found = r.size() == 1 ? r.front() : nullptr;
          return found != nullptr;
        },
        30s);
    REQUIRE_MESSAGE(one, "no single node runs " << lease_key << " within 30 s");
    return *found;
  }

  /// Ids of aggregates whose shard `n` owns: their commands commit whatever other node dies.
  std::vector<std::string> owned_by(projection_node& n, std::size_t count) {
    std::vector<std::string> ids;
    for (int k = 0; ids.size() < count && k < 1000; ++k) {
      const auto id = "a" + std::to_string(k);
      if (n.ask("owner " + id) == "owner " + n.node_id) ids.push_back(id);
    }
    REQUIRE(ids.size() == count);
    return ids;
  }

  /// Raises each of `ids` once through `n`; the last committed position.
  std::uint64_t raise_all(projection_node& n, const std::vector<std::string>& ids,
                          const std::string& tag) {
    std::uint64_t last = 0;
    for (const auto& id : ids) {
      const auto position = n.raise(id, tag + "-" + id);
      CHECK_MESSAGE(position > 0, "raise " << id << " through " << n.node_id);
      last = std::max(last, position);
    }
    return last;
  }

  /// The read model as a fresh rebuild from the journal would make it: one row per record,
  /// each exactly once, nothing parked, and the checkpoint at the journal's last position.
  /// Returns the node of each row, in position order.
  std::vector<std::string> check_equals_rebuild() {
    const auto journal = pg_exec(conninfo, "SELECT global_position, aggregate_id FROM " + schema +
                                               ".events ORDER BY global_position");
    const auto model = pg_exec(conninfo, "SELECT position, aggregate_id, node FROM " + schema +
                                             "_read.tally_log ORDER BY position");
    REQUIRE(model.size() == journal.size());
    std::vector<std::string> applied_by;
    for (std::size_t i = 0; i < journal.size(); ++i) {
      CHECK(model[i][0].as<std::uint64_t>() == journal[i][0].as<std::uint64_t>());
      CHECK(model[i][1].as<std::string>() == journal[i][1].as<std::string>());
      applied_by.push_back(model[i][2].as<std::string>());
    }
    const auto parked =
        pg_exec(conninfo, "SELECT count(*) FROM " + schema + "_read.projection_dead_letters");
    CHECK(parked[0][0].as<std::int64_t>() == 0);
    const auto cp = pg_exec(conninfo, "SELECT position FROM " + schema +
                                          "_read.projection_checkpoints WHERE name = 'tally_log'");
    REQUIRE(cp.size() == 1);
    CHECK(cp[0][0].as<std::uint64_t>() == journal[journal.size() - 1][0].as<std::uint64_t>());
    return applied_by;
  }
};

inline std::string wait_line(std::uint64_t position) {
  return "wait " + std::to_string(position) + " 30000";
}

}  // namespace strata::cluster_testing
