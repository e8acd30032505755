#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/persistence/event_record.hpp"

namespace strata::persistence {

/// The outcome of one stream's part of a batch: its committed records, `conflict`, or
/// `duplicate` (its command id is already in the stream; see `journal::append`).
using stream_outcome = result<std::vector<event_record>>;

/// Which fields of each event a stream read must fill in.
enum class event_fields : std::uint8_t {
  /// Every field.
  all,
  /// What folding the stream into a state reads: position, version, type, schema version,
  /// time, command id and data. A backend may leave the audit fields (event id, user,
  /// correlation, causation, hash) empty, and the SQL backends do: a rehydration then reads
  /// less of each row.
  fold,
};

/// Which part of a stream to read. Bounds are inclusive; `until` keeps events whose
/// timestamp is at or before it.
struct stream_range {
  version from{1};
  std::optional<version> to;
  std::optional<timestamp> until;
  std::size_t limit = std::numeric_limits<std::size_t>::max();
  event_fields fields = event_fields::all;
};

/// One stored event of a stream as `journal::for_each_in_stream` shows it: the fields of an
/// `event_record` but the stream's own (the caller named the stream). The views point into
/// the backend's buffers and are valid only during the callback that receives them; copy
/// what must outlive it.
struct event_view {
  global_position position;
  std::string_view event_id;
  std::string_view event_type;
  std::uint32_t schema_version = 1;
  version stream_version;
  timestamp time{};
  std::string_view user_id;
  std::string_view command_id;
  std::string_view correlation_id;
  std::string_view causation_id;
  std::string_view data;  ///< JSON text.
  std::string_view hash;

  /// The view of `r` (valid while `r` is alive and unchanged): how the memory backend, whose
  /// rows are records, hands out its events.
  static event_view of(const event_record& r) noexcept {
    event_view v;
    v.position = r.position;
    v.event_id = r.event_id;
    v.event_type = r.event_type;
    v.schema_version = r.schema_version;
    v.stream_version = r.stream_version;
    v.time = r.time;
    v.user_id = r.user_id;
    v.command_id = r.command_id;
    v.correlation_id = r.correlation_id;
    v.causation_id = r.causation_id;
    v.data = r.data;
    v.hash = r.hash;
    return v;
  }

  /// A record owning copies of the fields, in the stream of `aggregate_type` and
  /// `aggregate_id`. The one copy from a view to a record (backends materialise with it).
  event_record to_record(std::string_view aggregate_type, std::string_view aggregate_id) const {
    event_record r;
    r.position = position;
    r.event_id = std::string{event_id};
    r.event_type = std::string{event_type};
    r.schema_version = schema_version;
    r.aggregate_type = std::string{aggregate_type};
    r.aggregate_id = std::string{aggregate_id};
    r.stream_version = stream_version;
    r.time = time;
    r.user_id = std::string{user_id};
    r.command_id = std::string{command_id};
    r.correlation_id = std::string{correlation_id};
    r.causation_id = std::string{causation_id};
    r.data = std::string{data};
    r.hash = std::string{hash};
    return r;
  }

  /// A record owning copies of the fields, in `stream`.
  event_record to_record(const stream_id& stream) const {
    return to_record(stream.aggregate_type(), stream.aggregate_id());
  }
};

/// What a visitor of `journal::for_each_in_stream` wants after an event.
enum class visit_control { next, stop };

/// Called once per event, oldest first. An error stops the visit and is returned as is.
using event_visitor = std::function<result<visit_control>(const event_view&)>;

/// Where a stream continues in a journal whose oldest events of that stream were moved to an
/// archive (`journal::cut`): the hot journal holds versions `at + 1` on, and the audit chain
/// of those continues from `hash`.
struct stream_anchor {
  stream_id stream;
  version at;           ///< The last archived version (the stream's head when it is all archived).
  std::string hash;     ///< Chain hash of the event at `at`.
  std::string archive;  ///< The archive that holds the newest archived part (its id).
};

/// One stream's part of `journal::cut`: delete its versions 1..`through`.
struct stream_cut {
  stream_id stream;
  version through;   ///< The last version removed (REQUIRES: >= 1).
  std::string hash;  ///< The hash of the event at `through` as the archive holds it; checked.
};

/// What archival has moved out of a journal as a whole.
struct archive_mark {
  /// The highest global position ever moved to an archive: a reader starting below it misses
  /// archived events (a projection rebuild from 0 needs the archive then).
  global_position through;
  std::vector<std::string> archives;  ///< Every archive events were moved to, oldest first.
};

/// The event journal: an append-only log of streams with a global commit order.
///
/// Thread-safety: an instance is used by one thread at a time (the actors give each instance
/// its thread). Several instances may be open on the same store at once, e.g. one writer and
/// several readers; they see each other's committed appends.
///
/// Errors: every method returns `unavailable` when the store cannot be reached or is busy
/// (retry), `corrupted` when a stored row cannot be read back (the message names its
/// position), `invalid_argument` for requests that break a REQUIRES. No method throws.
class journal {
 public:
  virtual ~journal() = default;

