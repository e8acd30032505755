// A host program that runs a strata runtime as a cluster node, for the multi-process cases of
// cluster_forwarding_test.cpp, cluster_failover_test.cpp and cluster_tls_test.cpp:
//   strata-cluster-host <conninfo> <schema> <node id> [<heartbeat> <suspect> <dead> <lease>]
//                       [<certificate> <key> <ca>]
// With the three PEM files its links to peers are TLS with mutual authentication; without
// them they are plaintext (cluster.tls.enabled false). The four `cluster.*_ms` timings are
// 100, 1000, 3000 and 1000 when not given.
// It prints "ready <node id> <port>" once started, then answers one line on stdout for each
// line on stdin:
//   status                        -> status <live> <owned> <routed> <forwarded> <served>
//                                           <peers connected>
//   owner <id>                    -> owner <node id, or - when none>
//   raise <id> <amount> <cmd id>  -> result <status> <version> <position> <events> <duplicate>
//                                    <rejection code or -> <message or ->
//   close <id> <cmd id>           -> as raise
//   metric <name>                 -> metric <value of the unlabelled series, or - when none>
//   project                       -> project ok | project <error>  (adds tally_log.hpp's)
//   singletons                    -> singletons <leases this node runs, space separated>
//   lag                           -> lag <position> (tally_log's, or - and the error)
//   wait <position> <ms>          -> wait ok | wait <error>  (tally_log reached the position)
//   relay                         -> relay <confirmed position> | relay - <error>
// With STRATA_CLUSTER_RELAY_URL set, the node enables the relay to that broker, on exchange
// STRATA_CLUSTER_RELAY_EXCHANGE.
//   register                      -> register ok | register <error>  (registers tally)
// With STRATA_CLUSTER_HOST_REGISTER=later, the node joins without registering tally until
// "register" (a node that owns shards before its host registered its types).
//   quit                          -> stops the runtime and exits 0

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

#include "strata/metrics/metrics.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/cluster/tally.hpp"
#include "tests/cluster/tally_log.hpp"

using namespace strata;
using cluster_testing::tally;

