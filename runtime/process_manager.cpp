#include "strata/runtime/process_manager.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "strata/actors/worker.hpp"
#include "strata/persistence/sqlite_process_store.hpp"

namespace strata {

// Which instances were started and which finished is recorded through a process store, in
// the trigger projection's transaction with its checkpoint.

namespace {

using steady = std::chrono::steady_clock;

// The instances of one manager and their turns. Each queued instance has exactly one turn
// posted on the manager's pool (at once, or after the retry delay); an instance offered
// again while its turn runs gets another turn when this one ends.
struct inbox {
  /// One turn of instance `id`: its rounds, until it is no longer `progressed`.
  using turn_fn = std::function<process_progress(const std::string& id, const std::string& cause)>;

  inbox(std::size_t threads, std::chrono::milliseconds retry, turn_fn advance, const logger& log)
      : retry_delay(retry), turn(std::move(advance)), log_(log), pool(pool_options(threads), log) {}

  void offer(const std::string& id, const std::string& cause) {
    std::lock_guard<std::mutex> lock(mutex);
    if (closed) return;
    if (running.count(id) != 0) {
      requeue.insert(id);
      return;
    }
    if (queued.emplace(id, cause).second) schedule(id, std::chrono::milliseconds{0});
  }

  bool is_closed() const {
    std::lock_guard<std::mutex> lock(mutex);
    return closed;
  }

  /// Refuses new turns, lets the turns that are due end, and joins the pool. Idempotent.
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      closed = true;
    }
    pool.stop();
  }

  mutable std::mutex mutex;
  std::map<std::string, std::string> queued;  // instance id -> the event id that started it
  std::set<std::string> running;
  std::set<std::string> requeue;  // offered again while running: another turn when done
  bool closed = false;
  bool halted = false;
  const std::chrono::milliseconds retry_delay;
  const turn_fn turn;

 private:
  const logger log_;

 public:
  actors::task_pool<> pool;  // last: its threads stop before the rest is destroyed

 private:
  static actors::worker_options pool_options(std::size_t threads) {
    actors::worker_options o;
    o.threads = threads;
    return o;
  }

  // REQUIRES: `mutex` held and `id` in `queued`. A pool that refuses is stopping: the
  // instance stays unfinished in the store and resumes on the next start.
  void schedule(const std::string& id, std::chrono::milliseconds delay) {
    actors::task_pool<>::task t = [this, id](actors::no_state&) { run(id); };
    const bool posted = delay.count() == 0 ? pool.post(std::move(t))
                                           : pool.post_at(steady::now() + delay, std::move(t));
    if (!posted) queued.erase(id);
  }

  void run(const std::string& id) {
    std::string cause;
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = queued.find(id);
      if (closed || it == queued.end()) return;
      cause = std::move(it->second);
      queued.erase(it);
      running.insert(id);
    }
    // A turn that throws is logged by the pool; the instance is queued again after the retry
    // delay, as for `waiting`, so that one bad round neither stops the manager nor loses it.
    process_progress p = process_progress::waiting;
    try {
      p = turn(id, cause);
    } catch (...) {
      actors::report_exception(log_, "advancing instance " + id);
    }
    std::lock_guard<std::mutex> lock(mutex);
    running.erase(id);
    const bool again = requeue.erase(id) != 0;
    if (closed) return;
    switch (p) {
      case process_progress::finished:
        if (again && queued.emplace(id, cause).second) schedule(id, std::chrono::milliseconds{0});
        break;
      case process_progress::halted:
        halted = true;
        closed = true;
        break;
      case process_progress::waiting:
        if (queued.emplace(id, cause).second) schedule(id, retry_delay);
        break;
      case process_progress::progressed:  // its turn ended; others first
        if (queued.emplace(id, cause).second) schedule(id, std::chrono::milliseconds{0});
        break;
    }
  }
};

class trigger_projection final : public persistence::projection {
 public:
  trigger_projection(std::shared_ptr<process_definition> def,
                     std::shared_ptr<persistence::process_store> store, std::shared_ptr<inbox> box)
      : def_(std::move(def)),
        store_(std::move(store)),
        box_(std::move(box)),
        name_("process:" + std::string{def_->name()}) {}

