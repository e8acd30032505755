// `strata archive`, and `events` / `verify` with `--archive`, run as a program: exit codes,
// what it prints, and crashes (SIGKILL) at every step of an archive run.

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "strata/domain/orders/order.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/persistence/sqlite_snapshot_store.hpp"
#include "tests/runtime/temp_dir.hpp"
#if STRATA_WITH_POSTGRES
#include "strata/persistence/postgres/postgres_journal.hpp"
#include "strata/persistence/postgres/postgres_snapshot_store.hpp"
#include "tests/persistence/postgres_support.hpp"
#endif

namespace {

using strata::stream_id;
using strata::version;
using strata::persistence::journal;
using strata::persistence::new_event;
using strata::persistence::snapshot_record;
using strata::persistence::snapshot_store;
using strata::persistence::stream_append;

struct run_result {
  int code = -1;   ///< The exit code; -1 when killed by a signal.
  int signal = 0;  ///< The signal that ended it, if any.
  std::string out;
  std::string err;
};

std::string shell_quote(const std::string& arg) {
  std::string q = "'";
  for (char ch : arg) q += ch == '\'' ? std::string{"'\\''"} : std::string{ch};
  return q + "'";
}

std::string read_text(const std::string& path) {
  std::ifstream in{path};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs `strata` with `args` (and `env`, "NAME=value" or empty), capturing its output.
run_result run_strata(const strata::testing::temp_dir& dir, const std::vector<std::string>& args,
                      const std::string& env = {}) {
  std::string command = "exec ";
  if (!env.empty()) command += "env " + shell_quote(env) + " ";
  command += shell_quote(STRATA_CLI_PATH);
  for (const auto& a : args) command += " " + shell_quote(a);
  const std::string out = dir.file("archive-cli.out");
  const std::string err = dir.file("archive-cli.err");
  command += " >" + shell_quote(out) + " 2>" + shell_quote(err) + " </dev/null";
  const int status = std::system(command.c_str());  // `exec`: a signal reaches us as such
  run_result r;
  if (WIFEXITED(status)) {
    r.code = WEXITSTATUS(status);
    if (r.code > 128) r.signal = r.code - 128;  // the shell reports a killed child this way
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

std::size_t count_lines(const std::string& text) {
  std::size_t n = 0;
  for (char ch : text) n += ch == '\n' ? 1 : 0;
  return n;
}

constexpr std::int64_t old_time = 1'577'836'800'000'000;  // 2020-01-01T00:00:00Z
constexpr std::int64_t new_time = 4'102'444'800'000'000;  // 2100-01-01T00:00:00Z

new_event event_at(std::int64_t us, int n) {
  new_event e;
  e.event_id = "evt-" + std::to_string(us) + "-" + std::to_string(n);
  e.event_type = "Step";
  e.time = strata::from_unix_micros(us);
  e.user_id = "alice";
  static int commands = 0;  // every append is its own command
  e.command_id = "cmd-" + std::to_string(++commands);
  e.correlation_id = "corr-" + std::to_string(n);
  e.data = R"({"n":)" + std::to_string(n) + "}";
  return e;
}

/// Appends `n` events to `stream` (1 per transaction, so global order interleaves streams).
void append(journal& j, const stream_id& stream, int n, std::int64_t time) {
  auto head = j.head(stream);
  REQUIRE(head.has_value());
  for (int i = 0; i < n; ++i) {
    auto out = j.append({stream_append{stream, version{head->value + i}, {event_at(time, i)}}});
    REQUIRE(out.has_value());
    REQUIRE((*out)[0].has_value());
  }
}

void snapshot_at(journal& j, snapshot_store& s, const stream_id& stream, std::uint64_t at) {
  strata::persistence::stream_range r;
  r.from = version{at};
  r.to = version{at};
  auto e = j.read_stream(stream, r);
  REQUIRE(e.has_value());
  REQUIRE(e->size() == 1);
  snapshot_record rec;
  rec.stream = stream;
  rec.at = version{at};
  rec.last_event_hash = e->front().hash;
  rec.state = R"({"state":{},"recent":[]})";
  REQUIRE(s.save(rec).has_value());
}

/// The history every case archives (49 events):
///   Order-1: 20 old events, then 5 new ones; snapshots at 8 and 15: cut through 14.
///   Order-2: 12 old events, snapshot at 12: cut through 11 (v12 stays to check it).
///   Order-3: 6 old events, no snapshot: kept whole.
///   Order-4: 6 old events, snapshot at 4: cut through 3.
void fill(journal& j, snapshot_store& s) {
  for (int round = 0; round < 2; ++round) {
    append(j, stream_id{"Order", "1"}, 10, old_time);
    append(j, stream_id{"Order", "2"}, 6, old_time);
    append(j, stream_id{"Order", "3"}, 3, old_time);
    append(j, stream_id{"Order", "4"}, 3, old_time);
  }
  append(j, stream_id{"Order", "1"}, 5, new_time);
  snapshot_at(j, s, stream_id{"Order", "1"}, 8);
  snapshot_at(j, s, stream_id{"Order", "1"}, 15);
  snapshot_at(j, s, stream_id{"Order", "2"}, 12);
  snapshot_at(j, s, stream_id{"Order", "4"}, 4);
}

constexpr std::size_t total_events = 49;
constexpr std::size_t archived_events = 14 + 11 + 3;

struct sqlite_shop {
  strata::testing::temp_dir dir;
  std::string path = dir.file("journal.db");
  std::string cold = dir.file("cold.db");
  sqlite_shop() {
    strata::persistence::sqlite_journal_options o;
    o.path = path;
    auto j = strata::persistence::sqlite_journal::open(o);
    REQUIRE(j.has_value());
    strata::persistence::sqlite_snapshot_store_options so;
    so.path = path;
    auto s = strata::persistence::sqlite_snapshot_store::open(so);
    REQUIRE(s.has_value());
    fill(**j, **s);
  }
  std::vector<std::string> journal() const { return {"--journal", path}; }
};

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// Every position 1..n appears exactly once in `events --all --archive --json`.
void check_every_event_once(const strata::testing::temp_dir& dir,
                            const std::vector<std::string>& journal, const std::string& cold) {
  auto all = run_strata(dir, concat(journal, {"--json", "events", "--all", "--archive", cold}));
  REQUIRE(all.code == 0);
  CHECK(count_lines(all.out) == total_events);
  std::set<std::string> positions;
  std::istringstream in{all.out};
  for (std::string line; std::getline(in, line);) {
    const auto at = line.find("\"globalPosition\":");
    REQUIRE(at != std::string::npos);
    positions.insert(line.substr(at, line.find_first_of(",}", at) - at));
  }
  CHECK(positions.size() == total_events);
}

void check_archived_shop(const strata::testing::temp_dir& dir,
                         const std::vector<std::string>& journal, const std::string& cold) {
  auto alone = run_strata(dir, {"verify", "--archive", cold});
  CHECK(alone.code == 0);
  CHECK(alone.out.find("intact archive") != std::string::npos);
  CHECK(alone.out.find(std::to_string(archived_events) + " events") != std::string::npos);
  auto both = run_strata(dir, concat(journal, {"verify", "--archive", cold}));
  CHECK_MESSAGE(both.code == 0, both.out << both.err);
  CHECK(both.out.find("intact journal and archive") != std::string::npos);
  auto hot = run_strata(dir, concat(journal, {"verify"}));
  CHECK_MESSAGE(hot.code == 0, hot.out << hot.err);
  auto one = run_strata(dir, concat(journal, {"verify", "Order-1"}));
  CHECK(one.code == 0);
  auto hot_events = run_strata(dir, concat(journal, {"events", "Order-1"}));
  CHECK(hot_events.code == 0);
  CHECK(count_lines(hot_events.out) == 25 - 14);
  auto seamless = run_strata(dir, concat(journal, {"events", "Order-1", "--archive", cold}));
  CHECK(seamless.code == 0);
  CHECK(count_lines(seamless.out) == 25);
  auto part = run_strata(
      dir, concat(journal, {"events", "Order-1", "--archive", cold, "--from", "13", "--to", "16"}));
  CHECK(part.code == 0);
  CHECK(count_lines(part.out) == 4);
  check_every_event_once(dir, journal, cold);
}

constexpr std::int64_t year_2021 = 1'609'459'200'000'000;  // 2021-01-01T00:00:00Z
constexpr std::int64_t year_2022 = 1'640'995'200'000'000;  // 2022-01-01T00:00:00Z

/// An event of the shop's Order decider, as the runtime would have written it.
new_event order_event(const strata::orders::event& e, std::int64_t us, int n) {
  auto encoded = strata::orders::order::events().encode(e);
  new_event out = event_at(us, n);
  out.event_type = std::string{encoded.type};
  out.schema_version = encoded.schema_version;
  out.data = encoded.data;
  return out;
}

/// The "state" member of a `--json state` line.
std::string state_of(const std::string& line) {
  const auto at = line.find("\"state\":");
  REQUIRE(at != std::string::npos);
  return line.substr(at + 8, line.rfind('}') - at - 8);
}

/// Order-5, archived into three yearly files by three runs:
///   v1 OrderPlaced and v2..v10 ItemAdded in 2020, v11..v14 in 2021, v15 in 2022, v16..v17 in
///   2100; snapshots at 6, 12 and 16. a2020.db holds v1..v5, a2021.db v6..v11, a2022.db
///   v12..v15; the journal v16 on. `copy` is the journal as it was after the first run.
struct yearly_orders {
  strata::testing::temp_dir dir;
  std::string path = dir.file("orders.db");
  std::string copy = dir.file("orders-copy.db");
  std::string a2020 = dir.file("a2020.db");
  std::string a2021 = dir.file("a2021.db");
  std::string a2022 = dir.file("a2022.db");
  std::vector<std::string> before;  ///< Outputs of `reads` before anything was archived.

  /// The reads compared before and after archiving (with --archive appended after).
  static std::vector<std::vector<std::string>> reads() {
    return {{"--json", "state", "Order-5", "--at-version", "3"},
            {"--json", "state", "Order-5", "--at-version", "9", "--no-snapshots"},
            {"--json", "state", "Order-5", "--at-version", "13"},
            {"--json", "state", "Order-5"},
            {"state", "Order-5", "--at", "2020-06-01"},
            {"--json", "diff", "Order-5", "--from", "2", "--to", "14"},
            {"diff", "Order-5", "--from", "4", "--to", "7"},
            {"export", "Order-5"},
            {"export"},
            {"--json", "events", "Order-5"},
            {"--json", "events", "--all"}};
  }

  std::vector<std::string> journal(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--journal", path});
    return args;
  }

  yearly_orders() {
    namespace o = strata::orders;
    const stream_id order{"Order", "5"};
    {
      strata::persistence::sqlite_journal_options jo;
      jo.path = path;
      auto j = strata::persistence::sqlite_journal::open(jo);
      REQUIRE(j.has_value());
      auto add = [&](const strata::orders::event& e, std::int64_t us, std::uint64_t at) {
        auto out = (*j)->append({stream_append{order, version{at}, {order_event(e, us, int(at))}}});
        REQUIRE(out.has_value());
        REQUIRE((*out)[0].has_value());
      };
      const o::line first{"A", 1, strata::money{1000, "EUR"}};
      add(o::placed{"c-1", "EUR", {first}, {1000, "EUR"}}, old_time, 0);
      for (std::uint64_t v = 1; v < 17; ++v) {
        const std::int64_t t = v < 10   ? old_time + std::int64_t(v)
                               : v < 14 ? year_2021 + std::int64_t(v)
                               : v < 15 ? year_2022
                                        : new_time + std::int64_t(v);
        add(o::item_added{o::line{"sku-" + std::to_string(v % 3), 1, strata::money{100, "EUR"}}}, t,
            v);
      }
    }
    save_snapshots(order);
    for (const auto& args : reads()) {
      auto r = run_strata(dir, journal(args));
      REQUIRE_MESSAGE(r.code == 0, r.err);
      before.push_back(r.out);
    }
    archive("2020-06-01T00:00:00Z", a2020, "5 events copied");
    std::filesystem::copy_file(path, copy);  // no connection is open: no -wal file to copy
    archive("2021-06-01T00:00:00Z", a2021, "6 events copied");
    archive("2022-06-01T00:00:00Z", a2022, "4 events copied");
  }

  /// Snapshots at 6, 12 and 16 holding the states `strata state` rebuilds there.
  void save_snapshots(const stream_id& order) {
    strata::persistence::sqlite_snapshot_store_options so;
    so.path = path;
    auto snaps = strata::persistence::sqlite_snapshot_store::open(so);
    REQUIRE(snaps.has_value());
    for (std::uint64_t at : {6, 12, 16}) {
      auto state = run_strata(dir, journal({"--json", "state", "Order-5", "--at-version",
                                            std::to_string(at), "--no-snapshots"}));
      REQUIRE(state.code == 0);
      strata::persistence::sqlite_journal_options jo;
      jo.path = path;
      jo.read_only = true;
      auto j = strata::persistence::sqlite_journal::open(jo);
      REQUIRE(j.has_value());
      strata::persistence::stream_range r;
      r.from = version{at};
      r.to = version{at};
      snapshot_record rec;
      rec.stream = order;
      rec.at = version{at};
      rec.last_event_hash = (*j)->read_stream(order, r)->front().hash;
      rec.state = "{\"state\":" + state_of(state.out) + ",\"recent\":[]}";
      REQUIRE((*snaps)->save(rec).has_value());
    }
  }

  void archive(const std::string& before_time, const std::string& to, const std::string& says,
               const std::string& journal_file = {}) {
    auto r = run_strata(dir, {"--journal", journal_file.empty() ? path : journal_file, "archive",
                              "--before", before_time, "--to", to, "--yes"});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    CHECK_MESSAGE(r.out.find(says) != std::string::npos, r.out);
  }
};

}  // namespace

TEST_CASE(
    "state, diff, export and events read several yearly archives given in any order as one "
    "history") {
  yearly_orders y;
  const auto reads = yearly_orders::reads();
  for (std::size_t i = 0; i < reads.size(); ++i) {
    auto args = y.journal(reads[i]);
    for (const auto& a : {y.a2022, y.a2020, y.a2021}) args.insert(args.end(), {"--archive", a});
    CAPTURE(args);
    auto r = run_strata(y.dir, args);
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out == y.before[i]);
  }
  // Without the archives, reads that need archived events fail naming the archive.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"state", "Order-5", "--at-version", "3"},
           {"state", "Order-5", "--at-version", "9", "--no-snapshots"},
           {"diff", "Order-5", "--from", "2", "--to", "14"},
           {"export", "Order-5"},
           {"export"}}) {
    CAPTURE(args);
    auto r = run_strata(y.dir, y.journal(args));
    CHECK(r.code == 2);
    CHECK(r.err.find("a2022.db") != std::string::npos);
    CHECK(r.out.empty());
  }
  // The state now and after the newest snapshot needs no archive.
  auto now = run_strata(y.dir, y.journal({"--json", "state", "Order-5"}));
  CHECK(now.code == 0);
  CHECK(now.out == y.before[3]);
  // Missing one archive: what needs it fails naming the files given; what does not works.
  auto missing = run_strata(y.dir, y.journal({"state", "Order-5", "--at-version", "3", "--archive",
                                              y.a2021, "--archive", y.a2022}));
  CHECK(missing.code == 2);
  CHECK(missing.err.find("not all in the archives given") != std::string::npos);
  CHECK(missing.err.find("a2021.db") != std::string::npos);
  // An export read with the archives imports into a new journal whose chain verifies.
  const std::string all = y.dir.file("all.jsonl");
  auto exported = run_strata(y.dir, y.journal({"export", "-o", all, "--archive", y.a2020,
                                               "--archive", y.a2021, "--archive", y.a2022}));
  REQUIRE(exported.code == 0);
  const std::string fresh = y.dir.file("fresh.db");
  CHECK(run_strata(y.dir, {"--journal", fresh, "import", all}).code == 0);
  CHECK(run_strata(y.dir, {"--journal", fresh, "verify"}).code == 0);
  auto restored = run_strata(y.dir, {"--journal", fresh, "--json", "state", "Order-5",
                                     "--at-version", "9", "--no-snapshots"});
  CHECK(restored.out == y.before[1]);
}