namespace {

std::string describe(const command_result& r) {
  std::string out = "result " + std::string{to_string(r.status)} + " " +
                    std::to_string(r.at.value) + " " + std::to_string(r.position.value) + " " +
                    std::to_string(r.records.size()) + " " + (r.duplicate ? "1" : "0") + " ";
  // One line per answer: a message of several lines (a database error's detail) is joined.
  auto one_line = [](std::string text) {
    for (auto& c : text)
      if (c == '\n' || c == '\r') c = ' ';
    return text;
  };
  if (r.why) return out + r.why->code + " " + one_line(r.why->message);
  if (r.failure) return out + "- " + one_line(r.failure->message);
  return out + "- -";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 7 && argc != 8 && argc != 11) {
    std::fprintf(stderr,
                 "usage: strata-cluster-host <conninfo> <schema> <node id> "
                 "[<heartbeat ms> <suspect ms> <dead ms> <lease ms>] [<certificate> <key> <ca>]\n");
    return 2;
  }
  const bool timed = argc == 8 || argc == 11;
  const bool tls = argc == 7 || argc == 11;
  const int tls_at = timed ? 8 : 4;
  runtime_config config;
  config.journal.backend = journal_backend::postgres;
  config.journal.postgres.conninfo = argv[1];
  config.journal.postgres.schema = argv[2];
  config.projections.backend = projections_backend::postgres;
  config.projections.postgres.conninfo = argv[1];
  config.projections.postgres.schema = std::string{argv[2]} + "_read";
  config.cluster.enabled = true;
  config.cluster.node_id = argv[3];
  config.cluster.host = "127.0.0.1";
  config.cluster.port = 0;
  config.cluster.shard_count = 16;
  config.cluster.heartbeat_interval_ms = 100;
  config.cluster.suspect_timeout_ms = 1000;
  config.cluster.dead_timeout_ms = 3000;
  config.cluster.lease_duration_ms = 1000;
  if (timed) {
    config.cluster.heartbeat_interval_ms = static_cast<std::uint32_t>(std::stoul(argv[4]));
    config.cluster.suspect_timeout_ms = static_cast<std::uint32_t>(std::stoul(argv[5]));
    config.cluster.dead_timeout_ms = static_cast<std::uint32_t>(std::stoul(argv[6]));
    config.cluster.lease_duration_ms = static_cast<std::uint32_t>(std::stoul(argv[7]));
  }
  config.commands.timeout_ms = 5000;
  config.cluster.tls.enabled = tls;
  if (tls) {
    config.cluster.tls.certificate = argv[tls_at];
    config.cluster.tls.key = argv[tls_at + 1];
    config.cluster.tls.ca = argv[tls_at + 2];
  }
  if (const char* url = std::getenv("STRATA_CLUSTER_RELAY_URL"); url != nullptr && *url != '\0') {
    config.relay.enabled = true;
    config.relay.rabbitmq.url = url;
    if (const char* exchange = std::getenv("STRATA_CLUSTER_RELAY_EXCHANGE"); exchange != nullptr)
      config.relay.rabbitmq.exchange = exchange;
  }
  auto started = runtime::start(config);
  if (!started) {
    std::fprintf(stderr, "%s\n", to_string(started.err()).c_str());
    return 1;
  }
  auto& rt = **started;
  const char* register_when = std::getenv("STRATA_CLUSTER_HOST_REGISTER");
  if (register_when == nullptr || std::string{register_when} != "later") {
    if (auto added = rt.register_aggregate<tally>(); !added) {
      std::fprintf(stderr, "%s\n", to_string(added.err()).c_str());
      return 1;
    }
  }
  std::cout << "ready " << argv[3] << " " << rt.cluster_status()->port << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in{line};
    std::string verb;
    in >> verb;
    if (verb == "status") {
      const auto s = rt.cluster_status();
      std::cout << "status " << s->live_members << " " << s->shards_owned << " " << s->shards_routed
                << " " << s->forwarded << " " << s->served << " " << s->peers_connected
                << std::endl;
    } else if (verb == "owner") {
      std::string id;
      in >> id;
      const auto owner = rt.owner_of(tally::type, id);
      std::cout << "owner " << (owner->empty() ? std::string{"-"} : *owner) << std::endl;
    } else if (verb == "raise" || verb == "close") {
      std::string id;
      std::int64_t amount = 0;
      command_metadata meta;
      in >> id;
      if (verb == "raise") in >> amount;
      in >> meta.command_id;
      meta.user_id = "user-7";
      meta.correlation_id = "corr-" + id;
      meta.causation_id = "cause-" + meta.command_id;
      tally::command c = cluster_testing::close{};
      if (verb == "raise") c = cluster_testing::raise{amount, "from " + std::string{argv[3]}};
      std::cout << describe(rt.send<tally>(id, c, meta).get()) << std::endl;
    } else if (verb == "metric") {
      std::string name;
      in >> name;
      std::istringstream scrape{rt.metrics().scrape_text()};
      std::string value = "-";
      for (std::string row; std::getline(scrape, row);)
        if (row.rfind(name + " ", 0) == 0) value = row.substr(name.size() + 1);
      std::cout << "metric " << value << std::endl;
    } else if (verb == "project") {
      auto added = rt.add_projection(std::make_shared<cluster_testing::tally_log>(argv[3]));
      std::cout << "project " << (added ? std::string{"ok"} : to_string(added.err())) << std::endl;
    } else if (verb == "singletons") {
      std::cout << "singletons";
      const auto s = rt.cluster_status();
      for (const auto& key : s->singletons) std::cout << " " << key;
      std::cout << std::endl;
    } else if (verb == "lag") {
      const auto lag = rt.projection_lag(cluster_testing::tally_log::projection_name);
      std::cout << "lag "
                << (lag ? std::to_string(lag->position.value) : "- " + to_string(lag.err()))
                << std::endl;
    } else if (verb == "wait") {
      std::uint64_t position = 0;
      std::int64_t ms = 0;
      in >> position >> ms;
      const auto waited = rt.wait_for(cluster_testing::tally_log::projection_name,
                                      global_position{position}, std::chrono::milliseconds{ms});
      std::cout << "wait " << (waited ? std::string{"ok"} : to_string(waited.err())) << std::endl;
    } else if (verb == "relay") {
      const auto s = rt.relay_status();
      std::cout << "relay " << (s ? std::to_string(s->confirmed.value) : "- " + to_string(s.err()))
                << std::endl;
    } else if (verb == "register") {
      auto added = rt.register_aggregate<tally>();
      std::cout << "register " << (added ? std::string{"ok"} : to_string(added.err())) << std::endl;
    } else if (verb == "quit") {
      rt.stop();
      return 0;
    } else {
      std::cout << "error unknown verb " << verb << std::endl;
    }
  }
  return 0;
}
