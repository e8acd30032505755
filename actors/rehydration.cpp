#include "strata/actors/rehydration.hpp"

#include <algorithm>
#include <future>
#include <limits>

#include <boost/json.hpp>

#include "strata/actors/detail/event_page.hpp"
#include "strata/domain/kernel/json.hpp"
#include "strata/persistence/read_ahead.hpp"

namespace strata::actors {
namespace {

// Rehydration reads the stream in pages so that a long stream never sits in memory whole.
constexpr std::size_t page_size = 4096;

struct reporting {
  metrics::aggregate_metrics* metrics;
  log_sink* log;
};

void report_ignored(const stream_id& stream, version at, metrics::snapshot_ignore_reason why,
                    const std::string& detail, const reporting& to) {
  if (to.metrics != nullptr) to.metrics->snapshot_ignored(why);
  const std::string message = "ignoring snapshot of " + stream.str() + " at v" +
                              std::to_string(at.value) + " (" +
                              std::string{metrics::to_string(why)} + "): " + detail;
  if (to.log != nullptr)
    to.log->write(log_level::warning, "rehydration", message);
  else
    stderr_log_sink{}.write(log_level::warning, "rehydration", message);
}

bool within(const persistence::event_view& r, const rehydration_target& t) {
  if (t.to && r.stream_version > *t.to) return false;
  if (t.until && r.time > *t.until) return false;
  return true;
}

struct start_point {
  std::any state;
  version at;
  timestamp time{};
  std::vector<remembered_command> recent;
  std::optional<version> snapshot;
};

// The newest usable snapshot at or below the target, if any.
std::optional<start_point> from_snapshot(persistence::journal& journal,
                                         persistence::snapshot_store& snapshots,
                                         const aggregate_model& model, const stream_id& stream,
                                         const rehydration_target& target, const reporting& to) {
  auto kept = snapshots.list(stream);
  if (!kept || kept->empty()) return std::nullopt;
  for (auto it = kept->rbegin(); it != kept->rend(); ++it) {
    const auto& s = *it;
    if (target.to && s.at > *target.to) continue;
    if (s.state_version != model.state_version()) {
      report_ignored(stream, s.at, metrics::snapshot_ignore_reason::state_version,
                     "state version " + std::to_string(s.state_version) + ", code has " +
                         std::to_string(model.state_version()),
                     to);
      continue;
    }
    persistence::stream_range at_snapshot;
    at_snapshot.from = s.at;
    at_snapshot.to = s.at;
    auto event = journal.read_stream(stream, at_snapshot);
    if (!event) return std::nullopt;  // the journal itself fails: let the replay report it
    if (event->empty() || (*event)[0].hash != s.last_event_hash) {
      report_ignored(stream, s.at, metrics::snapshot_ignore_reason::hash_mismatch,
                     event->empty() ? "the journal has no such event"
                                    : "the journal's event at that version has another hash",
                     to);
      continue;
    }
    if (target.until && (*event)[0].time > *target.until) continue;  // newer than asked for
    auto body = decode_snapshot_body(s.state);
    if (!body) {
      report_ignored(stream, s.at, metrics::snapshot_ignore_reason::decode, body.err().message, to);
      continue;
    }
    auto state = model.decode_state(body->state_json);
    if (!state) {
      report_ignored(stream, s.at, metrics::snapshot_ignore_reason::decode, state.err().message,
                     to);
      continue;
    }
    return start_point{std::move(*state), s.at, (*event)[0].time, std::move(body->recent), s.at};
  }
  return std::nullopt;
}

// Folds the events of `stream` from `from` (up to `to`) a page at a time, while the next page
// is read on a second thread into a copy (detail::event_page): the row visit and the fold of a
// long stream then run side by side instead of one after the other. Only one thread uses the
// journal at a time (each read starts after the previous one ended; this thread touches the
// journal only after the last read returned). When no thread can be started, a read runs on
// this thread when its page is needed.
result<void> fold_read_ahead(persistence::journal& journal, const stream_id& stream, version from,
                             std::optional<version> to, persistence::event_fields fields,
                             const persistence::event_visitor& fold) {
  detail::event_page pages[2];
  auto read = [&journal, &stream, to, fields](detail::event_page* page,
                                              version first) -> result<std::size_t> {
    page->clear();
    persistence::stream_range range;
    range.from = first;
    range.limit = page_size;
    range.to = to;
    range.fields = fields;
    return journal.for_each_in_stream(
        stream, range,
        [page](const persistence::event_view& v) -> result<persistence::visit_control> {
          page->add(v);
          return persistence::visit_control::next;
        });
  };
  auto read_into = [&read](detail::event_page* page, version first) {
    return persistence::start_read_ahead([&read, page, first] { return read(page, first); });
  };
  // Declared after the pages: an early return waits here for a read still filling one.
  std::future<result<std::size_t>> ahead = read_into(&pages[0], from);
  for (std::size_t k = 0;; k ^= 1) {
    auto got = ahead.get();
    if (!got) return std::move(got).err();
    const detail::event_page& page = pages[k];
    const bool more = *got == page_size;
    if (more) ahead = read_into(&pages[k ^ 1], page.last_version().next());
    for (std::size_t i = 0; i < page.size(); ++i) {
      auto next = fold(page.view(i));
      if (!next) return std::move(next).err();
      if (*next == persistence::visit_control::stop) return ok();
    }
    if (!more) return ok();
  }
}

}  // namespace

std::uint64_t hash_command_id(std::string_view id) noexcept {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : id) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h == 0 ? 1 : h;
}

