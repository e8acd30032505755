#pragma once

// The operator command line: a CLI11 application with the options that name a journal, the
// output settings every command shares, and commands registered on it. `strata` (main.cpp) is
// this library with the inspection commands; a host builds its own the same way:
//
//   int main(int argc, char** argv) {
//     strata::cli app{"my-strata", "Inspect my journal"};
//     strata::add_inspection_commands(app);
//     return app.run(argc, argv);
//   }

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "strata/cli/registry.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/event_record.hpp"
#include "strata/persistence/journal.hpp"

namespace CLI {
class App;
}

namespace strata {

/// The exit codes of every command.
enum class cli_exit : int {
  ok = 0,        ///< Done, nothing found wrong.
  findings = 1,  ///< Done, and something was found wrong (e.g. a broken audit chain).
  usage = 2,     ///< Bad arguments, or a store that cannot be opened or read.
};

/// Where the journal is read from; exactly one of `sqlite_path`, `pg_conninfo` and
/// `config_path` is set.
struct journal_source {
  std::string sqlite_path;  ///< An SQLite journal file, opened read-only.
  std::string pg_conninfo;  ///< A libpq connection string.
  std::string pg_schema = "strata";
  std::string config_path;  ///< A runtime configuration file (see runtime/config.hpp).
  /// Open for appending (`import`): an SQLite file is then opened read-write and created
  /// when missing.
  bool writable = false;
};

/// Opens the journal `source` names: an SQLite file read-only, a PostgreSQL schema (which
/// the backend creates, empty, when it does not exist), or the journal a configuration file
/// describes. Errors: `invalid_argument` when no source or more than one is named, when a
/// configuration names the memory backend (it holds nothing to inspect) or PostgreSQL in a
/// build without it, or when the configuration file is invalid; `not_found` when the SQLite
/// file or configuration file does not exist or holds no journal; the backend's error
/// (`unavailable`, `corrupted`, `unsupported`) otherwise. Every message names the file or
/// connection it was about.
result<std::unique_ptr<persistence::journal>> open_journal(const journal_source& source);

/// How commands write: a human timeline or table, or one JSON object per line.
/// Thread-safety: one thread at a time.
class cli_output {
 public:
  /// Colour is used only when `colour` is true (the command line sets it when stdout is a
  /// terminal and NO_COLOR is unset); never in JSON mode.
  cli_output(std::FILE* out, std::FILE* err, bool json, bool colour,
             std::string program = "strata");

  bool json() const noexcept { return json_; }

  /// `text` in bold, dimmed, or in one of a few colours, when colour is on; else `text`.
  enum class style { bold, dim, red, green, cyan, yellow };
  std::string paint(std::string_view text, style s) const;

  /// Writes `text` and a newline to stdout.
  void line(std::string_view text);

  /// Writes "<program>: <text>" and a newline to stderr.
  void error(std::string_view text);

  /// One event: a timeline line (position, time, stream and version, type, user,
  /// correlation id, data), or in JSON mode the record JSON (persistence/record_json.hpp).
  /// Errors: `corrupted` when the record's data is not JSON (JSON mode only).
  result<void> event(const persistence::event_record& r);

  std::FILE* out() const noexcept { return out_; }
  std::FILE* err() const noexcept { return err_; }

 private:
  std::FILE* out_;
  std::FILE* err_;
  bool json_;
  bool colour_;
  std::string program_;
};

/// What a running command receives: the journal (opened on first use) and the output.
class cli_context {
 public:
  cli_context(const journal_source& source, cli_output& out, const cli_registry* registry = nullptr,
              bool progress = false)
      : source_(source), out_(out), registry_(registry), progress_(progress) {}

  /// The journal the global options name, opened on the first call.
  /// Errors: as `open_journal`.
  result<persistence::journal*> journal();

  /// Makes `journal()` return `view` from now on: a journal read through another, e.g. the
  /// opened journal with its archived events (`journal_with_archives`, for `--archive`).
  /// REQUIRES: `view` outlives the command.
  void use_journal(persistence::journal* view) noexcept { view_ = view; }

  cli_output& out() noexcept { return out_; }

  /// The journal options as given.
  const journal_source& source() const noexcept { return source_; }

  /// The host's deciders and projections (empty when none were registered).
  const cli_registry& registry() const noexcept { return registry_ ? *registry_ : empty_; }

  /// Whether long commands report progress on stderr (stderr is a terminal, or --progress).
  bool progress() const noexcept { return progress_; }

 private:
  inline static const cli_registry empty_{};
  const journal_source& source_;
  cli_output& out_;
  const cli_registry* registry_;
  bool progress_;
  std::unique_ptr<persistence::journal> journal_;
  persistence::journal* view_ = nullptr;
};

/// A command's body: returns its exit code.
using cli_command = std::function<cli_exit(cli_context&)>;

/// The command line: global options (`--journal`, `--pg`, `--pg-schema`, `--config`,
/// `--json`, `--progress`) and the commands registered with `add_command`. Parse errors, `--help`
/// and the exit codes are handled by `run`. Not copyable; one per process.
class cli {
 public:
  explicit cli(std::string name = "strata",
               std::string description =
                   "Operate a strata journal: inspect streams, events and correlations, verify "
                   "the audit chain, rebuild past states, export and import events, and drive "
                   "read models");
  ~cli();
  cli(const cli&) = delete;
  cli& operator=(const cli&) = delete;

  /// The CLI11 application, for options of a host's own.
  CLI::App& app() noexcept { return *app_; }

  /// Adds the command `name`; `run` is called when it is chosen. The returned subcommand
  /// takes the command's options (bind them to storage that outlives `run`, e.g. a
  /// shared_ptr the lambda captures).
  CLI::App& add_command(const std::string& name, const std::string& help, cli_command run);

  /// Makes decider `A` known to `state` and `diff` (and to the projections bound against its
  /// events): the same model the runtime's `register_aggregate<A>()` uses.
  template <class A>
  void register_aggregate() {
    registry_.add_aggregate<A>();
  }

  /// Makes projection `p` known to `projections`, `rebuild` and `retry`. Register the
  /// aggregates whose events it handles too.
  void register_projection(std::shared_ptr<projection> p) {
    registry_.add_projection(std::move(p));
  }

  const cli_registry& registry() const noexcept { return registry_; }

  /// The body of the command `name` added earlier, to replace or wrap (e.g. to add an
  /// option to a command of another file). REQUIRES: `name` was added.
  cli_command& body(const std::string& name);

  /// Parses `argv` and runs the chosen command. Returns the exit code: 0 for `--help`, 2 for
  /// bad usage (the message on stderr), otherwise the command's.
  int run(int argc, const char* const* argv);

 private:
  std::unique_ptr<CLI::App> app_;
  journal_source source_;
  bool json_ = false;
  bool progress_ = false;
  cli_command chosen_;
  cli_registry registry_;
  std::map<std::string, cli_command> bodies_;
};

/// Adds `streams`, `events`, `trace` and `verify` (see docs/CLI.md).
void add_inspection_commands(cli& c);

/// Adds `archive` (docs/ARCHIVE.md) and the repeatable `--archive FILE` to `events`, `verify`,
/// `state`, `diff` and `export`, those of them that were added first (`add_inspection_commands`,
/// `add_decider_commands`, `add_transfer_commands`).
void add_archive_commands(cli& c);

}  // namespace strata
