#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "strata/metrics/metrics.hpp"
#include "tests/metrics/exposition.hpp"

using namespace strata;
using namespace strata::metrics;
using strata::metrics::testing::busy_port;
using strata::metrics::testing::http_get;
using strata::metrics::testing::parse_exposition;

namespace {

metrics_options any_free_port() {
  metrics_options options;
  options.port = 0;
  return options;
}

// Waits, bounded, until `done()` holds; false when it never did.
template <class Predicate>
bool wait_until(Predicate done, std::chrono::seconds limit = std::chrono::seconds{20}) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

TEST_CASE("the exposer serves the registry's metrics on GET /metrics over HTTP") {
  auto metrics = registry::create();
  metrics->for_aggregate("Order").command_done(command_status::accepted, 0.001);
  REQUIRE(metrics->expose(any_free_port()));
  CHECK(metrics->is_exposed());
  const auto port = metrics->bound_port();
  REQUIRE(port != 0);

  const auto response = http_get(port, "/metrics");
  REQUIRE_MESSAGE(response.failure.empty(), response.failure);
  CHECK(response.status == 200);
  REQUIRE(response.headers.count("content-type") == 1);
  CHECK(response.headers.at("content-type").find("text/plain") == 0);
  const auto scrape = parse_exposition(response.body);
  CHECK(scrape.problems.empty());
  CHECK(scrape.value("strata_commands_total",
                     {{"aggregate_type", "Order"}, {"outcome", "accepted"}}) == 1.0);
  CHECK(scrape.types.count("strata_journal_commit_duration_seconds") == 1);

  metrics->stop_exposing();
  CHECK_FALSE(metrics->is_exposed());
  CHECK(metrics->bound_port() == 0);
}

TEST_CASE("scrapes during concurrent updates see consistent, increasing counts") {
  auto metrics = registry::create();
  REQUIRE(metrics->expose(any_free_port()));
  const auto port = metrics->bound_port();

  constexpr int writers = 4;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> commands{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      auto& handles = metrics->for_aggregate(t % 2 == 0 ? "Order" : "Payment");
      auto& summary = metrics->for_projection("order_summary");
      std::uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        handles.in_flight_add(+1);
        handles.command_done(command_status::accepted, 0.0001 * static_cast<double>(n % 50));
        handles.events_appended(1);
        handles.in_flight_add(-1);
        metrics->journal().commit_done(true, 1 + n % 10, 0.0005);
        summary.applied();
        ++n;
        commands.fetch_add(1, std::memory_order_release);
      }
    });
  }

  auto total_accepted = [](const testing::exposition& scrape) {
    double sum = 0;
    for (const char* type : {"Order", "Payment"}) {
      sum +=
          scrape.value("strata_commands_total", {{"aggregate_type", type}, {"outcome", "accepted"}})
              .value_or(0);
    }
    return sum;
  };

  double previous = 0;
  double first = -1;
  for (int round = 0; round < 5; ++round) {
    // Each scrape happens after at least 1,000 more commands than the previous scrape saw.
    const auto target = static_cast<std::uint64_t>(previous) + 1000;
    REQUIRE_MESSAGE(wait_until([&] { return commands.load(std::memory_order_acquire) >= target; }),
                    "the writer threads made no progress");
    const auto response = http_get(port, "/metrics");
    REQUIRE_MESSAGE(response.failure.empty(), response.failure);
    REQUIRE(response.status == 200);
    const auto scrape = parse_exposition(response.body);
    CHECK(scrape.problems.empty());
    const double accepted = total_accepted(scrape);
    CHECK(accepted >= static_cast<double>(target));
    CHECK(accepted > previous);
    if (first < 0) first = accepted;
    previous = accepted;
  }
  CHECK(previous > first);

  stop = true;
  for (auto& thread : threads) thread.join();

  const auto response = http_get(port, "/metrics");
  REQUIRE_MESSAGE(response.failure.empty(), response.failure);
  const auto scrape = parse_exposition(response.body);
  const auto done = static_cast<double>(commands.load());
  CHECK(total_accepted(scrape) == done);
  double histogram_count = 0;
  double appended = 0;
  double in_flight = 0;
  for (const char* type : {"Order", "Payment"}) {
    histogram_count +=
        scrape.value("strata_command_duration_seconds_count", {{"aggregate_type", type}})
            .value_or(0);
    appended +=
        scrape.value("strata_events_appended_total", {{"aggregate_type", type}}).value_or(0);
    in_flight += scrape.value("strata_commands_in_flight", {{"aggregate_type", type}}).value_or(-1);
  }
  CHECK(histogram_count == done);
  CHECK(appended == done);
  CHECK(in_flight == 0);
  CHECK(scrape.value("strata_journal_commits_total", {{"result", "ok"}}) == done);
  CHECK(scrape.value("strata_journal_batch_events_count") == done);
  CHECK(scrape.value("strata_projection_events_applied_total", {{"projection", "order_summary"}}) ==
        done);
}

