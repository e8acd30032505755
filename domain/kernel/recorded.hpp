#pragma once

#include <cstdint>
#include <string>

#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/time.hpp"

namespace strata {

/// The audit metadata of one stored event, as a history reader or a projection handler sees
/// it: where it sits in the journal and in its stream, when and why it was recorded.
struct event_info {
  global_position position;  ///< Gap-free, strictly increasing in commit order.
  version stream_version;    ///< 1-based position within the aggregate's stream.
  timestamp time{};          ///< When the command that caused it was decided (UTC).
  std::string aggregate_type;
  std::string aggregate_id;
  std::string event_id;              ///< Unique and time-ordered (UUIDv7).
  std::string event_type;            ///< The wire name it was stored under.
  std::uint32_t schema_version = 1;  ///< The version it was stored at (before upcasting).
  std::string user_id;
  std::string command_id;
  std::string correlation_id;
  std::string causation_id;
};

/// One event of aggregate `A` as stored: decoded and upcast to the current `A::event`, with
/// its metadata. An upcaster that splits a stored event yields several, sharing one `info`.
template <class A>
struct recorded {
  typename A::event event;
  event_info info;
};

}  // namespace strata