  /// Appends a batch of per-stream appends in one transaction (group commit). Each stream
  /// succeeds whole or fails whole: when its head is not `expected` its outcome is `conflict`
  /// and none of its events are written, while the other streams still commit. Records are
  /// returned per stream in batch order, with their assigned versions, positions and hashes.
  /// The outer error means nothing at all was committed.
  ///
  /// Command ids: an append's command id is its first event's `command_id` (the events of
  /// one command share it). A stream remembers every non-empty command id appended to it,
  /// for as long as it holds the events (however many commands came after). An append
  /// whose command id the stream already has writes nothing and its outcome is `duplicate`
  /// (checked before the expected version, so a stale retry is a duplicate too, not a
  /// conflict); the other streams of the batch still commit. `find_command` gives what the
  /// first append of that id wrote. A new id costs no extra read: the backends keep a
  /// unique index of (stream, command id), one row per append, written with the events.
  /// REQUIRES: each stream appears at most once in `batch` and has at least one event.
  virtual result<std::vector<stream_outcome>> append(const std::vector<stream_append>& batch) = 0;

  /// The events of the first append to `stream` that carried `command_id`, oldest first:
  /// what that command wrote, with the versions and positions they took. Empty when the
  /// stream holds no such command, or `command_id` is empty. A command whose events were
  /// archived (`cut`) is still found: the backends keep, per archived event with a command id,
  /// every field but the body, so its records come back with their versions, positions, ids
  /// and hashes and an empty `data` (the body is in the archive). The backends answer from their
  /// command index (one lookup, then the command's events); this default scans the stream,
  /// for journals that keep no index.
  /// Errors: the journal's, as `read_stream`.
  virtual result<std::vector<event_record>> find_command(const stream_id& stream,
                                                         std::string_view command_id);

  /// The events of `stream` within `range`, oldest first. An unknown stream gives no events.
  /// A stream whose oldest events were archived (`cut`) gives only the events after its
  /// anchor: a caller that needs versions at or below `anchor(stream)->at` must read them from
  /// the archive (`archived_range_error` builds the error to return instead).
  virtual result<std::vector<event_record>> read_stream(const stream_id& stream,
                                                        const stream_range& range) = 0;

  /// Calls `visit` for each event of `stream` within `range`, oldest first, until it returns
  /// `visit_control::stop` or an error; returns how many events it was called with. The
  /// same events as `read_stream`, without materialising records: backends override it to
  /// hand out views of their row buffers (the default reads the range with `read_stream`).
  /// Errors: the journal's, as `read_stream`; the visitor's error, unchanged.
  /// REQUIRES: `visit` does not call this instance.
  virtual result<std::size_t> for_each_in_stream(const stream_id& stream, const stream_range& range,
                                                 const event_visitor& visit) {
    auto records = read_stream(stream, range);
    if (!records) return std::move(records).err();
    std::size_t visited = 0;
    for (const event_record& r : *records) {
      ++visited;
      auto next = visit(event_view::of(r));
      if (!next) return std::move(next).err();
      if (*next == visit_control::stop) break;
    }
    return visited;
  }

  /// Up to `limit` events with position greater than `after`, in global order.
  virtual result<std::vector<event_record>> read_all(global_position after, std::size_t limit) = 0;

  /// The version of the last event of `stream` (0 for an unknown stream); for a stream that
  /// is archived whole, the version of its last archived event.
  virtual result<version> head(const stream_id& stream) = 0;

  /// The position of the last committed event (0 for an empty journal). Never goes back when
  /// events are archived: the next append still takes the position after it.
  virtual result<global_position> last_position() = 0;

  /// The anchor of `stream`, or nullopt when none of its events was archived. The default (a
  /// backend without archival) is nullopt.
  virtual result<std::optional<stream_anchor>> anchor(const stream_id& stream) {
    (void)stream;
    return std::optional<stream_anchor>{};
  }

  /// Every stream anchor, in stream-name order (empty when nothing was archived).
  virtual result<std::vector<stream_anchor>> anchors() { return std::vector<stream_anchor>{}; }

  /// What archival moved out of the journal, or nullopt when nothing ever was.
  virtual result<std::optional<archive_mark>> archived() { return std::optional<archive_mark>{}; }

