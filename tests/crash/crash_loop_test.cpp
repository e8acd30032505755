// Crash-kill loops: a driver runs many clients against `strata-crash-host`, kills the host
// with SIGKILL at random moments, restarts it and resends every unanswered command under its
// own command id. After the last round the host settles, the read models are rebuilt from
// scratch into a second store, and a checker reads the journal directly and proves:
//   - every acknowledged event is present, and a command's answers always name the same events;
//   - no command id is applied twice (its events are one run of one stream);
//   - global positions are 1..n without gaps, and each stream's versions 1..n;
//   - the audit chain verifies;
//   - no stream ends more than 2 x snapshot_every past its newest snapshot;
//   - the read models, once caught up, equal a fresh rebuild.

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>

#include "strata/persistence/audit_chain.hpp"
#include "strata/persistence/memory_journal.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/persistence/sqlite_snapshot_store.hpp"
#include "strata/runtime/config.hpp"
#include "tests/runtime/temp_dir.hpp"
#if STRATA_WITH_POSTGRES
#include "strata/persistence/postgres/postgres_journal.hpp"
#include "strata/persistence/postgres/postgres_snapshot_store.hpp"
#endif

using namespace strata;

namespace {

// ---------------------------------------------------------------------------------------
// The host process.

struct host_process {
  pid_t pid = -1;
  FILE* to = nullptr;    // its stdin
  FILE* from = nullptr;  // its stdout

  /// Starts `strata-crash-host MODE CONFIG`. REQUIRES: not running.
  bool spawn(const std::string& mode, const std::string& config) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return false;
    pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[0]);
      close(in[1]);
      close(out[0]);
      close(out[1]);
      execl(STRATA_CRASH_HOST, STRATA_CRASH_HOST, mode.c_str(), config.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to = fdopen(in[1], "w");
    from = fdopen(out[0], "r");
    return to != nullptr && from != nullptr;
  }

  /// The next line it writes, without the newline; false at its end.
  bool read_line(std::string& line) {
    char buf[4096];
    if (std::fgets(buf, sizeof buf, from) == nullptr) return false;
    line = buf;
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return true;
  }

  bool send(const std::string& line) {
    return std::fputs((line + "\n").c_str(), to) >= 0 && std::fflush(to) == 0;
  }

  /// Closes its streams and waits for it; returns the wait status.
  int reap() {
    if (to != nullptr) std::fclose(to);
    if (from != nullptr) std::fclose(from);
    to = from = nullptr;
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }

  int kill_and_reap() {
    kill(pid, SIGKILL);
    return reap();
  }

  ~host_process() {
    if (pid > 0) kill_and_reap();
  }
};

