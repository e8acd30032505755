// state and diff: past states of a stream, rebuilt without an actor system by the runtime's own
// fold (actors::rehydrate: the newest valid snapshot at or below the point, then the events
// after it, each upcast, decoded and evolved by the registered decider).

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <memory>
#include <optional>
#include <string>

#include "strata/actors/rehydration.hpp"
#include "strata/cli/command_support.hpp"
#include "strata/cli/operations.hpp"
#include "strata/domain/kernel/input.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/persistence/record_json.hpp"
#include "strata/persistence/sqlite_snapshot_store.hpp"
#include "strata/runtime/config.hpp"
#if STRATA_WITH_POSTGRES
#include "strata/persistence/postgres/postgres_snapshot_store.hpp"
#endif

namespace strata {

namespace {

using cli_support::parse_stream;
using cli_support::store_failure;
using cli_support::usage_failure;

/// A point of a stream's history: a version, or a time (the last event at or before it).
std::optional<actors::rehydration_target> parse_point(const std::string& text) {
  actors::rehydration_target t;
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    try {
      t.to = version{std::stoull(text)};
    } catch (const std::exception&) {
      return std::nullopt;
    }
    return t;
  }
  // A date alone is the start of that day (UTC).
  const std::string full = text.size() == 10 ? text + "T00:00:00Z" : text;
  auto time = parse_iso8601(full);
  if (!time) return std::nullopt;
  t.until = *time;
  return t;
}

/// The snapshots the runtime keeps next to the journal `source` names, or null (none
/// configured, or a store that cannot be opened: the rebuild then replays every event).
std::unique_ptr<persistence::snapshot_store> open_snapshots(const journal_source& source) {
  std::string sqlite_path = source.sqlite_path;
  std::string conninfo = source.pg_conninfo;
  std::string schema = source.pg_schema;
  if (!source.config_path.empty()) {
    auto config = load_config(source.config_path);
    if (!config || config->aggregates.snapshot_every == 0) return nullptr;
    if (config->journal.backend == journal_backend::sqlite) {
      sqlite_path = config->journal.sqlite.path;
    } else if (config->journal.backend == journal_backend::postgres) {
      conninfo = config->journal.postgres.conninfo;
      schema = config->journal.postgres.schema;
    }
  }
  if (!sqlite_path.empty()) {
    persistence::sqlite_snapshot_store_options o;
    o.path = sqlite_path;
    o.synchronous_full = false;
    auto s = persistence::sqlite_snapshot_store::open(o);
    return s ? std::move(*s) : nullptr;
  }
#if STRATA_WITH_POSTGRES
  if (!conninfo.empty()) {
    persistence::postgres_snapshot_store_options o;
    o.conninfo = conninfo;
    o.schema = schema;
    auto s = persistence::postgres_snapshot_store::open(o);
    return s ? std::move(*s) : nullptr;
  }
#endif
  return nullptr;
}

/// The journal, the snapshots and the model a rebuild of one stream needs.
struct rebuild_setup {
  persistence::journal* journal = nullptr;
  std::unique_ptr<persistence::snapshot_store> snapshots;
  const actors::aggregate_model* model = nullptr;
  stream_id stream;
};

/// Opens what rebuilding `stream_text` needs; on failure reports it and returns the exit code.
std::optional<cli_exit> prepare(cli_context& c, const std::string& stream_text, bool snapshots,
                                rebuild_setup& s) {
  auto stream = parse_stream(c, stream_text);
  if (!stream) return cli_exit::usage;
  s.stream = *stream;
  s.model = c.registry().model(stream->aggregate_type());
  if (s.model == nullptr) {
    const auto known = c.registry().aggregate_types();
    return usage_failure(
        c, fmt::format("this program has no decider for aggregate type '{}'{}",
                       stream->aggregate_type(),
                       known.empty() ? std::string{" (it registers none)"}
                                     : fmt::format(" (it knows {})", fmt::join(known, ", "))));
  }
  auto j = c.journal();
  if (!j) return store_failure(c, j.err());
  s.journal = *j;
  if (snapshots) s.snapshots = open_snapshots(c.source());
  return std::nullopt;
}

/// The state at `target`. Errors: the journal's, and the decoding errors of `rehydrate`.
result<actors::rehydrated> rebuild(rebuild_setup& s, const actors::rehydration_target& target) {
  return actors::rehydrate(*s.journal, s.snapshots.get(), *s.model, s.stream, target, 0, nullptr);
}

boost::json::object point_json(const rebuild_setup& s, const actors::rehydrated& r) {
  boost::json::object o;
  o["version"] = r.at.value;
  if (r.at.value > 0)
    o["timestamp"] = to_iso8601(r.time);
  else
    o["timestamp"] = nullptr;
  o["state"] = boost::json::parse(s.model->encode_state(r.state));
  return o;
}

std::string point_text(const actors::rehydrated& r) {
  if (r.at.value == 0) return "v0 (before its first event)";
  return fmt::format("v{} ({})", r.at.value, to_iso8601(r.time));
}

// ---- state ----------------------------------------------------------------------------------

struct state_options {
  std::string stream;
  std::optional<std::uint64_t> at_version;
  std::string at;
  bool no_snapshots = false;
};

cli_exit run_state(cli_context& c, const state_options& o) {
  actors::rehydration_target target;
  if (o.at_version) target.to = version{*o.at_version};
  if (!o.at.empty()) {
    auto point = parse_point(o.at);
    if (!point || !point->until) {
      return usage_failure(c, "--at " + quote_for_message(o.at) +
                                  " is not a time: write it as 2026-12-01T20:00:00Z or "
                                  "2026-12-01");
    }
    target = *point;
  }
  rebuild_setup s;
  if (auto failed = prepare(c, o.stream, !o.no_snapshots, s)) return *failed;
  auto r = rebuild(s, target);
  if (!r) return store_failure(c, r.err());
  cli_output& out = c.out();
  if (out.json()) {
    boost::json::object o_json = point_json(s, *r);
    boost::json::object line;
    line["stream"] = s.stream.str();
    line["version"] = o_json["version"];
    line["timestamp"] = o_json["timestamp"];
    line["eventsReplayed"] = r->events_replayed;
    if (r->snapshot)
      line["snapshot"] = r->snapshot->value;
    else
      line["snapshot"] = nullptr;
    line["state"] = o_json["state"];
    out.line(boost::json::serialize(line));
    return cli_exit::ok;
  }
  std::string from = r->snapshot ? fmt::format("snapshot v{} and {} events after it",
                                               r->snapshot->value, r->events_replayed)
                                 : fmt::format("{} events replayed", r->events_replayed);
  out.line(fmt::format("{} at {}, from {}", out.paint(s.stream.str(), cli_output::style::bold),
                       point_text(*r), from));
  out.line(s.model->encode_state(r->state));
  return cli_exit::ok;
}

// ---- diff -----------------------------------------------------------------------------------

struct diff_options {
  std::string stream;
  std::string from;
  std::string to;
  bool no_snapshots = false;
};

cli_exit run_diff(cli_context& c, const diff_options& o) {
  auto from = parse_point(o.from);
  auto to = o.to.empty() ? std::optional<actors::rehydration_target>{actors::rehydration_target{}}
                         : parse_point(o.to);
  if (!from) {
    return usage_failure(c, "--from " + quote_for_message(o.from) +
                                " is neither a version nor a time (2026-12-01T20:00:00Z)");
  }
  if (!to) {
    return usage_failure(c, "--to " + quote_for_message(o.to) +
                                " is neither a version nor a time (2026-12-01T20:00:00Z)");
  }
  rebuild_setup s;
  if (auto failed = prepare(c, o.stream, !o.no_snapshots, s)) return *failed;
  auto before = rebuild(s, *from);
  if (!before) return store_failure(c, before.err());
  auto after = rebuild(s, *to);
  if (!after) return store_failure(c, after.err());
  if (after->at.value < before->at.value) {
    return usage_failure(
        c, fmt::format("--to ({}) is before --from ({})", point_text(*after), point_text(*before)));
  }
  std::vector<persistence::event_record> events;
  if (after->at.value > before->at.value) {
    persistence::stream_range range;
    range.from = before->at.next();
    range.to = after->at;
    auto read = s.journal->read_stream(s.stream, range);
    if (!read) return store_failure(c, read.err());
    events = std::move(*read);
  }
  cli_output& out = c.out();
  if (out.json()) {
    boost::json::object line;
    line["stream"] = s.stream.str();
    line["from"] = point_json(s, *before);
    line["to"] = point_json(s, *after);
    boost::json::array list;
    for (const auto& r : events) {
      auto v = persistence::to_json_value(r);
      if (!v) return store_failure(c, v.err());
      list.push_back(std::move(*v));
    }
    line["events"] = std::move(list);
    out.line(boost::json::serialize(line));
    return cli_exit::ok;
  }
  out.line(fmt::format("{} from {} to {}: {} events",
                       out.paint(s.stream.str(), cli_output::style::bold), point_text(*before),
                       point_text(*after), events.size()));
  out.line(out.paint("before: ", cli_output::style::dim) + s.model->encode_state(before->state));
  for (const auto& r : events) {
    if (auto shown = out.event(r); !shown) return store_failure(c, shown.err());
  }
  out.line(out.paint("after:  ", cli_output::style::dim) + s.model->encode_state(after->state));
  return cli_exit::ok;
}

}  // namespace

