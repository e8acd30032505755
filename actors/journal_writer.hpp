#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "strata/actors/detail/spin_mutex.hpp"
#include "strata/actors/worker.hpp"
#include "strata/domain/kernel/log.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/journal.hpp"
#include "strata/persistence/snapshot_store.hpp"

namespace strata::actors {

/// Tuning of the group commit.
struct journal_writer_options {
  /// Upper bound on the events committed in one transaction.
  std::size_t max_batch_events = 1000;
  /// How long a commit may wait for more appends once the first one arrived. Zero commits
  /// whatever arrived while the previous commit ran (no added latency; batches still grow
  /// with load because appends pile up during each fsync).
  std::chrono::microseconds max_wait{0};
  /// `max_wait` applies only after a commit of at least this many events: under a light load
  /// (the previous commit was smaller) a commit does not wait. 0: it always may.
  std::size_t wait_after_events = 0;
};

/// Statistics of one commit, handed to the observer (metrics).
struct commit_stats {
  std::size_t streams = 0;
  std::size_t events = 0;
  std::size_t conflicts = 0;
  std::chrono::nanoseconds duration{0};
  bool ok = true;
};

/// The single writer of a journal: collects appends from many aggregates and commits them
/// together (group commit), on a thread of its own so that the actors' scheduler never
/// blocks on I/O.
///
/// Each submitted append is answered exactly once through its callback, on the writer
/// thread, after its transaction committed (or failed). After every commit, and before its
/// appends are answered, the committed records of that batch are handed, in global order, to
/// the `committed` listener, which is where the event bus hangs off. An outer journal error fails
/// every append in the batch and acknowledges nothing.
///
/// A store whose calls never block (`journal_factory::blocks()` is false: the memory backend)
/// needs no group commit: then `submit` commits at once on the caller's thread, one append
/// at a time under a short spin lock (`detail::spin_mutex`; held for the append and the
/// hand-off, which keeps the hand-off in global order; the completion runs after it is
/// released).
///
/// A listener that throws is reported to the log (component "journal_writer"); the appends
/// are committed and answered regardless. A completion that throws on the writer thread is
/// reported too, and the appends of its batch not yet answered get `internal`.
///
/// Thread-safety: `submit` may be called from any thread. Destruction stops the thread after
/// draining what was submitted.
class journal_writer {
 public:
  using completion = std::function<void(persistence::stream_outcome)>;
  /// One commit's records, in global order, built once and shared read-only by every reader.
  using committed_batch = std::shared_ptr<const std::vector<persistence::event_record>>;
  using committed_listener = std::function<void(committed_batch)>;
  using stats_observer = std::function<void(const commit_stats&)>;

  /// Opens the write connection and starts the thread. Errors: whatever the factory returns.
  static result<std::unique_ptr<journal_writer>> start(persistence::journal_factory& factory,
                                                       journal_writer_options options,
                                                       committed_listener committed = {},
                                                       stats_observer observer = {},
                                                       std::shared_ptr<log_sink> log = {});

  ~journal_writer();
  journal_writer(const journal_writer&) = delete;
  journal_writer& operator=(const journal_writer&) = delete;

  /// Queues `append` for the next commit. After `stop`, answers `unavailable` at once.
  void submit(persistence::stream_append append, completion done);

  /// Commits what is queued, then stops the thread. Idempotent.
  void stop();

  /// True when `submit` commits on the caller's thread and calls its completion before it
  /// returns (a store that never blocks).
  bool commits_inline() const noexcept { return inline_commits_; }

  /// Whether committed records are handed to the `committed` listener (on by default). While
  /// off, a commit neither copies nor sorts them: for hosts that registered no listener yet.
  void publish_committed(bool on) noexcept { publish_.store(on, std::memory_order_release); }

 private:
  struct item {
    persistence::stream_append append;
    completion done;
  };
  struct item_events {
    std::size_t operator()(const item& i) const noexcept { return i.append.events.size(); }
  };

  journal_writer(std::unique_ptr<persistence::journal> journal, journal_writer_options options,
                 committed_listener committed, stats_observer observer, bool inline_commits,
                 logger log);

  /// Commits one batch the worker took, in transactions of distinct streams.
  void handle(std::vector<item>& batch);
  /// Appends [first, last) and hands the committed records to the listener; the items'
  /// completions are left to the caller. Returns the batch's outcome.
  result<std::vector<persistence::stream_outcome>> write(item* first, item* last);
  /// `write`, then answers each item (moving its completion out, so none is answered twice).
  void commit(item* first, item* last);

  const bool inline_commits_;
  detail::spin_mutex inline_mutex_;  // serialises inline commits and their hand-off
  bool inline_stopped_ = false;
  std::atomic<bool> publish_{true};

