// The `cluster` workload (docs/BENCHMARKS.md, "Cluster"): nodes of one cluster as child
// processes of strata-bench (`strata-bench cluster-node`, each a runtime on the shared
// PostgreSQL journal), driven line by line over their stdin and stdout. Each node drives its
// own share of the orders load through its local runtime, as a host would, so what is timed
// is the runtime and the forwarding between nodes, not the pipes.
//
//   throughput  one node, then three nodes with a third of the commands and of the in-flight
//               window each (two thirds of them forwarded): commands/s and their ratio;
//               the same load with nothing forwarded; and both again on three nodes that
//               each keep their events in a journal of their own (not a working cluster:
//               what three nodes cost apart from the journal they share)
//   forwarding  one command at a time from one node, alternately to an aggregate it owns and
//               to one another node owns: the added p50 of a forwarded command
//   failover    a node is killed with SIGKILL; a survivor sends a command for an aggregate of
//               the dead node's shards again and again under one command id: the time from
//               the kill to its acceptance

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>
#include <utility>

#include "strata/metrics/metrics.hpp"
#include "strata/persistence/postgres/postgres_journal.hpp"
#include "strata/persistence/postgres/postgres_snapshot_store.hpp"
#include "tools/bench/child_process.hpp"
#include "tools/bench/common.hpp"
#include "tools/bench/driver.hpp"
#include "tools/bench/journal_tools.hpp"

