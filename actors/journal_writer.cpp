#include "actors/journal_writer.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <unordered_set>

namespace strata::actors {

result<std::unique_ptr<journal_writer>> journal_writer::start(persistence::journal_factory& factory,
                                                              journal_writer_options options,
                                                              committed_listener committed,
                                                              stats_observer observer) {
  auto j = factory.open();
  if (!j) return std::move(j).err();
  return std::unique_ptr<journal_writer>{new journal_writer{
      std::move(*j), options, std::move(committed), std::move(observer), !factory.blocks()}};
}

journal_writer::journal_writer(std::unique_ptr<persistence::journal> journal,
                               journal_writer_options options, committed_listener committed,
                               stats_observer observer, bool inline_commits)
    : inline_commits_(inline_commits),
      journal_(std::move(journal)),
      options_(options),
      committed_(std::move(committed)),
      observer_(std::move(observer)) {
  if (!inline_commits_) thread_ = std::thread([this] { run(); });
}

journal_writer::~journal_writer() {
  stop();
}

void journal_writer::spin_mutex::lock() noexcept {
  for (unsigned spins = 0;;) {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    while (locked_.load(std::memory_order_relaxed)) {
      if (++spins < 128) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      } else {
        std::this_thread::yield();  // the holder may be descheduled: let it run
      }
    }
  }
}

void journal_writer::submit(persistence::stream_append append, completion done) {
  if (inline_commits_) {
    std::vector<item> one;
    one.push_back(item{std::move(append), {}});
    result<std::vector<persistence::stream_outcome>> outcome =
        error{errc::unavailable, "journal writer is stopped"};
    {
      std::lock_guard<spin_mutex> lock{inline_mutex_};
      if (!stopping_) outcome = write(one);  // hands off under the lock: global order is kept
    }
    if (outcome)
      done(std::move((*outcome)[0]));
    else
      done(std::move(outcome).err());
    return;
  }
  {
    std::lock_guard<std::mutex> lock{mutex_};
    if (!stopping_) {
      queued_events_ += append.events.size();
      queue_.push_back(item{std::move(append), std::move(done)});
      // The writer waits only on an empty queue (or for a fuller batch), so only the first
      // append into an empty queue, or one that fills the batch, needs to wake it.
      if (queue_.size() == 1 || queued_events_ >= options_.max_batch_events) wake_.notify_one();
      return;
    }
  }
  done(error{errc::unavailable, "journal writer is stopped"});
}

void journal_writer::stop() {
  if (inline_commits_) {
    std::lock_guard<spin_mutex> lock{inline_mutex_};
    stopping_ = true;
    return;
  }
  {
    std::lock_guard<std::mutex> lock{mutex_};
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void journal_writer::run() {
  std::vector<item> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock{mutex_};
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      if (options_.max_wait.count() > 0 && queued_events_ < options_.max_batch_events &&
          !stopping_) {
        wake_.wait_for(lock, options_.max_wait,
                       [this] { return stopping_ || queued_events_ >= options_.max_batch_events; });
      }
      // Take appends up to the event bound; a stream may appear only once per transaction,
      // so a second append of the same stream waits for the next one (it would conflict on
      // its expected version anyway, but must see the first one's outcome).
      std::unordered_set<std::string> streams;
      std::size_t events = 0;
      for (auto it = queue_.begin(); it != queue_.end();) {
        if (!batch.empty() && events + it->append.events.size() > options_.max_batch_events) break;
        if (!streams.insert(it->append.stream.str()).second) {
          ++it;
          continue;
        }
        events += it->append.events.size();
        queued_events_ -= it->append.events.size();
        batch.push_back(std::move(*it));
        it = queue_.erase(it);
      }
    }
    commit(batch);
    batch.clear();
  }
}

result<std::vector<persistence::stream_outcome>> journal_writer::write(std::vector<item>& batch) {
  std::vector<persistence::stream_append> appends;
  appends.reserve(batch.size());
  commit_stats stats;
  for (auto& i : batch) {
    stats.events += i.append.events.size();
    appends.push_back(std::move(i.append));
  }
  stats.streams = appends.size();
  const auto started = std::chrono::steady_clock::now();
  result<std::vector<persistence::stream_outcome>> outcome =
      error{errc::internal, "journal append did not run"};
  try {
    outcome = journal_->append(appends);
  } catch (const std::exception& ex) {  // backends must not throw; a bug must not kill the thread
    outcome = error{errc::internal, std::string{"journal append threw: "} + ex.what()};
  }
  stats.duration = std::chrono::steady_clock::now() - started;
  if (!outcome) {
    stats.ok = false;
    if (observer_) observer_(stats);
    return outcome;
  }
  const bool publish = committed_ && publish_.load(std::memory_order_acquire);
  std::vector<persistence::event_record> committed;
  if (publish) committed.reserve(stats.events);
  for (const auto& per_stream : *outcome) {
    if (!per_stream)
      ++stats.conflicts;
    else if (publish)
      committed.insert(committed.end(), per_stream->begin(), per_stream->end());
  }
  if (observer_) observer_(stats);
  if (!committed.empty()) {
    // One batch's records are in position order per stream, the streams interleave.
    std::sort(committed.begin(), committed.end(),
              [](const auto& a, const auto& b) { return a.position < b.position; });
    try {
      committed_(
          std::make_shared<const std::vector<persistence::event_record>>(std::move(committed)));
    } catch (const std::exception& ex) {  // the appends are committed: answer them regardless
      std::fprintf(stderr, "strata: the committed-records listener threw: %s\n", ex.what());
    }
  }
  return outcome;
}