  std::unique_ptr<persistence::journal> journal_;
  const journal_writer_options options_;
  const committed_listener committed_;
  const stats_observer observer_;
  const logger log_;

  std::vector<std::string_view> keys_;  // writer thread only: the streams of a batch
  std::vector<item> deferred_;          // writer thread only: a stream's second append

  // Last: its thread is the first thing to go.
  std::optional<worker<item, no_state, item_events>> worker_;
};

/// A fixed set of threads that each own connections of their own (a journal reader and, when
/// configured, a snapshot store), so that rehydration and queries never queue behind the
/// writer, nor block the actors' scheduler.
///
/// Thread-safety: `submit` may be called from any thread; tasks run on one of the threads.
class io_pool {
 public:
  /// A task gets this thread's journal, or the error opening it failed with.
  using task = std::function<void(result<persistence::journal*>)>;
  /// A task that also gets this thread's snapshot store (null when there is none, or when
  /// opening it failed: snapshots are a cache, a read can always do without).
  using snapshot_task =
      std::function<void(result<persistence::journal*>, persistence::snapshot_store*)>;

  io_pool(std::shared_ptr<persistence::journal_factory> factory,
          std::shared_ptr<persistence::snapshot_store_factory> snapshots, std::size_t threads,
          std::shared_ptr<log_sink> log = {});
  ~io_pool();
  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  /// Runs `t` on a pool thread; after `stop`, calls it at once with `unavailable`. The task
  /// answers its caller itself: should it throw, the exception is logged (component
  /// "io_pool") and the thread goes on.
  void submit(task t);
  void submit(snapshot_task t);

  /// Runs `work(journal&, snapshot_store*) -> result<T>` on a pool thread and calls
  /// `done(result<T>)` with its outcome there. Errors handed to `done`: opening the journal's;
  /// `unavailable` after `stop` (then on the caller's thread); `internal` when `work` throws
  /// (also logged).
  template <class T, class Work, class Done>
  void query(Work work, Done done) {
    snapshot_task t{query_job<T, Work, Done>{&log_, std::move(work), std::move(done)}};
    if (!pool_.post(std::move(t)))  // refused: `t` still holds the job
      t.template target<query_job<T, Work, Done>>()->done(
          error{errc::unavailable, "journal readers are stopped"});
  }

  /// Runs what is queued, then joins the threads. Idempotent.
  void stop();

 private:
  /// What each thread owns, opened on first use.
  struct connections {
    std::unique_ptr<persistence::journal> journal;
    std::unique_ptr<persistence::snapshot_store> snapshots;
  };
  /// This thread's journal (opened now if need be); its snapshot store too, when configured.
  result<persistence::journal*> open(connections& c);

  template <class T, class Work, class Done>
  struct query_job {
    const logger* log;
    Work work;
    Done done;

    void operator()(result<persistence::journal*> j, persistence::snapshot_store* snapshots) {
      result<T> r = error{errc::internal, "the query did not run"};
      if (!j) {
        r = std::move(j).err();
      } else {
        try {
          r = work(**j, snapshots);
        } catch (...) {
          r = report_exception(*log, "a query");
        }
      }
      done(std::move(r));
    }
  };

  /// Runs a batch of tasks with this thread's connections.
  void run(connections& c, std::vector<snapshot_task>& batch);

  std::shared_ptr<persistence::journal_factory> factory_;
  std::shared_ptr<persistence::snapshot_store_factory> snapshots_;
  const logger log_;
  worker<snapshot_task, connections> pool_;
};

/// The thread that saves snapshots, off every command's path. A snapshot is a cache: when
/// the queue is full or the store fails, the snapshot is skipped (and reported), never
/// retried in a way that could delay commands.
///
/// Thread-safety: `submit` may be called from any thread.
class snapshot_writer {
 public:
  /// Called on the writer thread after each attempt.
  using observer = std::function<void(const persistence::snapshot_record&, const result<void>&)>;

  snapshot_writer(std::shared_ptr<persistence::snapshot_store_factory> factory,
                  std::size_t max_queued, observer on_saved, std::shared_ptr<log_sink> log = {});
  ~snapshot_writer();
  snapshot_writer(const snapshot_writer&) = delete;
  snapshot_writer& operator=(const snapshot_writer&) = delete;

  /// Queues `s`; returns false (and saves nothing) when the queue is full or stopped.
  bool submit(persistence::snapshot_record s);

  /// Saves what is queued, then joins the thread. Idempotent.
  void stop();

 private:
  struct store {
    std::unique_ptr<persistence::snapshot_store> open;  // null until opened, or after a failure
  };
  void save(store& st, std::vector<persistence::snapshot_record>& batch);

  std::shared_ptr<persistence::snapshot_store_factory> factory_;
  const observer on_saved_;
  worker<persistence::snapshot_record, store> worker_;
};

}  // namespace strata::actors