void remember(std::vector<remembered_command>& recent, std::size_t window, std::uint64_t h,
              version v, global_position p) {
  if (window == 0 || h == 0) return;
  if (!recent.empty() && recent.back().id_hash == h) {
    recent.back().last = v;
    recent.back().position = p;
    return;
  }
  if (recent.size() >= window)
    recent.erase(recent.begin(),
                 recent.begin() + static_cast<std::ptrdiff_t>(recent.size() - window + 1));
  recent.push_back(remembered_command{h, v, v, p});
}

result<rehydrated> rehydrate(persistence::journal& journal, persistence::snapshot_store* snapshots,
                             const aggregate_model& model, const stream_id& stream,
                             const rehydration_target& target, std::size_t window,
                             metrics::aggregate_metrics* metrics, log_sink* log) {
  rehydrated out;
  std::optional<start_point> start;
  if (snapshots != nullptr)
    start = from_snapshot(journal, *snapshots, model, stream, target, reporting{metrics, log});
  if (start) {
    out.state = std::move(start->state);
    out.at = start->at;
    out.time = start->time;
    out.recent = std::move(start->recent);
    out.snapshot = start->snapshot;
  } else {
    out.state = model.initial();
  }
  if (target.to && out.at >= *target.to) return out;
  // The events are folded as views into the journal's row buffers: nothing of a record is
  // copied but what the state keeps.
  bool reached = false;
  std::optional<version> gap;         // the version read where out.at + 1 was expected
  std::optional<version> beyond_gap;  // the same, for the first event past the target
  auto fold = [&](const persistence::event_view& r) -> result<persistence::visit_control> {
    if (!within(r, target)) {
      if (r.stream_version != out.at.next()) beyond_gap = r.stream_version;
      reached = true;
      return persistence::visit_control::stop;
    }
    if (r.stream_version != out.at.next()) {
      gap = r.stream_version;
      return persistence::visit_control::stop;
    }
    if (auto applied = model.apply_view(out.state, stream, r); !applied)
      return std::move(applied).err();
    out.at = r.stream_version;
    out.time = r.time;
    ++out.events_replayed;
    if (!r.command_id.empty())
      remember(out.recent, window, hash_command_id(r.command_id), r.stream_version, r.position);
    return persistence::visit_control::next;
  };
  // The first page is folded straight from the journal's row buffers; a stream longer than a
  // page goes on in pages read ahead on a second thread (fold_read_ahead).
  persistence::stream_range range;
  range.from = out.at.next();
  range.limit = page_size;
  if (target.to) range.to = target.to;
  range.fields = model.fields_read();
  auto visited = journal.for_each_in_stream(stream, range, fold);
  if (!visited) return std::move(visited).err();
  if (!gap && !reached && *visited == page_size) {
    auto rest = fold_read_ahead(journal, stream, out.at.next(), target.to, range.fields, fold);
    if (!rest) return std::move(rest).err();
  }
  if (gap) {
    // Versions missing before the first one read: archived (the anchor says so, and which
    // archive holds them), or a damaged journal.
    if (auto hot = persistence::check_not_archived(journal, stream, out.at.next()); !hot)
      return std::move(hot).err();
    return error{errc::corrupted, stream.str() + ": expected v" + std::to_string(out.at.value + 1) +
                                      ", read v" + std::to_string(gap->value)};
  }
  // A temporal target the hot events do not reach from the start point: versions before the
  // first hot one may be archived, and the state asked for then needs the archive.
  if (beyond_gap || (target.to && out.at < *target.to)) {
    if (auto hot = persistence::check_not_archived(journal, stream, out.at.next()); !hot)
      return std::move(hot).err();
  }
  return out;
}

std::string encode_snapshot_body(std::string_view state_json,
                                 const std::vector<remembered_command>& recent) {
  std::string out = "{\"state\":";
  out += state_json;
  out += ",\"recent\":[";
  for (std::size_t i = 0; i < recent.size(); ++i) {
    const auto& r = recent[i];
    if (i > 0) out += ',';
    out += '[' + std::to_string(r.id_hash) + ',' + std::to_string(r.first.value) + ',' +
           std::to_string(r.last.value) + ',' + std::to_string(r.position.value) + ']';
  }
  out += "]}";
  return out;
}

result<snapshot_body> decode_snapshot_body(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return error{errc::corrupted, "snapshot body is not a JSON object"};
  const auto& o = v.as_object();
  const auto* state = o.if_contains("state");
  const auto* recent = o.if_contains("recent");
  if (state == nullptr || recent == nullptr || !recent->is_array())
    return error{errc::corrupted, "snapshot body lacks \"state\" or \"recent\""};
  if (json::holds_non_finite(*state))
    return error{errc::corrupted, "snapshot body: \"state\" holds a number out of range"};
  snapshot_body out;
  out.state_json = boost::json::serialize(*state);
  for (const auto& e : recent->as_array()) {
    const auto* a = e.if_array();
    if (a == nullptr || a->size() != 4)
      return error{errc::corrupted, "snapshot body: bad \"recent\" entry"};
    auto num = [](const boost::json::value& x) -> std::optional<std::uint64_t> {
      if (x.is_uint64()) return x.get_uint64();
      if (x.is_int64() && x.get_int64() >= 0) return static_cast<std::uint64_t>(x.get_int64());
      return std::nullopt;
    };
    auto h = num((*a)[0]), f = num((*a)[1]), l = num((*a)[2]), p = num((*a)[3]);
    if (!h || !f || !l || !p) return error{errc::corrupted, "snapshot body: bad \"recent\" entry"};
    out.recent.push_back(remembered_command{*h, version{*f}, version{*l}, global_position{*p}});
  }
  return out;
}

}  // namespace strata::actors
