// The `strata` operator commands run as a program: export and import, state and diff with
// the shop's deciders, projections, rebuild and retry with its read models, events --follow and
// progress on stderr.

#include <doctest/doctest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "strata/domain/orders/order.hpp"
#include "strata/persistence/host_lock.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "tests/runtime/temp_dir.hpp"
#include "tests/tools/cli_harness.hpp"
#if STRATA_WITH_POSTGRES
#include "strata/persistence/postgres/postgres_host_lock.hpp"
#include "strata/persistence/postgres/postgres_journal.hpp"
#include "tests/persistence/postgres_support.hpp"
#endif

extern char** environ;

namespace {

using namespace strata::cli_testing;
using strata::persistence::sqlite_journal;
using strata::persistence::sqlite_journal_options;

std::unique_ptr<sqlite_journal> open_sqlite(const std::string& path) {
  sqlite_journal_options o;
  o.path = path;
  auto j = sqlite_journal::open(o);
  REQUIRE(j.has_value());
  return std::move(*j);
}

new_event order_event(const strata::orders::event& e, std::int64_t us, const std::string& user) {
  auto encoded = strata::orders::order::events().encode(e);
  new_event n = make_event(std::string{encoded.type}, "corr-" + user, us, encoded.data);
  n.schema_version = encoded.schema_version;
  n.user_id = user;
  return n;
}

strata::orders::line line(const std::string& sku, std::int64_t qty, std::int64_t cents) {
  return strata::orders::line{sku, qty, strata::money{cents, "EUR"}};
}

/// Orders in the decider's own event format:
///   @1 Order-7 v1 OrderPlaced (1 x A at 10.00)  2026-12-01T10:00Z by alice
///   @2 Order-7 v2 ItemAdded   (2 x B at 5.00)   2026-12-02T10:00Z by bob
///   @3 Order-8 v1 OrderPlaced schema v1 (bare minor units: USD by the upcaster)
///   @4 Order-7 v3 OrderConfirmed                2026-12-03T10:00Z by carol
void fill_orders(journal& j) {
  namespace o = strata::orders;
  const std::int64_t day = 86'400'000'000;
  const std::int64_t t0 = 1'796'083'200'000'000 + 10 * 3'600'000'000LL;  // 2026-12-01T10:00Z
  const stream_id order7{"Order", "7"};
  auto a = j.append({stream_append{
      order7,
      version{0},
      {order_event(o::placed{"c-1", "EUR", {line("A", 1, 1000)}, {1000, "EUR"}}, t0, "alice")}}});
  REQUIRE(a.has_value());
  auto b = j.append({stream_append{
      order7, version{1}, {order_event(o::item_added{line("B", 2, 500)}, t0 + day, "bob")}}});
  REQUIRE(b.has_value());
  new_event old = make_event("OrderPlaced", "corr-old", t0 + day + 1,
                             R"({"customer_id":"c-2","lines":[{"sku":"C","quantity":1,)"
                             R"("unit_price":250}],"total":250})");
  old.schema_version = 1;
  auto c = j.append({stream_append{stream_id{"Order", "8"}, version{0}, {old}}});
  REQUIRE(c.has_value());
  auto d = j.append(
      {stream_append{order7, version{2}, {order_event(o::confirmed{}, t0 + 2 * day, "carol")}}});
  REQUIRE(d.has_value());
}

struct orders_journal {
  strata::testing::temp_dir dir;
  std::string path = dir.file("orders.db");
  orders_journal() { fill_orders(*open_sqlite(path)); }
};

/// `strata` started in the background, stdout and stderr in files of `dir`.
struct background_cli {
  inline static int started = 0;
  pid_t pid = -1;
  std::string out;
  std::string err;

  background_cli(const strata::testing::temp_dir& dir, const std::vector<std::string>& args)
      : out(dir.file("bg" + std::to_string(++started) + ".out")),
        err(dir.file("bg" + std::to_string(started) + ".err")) {
    namespace t = strata::cli_testing;
    std::string command = "exec " + t::quoted(STRATA_CLI_PATH);
    for (const auto& a : args) command += " " + t::quoted(a);
    command += " >" + t::quoted(out) + " 2>" + t::quoted(err) + " </dev/null";
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    REQUIRE(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ) == 0);
  }

