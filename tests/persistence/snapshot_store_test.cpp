// The snapshot store suite, one TEST_CASE_TEMPLATE over every backend. Built twice: into the
// persistence tests (memory, SQLite) and, with STRATA_TEST_POSTGRES, into the PostgreSQL tests.

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "strata/persistence/memory_snapshot_store.hpp"
#include "strata/persistence/snapshot_store.hpp"
#include "strata/persistence/sqlite_snapshot_store.hpp"

#ifdef STRATA_TEST_POSTGRES
#include "strata/persistence/postgres/postgres_snapshot_store.hpp"
#include "tests/persistence/postgres_support.hpp"
#else
#include <SQLiteCpp/SQLiteCpp.h>
#include <unistd.h>
#endif

namespace strata::persistence {
namespace {

#ifndef STRATA_TEST_POSTGRES
struct memory_snapshots {
  bool ready() const { return true; }
  std::unique_ptr<snapshot_store_factory> factory(std::size_t keep_last) {
    // One storage per fixture: "reopening" is opening another instance on it.
    if (!shared)
      shared =
          std::make_shared<memory_snapshot_store_factory>(memory_snapshot_store_options{keep_last});
    struct forwarding final : snapshot_store_factory {
      std::shared_ptr<memory_snapshot_store_factory> f;
      result<std::unique_ptr<snapshot_store>> open() override { return f->open(); }
    };
    auto out = std::make_unique<forwarding>();
    out->f = shared;
    return out;
  }
  std::shared_ptr<memory_snapshot_store_factory> shared;
};

struct sqlite_snapshots {
  std::string path;
  sqlite_snapshots() {
    static int counter = 0;
    path = (std::filesystem::temp_directory_path() /
            ("strata-snapshots-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
             ".db"))
               .string();
    std::filesystem::remove(path);
  }
  ~sqlite_snapshots() {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, ignored);
  }
  bool ready() const { return true; }
  std::unique_ptr<snapshot_store_factory> factory(std::size_t keep_last) {
    sqlite_snapshot_store_options o;
    o.path = path;
    o.keep_last = keep_last;
    return std::make_unique<sqlite_snapshot_store_factory>(o);
  }
  void corrupt(const stream_id& stream, version at) {
    SQLite::Database db{path, SQLite::OPEN_READWRITE};
    SQLite::Statement q{db,
                        "UPDATE snapshots SET state_version = 'two' WHERE stream = ? AND at = ?"};
    q.bind(1, stream.str());
    q.bind(2, static_cast<std::int64_t>(at.value));
    REQUIRE(q.exec() == 1);
  }
};
}  // namespace
}  // namespace strata::persistence
TYPE_TO_STRING_AS("memory", strata::persistence::memory_snapshots);
TYPE_TO_STRING_AS("sqlite", strata::persistence::sqlite_snapshots);
namespace strata::persistence {
namespace {
#define STRATA_SNAPSHOT_BACKENDS memory_snapshots, sqlite_snapshots
#define STRATA_DURABLE_SNAPSHOT_BACKENDS sqlite_snapshots
#else
struct postgres_snapshots {
  std::optional<std::string> conninfo = testing::pg_conninfo();
  std::string schema = testing::unique_schema("snap");
  ~postgres_snapshots() {
    if (conninfo) testing::schema_guard drop{*conninfo, schema};
  }
  bool ready() const { return conninfo.has_value(); }
  std::unique_ptr<snapshot_store_factory> factory(std::size_t keep_last) {
    postgres_snapshot_store_options o;
    o.conninfo = *conninfo;
    o.schema = schema;
    o.keep_last = keep_last;
    return std::make_unique<postgres_snapshot_store_factory>(o);
  }
  void corrupt(const stream_id& stream, version at) {
    auto r = testing::pg_exec(
        *conninfo, "UPDATE " + schema + ".snapshots SET state_version = -7 WHERE stream = '" +
                       stream.str() + "' AND at = " + std::to_string(at.value));
    REQUIRE(r.affected_rows() == 1);
  }
};
}  // namespace
}  // namespace strata::persistence
TYPE_TO_STRING_AS("postgres", strata::persistence::postgres_snapshots);
namespace strata::persistence {
namespace {
#define STRATA_SNAPSHOT_BACKENDS postgres_snapshots
#define STRATA_DURABLE_SNAPSHOT_BACKENDS postgres_snapshots
#endif

snapshot_record snap(const stream_id& stream, std::uint64_t at, std::string state) {
  snapshot_record s;
  s.stream = stream;
  s.at = version{at};
  s.state_version = 2;
  s.last_event_hash = std::string(64, 'a');
  s.taken = from_unix_micros(1'700'000'000'123'456 + static_cast<std::int64_t>(at));
  s.state = std::move(state);
  return s;
}

std::unique_ptr<snapshot_store> open_store(snapshot_store_factory& f) {
  auto s = f.open();
  REQUIRE_MESSAGE(s.has_value(), (s ? std::string{} : to_string(s.err())));
  return std::move(*s);
}

// Renders a stream's kept snapshots as "v3 v5 v7" so failures show what was kept.
std::string versions_of(snapshot_store& store, const stream_id& stream) {
  auto all = store.list(stream);
  REQUIRE_MESSAGE(all.has_value(), (all ? std::string{} : to_string(all.err())));
  std::string out;
  for (const auto& s : *all) out += (out.empty() ? "v" : " v") + std::to_string(s.at.value);
  return out;
}

const stream_id order_1{"Order", "1"};
const stream_id order_2{"Order", "2"};

TEST_CASE_TEMPLATE("the latest snapshot at or below a version is loaded with every field", Backend,
                   STRATA_SNAPSHOT_BACKENDS) {
  Backend backend;
  if (!backend.ready()) return;
  auto factory = backend.factory(3);
  auto store = open_store(*factory);
  REQUIRE(store->save(snap(order_1, 10, R"({"total": 10,  "lines":[1]})")));
  REQUIRE(store->save(snap(order_1, 20, R"({"total":20})")));

  auto at_15 = store->load_latest(order_1, version{15});
  REQUIRE(at_15.has_value());
  REQUIRE(at_15->has_value());
  const snapshot_record& s = **at_15;
  CHECK(s.stream == order_1);
  CHECK(s.at == version{10});
  CHECK(s.state_version == 2);
  CHECK(s.last_event_hash == std::string(64, 'a'));
  CHECK(to_unix_micros(s.taken) == 1'700'000'000'123'466);
  CHECK(s.state == R"({"total": 10,  "lines":[1]})");

  auto at_20 = store->load_latest(order_1, version{20});
  REQUIRE(at_20.has_value());
  REQUIRE(at_20->has_value());
  CHECK((*at_20)->at == version{20});

  auto at_9 = store->load_latest(order_1, version{9});
  REQUIRE(at_9.has_value());
  CHECK_FALSE(at_9->has_value());
}

TEST_CASE_TEMPLATE("an unknown stream has no snapshot and an empty list", Backend,
                   STRATA_SNAPSHOT_BACKENDS) {
  Backend backend;
  if (!backend.ready()) return;
  auto factory = backend.factory(3);
  auto store = open_store(*factory);
  REQUIRE(store->save(snap(order_1, 4, "{}")));
  auto none = store->load_latest(order_2, version{1000});
  REQUIRE(none.has_value());
  CHECK_FALSE(none->has_value());
  CHECK(versions_of(*store, order_2).empty());
  CHECK(store->remove_stream(order_2));
}

TEST_CASE_TEMPLATE("save keeps only the newest K snapshots of each stream", Backend,
                   STRATA_SNAPSHOT_BACKENDS) {
  Backend backend;
  if (!backend.ready()) return;
  auto factory = backend.factory(2);
  auto store = open_store(*factory);
  for (std::uint64_t at : {5, 1, 3, 7}) REQUIRE(store->save(snap(order_1, at, "{}")));
  REQUIRE(store->save(snap(order_2, 2, "{}")));
  CHECK(versions_of(*store, order_1) == "v5 v7");
  CHECK(versions_of(*store, order_2) == "v2");
  auto at_4 = store->load_latest(order_1, version{4});
  REQUIRE(at_4.has_value());
  CHECK_FALSE(at_4->has_value());
}

TEST_CASE_TEMPLATE("the default keeps three snapshots and a save at a kept version replaces it",
                   Backend, STRATA_SNAPSHOT_BACKENDS) {
  Backend backend;
  if (!backend.ready()) return;
  auto factory = backend.factory(default_snapshots_kept);
  auto store = open_store(*factory);
  for (std::uint64_t at = 1; at <= 5; ++at) REQUIRE(store->save(snap(order_1, at, "{}")));
  CHECK(versions_of(*store, order_1) == "v3 v4 v5");
  REQUIRE(store->save(snap(order_1, 4, R"({"again":true})")));
  CHECK(versions_of(*store, order_1) == "v3 v4 v5");
  auto four = store->load_latest(order_1, version{4});
  REQUIRE(four.has_value());
  REQUIRE(four->has_value());
  CHECK((*four)->state == R"({"again":true})");
}

TEST_CASE_TEMPLATE("remove_stream deletes one stream's snapshots only", Backend,
                   STRATA_SNAPSHOT_BACKENDS) {
  Backend backend;
  if (!backend.ready()) return;
  auto factory = backend.factory(3);
  auto store = open_store(*factory);
  REQUIRE(store->save(snap(order_1, 1, "{}")));
  REQUIRE(store->save(snap(order_2, 1, "{}")));
  REQUIRE(store->remove_stream(order_1));
  CHECK(versions_of(*store, order_1).empty());
  CHECK(versions_of(*store, order_2) == "v1");
}

TEST_CASE_TEMPLATE("save_all saves a batch of streams and prunes each, or nothing of a bad batch",
                   Backend, STRATA_SNAPSHOT_BACKENDS) {
  Backend backend;
  if (!backend.ready()) return;
  auto factory = backend.factory(2);
  auto store = open_store(*factory);
  REQUIRE(store->save(snap(order_1, 1, "{}")));
  REQUIRE(store->save(snap(order_1, 2, "{}")));
  REQUIRE(store->save_all({snap(order_1, 3, R"({"n":3})"), snap(order_2, 4, R"({"n":4})")}));
  CHECK(versions_of(*store, order_1) == "v2 v3");
  CHECK(versions_of(*store, order_2) == "v4");

  auto bad = store->save_all({snap(order_2, 5, "{}"), snap(order_1, 0, "{}")});
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.err().code == errc::invalid_argument);
  CHECK(versions_of(*store, order_2) == "v4");  // the good one of a refused batch is not saved
  CHECK(store->save_all({}));
}

TEST_CASE_TEMPLATE("a snapshot without a stream or at version 0 is an invalid argument", Backend,
                   STRATA_SNAPSHOT_BACKENDS) {
  Backend backend;
  if (!backend.ready()) return;
  auto factory = backend.factory(3);
  auto store = open_store(*factory);
  auto no_stream = store->save(snap(stream_id{}, 1, "{}"));
  REQUIRE_FALSE(no_stream.has_value());
  CHECK(no_stream.err().code == errc::invalid_argument);
  auto at_zero = store->save(snap(order_1, 0, "{}"));
  REQUIRE_FALSE(at_zero.has_value());
  CHECK(at_zero.err().code == errc::invalid_argument);
  CHECK(versions_of(*store, order_1).empty());
}

TEST_CASE_TEMPLATE("snapshots saved by one instance are seen after reopening", Backend,
                   STRATA_SNAPSHOT_BACKENDS) {
  Backend backend;
  if (!backend.ready()) return;
  {
    auto factory = backend.factory(3);
    auto store = open_store(*factory);
    REQUIRE(store->save(snap(order_1, 8, R"({"n":8})")));
  }
  auto factory = backend.factory(3);
  auto store = open_store(*factory);
  auto loaded = store->load_latest(order_1, version{100});
  REQUIRE(loaded.has_value());
  REQUIRE(loaded->has_value());
  CHECK((*loaded)->state == R"({"n":8})");
  CHECK((*loaded)->at == version{8});
}

TEST_CASE_TEMPLATE("a corrupt snapshot row is reported as corrupted with its stream", Backend,
                   STRATA_DURABLE_SNAPSHOT_BACKENDS) {
  Backend backend;
  if (!backend.ready()) return;
  auto factory = backend.factory(3);
  auto store = open_store(*factory);
  REQUIRE(store->save(snap(order_1, 3, "{}")));
  REQUIRE(store->save(snap(order_2, 3, "{}")));
  backend.corrupt(order_1, version{3});

  auto loaded = store->load_latest(order_1, version{10});
  REQUIRE_FALSE(loaded.has_value());
  CHECK(loaded.err().code == errc::corrupted);
  CHECK(loaded.err().message.find("Order-1") != std::string::npos);
  auto listed = store->list(order_1);
  REQUIRE_FALSE(listed.has_value());
  CHECK(listed.err().code == errc::corrupted);
  CHECK(versions_of(*store, order_2) == "v3");
}

}  // namespace
}  // namespace strata::persistence
