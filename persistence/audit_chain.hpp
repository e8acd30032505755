#pragma once

// The audit hash chain (DESIGN §8).
//
// Canonical encoding, version 1 (`canonical_encoding`): the bytes
//
//   "strata.event.v1"                       15 ASCII bytes, the encoding's name and version
//   then, in this order, one field each:
//     event_id, event_type, schema_version, aggregate_type, aggregate_id, stream_version,
//     time, user_id, command_id, correlation_id, causation_id, data
//
// where every field is a 4-byte big-endian unsigned length followed by that many bytes.
// Text fields are their bytes as stored (no normalisation; `data` is the JSON text exactly as
// the journal returns it on read). Integer fields are fixed-width big-endian two's complement:
// schema_version 4 bytes, stream_version 8 bytes, time 8 bytes of microseconds since the Unix
// epoch (so their length prefixes are 4, 8 and 8). `position` and `hash` are not encoded: the
// position is assigned at commit and the hash is the output.
//
// Chain link (`chain_hash`): hash(e) = lower-case hex SHA-256 of the bytes
//   previous_hash_hex ++ canonical_encoding(e)
// where previous_hash_hex is the 64-character hash of the previous event of the same stream
// (version - 1), or the empty string for version 1. The encoding starts with a fixed name, so
// "no previous hash" cannot collide with a previous hash.
//
// A backend whose storage rewrites JSON (e.g. PostgreSQL JSONB) must hash the text it will
// return from reads, or keep the original text, or its own records will fail verification.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/event_record.hpp"
#include "strata/persistence/journal.hpp"

namespace strata {

/// The first problem found in a stream's chain.
///
/// `kind` is one of:
/// - "altered": the stored hash does not match the event's content and its predecessor's hash;
/// - "missing": a version is absent (a gap, or the stream's head is beyond its last event);
///   `at` is the absent version, `position` the event found after the gap (or the last one);
/// - "inserted": an event the chain does not account for (a duplicate version, or a version
///   beyond the head the journal records for the stream);
/// - "reordered": global positions do not follow versions (`at` is the first version whose
///   successor was committed before it);
/// - "corrupted": an event cannot be read, or its hash is not 64 lower-case hex digits.
struct chain_violation {
  stream_id stream;          ///< Empty when the problem cannot be tied to a stream.
  version at;                ///< The stream version concerned.
  global_position position;  ///< The global position concerned (0 when unknown).
  std::string kind;
  std::string detail;  ///< A human-readable explanation.
};

}  // namespace strata

namespace strata::persistence {

/// The version-1 canonical byte encoding of every field of `r` but `position` and `hash`
/// (layout at the top of this file). Thread-safety: a pure function.
std::string canonical_encoding(const event_record& r);

/// The chain link of `r`: lower-case hex SHA-256 over `previous_hash_hex` and
/// `canonical_encoding(r)`. Pass an empty `previous_hash_hex` for a stream's first event.
/// Thread-safety: a pure function.
std::string chain_hash(std::string_view previous_hash_hex, const event_record& r);

/// Computes chain links like `chain_hash`, reusing one digest context and one encoding
/// buffer across calls (for loops over many events: no allocation per event but the hash).
/// Thread-safety: one thread at a time per instance.
class chain_hasher {
 public:
  chain_hasher();
  ~chain_hasher();
  chain_hasher(const chain_hasher&) = delete;
  chain_hasher& operator=(const chain_hasher&) = delete;

  /// `chain_hash(previous_hash_hex, r)`.
  std::string link(std::string_view previous_hash_hex, const event_record& r);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

using strata::chain_violation;

/// Recomputes the chain of `stream`: versions 1..head (or, when its oldest events were
/// archived, anchor + 1..head, the first linking to the anchor's hash instead of the empty
/// genesis hash) without gaps or duplicates, positions
/// increasing with versions, every hash linking to its predecessor, and the journal's head
/// equal to the last event. Returns nullopt when the stream is intact (an unknown stream is
/// intact), or the first violation in version order.
///
/// Errors: whatever `j` returns for reads other than `corrupted` (e.g. `unavailable`); a
/// `corrupted` read is reported as a violation of kind "corrupted".
/// Thread-safety: uses `j` for the whole call, like any other user of the instance.
result<std::optional<chain_violation>> verify_stream(journal& j, const stream_id& stream);

/// Verifies the whole journal: reads it in global order with `read_all` in pages, checks each
/// stream's versions follow 1..n (anchor + 1..n for an archived prefix, see `journal::cut`)
/// in position order and every hash link, then compares each
/// stream's head and the journal's last position with what was read. Returns nullopt when
/// everything is intact (positions at or below `journal::archived()->through` may be absent:
/// they are in an archive), or the first violation found (in position order; a stream found at
/// fault is then classified precisely with `verify_stream`).
///
/// Errors and thread-safety: as `verify_stream`.
result<std::optional<chain_violation>> verify_journal(journal& j);

}  // namespace strata::persistence
