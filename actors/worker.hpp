#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "strata/domain/kernel/error.hpp"
#include "strata/domain/kernel/log.hpp"
#include "strata/domain/kernel/result.hpp"

namespace strata::actors {

/// How a `worker` runs.
struct worker_options {
  /// Threads taking items off the one queue (at least one).
  std::size_t threads = 1;
  /// Items waiting (immediate and timed) at most; beyond it `post` refuses.
  std::size_t max_queued = std::numeric_limits<std::size_t>::max();
  /// Weight of one batch at most (see `Weight`); a batch always holds at least one item.
  std::size_t max_batch = 1;
  /// How long a thread that found less than `max_batch` waits for more before it runs the
  /// batch. Zero runs whatever is queued at once (batches still grow under load, with what
  /// piles up while the previous batch runs).
  std::chrono::microseconds max_wait{0};
  /// `max_wait` applies only after a batch of at least this weight: a thread whose previous
  /// batch was lighter runs what is queued at once (a light load pays no wait). 0: always.
  std::size_t wait_after = 0;
};

/// The per-thread state of a worker without any.
struct no_state {};

/// The weight of every item: 1 (a batch bound counts items).
struct unit_weight {
  template <class Item>
  std::size_t operator()(const Item&) const noexcept {
    return 1;
  }
};

/// Call inside a `catch` block: logs the exception in flight as an error of `log`'s component
/// and returns it as `error{errc::internal, "<component>: <context> threw: <what>"}`.
error report_exception(const logger& log, std::string_view context) noexcept;

/// Threads that take items off one queue and hand them, in batches, to a handler: the one
/// shape of every background thread of the actor layer (the journal writer, the reader pool,
/// the snapshot writer, the deadline watch, process managers).
///
/// Order: immediate items (`post`) are taken first in, first out; timed items (`post_at`) wait
/// in a heap (O(log n) per item) and are taken in order of their time once it has come, before
/// the immediate ones. With one thread, batches run in that order; with several, batches run
/// concurrently and each thread keeps a `State` of its own (default-constructed on the
/// thread; e.g. its connections).
///
/// Batches: a thread takes items while their total `Weight` stays within `max_batch` (at
/// least one item), after waiting up to `max_wait` for the queue to reach it (only after a batch
/// of at least `wait_after`).
///
/// Stop rule: `stop()` refuses new posts, lets the threads run every item already queued whose
/// time has come, fails each timed item not yet due through `fail` with `unavailable` (drops
/// it when there is no `fail`), and joins. It is idempotent; the destructor calls it.
///
/// Exception rule: a handler that throws neither ends its thread nor goes unnoticed: the
/// exception is logged (level error, the logger's component) and every item still in the
/// batch is handed to `fail` with `error{errc::internal, ...}`, for the caller waiting on it.
/// A handler that answers items as it goes leaves answered items so that a second answer is
/// impossible (e.g. moves their completion out), or removes them from the batch.
///
/// Thread-safety: `post`, `post_at`, `queued` and `stop` may be called from any thread, but
/// `stop` not from a handler (it joins the threads).
template <class Item, class State = no_state, class Weight = unit_weight>
class worker {
 public:
  using clock = std::chrono::steady_clock;
  /// Runs one batch on a worker thread; the batch is cleared after it returns.
  using handler = std::function<void(State&, std::vector<Item>&)>;
  /// Answers an item that will not be handled (see the stop and exception rules).
  using failure = std::function<void(Item&, const error&)>;

  /// Starts the threads. `log` names the component in the messages of the exception rule.
  worker(worker_options options, logger log, handler run, failure fail = {})
      : options_(options),
        single_(options.threads <= 1),
        log_(std::move(log)),
        run_(std::move(run)),
        fail_(std::move(fail)) {
    const std::size_t n = std::max<std::size_t>(options_.threads, 1);
    threads_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) threads_.emplace_back([this] { loop(); });
  }

  ~worker() { stop(); }
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  /// Queues `item` to run as soon as a thread is free. Returns false, leaving `item` untouched,
  /// when the worker is stopped or `max_queued` items wait (the caller answers `unavailable`
  /// or drops it).
  bool post(Item&& item) {
    const std::size_t w = Weight{}(item);
    std::lock_guard<std::mutex> lock{mutex_};
    if (stopping_ || queue_.size() + timed_.size() >= options_.max_queued) return false;
    const bool was_empty = queue_.empty();
    queue_.push_back(std::move(item));
    weight_ += w;
    // A single thread waits only on an empty queue or for a fuller batch: only the first item
    // into an empty queue, or one that fills a batch, needs to wake it. Of several threads
    // some may be idle while others are busy: always wake one.
    if (!single_ || was_empty || weight_ >= options_.max_batch) wake_.notify_one();
    return true;
  }

  /// Queues `item` to run once `when` has come. Returns false as `post` does.
  bool post_at(clock::time_point when, Item&& item) {
    std::lock_guard<std::mutex> lock{mutex_};
    if (stopping_ || queue_.size() + timed_.size() >= options_.max_queued) return false;
    const bool earliest = timed_.empty() || when < timed_.front().when;
    timed_.push_back(timed{when, next_seq_++, std::move(item)});
    std::push_heap(timed_.begin(), timed_.end(), later{});
    if (earliest) wake_.notify_one();  // a thread may sleep until the old earliest time
    return true;
  }

