// Hostile arguments and import files given to the `strata` command line: each exits with 2
// (bad usage) or 1 (an import refused) naming the argument, option or line, and the journal
// is left as it was.

#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include "strata/domain/orders/order.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "tests/runtime/temp_dir.hpp"
#include "tests/tools/cli_harness.hpp"

namespace {

using namespace strata::cli_testing;

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// The journal still verifies and holds the shop's five events.
void check_intact(const shop_journal& s) {
  auto verify = strata_cli(s.dir, {"--journal", s.path, "verify"});
  CHECK(verify.code == 0);
  CHECK(has(verify.out, "intact journal: 5 events"));
}

/// One line of an export of Order-7 holding a real OrderPlaced event (the decider's shape).
std::string order_line(const shop_journal& s) {
  const std::string path = s.dir.file("orders.db");
  {
    strata::persistence::sqlite_journal_options o;
    o.path = path;
    auto j = strata::persistence::sqlite_journal::open(o);
    REQUIRE(j.has_value());
    namespace ord = strata::orders;
    auto encoded = ord::order::events().encode(
        ord::placed{"c-1", "EUR", {ord::line{"A", 1, strata::money{1000, "EUR"}}}, {1000, "EUR"}});
    new_event e =
        make_event(std::string{encoded.type}, "corr", 1'796'083'200'000'000, encoded.data);
    e.schema_version = encoded.schema_version;
    REQUIRE((*j)->append({stream_append{stream_id{"Order", "7"}, version{0}, {e}}}).has_value());
  }
  auto exported = strata_cli(s.dir, {"--journal", path, "export"});
  REQUIRE(exported.code == 0);
  return exported.out.substr(0, exported.out.find('\n'));
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("a stream argument that is empty, oversized or not UTF-8 exits with 2 naming it") {
  shop_journal s;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Order-", "'Order-' is not a stream"},
      {"-1", "'-1' is not a stream"},
      {"Order-" + std::string(2000, 'x'), "aggregate id is 2000 bytes long, more than the 1024"},
      {"Order-\xff\xfe", "aggregate id 'Order-\\xff\\xfe'"},
  };
  for (const auto& c : cases) {
    // Named references, not a structured binding: INFO captures them in a lambda.
    const auto& stream = c.first;
    const auto& what = c.second;
    INFO("stream of " << stream.size() << " bytes, expected: " << what);
    for (const std::string command : {"events", "export", "state", "verify"}) {
      INFO("command: " << command);
      auto r = strata_cli(s.dir, {"--journal", s.path, command, "--", stream});
      CHECK(r.code == 2);
      CHECK(has(r.err, what == "aggregate id 'Order-\\xff\\xfe'" ? "is not valid UTF-8" : what));
    }
  }
  check_intact(s);
}

TEST_CASE("SQL metacharacters in streams, types and correlation ids match only themselves") {
  shop_journal s;
  for (const std::string stream : {"Order-%", "Order-_", "Order-1' OR '1'='1",
                                   "Order-'; DROP TABLE events; --", "Order-1\\", "Order-1%"}) {
    INFO("stream: " << stream);
    auto r = strata_cli(s.dir, {"--journal", s.path, "events", stream});
    CHECK(r.code == 0);
    CHECK(r.out.empty());  // no event of Order-1 or Order-2 matched
    CHECK(has(r.err, "has no events"));
  }
  for (const std::string correlation : {"%", "_", "checkout-%", "' OR '1'='1"}) {
    INFO("correlation: " << correlation);
    auto r = strata_cli(s.dir, {"--journal", s.path, "trace", correlation});
    CHECK(r.out.empty());
    CHECK(has(r.err, "no event has correlation id"));
  }
  for (const std::string type : {"%", "Order%", "_rder", "Order'; DROP TABLE streams; --"}) {
    INFO("type: " << type);
    auto r = strata_cli(s.dir, {"--journal", s.path, "--json", "streams", "--type", type});
    CHECK(r.code == 0);
    CHECK_FALSE(has(r.out, "Order-1"));
  }
  check_intact(s);
}

TEST_CASE("negative, huge or reversed versions and positions exit with 2 naming the option") {
  shop_journal s;
  auto negative = strata_cli(s.dir, {"--journal", s.path, "events", "Order-1", "--from", "-1"});
  CHECK(negative.code == 2);
  CHECK(has(negative.err, "--from: '-1' is not a non-negative integer"));
  auto huge = strata_cli(
      s.dir, {"--journal", s.path, "events", "Order-1", "--to", "99999999999999999999999"});
  CHECK(huge.code == 2);
  CHECK(has(huge.err, "--to: '99999999999999999999999' is larger than 18446744073709551615"));
  auto position =
      strata_cli(s.dir, {"--journal", s.path, "events", "--all", "--from-position", "-5"});
  CHECK(position.code == 2);
  CHECK(has(position.err, "--from-position: '-5' is not a non-negative integer"));
  auto reversed =
      strata_cli(s.dir, {"--journal", s.path, "events", "Order-1", "--from", "3", "--to", "1"});
  CHECK(reversed.code == 2);
  CHECK(has(reversed.err, "--to 1 is before --from 3"));
  // The largest version is a version: there is nothing from it on.
  auto largest = strata_cli(s.dir, {"--journal", s.path, "--json", "events", "Order-1", "--from",
                                    "18446744073709551615"});
  CHECK(largest.code == 0);
  CHECK(largest.out.empty());
  auto last = strata_cli(s.dir, {"--journal", s.path, "--json", "events", "--all",
                                 "--from-position", "18446744073709551615"});
  CHECK(last.code == 0);
  CHECK(last.out.empty());
  check_intact(s);
}

TEST_CASE("--at, --from and --to of state and diff that are not points exit with 2 naming them") {
  shop_journal s;
  auto month =
      strata_cli(s.dir, {"--journal", s.path, "state", "Order-1", "--at", "2026-13-45T99:00:00Z"});
  CHECK(month.code == 2);
  CHECK(has(month.err, "--at '2026-13-45T99:00:00Z' is not a time"));
  auto bytes = strata_cli(s.dir, {"--journal", s.path, "state", "Order-1", "--at", "\xff\x01"});
  CHECK(bytes.code == 2);
  CHECK(has(bytes.err, "--at '\\xff\\x01' is not a time"));
  auto version = strata_cli(s.dir, {"--journal", s.path, "state", "Order-1", "--at-version", "-1"});
  CHECK(version.code == 2);
  CHECK(has(version.err, "--at-version: '-1' is not a non-negative integer"));
  auto sql = strata_cli(s.dir, {"--journal", s.path, "diff", "Order-1", "--from", "1' OR '1'='1"});
  CHECK(sql.code == 2);
  CHECK(has(sql.err, "--from '1\\x27 OR \\x271\\x27=\\x271' is neither a version nor a time"));
  auto overflow = strata_cli(s.dir, {"--journal", s.path, "diff", "Order-1", "--from", "0", "--to",
                                     "99999999999999999999999"});
  CHECK(overflow.code == 2);
  CHECK(has(overflow.err, "--to '99999999999999999999999' is neither a version nor a time"));
  check_intact(s);
}

TEST_CASE("an import line that is hostile is refused with 2 naming the line, nothing imported") {
  shop_journal s;
  const std::string good = order_line(s);
  const std::string deep(100'000, '[');
  const std::vector<std::pair<std::string, std::string>> cases = {
      {deep, "not an event record: event record JSON does not parse"},
      {replaced(good, "\"data\":{", "\"data\":" + deep + "{"), "does not parse"},
      {replaced(good, "\"c-1\"", "\"c-\xff\""), "does not parse"},
      {replaced(good, "\"c-1\"", "\"c-\\u0000\""), "data: member 'customer_id' holds a NUL"},
      {replaced(good, "\"aggregateId\":\"7\"", "\"aggregateId\":\"\""),
       "aggregateType and aggregateId must not be empty"},
      {replaced(good, "\"aggregateId\":\"7\"", "\"aggregateId\":\"7\\u0000x\""),
       "aggregateId: aggregate id '7\\x00x' holds a NUL byte at offset 1"},
      {replaced(good, "\"aggregateId\":\"7\"",
                "\"aggregateId\":\"" + std::string(1 << 20, 'x') + "\""),
       "aggregateId: aggregate id is 1048576 bytes long, more than the 1024 allowed"},
      {replaced(good, "\"userId\":\"alice\"", "\"userId\":\"al\\u0000ice\""),
       "userId holds a NUL character"},
      {replaced(good, "\"version\":1", "\"version\":-1"), "member version is missing or not"},
      {replaced(good, "\"version\":1", "\"version\":\"1\""), "member version is missing or not"},
      {replaced(good, "\"version\":1", "\"version\":99999999999999999999999"),
       "member version is missing or not"},
      {replaced(good, "\"schemaVersion\":2", "\"schemaVersion\":4294967296"),
       "member schemaVersion is missing or not a 32-bit unsigned integer"},
  };
  for (const auto& c : cases) {
    // Named references, not a structured binding: INFO captures them in a lambda.
    const auto& line = c.first;
    const auto& what = c.second;
    INFO("expected: " << what);
    const std::string file = s.dir.file("hostile.jsonl");
    std::ofstream{file, std::ios::trunc | std::ios::binary} << good << "\n" << line << "\n";
    auto r = strata_cli(s.dir, {"--journal", s.path, "import", file});
    CHECK(r.code == 2);
    CHECK(has(r.err, file + ":2: "));
    CHECK(has(r.err, what));
    check_intact(s);
  }
}

TEST_CASE("an import of an event of the wrong type for its aggregate exits with 1, naming it") {
  shop_journal s;
  const std::string good = order_line(s);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {replaced(good, "\"eventType\":\"OrderPlaced\"", "\"eventType\":\"PaymentCaptured\""),
       "Order-7 v1 is a 'PaymentCaptured', which Order does not have"},
      {replaced(good, "\"eventType\":\"OrderPlaced\"",
                "\"eventType\":\"'; DROP TABLE events; --\""),
       "Order-7 v1 is a '\\x27; DROP TABLE events; --', which Order does not have"},
  };
  for (const auto& c : cases) {
    // Named references, not a structured binding: INFO captures them in a lambda.
    const auto& line = c.first;
    const auto& what = c.second;
    INFO("expected: " << what);
    const std::string file = s.dir.file("wrong.jsonl");
    std::ofstream{file, std::ios::trunc | std::ios::binary} << line << "\n";
    auto r = strata_cli(s.dir, {"--journal", s.path, "import", file});
    CHECK(r.code == 1);
    CHECK(has(r.err, file + ":1: "));
    CHECK(has(r.err, what));
    CHECK(has(r.err, "nothing was imported"));
    check_intact(s);
  }
  // An aggregate type the command line has no decider for passes the type check (the next
  // test imports one); here the changed type breaks the hash chain, which refuses the line.
  const std::string other = s.dir.file("other.jsonl");
  std::ofstream{other, std::ios::trunc}
      << replaced(good, "\"aggregateType\":\"Order\"", "\"aggregateType\":\"Ledger\"") << "\n";
  auto imported = strata_cli(s.dir, {"--journal", s.dir.file("fresh.db"), "import", other});
  CHECK(imported.code == 1);
  CHECK_FALSE(has(imported.err, "does not have"));
  CHECK(has(imported.err, "audit chain broken"));
}

TEST_CASE("an import of ids holding SQL metacharacters stores them as plain text") {
  shop_journal s;
  const std::string target = s.dir.file("target.db");
  // Events with hostile ids, written by the journal itself so that their chains link.
  const std::string source = s.dir.file("hostile.db");
  {
    strata::persistence::sqlite_journal_options o;
    o.path = source;
    auto j = strata::persistence::sqlite_journal::open(o);
    REQUIRE(j.has_value());
    for (const std::string id : {"'; DROP TABLE events; --", "%", "_", "a\\b"})
      REQUIRE((*j)
                  ->append({stream_append{
                      stream_id{"Ledger", id}, version{0}, {make_event("Opened", "c", 1, "{}")}}})
                  .has_value());
  }
  auto exported = strata_cli(s.dir, {"--journal", source, "export", "-o", s.dir.file("x.jsonl")});
  REQUIRE(exported.code == 0);
  auto imported = strata_cli(s.dir, {"--journal", target, "import", s.dir.file("x.jsonl")});
  CHECK(imported.code == 0);
  CHECK(has(imported.out, "imported 4 events of 4 streams"));
  auto percent = strata_cli(s.dir, {"--journal", target, "--json", "events", "Ledger-%"});
  CHECK(percent.code == 0);
  CHECK(lines(percent.out) == 1);
  CHECK(has(percent.out, R"("aggregateId":"%")"));
  auto verify = strata_cli(s.dir, {"--journal", target, "verify"});
  CHECK(verify.code == 0);
  CHECK(has(verify.out, "intact journal: 4 events"));
}
