#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/time.hpp"

namespace strata::persistence {

/// An event to be appended: everything but what the journal assigns (version, position, hash).
struct new_event {
  std::string event_id;              ///< Unique and time-ordered (UUIDv7), chosen by the writer.
  std::string event_type;            ///< Wire name from the aggregate's schema.
  std::uint32_t schema_version = 1;  ///< The version of `event_type`'s shape in `data`.
  timestamp time{};                  ///< When the command was decided (UTC, microseconds).
  std::string user_id;
  std::string command_id;
  std::string correlation_id;
  std::string causation_id;
  std::string data;  ///< JSON text of the event body.
};

/// A stored event: an immutable audit record. Its JSON form (see record_json.hpp) uses the
/// names eventId, eventType, aggregateId, aggregateType, timestamp, userId, data, version, ...
struct event_record {
  global_position position;  ///< Gap-free, strictly increasing in commit order.
  std::string event_id;
  std::string event_type;
  std::uint32_t schema_version = 1;
  std::string aggregate_type;
  std::string aggregate_id;
  version stream_version;  ///< 1-based position within the stream.
  timestamp time{};
  std::string user_id;
  std::string command_id;
  std::string correlation_id;
  std::string causation_id;
  std::string data;  ///< JSON text.
  std::string hash;  ///< Audit chain link, lower-case hex SHA-256 (may be empty
                     ///< for backends or records written before the chain).

  stream_id stream() const { return stream_id{aggregate_type, aggregate_id}; }
};

/// The record a journal stores for `e`, appended to `stream` at `at` and `position`; the
/// hash is left to the journal (it chains from the stream's previous event).
inline event_record make_record(const stream_id& stream, const new_event& e, version at,
                                global_position position) {
  event_record r;
  r.position = position;
  r.event_id = e.event_id;
  r.event_type = e.event_type;
  r.schema_version = e.schema_version;
  r.aggregate_type = std::string{stream.aggregate_type()};
  r.aggregate_id = std::string{stream.aggregate_id()};
  r.stream_version = at;
  r.time = e.time;
  r.user_id = e.user_id;
  r.command_id = e.command_id;
  r.correlation_id = e.correlation_id;
  r.causation_id = e.causation_id;
  r.data = e.data;
  return r;
}

/// One stream's part of an append batch: events that must all land after `expected`.
struct stream_append {
  stream_id stream;
  version expected;               ///< The stream's head this append was decided on (0: new).
  std::vector<new_event> events;  ///< REQUIRES: non-empty.
};

}  // namespace strata::persistence
