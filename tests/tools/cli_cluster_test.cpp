// `strata cluster` against the test PostgreSQL server: the membership and lease rows that two
// nodes wrote through the cluster's store classes, shown as tables and as JSON lines.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/runtime/temp_dir.hpp"
#include "tests/tools/cli_harness.hpp"
#if STRATA_WITH_POSTGRES
#include <boost/json/parse.hpp>

#include "strata/persistence/postgres/cluster_store.hpp"
#include "tests/persistence/postgres_support.hpp"
#endif

namespace {

using namespace strata::cli_testing;

TEST_CASE("cluster refuses an SQLite journal: a cluster lives in a PostgreSQL one") {
  strata::testing::temp_dir dir;
  const auto r = strata_cli(dir, {"--journal", dir.file("j.db"), "cluster"});
  CHECK(r.code == 2);
  CHECK(r.err.find("--pg CONNINFO") != std::string::npos);
}

#if STRATA_WITH_POSTGRES
using strata::persistence::cluster_leases;
using strata::persistence::cluster_membership;
using strata::persistence::cluster_store_options;

/// Whether one line of `text` holds every one of `parts`.
bool has_line(const std::string& text, const std::vector<std::string>& parts) {
  std::size_t at = 0;
  while (at < text.size()) {
    const auto end = text.find('\n', at);
    const auto line = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
    bool all = true;
    for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
    if (all) return true;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return false;
}

TEST_CASE("cluster shows members with their shards, every shard lease and the named leases") {
  STRATA_PG_CONNINFO(conninfo);
  const std::string schema = strata::persistence::testing::unique_schema("cli_cluster");
  strata::persistence::testing::schema_guard guard{conninfo, schema};
  strata::testing::temp_dir dir;
  const std::vector<std::string> pg{"--pg", conninfo, "--pg-schema", schema};

  auto before = strata_cli(dir, {"--pg", conninfo, "--pg-schema", schema, "cluster"});
  CHECK(before.code == 2);
  CHECK(before.err.find("holds no cluster tables") != std::string::npos);

  auto options_of = [&](const std::string& id) {
    cluster_store_options o;
    o.conninfo = conninfo;
    o.schema = schema;
    o.node_id = id;
    o.shard_count = 8;
    o.lease_duration_ms = 60000;
    return o;
  };
  auto a = cluster_membership::open(options_of("node-a"));
  auto b = cluster_membership::open(options_of("node-b"));
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE((*a)->join({"127.0.0.1", 4711}));
  REQUIRE((*b)->join({"127.0.0.1", 4712}));
  REQUIRE((*b)->join({"127.0.0.1", 4713}));  // a restart: epoch 2
  REQUIRE((*a)->heartbeat());
  REQUIRE((*b)->heartbeat());
  REQUIRE((*a)->suspect("node-b", 2));
  auto la = cluster_leases::open(options_of("node-a"), 1);
  auto lb = cluster_leases::open(options_of("node-b"), 2);
  REQUIRE(la);
  REQUIRE(lb);
  REQUIRE((*la)->acquire(strata::shard_id{0}));
  REQUIRE((*la)->acquire(strata::shard_id{1}));
  auto released = (*la)->acquire(strata::shard_id{5});
  REQUIRE(released);
  REQUIRE((*la)->release(strata::shard_id{5}, released->lease_epoch));
  REQUIRE((*lb)->acquire(strata::shard_id{2}));
  REQUIRE((*lb)->acquire("order_summary"));

  auto text = strata_cli(dir, {"--pg", conninfo, "--pg-schema", schema, "cluster"});
  INFO(text.out << text.err);
  REQUIRE(text.code == 0);
  CHECK(text.out.find("cluster in schema " + schema + ": 8 shards, 2 members") !=
        std::string::npos);
  CHECK(has_line(text.out, {"node-a", " 1 ", "alive", "127.0.0.1:4711", "s ago", " 2 "}));
  CHECK(has_line(text.out, {"node-b", " 2 ", "suspect", "127.0.0.1:4713", " 1 ", "node-a"}));
  CHECK(has_line(text.out, {"0 ", "node-a", " 1 ", " s"}));
  CHECK(has_line(text.out, {"2 ", "node-b", " 2 ", " 1 "}));
  CHECK(has_line(text.out, {"5 ", "-", "free"}));
  CHECK(has_line(text.out, {"order_summary", "node-b", " 2 ", " 1 "}));

  auto json = strata_cli(dir, {"--pg", conninfo, "--pg-schema", schema, "--json", "cluster"});
  REQUIRE(json.code == 0);
  std::size_t members = 0, shards = 0, named = 0;
  std::size_t at = 0;
  while (at < json.out.size()) {
    const auto end = json.out.find('\n', at);
    const auto v = boost::json::parse(json.out.substr(at, end - at)).as_object();
    at = end + 1;
    if (const auto* c = v.if_contains("cluster")) {
      CHECK(c->at("shardCount").as_int64() == 8);
      CHECK(c->at("schema").as_string() == schema);
    } else if (const auto* m = v.if_contains("member")) {
      ++members;
      const auto& o = m->as_object();
      if (o.at("nodeId").as_string() == "node-b") {
        CHECK(o.at("epoch").as_int64() == 2);
        CHECK(o.at("status").as_string() == "suspect");
        CHECK(o.at("port").as_int64() == 4713);
        CHECK(o.at("shards").as_int64() == 1);
        CHECK(o.at("suspectedBy").as_array().size() == 1);
      } else {
        CHECK(o.at("shards").as_int64() == 2);
        CHECK(o.at("heartbeatAgeMs").as_int64() >= 0);
      }
    } else if (const auto* s = v.if_contains("shardLease")) {
      ++shards;
      const auto& o = s->as_object();
      if (o.at("shard").as_int64() == 5) {
        CHECK(o.at("owner").is_null());
        CHECK_FALSE(o.at("held").as_bool());
      } else {
        CHECK(o.at("held").as_bool());
        CHECK(o.at("remainingMs").as_int64() > 0);
      }
    } else if (const auto* n = v.if_contains("namedLease")) {
      ++named;
      CHECK(n->as_object().at("name").as_string() == "order_summary");
      CHECK(n->as_object().at("owner").as_string() == "node-b");
      CHECK(n->as_object().at("leaseEpoch").as_int64() == 1);
    }
  }
  CHECK(members == 2);
  CHECK(shards == 4);
  CHECK(named == 1);
}
#endif

}  // namespace