TEST_CASE(
    "verify --archive, repeated, checks the chain across archives and finds overlaps and gaps") {
  yearly_orders y;
  auto both = run_strata(y.dir, y.journal({"verify", "--archive", y.a2021, "--archive", y.a2022,
                                           "--archive", y.a2020}));
  CHECK_MESSAGE(both.code == 0, both.out << both.err);
  CHECK(both.out.find("intact journal and archives") != std::string::npos);
  auto alone = run_strata(
      y.dir, {"verify", "--archive", y.a2022, "--archive", y.a2020, "--archive", y.a2021});
  CHECK(alone.code == 0);
  CHECK(alone.out.find("intact archives") != std::string::npos);
  CHECK(alone.out.find("15 events") != std::string::npos);
  auto json = run_strata(y.dir, y.journal({"--json", "verify", "--archive", y.a2020, "--archive",
                                           y.a2021, "--archive", y.a2022}));
  CHECK(json.out == "{\"intact\":true,\"events\":17}\n");

  // A gap: the 2021 archive left out.
  auto gap = run_strata(y.dir, {"verify", "--archive", y.a2020, "--archive", y.a2022});
  CHECK(gap.code == 1);
  CHECK(gap.out.find("Order-5 v6") != std::string::npos);
  CHECK(gap.out.find("gap: versions 6..11 are in none of the archives") != std::string::npos);
  auto short_of =
      run_strata(y.dir, y.journal({"verify", "--archive", y.a2021, "--archive", y.a2022}));
  CHECK(short_of.code == 1);
  CHECK(short_of.out.find("missing") != std::string::npos);

  // An overlap: the journal as it was after the first run, archived again into another file,
  // holds the versions the 2021 archive holds.
  const std::string other = y.dir.file("other.db");
  y.archive("2021-06-01T00:00:00Z", other, "6 events copied", y.copy);
  auto overlap =
      run_strata(y.dir, {"verify", "--archive", y.a2020, "--archive", y.a2021, "--archive", other});
  CHECK(overlap.code == 1);
  CHECK(overlap.out.find("overlap: versions 6..11 are in two archives") != std::string::npos);
  auto same = run_strata(y.dir, {"verify", "--archive", y.a2020, "--archive", y.a2020});
  CHECK(same.code == 2);
  CHECK(same.err.find("are the same archive") != std::string::npos);
  // A 2021 archive whose chain anchor was altered is found, alone and among the others.
  const std::string forged = y.dir.file("forged.db");
  std::filesystem::copy_file(y.a2021, forged);
  const std::string sql = "UPDATE streams SET anchor_hash = '" + std::string(64, '0') + "'";
  REQUIRE(
      std::system((std::string{SQLITE3_PATH} + " " + shell_quote(forged) + " " + shell_quote(sql))
                      .c_str()) == 0);
  CHECK(run_strata(y.dir, {"verify", "--archive", forged}).code == 1);
  CHECK(run_strata(y.dir, {"verify", "--archive", y.a2020, "--archive", forged}).code == 1);
}

