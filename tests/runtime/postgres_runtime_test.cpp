// strata::runtime on PostgreSQL, through the public API only: commands, a restart that
// rehydrates from a snapshot, a projection with its read model in PostgreSQL, and each kind of
// tampering found by verify_audit_trail.

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "strata/domain/orders/order.hpp"
#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/persistence/postgres/postgres_host_lock.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/persistence/postgres_support.hpp"
#include "tests/runtime/pg_runtime.hpp"
#include "tests/runtime/temp_dir.hpp"

using namespace strata;
using persistence::testing::pg_conninfo;
using persistence::testing::pg_exec;
using persistence::testing::unique_schema;

namespace {

template <class T>
T wait(std::future<T> f) {
  REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  return f.get();
}

orders::line line(std::string sku, std::int64_t qty) {
  return orders::line{std::move(sku), qty, money{100, "EUR"}};
}

/// A runtime with the journal, snapshots and read models in fresh schemas.
struct pg_runtime : testing::pg_runtime_schemas {
  explicit pg_runtime(std::string c) : pg_runtime_schemas(std::move(c), "rt") {}

  runtime_config config() const { return pg_runtime_schemas::config(2); }

  std::unique_ptr<runtime> start() const {
    auto rt = runtime::start(config());
    REQUIRE_MESSAGE(rt, (rt ? "" : to_string(rt.err())));
    REQUIRE((*rt)->register_aggregate<orders::order>());
    return std::move(*rt);
  }

  void sql(const std::string& text) const { pg_exec(conninfo, text); }
  std::string events() const { return journal_schema + ".events"; }
};

/// Places o-1 with three more items (five events) and o-2 (one event).
void fill(runtime& rt) {
  REQUIRE(wait(rt.send<orders::order>("o-1", orders::place{"c-1", "EUR", {line("a", 1)}}))
              .is_accepted());
  for (const char* sku : {"b", "c", "d"})
    REQUIRE(wait(rt.send<orders::order>("o-1", orders::add_item{line(sku, 2)})).is_accepted());
  REQUIRE(wait(rt.send<orders::order>("o-1", orders::confirm{})).is_accepted());
  REQUIRE(wait(rt.send<orders::order>("o-2", orders::place{"c-2", "EUR", {line("a", 1)}}))
              .is_accepted());
}

std::optional<chain_violation> audit(runtime& rt) {
  auto found = wait(rt.verify_audit_trail());
  REQUIRE_MESSAGE(found, (found ? "" : to_string(found.err())));
  return *found;
}

}  // namespace

TEST_CASE("on PostgreSQL, commands are decided, survive a restart and rehydrate from a snapshot") {
  auto conninfo = pg_conninfo();
  if (!conninfo) return;
  pg_runtime pg{*conninfo};
  {
    auto rt = pg.start();
    fill(*rt);
    auto again = wait(rt->send<orders::order>("o-1", orders::add_item{line("b", 1)}));
    CHECK(again.status == command_status::rejected);  // confirmed orders take no items
    rt->stop();
  }
  const auto snapshots = pg_exec(pg.conninfo, "SELECT max(at) FROM " + pg.journal_schema +
                                                  ".snapshots WHERE stream = 'Order-o-1'")[0][0];
  REQUIRE_FALSE(snapshots.is_null());
  CHECK(snapshots.as<long>() >= 4);

  auto rt = pg.start();
  auto view = wait(rt->current_state<orders::order>("o-1"));
  REQUIRE(view);
  CHECK(view->at == version{5});
  CHECK(view->state.lines.size() == 4);
  CHECK(view->state.total_minor == 700);
  auto next = wait(rt->send<orders::order>("o-2", orders::add_item{line("z", 3)}));
  REQUIRE(next.is_accepted());
  CHECK(next.at == version{2});
  CHECK_FALSE(audit(*rt).has_value());
}

TEST_CASE("on PostgreSQL, a projection keeps its read model in PostgreSQL and serves queries") {
  auto conninfo = pg_conninfo();
  if (!conninfo) return;
  pg_runtime pg{*conninfo};
  auto rt = pg.start();
  REQUIRE(rt->add_projection(std::make_shared<read_models::order_summary_projection>()));
  fill(*rt);
  auto last = wait(rt->send<orders::order>("o-2", orders::add_item{line("q", 5)}));
  REQUIRE(last.is_accepted());
  REQUIRE(rt->wait_for(read_models::order_summary_projection::projection_name, last.position,
                       std::chrono::seconds(30)));
  auto reader = rt->open_read_models();
  REQUIRE(reader);
  auto one = read_models::orders_by_customer(*reader, "c-2");
  REQUIRE(one);
  REQUIRE(one->size() == 1);
  CHECK(one->front().order_id == "o-2");
  CHECK(one->front().total_minor == 600);
  const auto rows = pg_exec(
      pg.conninfo, "SELECT count(*) FROM " + pg.read_schema + ".projection_checkpoints")[0][0];
  CHECK(rows.as<long>() == 1);
}

