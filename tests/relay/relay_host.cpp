// A host the relay tests drive as a separate process (so that it can be killed with SIGKILL):
// a runtime on an SQLite journal with the RabbitMQ relay on. It places `orders` orders (two
// events each), then waits until the relay has had every event confirmed and exits 0. With
// `orders` 0 it only catches up.
//
//   strata_relay_host <journal.db> <read-models.db> <amqp url> <exchange> <batch> <orders>
//
// It writes "accepted <n>" after every 64 orders and "caught up <position>" at the end.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "strata/domain/orders/order.hpp"
#include "strata/runtime/runtime.hpp"

using namespace strata;

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr,
                 "usage: %s <journal.db> <read-models.db> <amqp url> <exchange> <batch> <orders>\n",
                 argv[0]);
    return 2;
  }
  runtime_config c;
  c.journal.sqlite.path = argv[1];
  c.projections.path = argv[2];
  c.metrics.enabled = false;
  c.relay.enabled = true;
  c.relay.rabbitmq.url = argv[3];
  c.relay.rabbitmq.exchange = argv[4];
  c.relay.batch_events = static_cast<std::uint32_t>(std::strtoul(argv[5], nullptr, 10));
  c.relay.backoff_min_ms = 20;
  c.relay.backoff_max_ms = 500;
  c.relay.poll_ms = 5;
  const long orders = std::strtol(argv[6], nullptr, 10);
  auto rt = runtime::start(c);
  if (!rt) {
    std::fprintf(stderr, "start: %s\n", to_string(rt.err()).c_str());
    return 3;
  }
  if (auto r = (*rt)->register_aggregate<orders::order>(); !r) return 3;
  for (long i = 0; i < orders;) {
    std::vector<std::future<command_result>> pending;
    for (int k = 0; k < 16 && i < orders; ++k, ++i) {
      const std::string id = "order-" + std::to_string(i);
      pending.push_back((*rt)->send<orders::order>(
          id, orders::place{"customer-" + std::to_string(i % 7),
                            "EUR",
                            {orders::line{"sku-1", 1, money{100 + i, "EUR"}}}}));
      pending.push_back((*rt)->send<orders::order>(id, orders::confirm{}));
    }
    for (auto& f : pending)
      if (!f.get().is_accepted()) return 4;
    if (i % 64 == 0) {
      std::printf("accepted %ld\n", i);
      std::fflush(stdout);
    }
  }
  // Bounded: the relay catches up within a minute or the host fails.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  for (;;) {
    auto s = (*rt)->relay_status();
    if (!s) return 5;
    if (s->lag_events == 0 && s->connected) {
      std::printf("caught up %llu\n", static_cast<unsigned long long>(s->confirmed.value));
      std::fflush(stdout);
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) return 6;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the poll interval
  }
  (*rt)->stop();
  return 0;
}