TEST_CASE("archive without --yes prints the plan and changes nothing") {
  sqlite_shop s;
  auto before = run_strata(s.dir, concat(s.journal(), {"--json", "events", "--all"}));
  REQUIRE(before.code == 0);
  auto r =
      run_strata(s.dir, concat(s.journal(), {"archive", "--older-than", "365d", "--to", s.cold}));
  CHECK(r.code == 0);
  CHECK(r.out.find("dry run: would archive 28 events") != std::string::npos);
  CHECK(r.out.find("Order-1  1..14") != std::string::npos);
  CHECK(r.out.find("Order-3 (6 old events): no snapshot") != std::string::npos);
  CHECK(r.out.find("nothing changed") != std::string::npos);
  CHECK_FALSE(std::ifstream{s.cold}.good());
  auto after = run_strata(s.dir, concat(s.journal(), {"--json", "events", "--all"}));
  CHECK(after.out == before.out);
  auto json = run_strata(
      s.dir, concat(s.journal(), {"--json", "archive", "--older-than", "365d", "--to", s.cold}));
  CHECK(json.code == 0);
  CHECK(count_lines(json.out) == 4);  // three streams to cut, one kept
}

TEST_CASE("archive --yes moves old events, and events and verify read hot and cold seamlessly") {
  sqlite_shop s;
  auto r = run_strata(s.dir, concat(s.journal(), {"archive", "--older-than", "365d", "--to", s.cold,
                                                  "--yes", "--progress"}));
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("28 events copied, 28 removed") != std::string::npos);
  CHECK(r.err.find("/s") != std::string::npos);  // progress with a rate and time left
  CHECK(r.err.find("s left") != std::string::npos);
  check_archived_shop(s.dir, s.journal(), s.cold);
  // Running it again finds nothing more to move.
  auto again = run_strata(
      s.dir, concat(s.journal(), {"archive", "--older-than", "365d", "--to", s.cold, "--yes"}));
  CHECK(again.code == 0);
  CHECK(again.out.find("0 events copied, 0 removed") != std::string::npos);
  check_archived_shop(s.dir, s.journal(), s.cold);
}