  /// Waits (at most 60 s) until `done` holds; false when it never did.
  template <class Done>
  static bool wait_until(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    return true;
  }

  /// The exit code once it ended (at most 60 s), -1 when it did not end or was killed.
  int wait_exit() {
    int status = 0;
    const bool ended = wait_until([&] { return waitpid(pid, &status, WNOHANG) == pid; });
    if (!ended) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  ~background_cli() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      int status = 0;
      waitpid(pid, &status, 0);
    }
  }
};

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("export writes the journal as JSON lines that import appends to another journal") {
  shop_journal s;
  const std::string file = s.dir.file("all.jsonl");
  auto exported = strata_cli(s.dir, {"--journal", s.path, "export", "--output", file});
  CHECK(exported.code == 0);
  CHECK(exported.err.find("exported 5 events to " + file) != std::string::npos);
  const std::string text = slurp(file);
  CHECK(lines(text) == 5);
  auto events = strata_cli(s.dir, {"--journal", s.path, "--json", "events", "--all"});
  CHECK(text == events.out);  // the format --json events prints

  const std::string target = s.dir.file("copy.db");
  auto imported = strata_cli(s.dir, {"--journal", target, "import", file});
  CHECK(imported.code == 0);
  CHECK(imported.out.find("imported 5 events of 3 streams from " + file) != std::string::npos);
  auto copy = strata_cli(s.dir, {"--journal", target, "--json", "events", "--all"});
  CHECK(copy.out == text);  // same events, hashes and positions
  auto verify = strata_cli(s.dir, {"--journal", target, "verify"});
  CHECK(verify.code == 0);

  auto one = strata_cli(s.dir, {"--journal", s.path, "export", "Order-1"});
  CHECK(one.code == 0);
  CHECK(lines(one.out) == 3);
  CHECK(one.out.find("Payment") == std::string::npos);
  auto exists = strata_cli(s.dir, {"--journal", s.path, "export", "--output", file});
  CHECK(exists.code == 2);
  CHECK(exists.err.find("cannot create '" + file + "'") != std::string::npos);
  CHECK(lines(slurp(file)) == 5);
}

TEST_CASE("import continues a stream the target holds and refuses one that conflicts") {
  shop_journal s;
  const std::string file = s.dir.file("order1.jsonl");
  std::ofstream{file} << strata_cli(s.dir, {"--journal", s.path, "export", "Order-1"}).out;
  // A target that holds Order-1 v1 only (the same event) takes v2 and v3 of a file starting there.
  const std::string target = s.dir.file("target.db");
  std::ofstream{s.dir.file("head.jsonl")}
      << strata_cli(s.dir, {"--journal", s.path, "--json", "events", "Order-1", "--to", "1"}).out;
  REQUIRE(strata_cli(s.dir, {"--journal", target, "import", s.dir.file("head.jsonl")}).code == 0);
  auto again = strata_cli(s.dir, {"--journal", target, "import", file});
  CHECK(again.code == 1);
  CHECK(again.err.find(file + ":1: Order-1 starts at v1 in the file but the target journal holds "
                              "it up to v1: refusing to overwrite") != std::string::npos);
  CHECK(again.err.find("nothing was imported") != std::string::npos);
  std::ofstream{s.dir.file("tail.jsonl")}
      << strata_cli(s.dir, {"--journal", s.path, "--json", "events", "Order-1", "--from", "2"}).out;
  auto tail = strata_cli(s.dir, {"--journal", target, "import", s.dir.file("tail.jsonl")});
  CHECK(tail.code == 0);
  auto verify = strata_cli(s.dir, {"--journal", target, "verify", "Order-1"});
  CHECK(verify.code == 0);
  CHECK(verify.out.find("intact Order-1: 3 events") != std::string::npos);
}

