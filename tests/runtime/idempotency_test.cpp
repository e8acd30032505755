// Command ids through the public runtime API, on every journal backend: a retried command is
// answered with its original outcome for as long as its events are in the journal, however
// many commands came after it and across restarts.

#include <doctest/doctest.h>

#include <unistd.h>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <set>
#include <string>

#include "strata/domain/orders/order.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/runtime/temp_dir.hpp"

using namespace strata;

namespace {

template <class T>
T wait(std::future<T> f) {
  REQUIRE_MESSAGE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready,
                  "no answer within 30 s");
  return f.get();
}

/// A journal backend for a runtime: its configuration and whether it survives a restart.
struct backend {
  const char* name;
  runtime_config config;
  bool durable = true;
};

std::string unique_schema() {
  static std::atomic<unsigned> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return "idem_" + std::to_string(::getpid()) + "_" + std::to_string(now % 100000000) + "_" +
         std::to_string(counter++);
}

/// SQLite in `dir`, memory, and PostgreSQL when STRATA_TEST_PG names a server (a fresh schema).
std::vector<backend> backends(const strata::testing::temp_dir& dir) {
  std::vector<backend> out;
  backend sqlite{"sqlite", {}};
  sqlite.config.journal.sqlite.path = dir.file("strata.db");
  out.push_back(sqlite);
  backend memory{"memory", {}, false};
  memory.config.journal.backend = journal_backend::memory;
  out.push_back(memory);
  if (const char* pg = std::getenv("STRATA_TEST_PG"); pg != nullptr && *pg != '\0') {
    backend postgres{"postgres", {}};
    postgres.config.journal.backend = journal_backend::postgres;
    postgres.config.journal.postgres.conninfo = pg;
    postgres.config.journal.postgres.schema = unique_schema();
    out.push_back(postgres);
  } else {
    MESSAGE("postgres backend skipped: STRATA_TEST_PG is not set");
  }
  for (auto& b : out) {
    b.config.metrics.enabled = false;
  }
  return out;
}

std::unique_ptr<runtime> start(const runtime_config& c) {
  auto rt = runtime::start(c);
  REQUIRE_MESSAGE(rt, (rt ? "" : to_string(rt.err())));
  REQUIRE((*rt)->register_aggregate<orders::order>());
  return std::move(*rt);
}

orders::line line(std::string sku, std::int64_t qty, std::int64_t price) {
  return orders::line{std::move(sku), qty, money{price, "EUR"}};
}

command_result send(runtime& rt, const std::string& id, orders::command c,
                    const std::string& command_id) {
  command_metadata meta;
  meta.command_id = command_id;
  return wait(rt.send<orders::order>(id, std::move(c), meta));
}

std::vector<recorded<orders::order>> history(runtime& rt, const std::string& id) {
  auto events = wait(rt.history<orders::order>(id, version{1}, version{1'000'000}));
  REQUIRE_MESSAGE(events, (events ? "" : to_string(events.err())));
  return std::move(*events);
}

}  // namespace

TEST_CASE("new command ids are distinct UUIDv7s that sort in the order they were made") {
  std::string previous = new_command_id();
  std::set<std::string> seen{previous};
  for (int i = 0; i < 5000; ++i) {
    std::string id = new_command_id();
    REQUIRE(id.size() == 36);
    CHECK(id[14] == '7');  // the version nibble
    CHECK(id[8] == '-');
    CHECK_MESSAGE(previous < id, previous << " then " << id);
    CHECK(seen.insert(id).second);
    previous = std::move(id);
  }
}

