// cluster: the membership and lease tables of a cluster on a PostgreSQL journal
// (docs/CLUSTER.md), read in one snapshot without writing: the members, the shards each
// holds, every shard lease and every named lease.

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "strata/cli/command_support.hpp"
#include "strata/cli/operations.hpp"
#include "strata/runtime/config.hpp"
#if STRATA_WITH_POSTGRES
#include "strata/persistence/postgres/cluster_store.hpp"
#endif

namespace strata {

#if STRATA_WITH_POSTGRES
namespace {

using cli_support::print_table;
using cli_support::store_failure;
using cli_support::usage_failure;

/// A duration in microseconds as seconds with one decimal ("1.2 s").
std::string seconds(std::int64_t us) {
  return fmt::format("{:.1f} s", static_cast<double>(us) / 1e6);
}

/// Whether `l` is held now by that epoch of that member.
bool held_by(const lease& l, const member& m) {
  return l.is_held() && l.owner == m.node_id && l.owner_epoch == m.epoch;
}

boost::json::object lease_json(const lease& l) {
  boost::json::object o;
  if (l.owner.empty())
    o["owner"] = nullptr;
  else
    o["owner"] = l.owner;
  o["ownerEpoch"] = l.owner_epoch;
  o["leaseEpoch"] = l.lease_epoch;
  o["held"] = l.is_held();
  o["remainingMs"] = l.remaining_us / 1000;
  return o;
}

std::vector<std::string> lease_row(std::string key, const lease& l) {
  if (l.owner.empty()) return {std::move(key), "-", "-", std::to_string(l.lease_epoch), "free"};
  return {std::move(key), l.owner, std::to_string(l.owner_epoch), std::to_string(l.lease_epoch),
          l.is_held() ? seconds(l.remaining_us) : std::string{"expired"}};
}

cli_exit show_cluster(cli_context& c, std::uint32_t dead_timeout_ms) {
  const journal_source& source = c.source();
  persistence::cluster_store_options o;
  o.dead_timeout_ms = dead_timeout_ms;
  if (!source.pg_conninfo.empty()) {
    o.conninfo = source.pg_conninfo;
    o.schema = source.pg_schema;
  } else if (!source.config_path.empty()) {
    auto config = load_config(source.config_path);
    if (!config) return store_failure(c, config.err());
    if (config->journal.backend != journal_backend::postgres)
      return usage_failure(c, "cluster: " + source.config_path +
                                  " names no PostgreSQL journal; a cluster lives in one");
    o.conninfo = config->journal.postgres.conninfo;
    o.schema = config->journal.postgres.schema;
    if (dead_timeout_ms == 0) o.dead_timeout_ms = config->cluster.dead_timeout_ms;
  } else {
    return usage_failure(c,
                         "cluster: name the PostgreSQL journal with --pg CONNINFO [--pg-schema "
                         "NAME] or --config FILE; a cluster lives in one");
  }
  if (o.dead_timeout_ms == 0) o.dead_timeout_ms = cluster_config{}.dead_timeout_ms;
  auto view = persistence::read_cluster_view(o);
  if (!view) return store_failure(c, view.err());

  std::map<std::string, std::size_t> shards_of;  // node id -> shards held now
  for (const auto& m : view->members)
    for (const auto& [shard, l] : view->shard_leases) shards_of[m.node_id] += held_by(l, m);

  cli_output& out = c.out();
  if (out.json()) {
    boost::json::object summary;
    summary["schema"] = o.schema;
    summary["shardCount"] = view->shard_count;
    summary["members"] = view->members.size();
    out.line(boost::json::serialize(boost::json::object{{"cluster", std::move(summary)}}));
    for (const auto& m : view->members) {
      boost::json::object row;
      row["nodeId"] = m.node_id;
      row["epoch"] = m.epoch;
      row["status"] = std::string{to_string(m.status)};
      row["host"] = m.address.host;
      row["port"] = m.address.port;
      row["heartbeatAgeMs"] = m.heartbeat_age_us / 1000;
      boost::json::array by;
      for (const auto& s : m.suspected_by) by.emplace_back(s);
      row["suspectedBy"] = std::move(by);
      row["shards"] = shards_of[m.node_id];
      out.line(boost::json::serialize(boost::json::object{{"member", std::move(row)}}));
    }
    for (const auto& [shard, l] : view->shard_leases) {
      auto row = lease_json(l);
      row["shard"] = shard;
      out.line(boost::json::serialize(boost::json::object{{"shardLease", std::move(row)}}));
    }
    for (const auto& [name, l] : view->named_leases) {
      auto row = lease_json(l);
      row["name"] = name;
      out.line(boost::json::serialize(boost::json::object{{"namedLease", std::move(row)}}));
    }
    return cli_exit::ok;
  }

  out.line(fmt::format("cluster in schema {}: {} shards, {} members", o.schema, view->shard_count,
                       view->members.size()));
  std::vector<std::vector<std::string>> members{
      {"NODE", "EPOCH", "STATUS", "ADDRESS", "HEARTBEAT", "SHARDS", "SUSPECTED BY"}};
  for (const auto& m : view->members) {
    std::string by;
    for (const auto& s : m.suspected_by) by += (by.empty() ? "" : ",") + s;
    members.push_back({m.node_id, std::to_string(m.epoch), std::string{to_string(m.status)},
                       m.address.host + ":" + std::to_string(m.address.port),
                       seconds(m.heartbeat_age_us) + " ago", std::to_string(shards_of[m.node_id]),
                       by.empty() ? std::string{"-"} : by});
  }
  print_table(out, members);
  out.line("");
  std::vector<std::vector<std::string>> shards{
      {"SHARD", "OWNER", "OWNER EPOCH", "LEASE EPOCH", "REMAINING"}};
  for (const auto& [shard, l] : view->shard_leases)
    shards.push_back(lease_row(std::to_string(shard), l));
  if (shards.size() == 1)
    out.line("no shard lease granted yet");
  else
    print_table(out, shards);
  out.line("");
  std::vector<std::vector<std::string>> named{
      {"LEASE", "OWNER", "OWNER EPOCH", "LEASE EPOCH", "REMAINING"}};
  for (const auto& [name, l] : view->named_leases) named.push_back(lease_row(name, l));
  if (named.size() == 1)
    out.line("no named lease granted yet");
  else
    print_table(out, named);
  return cli_exit::ok;
}

}  // namespace
#endif

void add_cluster_commands(cli& app) {
  auto dead_timeout_ms = std::make_shared<std::uint32_t>(0);
  CLI::App& cmd = app.add_command(
      "cluster",
      "Show the cluster on a PostgreSQL journal: its members (epoch, status, address, heartbeat "
      "age, suspicions, shards held), every shard lease and every named lease. Reads only.",
      [dead_timeout_ms]([[maybe_unused]] cli_context& c) {
#if STRATA_WITH_POSTGRES
        return show_cluster(c, *dead_timeout_ms);
#else
        return cli_support::usage_failure(
            c, "cluster: this strata was built without PostgreSQL (STRATA_WITH_POSTGRES=OFF)");
#endif
      });
  cmd.add_option("--dead-timeout-ms", *dead_timeout_ms,
                 "Suspicions count while the suspecting member heartbeated within this time "
                 "(default: the configuration's cluster.dead_timeout_ms, else 10000)")
      ->check(cli_support::unsigned_integer());
}

}  // namespace strata
