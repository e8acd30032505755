#pragma once

// Running the `strata` binary from a test, and the journals the tests build.

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "strata/persistence/sqlite_journal.hpp"
#include "tests/runtime/temp_dir.hpp"

namespace strata::cli_testing {

using strata::global_position;
using strata::stream_id;
using strata::version;
using strata::persistence::journal;
using strata::persistence::new_event;
using strata::persistence::stream_append;

struct outcome {
  int code = -1;
  std::string out;
  std::string err;
};

inline std::string quoted(const std::string& arg) {
  std::string q = "'";
  for (char ch : arg) q += ch == '\'' ? std::string{"'\\''"} : std::string{ch};
  return q + "'";
}

inline std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs `strata` with `args`, stdout and stderr captured in files of `dir`.
inline outcome strata_cli(const strata::testing::temp_dir& dir,
                          const std::vector<std::string>& args) {
  std::string command = quoted(STRATA_CLI_PATH);
  for (const auto& a : args) command += " " + quoted(a);
  const std::string out = dir.file("cli.out");
  const std::string err = dir.file("cli.err");
  command += " >" + quoted(out) + " 2>" + quoted(err) + " </dev/null";
  const int status = std::system(command.c_str());
  outcome o;
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = slurp(out);
  o.err = slurp(err);
  return o;
}

inline int run_sql(const std::string& db, const std::string& sql) {
  const std::string command = std::string{SQLITE3_PATH} + " " + quoted(db) + " " + quoted(sql);
  return std::system(command.c_str());
}

inline std::size_t lines(const std::string& text) {
  std::size_t n = 0;
  for (char ch : text) n += ch == '\n' ? 1 : 0;
  return n;
}

inline new_event make_event(const std::string& type, const std::string& correlation,
                            std::int64_t us, const std::string& data) {
  new_event e;
  static int counter = 0;
  e.event_id = "evt-" + std::to_string(++counter);
  e.event_type = type;
  e.time = strata::from_unix_micros(us);
  e.user_id = "alice";
  e.command_id = "cmd-" + std::to_string(counter);
  e.correlation_id = correlation;
  e.data = data;
  return e;
}

/// The shop's history used by every case:
///   @1 Order-1 v1 OrderPlaced     checkout-1
///   @2 Payment-9 v1 PaymentCaptured checkout-1
///   @3 Order-2 v1 OrderPlaced     checkout-2
///   @4 Order-1 v2 OrderConfirmed  confirm-1
///   @5 Order-1 v3 OrderShipped    ship-1
inline void fill(journal& j) {
  const std::int64_t t0 = 1'796'083'200'000'000;  // 2026-12-01T00:00:00Z
  auto a = j.append(
      {stream_append{
           stream_id{"Order", "1"},
           version{0},
           {make_event("OrderPlaced", "checkout-1", t0, R"({"customer":"c-1","currency":"EUR"})")}},
       stream_append{
           stream_id{"Payment", "9"},
           version{0},
           {make_event("PaymentCaptured", "checkout-1", t0 + 1000, R"({"amount":1999})")}}});
  REQUIRE(a.has_value());
  auto b = j.append({stream_append{
      stream_id{"Order", "2"},
      version{0},
      {make_event("OrderPlaced", "checkout-2", t0 + 2000, R"({"customer":"c-2"})")}}});
  REQUIRE(b.has_value());
  auto c = j.append({stream_append{stream_id{"Order", "1"},
                                   version{1},
                                   {make_event("OrderConfirmed", "confirm-1", t0 + 3000, "{}"),
                                    make_event("OrderShipped", "ship-1", t0 + 4000, "{}")}}});
  REQUIRE(c.has_value());
}

/// A temporary directory holding the shop's history in journal.db.
struct shop_journal {
  strata::testing::temp_dir dir;
  std::string path = dir.file("journal.db");
  shop_journal() {
    strata::persistence::sqlite_journal_options o;
    o.path = path;
    auto j = strata::persistence::sqlite_journal::open(o);
    REQUIRE(j.has_value());
    fill(**j);
  }
};

}  // namespace strata::cli_testing
