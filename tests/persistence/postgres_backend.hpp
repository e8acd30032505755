#pragma once

// The PostgreSQL fixture of the journal conformance suite. It joins the suite only where
// STRATA_TEST_POSTGRES is defined (the strata_postgres_tests executable), so the other
// persistence tests neither link libpq nor need a server.

#ifdef STRATA_TEST_POSTGRES

#include <cstdlib>
#include <memory>
#include <string>

#include "strata/persistence/postgres/postgres_journal.hpp"
#include "tests/persistence/postgres_support.hpp"

namespace strata::persistence::testing {

/// A fresh schema per fixture on the server named by STRATA_TEST_PG, dropped afterwards.
/// Without STRATA_TEST_PG, `open` fails with a message saying so (the tests fail rather than
/// pass silently); STRATA_SKIP_PG=1 makes the backend unavailable instead.
struct postgres_backend {
  static constexpr const char* name = "postgres";
  postgres_backend() {
    const char* conninfo = std::getenv("STRATA_TEST_PG");
    if (conninfo != nullptr) options.conninfo = conninfo;
    options.schema = unique_schema("conf");
  }
  ~postgres_backend() {
    if (!options.conninfo.empty()) schema_guard drop{options.conninfo, options.schema};
  }
  bool available() const {
    const char* skip = std::getenv("STRATA_SKIP_PG");
    return !(options.conninfo.empty() && skip != nullptr && std::string{skip} == "1");
  }
  std::string why_unavailable() const { return "STRATA_SKIP_PG=1 and STRATA_TEST_PG unset"; }
  result<std::unique_ptr<journal>> open() {
    if (options.conninfo.empty())
      return error{errc::unavailable,
                   "STRATA_TEST_PG is not set: run scripts/test.sh or set STRATA_SKIP_PG=1"};
    return postgres_journal_factory{options}.open();
  }
  result<std::unique_ptr<journal>> reopen() { return open(); }

  postgres_journal_options options;
};

}  // namespace strata::persistence::testing

TYPE_TO_STRING_AS("postgres", strata::persistence::testing::postgres_backend);

#define STRATA_EXTRA_JOURNAL_BACKENDS , ::strata::persistence::testing::postgres_backend

#endif  // STRATA_TEST_POSTGRES