  /// Removes the archived prefix of each stream of `cuts` and records its anchor (version and
  /// hash of the event at `through`, and `archive`), the archive in the journal's list and the
  /// highest position removed, all in one transaction: either every stream is cut or none is.
  /// A stream whose anchor is already at or beyond `through` is left alone (a resumed run);
  /// the event at `through` must be in the journal with `hash`, else `conflict` and nothing is
  /// cut. Heads, `last_position` and the position the next append takes do not change.
  /// Returns how many events were removed.
  /// Errors: `invalid_argument` for an empty `archive`, a stream named twice or `through` 0;
  /// `conflict` as above; `unsupported` from a backend without archival (the default); the
  /// journal's errors otherwise.
  virtual result<std::uint64_t> cut(const std::vector<stream_cut>& cuts,
                                    const std::string& archive) {
    (void)cuts;
    (void)archive;
    return error{errc::unsupported, "this journal backend cannot archive events"};
  }

  /// The journal's identity: a random UUID-like text made once, when its storage was
  /// created, kept in that storage and read back by every instance opened on it. Two
  /// instances on the same storage give the same id; different storage (a deleted and
  /// recreated file, another schema) gives a different one. A read model records it to tell
  /// which journal its checkpoint counts positions of. Empty only for storage opened
  /// read-only that holds no id yet (a file written before ids existed).
  virtual const std::string& id() const noexcept = 0;
};

/// The error for a read of `stream` from version `from` when versions up to `anchor.at` are
/// archived: `not_found`, naming the versions and the archive that holds them.
error archived_range_error(const stream_anchor& anchor, version from);

/// `ok()` when `stream` still holds version `from` (or later ones) in `j`; the
/// `archived_range_error` when `from` is at or below its anchor. One `anchor` read.
result<void> check_not_archived(journal& j, const stream_id& stream, version from);

/// Checks a `cut` request against its REQUIRES (shared by the backends).
result<void> check_cut_request(const std::vector<stream_cut>& cuts, const std::string& archive);

/// A new journal id: 128 random bits as UUID text (version 4, 36 characters). Backends call
/// it once, when they create a journal's storage. Thread-safe.
std::string make_journal_id();

/// Checks a batch against the REQUIRES of `journal::append` (shared by the backends):
/// `invalid_argument` for an empty stream id, a stream without events, or a stream named twice.
inline result<void> check_append_batch(const std::vector<stream_append>& batch) {
  std::unordered_set<std::string_view> seen;
  seen.reserve(batch.size());
  for (const auto& part : batch) {
    if (part.stream.empty()) return error{errc::invalid_argument, "append to an empty stream id"};
    if (part.events.empty())
      return error{errc::invalid_argument, "append to " + part.stream.str() + " has no events"};
    if (!seen.insert(part.stream.str()).second)
      return error{errc::invalid_argument,
                   "stream " + part.stream.str() + " appears twice in one batch"};
  }
  return ok();
}

/// The outcome of an append whose command id `command_id` `stream` already has.
inline error duplicate_command(const stream_id& stream, std::string_view command_id) {
  return error{errc::duplicate,
               stream.str() + " already has command " + std::string{command_id} + " (not applied)"};
}

/// The events of `stream` from `first` on that carry `command_id`, up to the first that
/// does not: the run one append wrote. Backends call it after looking the command's first
/// version up in their index. Errors: `j`'s, as `read_stream`.
result<std::vector<event_record>> read_command_events(journal& j, const stream_id& stream,
                                                      version first, std::string_view command_id);

/// The events of the command with `command_id` whose first version `first` is at or below the
/// stream's anchor `anchor_at` (its events were archived): from `kept`, the rows the backend
/// kept of archived commands' events (versions from `first` on, oldest first; every field but
/// `data`, which is empty), the run that carries `command_id`; when it reaches the anchor, it
/// goes on with the journal's events after it. Empty when the backend kept nothing of it (a
/// cut made before such rows were kept). Backends call it from `find_command`.
/// Errors: `j`'s, as `read_stream`.
result<std::vector<event_record>> archived_command_events(journal& j, const stream_id& stream,
                                                          version first, version anchor_at,
                                                          std::vector<event_record> kept,
                                                          std::string_view command_id);

/// Opens new connections (instances) on one store, e.g. for the writer and each reader.
/// Thread-safety: may be called from any thread.
class journal_factory {
 public:
  virtual ~journal_factory() = default;
  virtual result<std::unique_ptr<journal>> open() = 0;

  /// False when the store's calls never block on I/O (the memory backend): the writer then
  /// commits on the caller's thread instead of handing appends to a thread of its own.
  virtual bool blocks() const noexcept { return true; }
};

}  // namespace strata::persistence