namespace strata::bench {

namespace {

constexpr std::uint32_t shard_count = 16;

result_line line_of(std::string name) {
  result_line r;
  r.workload = "cluster";
  r.name = std::move(name);
  return r;
}

// ---- The child: one cluster node.

runtime_config node_config(const cluster_node_options& n) {
  auto cfg = bench_config();
  cfg.journal.backend = journal_backend::postgres;
  cfg.journal.postgres.conninfo = n.conninfo;
  cfg.journal.postgres.schema = n.schema;
  cfg.cluster.enabled = true;
  cfg.cluster.node_id = n.node_id;
  cfg.cluster.host = "127.0.0.1";
  cfg.cluster.port = 0;
  cfg.cluster.shard_count = shard_count;
  cfg.cluster.heartbeat_interval_ms = n.heartbeat_ms;
  cfg.cluster.suspect_timeout_ms = n.suspect_ms;
  cfg.cluster.dead_timeout_ms = n.dead_ms;
  cfg.cluster.lease_duration_ms = n.lease_ms;
  cfg.cluster.tls.enabled = false;  // loopback; TLS costs are not part of this workload
  cfg.commands.timeout_ms = 10000;
  return cfg;
}

std::string render(const command_result& r) {
  std::string s = to_string(r);
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s.empty() ? "-" : s;
}

// The total of a metric of the runtime's registry, summed over its lines (a histogram's
// `_count` or `_sum`, a counter).
double scraped_total(runtime& rt, const std::string& name) {
  const std::string text = rt.metrics().scrape_text();
  double sum = 0;
  std::istringstream lines{text};
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    if (line[name.size()] != ' ' && line[name.size()] != '{') continue;
    sum += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return sum;
}

// What a load is measured by besides time: the journal writer's group commits and the events
// they held, and the messages of requests the node link sent to peers and the requests in them.
struct node_counts {
  double commits = 0, events = 0, messages = 0, requests = 0;
};

node_counts counts_of(runtime& rt) {
  return {scraped_total(rt, "strata_journal_batch_events_count"),
          scraped_total(rt, "strata_journal_batch_events_sum"),
          scraped_total(rt, "strata_cluster_link_messages_total"),
          scraped_total(rt, "strata_cluster_link_requests_total")};
}

// `load <streams> <node index> <nodes> <commands> <window> <all|own>`: with `all`, command j
// of this node is global command g = j * nodes + index, an add_item for stream g % streams;
// with `own`, the node sends only to the streams it owns, round-robin (nothing forwarded).
std::string node_load(runtime& rt, const order_data& data, const std::string& self,
                      std::istringstream& in) {
  std::size_t streams = 0, index = 0, nodes = 0, commands = 0, window = 0;
  std::string mode;
  in >> streams >> index >> nodes >> commands >> window >> mode;
  std::vector<std::size_t> own;
  if (mode == "own") {
    for (std::size_t i = 0; i < streams; ++i)
      if (auto owner = rt.owner_of(orders::order::type, data.order_id(i)); owner && *owner == self)
        own.push_back(i);
    if (own.empty()) return "load 0 1 0 0 0 0 0 0 0 0 this node owns none of the streams";
  }
  const auto before = counts_of(rt);
  const auto start = now_ns();
  auto out = drive(commands, window, [&](std::size_t j, command_callback done) {
    const std::size_t g = j * nodes + index;
    if (!own.empty())
      return rt.send<orders::order>(data.order_id(own[j % own.size()]),
                                    data.add(1000 + j / own.size()), {}, std::move(done));
    rt.send<orders::order>(data.order_id(g % streams), data.add(g / streams), {}, std::move(done));
  });
  const auto end = now_ns();
  const auto after = counts_of(rt);
  const auto lat = summarize(out.latency_ns);
  std::ostringstream s;
  s << "load " << out.accepted << " " << out.other << " " << start << " " << end << " "
    << lat.p50_ms << " " << lat.p99_ms << " " << after.commits - before.commits << " "
    << after.events - before.events << " " << after.messages - before.messages << " "
    << after.requests - before.requests << " " << (out.other > 0 ? out.first_other : "-");
  std::string line = s.str();
  std::replace(line.begin(), line.end(), '\n', ' ');
  return line;
}

// `latency <streams> <samples>`: one command at a time, alternately to a stream this node owns
// and to one another node owns.
std::string node_latency(runtime& rt, const order_data& data, const std::string& self,
                         std::istringstream& in) {
  std::size_t streams = 0, samples = 0;
  in >> streams >> samples;
  std::vector<std::size_t> local, remote;
  for (std::size_t i = 0; i < streams; ++i) {
    const auto owner = rt.owner_of(orders::order::type, data.order_id(i));
    if (!owner || owner->empty()) continue;
    (*owner == self ? local : remote).push_back(i);
  }
  if (local.empty() || remote.empty()) return "latency - no local or no remote stream";
  std::vector<std::int64_t> local_ns, remote_ns;
  for (std::size_t k = 0; k < 2 * samples; ++k) {
    const bool forwarded = k % 2 == 1;
    auto& from = forwarded ? remote : local;
    const auto stream = from[(k / 2) % from.size()];
    const auto t0 = now_ns();
    auto r = rt.send<orders::order>(data.order_id(stream), data.add(k), {}).get();
    const auto t1 = now_ns();
    if (!r.is_accepted()) return "latency - " + render(r);
    (forwarded ? remote_ns : local_ns).push_back(t1 - t0);
  }
  const auto l = summarize(local_ns);
  const auto f = summarize(remote_ns);
  std::ostringstream s;
  s << "latency " << l.p50_ms << " " << f.p50_ms << " " << l.p99_ms << " " << f.p99_ms;
  return s.str();
}

// `chase <id> <command id>`: sends one add_item under `command id` until it is accepted,
// pacing the attempts by 5 ms (a client's retry loop), for at most 60 s.
std::string node_chase(runtime& rt, const order_data& data, std::istringstream& in) {
  std::string id, command_id;
  in >> id >> command_id;
  command_metadata meta;
  meta.command_id = command_id;
  const auto give_up = now_ns() + 60'000'000'000LL;
  std::size_t attempts = 0;
  std::string last = "-";
  while (now_ns() < give_up) {
    ++attempts;
    auto r = rt.send<orders::order>(id, data.add(1), meta).get();
    if (r.is_accepted())
      return "chased " + std::to_string(now_ns()) + " " + std::to_string(attempts) + " " +
             std::to_string(r.at.value);
    if (r.status != command_status::unavailable && r.status != command_status::timeout)
      return "chased - " + render(r);
    last = render(r);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return "chased - not accepted within 60 s: " + last;
}

// ---- The parent's handle on a child node.

class node_process {
 public:
  node_process(const std::string& self_exe, const cluster_node_options& n)
      : node_id(n.node_id), child_(args_of(self_exe, n), "cluster: node " + n.node_id) {
    const auto ready = read_line();
    check(ready.rfind("ready ", 0) == 0, "cluster: node " + node_id + " did not start: " + ready);
  }

  void write_line(const std::string& line) { child_.write_line(line); }
  std::string read_line() { return child_.read_line(); }
  std::string ask(const std::string& line) { return child_.ask(line); }

  /// live, owned, routed.
  std::vector<std::size_t> status() {
    std::istringstream s{ask("status")};
    std::string word;
    std::vector<std::size_t> v(3);
    s >> word >> v[0] >> v[1] >> v[2];
    return v;
  }

  void kill_now() { child_.kill_now(); }

  const std::string node_id;

 private:
  static std::vector<std::string> args_of(const std::string& self_exe,
                                          const cluster_node_options& n) {
    std::vector<std::string> args{self_exe,
                                  "cluster-node",
                                  "--conninfo",
                                  n.conninfo,
                                  "--schema",
                                  n.schema,
                                  "--node",
                                  n.node_id,
                                  "--timings",
                                  std::to_string(n.heartbeat_ms) + "," +
                                      std::to_string(n.suspect_ms) + "," +
                                      std::to_string(n.dead_ms) + "," + std::to_string(n.lease_ms)};
    if (!n.journal_schema.empty()) args.insert(args.end(), {"--journal-schema", n.journal_schema});
    return args;
  }

  child_process child_;
};

struct cluster_run {
  std::string pg;
  std::vector<std::string> apart;  // the nodes' own journal schemas, dropped at the end
  std::vector<std::unique_ptr<node_process>> nodes;

  /// Starts `count` nodes on a fresh `schema` and waits (60 s at most) until each sees all of
  /// them live, knows every shard's owner and owns some. With `journals_apart`, node i keeps
  /// its events in a fresh schema `<schema>_j<i>` of its own (cluster_node_options).
  cluster_run(const options& o, const std::string& schema, std::size_t count,
              const cluster_node_options& timings, bool journals_apart = false)
      : pg(o.pg) {
    postgres_drop_schema(o.pg, schema);
    const auto exe = self_exe();
    for (std::size_t i = 0; i < count; ++i) {
      auto n = timings;
      n.conninfo = o.pg;
      n.schema = schema;
      n.node_id = "node-" + std::to_string(i + 1);
      if (journals_apart) {
        n.journal_schema = schema + "_j" + std::to_string(i + 1);
        postgres_drop_schema(o.pg, n.journal_schema);
        apart.push_back(n.journal_schema);
      }
      nodes.push_back(std::make_unique<node_process>(exe, n));
    }
    const auto give_up = now_ns() + 60'000'000'000LL;
    for (;;) {
      bool settled = true;
      for (auto& n : nodes) {
        const auto s = n->status();
        settled = settled && s[0] == count && s[1] > 0 && s[2] == shard_count;
      }
      if (settled) break;
      check(now_ns() < give_up,
            "cluster: " + std::to_string(count) + " nodes did not share the shards within 60 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  cluster_run(const cluster_run&) = delete;
  cluster_run& operator=(const cluster_run&) = delete;
  ~cluster_run() {
    nodes.clear();  // the nodes quit first
    for (const auto& schema : apart) postgres_drop_schema(pg, schema);
  }
};

struct load_figures {
  double rate = 0;  ///< Accepted commands per second, over the nodes together.
  double p50_ms = 0, p99_ms = 0;
  /// Events per group commit over the nodes' journal writers (a node's writer commits the
  /// events of the commands for its own shards, forwarded ones included).
  double events_per_commit = 0;
  /// Requests per message the nodes' links sent to peers (forwarded commands and pings); 0
  /// when they sent none.
  double requests_per_message = 0;
};

// Every node of `c` sends its share of `commands` with its share of `window` in flight, all
// at once; the rate is the accepted total over the span from the first start to the last end.
load_figures run_load(cluster_run& c, std::size_t streams, std::size_t commands, std::size_t window,
                      const char* mode = "all") {
  const auto count = c.nodes.size();
  for (std::size_t i = 0; i < count; ++i)
    c.nodes[i]->write_line("load " + std::to_string(streams) + " " + std::to_string(i) + " " +
                           std::to_string(count) + " " + std::to_string(commands / count) + " " +
                           std::to_string(std::max<std::size_t>(1, window / count)) + " " + mode);
  std::int64_t first = 0, last = 0;
  std::size_t accepted = 0;
  double commits = 0, events = 0, messages = 0, requests = 0;
  load_figures f;
  for (auto& n : c.nodes) {
    std::istringstream s{n->read_line()};
    std::string word, first_other;
    std::size_t ok = 0, other = 0;
    std::int64_t start = 0, end = 0;
    double p50 = 0, p99 = 0, node_commits = 0, node_events = 0, node_messages = 0,
           node_requests = 0;
    s >> word >> ok >> other >> start >> end >> p50 >> p99 >> node_commits >> node_events >>
        node_messages >> node_requests;
    commits += node_commits;
    events += node_events;
    messages += node_messages;
    requests += node_requests;
    std::getline(s, first_other);
    check(word == "load" && other == 0,
          "cluster: node " + n->node_id + " had commands not accepted:" + first_other);
    accepted += ok;
    first = first == 0 ? start : std::min(first, start);
    last = std::max(last, end);
    f.p50_ms = std::max(f.p50_ms, p50);
    f.p99_ms = std::max(f.p99_ms, p99);
  }
  check(accepted == commands / count * count, "cluster: not every command was accepted");
  f.rate = static_cast<double>(accepted) / (static_cast<double>(last - first) / 1e9);
  f.events_per_commit = commits > 0 ? events / commits : 0;
  f.requests_per_message = messages > 0 ? requests / messages : 0;
  return f;
}

void place_streams(node_process& n, std::size_t streams) {
  const auto answer = n.ask("place " + std::to_string(streams));
  check(answer == "placed " + std::to_string(streams),
        "cluster: placing the orders through " + n.node_id + ": " + answer);
}

}  // namespace

int cluster_node_child(const cluster_node_options& n) {
  const auto cfg = node_config(n);
  runtime_overrides ov;
  if (!n.journal_schema.empty()) {
    // As runtime::start builds them from the configuration, on a schema of the node's own.
    persistence::postgres_journal_options j;
    j.conninfo = n.conninfo;
    j.schema = n.journal_schema;
    j.idle_in_transaction_timeout_ms = cfg.cluster.lease_duration_ms;
    ov.journal = std::make_shared<persistence::postgres_journal_factory>(j);
    persistence::postgres_snapshot_store_options s;
    s.conninfo = n.conninfo;
    s.schema = n.journal_schema;
    s.keep_last = cfg.aggregates.snapshots_kept;
    if (cfg.aggregates.snapshot_every > 0)
      ov.snapshots = std::make_shared<persistence::postgres_snapshot_store_factory>(s);
  }
  auto started = runtime::start(cfg, std::move(ov));
  if (!started) {
    std::fprintf(stderr, "cluster-node %s: %s\n", n.node_id.c_str(),
                 to_string(started.err()).c_str());
    return 1;
  }
  auto& rt = **started;
  if (auto added = rt.register_aggregate<orders::order>(); !added) {
    std::fprintf(stderr, "cluster-node: %s\n", to_string(added.err()).c_str());
    return 1;
  }
  const order_data data{n.seed};
  std::cout << "ready " << n.node_id << std::endl;
  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream in{line};
    std::string verb;
    in >> verb;
    if (verb == "status") {
      const auto s = rt.cluster_status();
      std::cout << "status " << s->live_members << " " << s->shards_owned << " " << s->shards_routed
                << std::endl;
    } else if (verb == "owner") {
      std::string id;
      in >> id;
      const auto owner = rt.owner_of(orders::order::type, id);
      std::cout << "owner " << (owner && !owner->empty() ? *owner : std::string{"-"}) << std::endl;
    } else if (verb == "place") {
      std::size_t streams = 0;
      in >> streams;
      auto out = drive(streams, 64, [&](std::size_t i, command_callback done) {
        rt.send<orders::order>(data.order_id(i), data.place(i), {}, std::move(done));
      });
      std::cout << (out.other == 0 ? "placed " + std::to_string(out.accepted)
                                   : "failed " + out.first_other)
                << std::endl;
    } else if (verb == "place-one") {
      std::string id;
      in >> id;
      auto r = rt.send<orders::order>(id, data.place(0), {}).get();
      std::cout << (r.is_accepted() ? std::string{"placed 1"} : "failed " + render(r)) << std::endl;
    } else if (verb == "load") {
      std::cout << node_load(rt, data, n.node_id, in) << std::endl;
    } else if (verb == "latency") {
      std::cout << node_latency(rt, data, n.node_id, in) << std::endl;
    } else if (verb == "chase") {
      std::cout << node_chase(rt, data, in) << std::endl;
    } else if (verb == "quit") {
      rt.stop();
      return 0;
    } else {
      std::cout << "error unknown verb " << verb << std::endl;
    }
  }
  rt.stop();
  return 0;
}

void run_cluster(const options& o, std::size_t commands, std::size_t window, std::size_t samples,
                 const cluster_node_options& timings) {
  if (o.pg.empty()) {
    std::fprintf(stderr,
                 "[cluster] skipped: needs --pg (the cluster's tables are in PostgreSQL)\n");
    return;
  }
  const std::size_t streams = o.quick ? 100 : 1000;
  if (o.quick) {
    commands = std::min<std::size_t>(commands, 3000);
    samples = std::min<std::size_t>(samples, 50);
  }
  const std::string s1 = "bench_cluster_one", s3 = "bench_cluster_three",
                    s3a = "bench_cluster_apart";

  // Throughput: one node, then three; then the forwarding latency on the three. These
  // clusters keep the heartbeat of `timings` but a suspect timeout, dead timeout and lease far
  // above a stall of a loaded machine: a round that comes late must not leave a shard without
  // an acting owner in the middle of a measurement. The failover part below uses `timings`.
  cluster_node_options steady = timings;
  steady.suspect_ms = std::max<std::uint32_t>(timings.suspect_ms, 3000);
  steady.dead_ms = std::max<std::uint32_t>(timings.dead_ms, 10000);
  steady.lease_ms = std::max<std::uint32_t>(timings.lease_ms, 5000);
  std::vector<double> one_rates, three_rates, ratios, own_rates, own_ratios, apart_rates,
      apart_ratios, apart_forwarded_rates, apart_forwarded_ratios, one_batches, three_batches,
      own_batches, apart_batches, apart_forwarded_batches, three_per_message,
      apart_forwarded_per_message;
  load_figures one_last, three_last;
  double local_p50 = 0, forwarded_p50 = 0, local_p99 = 0, forwarded_p99 = 0;
  {
    std::fprintf(stderr, "[cluster] one node: %zu commands, %zu in flight\n", commands, window);
    cluster_run one{o, s1, 1, steady};
    place_streams(*one.nodes[0], streams);
    std::fprintf(stderr, "[cluster] three nodes: %zu commands each, %zu in flight each\n",
                 commands / 3, std::max<std::size_t>(1, window / 3));
    cluster_run three{o, s3, 3, steady};
    place_streams(*three.nodes[0], streams);
    // Three nodes whose events go to three journals: nothing in common to wait for.
    cluster_run apart{o, s3a, 3, steady, true};
    place_streams(*apart.nodes[0], streams);
    // Alternately, so that a change of the machine's load touches both alike.
    for (int r = 0; r < o.repeat; ++r) {
      one_last = run_load(one, streams, commands, window);
      three_last = run_load(three, streams, commands, window);
      one_rates.push_back(one_last.rate);
      three_rates.push_back(three_last.rate);
      one_batches.push_back(one_last.events_per_commit);
      three_batches.push_back(three_last.events_per_commit);
      three_per_message.push_back(three_last.requests_per_message);
      ratios.push_back(three_last.rate / one_last.rate);
      // The same load with nothing forwarded: what three nodes cost apart from forwarding.
      const auto own = run_load(three, streams, commands, window, "own");
      own_rates.push_back(own.rate);
      own_batches.push_back(own.events_per_commit);
      own_ratios.push_back(own.rate / one_last.rate);
      // And with a journal each: what three nodes cost apart from the journal they share.
      const auto alone = run_load(apart, streams, commands, window, "own");
      apart_rates.push_back(alone.rate);
      apart_batches.push_back(alone.events_per_commit);
      apart_ratios.push_back(alone.rate / one_last.rate);
      // Forwarding as in the first case, with nothing to wait for in the journal.
      const auto alone_forwarding = run_load(apart, streams, commands, window);
      apart_forwarded_rates.push_back(alone_forwarding.rate);
      apart_forwarded_batches.push_back(alone_forwarding.events_per_commit);
      apart_forwarded_per_message.push_back(alone_forwarding.requests_per_message);
      apart_forwarded_ratios.push_back(alone_forwarding.rate / one_last.rate);
      std::fprintf(stderr,
                   "[cluster] round %d: one %.0f/s; three %.0f/s (ratio %.3f), without "
                   "forwarding %.0f/s (%.3f); with a journal each %.0f/s (%.3f), forwarding "
                   "%.0f/s (%.3f); events per commit %.1f, %.1f, %.1f, %.1f, %.1f\n",
                   r + 1, one_last.rate, three_last.rate, ratios.back(), own.rate,
                   own_ratios.back(), alone.rate, apart_ratios.back(), alone_forwarding.rate,
                   apart_forwarded_ratios.back(), one_last.events_per_commit,
                   three_last.events_per_commit, own.events_per_commit, alone.events_per_commit,
                   alone_forwarding.events_per_commit);
    }
    std::fprintf(stderr, "[cluster] forwarding latency: %zu commands each way, one at a time\n",
                 samples);
    std::istringstream s{
        three.nodes[0]->ask("latency " + std::to_string(streams) + " " + std::to_string(samples))};
    std::string word;
    s >> word;
    check(word == "latency" && (s >> local_p50 >> forwarded_p50 >> local_p99 >> forwarded_p99),
          "cluster: latency run: " + s.str());
  }
  postgres_drop_schema(o.pg, s1);
  postgres_drop_schema(o.pg, s3);
  postgres_drop_schema(o.pg, s3a);
  emit(line_of("throughput 3 vs 1")
           .param("streams", static_cast<double>(streams))
           .param("commands", static_cast<double>(commands))
           .param("in_flight", static_cast<double>(window))
           .param("rounds", static_cast<double>(o.repeat))
           .param("dead_ms", static_cast<double>(steady.dead_ms))
           .param("lease_ms", static_cast<double>(steady.lease_ms))
           .figure("one_node_cmd_s", median(one_rates))
           .figure("three_nodes_cmd_s", median(three_rates))
           .figure("ratio", median(ratios))
           .figure("three_nodes_unforwarded_cmd_s", median(own_rates))
           .figure("unforwarded_ratio", median(own_ratios))
           .figure("three_journals_cmd_s", median(apart_rates))
           .figure("three_journals_ratio", median(apart_ratios))
           .figure("three_journals_forwarded_cmd_s", median(apart_forwarded_rates))
           .figure("three_journals_forwarded_ratio", median(apart_forwarded_ratios))
           .figure("one_node_events_per_commit", median(one_batches))
           .figure("three_nodes_events_per_commit", median(three_batches))
           .figure("unforwarded_events_per_commit", median(own_batches))
           .figure("three_journals_events_per_commit", median(apart_batches))
           .figure("three_journals_forwarded_events_per_commit", median(apart_forwarded_batches))
           .figure("three_nodes_requests_per_message", median(three_per_message))
           .figure("three_journals_forwarded_requests_per_message",
                   median(apart_forwarded_per_message))
           .figure("one_node_p99_ms", one_last.p99_ms)
           .figure("three_nodes_p99_ms", three_last.p99_ms));
  emit(line_of("forwarded command")
           .param("samples", static_cast<double>(samples))
           .figure("local_p50_ms", local_p50)
           .figure("forwarded_p50_ms", forwarded_p50)
           .figure("added_p50_ms", forwarded_p50 - local_p50)
           .figure("local_p99_ms", local_p99)
           .figure("forwarded_p99_ms", forwarded_p99));

  // Failover: a fresh cluster each time; node-3 is killed.
  std::vector<double> failovers;
  const int kills = o.quick ? 1 : o.repeat;
  for (int k = 0; k < kills; ++k) {
    const std::string schema = "bench_cluster_failover";
    cluster_run c{o, schema, 3, timings};
    auto& survivor = *c.nodes[0];
    auto& victim = *c.nodes[2];
    std::string id;
    for (int i = 0; id.empty(); ++i) {
      const auto candidate = "failover-" + std::to_string(i);
      if (survivor.ask("owner " + candidate) == "owner " + victim.node_id) id = candidate;
      check(i < 10000, "cluster: no aggregate id of node-3's shards found");
    }
    const auto placed = survivor.ask("place-one " + id);
    check(placed == "placed 1", "cluster: placing " + id + " through node-1: " + placed);
    const auto killed_ns = now_ns();
    victim.kill_now();
    std::istringstream s{survivor.ask("chase " + id + " chase-" + id)};
    std::string word, at;
    std::size_t attempts = 0, version = 0;
    s >> word >> at >> attempts >> version;
    check(word == "chased" && at != "-", "cluster: failover: " + s.str());
    check(version == 2, "cluster: failover: the command after the kill was applied at version " +
                            std::to_string(version) + ", not 2");
    const double seconds = static_cast<double>(std::stoll(at) - killed_ns) / 1e9;
    failovers.push_back(seconds);
    std::fprintf(stderr, "[cluster] failover %d: %.3f s (%zu attempts)\n", k + 1, seconds,
                 attempts);
    c.nodes.pop_back();  // the killed one
  }
  postgres_drop_schema(o.pg, "bench_cluster_failover");
  const double bound_s = (std::max(timings.dead_ms, timings.lease_ms) +
                          2.5 * static_cast<double>(timings.heartbeat_ms)) /
                         1000.0;
  emit(line_of("failover")
           .param("heartbeat_ms", static_cast<double>(timings.heartbeat_ms))
           .param("suspect_ms", static_cast<double>(timings.suspect_ms))
           .param("dead_ms", static_cast<double>(timings.dead_ms))
           .param("lease_ms", static_cast<double>(timings.lease_ms))
           .param("kills", static_cast<double>(kills))
           .figure("failover_s", median(failovers))
           .figure("failover_max_s", *std::max_element(failovers.begin(), failovers.end()))
           .figure("documented_bound_s", bound_s));
}

}  // namespace strata::bench
