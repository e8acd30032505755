// The SQLite process store: which instances of a process were started and which finished, as
// the process manager records them in its trigger projection's transactions.

#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "strata/persistence/projection_store.hpp"
#include "strata/persistence/sqlite_process_store.hpp"
#include "strata/persistence/sqlite_projection_store.hpp"
#include "tests/persistence/support.hpp"

namespace strata::persistence {
namespace {

using testing::temp_dir;

struct process_db {
  temp_dir dir;
  sqlite_process_store instances;
  std::unique_ptr<projection_store> store;

  process_db() {
    auto s = sqlite_projection_store::open({(dir.path() / "read.db").string()});
    REQUIRE_MESSAGE(s, (s ? "" : to_string(s.err())));
    store = std::move(*s);
    in_transaction([&](projection_transaction& tx) { return instances.setup(tx); });
  }

  template <class F>
  void in_transaction(F&& f) {
    auto tx = store->begin();
    REQUIRE_MESSAGE(tx, (tx ? "" : to_string(tx.err())));
    auto done = f(**tx);
    REQUIRE_MESSAGE(done, (done ? "" : to_string(done.err())));
    auto committed = (*tx)->commit();
    REQUIRE_MESSAGE(committed, (committed ? "" : to_string(committed.err())));
  }

  std::vector<std::string> unfinished(std::string_view process) {
    auto rows = instances.unfinished(*store, process);
    REQUIRE_MESSAGE(rows, (rows ? "" : to_string(rows.err())));
    std::vector<std::string> out;
    for (const auto& i : *rows) out.push_back(i.id + "<-" + i.cause);
    return out;
  }
};

TEST_CASE("a started instance is unfinished until it finishes, and keeps its first cause") {
  process_db db;
  db.in_transaction([&](projection_transaction& tx) {
    if (auto e = db.instances.record_started(tx, "fulfilment", "o-2", "evt-2"); !e) return e;
    if (auto e = db.instances.record_started(tx, "fulfilment", "o-1", "evt-1"); !e) return e;
    return db.instances.record_started(tx, "fulfilment", "o-1", "evt-9");
  });
  CHECK(db.unfinished("fulfilment") == std::vector<std::string>{"o-1<-evt-1", "o-2<-evt-2"});

  db.in_transaction([&](projection_transaction& tx) {
    return db.instances.record_finished(tx, "fulfilment", "o-1");
  });
  CHECK(db.unfinished("fulfilment") == std::vector<std::string>{"o-2<-evt-2"});
}

TEST_CASE("processes keep their instances apart, and forgetting one leaves the others") {
  process_db db;
  db.in_transaction([&](projection_transaction& tx) {
    if (auto e = db.instances.record_started(tx, "fulfilment", "o-1", "evt-1"); !e) return e;
    return db.instances.record_started(tx, "returns", "o-1", "evt-5");
  });
  db.in_transaction(
      [&](projection_transaction& tx) { return db.instances.forget(tx, "fulfilment"); });
  CHECK(db.unfinished("fulfilment").empty());
  CHECK(db.unfinished("returns") == std::vector<std::string>{"o-1<-evt-5"});
}

TEST_CASE("instances recorded in a transaction that is not committed are not recorded") {
  process_db db;
  {
    auto tx = db.store->begin();
    REQUIRE(tx);
    REQUIRE(db.instances.record_started(**tx, "fulfilment", "o-1", "evt-1"));
  }  // rolled back
  CHECK(db.unfinished("fulfilment").empty());
}

TEST_CASE("finishing an instance that never started records nothing and is no error") {
  process_db db;
  db.in_transaction([&](projection_transaction& tx) {
    return db.instances.record_finished(tx, "fulfilment", "o-7");
  });
  CHECK(db.unfinished("fulfilment").empty());
}

}  // namespace
}  // namespace strata::persistence