bool exited_ok(int status) {
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/// Runs `strata-crash-host MODE CONFIG` to its end; its first output line, or "" on failure.
std::string run_host(const std::string& mode, const std::string& config) {
  host_process h;
  if (!h.spawn(mode, config)) return "";
  std::fclose(h.to);
  h.to = nullptr;
  std::string line;
  const bool got = h.read_line(line);
  return exited_ok(h.reap()) && got ? line : "";
}

// ---------------------------------------------------------------------------------------
// The load: clients, each a script of commands sent one at a time.

/// One client's endless script: orders of three items confirmed (the fulfilment process then
/// reserves stock and takes payment), and stock received on a few hot items in between.
struct client {
  int number = 0;
  long step = 0;

  std::string command_id() const {
    return "c" + std::to_string(number) + "-" + std::to_string(step);
  }

  std::string command() const {
    const long order = step / 6;
    const int phase = static_cast<int>(step % 6);
    const std::string id = "o-" + std::to_string(number) + "-" + std::to_string(order);
    const std::string hot = "sku-" + std::to_string((number + order) % 4);
    // Stock arrives for the hot items and the added ones alike, so that some fulfilments
    // complete and others are compensated for want of stock.
    static const char* const stocked[] = {"sku-0", "sku-1", "sku-2", "sku-3", "x1", "x2", "x3"};
    switch (phase) {
      case 0:
        return command_id() + " place " + id + " " + hot;
      case 1:
      case 2:
        return command_id() + " add " + id + " x" + std::to_string(phase);
      case 3:
        return command_id() + " receive " + stocked[(number + order) % 7] + " 2";
      case 4:
        return command_id() + " add " + id + " x3";
      default:
        return command_id() + " confirm " + id;
    }
  }
};

/// What the driver was told about a command: the event ids of its accepted answer.
struct answer {
  std::string status;
  bool duplicate = false;
  std::vector<std::string> events;
};

answer parse_answer(const std::string& line, std::string& command_id) {
  std::istringstream in{line};
  answer a;
  std::string dup, count, ids;
  in >> command_id >> a.status >> dup >> count >> ids;
  a.duplicate = dup == "1";
  if (ids != "-") {
    std::istringstream list{ids};
    for (std::string id; std::getline(list, id, ',');) a.events.push_back(id);
  }
  return a;
}

bool retryable(const std::string& status) {
  return status == "overloaded" || status == "timeout" || status == "unavailable";
}

struct driver_report {
  int kills = 0;
  long answers = 0;
  long accepted = 0;
  long duplicates = 0;
  std::vector<std::string> problems;  // answers that contradict each other, host failures
  std::map<std::string, std::vector<std::string>> acknowledged;  // command id -> event ids
};

/// Runs `kills` rounds of load, each ended by a SIGKILL after a random number of answers,
/// and a last round that drains what is in flight and stops the host cleanly.
driver_report drive(const std::string& config, int kills, int clients, std::uint32_t seed,
                    const std::string& log_path) {
  driver_report report;
  std::ofstream log{log_path};
  std::mt19937 random{seed};
  std::uniform_int_distribution<long> answers_before_kill{40, 400};
  std::vector<client> cs(static_cast<std::size_t>(clients));
  for (int i = 0; i < clients; ++i) cs[static_cast<std::size_t>(i)].number = i;
  std::map<std::string, int> owner;  // command id in flight -> client

  for (int round = 0; round <= kills; ++round) {
    const bool last = round == kills;
    host_process h;
    std::string line;
    if (!h.spawn("serve", config) || !h.read_line(line) || line != "ready") {
      report.problems.push_back("host did not start in round " + std::to_string(round));
      return report;
    }
    // Every client's current command: new ones, and those a kill left unanswered, resent
    // under the same command id.
    owner.clear();
    for (auto& c : cs) {
      owner[c.command_id()] = c.number;
      h.send(c.command());
    }
    const long limit = last ? -1 : answers_before_kill(random);
    long in_round = 0;
    while (!owner.empty()) {
      if (!h.read_line(line)) {
        report.problems.push_back("host ended unasked in round " + std::to_string(round));
        return report;
      }
      std::string id;
      answer a = parse_answer(line, id);
      ++report.answers;
      auto it = owner.find(id);
      if (it == owner.end()) {
        report.problems.push_back("answer for a command not in flight: " + line);
        continue;
      }
      client& c = cs[static_cast<std::size_t>(it->second)];
      owner.erase(it);
      if (a.status == "accepted") {
        ++report.accepted;
        if (a.duplicate) ++report.duplicates;
        log << line << "\n";
        auto [known, fresh] = report.acknowledged.emplace(id, a.events);
        if (!fresh && known->second != a.events)
          report.problems.push_back("command " + id + " answered with other events: " + line);
      }
      if (!retryable(a.status)) ++c.step;
      if (!last) {
        owner[c.command_id()] = c.number;
        h.send(c.command());
      }
      if (!last && ++in_round == limit) break;
    }
    if (last) {
      const int status = h.reap();
      if (!exited_ok(status)) report.problems.push_back("host did not stop cleanly");
    } else {
      h.kill_and_reap();
      ++report.kills;
    }
  }
  return report;
}

// ---------------------------------------------------------------------------------------
// The checker: reads the store directly.

struct check_report {
  std::uint64_t events = 0;
  std::size_t streams = 0;
  std::uint64_t worst_snapshot_distance = 0;
  std::vector<std::string> problems;
};

struct stored_event {
  std::string stream;
  std::uint64_t version = 0;
  std::string event_id;
};

check_report check_journal(persistence::journal& j, persistence::snapshot_store* snapshots,
                           std::uint32_t snapshot_every, const driver_report& driven) {
  check_report out;
  std::map<std::string, std::uint64_t> heads;
  std::map<std::string, std::string> stream_of_event;
  std::map<std::string, std::vector<stored_event>> by_command;
  std::uint64_t position = 0;
  for (;;) {
    auto page = j.read_all(global_position{position}, 5000);
    if (!page) {
      out.problems.push_back("read_all: " + to_string(page.err()));
      return out;
    }
    if (page->empty()) break;
    for (const auto& r : *page) {
      if (r.position.value != position + 1)
        out.problems.push_back("position " + std::to_string(r.position.value) + " follows " +
                               std::to_string(position));
      position = r.position.value;
      const std::string stream = r.aggregate_type + "-" + r.aggregate_id;
      auto& head = heads[stream];
      if (r.stream_version.value != head + 1)
        out.problems.push_back(stream + " version " + std::to_string(r.stream_version.value) +
                               " follows " + std::to_string(head));
      head = r.stream_version.value;
      if (!stream_of_event.emplace(r.event_id, stream).second)
        out.problems.push_back("event id " + r.event_id + " stored twice");
      if (!r.command_id.empty())
        by_command[r.command_id].push_back({stream, r.stream_version.value, r.event_id});
      ++out.events;
    }
  }
  out.streams = heads.size();

  for (const auto& [command, ids] : driven.acknowledged) {
    std::set<std::string> stored;
    if (auto it = by_command.find(command); it != by_command.end())
      for (const auto& e : it->second) stored.insert(e.event_id);
    const std::set<std::string> answered(ids.begin(), ids.end());
    for (const auto& id : answered)
      if (stream_of_event.count(id) == 0)
        out.problems.push_back("acknowledged event " + id + " of " + command + " is missing");
    if (stored != answered)
      out.problems.push_back("command " + command + " has " + std::to_string(stored.size()) +
                             " events stored, " + std::to_string(answered.size()) + " answered");
  }
  for (const auto& [command, events] : by_command) {
    // Every command of the driver (ids "c<client>-<step>") decides exactly one event.
    if (command.size() > 1 && command[0] == 'c' && command.find('-') != std::string::npos &&
        events.size() != 1) {
      out.problems.push_back("command " + command + " was applied " +
                             std::to_string(events.size()) + " times");
      continue;
    }
    for (std::size_t i = 1; i < events.size(); ++i)
      if (events[i].stream != events[0].stream || events[i].version != events[i - 1].version + 1) {
        out.problems.push_back("command " + command + " was applied more than once");
        break;
      }
  }

  auto violation = persistence::verify_journal(j);
  if (!violation)
    out.problems.push_back("verify: " + to_string(violation.err()));
  else if (*violation)
    out.problems.push_back("audit chain broken at " + (*violation)->stream.str() + " version " +
                           std::to_string((*violation)->at.value));

  if (snapshots != nullptr && snapshot_every > 0) {
    for (const auto& [stream, head] : heads) {
      const auto dash = stream.find('-');
      stream_id id{stream.substr(0, dash), stream.substr(dash + 1)};
      auto latest = snapshots->load_latest(id, version{head});
      if (!latest) {
        out.problems.push_back("snapshots of " + stream + ": " + to_string(latest.err()));
        continue;
      }
      const std::uint64_t at = *latest ? (*latest)->at.value : 0;
      const std::uint64_t distance = head - at;
      if (distance > out.worst_snapshot_distance) out.worst_snapshot_distance = distance;
      if (distance > 2ull * snapshot_every)
        out.problems.push_back(stream + " ends " + std::to_string(distance) +
                               " events past its newest snapshot");
    }
  }
  return out;
}

/// The rows of every read-model table of `a` that `b` lacks, and the reverse, as messages.
std::vector<std::string> compare_read_models(const std::string& a, const std::string& b) {
  std::vector<std::string> problems;
  SQLite::Database db{a, SQLite::OPEN_READWRITE};
  db.exec("ATTACH DATABASE '" + b + "' AS fresh");
  SQLite::Statement tables{db,
                           "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name "
                           "NOT LIKE 'projection_%' AND name NOT LIKE 'strata_%' AND name NOT "
                           "LIKE 'sqlite_%' ORDER BY name"};
  int compared = 0;
  while (tables.executeStep()) {
    const std::string t = tables.getColumn(0).getString();
    for (const auto& [x, y] : {std::pair{"main", "fresh"}, std::pair{"fresh", "main"}}) {
      SQLite::Statement diff{db, "SELECT count(*) FROM (SELECT * FROM " + std::string{x} + "." + t +
                                     " EXCEPT SELECT * FROM " + y + "." + t + ")"};
      diff.executeStep();
      if (const int n = diff.getColumn(0).getInt(); n > 0)
        problems.push_back(t + ": " + std::to_string(n) + " rows in " + x + " not in " + y);
    }
    ++compared;
  }
  if (compared < 3) problems.push_back("only " + std::to_string(compared) + " read-model tables");
  return problems;
}

void report(const std::string& name, const driver_report& d, const check_report& c) {
  std::printf(
      "[crash %s] kills %d, answers %ld, accepted %ld (duplicates %ld), commands "
      "checked %zu, events %llu in %zu streams, worst snapshot distance %llu, "
      "problems %zu\n",
      name.c_str(), d.kills, d.answers, d.accepted, d.duplicates, d.acknowledged.size(),
      static_cast<unsigned long long>(c.events), c.streams,
      static_cast<unsigned long long>(c.worst_snapshot_distance),
      d.problems.size() + c.problems.size());
  std::size_t shown = 0;
  for (const auto* list : {&d.problems, &c.problems})
    for (const auto& p : *list)
      if (shown++ < 20) std::printf("  %s\n", p.c_str());
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f{path};
  f << text;
  return static_cast<bool>(f);
}

constexpr int kills = 20;
constexpr int clients = 24;
constexpr std::uint32_t snapshot_every = 20;

runtime_config base_config(const strata::testing::temp_dir& dir) {
  runtime_config c;
  c.metrics.enabled = false;
  c.aggregates.snapshot_every = snapshot_every;
  c.journal.sqlite.path = dir.file("journal.db");
  c.projections.path = dir.file("read.db");
  return c;
}

std::uint32_t seed_of_run() {
  const char* s = std::getenv("STRATA_CRASH_SEED");
  return s != nullptr ? static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10))
                      : static_cast<std::uint32_t>(std::random_device{}());
}

