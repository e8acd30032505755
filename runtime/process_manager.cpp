#include "runtime/process_manager.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "persistence/sqlite_process_store.hpp"

namespace strata {

// Which instances were started and which finished is recorded through a process store, in
// the trigger projection's transaction with its checkpoint.

namespace {

using steady = std::chrono::steady_clock;

// The work queue shared by the projection (producer) and the workers.
struct inbox {
  struct entry {
    std::string cause;
    steady::time_point due;
  };

  mutable std::mutex mutex;
  std::condition_variable changed;
  std::map<std::string, entry> queued;  // by instance id
  std::set<std::string> running;
  std::set<std::string> requeue;  // offered again while running: another round when done
  bool closed = false;
  bool halted = false;

  void offer(const std::string& id, const std::string& cause) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (closed) return;
      if (running.count(id) != 0) {
        requeue.insert(id);
        return;
      }
      queued.emplace(id, entry{cause, steady::now()});
    }
    changed.notify_one();
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
  std::vector<std::thread> workers;
  std::once_flag stopped;

  void work() {
    for (;;) {
      std::string id;
      std::string cause;
      {
        std::unique_lock<std::mutex> lock(box->mutex);
        for (;;) {
          if (box->closed) return;
          auto next = box->queued.end();
          for (auto it = box->queued.begin(); it != box->queued.end(); ++it)
            if (next == box->queued.end() || it->second.due < next->second.due) next = it;
          if (next != box->queued.end() && next->second.due <= steady::now()) {
            id = next->first;
            cause = next->second.cause;
            box->queued.erase(next);
            box->running.insert(id);
            break;
          }
          if (next == box->queued.end())
            box->changed.wait(lock);
          else
            box->changed.wait_until(lock, next->second.due);
        }
      }
      process_progress p = process_progress::progressed;
      for (std::size_t round = 0; round < options.rounds_per_turn; ++round) {
        if (is_closed()) break;
        p = def->advance(*rt, id, cause);
        if (p != process_progress::progressed) break;
      }
      std::lock_guard<std::mutex> lock(box->mutex);
      box->running.erase(id);
      const bool again = box->requeue.erase(id) != 0;
      switch (p) {
        case process_progress::finished:
          if (again) box->queued.emplace(id, inbox::entry{cause, steady::now()});
          break;
        case process_progress::halted:
          box->halted = true;
          box->closed = true;
          box->changed.notify_all();
          return;
        case process_progress::waiting:
          box->queued.emplace(id, inbox::entry{cause, steady::now() + options.retry_delay});
          break;
        case process_progress::progressed:  // its turn ended; others first
          box->queued.emplace(id, inbox::entry{cause, steady::now()});
          break;
      }
      box->changed.notify_one();
    }
  }

  bool is_closed() const {
    std::lock_guard<std::mutex> lock(box->mutex);
    return box->closed;
  }

  void shut() {
    std::call_once(stopped, [this] {
      {
        std::lock_guard<std::mutex> lock(box->mutex);
        box->closed = true;
      }
      box->changed.notify_all();
      for (auto& t : workers)
        if (t.joinable()) t.join();
    });
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
  p->box = std::make_shared<inbox>();
  if (auto added =
          rt.add_projection(std::make_shared<trigger_projection>(def, options.store, p->box));
      !added)
    return std::move(added).err();
  // Instances a previous run started and did not finish. The projection may offer some of
  // them again while it catches up; the queue keeps one entry per instance.
  auto store = rt.open_read_models();
  if (!store) return std::move(store).err();
  auto unfinished = options.store->unfinished(**store, def->name());
  if (!unfinished) return std::move(unfinished).err();
  for (const auto& instance : *unfinished) p->box->offer(instance.id, instance.cause);
  for (std::size_t i = 0; i < options.workers; ++i)
    p->workers.emplace_back([raw = p.get()] { raw->work(); });
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
  impl_->shut();
}

}  // namespace strata
