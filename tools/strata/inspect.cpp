// The inspection commands: streams, events, trace and verify. They read the journal only
// through `persistence::journal`, so they work on every backend; listing streams and tracing a
// correlation id scan the whole journal with `read_all` in pages (cost: one pass over every
// event).

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strata/cli/cli.hpp"
#include "strata/cli/command_support.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/persistence/audit_chain.hpp"

namespace strata {

namespace {

using cli_support::page_size;
using cli_support::parse_stream;
using cli_support::print_table;
using cli_support::scan_all;
using cli_support::store_failure;
using cli_support::usage_failure;

struct stream_summary {
  std::string type;
  std::string id;
  std::uint64_t events = 0;
  version last_version;
  timestamp first{};
  timestamp last{};
};

void add_streams(cli& app) {
  auto type = std::make_shared<std::string>();
  CLI::App& cmd = app.add_command(
      "streams",
      "List every stream: aggregate type and id, event count, version, first and last event "
      "time. Reads the whole journal once, in global order.",
      [type](cli_context& c) {
        auto j = c.journal();
        if (!j) return store_failure(c, j.err());
        std::map<std::string, stream_summary> streams;
        auto scanned = scan_all(**j, global_position{}, [&](const persistence::event_record& r) {
          if (!type->empty() && r.aggregate_type != *type) return true;
          stream_summary& s = streams[r.stream().str()];
          if (s.events == 0) {
            s.type = r.aggregate_type;
            s.id = r.aggregate_id;
            s.first = r.time;
          }
          ++s.events;
          s.last_version = r.stream_version;
          s.last = r.time;
          return true;
        });
        if (!scanned) return store_failure(c, scanned.err());
        cli_output& out = c.out();
        if (out.json()) {
          for (const auto& [name, s] : streams) {
            boost::json::object o;
            o["stream"] = name;
            o["aggregateType"] = s.type;
            o["aggregateId"] = s.id;
            o["events"] = s.events;
            o["version"] = s.last_version.value;
            o["firstTimestamp"] = to_iso8601(s.first);
            o["lastTimestamp"] = to_iso8601(s.last);
            out.line(boost::json::serialize(o));
          }
          return cli_exit::ok;
        }
        if (streams.empty()) {
          out.line(type->empty() ? "no streams" : "no streams of type " + *type);
          return cli_exit::ok;
        }
        std::vector<std::vector<std::string>> rows{
            {"TYPE", "ID", "EVENTS", "VERSION", "FIRST", "LAST"}};
        for (const auto& [name, s] : streams) {
          rows.push_back({s.type, s.id, std::to_string(s.events),
                          std::to_string(s.last_version.value), to_iso8601(s.first),
                          to_iso8601(s.last)});
        }
        print_table(out, rows);
        return cli_exit::ok;
      });
  cmd.add_option("--type", *type, "Only the streams of this aggregate type, e.g. Order");
}

struct events_options {
  std::string stream;
  bool all = false;
  std::uint64_t from = 1;
  std::optional<std::uint64_t> to;
  std::uint64_t from_position = 1;
  std::optional<std::uint64_t> limit;
  bool follow = false;
  std::optional<std::uint64_t> max_events;
  std::uint32_t poll_ms = 500;
};

cli_exit follow(cli_context& c, persistence::journal& j, const events_options& o) {
  cli_support::follow_request r;
  if (!o.all) {
    auto stream = parse_stream(c, o.stream);
    if (!stream) return cli_exit::usage;
    r.stream = *stream;
    r.from = version{std::max<std::uint64_t>(o.from, 1)};
  }
  r.after = global_position{o.from_position > 0 ? o.from_position - 1 : 0};
  r.max_events = o.max_events;
  r.poll = std::chrono::milliseconds{o.poll_ms};
  return cli_support::follow_events(c, j, r);
}

cli_exit print_stream(cli_context& c, persistence::journal& j, const events_options& o) {
  auto stream = parse_stream(c, o.stream);
  if (!stream) return cli_exit::usage;
  if (o.to && *o.to < o.from) {
    return usage_failure(c, fmt::format("--to {} is before --from {}", *o.to, o.from));
  }
  std::uint64_t left = o.limit.value_or(UINT64_MAX);
  persistence::stream_range range;
  range.from = version{std::max<std::uint64_t>(o.from, 1)};
  if (o.to) range.to = version{*o.to};
  std::uint64_t printed = 0;
  while (left > 0) {
    range.limit = static_cast<std::size_t>(std::min<std::uint64_t>(left, page_size));
    auto page = j.read_stream(*stream, range);
    if (!page) return store_failure(c, page.err());
    for (const persistence::event_record& r : *page) {
      if (auto shown = c.out().event(r); !shown) return store_failure(c, shown.err());
    }
    printed += page->size();
    left -= page->size();
    if (page->size() < range.limit) break;
    range.from = page->back().stream_version.next();
  }
  if (printed == 0 && !c.out().json()) {
    auto head = j.head(*stream);
    if (!head) return store_failure(c, head.err());
    c.out().error(head->value == 0 ? stream->str() + " has no events"
                                   : fmt::format("{} has no events in the versions asked for "
                                                 "(its version is {})",
                                                 stream->str(), head->value));
  }
  return cli_exit::ok;
}

cli_exit print_all(cli_context& c, persistence::journal& j, const events_options& o) {
  std::uint64_t left = o.limit.value_or(UINT64_MAX);
  if (left == 0) return cli_exit::ok;
  result<void> failure = ok();
  auto scanned = scan_all(j, global_position{o.from_position > 0 ? o.from_position - 1 : 0},
                          [&](const persistence::event_record& r) {
                            failure = c.out().event(r);
                            return failure.has_value() && --left > 0;
                          });
  if (!scanned) return store_failure(c, scanned.err());
  if (!failure) return store_failure(c, failure.err());
  return cli_exit::ok;
}

void add_events(cli& app) {
  auto o = std::make_shared<events_options>();
  CLI::App& cmd = app.add_command(
      "events",
      "The events of one stream (STREAM, written Type-id as in Order-456), or with --all of the "
      "whole journal, in order: position, time, stream and version, type, user, correlation id "
      "and data.",
      [o](cli_context& c) {
        if (!o->all && o->stream.empty()) {  // both at once CLI11 refuses
          return usage_failure(c, "name a STREAM (Type-id) or pass --all");
        }
        auto j = c.journal();
        if (!j) return store_failure(c, j.err());
        if (o->follow) return follow(c, **j, *o);
        return o->all ? print_all(c, **j, *o) : print_stream(c, **j, *o);
      });
  auto* stream = cmd.add_option("STREAM", o->stream, "The stream, e.g. Order-456");
  auto* all = cmd.add_flag("--all", o->all, "Every stream, in global order");
  all->excludes(stream);
  auto* from = cmd.add_option("--from", o->from, "First stream version shown (default 1)")
                   ->check(cli_support::unsigned_integer());
  auto* to = cmd.add_option("--to", o->to, "Last stream version shown")
                 ->check(cli_support::unsigned_integer());
  auto* from_position = cmd.add_option("--from-position", o->from_position,
                                       "With --all: first global position shown (default 1)")
                            ->check(cli_support::unsigned_integer());
  auto* limit = cmd.add_option("--limit", o->limit, "Show at most N events")
                    ->check(cli_support::unsigned_integer());
  auto* follow_flag = cmd.add_flag("-f,--follow", o->follow,
                                   "Keep running and print new events as they are committed, until "
                                   "interrupted (Ctrl-C, SIGTERM)");
  cmd.add_option("--max-events", o->max_events, "With --follow: stop after printing N events")
      ->needs(follow_flag)
      ->check(cli_support::unsigned_integer());
  cmd.add_option("--poll-ms", o->poll_ms,
                 "With --follow: milliseconds between polls of the journal (10 to 60000)")
      ->check(CLI::Range(10, 60000))
      ->capture_default_str()
      ->needs(follow_flag)
      ->check(cli_support::unsigned_integer());
  follow_flag->excludes(limit)->excludes(to);
  from->excludes(all);
  to->excludes(all);
  from_position->needs(all);
}

void add_trace(cli& app) {
  auto correlation = std::make_shared<std::string>();
  CLI::App& cmd = app.add_command(
      "trace",
      "Every event carrying CORRELATION_ID, across all streams, in global order: what one "
      "request caused. Reads the whole journal once.",
      [correlation](cli_context& c) {
        auto j = c.journal();
        if (!j) return store_failure(c, j.err());
        std::uint64_t found = 0;
        result<void> failure = ok();
        auto scanned = scan_all(**j, global_position{}, [&](const persistence::event_record& r) {
          if (r.correlation_id != *correlation) return true;
          ++found;
          failure = c.out().event(r);
          return failure.has_value();
        });
        if (!scanned) return store_failure(c, scanned.err());
        if (!failure) return store_failure(c, failure.err());
        if (found == 0 && !c.out().json()) {
          c.out().error("no event has correlation id '" + *correlation + "'");
        }
        return cli_exit::ok;
      });
  cmd.add_option("CORRELATION_ID", *correlation, "The correlation id")->required();
}

void print_violation(cli_output& out, const chain_violation& v) {
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
  out.line(fmt::format("{} {} {} (position {}): {}: {}",
                       out.paint("audit chain broken:", cli_output::style::red),
                       v.stream.empty() ? std::string{"(no stream)"} : v.stream.str(),
                       fmt::format("v{}", v.at.value), v.position.value, v.kind, v.detail));
}

void add_verify(cli& app) {
  auto stream_text = std::make_shared<std::string>();
  CLI::App& cmd = app.add_command(
      "verify",
      "Recompute the audit hash chain of STREAM, or of every stream, and check versions and "
      "positions. Prints the first problem found and exits with 1; reads the whole journal "
      "(or the stream) once.",
      [stream_text](cli_context& c) {
        std::optional<stream_id> stream;
        if (!stream_text->empty()) {
          stream = parse_stream(c, *stream_text);
          if (!stream) return cli_exit::usage;
        }
        auto j = c.journal();
        if (!j) return store_failure(c, j.err());
        result<std::optional<chain_violation>> verified = std::optional<chain_violation>{};
        if (stream) {
          verified = persistence::verify_stream(**j, *stream);
        } else {
          auto last = (*j)->last_position();
          if (!last) return store_failure(c, last.err());
          cli_support::progress_line progress{c, "verify", last->value};
          cli_support::reading_journal reading{
              **j, [&](global_position p) { progress.update(p.value); }};
          verified = persistence::verify_journal(reading);
        }
        if (!verified) return store_failure(c, verified.err());
        if (*verified) {
          print_violation(c.out(), **verified);
          return cli_exit::findings;
        }
        cli_output& out = c.out();
        if (stream) {
          auto head = (*j)->head(*stream);
          if (!head) return store_failure(c, head.err());
          if (out.json()) {
            boost::json::object o;
            o["intact"] = true;
            o["stream"] = stream->str();
            o["version"] = head->value;
            out.line(boost::json::serialize(o));
          } else {
            out.line(fmt::format("{} {}: {} events", out.paint("intact", cli_output::style::green),
                                 stream->str(), head->value));
          }
          return cli_exit::ok;
        }
        auto last = (*j)->last_position();
        if (!last) return store_failure(c, last.err());
        if (out.json()) {
          boost::json::object o;
          o["intact"] = true;
          o["lastPosition"] = last->value;
          out.line(boost::json::serialize(o));
        } else {
          out.line(fmt::format("{} journal: {} events",
                               out.paint("intact", cli_output::style::green), last->value));
        }
        return cli_exit::ok;
      });
  cmd.add_option("STREAM", *stream_text, "Only this stream, e.g. Order-456");
}

}  // namespace

void add_inspection_commands(cli& c) {
  add_streams(c);
  add_events(c);
  add_trace(c);
  add_verify(c);
}

}  // namespace strata