TEST_CASE("verify --archive finds a tampered archived event") {
  sqlite_shop s;
  REQUIRE(run_strata(s.dir, concat(s.journal(), {"archive", "--before", "2021-01-01T00:00:00Z",
                                                 "--to", s.cold, "--yes"}))
              .code == 0);
  const std::string sql =
      "UPDATE events SET data = '{\"n\":99}' WHERE version = 3 AND "
      "aggregate_id = '2'";
  REQUIRE(
      std::system((std::string{SQLITE3_PATH} + " " + shell_quote(s.cold) + " " + shell_quote(sql))
                      .c_str()) == 0);
  auto alone = run_strata(s.dir, {"verify", "--archive", s.cold});
  CHECK(alone.code == 1);
  CHECK(alone.out.find("Order-2 v3") != std::string::npos);
  CHECK(alone.out.find("altered") != std::string::npos);
}

TEST_CASE("archive refuses bad arguments with exit code 2 and changes nothing") {
  sqlite_shop s;
  auto before = run_strata(s.dir, concat(s.journal(), {"--json", "events", "--all"}));
  const std::string not_archive = s.dir.file("notes.txt");
  std::ofstream{not_archive} << "not an archive\n";
  const std::vector<std::vector<std::string>> bad{
      {"archive", "--to", s.cold, "--yes"},
      {"archive", "--older-than", "365d", "--yes"},
      {"archive", "--older-than", "12x", "--to", s.cold, "--yes"},
      {"archive", "--older-than", "d", "--to", s.cold, "--yes"},
      {"archive", "--before", "last year", "--to", s.cold, "--yes"},
      {"archive", "--older-than", "365d", "--before", "2021-01-01T00:00:00Z", "--to", s.cold},
      {"archive", "--older-than", "365d", "--to", not_archive, "--yes"},
      {"archive", "--older-than", "365d", "--to", s.dir.file(""), "--yes"},
      {"archive", "--older-than", "365d", "--to", s.cold, "--streams-per-transaction", "0",
       "--yes"},
  };
  for (const auto& args : bad) {
    auto r = run_strata(s.dir, concat(s.journal(), args));
    CHECK_MESSAGE(r.code == 2, args[1] << " " << args[2]);
    CHECK_FALSE(r.err.empty());
  }
  auto missing = run_strata(s.dir, {"--journal", s.dir.file("none.db"), "archive", "--older-than",
                                    "1d", "--to", s.cold, "--yes"});
  CHECK(missing.code == 2);
  CHECK(missing.err.find("does not exist") != std::string::npos);
  CHECK_FALSE(std::ifstream{s.dir.file("none.db")}.good());
  CHECK(read_text(not_archive) == "not an archive\n");
  CHECK_FALSE(std::ifstream{s.cold}.good());
  auto after = run_strata(s.dir, concat(s.journal(), {"--json", "events", "--all"}));
  CHECK(after.out == before.out);
  auto no_file = run_strata(s.dir, {"verify", "--archive", s.dir.file("none.db")});
  CHECK(no_file.code == 2);
}