TEST_CASE(
    "on PostgreSQL, verify_audit_trail finds an altered, a missing, an inserted and a "
    "reordered event") {
  auto conninfo = pg_conninfo();
  if (!conninfo) return;
  struct tampering {
    const char* kind;
    std::function<void(const pg_runtime&)> apply;
    version at;
  };
  const tampering cases[] = {
      {"altered",
       [](const pg_runtime& pg) {
         pg.sql("UPDATE " + pg.events() +
                " SET data_text = replace(data_text, '\"quantity\":2', '\"quantity\":20') WHERE "
                "global_position = 2");
       },
       version{2}},
      {"missing",
       [](const pg_runtime& pg) {
         pg.sql("DELETE FROM " + pg.events() + " WHERE global_position = 3");
       },
       version{3}},
      {"inserted",
       [](const pg_runtime& pg) {
         pg.sql("INSERT INTO " + pg.events() +
                " (global_position, stream_key, version, event_id, event_type, schema_version, "
                "aggregate_type, aggregate_id, occurred_at, user_id, command_id, correlation_id, "
                "causation_id, data_text, hash) SELECT 100, stream_key, 6, 'forged', "
                "'OrderCancelled', 1, 'Order', 'o-1', now(), 'mallory', '', '', '', '{}', '" +
                std::string(64, '0') + "' FROM " + pg.journal_schema +
                ".streams WHERE name = 'Order-o-1'");
       },
       version{6}},
      {"reordered",
       [](const pg_runtime& pg) {
         pg.sql("UPDATE " + pg.events() + " SET version = -1 WHERE global_position = 3");
         pg.sql("UPDATE " + pg.events() + " SET version = 3 WHERE global_position = 4");
         pg.sql("UPDATE " + pg.events() + " SET version = 4 WHERE global_position = 3");
       },
       version{3}},
  };
  for (const auto& t : cases) {
    CAPTURE(t.kind);
    pg_runtime pg{*conninfo};
    {
      auto rt = pg.start();
      fill(*rt);
      CHECK_FALSE(audit(*rt).has_value());
      rt->stop();
    }
    t.apply(pg);
    auto rt = pg.start();
    auto found = audit(*rt);
    REQUIRE(found.has_value());
    CHECK(found->kind == t.kind);
    CHECK(found->stream == stream_id{"Order", "o-1"});
    CHECK(found->at == t.at);
    auto other = wait(rt->verify_stream<orders::order>("o-2"));
    REQUIRE(other);
    CHECK_FALSE(other->has_value());
  }
}

TEST_CASE(
    "on PostgreSQL, a second runtime on the same schema does not start while the first runs") {
  auto conninfo = pg_conninfo();
  if (!conninfo) return;
  pg_runtime pg{*conninfo};
  auto first = pg.start();
  auto second = runtime::start(pg.config());
  REQUIRE_FALSE(second);
  CHECK(second.err().code == errc::conflict);
  CHECK(second.err().message.find("a runtime is running on this store") != std::string::npos);
  CHECK(second.err().message.find(pg.journal_schema) != std::string::npos);
  first->stop();
  auto again = pg.start();
  CHECK(wait(again->send<orders::order>("o-1", orders::place{"c-1", "EUR", {line("a", 1)}}))
            .is_accepted());
}

TEST_CASE("on PostgreSQL, taking the host lock waits, within its bound, for the holder to let go") {
  auto conninfo = pg_conninfo();
  if (!conninfo) return;
  const std::string schema = unique_schema("lock");
  auto held = lock_postgres_host(*conninfo, schema);
  REQUIRE(held);
  auto refused = lock_postgres_host(*conninfo, schema, std::chrono::milliseconds(200));
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::conflict);

  // A restarted runtime's case: the old holder goes while the new one waits.
  auto waiter = std::async(std::launch::async, [&] {
    return lock_postgres_host(*conninfo, schema, std::chrono::seconds(60));
  });
  const std::string waiting =
      "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
      "AND classid = 1398035009";  // 0x53545241, the host lock's first key
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (pg_exec(*conninfo, waiting)[0][0].as<int>() == 0 &&
         std::chrono::steady_clock::now() < limit) {
    std::this_thread::yield();
  }
  REQUIRE(pg_exec(*conninfo, waiting)[0][0].as<int>() >= 1);
  held->reset();
  auto taken = waiter.get();
  REQUIRE(taken);
  CHECK((*taken)->what().find(schema) != std::string::npos);
}
