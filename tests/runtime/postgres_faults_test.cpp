// strata::runtime through a PostgreSQL server restart (`pg_ctl restart -m immediate`, the
// server killed without a shutdown checkpoint) in the middle of a steady load: every command
// is answered accepted or unavailable, nothing accepted is lost or doubled, and the same
// runtime, its snapshots and its PostgreSQL read model go on once the server is back.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "strata/domain/orders/order.hpp"
#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/persistence/postgres_support.hpp"
#include "tests/runtime/pg_runtime.hpp"
#include "tests/support/wait_until.hpp"

using namespace strata;
using persistence::testing::pg_conninfo;
using persistence::testing::pg_exec;

namespace {

orders::line line(std::string sku) {
  return orders::line{std::move(sku), 1, money{100, "EUR"}};
}

// Starts the server again when a test that restarted it ends, whatever happened in between
// (a no-op when it runs already).
struct server_started {
  std::string ctl;
  ~server_started() { (void)std::system((ctl + " start -w >/dev/null 2>&1").c_str()); }
};

/// What the client threads saw.
struct answers {
  std::mutex mutex;
  std::vector<command_result> accepted;
  std::atomic<int> accepted_count{0};
  std::atomic<int> unavailable{0};
  std::vector<std::string> wrong;  ///< Answers other than accepted or unavailable.
};

/// A client: places an order, adds four items, then the next order; after an unavailable
/// place it moves on to a new order (the place may or may not have been written).
void client(runtime& rt, int id, const std::atomic<bool>& running, answers& out) {
  int order = 0;
  int items = 0;
  while (running.load()) {
    const std::string order_id = "c" + std::to_string(id) + "-o" + std::to_string(order);
    auto sent =
        items == 0
            ? rt.send<orders::order>(order_id, orders::place{"cust", "EUR", {line("a")}})
            : rt.send<orders::order>(order_id, orders::add_item{line("i" + std::to_string(items))});
    if (sent.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      std::lock_guard lock{out.mutex};
      out.wrong.push_back(order_id + ": no answer within 60 s");
      return;
    }
    auto r = sent.get();
    if (r.is_accepted()) {
      ++out.accepted_count;
      std::lock_guard lock{out.mutex};
      out.accepted.push_back(std::move(r));
      if (++items == 5) {
        items = 0;
        ++order;
      }
    } else if (r.status == command_status::unavailable) {
      ++out.unavailable;
      if (items == 0) ++order;
    } else {
      std::lock_guard lock{out.mutex};
      out.wrong.push_back(order_id + ": " + to_string(r));
      return;
    }
  }
}

}  // namespace