TEST_CASE("import refuses a file with a broken hash chain and appends nothing of it") {
  shop_journal s;
  const std::string tampered = s.dir.file("tampered.db");
  std::filesystem::copy_file(s.path, tampered);
  REQUIRE(run_sql(tampered, R"(UPDATE events SET data = '{"customer":"mallory"}' )"
                            "WHERE global_position = 4") == 0);
  const std::string file = s.dir.file("tampered.jsonl");
  std::ofstream{file} << strata_cli(s.dir, {"--journal", tampered, "export"}).out;
  const std::string target = s.dir.file("target.db");
  auto r = strata_cli(s.dir, {"--journal", target, "import", file});
  CHECK(r.code == 1);
  CHECK(r.err.find(file + ":4: audit chain broken: Order-1 v2 was altered") != std::string::npos);
  auto streams = strata_cli(s.dir, {"--journal", target, "streams"});
  CHECK(streams.code == 0);
  CHECK(streams.out == "no streams\n");
}

TEST_CASE("import refuses a malformed line or an unreadable file with 2, naming it") {
  shop_journal s;
  std::string text = strata_cli(s.dir, {"--journal", s.path, "export"}).out;
  const std::string file = s.dir.file("bad.jsonl");
  std::ofstream{file} << text.substr(0, text.find('\n') + 1) << R"({"eventId": 7})"
                      << "\n"
                      << text.substr(text.find('\n') + 1);
  const std::string target = s.dir.file("target.db");
  auto r = strata_cli(s.dir, {"--journal", target, "import", file});
  CHECK(r.code == 2);
  CHECK(r.err.find(file + ":2: not an event record: ") != std::string::npos);
  CHECK(r.err.find("eventId") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(target));  // the file is read before the journal is opened

  std::ofstream{s.dir.file("junk.jsonl")} << "this is not json\n";
  auto junk = strata_cli(s.dir, {"--journal", s.path, "import", s.dir.file("junk.jsonl")});
  CHECK(junk.code == 2);
  CHECK(junk.err.find("junk.jsonl:1: not an event record") != std::string::npos);

  auto missing = strata_cli(s.dir, {"--journal", target, "import", s.dir.file("nope.jsonl")});
  CHECK(missing.code == 2);
  CHECK(missing.err.find("cannot read '" + s.dir.file("nope.jsonl") + "'") != std::string::npos);
  auto verify = strata_cli(s.dir, {"--journal", s.path, "verify"});
  CHECK(verify.out.find("intact journal: 5 events") != std::string::npos);
}

TEST_CASE("state rebuilds an order at a version, at a time and now, upcasting old events") {
  orders_journal o;
  auto now = strata_cli(o.dir, {"--journal", o.path, "state", "Order-7"});
  CHECK(now.code == 0);
  CHECK(now.out.find("Order-7 at v3 (2026-12-03T10:00:00.000000Z), from 3 events replayed") !=
        std::string::npos);
  CHECK(now.out.find(R"("current":"confirmed","currency":"EUR","total_minor":2000)") !=
        std::string::npos);

  auto first =
      strata_cli(o.dir, {"--journal", o.path, "--json", "state", "Order-7", "--at-version", "1"});
  CHECK(first.code == 0);
  CHECK(first.out.find(R"({"stream":"Order-7","version":1,"timestamp":"2026-12-01T10:00:00.)") ==
        0);
  CHECK(first.out.find(R"("state":{"current":"open","currency":"EUR","total_minor":1000)") !=
        std::string::npos);

  auto tuesday =
      strata_cli(o.dir, {"--journal", o.path, "state", "Order-7", "--at", "2026-12-02T12:00:00Z"});
  CHECK(tuesday.code == 0);
  CHECK(tuesday.out.find("Order-7 at v2") != std::string::npos);
  auto day = strata_cli(o.dir, {"--journal", o.path, "state", "Order-7", "--at", "2026-12-02"});
  CHECK(day.out.find("Order-7 at v1") != std::string::npos);
  auto before = strata_cli(o.dir, {"--journal", o.path, "state", "Order-7", "--at", "2020-01-01"});
  CHECK(before.code == 0);
  CHECK(before.out.find("v0 (before its first event)") != std::string::npos);

  auto old = strata_cli(o.dir, {"--journal", o.path, "state", "Order-8"});
  CHECK(old.code == 0);
  CHECK(old.out.find(R"("currency":"USD","total_minor":250)") != std::string::npos);

  auto unknown = strata_cli(o.dir, {"--journal", o.path, "state", "Ledger-1"});
  CHECK(unknown.code == 2);
  CHECK(unknown.err.find("no decider for aggregate type 'Ledger' (it knows Order, Payment, "
                         "InventoryItem, UserActivity)") != std::string::npos);
  auto bad_time = strata_cli(o.dir, {"--journal", o.path, "state", "Order-7", "--at", "tuesday"});
  CHECK(bad_time.code == 2);
  CHECK(bad_time.err.find("--at 'tuesday' is not a time") != std::string::npos);
}