TEST_CASE("an archive killed at any step leaves hot and cold consistent and completes on rerun") {
  for (const char* point : {"after_copy", "after_verify", "mid_delete"}) {
    CAPTURE(point);
    sqlite_shop s;
    const auto args = concat(s.journal(), {"archive", "--older-than", "365d", "--to", s.cold,
                                           "--yes", "--streams-per-transaction", "1"});
    auto killed = run_strata(s.dir, args, std::string{"STRATA_ARCHIVE_KILL_AT="} + point);
    CHECK(killed.signal == 9);
    // Between the crash and the rerun: consistent, every event exactly once.
    auto between = run_strata(s.dir, concat(s.journal(), {"verify", "--archive", s.cold}));
    CHECK_MESSAGE(between.code == 0, between.out << between.err);
    check_every_event_once(s.dir, s.journal(), s.cold);
    auto rerun = run_strata(s.dir, args);
    CHECK_MESSAGE(rerun.code == 0, rerun.err);
    check_archived_shop(s.dir, s.journal(), s.cold);
  }
}

#if STRATA_WITH_POSTGRES
TEST_CASE("archive works on a PostgreSQL journal, killed midway and resumed") {
  STRATA_PG_CONNINFO(conninfo);
  const std::string schema = strata::persistence::testing::unique_schema("archive");
  strata::persistence::testing::schema_guard guard{conninfo, schema};
  {
    strata::persistence::postgres_journal_options o;
    o.conninfo = conninfo;
    o.schema = schema;
    auto j = strata::persistence::postgres_journal::open(o);
    REQUIRE(j.has_value());
    strata::persistence::postgres_snapshot_store_options so;
    so.conninfo = conninfo;
    so.schema = schema;
    auto snaps = strata::persistence::postgres_snapshot_store::open(so);
    REQUIRE(snaps.has_value());
    fill(**j, **snaps);
  }
  strata::testing::temp_dir dir;
  const std::string cold = dir.file("cold.db");
  const std::vector<std::string> pg{"--pg", conninfo, "--pg-schema", schema};
  auto dry = run_strata(dir, concat(pg, {"archive", "--older-than", "365d", "--to", cold}));
  CHECK(dry.code == 0);
  CHECK(dry.out.find("would archive 28 events") != std::string::npos);
  const auto args = concat(pg, {"archive", "--older-than", "365d", "--to", cold, "--yes",
                                "--streams-per-transaction", "1"});
  auto killed = run_strata(dir, args, "STRATA_ARCHIVE_KILL_AT=mid_delete");
  CHECK(killed.signal == 9);
  auto between = run_strata(dir, concat(pg, {"verify", "--archive", cold}));
  CHECK_MESSAGE(between.code == 0, between.out << between.err);
  auto rerun = run_strata(dir, args);
  CHECK_MESSAGE(rerun.code == 0, rerun.err);
  check_archived_shop(dir, pg, cold);
}
#endif
