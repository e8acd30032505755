// The `strata` command line, run as a program: exit codes and what it prints.

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
#include "tests/tools/cli_harness.hpp"
#if STRATA_WITH_POSTGRES
#include "strata/persistence/postgres/postgres_journal.hpp"
#include "tests/persistence/postgres_support.hpp"
#endif

using namespace strata::cli_testing;

TEST_CASE("streams lists every stream with its type, id, count and first and last time") {
  shop_journal s;
  auto r = strata_cli(s.dir, {"--journal", s.path, "streams"});
  CHECK(r.code == 0);
  CHECK(r.err.empty());
  CHECK(lines(r.out) == 4);  // header and three streams
  CHECK(r.out.find("TYPE") != std::string::npos);
  CHECK(r.out.find("Order    1   3       3        2026-12-01T") != std::string::npos);
  CHECK(r.out.find("Payment  9   1") != std::string::npos);

  auto orders = strata_cli(s.dir, {"streams", "--type", "Order", "--journal", s.path, "--json"});
  CHECK(orders.code == 0);
  CHECK(lines(orders.out) == 2);
  CHECK(orders.out.find(R"("stream":"Order-1","aggregateType":"Order","aggregateId":"1",)"
                        R"("events":3,"version":3,"firstTimestamp":"2026-12-01T)") !=
        std::string::npos);
  CHECK(orders.out.find("Payment") == std::string::npos);
}

TEST_CASE("events shows one stream's events between the versions asked for") {
  shop_journal s;
  auto all = strata_cli(s.dir, {"--journal", s.path, "events", "Order-1"});
  CHECK(all.code == 0);
  CHECK(lines(all.out) == 3);
  CHECK(all.out.find("Order-1 v1  OrderPlaced  user=alice correlation=checkout-1  "
                     R"({"customer":"c-1","currency":"EUR"})") != std::string::npos);

  auto middle = strata_cli(
      s.dir, {"--journal", s.path, "--json", "events", "Order-1", "--from", "2", "--to", "2"});
  CHECK(middle.code == 0);
  CHECK(lines(middle.out) == 1);
  CHECK(middle.out.find(R"("eventType":"OrderConfirmed")") != std::string::npos);
  CHECK(middle.out.find(R"("version":2)") != std::string::npos);
  CHECK(middle.out.find(R"("globalPosition":4)") != std::string::npos);

  auto unknown = strata_cli(s.dir, {"--journal", s.path, "events", "Order-77"});
  CHECK(unknown.code == 0);
  CHECK(unknown.out.empty());
  CHECK(unknown.err.find("Order-77 has no events") != std::string::npos);
}

TEST_CASE("events --all shows the journal in global order from a position, up to a limit") {
  shop_journal s;
  auto r =
      strata_cli(s.dir, {"--journal", s.path, "--json", "events", "--all", "--from-position", "3"});
  CHECK(r.code == 0);
  REQUIRE(lines(r.out) == 3);
  const auto third = r.out.find(R"("globalPosition":3)");
  const auto fifth = r.out.find(R"("globalPosition":5)");
  CHECK(third != std::string::npos);
  CHECK(fifth != std::string::npos);
  CHECK(third < fifth);
  CHECK(r.out.find(R"("globalPosition":2)") == std::string::npos);

  auto limited = strata_cli(s.dir, {"--journal", s.path, "events", "--all", "--limit", "2"});
  CHECK(limited.code == 0);
  CHECK(lines(limited.out) == 2);
  CHECK(limited.out.find("Payment-9 v1") != std::string::npos);
}

TEST_CASE("trace shows the events of one correlation id across streams in global order") {
  shop_journal s;
  auto r = strata_cli(s.dir, {"--journal", s.path, "trace", "checkout-1"});
  CHECK(r.code == 0);
  REQUIRE(lines(r.out) == 2);
  const auto order = r.out.find("Order-1 v1  OrderPlaced");
  const auto payment = r.out.find("Payment-9 v1  PaymentCaptured");
  CHECK(order != std::string::npos);
  CHECK(payment != std::string::npos);
  CHECK(order < payment);
  CHECK(r.out.find("checkout-2") == std::string::npos);

  auto none = strata_cli(s.dir, {"--journal", s.path, "trace", "nobody"});
  CHECK(none.code == 0);
  CHECK(none.out.empty());
  CHECK(none.err.find("no event has correlation id 'nobody'") != std::string::npos);
}

TEST_CASE("verify passes an intact journal and names the stream and version of a tampered one") {
  shop_journal s;
  auto intact = strata_cli(s.dir, {"--journal", s.path, "verify"});
  CHECK(intact.code == 0);
  CHECK(intact.out.find("intact journal: 5 events") != std::string::npos);
  auto one = strata_cli(s.dir, {"--journal", s.path, "verify", "Order-1"});
  CHECK(one.code == 0);
  CHECK(one.out.find("intact Order-1: 3 events") != std::string::npos);

  const std::string copy = s.dir.file("tampered.db");
  std::filesystem::copy_file(s.path, copy);
  REQUIRE(run_sql(copy, R"(UPDATE events SET data = '{"customer":"mallory"}' )"
                        "WHERE global_position = 4") == 0);
  auto broken = strata_cli(s.dir, {"--journal", copy, "verify"});
  CHECK(broken.code == 1);
  CHECK(broken.out.find("audit chain broken: Order-1 v2 (position 4): altered") !=
        std::string::npos);
  auto json = strata_cli(s.dir, {"--journal", copy, "--json", "verify", "Order-1"});
  CHECK(json.code == 1);
  CHECK(json.out.find(R"("intact":false,"stream":"Order-1","version":2,"position":4,)"
                      R"("kind":"altered")") != std::string::npos);
  auto other = strata_cli(s.dir, {"--journal", copy, "verify", "Payment-9"});
  CHECK(other.code == 0);
}

