// The fault-injecting snapshot store and read-model store decorators.

#include <future>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "strata/persistence/fault_injecting_projection_store.hpp"
#include "strata/persistence/fault_injecting_snapshot_store.hpp"
#include "strata/persistence/memory_snapshot_store.hpp"
#include "strata/persistence/sqlite_projection_store.hpp"
#include "tests/persistence/support.hpp"

namespace strata::persistence::testing {
namespace {

const stream_id order_1{"Order", "1"};

snapshot_record snapshot_at(std::uint64_t at, std::string state) {
  snapshot_record s;
  s.stream = order_1;
  s.at = version{at};
  s.state = std::move(state);
  return s;
}

struct faulty_snapshots {
  std::shared_ptr<snapshot_fault_plan> plan = std::make_shared<snapshot_fault_plan>();
  fault_injecting_snapshot_store_factory factory{std::make_shared<memory_snapshot_store_factory>(),
                                                 plan};
  std::unique_ptr<snapshot_store> store = [this] {
    auto s = factory.open();
    REQUIRE(s.has_value());
    return std::move(*s);
  }();
};

TEST_CASE("a failing snapshot save stores nothing and a torn one stores half of the state") {
  faulty_snapshots f;
  REQUIRE(f.store->save(snapshot_at(1, "{\"a\":1}")).has_value());
  f.plan->fail_saves(error{errc::unavailable, "down"});
  auto failed = f.store->save(snapshot_at(2, "{\"b\":2}"));
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.err().code == errc::unavailable);
  CHECK(f.store->list(order_1)->size() == 1);

  f.plan->clear();
  f.plan->tear_saves(error{errc::unavailable, "torn"});
  auto torn = f.store->save_all({snapshot_at(3, "{\"state\":12345678}")});
  REQUIRE_FALSE(torn.has_value());
  CHECK(torn.err().message == "torn");
  f.plan->clear();
  auto latest = f.store->load_latest(order_1, version{10});
  REQUIRE(latest.has_value());
  REQUIRE(latest->has_value());
  CHECK((*latest)->at == version{3});
  CHECK((*latest)->state == "{\"state\":");
  CHECK(f.plan->saves_seen() == 3);
  CHECK(f.plan->saves_failed() == 2);
  CHECK(f.plan->snapshots_torn() == 1);
}

TEST_CASE("failing snapshot loads and opens give the chosen error, and a hold holds saves") {
  faulty_snapshots f;
  f.plan->fail_loads(error{errc::corrupted, "bad"});
  CHECK(f.store->list(order_1).err().code == errc::corrupted);
  CHECK(f.store->load_latest(order_1, version{1}).err().code == errc::corrupted);
  CHECK(f.plan->loads_failed() == 2);
  f.plan->fail_opens(error{errc::unavailable, "no store"});
  CHECK(f.factory.open().err().code == errc::unavailable);
  f.plan->clear();

  f.plan->hold();
  auto saved = std::async(std::launch::async, [&] { return f.store->save(snapshot_at(1, "{}")); });
  struct release_on_exit {
    std::shared_ptr<snapshot_fault_plan> plan;
    ~release_on_exit() { plan->release(); }
  } release{f.plan};
  REQUIRE(f.plan->wait_held(1));
  CHECK(saved.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);
  f.plan->release();
  CHECK(saved.get().has_value());
  CHECK(f.store->list(order_1)->size() == 1);
}

struct faulty_read_store {
  temp_dir dir;
  std::shared_ptr<projection_store_fault_plan> plan =
      std::make_shared<projection_store_fault_plan>();
  std::shared_ptr<projection_store_factory> factory = [this] {
    sqlite_projection_store_options o;
    o.path = (dir.path() / "read.db").string();
    return std::make_shared<fault_injecting_projection_store_factory>(
        std::make_shared<sqlite_projection_store_factory>(o), plan);
  }();
  std::unique_ptr<projection_store> store = [this] {
    auto s = factory->open();
    REQUIRE(s.has_value());
    return std::move(*s);
  }();

  /// One transaction: a row and checkpoint `at`; the commit's outcome.
  result<void> write(std::int64_t at) {
    auto tx = store->begin();
    if (!tx) return std::move(tx).err();
    if (auto e = (*tx)->execute("CREATE TABLE IF NOT EXISTS t (v INTEGER)"); !e) return e;
    if (auto e = (*tx)->execute("INSERT INTO t (v) VALUES (?)", {sql_value{at}}); !e) return e;
    checkpoint cp;
    cp.position = global_position{static_cast<std::uint64_t>(at)};
    if (auto e = (*tx)->save_checkpoint("p", cp); !e) return e;
    return (*tx)->commit();
  }
  std::uint64_t position() { return store->load_checkpoint("p")->position.value; }
};

TEST_CASE("failing read-model writes and commits apply nothing; a lost reply applies all") {
  faulty_read_store f;
  REQUIRE(f.write(1).has_value());
  f.plan->fail_writes(error{errc::unavailable, "down"});
  CHECK(f.write(2).err().code == errc::unavailable);
  CHECK(f.position() == 1);
  CHECK(f.plan->writes_failed() == 1);
  f.plan->clear();
  f.plan->fail_commits(error{errc::unavailable, "commit failed"});
  CHECK(f.write(2).err().message == "commit failed");
  CHECK(f.position() == 1);
  f.plan->clear();
  f.plan->fail_nth_commit(2, error{errc::unavailable, "second"});
  REQUIRE(f.write(2).has_value());
  CHECK(f.write(3).err().message == "second");
  CHECK(f.position() == 2);
  f.plan->lose_commit_replies(error{errc::unavailable, "reply lost"});
  CHECK(f.write(3).err().message == "reply lost");
  CHECK(f.position() == 3);
  f.plan->clear();
  auto rows = f.store->query("SELECT count(*) FROM t");
  REQUIRE(rows.has_value());
  CHECK(std::get<std::int64_t>((*rows)[0][0]) == 3);
  CHECK(f.plan->commits_failed() == 3);
  f.plan->fail_begins(error{errc::unavailable, "unreachable"});
  CHECK(f.store->begin().err().code == errc::unavailable);
}

}  // namespace
}  // namespace strata::persistence::testing
