// export and import: streams or the whole journal as JSON lines in the record JSON format
// (persistence/record_json.hpp). An import is checked whole before anything is written: every
// line parses, every stream's versions follow each other and its hash chain links (from the
// target's last event when the target already holds the stream's start), and no stream of the
// file conflicts with what the target holds.

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "strata/cli/command_support.hpp"
#include "strata/cli/operations.hpp"
#include "strata/domain/kernel/input.hpp"
#include "strata/persistence/audit_chain.hpp"
#include "strata/persistence/record_json.hpp"

namespace strata {

namespace {

using cli_support::parse_stream;
using cli_support::progress_line;
using cli_support::scan_all;
using cli_support::store_failure;
using cli_support::usage_failure;

bool is_hash(std::string_view h) {
  if (h.size() != 64) return false;
  for (char ch : h) {
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  }
  return true;
}

}  // namespace

result<persistence::event_record> parse_export_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) {
    return error{errc::invalid_argument, "the line is empty"};
  }
  auto r = persistence::record_from_json(line);
  if (!r) return r;
  if (r->aggregate_type.empty() || r->aggregate_id.empty()) {
    return error{errc::invalid_argument, "aggregateType and aggregateId must not be empty"};
  }
  // What the runtime refuses in a command, the journal must not get through a file either.
  if (auto id = check_aggregate_id(r->aggregate_id); !id) {
    return error{errc::invalid_argument, "aggregateId: " + id.err().message};
  }
  for (auto [name, value] : {std::pair<const char*, const std::string*>{"eventId", &r->event_id},
                             {"eventType", &r->event_type},
                             {"aggregateType", &r->aggregate_type},
                             {"userId", &r->user_id},
                             {"commandId", &r->command_id},
                             {"correlationId", &r->correlation_id},
                             {"causationId", &r->causation_id}}) {
    if (value->find('\0') != std::string::npos)
      return error{errc::invalid_argument, std::string{name} + " holds a NUL character"};
  }
  if (auto data = check_json_text("data", r->data); !data) return std::move(data).err();
  if (stream_id::parse(r->stream().str()) != r->stream()) {
    return error{errc::invalid_argument,
                 "aggregateType '" + r->aggregate_type + "' cannot name a stream"};
  }
  if (r->stream_version.value == 0) {
    return error{errc::invalid_argument, "version must be 1 or more"};
  }
  if (!r->hash.empty() && !is_hash(r->hash)) {
    return error{errc::invalid_argument, "hash must be 64 lower-case hex digits"};
  }
  return r;
}