void add_decider_commands(cli& app) {
  auto s = std::make_shared<state_options>();
  CLI::App& state = app.add_command(
      "state",
      "The state of STREAM now, just after version N (--at-version), or as of a time (--at: "
      "every event up to the last one at or before it), rebuilt by the decider the program "
      "registers, as the runtime does (newest valid snapshot, then the events after it, each "
      "upcast), printed as the state's JSON.",
      [s](cli_context& c) { return run_state(c, *s); });
  state.add_option("STREAM", s->stream, "The stream, e.g. Order-456")->required();
  auto* at_version = state.add_option("--at-version", s->at_version, "Just after version N")
                         ->check(cli_support::unsigned_integer());
  auto* at = state.add_option("--at", s->at,
                              "As of TIME (UTC, ISO 8601, e.g. 2026-12-01T20:00:00Z; a date "
                              "alone is the start of that day)");
  at->excludes(at_version);
  state.add_flag("--no-snapshots", s->no_snapshots, "Replay every event, ignoring snapshots");

  auto d = std::make_shared<diff_options>();
  CLI::App& diff = app.add_command(
      "diff",
      "What changed in STREAM between two points: the state before, the events between and the "
      "state after. A point is a version (3) or a time (2026-12-01T20:00:00Z, or a date).",
      [d](cli_context& c) { return run_diff(c, *d); });
  diff.add_option("STREAM", d->stream, "The stream, e.g. Order-456")->required();
  diff.add_option("--from", d->from, "The point before (a version or a time; 0 is the start)")
      ->required();
  diff.add_option("--to", d->to, "The point after (a version or a time; default: the head)");
  diff.add_flag("--no-snapshots", d->no_snapshots, "Replay every event, ignoring snapshots");
}

}  // namespace strata
