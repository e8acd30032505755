#pragma once

// Spawn functions of the event bus and the projection actors, and the making of the
// projection host in the engine's actor system. CAF inside: include only from actors/*.cpp.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include <caf/all.hpp>

#include "strata/actors/detail/messages.hpp"
#include "strata/actors/projections.hpp"
#include "strata/domain/kernel/time.hpp"
#include "strata/metrics/metrics.hpp"
#include "strata/persistence/projection_runner.hpp"

namespace strata::actors::detail {

/// Where a projection stands as the host sees it: head minus position, and the age of the
/// backlog (now minus the time of the last applied event while events wait; 0 when caught
/// up or before the first event was applied).
struct lag_figures {
  global_position head;
  std::uint64_t events = 0;
  double seconds = 0;
};

/// What a projection actor tells the host: its committed checkpoint and mode. Shared
/// between the actor (writer) and host threads (readers, waiters); guarded by `mutex`.
/// Every change of the checkpoint, and every sample of the bus (`refresh_lag`), also sets the
/// projection's position and lag series, under the same mutex, so that the last value
/// written always comes from the newest position and head.
struct projection_status {
  std::mutex mutex;
  std::condition_variable changed;
  persistence::checkpoint at;
  bool live = false;
  bool stopped = false;
  std::optional<error> last_error;
  /// The last journal position known committed; raised by the host, read here.
  std::shared_ptr<const std::atomic<std::uint64_t>> head;
  /// The projection's series; they live as long as the host's registry.
  metrics::projection_metrics* metrics = nullptr;
  /// The runtime's clock, against which the age of the backlog is measured.
  std::shared_ptr<const clock> clk;

  projection_status(std::shared_ptr<const std::atomic<std::uint64_t>> journal_head,
                    metrics::projection_metrics& series, std::shared_ptr<const clock> time_source)
      : head(std::move(journal_head)), metrics(&series), clk(std::move(time_source)) {}

  void update(const persistence::checkpoint& c, bool is_stopped, std::optional<error> e) {
    {
      std::lock_guard<std::mutex> lock{mutex};
      at = c;
      stopped = is_stopped;
      last_error = std::move(e);
      if (stopped) live = false;
      report_locked();
    }
    changed.notify_all();
  }
  void set_live(bool is_live) {
    std::lock_guard<std::mutex> lock{mutex};
    live = is_live;
  }
  /// Sets the lag series again from the current head and time.
  void refresh_lag() {
    std::lock_guard<std::mutex> lock{mutex};
    report_locked();
  }
  /// REQUIRES: `mutex` held.
  lag_figures lag_locked() const {
    lag_figures out;
    out.head = global_position{std::max(head->load(std::memory_order_relaxed), at.position.value)};
    out.events = out.head.value - at.position.value;
    if (out.events > 0 && at.position.value > 0) {
      const auto age = clk->now() - at.last_event_time;
      out.seconds = std::max(0.0, std::chrono::duration<double>(age).count());
    }
    return out;
  }

 private:
  void report_locked() {
    const auto lag = lag_locked();
    metrics->set_position(at.position);
    metrics->set_lag(lag.events, lag.seconds);
  }
};

using status_ptr = std::shared_ptr<projection_status>;

/// The event bus: forwards each committed batch to every subscriber whose buffer (events
/// sent and not yet acknowledged) has room for it; a subscriber without room is told once
/// (`bus_over_atom`) and gets nothing more until it asks to resume (`bus_resume_atom`), to
/// which the bus answers with the last position it published. Subscribers subscribe with
/// `(bus_sub_atom, status_ptr)`. No I/O; never blocks on a projection. Every
/// `sample_interval` it sets `strata_mailbox_backlog_messages{actor_kind="projection"}` to
/// the batches sent to subscribers and not yet taken by them (acknowledged on receipt), and
/// sets every subscriber's lag series again (`projection_status::refresh_lag`), so that the
/// lag of a projection stuck in a handler grows without any work on the commit path.
caf::actor spawn_event_bus(caf::actor_system& sys, std::size_t buffer_events,
                           std::shared_ptr<metrics::registry> metrics,
                           std::chrono::milliseconds sample_interval);

/// One projection on a thread of its own (a detached actor: it does blocking I/O). It owns
/// the runner (read-model connection) and a journal connection; subscribes to `bus` and
/// catches up from its checkpoint. After each read-model transaction it reports position and
/// lag through `status` and adds the events it applied and parked to `status->metrics`.
caf::actor spawn_projection(caf::actor_system& sys, caf::actor bus,
                            std::shared_ptr<persistence::projection_runner> runner,
                            std::shared_ptr<persistence::journal> journal,
                            std::shared_ptr<projection_status> status, projection_options options);

/// CAF's spawn leaves a reference to the system's logger in a thread-local of the calling
/// thread, and `~actor_system` waits until every such reference is gone: a host thread that
/// once spawned an actor would keep a system stopped from another thread from ever ending.
/// Calls that spawn on a host's thread drop that reference right after.
inline void release_spawning_thread() {
  caf::logger::set_current_actor_system(nullptr);
}

/// Makes the projection host of an engine: its bus and projection actors run in `sys`, the
/// engine's actor system, which must outlive the host's `stop()`. `clk` measures the lag's
/// age and stamps dead letters. `start_publishing` is
/// called when the first projection is added, before it starts catching up: it turns on the
/// hand-off of commits to `projection_host::publish` (until then nothing is copied or sent).
std::unique_ptr<projection_host> make_projection_host(
    caf::actor_system& sys, projection_options options,
    std::shared_ptr<persistence::journal_factory> journal,
    std::shared_ptr<persistence::projection_store_factory> store,
    std::shared_ptr<metrics::registry> metrics, std::shared_ptr<const clock> clk,
    std::function<void()> start_publishing);

}  // namespace strata::actors::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(strata::actors::detail::status_ptr)
