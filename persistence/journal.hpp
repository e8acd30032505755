#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "domain/kernel/ids.hpp"
#include "domain/kernel/result.hpp"
#include "domain/kernel/time.hpp"
#include "persistence/event_record.hpp"

namespace strata::persistence {

/// The outcome of one stream's part of a batch: its committed records, or `conflict`.
using stream_outcome = result<std::vector<event_record>>;

/// Which part of a stream to read. Bounds are inclusive; `until` keeps events whose
/// timestamp is at or before it.
struct stream_range {
  version from{1};
  std::optional<version> to;
  std::optional<timestamp> until;
  std::size_t limit = std::numeric_limits<std::size_t>::max();
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
  /// REQUIRES: each stream appears at most once in `batch` and has at least one event.
  virtual result<std::vector<stream_outcome>> append(const std::vector<stream_append>& batch) = 0;

  /// The events of `stream` within `range`, oldest first. An unknown stream gives no events.
  virtual result<std::vector<event_record>> read_stream(const stream_id& stream,
                                                        const stream_range& range) = 0;

  /// Up to `limit` events with position greater than `after`, in global order.
  virtual result<std::vector<event_record>> read_all(global_position after, std::size_t limit) = 0;

  /// The version of the last event of `stream` (0 for an unknown stream).
  virtual result<version> head(const stream_id& stream) = 0;

  /// The position of the last committed event (0 for an empty journal).
  virtual result<global_position> last_position() = 0;
};

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
