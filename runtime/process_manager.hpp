#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/event_record.hpp"
#include "strata/persistence/process_store.hpp"
#include "strata/runtime/runtime.hpp"

namespace strata {

/// What one round of a process instance came to.
enum class process_progress : std::uint8_t {
  progressed,  ///< It did something; run another round now.
  waiting,     ///< A target was unavailable or slow; run another round after the retry delay.
  finished,    ///< Nothing more to do for this instance.
  halted,      ///< Stop the whole manager at once, as if the process died (a test seam).
};

/// A long-running business process driven by committed events: which events start and
/// finish an instance, and how to move an instance on. The process keeps its own state in
/// an event-sourced aggregate of the runtime (so that a crash loses nothing), and every
/// command it sends carries a deterministic command id (so that resending is harmless).
///
/// Thread-safety: `started_by` and `finished_by` are called from the projection thread,
/// `advance` from the manager's worker threads, for different instances concurrently but
/// never twice at once for the same instance.
class process_definition {
 public:
  virtual ~process_definition() = default;

  /// A stable, non-empty name; the trigger projection is "process:<name>".
  virtual std::string_view name() const = 0;

  /// The wire names of every event `started_by` or `finished_by` may react to.
  virtual std::vector<std::string> handles() const = 0;

  /// The instance id `record` starts, if it starts one. Pure in the record.
  virtual std::optional<std::string> started_by(const persistence::event_record& record) const = 0;

  /// The instance id `record` finishes, if it finishes one. Pure in the record.
  virtual std::optional<std::string> finished_by(const persistence::event_record& record) const = 0;

  /// One round for instance `id`: read its state, send what is due, record the outcomes.
  /// `cause` is the event id of the record that started it. Runs on a worker thread of the
  /// manager (never a scheduler thread), so it may wait on the runtime's futures, with a
  /// bound. Must be safe to run again after a crash at any point (deterministic ids).
  virtual process_progress advance(runtime& rt, const std::string& id,
                                   const std::string& cause) = 0;
};

/// How a process manager runs.
struct process_options {
  std::size_t workers = 2;                     ///< Threads driving instances.
  std::chrono::milliseconds retry_delay{100};  ///< Before another round of a waiting instance.
  std::size_t rounds_per_turn = 64;            ///< Rounds of one instance before others get a turn.
  /// Where the started and finished instances are recorded, in the runtime's read-model
  /// database; null: `persistence::sqlite_process_store` (the default SQLite store's SQL).
  std::shared_ptr<persistence::process_store> store;
};

/// Drives the instances of one process over a runtime: a projection ("process:<name>")
/// records in the read-model database (through `process_options::store`), exactly once per
/// checkpoint, which instances were
/// started and which finished; worker threads of the manager advance every unfinished one
/// until it finishes.
///
/// Crash and resume: on `start` the projection catches up from its checkpoint and every
/// instance recorded as started and not finished is queued again, so a process that died
/// anywhere continues where its own aggregate says it was.
///
/// Thread-safety: every method may be called from any thread.
/// Lifetime: REQUIRES: the runtime outlives the manager (stop or destroy the manager first).
/// A runtime can host one manager per process name (its projection stays registered).
class process_manager {
 public:
  /// Registers the trigger projection and starts the workers. Errors: `invalid_argument` for
  /// a null definition, an empty name, zero workers or a projection of that name registered
  /// already; the read-model store's when its table cannot be set up or read.
  static result<std::unique_ptr<process_manager>> start(runtime& rt,
                                                        std::shared_ptr<process_definition> def,
                                                        process_options options = {});
  ~process_manager();
  process_manager(const process_manager&) = delete;
  process_manager& operator=(const process_manager&) = delete;

  /// Instances queued or being advanced (known to this manager and not finished).
  std::size_t active() const;

  /// True once an instance's `advance` returned `halted`: the workers stopped.
  bool is_halted() const;

  /// Stops the workers after the round each is in. Idempotent.
  void stop();

  struct impl;

 private:
  explicit process_manager(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace strata