void journal_writer::commit(std::vector<item>& batch) {
  auto outcome = write(batch);
  if (!outcome) {
    for (auto& i : batch) i.done(outcome.err());
    return;
  }
  for (std::size_t k = 0; k < batch.size(); ++k) batch[k].done(std::move((*outcome)[k]));
}

io_pool::io_pool(std::shared_ptr<persistence::journal_factory> factory,
                 std::shared_ptr<persistence::snapshot_store_factory> snapshots,
                 std::size_t threads)
    : factory_(std::move(factory)), snapshots_(std::move(snapshots)) {
  threads_.reserve(std::max<std::size_t>(threads, 1));
  for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i)
    threads_.emplace_back([this] { run(); });
}

io_pool::~io_pool() {
  stop();
}

void io_pool::submit(task t) {
  submit(snapshot_task{[t = std::move(t)](result<persistence::journal*> j,
                                          persistence::snapshot_store*) { t(std::move(j)); }});
}

void io_pool::submit(snapshot_task t) {
  {
    std::lock_guard<std::mutex> lock{mutex_};
    if (!stopping_) {
      queue_.push_back(std::move(t));
      wake_.notify_one();  // threads may all be busy or all idle: always wake one
      return;
    }
  }
  t(error{errc::unavailable, "journal readers are stopped"}, nullptr);
}

void io_pool::stop() {
  {
    std::lock_guard<std::mutex> lock{mutex_};
    stopping_ = true;
    wake_.notify_all();
  }
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void io_pool::run() {
  std::unique_ptr<persistence::journal> journal;
  std::unique_ptr<persistence::snapshot_store> snapshots;
  for (;;) {
    snapshot_task t;
    {
      std::unique_lock<std::mutex> lock{mutex_};
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      t = std::move(queue_.front());
      queue_.pop_front();
    }
    if (snapshots_ && !snapshots) {
      if (auto opened = snapshots_->open()) snapshots = std::move(*opened);
    }
    try {
      if (!journal) {
        auto opened = factory_->open();
        if (!opened) {
          t(std::move(opened).err(), snapshots.get());
          continue;
        }
        journal = std::move(*opened);
      }
      t(journal.get(), snapshots.get());
    } catch (const std::exception&) {
      // Tasks answer through their own callbacks; one that throws has already lost its
      // reply, and the envelope guards report it. The thread must survive.
    }
  }
}

snapshot_writer::snapshot_writer(std::shared_ptr<persistence::snapshot_store_factory> factory,
                                 std::size_t max_queued, observer on_saved)
    : factory_(std::move(factory)), max_queued_(max_queued), on_saved_(std::move(on_saved)) {
  thread_ = std::thread([this] { run(); });
}

snapshot_writer::~snapshot_writer() {
  stop();
}

bool snapshot_writer::submit(persistence::snapshot_record s) {
  std::lock_guard<std::mutex> lock{mutex_};
  if (stopping_ || queue_.size() >= max_queued_) return false;
  queue_.push_back(std::move(s));
  wake_.notify_one();
  return true;
}

void snapshot_writer::stop() {
  {
    std::lock_guard<std::mutex> lock{mutex_};
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void snapshot_writer::run() {
  std::unique_ptr<persistence::snapshot_store> store;
  for (;;) {
    persistence::snapshot_record s;
    {
      std::unique_lock<std::mutex> lock{mutex_};
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      s = std::move(queue_.front());
      queue_.pop_front();
    }
    result<void> saved = ok();
    if (!store) {
      auto opened = factory_->open();
      if (opened)
        store = std::move(*opened);
      else
        saved = std::move(opened).err();
    }
    if (store) {
      saved = store->save(s);
      if (!saved) store.reset();  // reconnect on the next one
    }
    if (on_saved_) on_saved_(s, saved);
  }
}

}  // namespace strata::actors