TEST_CASE("diff shows the state before, the events between and the state after two points") {
  orders_journal o;
  auto r = strata_cli(o.dir, {"--journal", o.path, "diff", "Order-7", "--from", "1", "--to",
                              "2026-12-03T10:00:00Z"});
  CHECK(r.code == 0);
  REQUIRE(lines(r.out) == 5);
  CHECK(r.out.find("Order-7 from v1 (2026-12-01T10:00:00.000000Z) to v3 "
                   "(2026-12-03T10:00:00.000000Z): 2 events") == 0);
  const auto before = r.out.find(R"(before: {"current":"open")");
  const auto added = r.out.find("Order-7 v2  ItemAdded  user=bob");
  const auto confirmed = r.out.find("Order-7 v3  OrderConfirmed  user=carol");
  const auto after = r.out.find(R"(after:  {"current":"confirmed")");
  CHECK(before < added);
  CHECK(added < confirmed);
  CHECK(confirmed < after);
  CHECK(after != std::string::npos);

  auto json = strata_cli(o.dir, {"--journal", o.path, "--json", "diff", "Order-7", "--from", "0"});
  CHECK(json.code == 0);
  CHECK(lines(json.out) == 1);
  CHECK(json.out.find(R"("from":{"version":0,"timestamp":null,"state":{"current":"none")") !=
        std::string::npos);
  CHECK(count(json.out, R"("eventType":)") == 3);

  auto backwards =
      strata_cli(o.dir, {"--journal", o.path, "diff", "Order-7", "--from", "3", "--to", "1"});
  CHECK(backwards.code == 2);
  CHECK(backwards.err.find("is before --from") != std::string::npos);
}