/// The whole loop on `config`: drive with kills, settle, rebuild, check.
void crash_loop(const std::string& name, const strata::testing::temp_dir& dir,
                runtime_config config, persistence::journal& j,
                persistence::snapshot_store* snapshots) {
  const std::uint32_t seed = seed_of_run();
  INFO("seed " << seed << " (STRATA_CRASH_SEED reruns it)");
  const std::string main_config = dir.file("host.json");
  REQUIRE(write_file(main_config, to_json_text(config)));
  config.projections.path = dir.file("rebuilt.db");
  const std::string rebuild_config = dir.file("rebuild.json");
  REQUIRE(write_file(rebuild_config, to_json_text(config)));

  driver_report d = drive(main_config, kills, clients, seed, dir.file("acknowledged.log"));
  REQUIRE_MESSAGE(d.problems.empty(), d.problems.front());
  CHECK(d.kills == kills);
  const std::string settled = run_host("settle", main_config);
  REQUIRE_MESSAGE(settled.rfind("settled ", 0) == 0, "settle failed: '" << settled << "'");
  const std::string rebuilt = run_host("rebuild", rebuild_config);
  REQUIRE_MESSAGE(rebuilt.rfind("rebuilt ", 0) == 0, "rebuild failed: '" << rebuilt << "'");
  CHECK(rebuilt.substr(8) == settled.substr(8));  // both at the same journal head

  check_report c = check_journal(j, snapshots, snapshot_every, d);
  for (auto& p : compare_read_models(dir.file("read.db"), dir.file("rebuilt.db")))
    c.problems.push_back("read model differs from a rebuild: " + p);
  report(name, d, c);
  CHECK(d.accepted > 0);
  CHECK(c.events > 0);
  CHECK_MESSAGE(c.problems.empty(), c.problems.size() << " problems, first: "
                                                      << (c.problems.empty() ? "" : c.problems[0]));
}

}  // namespace