  std::string_view name() const override { return name_; }
  std::vector<std::string> handles() const override { return def_->handles(); }

  result<void> setup(persistence::projection_transaction& tx) override { return store_->setup(tx); }
  result<void> drop(persistence::projection_transaction& tx) override {
    return store_->forget(tx, def_->name());
  }

  result<void> apply(persistence::projection_transaction& tx,
                     const persistence::event_record& r) override {
    const std::string_view process = def_->name();
    if (auto id = def_->started_by(r)) {
      if (auto e = store_->record_started(tx, process, *id, r.event_id); !e) return e;
      // Offered before the commit: should the commit fail, the record is applied again and
      // offered again, which the queue and the deterministic command ids make harmless.
      box_->offer(*id, r.event_id);
    }
    if (auto id = def_->finished_by(r)) {
      if (auto e = store_->record_finished(tx, process, *id); !e) return e;
    }
    return ok();
  }

 private:
  std::shared_ptr<process_definition> def_;
  std::shared_ptr<persistence::process_store> store_;
  std::shared_ptr<inbox> box_;
  std::string name_;
};

}  // namespace

struct process_manager::impl {
  runtime* rt = nullptr;
  std::shared_ptr<process_definition> def;
  process_options options;
  std::shared_ptr<inbox> box;

  process_progress turn(const std::string& id, const std::string& cause) {
    process_progress p = process_progress::progressed;
    for (std::size_t round = 0; round < options.rounds_per_turn; ++round) {
      if (box->is_closed()) break;
      p = def->advance(*rt, id, cause);
      if (p != process_progress::progressed) break;
    }
    return p;
  }
};

result<std::unique_ptr<process_manager>> process_manager::start(
    runtime& rt, std::shared_ptr<process_definition> def, process_options options) {
  if (!def) return error{errc::invalid_argument, "a process manager needs a process definition"};
  if (def->name().empty()) return error{errc::invalid_argument, "a process needs a name"};
  if (options.workers == 0)
    return error{errc::invalid_argument, "a process manager needs at least one worker"};
  if (options.rounds_per_turn == 0) options.rounds_per_turn = 1;
  if (!options.store) options.store = std::make_shared<persistence::sqlite_process_store>();
  auto p = std::make_unique<impl>();
  p->rt = &rt;
  p->def = def;
  p->options = options;
  // The pool exists before the trigger projection: it offers instances while it catches up.
  p->box = std::make_shared<inbox>(
      options.workers, options.retry_delay,
      [raw = p.get()](const std::string& id, const std::string& cause) {
        return raw->turn(id, cause);
      },
      logger{rt.log(), "process:" + std::string{def->name()}});
  // On a failure below, the pool's turns must end before `p` goes.
  auto fail = [&p](error e) -> result<std::unique_ptr<process_manager>> {
    p->box->close();
    return e;
  };
  if (auto added =
          rt.add_projection(std::make_shared<trigger_projection>(def, options.store, p->box));
      !added)
    return fail(std::move(added).err());
  // Instances a previous run started and did not finish. The projection may offer some of
  // them again while it catches up; the queue keeps one entry per instance.
  auto store = rt.open_read_models();
  if (!store) return fail(std::move(store).err());
  auto unfinished = options.store->unfinished(store->connection(), def->name());
  if (!unfinished) return fail(std::move(unfinished).err());
  for (const auto& instance : *unfinished) p->box->offer(instance.id, instance.cause);
  return std::unique_ptr<process_manager>{new process_manager{std::move(p)}};
}

process_manager::process_manager(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

process_manager::~process_manager() {
  stop();
}

std::size_t process_manager::active() const {
  std::lock_guard<std::mutex> lock(impl_->box->mutex);
  return impl_->box->queued.size() + impl_->box->running.size();
}

bool process_manager::is_halted() const {
  std::lock_guard<std::mutex> lock(impl_->box->mutex);
  return impl_->box->halted;
}

void process_manager::stop() {
  impl_->box->close();
}

}  // namespace strata
