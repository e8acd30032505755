#pragma once

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/event_record.hpp"

namespace strata::persistence {

/// The JSON form of an event record (DESIGN §4), an object with these members:
///
///   eventId, eventType, aggregateId, aggregateType   strings
///   timestamp       ISO 8601 UTC with microseconds, e.g. "2026-12-01T20:00:00.123456Z"
///   userId          string
///   data            the event body embedded as JSON (not as a string)
///   version         the stream version (integer >= 1)
///   globalPosition  integer
///   schemaVersion   integer
///   commandId, correlationId, causationId, hash   strings
///
/// `data` is re-serialised on the way back (`record_from_json`), so a record survives the
/// round trip byte for byte, hash included, when its data text is in Boost.JSON's compact
/// serialisation (what `json::to_json` writers produce).
///
/// Thread-safety: pure functions.

/// The JSON object of `r`. Errors: `corrupted` when `r.data` is not valid JSON.
result<boost::json::value> to_json_value(const event_record& r);

/// `to_json_value(r)` serialised compactly. Errors: as `to_json_value`.
result<std::string> to_json_text(const event_record& r);

/// Reads a record back from its JSON form. eventId, eventType, aggregateId, aggregateType,
/// timestamp, data and version are required; the other members default when absent.
/// Errors: `invalid_argument` naming the member that is missing or has the wrong type, or
/// when the text is not JSON.
result<event_record> record_from_json(const boost::json::value& v);
result<event_record> record_from_json(std::string_view text);

}  // namespace strata::persistence