TEST_CASE(
    "rebuild catches a read model up, projections shows lag and parked events, retry "
    "clears one") {
  orders_journal o;
  const std::string read = o.dir.file("read.db");
  auto none = strata_cli(o.dir, {"--journal", o.path, "projections", "--read-models", read});
  CHECK(none.code == 2);
  CHECK(none.err.find("read-model file '" + read + "' does not exist") != std::string::npos);

  auto rebuilt = strata_cli(o.dir, {"--journal", o.path, "--progress", "rebuild", "order_summary",
                                    "--read-models", read});
  CHECK(rebuilt.code == 0);
  CHECK(rebuilt.out == "rebuilt order_summary: position 4, 4 events applied, 0 parked\n");
  CHECK(rebuilt.err.find("rebuild order_summary  4/4 events  100%") != std::string::npos);

  auto list = strata_cli(o.dir, {"--journal", o.path, "projections", "--read-models", read});
  CHECK(list.code == 0);
  CHECK(list.out.find("journal head: position 4") != std::string::npos);
  CHECK(list.out.find("order_summary        4         0    0       2026-12-03T10:00:00") !=
        std::string::npos);
  CHECK(list.out.find("payments_ledger      0         4    0       -") != std::string::npos);

  // A copy whose ItemAdded does not decode: rebuilding parks it.
  const std::string broken = o.dir.file("broken.db");
  std::filesystem::copy_file(o.path, broken);
  REQUIRE(run_sql(broken, R"(UPDATE events SET data = '{"item":7}' WHERE global_position = 2)") ==
          0);
  const std::string broken_read = o.dir.file("broken-read.db");
  auto parked = strata_cli(
      o.dir, {"--journal", broken, "rebuild", "order_summary", "--read-models", broken_read});
  CHECK(parked.code == 1);
  CHECK(parked.out.find("4 events applied, 1 parked") != std::string::npos);
  auto json = strata_cli(
      o.dir, {"--journal", broken, "--json", "projections", "--read-models", broken_read});
  CHECK(json.out.find(R"({"projection":"order_summary","position":4,"head":4,"lag":0,)"
                      R"("parked":1,)") != std::string::npos);
  CHECK(json.out.find(R"("deadLetters":[{"position":2,)") != std::string::npos);
  auto text = strata_cli(o.dir, {"--journal", broken, "projections", "--read-models", broken_read});
  CHECK(text.out.find("parked: order_summary @2 ItemAdded (attempts 1") != std::string::npos);

  auto again = strata_cli(
      o.dir, {"--journal", broken, "retry", "order_summary", "2", "--read-models", broken_read});
  CHECK(again.code == 1);
  CHECK(again.err.find("order_summary @2 failed again and stays parked") != std::string::npos);
  REQUIRE(run_sql(broken, "ATTACH '" + o.path +
                              "' AS good; UPDATE events SET data = (SELECT data FROM good.events "
                              "WHERE global_position = 2) WHERE global_position = 2") == 0);
  auto fixed = strata_cli(
      o.dir, {"--journal", broken, "retry", "order_summary", "2", "--read-models", broken_read});
  CHECK(fixed.code == 0);
  CHECK(fixed.out == "order_summary @2 applied and removed from the dead letters\n");
  auto cleared =
      strata_cli(o.dir, {"--journal", broken, "projections", "--read-models", broken_read});
  CHECK(cleared.out.find("parked:") == std::string::npos);
  auto not_parked = strata_cli(
      o.dir, {"--journal", broken, "retry", "order_summary", "2", "--read-models", broken_read});
  CHECK(not_parked.code == 2);
  CHECK(not_parked.err.find("order_summary has no parked event at position 2") !=
        std::string::npos);
  auto unknown = strata_cli(o.dir, {"--journal", o.path, "rebuild", "nope", "--read-models", read});
  CHECK(unknown.code == 2);
  CHECK(unknown.err.find("no projection 'nope' (it knows order_summary, payments_ledger, "
                         "inventory_levels, user_activity_daily)") != std::string::npos);
}

TEST_CASE("rebuild and retry refuse while a runtime holds the store's host lock, unless --force") {
  orders_journal o;
  const std::string read = o.dir.file("read.db");
  const std::vector<std::string> rebuild{"--journal",     o.path,          "rebuild",
                                         "order_summary", "--read-models", read};
  const std::vector<std::string> retry{"--journal", o.path,          "retry", "order_summary",
                                       "2",         "--read-models", read};
  {
    // What a running runtime holds (runtime::start takes it, stop releases it).
    auto held = strata::lock_sqlite_host(o.path);
    REQUIRE(held.has_value());
    for (const auto& args : {rebuild, retry}) {
      auto refused = strata_cli(o.dir, args);
      CHECK(refused.code == 2);
      CHECK(refused.err.find("a runtime is running on this store") != std::string::npos);
      CHECK(refused.err.find("use runtime::rebuild_projection from the host, or stop it") !=
            std::string::npos);
      CHECK(refused.out.empty());
    }
    CHECK_FALSE(std::filesystem::exists(read));  // nothing was touched
    auto forced_args = rebuild;
    forced_args.push_back("--force");
    auto forced = strata_cli(o.dir, forced_args);
    CHECK(forced.code == 0);
    CHECK(forced.out.find("4 events applied") != std::string::npos);
  }
  // Released: both go through, and while they run they hold the lock themselves.
  auto rebuilt = strata_cli(o.dir, rebuild);
  CHECK(rebuilt.code == 0);
  CHECK(rebuilt.out == "rebuilt order_summary: position 4, 4 events applied, 0 parked\n");
  auto not_parked = strata_cli(o.dir, retry);
  CHECK(not_parked.code == 2);
  CHECK(not_parked.err.find("has no parked event at position 2") != std::string::npos);
  auto again = strata::lock_sqlite_host(o.path);
  CHECK(again.has_value());  // the command released it when it ended
}

