#pragma once

// Helpers for the tests that run against the throwaway PostgreSQL server of scripts/test.sh.

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>

#include <doctest/doctest.h>
#include <unistd.h>

#include <pqxx/pqxx>

namespace strata::persistence::testing {

/// The connection string of the test server (STRATA_TEST_PG), or nullopt when the developer
/// opted out with STRATA_SKIP_PG=1. Without either, the calling test fails with a message.
inline std::optional<std::string> pg_conninfo() {
  const char* conninfo = std::getenv("STRATA_TEST_PG");
  if (conninfo != nullptr && *conninfo != '\0') return std::string{conninfo};
  const char* skip = std::getenv("STRATA_SKIP_PG");
  if (skip != nullptr && std::string{skip} == "1") return std::nullopt;
  FAIL(
      "STRATA_TEST_PG is not set: run the PostgreSQL tests through scripts/test.sh (or source "
      "scripts/pg-test-server.sh and call pg_test_server_start), or set STRATA_SKIP_PG=1 to "
      "skip them in a developer build");
  return std::nullopt;
}

/// A schema name no other test (or earlier run) uses.
inline std::string unique_schema(const std::string& prefix) {
  static std::atomic<unsigned> counter{0};
  auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(now % 100000000) + "_" +
         std::to_string(counter++);
}

/// Runs `sql` on its own connection and returns the result (throws on failure: tests only).
inline pqxx::result pg_exec(const std::string& conninfo, const std::string& sql) {
  pqxx::connection c{conninfo};
  pqxx::work tx{c};
  pqxx::result r = tx.exec(sql);
  tx.commit();
  return r;
}

/// Drops a test's schema when the test ends, whatever its outcome.
class schema_guard {
 public:
  schema_guard(std::string conninfo, std::string schema)
      : conninfo_(std::move(conninfo)), schema_(std::move(schema)) {}
  ~schema_guard() {
    try {
      pg_exec(conninfo_,
              "SET client_min_messages = warning; DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    } catch (...) {  // the server may be down after a failed restart: nothing left to clean
    }
  }
  schema_guard(const schema_guard&) = delete;
  schema_guard& operator=(const schema_guard&) = delete;

 private:
  std::string conninfo_;
  std::string schema_;
};

}  // namespace strata::persistence::testing

/// Opens the test server's connection string into `var`, or ends the test when PostgreSQL
/// tests are skipped on purpose.
#define STRATA_PG_CONNINFO(var)                                   \
  auto var##_opt = ::strata::persistence::testing::pg_conninfo(); \
  if (!var##_opt) {                                               \
    MESSAGE("PostgreSQL tests skipped (STRATA_SKIP_PG=1)");       \
    return;                                                       \
  }                                                               \
  const std::string var = *var##_opt