  /// Items queued (immediate and timed) and not yet taken by a thread.
  std::size_t queued() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return queue_.size() + timed_.size();
  }

  /// See the stop rule above. Idempotent.
  void stop() {
    std::lock_guard<std::mutex> once{stop_mutex_};
    {
      std::lock_guard<std::mutex> lock{mutex_};
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    std::vector<timed> left;
    {
      std::lock_guard<std::mutex> lock{mutex_};
      left.swap(timed_);
    }
    if (!fail_) return;
    const error stopped{errc::unavailable, log_.component() + " is stopped"};
    for (auto& t : left) {
      try {
        fail_(t.item, stopped);
      } catch (...) {
        report_exception(log_, "failing an item");
      }
    }
  }

 private:
  struct timed {
    clock::time_point when;
    std::uint64_t seq;  // equal times run in the order they were posted
    Item item;
  };
  struct later {
    bool operator()(const timed& a, const timed& b) const noexcept {
      return a.when != b.when ? a.when > b.when : a.seq > b.seq;
    }
  };

  void loop() {
    State state{};
    std::vector<Item> batch;
    std::size_t last_weight = 0;  // of this thread's previous batch
    for (;;) {
      {
        std::unique_lock<std::mutex> lock{mutex_};
        if (!wait_for_due(lock)) return;
        if (options_.max_wait.count() > 0 && last_weight >= options_.wait_after && !stopping_ &&
            !queue_.empty() && weight_ < options_.max_batch) {
          wake_.wait_for(lock, options_.max_wait,
                         [this] { return stopping_ || weight_ >= options_.max_batch; });
        }
        last_weight = take(batch);
      }
      if (batch.empty()) continue;  // another thread took what woke this one
      try {
        run_(state, batch);
      } catch (...) {
        const error e = report_exception(log_, "a task");
        for (auto& i : batch) {
          if (!fail_) break;
          try {
            fail_(i, e);
          } catch (...) {
            report_exception(log_, "failing an item");
          }
        }
      }
      batch.clear();
    }
  }

  /// Waits until an item is due; false when stopping and nothing is due.
  bool wait_for_due(std::unique_lock<std::mutex>& lock) {
    for (;;) {
      if (!queue_.empty()) return true;
      if (timed_.empty()) {
        if (stopping_) return false;
        wake_.wait(lock);
        continue;
      }
      const auto due = timed_.front().when;
      if (due <= clock::now()) return true;
      if (stopping_) return false;
      wake_.wait_until(lock, due);  // woken early by an earlier item, a post or stop: look again
    }
  }

  /// Moves the next batch into `batch`; returns its weight.
  std::size_t take(std::vector<Item>& batch) {
    std::size_t w = 0;
    if (!timed_.empty()) {
      const auto now = clock::now();
      while (!timed_.empty() && timed_.front().when <= now) {
        const std::size_t iw = Weight{}(timed_.front().item);
        if (!batch.empty() && w + iw > options_.max_batch) return w;
        std::pop_heap(timed_.begin(), timed_.end(), later{});
        batch.push_back(std::move(timed_.back().item));
        timed_.pop_back();
        w += iw;
      }
    }
    while (!queue_.empty()) {
      const std::size_t iw = Weight{}(queue_.front());
      if (!batch.empty() && w + iw > options_.max_batch) return w;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
      w += iw;
      weight_ -= iw;
    }
    return w;
  }

  const worker_options options_;
  const bool single_;
  const logger log_;
  const handler run_;
  const failure fail_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  std::size_t weight_ = 0;    // of `queue_`
  std::vector<timed> timed_;  // a heap on `later`: the earliest at the front
  std::uint64_t next_seq_ = 0;
  bool stopping_ = false;

  std::mutex stop_mutex_;  // makes concurrent stop() calls join once
  std::vector<std::thread> threads_;
};

/// A `worker` of type-erased tasks: for threads that run many kinds of work, each task with
/// the running thread's `State`.
///
/// Thread-safety: as `worker`'s.
template <class State = no_state>
class task_pool {
 public:
  using task = std::function<void(State&)>;
  using clock = std::chrono::steady_clock;

  task_pool(worker_options options, logger log)
      : log_(log), worker_(options, log, [](State& s, std::vector<task>& batch) {
          for (auto& t : batch) {
            task run = std::move(t);  // moved out first: a throw leaves nothing to fail twice
            run(s);
          }
        }) {}

  /// Runs `t` on a pool thread. Returns false, leaving `t` untouched, when stopped or full. A
  /// task that throws is logged; it has no caller to answer (use `submit` for one that has).
  bool post(task&& t) { return worker_.post(std::move(t)); }
  /// Runs `t` once `when` has come; otherwise as `post`. Not yet due at `stop`: dropped.
  bool post_at(clock::time_point when, task&& t) { return worker_.post_at(when, std::move(t)); }

  /// Runs `work(State&) -> result<T>` on a pool thread and hands its result to `done` there.
  /// When `work` throws, `done` gets `error{errc::internal, ...}` (and the exception is
  /// logged); when the pool is stopped or full, `done` gets `unavailable` at once, on the
  /// caller's thread.
  template <class T, class Work, class Done>
  void submit(Work work, Done done) {
    task t{job<T, Work, Done>{&log_, std::move(work), std::move(done)}};
    if (!worker_.post(std::move(t)))  // refused: `t` still holds the job
      t.template target<job<T, Work, Done>>()->done(
          error{errc::unavailable, log_.component() + " is stopped"});
  }

  std::size_t queued() const { return worker_.queued(); }

  /// As `worker::stop`.
  void stop() { worker_.stop(); }

 private:
  template <class T, class Work, class Done>
  struct job {
    const logger* log;
    Work work;
    Done done;

    void operator()(State& s) {
      result<T> r = error{errc::internal, "the task did not run"};
      try {
        r = work(s);
      } catch (...) {
        r = report_exception(*log, "a task");
      }
      done(std::move(r));
    }
  };

  const logger log_;
  worker<task, State> worker_;
};

}  // namespace strata::actors