TEST_CASE("a configuration names the read-model store projections reads") {
  orders_journal o;
  const std::string read = o.dir.file("strata-read.db");
  const std::string config = o.dir.file("config.json");
  std::ofstream{config} << R"({"journal": {"backend": "sqlite", "sqlite": {"path": ")" << o.path
                        << R"("}}, "projections": {"path": ")" << read << R"("}})";
  CHECK(strata_cli(o.dir, {"--config", config, "rebuild", "payments_ledger"}).code == 0);
  auto list = strata_cli(o.dir, {"--config", config, "--json", "projections"});
  CHECK(list.code == 0);
  CHECK(lines(list.out) == 4);
  CHECK(list.out.find(R"({"projection":"payments_ledger","position":4,"head":4,"lag":0,)") !=
        std::string::npos);
}

TEST_CASE("events --follow prints events another process appends, up to --max-events") {
  shop_journal s;
  background_cli follower{s.dir,
                          {"--journal", s.path, "--json", "events", "--all", "--follow",
                           "--poll-ms", "20", "--max-events", "7"}};
  CHECK(background_cli::wait_until([&] { return lines(slurp(follower.out)) == 5; }));
  {
    auto j = open_sqlite(s.path);
    auto a = j->append({stream_append{stream_id{"Order", "3"},
                                      version{0},
                                      {make_event("OrderPlaced", "late-1", 1, "{}"),
                                       make_event("OrderConfirmed", "late-1", 2, "{}")}}});
    REQUIRE(a.has_value());
  }
  CHECK(follower.wait_exit() == 0);
  const std::string out = slurp(follower.out);
  CHECK(lines(out) == 7);
  CHECK(out.find(R"("aggregateId":"3","aggregateType":"Order")") != std::string::npos);
  CHECK(out.find(R"("globalPosition":7)") != std::string::npos);
}

TEST_CASE("events STREAM --follow ends cleanly on SIGTERM and on SIGINT") {
  shop_journal s;
  for (int sig : {SIGTERM, SIGINT}) {
    background_cli follower{s.dir, {"--journal", s.path, "events", "Order-1", "--follow"}};
    CHECK(background_cli::wait_until([&] { return lines(slurp(follower.out)) == 3; }));
    kill(follower.pid, sig);
    CHECK(follower.wait_exit() == 0);
    CHECK(slurp(follower.err).empty());
  }
  auto bad = strata_cli(s.dir, {"--journal", s.path, "events", "--all", "--max-events", "2"});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("--max-events requires --follow") != std::string::npos);
}

TEST_CASE("progress goes to stderr only when asked for, never into --json stdout") {
  shop_journal s;
  auto quiet = strata_cli(s.dir, {"--journal", s.path, "--json", "export"});
  CHECK(quiet.err.empty());  // stderr is not a terminal here
  auto shown = strata_cli(s.dir, {"--journal", s.path, "--json", "--progress", "export"});
  CHECK(shown.code == 0);
  CHECK(shown.out == quiet.out);
  CHECK(shown.err.find("export  5/5 events  100%") != std::string::npos);
  CHECK(shown.err.find("/s") != std::string::npos);
  auto verify = strata_cli(s.dir, {"--journal", s.path, "--progress", "verify"});
  CHECK(verify.code == 0);
  CHECK(verify.out == "intact journal: 5 events\n");
  CHECK(verify.err.find("verify  5/5 events") != std::string::npos);
}

