// Crash-kill loops: a driver runs many clients against `strata-crash-host`, kills the host
// with SIGKILL at random moments, restarts it and resends every unanswered command under its
// own command id. The host archives while it serves (at start, completing a run a kill
// interrupted, then every so many answers), so kills also land inside archive runs; in a few
// rounds the host is made to kill itself at a point of a run (STRATA_ARCHIVE_KILL_AT). After
// the last round the host settles (and archives once more), the read models are rebuilt from
// scratch from the archive and the journal into a second store, and a checker reads the
// journal and the archive directly and proves:
//   - every acknowledged event is present exactly once, in the journal or in the archive
//     (never in both, never in neither), and a command's answers always name the same events;
//   - no command id is applied twice (its events are one run of one stream);
//   - global positions are 1..n without gaps, and each stream's versions 1..n, across the
//     archive and the journal;
//   - the audit chain verifies across the archive and the journal;
//   - no stream ends more than 2 x snapshot_every past its newest snapshot;
//   - the read models, once caught up, equal a fresh rebuild.

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>

#include "strata/persistence/archive.hpp"
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

  /// Starts `strata-crash-host MODE CONFIG ARCHIVE`, with STRATA_ARCHIVE_KILL_AT=`kill_at`
  /// when not empty. REQUIRES: not running.
  bool spawn(const std::string& mode, const std::string& config, const std::string& archive,
             const std::string& kill_at = "") {
    // A host that killed itself at its kill point may still be sent the next command: the
    // write must fail (EPIPE, `send` returns false and the read that follows sees the end),
    // not end this process with SIGPIPE.
    signal(SIGPIPE, SIG_IGN);
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
      if (kill_at.empty())
        unsetenv("STRATA_ARCHIVE_KILL_AT");
      else
        setenv("STRATA_ARCHIVE_KILL_AT", kill_at.c_str(), 1);
      execl(STRATA_CRASH_HOST, STRATA_CRASH_HOST, mode.c_str(), config.c_str(), archive.c_str(),
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

  /// Sends SIGKILL and reads what it wrote before it died, until the end.
  void kill_and_drain(std::vector<std::string>& lines) {
    kill(pid, SIGKILL);
    for (std::string line; read_line(line);) lines.push_back(line);
  }

  ~host_process() {
    if (pid > 0) kill_and_reap();
  }
};

bool exited_ok(int status) {
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/// Runs `strata-crash-host MODE CONFIG ARCHIVE` to its end; its first output line, or "" on
/// failure.
std::string run_host(const std::string& mode, const std::string& config,
                     const std::string& archive) {
  host_process h;
  if (!h.spawn(mode, config, archive)) return "";
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
  int archive_starts = 0;       // runs begun (`archive start`)
  int archive_runs = 0;         // runs that completed (`archive done`)
  int archive_runs_moving = 0;  // of them, runs that removed events from the journal
  std::uint64_t archived = 0;   // events those runs removed
  int kills_in_archive = 0;     // kills that landed between `archive start` and its end
  int kills_at_hook = 0;        // of them, the host's own at a STRATA_ARCHIVE_KILL_AT point
  std::vector<std::string> archive_failures;
  long answers = 0;
  long accepted = 0;
  long duplicates = 0;
  std::vector<std::string> problems;  // answers that contradict each other, host failures
  std::map<std::string, std::vector<std::string>> acknowledged;  // command id -> event ids
};

/// Follows the host's archive lines: whether a run is under way. False for another line.
bool archive_line(const std::string& line, bool& in_archive, driver_report& report) {
  if (line.rfind("archive ", 0) != 0) return false;
  std::istringstream in{line.substr(8)};
  std::string what;
  in >> what;
  if (what == "start") {
    in_archive = true;
    ++report.archive_starts;
  } else if (what == "done") {
    std::uint64_t copied = 0, removed = 0;
    in >> copied >> removed;
    in_archive = false;
    ++report.archive_runs;
    if (removed > 0) ++report.archive_runs_moving;
    report.archived += removed;
  } else {
    in_archive = false;
    report.archive_failures.push_back(line);
  }
  return true;
}

/// The point of an archive run at which the host of round `round` kills itself, or "": a
/// few rounds spread over the loop, one per point.
std::string kill_point_of(int round, int kills) {
  static const char* const points[] = {"after_copy", "after_verify", "mid_delete"};
  const int spacing = std::max(kills / 3, 1);
  if (round % spacing != 2 || round / spacing >= 3 || round >= kills) return "";
  return points[round / spacing];
}

/// Runs `kills` rounds of load, each ended by a SIGKILL after a random number of answers (or
/// by the host's own at its round's archive kill point), and a last round that drains what is
/// in flight and stops the host cleanly.
driver_report drive(const std::string& config, const std::string& archive, int kills, int clients,
                    std::uint32_t seed, const std::string& log_path) {
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
    const std::string kill_point = kill_point_of(round, kills);
    bool in_archive = false;
    bool died = false;
    if (!h.spawn("serve", config, archive, kill_point) || !h.read_line(line) || line != "ready") {
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
    // A round with a kill point runs long enough for a run to reach it (the host then kills
    // itself); the driver's kill ends it otherwise.
    const long drawn = answers_before_kill(random);
    const long limit = last ? -1 : kill_point.empty() ? drawn : 1200;
    long in_round = 0;
    while (!owner.empty()) {
      if (!h.read_line(line)) {
        const int status = h.reap();
        if (!kill_point.empty() && in_archive && WIFSIGNALED(status) &&
            WTERMSIG(status) == SIGKILL) {
          died = true;  // at its kill point
          break;
        }
        report.problems.push_back("host ended unasked in round " + std::to_string(round));
        return report;
      }
      if (archive_line(line, in_archive, report)) continue;
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
    if (died) {
      ++report.kills;
      ++report.kills_in_archive;
      ++report.kills_at_hook;
    } else if (last) {
      std::fclose(h.to);  // its end of input: it stops once what is in flight is done
      h.to = nullptr;
      std::vector<std::string> rest;
      for (std::string more; h.read_line(more);) rest.push_back(more);
      for (const auto& l : rest) archive_line(l, in_archive, report);
      const int status = h.reap();
      if (!exited_ok(status)) report.problems.push_back("host did not stop cleanly");
    } else {
      // What it wrote before it died tells whether a run was under way.
      std::vector<std::string> rest;
      h.kill_and_drain(rest);
      for (const auto& l : rest) archive_line(l, in_archive, report);
      h.reap();
      ++report.kills;
      if (in_archive) ++report.kills_in_archive;
    }
  }
  return report;
}

// ---------------------------------------------------------------------------------------
// The checker: reads the store directly.

struct check_report {
  std::uint64_t events = 0;
  std::uint64_t archived = 0;  // of them, in the archive
  std::size_t streams = 0;
  std::uint64_t worst_snapshot_distance = 0;
  std::vector<std::string> problems;
};

struct stored_event {
  std::string stream;
  std::uint64_t version = 0;
  std::string event_id;
};

/// Every global position `read` gives (pages of 5000 after a position), in order.
template <class Read>
result<std::vector<std::uint64_t>> positions_of(Read read) {
  std::vector<std::uint64_t> out;
  std::uint64_t after = 0;
  for (;;) {
    auto page = read(global_position{after});
    if (!page) return std::move(page).err();
    if (page->empty()) return out;
    for (const auto& r : *page) out.push_back(r.position.value);
    after = page->back().position.value;
  }
}

/// Checks the journal `j` together with `archives` (the archive files of its cut prefix;
/// null when nothing was archived).
check_report check_journal(persistence::journal& j, archive_set* archives,
                           persistence::snapshot_store* snapshots, std::uint32_t snapshot_every,
                           const driver_report& driven) {
  check_report out;
  if (archives != nullptr) {
    // Never in both: the positions of the journal and of the archive are disjoint (that
    // every position is in one of them is the gap-free reading below).
    auto hot = positions_of([&](global_position after) { return j.read_all(after, 5000); });
    auto cold =
        positions_of([&](global_position after) { return archives->read_all(after, 5000); });
    if (!hot || !cold) {
      out.problems.push_back("read positions: " + to_string(hot ? cold.err() : hot.err()));
      return out;
    }
    out.archived = cold->size();
    std::vector<std::uint64_t> both;
    std::set_intersection(hot->begin(), hot->end(), cold->begin(), cold->end(),
                          std::back_inserter(both));
    for (auto p : both)
      out.problems.push_back("position " + std::to_string(p) +
                             " is both in the journal and in the archive");
  }
  std::map<std::string, std::uint64_t> heads;
  std::map<std::string, std::string> stream_of_event;
  std::map<std::string, std::vector<stored_event>> by_command;
  std::uint64_t position = 0;
  for (;;) {
    auto page = archives != nullptr
                    ? read_all_with_archive(j, *archives, global_position{position}, 5000)
                    : j.read_all(global_position{position}, 5000);
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

  auto violation =
      archives != nullptr ? verify_with_archive(j, *archives) : persistence::verify_journal(j);
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
      "checked %zu, events %llu in %zu streams (%llu in the archive), archive runs begun %d, "
      "completed %d (%d moving events, %llu events moved), kills during an archive run %d (%d at a "
      "kill point), archive runs failed %zu, worst snapshot distance %llu, problems %zu\n",
      name.c_str(), d.kills, d.answers, d.accepted, d.duplicates, d.acknowledged.size(),
      static_cast<unsigned long long>(c.events), c.streams,
      static_cast<unsigned long long>(c.archived), d.archive_starts, d.archive_runs,
      d.archive_runs_moving, static_cast<unsigned long long>(d.archived), d.kills_in_archive,
      d.kills_at_hook, d.archive_failures.size(),
      static_cast<unsigned long long>(c.worst_snapshot_distance),
      d.problems.size() + d.archive_failures.size() + c.problems.size());
  std::size_t shown = 0;
  for (const auto* list : {&d.problems, &d.archive_failures, &c.problems})
    for (const auto& p : *list)
      if (shown++ < 20) std::printf("  %s\n", p.c_str());
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f{path};
  f << text;
  return static_cast<bool>(f);
}

/// The kills of a loop: 20, or STRATA_CRASH_KILLS (scripts/sanitize.sh runs fewer under
/// ThreadSanitizer, docs/TESTING.md), never fewer than 9: each of the three archive kill points
/// then has a round of its own.
int kills_of_run() {
  const char* k = std::getenv("STRATA_CRASH_KILLS");
  return k != nullptr ? std::max(9, std::atoi(k)) : 20;
}
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

/// The checker's own connections to the store, opened once the host is done.
struct checker_store {
  std::unique_ptr<persistence::journal> journal;
  std::unique_ptr<persistence::snapshot_store> snapshots;
};

/// The whole loop on `config`: drive with kills, settle, rebuild, check.
void crash_loop(const std::string& name, const strata::testing::temp_dir& dir,
                runtime_config config, const std::function<checker_store()>& open_store) {
  const std::uint32_t seed = seed_of_run();
  INFO("seed " << seed << " (STRATA_CRASH_SEED reruns it)");
  const std::string main_config = dir.file("host.json");
  REQUIRE(write_file(main_config, to_json_text(config)));
  config.projections.path = dir.file("rebuilt.db");
  const std::string rebuild_config = dir.file("rebuild.json");
  REQUIRE(write_file(rebuild_config, to_json_text(config)));

  const std::string archive = dir.file("archive.db");  // beside the journal

  const int kills = kills_of_run();
  INFO(kills << " kills");
  driver_report d = drive(main_config, archive, kills, clients, seed, dir.file("acknowledged.log"));
  REQUIRE_MESSAGE(d.problems.empty(), d.problems.front());
  CHECK(d.kills == kills);
  const std::string settled = run_host("settle", main_config, archive);
  REQUIRE_MESSAGE(settled.rfind("settled ", 0) == 0, "settle failed: '" << settled << "'");
  const std::string rebuilt = run_host("rebuild", rebuild_config, archive);
  REQUIRE_MESSAGE(rebuilt.rfind("rebuilt ", 0) == 0, "rebuild failed: '" << rebuilt << "'");
  CHECK(rebuilt.substr(8) == settled.substr(8));  // both at the same journal head

  checker_store store = open_store();
  auto archives = archive_set::open({archive});
  REQUIRE_MESSAGE(archives, to_string(archives.err()));
  check_report c =
      check_journal(*store.journal, &*archives, store.snapshots.get(), snapshot_every, d);
  for (auto& p : compare_read_models(dir.file("read.db"), dir.file("rebuilt.db")))
    c.problems.push_back("read model differs from a rebuild: " + p);
  report(name, d, c);
  CHECK(d.accepted > 0);
  CHECK(c.events > 0);
  CHECK(d.archive_runs_moving > 0);  // at least one run moved events to the archive
  CHECK(c.archived > 0);
  CHECK(d.kills_in_archive > 0);  // the kill points make this certain
  CHECK_MESSAGE(d.archive_failures.empty(), d.archive_failures.size() << " archive runs failed");
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
  const check_report c = check_journal(j, nullptr, nullptr, 0, d);
  CHECK(c.events == 3);
  REQUIRE(c.problems.size() == 3);
  CHECK(c.problems[0] == "acknowledged event e9 of c1-2 is missing");
  CHECK(c.problems[1] == "command c1-2 has 0 events stored, 1 answered");
  CHECK(c.problems[2] == "command c1-1 was applied 2 times");
}

TEST_CASE("the checker reads journal and archive as one and finds an event kept in both") {
  strata::testing::temp_dir dir;
  const std::string path = dir.file("journal.db");
  const std::string uncut = dir.file("uncut.db");
  const std::string archive = dir.file("archive.db");
  const stream_id order{"Order", "o-1"};
  driver_report d;
  {
    // Order-o-1 v1..v6, one per command, and a snapshot at v4: v1..v3 can be archived.
    persistence::sqlite_journal_options jo;
    jo.path = path;
    auto j = persistence::sqlite_journal::open(jo);
    REQUIRE(j);
    for (std::uint64_t v = 0; v < 6; ++v) {
      persistence::new_event e;
      e.event_id = "e" + std::to_string(v + 1);
      e.event_type = "ItemAdded";
      e.command_id = "c1-" + std::to_string(v);
      e.data = "{}";
      REQUIRE((*j)->append({{order, version{v}, {e}}}));
      d.acknowledged[e.command_id] = {e.event_id};
    }
    auto events = (*j)->read_stream(order, {});
    REQUIRE(events);
    REQUIRE(events->size() == 6);
    persistence::sqlite_snapshot_store_options so;
    so.path = path;
    auto s = persistence::sqlite_snapshot_store::open(so);
    REQUIRE(s);
    persistence::snapshot_record rec;
    rec.stream = order;
    rec.at = version{4};
    rec.last_event_hash = (*events)[3].hash;
    rec.state = R"({"state":{},"recent":[]})";
    REQUIRE((*s)->save(rec));
  }
  {
    // The journal as it was before the cut: what a run killed after its copy leaves.
    std::ifstream from{path, std::ios::binary};
    std::ofstream to{uncut, std::ios::binary};
    to << from.rdbuf();
  }
  persistence::sqlite_journal_options jo;
  jo.path = path;
  auto j = persistence::sqlite_journal::open(jo);
  REQUIRE(j);
  persistence::sqlite_snapshot_store_options so;
  so.path = path;
  auto s = persistence::sqlite_snapshot_store::open(so);
  REQUIRE(s);
  archive_options options;
  options.now = options.cut_off = timestamp::max();
  auto plan = plan_archive(**j, **s, options);
  REQUIRE(plan);
  auto done = run_archive(**j, *plan, archive, options);
  REQUIRE_MESSAGE(done, to_string(done.err()));
  CHECK(done->removed == 3);

  auto archives = archive_set::open({archive});
  REQUIRE(archives);
  const check_report whole = check_journal(**j, &*archives, s->get(), 20, d);
  CHECK(whole.events == 6);
  CHECK(whole.archived == 3);
  CHECK(whole.problems.empty());

  jo.path = uncut;
  auto before = persistence::sqlite_journal::open(jo);
  REQUIRE(before);
  const check_report both = check_journal(**before, &*archives, nullptr, 0, d);
  CHECK(both.events == 6);  // read as one, each event once
  REQUIRE(both.problems.size() >= 3);
  CHECK(both.problems[0] == "position 1 is both in the journal and in the archive");
  CHECK(both.problems[2] == "position 3 is both in the journal and in the archive");
}

TEST_CASE("20 SIGKILLs of a loaded host on SQLite lose no acknowledged event") {
  strata::testing::temp_dir dir;
  runtime_config config = base_config(dir);
  config.journal.backend = journal_backend::sqlite;

  // The checker reads the file the host wrote, through connections of its own.
  crash_loop("sqlite", dir, config, [&] {
    persistence::sqlite_journal_options jo;
    jo.path = config.journal.sqlite.path;
    auto j = persistence::sqlite_journal::open(jo);
    REQUIRE(j);
    persistence::sqlite_snapshot_store_options so;
    so.path = config.journal.sqlite.path;
    auto s = persistence::sqlite_snapshot_store::open(so);
    REQUIRE(s);
    return checker_store{std::move(*j), std::move(*s)};
  });
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
  crash_loop("postgres", dir, config, [&] {
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
    return checker_store{std::move(*j), std::move(*s)};
  });
}
#endif
