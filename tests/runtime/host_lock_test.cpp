// A running runtime holds its store's host lock: a second runtime on the same SQLite files
// does not start, and the store is free again once the first stops.

#include <doctest/doctest.h>

#include <string>

#include "strata/persistence/host_lock.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/runtime/temp_dir.hpp"

using namespace strata;

TEST_CASE("a second runtime on the same SQLite journal does not start while the first runs") {
  strata::testing::temp_dir dir;
  runtime_config config;
  config.journal.sqlite.path = dir.file("strata.db");
  config.projections.path = dir.file("strata-read.db");
  config.metrics.enabled = false;
  auto first = runtime::start(config);
  REQUIRE_MESSAGE(first, (first ? "" : to_string(first.err())));

  auto second = runtime::start(config);
  REQUIRE_FALSE(second);
  CHECK(second.err().code == errc::conflict);
  CHECK(second.err().message.find("cannot start the runtime") != std::string::npos);
  CHECK(second.err().message.find("a runtime is running on this store") != std::string::npos);
  CHECK(second.err().message.find("strata.db.host-lock") != std::string::npos);
  // What `strata rebuild` checks: the lock is taken.
  CHECK(lock_sqlite_host(config.journal.sqlite.path).err().code == errc::conflict);
  CHECK(lock_journal_store(config.journal).err().code == errc::conflict);

  (*first)->stop();
  auto free = lock_journal_store(config.journal);
  REQUIRE(free);
  free->reset();
  auto again = runtime::start(config);
  CHECK_MESSAGE(again, (again ? "" : to_string(again.err())));
}

TEST_CASE("the memory journal takes no host lock") {
  runtime_config config;
  config.journal.backend = journal_backend::memory;
  auto none = lock_journal_store(config.journal);
  REQUIRE(none);
  CHECK(*none == nullptr);
}
