#pragma once

// Spawn functions of the event bus and the projection actors. CAF inside: include only
// from actors/*.cpp.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>

#include <caf/all.hpp>

#include "actors/detail/messages.hpp"
#include "actors/projections.hpp"
#include "persistence/projection_store.hpp"

namespace strata::actors::detail {

/// What a projection actor tells the host: its committed checkpoint and mode. Shared
/// between the actor (writer) and host threads (readers, waiters); guarded by `mutex`.
struct projection_status {
  std::mutex mutex;
  std::condition_variable changed;
  persistence::checkpoint at;
  bool live = false;
  bool stopped = false;
  std::optional<error> last_error;

  void update(const persistence::checkpoint& c, bool is_stopped, std::optional<error> e) {
    {
      std::lock_guard<std::mutex> lock{mutex};
      at = c;
      stopped = is_stopped;
      last_error = std::move(e);
      if (stopped) live = false;
    }
    changed.notify_all();
  }
  void set_live(bool is_live) {
    std::lock_guard<std::mutex> lock{mutex};
    live = is_live;
  }
};

/// The event bus: forwards each committed batch to every subscriber whose buffer (events
/// sent and not yet acknowledged) has room for it; a subscriber without room is told once
/// (`bus_over_atom`) and gets nothing more until it asks to resume (`bus_resume_atom`), to
/// which the bus answers with the last position it published. No I/O; never blocks.
caf::actor spawn_event_bus(caf::actor_system& sys, std::size_t buffer_events);

/// One projection on a thread of its own (a detached actor: it does blocking I/O). It owns
/// the runner (read-model connection) and a journal connection; subscribes to `bus` and
/// catches up from its checkpoint.
caf::actor spawn_projection(caf::actor_system& sys, caf::actor bus,
                            std::shared_ptr<persistence::projection_runner> runner,
                            std::shared_ptr<persistence::journal> journal,
                            std::shared_ptr<projection_status> status, projection_options options);

}  // namespace strata::actors::detail
