#include "runtime/process_manager.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

namespace strata {

// The instance table of every process, in the read-model database:
//   strata_process_instances(process TEXT, instance TEXT, cause TEXT, finished INTEGER,
//                            PRIMARY KEY (process, instance))
// A row is inserted (finished = 0) by the event that starts an instance and set to
// finished = 1 by the event that finishes it, in the projection's transaction with its
// checkpoint.

namespace {

using steady = std::chrono::steady_clock;

constexpr std::string_view create_sql =
    "CREATE TABLE IF NOT EXISTS strata_process_instances (process TEXT NOT NULL, instance TEXT "
    "NOT NULL, cause TEXT NOT NULL, finished INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (process, "
    "instance))";
constexpr std::string_view insert_sql =
    "INSERT INTO strata_process_instances (process, instance, cause, finished) VALUES (?, ?, ?, "
    "0) ON CONFLICT (process, instance) DO NOTHING";
constexpr std::string_view finish_sql =
    "UPDATE strata_process_instances SET finished = 1 WHERE process = ? AND instance = ?";
constexpr std::string_view delete_sql = "DELETE FROM strata_process_instances WHERE process = ?";
constexpr std::string_view unfinished_sql =
    "SELECT instance, cause FROM strata_process_instances WHERE process = ? AND finished = 0 "
    "ORDER BY instance";

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
  trigger_projection(std::shared_ptr<process_definition> def, std::shared_ptr<inbox> box)
      : def_(std::move(def)), box_(std::move(box)), name_("process:" + std::string{def_->name()}) {}

  std::string_view name() const override { return name_; }
  std::vector<std::string> handles() const override { return def_->handles(); }

  result<void> setup(persistence::projection_transaction& tx) override {
    return tx.execute(create_sql);
  }
  result<void> drop(persistence::projection_transaction& tx) override {
    return tx.execute(delete_sql, {std::string{def_->name()}});
  }

  result<void> apply(persistence::projection_transaction& tx,
                     const persistence::event_record& r) override {
    const std::string process{def_->name()};
    if (auto id = def_->started_by(r)) {
      if (auto e = tx.execute(insert_sql, {process, *id, r.event_id}); !e) return e;
      // Offered before the commit: should the commit fail, the record is applied again and
      // offered again, which the queue and the deterministic command ids make harmless.
      box_->offer(*id, r.event_id);
    }
    if (auto id = def_->finished_by(r)) {
      if (auto e = tx.execute(finish_sql, {process, *id}); !e) return e;
    }
    return ok();
  }

 private:
  std::shared_ptr<process_definition> def_;
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
  auto p = std::make_unique<impl>();
  p->rt = &rt;
  p->def = def;
  p->options = options;
  p->box = std::make_shared<inbox>();
  if (auto added = rt.add_projection(std::make_shared<trigger_projection>(def, p->box)); !added)
    return std::move(added).err();
  // Instances a previous run started and did not finish. The projection may offer some of
  // them again while it catches up; the queue keeps one entry per instance.
  auto store = rt.open_read_models();
  if (!store) return std::move(store).err();
  auto rows = (*store)->query(unfinished_sql, {std::string{def->name()}});
  if (!rows) return std::move(rows).err();
  for (const auto& row : *rows)
    if (row.size() == 2) p->box->offer(persistence::as_text(row[0]), persistence::as_text(row[1]));
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
