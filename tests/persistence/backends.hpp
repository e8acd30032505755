#pragma once

// The journal backends the conformance suite runs against.
//
// A backend fixture is a default-constructible type with:
//   static constexpr const char* name;           e.g. "sqlite"
//   bool available() const;                      false when its server is not configured
//   std::string why_unavailable() const;         shown when the tests are skipped
//   result<std::unique_ptr<journal>> open();     a new instance on the fixture's store
//   result<std::unique_ptr<journal>> reopen();   the same store again, after every earlier
//                                                instance was destroyed (durability)
// Constructing a fixture creates a fresh, empty store; destroying it removes the store.
//
// The PostgreSQL fixture lives in tests/persistence/postgres_backend.hpp, which is included
// below when it exists: it defines its fixture type in this namespace, its TYPE_TO_STRING,
// and `#define STRATA_EXTRA_JOURNAL_BACKENDS , postgres_backend`. The test logic does not
// change to add a backend.

#include <memory>
#include <string>
#include <tuple>

#include <doctest/doctest.h>

#include "strata/persistence/memory_journal.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "tests/persistence/support.hpp"

namespace strata::persistence::testing {

struct memory_backend {
  static constexpr const char* name = "memory";
  bool available() const { return true; }
  std::string why_unavailable() const { return {}; }
  result<std::unique_ptr<journal>> open() { return factory.open(); }
  result<std::unique_ptr<journal>> reopen() { return factory.open(); }

  memory_journal_factory factory;
};

struct sqlite_backend {
  static constexpr const char* name = "sqlite";
  sqlite_backend() { options.path = (dir.path() / "journal.db").string(); }
  bool available() const { return true; }
  std::string why_unavailable() const { return {}; }
  result<std::unique_ptr<journal>> open() { return sqlite_journal_factory{options}.open(); }
  result<std::unique_ptr<journal>> reopen() { return open(); }

  temp_dir dir;
  sqlite_journal_options options;
};

}  // namespace strata::persistence::testing

TYPE_TO_STRING_AS("memory", strata::persistence::testing::memory_backend);
TYPE_TO_STRING_AS("sqlite", strata::persistence::testing::sqlite_backend);

#if __has_include("tests/persistence/postgres_backend.hpp")
#include "tests/persistence/postgres_backend.hpp"
#endif

#ifndef STRATA_EXTRA_JOURNAL_BACKENDS
#define STRATA_EXTRA_JOURNAL_BACKENDS
#endif

namespace strata::persistence::testing {
/// Every backend of the conformance suite, in the order they run.
using journal_backends = std::tuple<memory_backend, sqlite_backend STRATA_EXTRA_JOURNAL_BACKENDS>;
}  // namespace strata::persistence::testing