TEST_CASE("the checker finds a lost acknowledged event and a command applied twice") {
  persistence::memory_journal j;
  auto event = [](const std::string& id, const std::string& command) {
    persistence::new_event e;
    e.event_id = id;
    e.event_type = "ItemAdded";
    e.command_id = command;
    e.data = "{}";
    return e;
  };
  const stream_id order{"Order", "o-1"};
  REQUIRE(j.append({{order, version{0}, {event("e1", "c1-0")}}}));
  // c1-1 decides one event; two stored under its id mean it was applied twice (the journal's
  // own index refuses a second append of an id, so both come in one append here).
  REQUIRE(j.append({{order, version{1}, {event("e2", "c1-1"), event("e3", "c1-1")}}}));

  driver_report d;
  d.acknowledged["c1-0"] = {"e1"};
  d.acknowledged["c1-2"] = {"e9"};  // acknowledged, never stored
  const check_report c = check_journal(j, nullptr, 0, d);
  CHECK(c.events == 3);
  REQUIRE(c.problems.size() == 3);
  CHECK(c.problems[0] == "acknowledged event e9 of c1-2 is missing");
  CHECK(c.problems[1] == "command c1-2 has 0 events stored, 1 answered");
  CHECK(c.problems[2] == "command c1-1 was applied 2 times");
}