TEST_CASE("bad arguments exit with 2 and say what is wrong") {
  shop_journal s;
  auto no_command = strata_cli(s.dir, {"--journal", s.path});
  CHECK(no_command.code == 2);
  CHECK_FALSE(no_command.err.empty());

  auto unknown = strata_cli(s.dir, {"--journal", s.path, "frobnicate"});
  CHECK(unknown.code == 2);

  auto no_journal = strata_cli(s.dir, {"streams"});
  CHECK(no_journal.code == 2);
  CHECK(no_journal.err.find("no journal named") != std::string::npos);

  auto two = strata_cli(s.dir, {"--journal", s.path, "--config", "x.json", "streams"});
  CHECK(two.code == 2);
  CHECK(two.err.find("excludes") != std::string::npos);

  auto bad_stream = strata_cli(s.dir, {"--journal", s.path, "events", "Order"});
  CHECK(bad_stream.code == 2);
  CHECK(bad_stream.err.find("'Order' is not a stream: write it Type-id") != std::string::npos);

  auto neither = strata_cli(s.dir, {"--journal", s.path, "events"});
  CHECK(neither.code == 2);
  CHECK(neither.err.find("name a STREAM") != std::string::npos);

  auto not_a_number = strata_cli(s.dir, {"--journal", s.path, "events", "Order-1", "--from", "x"});
  CHECK(not_a_number.code == 2);

  auto help = strata_cli(s.dir, {"events", "--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("--from-position") != std::string::npos);
}

TEST_CASE("a missing or unreadable journal exits with 2 naming the file") {
  strata::testing::temp_dir dir;
  const std::string missing = dir.file("missing.db");
  auto r = strata_cli(dir, {"--journal", missing, "streams"});
  CHECK(r.code == 2);
  CHECK(r.err.find("journal file '" + missing + "' does not exist") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(missing));

  const std::string text = dir.file("notes.txt");
  std::ofstream{text} << "this is not a database, just some text that is long enough to matter\n";
  auto not_sqlite = strata_cli(dir, {"--journal", text, "verify"});
  CHECK(not_sqlite.code == 2);
  CHECK(not_sqlite.err.find(text) != std::string::npos);

  const std::string config = dir.file("config.json");
  std::ofstream{config} << R"({"journal": {"backend": "memory"}})";
  auto memory = strata_cli(dir, {"--config", config, "streams"});
  CHECK(memory.code == 2);
  CHECK(memory.err.find("memory journal") != std::string::npos);

  auto no_config = strata_cli(dir, {"--config", dir.file("nope.json"), "streams"});
  CHECK(no_config.code == 2);
  CHECK(no_config.err.find("nope.json") != std::string::npos);
}

TEST_CASE("a configuration file names the SQLite journal to read") {
  shop_journal s;
  const std::string config = s.dir.file("config.json");
  std::ofstream{config} << R"({"journal": {"backend": "sqlite", "sqlite": {"path": ")" << s.path
                        << R"("}}})";
  auto r = strata_cli(s.dir, {"--config", config, "--json", "events", "--all"});
  CHECK(r.code == 0);
  CHECK(lines(r.out) == 5);
}

#if STRATA_WITH_POSTGRES
TEST_CASE("streams, events and verify read a PostgreSQL journal") {
  STRATA_PG_CONNINFO(conninfo);
  const std::string schema = strata::persistence::testing::unique_schema("cli");
  strata::persistence::testing::schema_guard guard{conninfo, schema};
  strata::persistence::postgres_journal_options o;
  o.conninfo = conninfo;
  o.schema = schema;
  {
    auto j = strata::persistence::postgres_journal::open(o);
    REQUIRE(j.has_value());
    fill(**j);
  }
  strata::testing::temp_dir dir;
  const std::vector<std::string> pg{"--pg", conninfo, "--pg-schema", schema};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), pg.begin(), pg.end());
    return strata_cli(dir, args);
  };
  auto streams = with({"streams"});
  CHECK(streams.code == 0);
  CHECK(lines(streams.out) == 4);
  auto events = with({"--json", "events", "Order-1", "--from", "3"});
  CHECK(events.code == 0);
  CHECK(lines(events.out) == 1);
  CHECK(events.out.find(R"("eventType":"OrderShipped")") != std::string::npos);
  auto verify = with({"verify"});
  CHECK(verify.code == 0);
  CHECK(verify.out.find("intact journal: 5 events") != std::string::npos);
}
#endif
