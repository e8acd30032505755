#include "strata/cli/cli.hpp"

#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <utility>

#include "strata/domain/kernel/time.hpp"
#include "strata/persistence/record_json.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/runtime/config.hpp"
#if STRATA_WITH_POSTGRES
#include "strata/persistence/postgres/postgres_journal.hpp"
#endif

namespace strata {

namespace {

result<std::unique_ptr<persistence::journal>> open_sqlite(const std::string& path, bool writable) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status) && !writable) {
    return error{errc::not_found, "journal file '" + path + "' does not exist"};
  }
  if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    return error{errc::invalid_argument, "'" + path + "' is not a file"};
  }
  persistence::sqlite_journal_options o;
  o.path = path;
  o.read_only = !writable;
  auto opened = persistence::sqlite_journal_factory{o}.open();
  if (!opened) {
    const error& e = opened.err();
    return error{e.code, "cannot read journal file '" + path + "': " + e.message};
  }
  return std::move(*opened);
}

result<std::unique_ptr<persistence::journal>> open_postgres(const std::string& conninfo,
                                                            const std::string& schema) {
#if STRATA_WITH_POSTGRES
  persistence::postgres_journal_options o;
  o.conninfo = conninfo;
  o.schema = schema;
  auto opened = persistence::postgres_journal_factory{o}.open();
  if (!opened) {
    const error& e = opened.err();
    return error{e.code,
                 "cannot read the PostgreSQL journal (schema '" + schema + "'): " + e.message};
  }
  return std::move(*opened);
#else
  (void)conninfo;
  (void)schema;
  return error{errc::invalid_argument, "this build of strata has no PostgreSQL backend"};
#endif
}

result<std::unique_ptr<persistence::journal>> open_configured(const std::string& path,
                                                              bool writable) {
  auto config = load_config(path);
  if (!config) return std::move(config).err();
  const journal_config& j = config->journal;
  switch (j.backend) {
    case journal_backend::sqlite:
      return open_sqlite(j.sqlite.path, writable);
    case journal_backend::postgres:
      return open_postgres(j.postgres.conninfo, j.postgres.schema);
    case journal_backend::memory:
      break;
  }
  return error{errc::invalid_argument,
               path + " configures the memory journal, which holds nothing outside its process"};
}

}  // namespace

result<std::unique_ptr<persistence::journal>> open_journal(const journal_source& source) {
  const int named = int{!source.sqlite_path.empty()} + int{!source.pg_conninfo.empty()} +
                    int{!source.config_path.empty()};
  if (named == 0) {
    return error{errc::invalid_argument,
                 "no journal named: pass --journal FILE, --pg CONNINFO or --config FILE"};
  }
  if (named > 1) {
    return error{errc::invalid_argument,
                 "more than one journal named: pass only one of --journal, --pg and --config"};
  }
  if (!source.sqlite_path.empty()) return open_sqlite(source.sqlite_path, source.writable);
  if (!source.pg_conninfo.empty()) return open_postgres(source.pg_conninfo, source.pg_schema);
  return open_configured(source.config_path, source.writable);
}

cli_output::cli_output(std::FILE* out, std::FILE* err, bool json, bool colour, std::string program)
    : out_(out), err_(err), json_(json), colour_(colour && !json), program_(std::move(program)) {}

std::string cli_output::paint(std::string_view text, style s) const {
  if (!colour_) return std::string{text};
  const char* code = "1";
  switch (s) {
    case style::bold:
      code = "1";
      break;
    case style::dim:
      code = "2";
      break;
    case style::red:
      code = "31";
      break;
    case style::green:
      code = "32";
      break;
    case style::cyan:
      code = "36";
      break;
    case style::yellow:
      code = "33";
      break;
  }
  return fmt::format("\x1b[{}m{}\x1b[0m", code, text);
}

void cli_output::line(std::string_view text) {
  fmt::print(out_, "{}\n", text);
}

void cli_output::error(std::string_view text) {
  fmt::print(err_, "{}: {}\n", program_, text);
}

result<void> cli_output::event(const persistence::event_record& r) {
  if (json_) {
    auto text = persistence::to_json_text(r);
    if (!text) return std::move(text).err();
    line(*text);
    return ok();
  }
  line(fmt::format(
      "{:>8}  {}  {} {}  {}  {} {}  {}", r.position.value, paint(to_iso8601(r.time), style::dim),
      paint(r.stream().str(), style::bold),
      paint(fmt::format("v{}", r.stream_version.value), style::bold),
      paint(r.event_type, style::cyan),
      paint("user=", style::dim) + (r.user_id.empty() ? "-" : r.user_id),
      paint("correlation=", style::dim) + (r.correlation_id.empty() ? "-" : r.correlation_id),
      r.data));
  return ok();
}

result<persistence::journal*> cli_context::journal() {
  if (view_ != nullptr) return view_;
  if (!journal_) {
    auto opened = open_journal(source_);
    if (!opened) return std::move(opened).err();
    journal_ = std::move(*opened);
  }
  return journal_.get();
}

cli::cli(std::string name, std::string description)
    : app_(std::make_unique<CLI::App>(std::move(description), std::move(name))) {
  CLI::App& a = *app_;
  a.require_subcommand(1);
  a.fallthrough();  // the journal options may follow the command's name too
  auto* sqlite = a.add_option("--journal", source_.sqlite_path,
                              "An SQLite journal file (opened read-only; import appends to it)");
  auto* pg = a.add_option("--pg", source_.pg_conninfo,
                          "A PostgreSQL journal: a libpq connection string, e.g. "
                          "\"host=127.0.0.1 dbname=strata\"");
  a.add_option("--pg-schema", source_.pg_schema, "The schema of the PostgreSQL journal")
      ->capture_default_str();
  auto* config = a.add_option("--config", source_.config_path,
                              "A runtime configuration file (JSON); its journal section is used");
  sqlite->excludes(pg)->excludes(config);
  pg->excludes(config);
  a.add_flag("--json", json_,
             "One JSON object per line (events in the record JSON format) instead of text");
  a.add_flag("--progress", progress_,
             "Report progress of long commands (verify, rebuild, export, import) on stderr even "
             "when stderr is not a terminal");
  a.footer(
      "Exit codes: 0 ok, 1 something was found wrong (a broken audit chain, an import refused, "
      "an event parked), 2 bad usage or a store or file that cannot be opened or read.");
}

cli::~cli() = default;

CLI::App& cli::add_command(const std::string& name, const std::string& help, cli_command run) {
  CLI::App* sub = app_->add_subcommand(name, help);
  bodies_[name] = std::move(run);
  sub->callback([this, name] { chosen_ = bodies_[name]; });
  return *sub;
}

cli_command& cli::body(const std::string& name) {
  return bodies_.at(name);
}

int cli::run(int argc, const char* const* argv) {
  try {
    app_->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app_->exit(e);
    return code == 0 ? 0 : static_cast<int>(cli_exit::usage);
  }
  if (!chosen_) return static_cast<int>(cli_exit::usage);
  const bool colour = ::isatty(::fileno(stdout)) == 1 && std::getenv("NO_COLOR") == nullptr;
  cli_output out{stdout, stderr, json_, colour, app_->get_name()};
  const bool progress = progress_ || ::isatty(::fileno(stderr)) == 1;
  cli_context context{source_, out, &registry_, progress};
  try {
    const cli_exit code = chosen_(context);
    std::fflush(stdout);
    return static_cast<int>(code);
  } catch (const std::exception& e) {
    out.error(std::string{"unexpected failure: "} + e.what());
    return static_cast<int>(cli_exit::usage);
  }
}

}  // namespace strata