#if STRATA_WITH_POSTGRES
TEST_CASE("export and import move a journal between SQLite and PostgreSQL") {
  STRATA_PG_CONNINFO(conninfo);
  const std::string schema = strata::persistence::testing::unique_schema("cli_import");
  strata::persistence::testing::schema_guard guard{conninfo, schema};
  shop_journal s;
  const std::string file = s.dir.file("all.jsonl");
  REQUIRE(strata_cli(s.dir, {"--journal", s.path, "export", "-o", file}).code == 0);
  const std::vector<std::string> pg{"--pg", conninfo, "--pg-schema", schema};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), pg.begin(), pg.end());
    return strata_cli(s.dir, args);
  };
  auto imported = with({"import", file});
  CHECK(imported.code == 0);
  auto verify = with({"verify"});
  CHECK(verify.code == 0);
  CHECK(verify.out.find("intact journal: 5 events") != std::string::npos);
  auto back = with({"export"});
  CHECK(back.out == slurp(file));
  auto twice = with({"import", file});
  CHECK(twice.code == 1);
  CHECK(with({"verify"}).out.find("intact journal: 5 events") != std::string::npos);

  auto wrong_password =
      strata_cli(s.dir, {"--pg", conninfo + " password=wrong-password user=nobody", "--pg-schema",
                         schema, "import", file});
  CHECK(wrong_password.code == 2);
  CHECK(wrong_password.err.find("cannot read the PostgreSQL journal") != std::string::npos);
  CHECK(with({"verify"}).out.find("intact journal: 5 events") != std::string::npos);
}

TEST_CASE("state, rebuild and projections work on a PostgreSQL journal and read models") {
  STRATA_PG_CONNINFO(conninfo);
  const std::string schema = strata::persistence::testing::unique_schema("cli_orders");
  const std::string read_schema = schema + "_read";
  strata::persistence::testing::schema_guard guard{conninfo, schema};
  strata::persistence::testing::schema_guard read_guard{conninfo, read_schema};
  {
    strata::persistence::postgres_journal_options o;
    o.conninfo = conninfo;
    o.schema = schema;
    auto j = strata::persistence::postgres_journal::open(o);
    REQUIRE(j.has_value());
    fill_orders(**j);
  }
  strata::testing::temp_dir dir;
  const std::vector<std::string> pg{"--pg", conninfo, "--pg-schema", schema};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.begin(), pg.begin(), pg.end());
    return strata_cli(dir, args);
  };
  auto state = with({"state", "Order-7", "--at-version", "2"});
  CHECK(state.code == 0);
  CHECK(state.out.find(R"("current":"open","currency":"EUR","total_minor":2000)") !=
        std::string::npos);
  const std::vector<std::string> read{"--read-models-pg", conninfo, "--read-models-schema",
                                      read_schema};
  std::vector<std::string> rebuild{"rebuild", "order_summary"};
  rebuild.insert(rebuild.end(), read.begin(), read.end());
  auto rebuilt = with(rebuild);
  CHECK(rebuilt.code == 0);
  CHECK(rebuilt.out.find("rebuilt order_summary: position 4, 4 events applied, 0 parked") !=
        std::string::npos);
  std::vector<std::string> list{"--json", "projections"};
  list.insert(list.end(), read.begin(), read.end());
  auto listed = with(list);
  CHECK(listed.code == 0);
  CHECK(listed.out.find(R"({"projection":"order_summary","position":4,"head":4,"lag":0,)") !=
        std::string::npos);
  CHECK(listed.out.find(R"({"projection":"inventory_levels","position":0,"head":4,"lag":4,)") !=
        std::string::npos);
  {
    // A runtime on the schema holds its advisory lock: rebuild refuses until it is released.
    auto held = strata::lock_postgres_host(conninfo, schema);
    REQUIRE_MESSAGE(held.has_value(), (held ? "" : held.err().message));
    auto second = strata::lock_postgres_host(conninfo, schema);
    REQUIRE_FALSE(second.has_value());
    CHECK(second.err().code == strata::errc::conflict);
    auto refused = with(rebuild);
    CHECK(refused.code == 2);
    CHECK(refused.err.find("a runtime is running on this store") != std::string::npos);
  }
  auto released = with(rebuild);
  CHECK(released.code == 0);
}
#endif
