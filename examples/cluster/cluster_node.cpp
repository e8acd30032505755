// A cluster node: a host program that starts a strata runtime from a configuration file whose
// `cluster` section makes it a node (docs/CLUSTER.md), registers the orders decider, and then
// takes orders on its standard input, one line each, answering one line on stdout:
//
//   cluster_node <config.json>
//     place <order id>   -> placed <order id> owner=<node owning its shard> <outcome>
//     confirm <order id> -> confirmed <order id> owner=<node> <outcome>
//     status             -> status node=<id> epoch=<n> live=<n> owned=<n> routed=<n>
//                           forwarded=<n> served=<n>
//     quit               -> stops the runtime (leaving the cluster) and exits
//
// It prints "ready <node id> <port>" once it has joined. A command for an order whose shard
// another node owns is forwarded to that node, which answers; examples/cluster/run.sh starts
// three of these and sends orders to each.

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

#include <strata/domain/orders/order.hpp>
#include <strata/runtime/runtime.hpp>

using namespace strata;

namespace {

std::string outcome(const command_result& r) {
  std::string out{to_string(r.status)};
  if (r.status == command_status::accepted) return out + " v" + std::to_string(r.at.value);
  if (r.why) return out + " (" + r.why->code + ": " + r.why->message + ")";
  if (r.failure) return out + " (" + r.failure->message + ")";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: cluster_node <config.json>\n");
    return 2;
  }
  auto config = load_config(argv[1]);
  if (!config) {
    std::fprintf(stderr, "cluster_node: %s\n", to_string(config.err()).c_str());
    return 2;
  }
  if (!config->cluster.enabled) {
    std::fprintf(stderr, "cluster_node: %s: cluster.enabled is not true\n", argv[1]);
    return 2;
  }
  auto started = runtime::start(*config);
  if (!started) {
    std::fprintf(stderr, "cluster_node: cannot start: %s\n", to_string(started.err()).c_str());
    return 1;
  }
  auto& rt = **started;
  if (auto added = rt.register_aggregate<orders::order>(); !added) {
    std::fprintf(stderr, "cluster_node: %s\n", to_string(added.err()).c_str());
    return 1;
  }
  const std::string self = config->cluster.node_id;
  std::cout << "ready " << self << " " << rt.cluster_status()->port << std::endl;

  command_metadata meta;
  meta.user_id = "cluster-example";
  for (std::string line; std::getline(std::cin, line);) {
    std::istringstream in{line};
    std::string verb, id;
    in >> verb >> id;
    if (verb == "quit") break;
    if (verb == "status") {
      const auto s = rt.cluster_status();
      std::cout << "status node=" << s->node_id << " epoch=" << s->epoch
                << " live=" << s->live_members << " owned=" << s->shards_owned
                << " routed=" << s->shards_routed << " forwarded=" << s->forwarded
                << " served=" << s->served << std::endl;
      continue;
    }
    if ((verb != "place" && verb != "confirm") || id.empty()) {
      std::cout << "error: expected place ID, confirm ID, status or quit" << std::endl;
      continue;
    }
    const auto owner = rt.owner_of(orders::order::type, id);
    const std::string owned_by = owner && !owner->empty() ? *owner : "-";
    meta.command_id = self + ":" + verb + ":" + id;
    meta.correlation_id = id;
    orders::order::command c = orders::confirm{};
    if (verb == "place")
      c = orders::place{
          "customer-of-" + self, "EUR", {orders::line{"book", 1, money{1999, "EUR"}}}};
    // `unavailable` leaves the outcome open (a shard moving, a connection to its owner lost):
    // a client sends the same command again under the same command id, which is applied once.
    auto r = rt.send<orders::order>(id, c, meta).get();
    int retries = 0;
    for (; r.status == command_status::unavailable && retries < 5; ++retries)
      r = rt.send<orders::order>(id, c, meta).get();
    std::cout << (verb == "place" ? "placed " : "confirmed ") << id << " owner=" << owned_by << " "
              << outcome(r) << (retries > 0 ? " (retried " + std::to_string(retries) + ")" : "")
              << std::endl;
  }
  rt.stop();
  return 0;
}