TEST_CASE(
    "through a PostgreSQL restart mid-load every command is accepted or unavailable, no "
    "accepted event is lost or doubled, and the same runtime and its read model recover") {
  auto conninfo_opt = pg_conninfo();
  if (!conninfo_opt) return;
  const std::string conninfo = *conninfo_opt;
  const char* ctl = std::getenv("STRATA_TEST_PG_CTL");
  REQUIRE_MESSAGE(ctl != nullptr, "STRATA_TEST_PG_CTL is not set: run scripts/test.sh");
  const testing::pg_runtime_schemas schemas{conninfo, "rtfault"};
  const std::string& journal_schema = schemas.journal_schema;
  const std::string& read_schema = schemas.read_schema;
  runtime_config c = schemas.config(3);
  c.log.level = log_level::error;  // the outage logs a warning per failed call
  c.projections.retry_delay_ms = 20;
  auto started = runtime::start(c);
  REQUIRE_MESSAGE(started, (started ? "" : to_string(started.err())));
  auto rt = std::move(*started);
  REQUIRE(rt->register_aggregate<orders::order>());
  const auto name = read_models::order_summary_projection::projection_name;
  REQUIRE(rt->add_projection(std::make_shared<read_models::order_summary_projection>()));

  answers seen;
  std::atomic<bool> running{true};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) clients.emplace_back([&, i] { client(*rt, i, running, seen); });
  struct join_on_exit {
    std::atomic<bool>& running;
    std::vector<std::thread>& threads;
    ~join_on_exit() {
      running = false;
      for (auto& t : threads)
        if (t.joinable()) t.join();
    }
  } joiner{running, clients};

  REQUIRE(strata::testing::wait_until([&] { return seen.accepted_count.load() >= 40; },
                                      std::chrono::seconds(60)));
  {
    server_started guard{ctl};
    REQUIRE(std::system((std::string{ctl} + " restart -m immediate -w -t 60 >/dev/null").c_str()) ==
            0);
  }
  // The load goes on: commands are accepted again on the same runtime.
  const int at_restart = seen.accepted_count.load();
  CHECK(strata::testing::wait_until([&] { return seen.accepted_count.load() >= at_restart + 40; },
                                    std::chrono::seconds(60)));
  running = false;
  for (auto& t : clients) t.join();
  MESSAGE(seen.accepted_count.load() << " accepted, " << seen.unavailable.load() << " unavailable");
  for (const auto& w : seen.wrong) FAIL_CHECK(w);
  CHECK(seen.wrong.empty());

  // Every accepted command's events are in the journal exactly once.
  std::map<std::string, long> stored;
  for (const auto& row : pg_exec(conninfo, "SELECT event_id, count(*) FROM " + journal_schema +
                                               ".events GROUP BY event_id"))
    stored[row[0].as<std::string>()] = row[1].as<long>();
  std::size_t accepted_events = 0;
  for (const auto& r : seen.accepted)
    for (const auto& e : r.records) {
      ++accepted_events;
      CHECK_MESSAGE(stored[e.event_id] == 1, e.event_id);
    }
  CHECK(accepted_events == seen.accepted.size());
  for (const auto& row : stored) CHECK_MESSAGE(row.second == 1, row.first);
  const long events =
      pg_exec(conninfo, "SELECT count(*) FROM " + journal_schema + ".events")[0][0].as<long>();
  const long last_position =
      pg_exec(conninfo, "SELECT max(global_position) FROM " + journal_schema + ".events")[0][0]
          .as<long>();
  CHECK(events == last_position);  // gap-free

  // The chain verifies, new commands are accepted, snapshots are saved again.
  auto chain = rt->verify_audit_trail();
  REQUIRE(chain.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
  auto violation = chain.get();
  REQUIRE_MESSAGE(violation, (violation ? "" : to_string(violation.err())));
  CHECK_FALSE(violation->has_value());
  command_result after;
  std::string fresh;
  int attempt = 0;
  CHECK(strata::testing::wait_until(
      [&] {  // a new order each time: an unavailable place may have been written
        fresh = "after-" + std::to_string(attempt++);
        auto f = rt->send<orders::order>(fresh, orders::place{"cust", "EUR", {line("a")}});
        if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) return false;
        after = f.get();
        return after.is_accepted();
      },
      std::chrono::seconds(30)));
  REQUIRE(after.is_accepted());
  for (int i = 1; i <= 3; ++i) {
    auto f = rt->send<orders::order>(fresh, orders::add_item{line("z" + std::to_string(i))});
    REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    after = f.get();
    REQUIRE_MESSAGE(after.is_accepted(), to_string(after));
  }
  CHECK(strata::testing::wait_until(
      [&] {
        return !pg_exec(conninfo, "SELECT 1 FROM " + journal_schema +
                                      ".snapshots WHERE stream = 'Order-" + fresh + "' AND at = 3")
                    .empty();
      },
      std::chrono::seconds(30)));

  // The read model in PostgreSQL catches up with everything the journal holds, each row once.
  auto caught_up = rt->wait_for(name, after.position, std::chrono::seconds(60));
  REQUIRE_MESSAGE(caught_up, (caught_up ? "" : to_string(caught_up.err())));
  auto parked = rt->dead_letters(name);
  REQUIRE(parked);
  CHECK(parked->empty());
  const long orders_stored = pg_exec(conninfo, "SELECT count(DISTINCT aggregate_id) FROM " +
                                                   journal_schema + ".events")[0][0]
                                 .as<long>();
  CHECK(pg_exec(conninfo, "SELECT count(*) FROM " + read_schema + ".order_summary")[0][0]
            .as<long>() == orders_stored);
  // Each event adds one item (a place one line of quantity 1, an add_item one more): the read
  // model counts every event once. A retried add_item of a lost reply adds to its line.
  const long events_now =
      pg_exec(conninfo, "SELECT count(*) FROM " + journal_schema + ".events")[0][0].as<long>();
  CHECK(pg_exec(conninfo, "SELECT sum(quantity) FROM " + read_schema + ".order_summary_lines")[0][0]
            .as<long>() == events_now);
  CHECK(pg_exec(conninfo, "SELECT sum(item_count) FROM " + read_schema + ".order_summary")[0][0]
            .as<long>() == events_now);
  rt->stop();
}
