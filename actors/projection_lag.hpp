#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "strata/domain/kernel/error.hpp"
#include "strata/domain/kernel/ids.hpp"

namespace strata {

/// Where a projection stands (`runtime::projection_lag`).
struct projection_lag {
  std::string name;
  global_position position;         ///< Last global position applied.
  global_position head;             ///< Last position committed to the journal (as known).
  std::uint64_t lag_events = 0;     ///< head - position.
  double lag_seconds = 0;           ///< now - time of the last applied event; 0 when caught up.
  bool live = false;                ///< Following the bus (not reading the journal).
  bool stopped = false;             ///< Stopped at a parked event (policy `stop`).
  std::optional<error> last_error;  ///< The last journal or store failure, until it recovers.
};

/// Where the event relay stands (`runtime::relay_status`, docs/RELAY.md).
struct relay_status {
  global_position confirmed;     ///< Last global position the broker confirmed (the checkpoint).
  std::uint64_t lag_events = 0;  ///< Journal head minus `confirmed`, as last seen by the relay.
  bool connected = false;        ///< Holding a broker connection.
};

}  // namespace strata