TEST_CASE("20 SIGKILLs of a loaded host on SQLite lose no acknowledged event") {
  strata::testing::temp_dir dir;
  runtime_config config = base_config(dir);
  config.journal.backend = journal_backend::sqlite;

  // The checker reads the file the host writes, through connections of its own.
  persistence::sqlite_journal_options jo;
  jo.path = config.journal.sqlite.path;
  auto j = persistence::sqlite_journal::open(jo);
  REQUIRE(j);
  persistence::sqlite_snapshot_store_options so;
  so.path = config.journal.sqlite.path;
  auto s = persistence::sqlite_snapshot_store::open(so);
  REQUIRE(s);
  crash_loop("sqlite", dir, config, **j, s->get());
}

#if STRATA_WITH_POSTGRES
TEST_CASE("20 SIGKILLs of a loaded host on PostgreSQL lose no acknowledged event") {
  const char* pg = std::getenv("STRATA_TEST_PG");
  if (pg == nullptr) {
    MESSAGE("STRATA_TEST_PG is not set: PostgreSQL crash loop skipped");
    CHECK(pg == nullptr);
    return;
  }
  strata::testing::temp_dir dir;
  runtime_config config = base_config(dir);
  config.journal.backend = journal_backend::postgres;
  config.journal.postgres.conninfo = pg;
  config.journal.postgres.schema = "crash_" + std::to_string(getpid());
  persistence::postgres_journal_options jo;
  jo.conninfo = pg;
  jo.schema = config.journal.postgres.schema;
  auto j = persistence::postgres_journal::open(jo);
  REQUIRE(j);
  persistence::postgres_snapshot_store_options so;
  so.conninfo = pg;
  so.schema = config.journal.postgres.schema;
  auto s = persistence::postgres_snapshot_store::open(so);
  REQUIRE(s);
  crash_loop("postgres", dir, config, **j, s->get());
}
#endif