namespace {

// ---- export ---------------------------------------------------------------------------------

struct export_options {
  std::string stream;
  std::string output;
};

cli_exit run_export(cli_context& c, const export_options& o) {
  std::optional<stream_id> stream;
  if (!o.stream.empty()) {
    stream = parse_stream(c, o.stream);
    if (!stream) return cli_exit::usage;
  }
  auto j = c.journal();
  if (!j) return store_failure(c, j.err());
  // An export is a whole history: one whose start was archived needs the archive (--archive).
  if (stream) {
    if (auto whole = persistence::check_not_archived(**j, *stream, version{1}); !whole)
      return store_failure(
          c, error{whole.err().code, whole.err().message + " (pass --archive FILE to export it)"});
  } else {
    auto mark = (*j)->archived();
    if (!mark) return store_failure(c, mark.err());
    if (*mark) {
      std::string names;
      for (const auto& a : (*mark)->archives) names += (names.empty() ? "'" : ", '") + a + "'";
      return store_failure(
          c, error{errc::not_found,
                   fmt::format("events up to position {} were archived (to {}): pass --archive "
                               "FILE for each archive to export them too",
                               (*mark)->through.value, names)});
    }
  }
  std::FILE* out = c.out().out();
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file{nullptr, &std::fclose};
  if (!o.output.empty()) {
    file.reset(std::fopen(o.output.c_str(), "wx"));  // never overwrites a file
    if (!file) {
      return usage_failure(c, "cannot create '" + o.output + "' (it may exist already)");
    }
    out = file.get();
  }
  std::uint64_t total = 0;
  if (stream) {
    auto head = (*j)->head(*stream);
    if (!head) return store_failure(c, head.err());
    total = head->value;
  } else {
    auto last = (*j)->last_position();
    if (!last) return store_failure(c, last.err());
    total = last->value;
  }
  progress_line progress{c, "export", total};
  std::uint64_t written = 0;
  result<void> failure = ok();
  auto write = [&](const persistence::event_record& r) {
    auto text = persistence::to_json_text(r);
    if (!text) {
      failure = std::move(text).err();
      return false;
    }
    fmt::print(out, "{}\n", *text);
    progress.update(++written);
    return true;
  };
  if (stream) {
    persistence::stream_range range;
    range.limit = cli_support::page_size;
    for (;;) {
      auto page = (*j)->read_stream(*stream, range);
      if (!page) return store_failure(c, page.err());
      for (const auto& r : *page) {
        if (!write(r)) return store_failure(c, failure.err());
      }
      if (page->size() < range.limit) break;
      range.from = page->back().stream_version.next();
    }
  } else {
    auto scanned = scan_all(**j, global_position{}, write);
    if (!scanned) return store_failure(c, scanned.err());
    if (!failure) return store_failure(c, failure.err());
  }
  progress.finish();
  if (std::fflush(out) != 0) return usage_failure(c, "cannot write the export");
  if (written == 0 && stream) c.out().error(stream->str() + " has no events");
  if (!o.output.empty()) {
    c.out().error(fmt::format("exported {} events to {}", written, o.output));
  }
  return cli_exit::ok;
}

// ---- import ---------------------------------------------------------------------------------

/// An event of the file with the line it came from.
struct imported {
  persistence::event_record record;
  std::size_t line = 0;
};

/// What the file holds of one stream: the line numbers are for messages.
struct stream_plan {
  version first;
  version last;
  std::size_t first_line = 0;
};

/// Reads and parses every line; the message names the line of the first malformed one.
result<std::vector<imported>> read_export(const std::string& path) {
  std::ifstream in{path};
  if (!in) return error{errc::not_found, "cannot read '" + path + "'"};
  std::vector<imported> events;
  std::string text;
  std::size_t n = 0;
  while (std::getline(in, text)) {
    ++n;
    if (text.empty() || text == "\r") continue;
    auto r = parse_export_line(text);
    if (!r) {
      return error{errc::invalid_argument,
                   fmt::format("{}:{}: not an event record: {}", path, n, r.err().message)};
    }
    events.push_back(imported{std::move(*r), n});
  }
  if (in.bad()) return error{errc::unavailable, "cannot read '" + path + "'"};
  return events;
}

/// The first event of an aggregate type the command line has a decider for whose event type
/// that decider does not have (current or read by an upcaster), as a message naming its line,
/// or nullopt. Types the command line does not know are not checked; bodies are not decoded
/// (an export may hold events older code wrote, which `state` reports when it meets them).
std::optional<std::string> check_event_types(const cli_registry& registry, const std::string& path,
                                             const std::vector<imported>& events) {
  const event_catalog& catalog = registry.catalog();
  for (const imported& e : events) {
    const auto& r = e.record;
    if (catalog.decoder_of(r.aggregate_type) == nullptr) continue;
    if (!catalog.declares(r.aggregate_type, r.event_type))
      return fmt::format("{}:{}: {} v{} is a {}, which {} does not have", path, e.line,
                         r.stream().str(), r.stream_version.value, quote_for_message(r.event_type),
                         r.aggregate_type);
  }
  return std::nullopt;
}

/// Checks versions and hash chains against the file and the target; the first problem found,
/// as a message naming its line, or nullopt. Errors: the journal's.
result<std::optional<std::string>> check_import(persistence::journal& j, const std::string& path,
                                                const std::vector<imported>& events) {
  std::map<std::string, stream_plan> plans;
  std::map<std::string, std::string> previous_hash;
  persistence::chain_hasher hasher;
  for (const imported& e : events) {
    const stream_id stream = e.record.stream();
    const std::string name = stream.str();
    auto found = plans.find(name);
    if (found == plans.end()) {
      auto head = j.head(stream);
      if (!head) return std::move(head).err();
      if (head->value + 1 != e.record.stream_version.value) {
        return std::optional<std::string>{fmt::format(
            "{}:{}: {} starts at v{} in the file but the target journal holds it up to v{}: "
            "refusing to overwrite or leave a gap in it",
            path, e.line, name, e.record.stream_version.value, head->value)};
      }
      std::string hash;
      if (head->value > 0) {
        persistence::stream_range range;
        range.from = *head;
        range.to = *head;
        auto last = j.read_stream(stream, range);
        if (!last) return std::move(last).err();
        if (!last->empty()) hash = last->front().hash;
      }
      previous_hash[name] = std::move(hash);
      found =
          plans.emplace(name, stream_plan{e.record.stream_version, version{head->value}, e.line})
              .first;
    }
    stream_plan& plan = found->second;
    if (e.record.stream_version.value != plan.last.value + 1) {
      return std::optional<std::string>{
          fmt::format("{}:{}: {} v{} follows v{}: a stream's versions must follow each other", path,
                      e.line, name, e.record.stream_version.value, plan.last.value)};
    }
    plan.last = e.record.stream_version;
    std::string& prev = previous_hash[name];
    if (e.record.hash.empty()) {
      return std::optional<std::string>{
          fmt::format("{}:{}: audit chain broken: {} v{} has no hash to verify", path, e.line, name,
                      e.record.stream_version.value)};
    }
    if (hasher.link(prev, e.record) != e.record.hash) {
      return std::optional<std::string>{
          fmt::format("{}:{}: audit chain broken: {} v{} was altered (its hash does not match its "
                      "content and its predecessor's hash)",
                      path, e.line, name, e.record.stream_version.value)};
    }
    prev = e.record.hash;
  }
  return std::optional<std::string>{};
}

persistence::new_event to_new_event(persistence::event_record&& r) {
  persistence::new_event e;
  e.event_id = std::move(r.event_id);
  e.event_type = std::move(r.event_type);
  e.schema_version = r.schema_version;
  e.time = r.time;
  e.user_id = std::move(r.user_id);
  e.command_id = std::move(r.command_id);
  e.correlation_id = std::move(r.correlation_id);
  e.causation_id = std::move(r.causation_id);
  e.data = std::move(r.data);
  return e;
}

/// Appends `events` in file order, in batches; errors: the journal's, or `conflict` when a
/// stream moved since it was checked.
result<void> append_all(persistence::journal& j, std::vector<imported>& events,
                        progress_line& progress) {
  std::vector<persistence::stream_append> batch;
  std::size_t in_batch = 0;
  std::uint64_t done = 0;
  auto flush = [&]() -> result<void> {
    if (batch.empty()) return ok();
    auto outcomes = j.append(batch);
    if (!outcomes) return std::move(outcomes).err();
    for (std::size_t i = 0; i < outcomes->size(); ++i) {
      if (!(*outcomes)[i]) {
        return error{(*outcomes)[i].err().code,
                     batch[i].stream.str() + ": " + (*outcomes)[i].err().message};
      }
    }
    done += in_batch;
    progress.update(done);
    batch.clear();
    in_batch = 0;
    return ok();
  };
  for (imported& e : events) {
    const stream_id stream = e.record.stream();
    const version expected{e.record.stream_version.value - 1};
    const bool extends_last = !batch.empty() && batch.back().stream == stream;
    if (!extends_last) {
      bool seen = false;
      for (const auto& part : batch) seen = seen || part.stream == stream;
      if (seen || in_batch >= cli_support::page_size) {
        if (auto f = flush(); !f) return f;
      }
      batch.push_back(persistence::stream_append{stream, expected, {}});
    }
    batch.back().events.push_back(to_new_event(std::move(e.record)));
    ++in_batch;
  }
  return flush();
}

cli_exit run_import(cli_context& c, const std::string& path) {
  auto events = read_export(path);
  if (!events) return usage_failure(c, events.err().message);
  if (auto wrong = check_event_types(c.registry(), path, *events)) {
    c.out().error(*wrong + "; nothing was imported");
    return cli_exit::findings;
  }
  journal_source target = c.source();
  target.writable = true;
  auto j = open_journal(target);
  if (!j) return store_failure(c, j.err());
  auto problem = check_import(**j, path, *events);
  if (!problem) return store_failure(c, problem.err());
  if (*problem) {
    c.out().error(**problem + "; nothing was imported");
    return cli_exit::findings;
  }
  std::map<std::string, int> streams;
  for (const imported& e : *events) streams[e.record.stream().str()] = 1;
  const std::size_t count = events->size();
  progress_line progress{c, "import", count};
  if (auto appended = append_all(**j, *events, progress); !appended) {
    progress.finish();
    return store_failure(c, appended.err());
  }
  progress.finish();
  if (c.out().json()) {
    boost::json::object o;
    o["imported"] = count;
    o["streams"] = streams.size();
    o["file"] = path;
    c.out().line(boost::json::serialize(o));
  } else {
    c.out().line(
        fmt::format("imported {} events of {} streams from {}", count, streams.size(), path));
  }
  return cli_exit::ok;
}

}  // namespace

void add_transfer_commands(cli& app) {
  auto e = std::make_shared<export_options>();
  CLI::App& exp = app.add_command(
      "export",
      "Write STREAM, or the whole journal in global order, as JSON lines: one event record per "
      "line, hash included (the format `--json events` prints), for `import`.",
      [e](cli_context& c) { return run_export(c, *e); });
  exp.add_option("STREAM", e->stream, "Only this stream, e.g. Order-456");
  exp.add_option("-o,--output", e->output,
                 "Write to FILE (which must not exist) instead of stdout");

  auto file = std::make_shared<std::string>();
  CLI::App& imp = app.add_command(
      "import",
      "Append the events of FILE (an export) to the journal the options name (an SQLite file is "
      "created when missing). The whole file is checked first: a malformed line exits with 2, "
      "a broken hash chain or a stream that conflicts with the journal with 1, and then nothing "
      "is written.",
      [file](cli_context& c) { return run_import(c, *file); });
  imp.add_option("FILE", *file, "The export to import")->required();
}

}  // namespace strata