TEST_CASE("an acknowledged command retried after many later commands is applied once") {
  strata::testing::temp_dir dir;
  for (const auto& b : backends(dir)) {
    CAPTURE(b.name);
    auto rt = start(b.config);
    REQUIRE(send(*rt, "o-1", orders::place{"cust-1", "EUR", {line("sku-0", 1, 100)}}, "place-1")
                .is_accepted());
    constexpr int retried = 50;
    std::vector<command_result> originals;
    for (int i = 0; i < retried; ++i) {
      auto r = send(*rt, "o-1", orders::add_item{line("sku-" + std::to_string(i + 1), 1, 100)},
                    "add-" + std::to_string(i));
      REQUIRE_MESSAGE(r.is_accepted(), to_string(r));
      originals.push_back(std::move(r));
    }
    // Beyond the in-memory window (32 per aggregate) for every one of them.
    for (int i = 0; i < 40; ++i) {
      REQUIRE(send(*rt, "o-1", orders::add_item{line("later-" + std::to_string(i), 1, 100)},
                   "later-" + std::to_string(i))
                  .is_accepted());
    }
    int duplicates = 0;
    for (int i = 0; i < retried; ++i) {
      auto again = send(*rt, "o-1", orders::add_item{line("sku-" + std::to_string(i + 1), 1, 100)},
                        "add-" + std::to_string(i));
      REQUIRE_MESSAGE(again.is_accepted(), to_string(again));
      if (again.duplicate) ++duplicates;
      CHECK(again.at == originals[i].at);
      CHECK(again.position == originals[i].position);
      REQUIRE(again.records.size() == originals[i].records.size());
      CHECK(again.records[0].event_id == originals[i].records[0].event_id);
      CHECK(again.records[0].hash == originals[i].records[0].hash);
    }
    CHECK(duplicates == retried);
    const auto events = history(*rt, "o-1");
    CHECK(events.size() == 1 + retried + 40);
    auto view = wait(rt->current_state<orders::order>("o-1"));
    REQUIRE(view);
    CHECK(view->at == version{1 + retried + 40});
    CHECK(view->state.lines.size() == 1 + retried + 40);
    rt->stop();
  }
}

TEST_CASE("a place retried after a restart of the runtime gets its original outcome") {
  strata::testing::temp_dir dir;
  for (const auto& b : backends(dir)) {
    if (!b.durable) continue;
    CAPTURE(b.name);
    command_result first;
    {
      auto rt = start(b.config);
      first = send(*rt, "o-7", orders::place{"cust-1", "EUR", {line("sku-1", 2, 1500)}}, "place-7");
      REQUIRE(first.is_accepted());
      rt->stop();
    }
    auto rt = start(b.config);
    auto again =
        send(*rt, "o-7", orders::place{"cust-1", "EUR", {line("sku-1", 2, 1500)}}, "place-7");
    REQUIRE_MESSAGE(again.is_accepted(), to_string(again));
    CHECK(again.duplicate);
    CHECK(again.at == first.at);
    CHECK(again.position == first.position);
    REQUIRE(again.records.size() == 1);
    CHECK(again.records[0].event_id == first.records[0].event_id);
    // Another id is a new command, which the order rejects as before.
    auto other =
        send(*rt, "o-7", orders::place{"cust-1", "EUR", {line("sku-1", 2, 1500)}}, "place-8");
    CHECK(other.status == command_status::rejected);
    CHECK(other.why->code == orders::order_already_placed);
    CHECK(history(*rt, "o-7").size() == 1);
    rt->stop();
  }
}

TEST_CASE("a retried command among other streams' commands leaves them unharmed") {
  strata::testing::temp_dir dir;
  for (const auto& b : backends(dir)) {
    CAPTURE(b.name);
    auto rt = start(b.config);
    REQUIRE(send(*rt, "o-1", orders::place{"cust-1", "EUR", {line("sku-0", 1, 100)}}, "p-1")
                .is_accepted());
    REQUIRE(send(*rt, "o-1", orders::add_item{line("sku-1", 1, 100)}, "retry-me").is_accepted());
    for (int i = 0; i < 40; ++i)
      REQUIRE(send(*rt, "o-1", orders::add_item{line("x-" + std::to_string(i), 1, 100)},
                   "x-" + std::to_string(i))
                  .is_accepted());
    // Sent together, without waiting, so that the group commit may put them in one batch.
    std::vector<std::future<command_result>> pending;
    command_metadata retry;
    retry.command_id = "retry-me";
    pending.push_back(
        rt->send<orders::order>("o-1", orders::add_item{line("sku-1", 1, 100)}, retry));
    for (int i = 2; i < 10; ++i) {
      command_metadata meta;
      meta.command_id = "p-" + std::to_string(i);
      pending.push_back(rt->send<orders::order>(
          "o-" + std::to_string(i), orders::place{"cust-1", "EUR", {line("sku-0", 1, 100)}}, meta));
    }
    auto retried = wait(std::move(pending[0]));
    REQUIRE_MESSAGE(retried.is_accepted(), to_string(retried));
    CHECK(retried.duplicate);
    for (std::size_t i = 1; i < pending.size(); ++i) {
      auto r = wait(std::move(pending[i]));
      CHECK_MESSAGE(r.is_accepted(), to_string(r));
      CHECK_FALSE(r.duplicate);
    }
    CHECK(history(*rt, "o-1").size() == 42);
    for (int i = 2; i < 10; ++i) CHECK(history(*rt, "o-" + std::to_string(i)).size() == 1);
    rt->stop();
  }
}
