// `strata archive` and `--archive FILE` for `events` and `verify` (docs/ARCHIVE.md). The work
// is done by the library (persistence/archive.hpp); this file parses, opens the journal with
// write access and prints.

#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strata/cli/cli.hpp"
#include "strata/domain/kernel/input.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/persistence/archive.hpp"
#include "strata/persistence/audit_chain.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/persistence/sqlite_snapshot_store.hpp"
#include "strata/runtime/config.hpp"
#if STRATA_WITH_POSTGRES
#include "strata/persistence/postgres/postgres_journal.hpp"
#include "strata/persistence/postgres/postgres_snapshot_store.hpp"
#endif

namespace strata {

namespace {

cli_exit fail(cli_context& c, const std::string& message) {
  c.out().error(message);
  return cli_exit::usage;
}

/// "90d", "12h", "30m", "45s" as microseconds; nullopt for anything else.
std::optional<std::chrono::microseconds> parse_duration(const std::string& text) {
  if (text.size() < 2) return std::nullopt;
  const char unit = text.back();
  const std::string digits = text.substr(0, text.size() - 1);
  if (!std::all_of(digits.begin(), digits.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    return std::nullopt;
  if (digits.size() > 9) return std::nullopt;
  const std::int64_t n = std::stoll(digits);
  switch (unit) {
    case 'd':
      return std::chrono::microseconds{n * 86'400'000'000LL};
    case 'h':
      return std::chrono::microseconds{n * 3'600'000'000LL};
    case 'm':
      return std::chrono::microseconds{n * 60'000'000LL};
    case 's':
      return std::chrono::microseconds{n * 1'000'000LL};
    default:
      return std::nullopt;
  }
}

timestamp now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

/// The journal and its snapshot store, opened with write access.
struct writable_store {
  std::unique_ptr<persistence::journal> journal;
  std::unique_ptr<persistence::snapshot_store> snapshots;
};

result<writable_store> open_sqlite_store(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return error{errc::not_found, "journal file '" + path + "' does not exist"};
  writable_store s;
  persistence::sqlite_journal_options o;
  o.path = path;
  auto j = persistence::sqlite_journal::open(o);
  if (!j) return error{j.err().code, "cannot open journal file '" + path + "': " + j.err().message};
  s.journal = std::move(*j);
  persistence::sqlite_snapshot_store_options so;
  so.path = path;
  auto snaps = persistence::sqlite_snapshot_store::open(so);
  if (!snaps) return std::move(snaps).err();
  s.snapshots = std::move(*snaps);
  return s;
}

result<writable_store> open_postgres_store(const std::string& conninfo, const std::string& schema) {
#if STRATA_WITH_POSTGRES
  writable_store s;
  persistence::postgres_journal_options o;
  o.conninfo = conninfo;
  o.schema = schema;
  auto j = persistence::postgres_journal::open(o);
  if (!j) return error{j.err().code, "cannot open the PostgreSQL journal: " + j.err().message};
  s.journal = std::move(*j);
  persistence::postgres_snapshot_store_options so;
  so.conninfo = conninfo;
  so.schema = schema;
  auto snaps = persistence::postgres_snapshot_store::open(so);
  if (!snaps) return std::move(snaps).err();
  s.snapshots = std::move(*snaps);
  return s;
#else
  (void)conninfo;
  (void)schema;
  return error{errc::invalid_argument, "this build of strata has no PostgreSQL backend"};
#endif
}

result<writable_store> open_writable(const journal_source& source) {
  const int named = int{!source.sqlite_path.empty()} + int{!source.pg_conninfo.empty()} +
                    int{!source.config_path.empty()};
  if (named != 1)
    return error{errc::invalid_argument,
                 "name one journal: pass --journal FILE, --pg CONNINFO or --config FILE"};
  if (!source.sqlite_path.empty()) return open_sqlite_store(source.sqlite_path);
  if (!source.pg_conninfo.empty()) return open_postgres_store(source.pg_conninfo, source.pg_schema);
  auto config = load_config(source.config_path);
  if (!config) return std::move(config).err();
  const journal_config& j = config->journal;
  switch (j.backend) {
    case journal_backend::sqlite:
      return open_sqlite_store(j.sqlite.path);
    case journal_backend::postgres:
      return open_postgres_store(j.postgres.conninfo, j.postgres.schema);
    case journal_backend::memory:
      break;
  }
  return error{errc::invalid_argument, source.config_path +
                                           " configures the memory journal, which holds "
                                           "nothing outside its process"};
}

std::string human_bytes(std::uint64_t b) {
  if (b < 1024) return fmt::format("{} B", b);
  if (b < 1024 * 1024) return fmt::format("{:.1f} KiB", static_cast<double>(b) / 1024);
  if (b < 1024ULL * 1024 * 1024)
    return fmt::format("{:.1f} MiB", static_cast<double>(b) / (1024.0 * 1024));
  return fmt::format("{:.1f} GiB", static_cast<double>(b) / (1024.0 * 1024 * 1024));
}

void print_plan(cli_output& out, const archive_plan& plan, const std::string& to, bool dry) {
  if (out.json()) {
    for (const auto& s : plan.streams) {
      boost::json::object o;
      o["stream"] = s.stream.str();
      o["fromVersion"] = s.from.value;
      o["throughVersion"] = s.through.value;
      o["events"] = s.events;
      o["firstPosition"] = s.first_position.value;
      o["lastPosition"] = s.last_position.value;
      o["firstTimestamp"] = to_iso8601(s.first_time);
      o["lastTimestamp"] = to_iso8601(s.last_time);
      o["bytes"] = s.bytes;
      o["snapshot"] = s.snapshot.value;
      out.line(boost::json::serialize(o));
    }
    for (const auto& s : plan.skipped) {
      boost::json::object o;
      o["stream"] = s.stream.str();
      o["skipped"] = true;
      o["oldEvents"] = s.old_events;
      o["reason"] = s.reason;
      out.line(boost::json::serialize(o));
    }
    return;
  }
  out.line(fmt::format("{}{} events ({}) of {} streams at or before {} {} {}",
                       dry ? "dry run: would archive " : "archiving ", plan.events,
                       human_bytes(plan.bytes), plan.streams.size(), to_iso8601(plan.cut_off),
                       dry ? "to" : "into", to));
  if (!plan.streams.empty()) {
    std::vector<std::vector<std::string>> rows{
        {"STREAM", "VERSIONS", "EVENTS", "POSITIONS", "FIRST", "LAST", "BYTES"}};
    for (const auto& s : plan.streams) {
      rows.push_back({s.stream.str(), fmt::format("{}..{}", s.from.value, s.through.value),
                      std::to_string(s.events),
                      fmt::format("{}..{}", s.first_position.value, s.last_position.value),
                      to_iso8601(s.first_time), to_iso8601(s.last_time), human_bytes(s.bytes)});
    }
    std::vector<std::size_t> width(rows[0].size(), 0);
    for (const auto& row : rows)
      for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    for (std::size_t r = 0; r < rows.size(); ++r) {
      std::string text = "  ";
      for (std::size_t i = 0; i < rows[r].size(); ++i)
        text +=
            i + 1 == rows[r].size() ? rows[r][i] : fmt::format("{:<{}}  ", rows[r][i], width[i]);
      out.line(r == 0 ? out.paint(text, cli_output::style::bold) : text);
    }
  }
  if (!plan.skipped.empty()) {
    out.line(fmt::format("kept in the journal: {} streams with old events", plan.skipped.size()));
    for (const auto& s : plan.skipped)
      out.line(fmt::format("  {} ({} old events): {}", s.stream.str(), s.old_events, s.reason));
  }
}

/// Progress on stderr: phase, events done of total, rate and time left.
class progress_meter {
 public:
  explicit progress_meter(bool on) : on_(on) {}

  void operator()(const archive_progress& p) {
    if (!on_) return;
    const auto t = std::chrono::steady_clock::now();
    if (p.phase != phase_) {
      if (!phase_.empty()) std::fputs("\n", stderr);
      phase_ = std::string{p.phase};
      start_ = t;
    }
    const double seconds = std::chrono::duration<double>(t - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(p.done) / seconds : 0.0;
    const double left = rate > 0 ? static_cast<double>(p.total - p.done) / rate : 0.0;
    std::fprintf(stderr, "\r%-6s %llu/%llu events  %.0f/s  %.0fs left   ", phase_.c_str(),
                 static_cast<unsigned long long>(p.done), static_cast<unsigned long long>(p.total),
                 rate, left);
    std::fflush(stderr);
  }

  void finish() {
    if (on_ && !phase_.empty()) std::fputs("\n", stderr);
  }

 private:
  bool on_;
  std::string phase_;
  std::chrono::steady_clock::time_point start_;
};

struct archive_args {
  std::string older_than;
  std::string before;
  std::string to;
  bool yes = false;
  bool progress = false;
  std::size_t streams_per_transaction = 256;
};

cli_exit run_archive_command(cli_context& c, const archive_args& a) {
  archive_options options;
  options.now = now();
  if (a.older_than.empty() && a.before.empty())
    return fail(c, "name the cut-off: --older-than DURATION (e.g. 365d) or --before TIME");
  if (!a.older_than.empty()) {
    auto d = parse_duration(a.older_than);
    if (!d)
      return fail(c, "--older-than '" + a.older_than +
                         "' is not a duration: write a number and d, h, m or s, e.g. 365d");
    options.cut_off = options.now - *d;
  } else {
    auto t = parse_iso8601(a.before);
    if (!t)
      return fail(c, "--before '" + a.before +
                         "' is not a time: write ISO 8601 UTC, e.g. 2025-01-01T00:00:00Z");
    options.cut_off = *t;
  }
  if (a.streams_per_transaction == 0) return fail(c, "--streams-per-transaction must be >= 1");
  options.streams_per_transaction = a.streams_per_transaction;
  std::error_code ec;
  if (std::filesystem::exists(a.to, ec) && !std::filesystem::is_regular_file(a.to, ec))
    return fail(c, "--to '" + a.to + "' is not a file");
  if (a.yes && std::filesystem::exists(a.to, ec)) {
    // Continuing an archive: it must be one (a typo must not turn another file into one).
    auto existing = archive_reader::open(a.to);
    if (!existing) return fail(c, existing.err().message);
  }
  auto store = open_writable(c.source());
  if (!store) return fail(c, store.err().message);
  auto plan = plan_archive(*store->journal, *store->snapshots, options);
  if (!plan) return fail(c, plan.err().message);
  if (!a.yes) {
    print_plan(c.out(), *plan, a.to, true);
    if (!c.out().json()) c.out().line("nothing changed; run again with --yes to archive");
    return cli_exit::ok;
  }
  print_plan(c.out(), *plan, a.to, false);
  const bool show = a.progress || ::isatty(::fileno(stderr)) == 1;
  progress_meter meter{show};
  archive_hooks hooks;
  hooks.progress = [&meter](const archive_progress& p) { meter(p); };
  if (const char* kill_at = std::getenv("STRATA_ARCHIVE_KILL_AT"); kill_at != nullptr) {
    // For crash tests: die the hard way at a named point.
    const std::string point = kill_at;
    hooks.at = [point](std::string_view reached) {
      if (reached == point) std::raise(SIGKILL);
    };
  }
  auto done = run_archive(*store->journal, *plan, a.to, options, hooks);
  meter.finish();
  if (!done) return fail(c, done.err().message);
  if (c.out().json()) {
    boost::json::object o;
    o["archived"] = true;
    o["archive"] = a.to;
    o["streams"] = done->streams;
    o["copied"] = done->copied;
    o["removed"] = done->removed;
    c.out().line(boost::json::serialize(o));
  } else {
    c.out().line(
        fmt::format("archived {} streams into {}: {} events copied, {} removed from the "
                    "journal",
                    done->streams, a.to, done->copied, done->removed));
  }
  return cli_exit::ok;
}

void add_archive(cli& app) {
  auto a = std::make_shared<archive_args>();
  CLI::App& cmd = app.add_command(
      "archive",
      "Move events older than a cut-off to an archive file (SQLite, docs/ARCHIVE.md). A dry run "
      "unless --yes: prints what would move. Each stream is cut just below its newest snapshot "
      "at or before the cut-off; the journal keeps an anchor per stream.",
      [a](cli_context& c) { return run_archive_command(c, *a); });
  auto* older = cmd.add_option("--older-than", a->older_than,
                               "Archive events older than this: 90d, 12h, 30m, 45s");
  auto* before =
      cmd.add_option("--before", a->before, "Archive events at or before this time (ISO 8601 UTC)");
  older->excludes(before);
  cmd.add_option("--to", a->to, "The archive file (created, or continued)")->required();
  cmd.add_flag("--yes", a->yes, "Archive (without it: a dry run that changes nothing)");
  cmd.add_flag("--progress", a->progress,
               "Progress with rate and time left on stderr (the default when it is a terminal)");
  cmd.add_option("--streams-per-transaction", a->streams_per_transaction,
                 "Streams copied and cut per transaction")
      ->capture_default_str();
}

// --- --archive for the reading commands ---------------------------------------------------

/// Runs `body` with the command's journal read together with the archives of `paths`
/// (`journal_with_archives`): archived versions from the archives, the rest from the journal.
cli_exit with_archives(cli_context& c, const std::vector<std::string>& paths,
                       const cli_command& body) {
  auto set = archive_set::open(paths);
  if (!set) return fail(c, set.err().message);
  auto j = c.journal();
  if (!j) return fail(c, j.err().message);
  journal_with_archives view{**j, *set};
  c.use_journal(&view);
  const cli_exit done = body(c);
  c.use_journal(nullptr);
  return done;
}

void print_verified(cli_output& out, const std::string& what, std::uint64_t events) {
  if (out.json()) {
    boost::json::object o;
    o["intact"] = true;
    o["events"] = events;
    out.line(boost::json::serialize(o));
  } else {
    out.line(fmt::format("{} {}: {} events", out.paint("intact", cli_output::style::green), what,
                         events));
  }
}

void print_broken(cli_output& out, const chain_violation& v) {
  if (out.json()) {
    boost::json::object o;
    o["intact"] = false;
    o["stream"] = v.stream.str();
    o["version"] = v.at.value;
    o["position"] = v.position.value;
    o["kind"] = v.kind;
    o["detail"] = v.detail;
    out.line(boost::json::serialize(o));
    return;
  }
  out.line(fmt::format("{} {} v{} (position {}): {}: {}",
                       out.paint("audit chain broken:", cli_output::style::red),
                       v.stream.empty() ? std::string{"(no stream)"} : v.stream.str(), v.at.value,
                       v.position.value, v.kind, v.detail));
}

/// The subcommand `name`, or null when the program did not add it.
CLI::App* find_command(cli& app, const std::string& name) {
  const std::function<bool(CLI::App*)> named = [&name](CLI::App* sub) {
    return sub->get_name() == name;
  };
  auto found = app.app().get_subcommands(named);
  return found.empty() ? nullptr : found.front();
}

/// Adds the repeatable `--archive FILE` to command `name` (when the program has it): with it,
/// the command reads the journal together with the archives.
void add_archive_reading(cli& app, const std::string& name, const std::string& help) {
  CLI::App* cmd = find_command(app, name);
  if (cmd == nullptr) return;
  auto paths = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--archive", *paths, help)->allow_extra_args(false)->type_name("FILE");
  cli_command& body = app.body(name);
  body = [previous = body, paths](cli_context& c) {
    if (paths->empty()) return previous(c);
    return with_archives(c, *paths, previous);
  };
}

constexpr const char* repeat_help =
    " Repeat it for several archives of the journal (e.g. one per year), in any order.";

void add_archive_option(cli& app) {
  add_archive_reading(app, "events",
                      std::string{"Also read this archive file: archived and hot events as one "
                                  "history (an event in both once)."} +
                          repeat_help);
  add_archive_reading(app, "state",
                      std::string{"Also read this archive file: a state before the archive's "
                                  "cut is rebuilt from archived and hot events."} +
                          repeat_help);
  add_archive_reading(app, "diff",
                      std::string{"Also read this archive file: points before the archive's cut "
                                  "are rebuilt, and events listed, from archived and hot events."} +
                          repeat_help);
  add_archive_reading(app, "export",
                      std::string{"Also export the archived events of this archive file, in "
                                  "global (or version) order with the journal's."} +
                          repeat_help);
  add_archive_reading(app, "rebuild",
                      std::string{"Also read this archive file: the projection is rebuilt from "
                                  "archived and hot events in global order."} +
                          repeat_help);

  CLI::App* verify = find_command(app, "verify");
  if (verify == nullptr) return;
  auto paths = std::make_shared<std::vector<std::string>>();
  verify
      ->add_option("--archive", *paths,
                   std::string{"Verify this archive file: alone when no journal is named, else "
                               "together with the journal (anchors, every event exactly once)."} +
                       repeat_help +
                       " The chains must then continue from archive to archive: an overlap or a "
                       "gap between them is a finding.")
      ->allow_extra_args(false)
      ->type_name("FILE");
  cli_command& verify_body = app.body("verify");
  verify_body = [previous = verify_body, paths, cmd = verify](cli_context& c) {
    if (paths->empty()) return previous(c);
    if (cmd->get_option("STREAM")->count() > 0)
      return fail(c, "verify --archive checks the whole journal: name no STREAM");
    auto set = archive_set::open(*paths);
    if (!set) return fail(c, set.err().message);
    const std::string names = set->names();
    const journal_source& s = c.source();
    const bool alone = s.sqlite_path.empty() && s.pg_conninfo.empty() && s.config_path.empty();
    if (alone) {
      auto verified = set->verify();
      if (!verified) return fail(c, verified.err().message);
      if (*verified) {
        print_broken(c.out(), **verified);
        return cli_exit::findings;
      }
      std::uint64_t events = 0;
      for (const archive_reader* a : set->archives()) events += a->manifest().events;
      print_verified(c.out(), (set->archives().size() == 1 ? "archive " : "archives ") + names,
                     events);
      return cli_exit::ok;
    }
    auto j = c.journal();
    if (!j) return fail(c, j.err().message);
    auto verified = verify_with_archive(**j, *set);
    if (!verified) return fail(c, verified.err().message);
    if (*verified) {
      print_broken(c.out(), **verified);
      return cli_exit::findings;
    }
    auto last = (*j)->last_position();
    if (!last) return fail(c, last.err().message);
    print_verified(
        c.out(),
        (set->archives().size() == 1 ? "journal and archive " : "journal and archives ") + names,
        last->value);
    return cli_exit::ok;
  };
}

}  // namespace

void add_archive_commands(cli& c) {
  add_archive(c);
  add_archive_option(c);
}

}  // namespace strata
