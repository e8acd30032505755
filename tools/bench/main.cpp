// strata-bench: measures strata against the targets of DESIGN.md §10 and checks its own
// results. One JSON line per result on stdout, a summary table on stderr.
//
//   strata-bench orders [--preload N] [--pg CONNINFO]   strata-bench journal
//   strata-bench rehydrate   strata-bench actors   strata-bench memory
//   strata-bench projection  strata-bench overload  strata-bench snapshots
//   strata-bench cluster --pg CONNINFO   strata-bench link   strata-bench wire
//   strata-bench all [--quick]

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <sstream>

#include "tools/bench/common.hpp"
#include "tools/bench/driver.hpp"

using namespace strata::bench;

namespace {

std::vector<std::size_t> parse_levels(const std::string& text) {
  std::vector<std::size_t> out;
  std::stringstream s{text};
  std::string item;
  while (std::getline(s, item, ',')) {
    if (!item.empty()) out.push_back(static_cast<std::size_t>(std::stoull(item)));
  }
  return out;
}

std::vector<std::string> parse_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream s{text};
  std::string item;
  while (std::getline(s, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strata-bench: throughput, latency, rehydration and memory of strata"};
  app.require_subcommand(1);
  app.fallthrough();  // the common options may also follow the workload's name
  options o;
  app.add_option("--seed", o.seed, "Seed of the generated data")->capture_default_str();
  app.add_flag("--quick", o.quick, "Small sizes (seconds); checks correctness only");
  app.add_option("--dir", o.dir, "Directory for database files")->capture_default_str();
  app.add_option("--pg", o.pg, "libpq conninfo of a PostgreSQL server (orders: adds a class)");
  app.add_option("--repeat", o.repeat, "Repetitions of short measurements (median)")
      ->capture_default_str();
  app.add_flag("--keep-files", o.keep_files, "Keep database files after the run");
  app.add_flag_callback(
      "--allocator",
      [] {
        std::printf("%s\n", allocator_in_use().c_str());
        std::exit(0);
      },
      "Print the allocator in use (tcmalloc or system) and exit");

  std::uint64_t preload = 0;
  std::size_t order_commands = 100000;
  std::string order_levels = "1,8,64,256";
  std::string order_classes = "sqlite-full,sqlite-normal,postgres,memory";
  auto* orders = app.add_subcommand("orders", "1,000 Order streams, 100,000 add_item commands");
  orders->add_option("--preload", preload, "Events appended first over 10,000 streams");
  orders->add_option("--commands", order_commands, "Commands")->capture_default_str();
  orders->add_option("--levels", order_levels, "In-flight levels")->capture_default_str();
  orders->add_option("--classes", order_classes, "Durability classes")->capture_default_str();
  orders->add_flag("--command-ids", o.command_ids,
                   "Give every command its own command id (the journal indexes them)");

  std::size_t rh_events = 100000;
  std::size_t first_events = 1000000;
  auto* rehydrate = app.add_subcommand("rehydrate", "Rebuild one stream's state");
  rehydrate->add_option("--events", rh_events, "Events in the stream")->capture_default_str();
  rehydrate
      ->add_option("--first-command-events", first_events,
                   "Events of the time-to-first-command stream (0: skip)")
      ->capture_default_str();

  std::string sweep_batches = "1,10,100,1000";
  std::string sweep_classes = "sqlite-full,sqlite-normal,postgres";
  auto* journal = app.add_subcommand("journal", "The journal alone per batch size vs the driver");
  journal->add_option("--batches", sweep_batches, "Events per append")->capture_default_str();
  journal->add_option("--classes", sweep_classes, "Durability classes")->capture_default_str();

  std::size_t act_aggregates = 10000;
  std::size_t act_commands = 300000;
  std::string act_levels = "256,1024,4096";
  auto* actors = app.add_subcommand("actors", "Commands/s through the runtime, memory journal");
  actors->add_option("--aggregates", act_aggregates, "Aggregates")->capture_default_str();
  actors->add_option("--commands", act_commands, "Commands per level")->capture_default_str();
  actors->add_option("--levels", act_levels, "In-flight levels")->capture_default_str();

  std::size_t mem_aggregates = 1000000;
  auto* memory = app.add_subcommand("memory", "RSS per idle aggregate vs a bare CAF actor");
  memory->add_option("--aggregates", mem_aggregates, "Aggregates")->capture_default_str();

  std::uint64_t proj_events = 1000000;
  double lag_rate = 1000;
  std::size_t lag_commands = 10000;
  auto* projection = app.add_subcommand("projection", "Projection catch-up and lag");
  projection->add_option("--events", proj_events, "Events to catch up over")->capture_default_str();
  projection->add_option("--rate", lag_rate, "Commands/s of the lag run")->capture_default_str();
  projection->add_option("--lag-commands", lag_commands, "Commands of the lag run (0: none)")
      ->capture_default_str();
  std::string proj_read_models = "sqlite,postgres";
  projection
      ->add_option("--read-models", proj_read_models,
                   "Read-model backends of the catch-up (postgres needs --pg)")
      ->capture_default_str();

  std::size_t ov_bound = 256;
  double ov_factor = 2;
  double ov_seconds = 10;
  auto* overload = app.add_subcommand("overload", "Commands offered beyond capacity");
  overload->add_option("--max-in-flight", ov_bound, "commands.max_in_flight_per_type")
      ->capture_default_str();
  overload->add_option("--factor", ov_factor, "Offered rate / capacity")->capture_default_str();
  overload->add_option("--seconds", ov_seconds, "Duration of the overload")->capture_default_str();
  std::size_t snap_commands = 100000;
  std::uint32_t snap_every = 100;
  auto* snapshots = app.add_subcommand("snapshots", "Snapshot distance under the orders load");
  snapshots->add_option("--commands", snap_commands, "Commands")->capture_default_str();
  snapshots->add_option("--every", snap_every, "aggregates.snapshot_every")->capture_default_str();
  std::size_t cl_commands = 60000;
  std::size_t cl_window = 192;
  std::size_t cl_samples = 2000;
  cluster_node_options cl_timings;
  std::string cl_timing_text = "200,1000,2000,1000";
  auto* cluster = app.add_subcommand("cluster", "Three nodes against one; forwarding; failover");
  cluster->add_option("--commands", cl_commands, "Commands per throughput round")
      ->capture_default_str();
  cluster->add_option("--in-flight", cl_window, "In flight, shared out among the nodes")
      ->capture_default_str();
  cluster->add_option("--samples", cl_samples, "Commands each way of the latency run")
      ->capture_default_str();
  cluster
      ->add_option("--timings", cl_timing_text,
                   "cluster.heartbeat_interval_ms,suspect_timeout_ms,dead_timeout_ms,"
                   "lease_duration_ms")
      ->capture_default_str();
  std::size_t link_requests = 20000;
  std::string link_windows = "1,4,16,64";
  auto* link = app.add_subcommand("link", "The transport between cluster nodes, against bare CAF");
  link->add_option("--requests", link_requests, "Requests per case")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  link->add_option("--in-flight", link_windows, "Windows of requests in flight")
      ->capture_default_str();
  std::size_t wire_count = 200000;
  auto* wire =
      app.add_subcommand("wire", "Encoding and decoding a forwarded command and its result");
  wire->add_option("--count", wire_count, "Encodings and decodings of each per run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto* all = app.add_subcommand("all", "Every workload in turn");

  std::string child_what;
  std::size_t child_count = 0;
  auto* child = app.add_subcommand("memory-child", "(internal) one memory measurement");
  child->group("");  // hidden from --help
  child->add_option("--what", child_what)->required();
  child->add_option("--count", child_count)->required();

  link_peer_options peer;
  auto* peer_child = app.add_subcommand("link-peer", "(internal) one process of `link`");
  peer_child->group("");
  peer_child->add_option("--role", peer.role)->required()->check(CLI::IsMember({"answer", "ask"}));
  peer_child->add_option("--mode", peer.mode)->check(CLI::IsMember({"link", "caf"}));
  peer_child->add_option("--port", peer.port);
  peer_child->add_option("--requests", peer.requests)->check(CLI::PositiveNumber);
  peer_child->add_option("--in-flight", peer.window)->check(CLI::PositiveNumber);

  cluster_node_options node;
  auto* node_child = app.add_subcommand("cluster-node", "(internal) one node of `cluster`");
  node_child->group("");
  node_child->add_option("--conninfo", node.conninfo)->required();
  node_child->add_option("--schema", node.schema)->required();
  node_child->add_option("--node", node.node_id)->required();
  node_child->add_option("--journal-schema", node.journal_schema);
  node_child->add_option("--timings", cl_timing_text);

  CLI11_PARSE(app, argc, argv);

  if (*child) return memory_child(child_what, child_count);
  if (*peer_child) return link_peer_child(peer);
  {
    const auto t = parse_levels(cl_timing_text);
    if (t.size() != 4) {
      std::fprintf(stderr, "--timings: four numbers expected, found \"%s\"\n",
                   cl_timing_text.c_str());
      return 2;
    }
    for (auto* n : {&cl_timings, &node}) {
      n->heartbeat_ms = static_cast<std::uint32_t>(t[0]);
      n->suspect_ms = static_cast<std::uint32_t>(t[1]);
      n->dead_ms = static_cast<std::uint32_t>(t[2]);
      n->lease_ms = static_cast<std::uint32_t>(t[3]);
    }
  }
  if (*node_child) {
    node.seed = o.seed;
    return cluster_node_child(node);
  }

  ::mkdir(o.dir.c_str(), 0755);
  set_files_dir(o.dir);
  std::fprintf(stderr, "strata-bench: seed %llu%s, files in %s\n",
               static_cast<unsigned long long>(o.seed), o.quick ? ", quick" : "", o.dir.c_str());
  const bool every = static_cast<bool>(*all);
  if (*orders || every)
    run_orders(o, preload, order_commands, parse_levels(order_levels), parse_list(order_classes));
  if (*journal || every) run_journal(o, parse_levels(sweep_batches), parse_list(sweep_classes));
  if (*rehydrate || every) {
    run_rehydrate(o, rh_events);
    if (first_events > 0) run_first_command(o, first_events);
  }
  if (*actors || every) run_actors(o, act_aggregates, act_commands, parse_levels(act_levels));
  if (*memory || every) run_memory(o, mem_aggregates);
  if (*projection || every)
    run_projection(o, proj_events, lag_rate, lag_commands, parse_list(proj_read_models));
  if (*overload || every) run_overload(o, ov_bound, ov_factor, ov_seconds);
  if (*snapshots || every) run_snapshots(o, snap_commands, snap_every);
  if (*cluster || every) run_cluster(o, cl_commands, cl_window, cl_samples, cl_timings);
  if (*link || every) run_link(o, o.quick ? 2000 : link_requests, parse_levels(link_windows));
  if (*wire || every) run_wire(o, o.quick ? 2000 : wire_count);
  print_summary();
  std::fprintf(stderr, "\nstrata-bench: all self-checks passed\n");
  return 0;
}