TEST_CASE("exposing on a port that is already in use fails with unavailable") {
  busy_port taken;
  REQUIRE(taken.port() != 0);
  auto metrics = registry::create();
  metrics_options options;
  options.port = taken.port();
  const auto exposed = metrics->expose(options);
  REQUIRE_FALSE(exposed);
  CHECK(exposed.err().code == errc::unavailable);
  CHECK(exposed.err().message.find("127.0.0.1:" + std::to_string(taken.port())) !=
        std::string::npos);
  CHECK_FALSE(metrics->is_exposed());
  CHECK(metrics->bound_port() == 0);

  SUBCASE("and a second registry on the first one's port fails the same way") {
    auto first = registry::create();
    REQUIRE(first->expose(any_free_port()));
    metrics_options same;
    same.port = first->bound_port();
    const auto second = metrics->expose(same);
    REQUIRE_FALSE(second);
    CHECK(second.err().code == errc::unavailable);
    CHECK(http_get(first->bound_port(), "/metrics").status == 200);
  }
}

TEST_CASE("exposing a registry twice is refused and the first server keeps running") {
  auto metrics = registry::create();
  REQUIRE(metrics->expose(any_free_port()));
  const auto port = metrics->bound_port();
  const auto again = metrics->expose(any_free_port());
  REQUIRE_FALSE(again);
  CHECK(again.err().code == errc::invalid_argument);
  CHECK(metrics->bound_port() == port);
  CHECK(http_get(port, "/metrics").status == 200);

  metrics->stop_exposing();
  REQUIRE(metrics->expose(any_free_port()));
  CHECK(http_get(metrics->bound_port(), "/metrics").status == 200);
}

TEST_CASE("an empty bind address is refused rather than read as every interface") {
  auto metrics = registry::create();
  metrics_options options;
  options.bind_address.clear();
  options.port = 0;
  const auto exposed = metrics->expose(options);
  REQUIRE_FALSE(exposed);
  CHECK(exposed.err().code == errc::invalid_argument);
  CHECK_FALSE(metrics->is_exposed());
}

TEST_CASE("with metrics disabled no server starts and every handle still records") {
  auto metrics = registry::create();
  metrics_options options;
  options.enabled = false;
  options.port = 0;
  REQUIRE(metrics->expose(options));
  CHECK_FALSE(metrics->is_exposed());
  CHECK(metrics->bound_port() == 0);

  testing::touch_every_family(*metrics);
  const auto scrape = parse_exposition(metrics->scrape_text());
  CHECK(scrape.value("strata_commands_total",
                     {{"aggregate_type", "Order"}, {"outcome", "accepted"}}) == 1.0);
  CHECK(scrape.value("strata_mailbox_backlog_messages", {{"actor_kind", "aggregate"}}) == 3.0);
}

TEST_CASE("promtool accepts the scraped text without lint problems") {
  const std::string promtool = testing::find_on_path("promtool");
  REQUIRE_MESSAGE(!promtool.empty(),
                  "promtool is not installed: install the Debian package 'prometheus' "
                  "(scripts/deps.sh --with-test-servers) so the exposition can be checked");

  auto metrics = registry::create();
  testing::touch_every_family(*metrics);
  metrics->for_projection("stock \"levels\"\\n").applied();  // escaping must hold up too
  REQUIRE(metrics->expose(any_free_port()));
  const auto response = http_get(metrics->bound_port(), "/metrics");
  REQUIRE_MESSAGE(response.failure.empty(), response.failure);
  REQUIRE(response.status == 200);
  REQUIRE(response.body.find("strata_commands_total") != std::string::npos);

  const auto checked = testing::run_with_input("'" + promtool + "' check metrics", response.body);
  INFO("promtool said: ", checked.output);
  CHECK(checked.exit_status == 0);
  CHECK(checked.output.empty());

  SUBCASE("and the check is real: promtool flags a counter without the _total suffix") {
    const auto bad = testing::run_with_input(
        "'" + promtool + "' check metrics",
        "# HELP strata_bad Bad.\n# TYPE strata_bad counter\nstrata_bad 1\n");
    INFO("promtool said: ", bad.output);
    CHECK(bad.exit_status != 0);
    CHECK(bad.output.find("strata_bad") != std::string::npos);
  }
}

TEST_CASE("stopping an exposer that has just served a scrape returns without its poll interval") {
  auto metrics = registry::create();
  REQUIRE(metrics->expose(any_free_port()));
  // After serving, the listener is back in its poll, which civetweb only leaves every 2 s.
  REQUIRE(http_get(metrics->bound_port(), "/metrics").status == 200);
  const auto started = std::chrono::steady_clock::now();
  metrics->stop_exposing();
  const auto took = std::chrono::steady_clock::now() - started;
  MESSAGE("stop_exposing took " << std::chrono::duration<double>(took).count() << " s");
  CHECK(took < std::chrono::seconds{1});
  CHECK_FALSE(metrics->is_exposed());
  CHECK(metrics->bound_port() == 0);
}

TEST_CASE("the default options serve on a free port, so two registries share a host") {
  CHECK(metrics_options{}.port == 0);
  auto first = registry::create();
  auto second = registry::create();
  REQUIRE(first->expose(metrics_options{}));
  REQUIRE(second->expose(metrics_options{}));
  CHECK(first->bound_port() != 0);
  CHECK(second->bound_port() != 0);
  CHECK(first->bound_port() != second->bound_port());
  CHECK(http_get(first->bound_port(), "/metrics").status == 200);
  CHECK(http_get(second->bound_port(), "/metrics").status == 200);
}
