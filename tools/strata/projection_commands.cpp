// projections, rebuild and retry: the read models' positions, lag and parked events, read
// from the read-model store, and the projections the program registers driven with
// `persistence::projection_runner`, without an actor system.

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "strata/cli/command_support.hpp"
#include "strata/cli/operations.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/persistence/projection_runner.hpp"
#include "strata/persistence/sqlite_projection_store.hpp"
#include "strata/runtime/config.hpp"
#include "strata/runtime/runtime.hpp"
#if STRATA_WITH_POSTGRES
#include "strata/persistence/postgres/postgres_projection_store.hpp"
#endif

namespace strata {

namespace {

using cli_support::progress_line;
using cli_support::store_failure;
using cli_support::usage_failure;

/// Where the read models are: the command's options, else the configuration's `projections`.
struct read_model_options {
  std::string sqlite_path;
  std::string pg_conninfo;
  std::string pg_schema = "strata_read";
};

void add_read_model_options(CLI::App& cmd, read_model_options& o) {
  auto* sqlite = cmd.add_option("--read-models", o.sqlite_path,
                                "The SQLite read-model file (default: the configuration's "
                                "projections section)");
  auto* pg = cmd.add_option("--read-models-pg", o.pg_conninfo,
                            "A PostgreSQL read-model database: a libpq connection string");
  cmd.add_option("--read-models-schema", o.pg_schema, "The schema of the PostgreSQL read models")
      ->capture_default_str();
  sqlite->excludes(pg);
}

/// Opens the read-model store; `create` allows a new SQLite file (for a rebuild).
result<std::unique_ptr<persistence::projection_store>> open_read_models(cli_context& c,
                                                                        const read_model_options& o,
                                                                        bool create) {
  read_model_options where = o;
  if (where.sqlite_path.empty() && where.pg_conninfo.empty()) {
    if (c.source().config_path.empty()) {
      return error{errc::invalid_argument,
                   "no read-model store named: pass --read-models FILE, --read-models-pg "
                   "CONNINFO or --config FILE"};
    }
    auto config = load_config(c.source().config_path);
    if (!config) return std::move(config).err();
    if (config->projections.backend == projections_backend::sqlite) {
      where.sqlite_path = config->projections.path;
    } else {
      where.pg_conninfo = config->projections.postgres.conninfo;
      where.pg_schema = config->projections.postgres.schema;
    }
  }
  if (!where.sqlite_path.empty()) {
    std::error_code ec;
    if (!create && !std::filesystem::exists(where.sqlite_path, ec)) {
      return error{errc::not_found, "read-model file '" + where.sqlite_path + "' does not exist"};
    }
    persistence::sqlite_projection_store_options so;
    so.path = where.sqlite_path;
    auto s = persistence::sqlite_projection_store::open(so);
    if (!s) {
      return error{s.err().code,
                   "cannot open read-model file '" + where.sqlite_path + "': " + s.err().message};
    }
    return std::unique_ptr<persistence::projection_store>{std::move(*s)};
  }
#if STRATA_WITH_POSTGRES
  persistence::postgres_projection_store_options po;
  po.conninfo = where.pg_conninfo;
  po.schema = where.pg_schema;
  auto s = persistence::postgres_projection_store::open(po);
  if (!s) {
    return error{s.err().code, "cannot open the PostgreSQL read models (schema '" +
                                   where.pg_schema + "'): " + s.err().message};
  }
  return std::unique_ptr<persistence::projection_store>{std::move(*s)};
#else
  return error{errc::invalid_argument, "this build of strata has no PostgreSQL backend"};
#endif
}

/// The poison policy of the configuration, or `park_and_continue`.
persistence::poison_policy poison_policy_of(cli_context& c) {
  if (c.source().config_path.empty()) return persistence::poison_policy::park_and_continue;
  auto config = load_config(c.source().config_path);
  return config ? config->projections.on_poison : persistence::poison_policy::park_and_continue;
}

// ---- projections ----------------------------------------------------------------------------

cli_exit run_projections(cli_context& c, const read_model_options& o) {
  const auto& registered = c.registry().projections();
  if (registered.empty()) {
    return usage_failure(c, "this program registers no projection");
  }
  auto j = c.journal();
  if (!j) return store_failure(c, j.err());
  auto store = open_read_models(c, o, false);
  if (!store) return store_failure(c, store.err());
  auto head = (*j)->last_position();
  if (!head) return store_failure(c, head.err());
  cli_output& out = c.out();
  std::vector<std::vector<std::string>> rows{
      {"PROJECTION", "POSITION", "LAG", "PARKED", "LAST EVENT"}};
  std::vector<dead_letter> parked;
  for (const auto& p : registered) {
    const std::string name{p->name()};
    auto cp = (*store)->load_checkpoint(name);
    if (!cp) return store_failure(c, cp.err());
    auto letters = (*store)->dead_letters(name);
    if (!letters) return store_failure(c, letters.err());
    const std::uint64_t lag =
        head->value > cp->position.value ? head->value - cp->position.value : 0;
    const bool other_journal = !cp->journal_id.empty() && cp->journal_id != (*j)->id();
    if (out.json()) {
      boost::json::object row;
      row["projection"] = name;
      row["position"] = cp->position.value;
      row["head"] = head->value;
      row["lag"] = lag;
      row["parked"] = letters->size();
      if (cp->position.value > 0)
        row["lastEventTimestamp"] = to_iso8601(cp->last_event_time);
      else
        row["lastEventTimestamp"] = nullptr;
      row["otherJournal"] = other_journal;
      boost::json::array list;
      for (const dead_letter& d : *letters) {
        boost::json::object l;
        l["position"] = d.position.value;
        l["eventId"] = d.event_id;
        l["eventType"] = d.event_type;
        l["error"] = d.error;
        l["parkedAt"] = to_iso8601(d.parked_at);
        l["attempts"] = d.attempts;
        list.push_back(std::move(l));
      }
      row["deadLetters"] = std::move(list);
      out.line(boost::json::serialize(row));
      continue;
    }
    rows.push_back({name, std::to_string(cp->position.value),
                    other_journal ? std::string{"another journal"} : std::to_string(lag),
                    std::to_string(letters->size()),
                    cp->position.value > 0 ? to_iso8601(cp->last_event_time) : std::string{"-"}});
    parked.insert(parked.end(), letters->begin(), letters->end());
  }
  if (out.json()) return cli_exit::ok;
  out.line(fmt::format("journal head: position {}", head->value));
  cli_support::print_table(out, rows);
  for (const dead_letter& d : parked) {
    out.line(fmt::format("{} {} @{} {} (attempts {}, parked {}): {}",
                         out.paint("parked:", cli_output::style::yellow), d.projection,
                         d.position.value, d.event_type, d.attempts, to_iso8601(d.parked_at),
                         d.error));
  }
  return cli_exit::ok;
}

// ---- rebuild and retry ----------------------------------------------------------------------

/// The host lock of the journal store the options name (`lock_journal_store`, the lock a
/// running runtime holds), held while rebuild or retry runs so that no runtime starts on the
/// store meanwhile. Null with `force`. On failure reports it and returns the exit code: a
/// held lock means a runtime runs on the store, which would race the command.
std::optional<cli_exit> lock_store(cli_context& c, bool force, std::unique_ptr<host_lock>& held) {
  if (force) return std::nullopt;
  const journal_source& source = c.source();
  journal_config where;
  if (!source.sqlite_path.empty()) {
    where.backend = journal_backend::sqlite;
    where.sqlite.path = source.sqlite_path;
  } else if (!source.pg_conninfo.empty()) {
    where.backend = journal_backend::postgres;
    where.postgres.conninfo = source.pg_conninfo;
    where.postgres.schema = source.pg_schema;
  } else if (!source.config_path.empty()) {
    auto config = load_config(source.config_path);
    if (!config) return store_failure(c, config.err());
    where = config->journal;
  } else {
    return std::nullopt;  // no journal named: the journal's own error says so
  }
  if (where.backend == journal_backend::sqlite) {
    // A journal that does not exist has no runtime either; its own error says so.
    std::error_code ec;
    if (!std::filesystem::is_regular_file(where.sqlite.path, ec)) return std::nullopt;
  }
  auto lock = lock_journal_store(where);
  if (!lock) {
    if (lock.err().code == errc::conflict)
      return usage_failure(c, lock.err().message + " (or pass --force)");
    return usage_failure(c, "cannot tell whether a runtime is running on this store: " +
                                lock.err().message + "; pass --force to go on anyway");
  }
  held = std::move(*lock);
  return std::nullopt;
}

/// A runner for registered projection `name`, started on the journal with `how`; on failure
/// reports it and returns the exit code.
struct runner_setup {
  persistence::journal* journal = nullptr;
  std::unique_ptr<persistence::projection_runner> runner;
};

std::optional<cli_exit> prepare_runner(cli_context& c, const std::string& name,
                                       const read_model_options& o, projection_start how,
                                       runner_setup& s) {
  auto p = c.registry().find_projection(name);
  if (!p) {
    std::vector<std::string> known;
    for (const auto& q : c.registry().projections()) known.emplace_back(q->name());
    return usage_failure(
        c, fmt::format("this program has no projection '{}'{}", name,
                       known.empty() ? std::string{" (it registers none)"}
                                     : fmt::format(" (it knows {})", fmt::join(known, ", "))));
  }
  auto bound = bind_projection(p, c.registry().catalog());
  if (!bound) return store_failure(c, bound.err());
  auto j = c.journal();
  if (!j) return store_failure(c, j.err());
  auto store = open_read_models(c, o, how == projection_start::rebuild);
  if (!store) return store_failure(c, store.err());
  s.journal = *j;
  s.runner = std::make_unique<persistence::projection_runner>(
      std::move(*bound), std::move(*store), poison_policy_of(c),
      std::make_shared<strata::system_clock>());
  if (auto started = s.runner->start(**j, how); !started) {
    return store_failure(c, started.err());
  }
  return std::nullopt;
}

cli_exit run_rebuild(cli_context& c, const std::string& name, const read_model_options& o,
                     bool force) {
  std::unique_ptr<host_lock> held;
  if (auto refused = lock_store(c, force, held)) return *refused;
  runner_setup s;
  if (auto failed = prepare_runner(c, name, o, projection_start::rebuild, s)) return *failed;
  auto head = s.journal->last_position();
  if (!head) return store_failure(c, head.err());
  progress_line progress{c, "rebuild " + name, head->value};
  persistence::apply_outcome total;
  for (;;) {
    auto step = s.runner->catch_up(*s.journal, 1000, 10000);
    if (!step) {
      progress.finish();
      return store_failure(c, step.err());
    }
    total.applied += step->applied;
    total.parked += step->parked;
    progress.update(s.runner->position().position.value);
    if (step->stopped || step->applied + step->parked + step->skipped == 0) break;
  }
  progress.finish();
  const std::uint64_t at = s.runner->position().position.value;
  if (c.out().json()) {
    boost::json::object o_json;
    o_json["projection"] = name;
    o_json["position"] = at;
    o_json["applied"] = total.applied;
    o_json["parked"] = total.parked;
    o_json["stopped"] = s.runner->is_stopped();
    c.out().line(boost::json::serialize(o_json));
  } else {
    c.out().line(fmt::format("rebuilt {}: position {}, {} events applied, {} parked{}", name, at,
                             total.applied, total.parked,
                             s.runner->is_stopped() ? " (stopped at a parked event)" : ""));
  }
  return total.parked > 0 ? cli_exit::findings : cli_exit::ok;
}

cli_exit run_retry(cli_context& c, const std::string& name, std::uint64_t position,
                   const read_model_options& o, bool force) {
  std::unique_ptr<host_lock> held;
  if (auto refused = lock_store(c, force, held)) return *refused;
  runner_setup s;
  if (auto failed = prepare_runner(c, name, o, projection_start::resume, s)) return *failed;
  auto retried = s.runner->retry(*s.journal, global_position{position});
  if (!retried) {
    const error& e = retried.err();
    if (e.code == errc::not_found) {
      return usage_failure(c, fmt::format("{} has no parked event at position {}", name, position));
    }
    if (e.code == errc::unavailable) return store_failure(c, e);
    c.out().error(
        fmt::format("{} @{} failed again and stays parked: {}", name, position, to_string(e)));
    return cli_exit::findings;
  }
  c.out().line(fmt::format("{} @{} applied and removed from the dead letters", name, position));
  return cli_exit::ok;
}

struct retry_options {
  std::string name;
  std::uint64_t position = 0;
  read_model_options where;
  bool force = false;
};

constexpr const char* force_help =
    "Go on even when a runtime holds the store's host lock (it is running on the store and "
    "would race this command: its cached checkpoint does not see the change)";

}  // namespace

void add_projection_commands(cli& app) {
  auto list = std::make_shared<read_model_options>();
  CLI::App& projections = app.add_command(
      "projections",
      "Each projection the program registers: its checkpoint (the last global position "
      "applied), its lag behind the journal's head, its parked (dead-letter) events and the "
      "time of the last event applied. Safe while a host runs.",
      [list](cli_context& c) { return run_projections(c, *list); });
  add_read_model_options(projections, *list);

  auto b = std::make_shared<retry_options>();
  CLI::App& rebuild = app.add_command(
      "rebuild",
      "Empty projection NAME's read model, checkpoint and dead letters and apply the whole "
      "journal again. Exits with 1 when events were parked. Refused (exit 2) while a runtime "
      "runs on the journal's store (it holds the host lock): stop it, or use "
      "runtime::rebuild_projection from the host.",
      [b](cli_context& c) { return run_rebuild(c, b->name, b->where, b->force); });
  rebuild.add_option("NAME", b->name, "The projection, e.g. order_summary")->required();
  add_read_model_options(rebuild, b->where);
  rebuild.add_flag("--force", b->force, force_help);

  auto r = std::make_shared<retry_options>();
  CLI::App& retry = app.add_command(
      "retry",
      "Apply parked event POSITION of projection NAME again; success removes it from the dead "
      "letters, a failure (exit 1) counts one more attempt. Refused (exit 2) while a runtime "
      "runs on the journal's store (it holds the host lock): stop it, or use "
      "runtime::retry_dead_letter from the host.",
      [r](cli_context& c) { return run_retry(c, r->name, r->position, r->where, r->force); });
  retry.add_option("NAME", r->name, "The projection, e.g. order_summary")->required();
  retry.add_option("POSITION", r->position, "The global position of the parked event")
      ->required()
      ->check(cli_support::unsigned_integer());
  add_read_model_options(retry, r->where);
  retry.add_flag("--force", r->force, force_help);
}

}  // namespace strata
