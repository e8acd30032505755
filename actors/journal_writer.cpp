#include "strata/actors/journal_writer.hpp"

#include <algorithm>
#include <exception>
#include <iterator>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace strata::actors {

result<std::unique_ptr<journal_writer>> journal_writer::start(persistence::journal_factory& factory,
                                                              journal_writer_options options,
                                                              committed_listener committed,
                                                              stats_observer observer,
                                                              std::shared_ptr<log_sink> log) {
  auto j = factory.open();
  if (!j) return std::move(j).err();
  return std::unique_ptr<journal_writer>{
      new journal_writer{std::move(*j), options, std::move(committed), std::move(observer),
                         !factory.blocks(), logger{std::move(log), "journal_writer"}}};
}

journal_writer::journal_writer(std::unique_ptr<persistence::journal> journal,
                               journal_writer_options options, committed_listener committed,
                               stats_observer observer, bool inline_commits, logger log)
    : inline_commits_(inline_commits),
      journal_(std::move(journal)),
      options_(options),
      committed_(std::move(committed)),
      observer_(std::move(observer)),
      log_(std::move(log)) {
  if (inline_commits_) return;
  worker_options w;
  w.max_batch = options_.max_batch_events;
  w.max_wait = options_.max_wait;
  w.wait_after = options_.wait_after_events;
  worker_.emplace(
      w, log_, [this](no_state&, std::vector<item>& batch) { handle(batch); },
      [](item& i, const error& e) {
        if (i.done) std::exchange(i.done, {})(e);
      });
}

journal_writer::~journal_writer() {
  stop();
}

void journal_writer::submit(persistence::stream_append append, completion done) {
  if (inline_commits_) {
    item one{std::move(append), {}};
    result<std::vector<persistence::stream_outcome>> outcome =
        error{errc::unavailable, "journal writer is stopped"};
    {
      std::lock_guard<detail::spin_mutex> lock{inline_mutex_};
      if (!inline_stopped_) outcome = write(&one, &one + 1);  // hands off under the lock
    }
    if (outcome)
      done(std::move((*outcome)[0]));
    else
      done(std::move(outcome).err());
    return;
  }
  item i{std::move(append), std::move(done)};
  if (!worker_->post(std::move(i))) i.done(error{errc::unavailable, "journal writer is stopped"});
}

void journal_writer::stop() {
  if (inline_commits_) {
    std::lock_guard<detail::spin_mutex> lock{inline_mutex_};
    inline_stopped_ = true;
    return;
  }
  worker_->stop();
}

void journal_writer::handle(std::vector<item>& batch) {
  // A stream may appear only once per transaction: a second append of the same stream goes
  // into the next one (it would conflict on its expected version anyway, but must see the
  // first one's outcome). Streams of a batch are nearly always distinct; that check sorts
  // views and allocates nothing once the vector has grown.
  keys_.clear();
  for (const auto& i : batch) keys_.push_back(i.append.stream.str());
  std::sort(keys_.begin(), keys_.end());
  if (std::adjacent_find(keys_.begin(), keys_.end()) == keys_.end()) {
    commit(batch.data(), batch.data() + batch.size());
    return;
  }
  // Rounds of distinct streams, each in arrival order.
  std::size_t begin = 0;
  while (begin < batch.size()) {
    std::unordered_set<std::string> seen;
    deferred_.clear();
    std::size_t kept = begin;
    for (std::size_t k = begin; k < batch.size(); ++k) {
      if (seen.insert(batch[k].append.stream.str()).second) {
        if (kept != k) batch[kept] = std::move(batch[k]);
        ++kept;
      } else {
        deferred_.push_back(std::move(batch[k]));
      }
    }
    batch.erase(batch.begin() + static_cast<std::ptrdiff_t>(kept), batch.end());
    batch.insert(batch.end(), std::make_move_iterator(deferred_.begin()),
                 std::make_move_iterator(deferred_.end()));
    commit(batch.data() + begin, batch.data() + kept);
    begin = kept;
  }
}

result<std::vector<persistence::stream_outcome>> journal_writer::write(item* first, item* last) {
  std::vector<persistence::stream_append> appends;
  appends.reserve(static_cast<std::size_t>(last - first));
  commit_stats stats;
  for (auto* i = first; i != last; ++i) {
    stats.events += i->append.events.size();
    appends.push_back(std::move(i->append));
  }
  stats.streams = appends.size();
  const auto started = std::chrono::steady_clock::now();
  result<std::vector<persistence::stream_outcome>> outcome =
      error{errc::internal, "journal append did not run"};
  try {
    outcome = journal_->append(appends);
  } catch (const std::exception& ex) {  // backends must not throw; a bug must not kill the thread
    outcome = error{errc::internal, std::string{"journal append threw: "} + ex.what()};
    log_.error(outcome.err().message);
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
    if (per_stream) {
      if (publish) committed.insert(committed.end(), per_stream->begin(), per_stream->end());
    } else if (per_stream.err().code == errc::conflict) {  // a duplicate is no conflict
      ++stats.conflicts;
    }
  }
  if (observer_) observer_(stats);
  if (!committed.empty()) {
    // One batch's records are in position order per stream, the streams interleave.
    std::sort(committed.begin(), committed.end(),
              [](const auto& a, const auto& b) { return a.position < b.position; });
    try {
      committed_(
          std::make_shared<const std::vector<persistence::event_record>>(std::move(committed)));
    } catch (...) {  // the appends are committed: answer them regardless
      report_exception(log_, "the committed-records listener");
    }
  }
  return outcome;
}

void journal_writer::commit(item* first, item* last) {
  auto outcome = write(first, last);
  if (!outcome) {
    for (auto* i = first; i != last; ++i) std::exchange(i->done, {})(outcome.err());
    return;
  }
  for (std::size_t k = 0; first + k != last; ++k)
    std::exchange(first[k].done, {})(std::move((*outcome)[k]));
}

io_pool::io_pool(std::shared_ptr<persistence::journal_factory> factory,
                 std::shared_ptr<persistence::snapshot_store_factory> snapshots,
                 std::size_t threads, std::shared_ptr<log_sink> log)
    : factory_(std::move(factory)),
      snapshots_(std::move(snapshots)),
      log_(std::move(log), "io_pool"),
      pool_(worker_options{std::max<std::size_t>(threads, 1)}, log_,
            [this](connections& c, std::vector<snapshot_task>& batch) { run(c, batch); }) {}

io_pool::~io_pool() {
  stop();
}

void io_pool::submit(task t) {
  submit(snapshot_task{[t = std::move(t)](result<persistence::journal*> j,
                                          persistence::snapshot_store*) { t(std::move(j)); }});
}

void io_pool::submit(snapshot_task t) {
  if (!pool_.post(std::move(t)))
    t(error{errc::unavailable, "journal readers are stopped"}, nullptr);
}

void io_pool::run(connections& c, std::vector<snapshot_task>& batch) {
  for (auto& t : batch) {
    snapshot_task run_now = std::move(t);  // a task answers its caller itself: never run twice
    auto j = open(c);
    run_now(std::move(j), c.snapshots.get());
  }
}

result<persistence::journal*> io_pool::open(connections& c) {
  if (snapshots_ && !c.snapshots) {
    // Snapshots are a cache: a thread that cannot open its store reads without one.
    if (auto opened = snapshots_->open()) c.snapshots = std::move(*opened);
  }
  if (!c.journal) {
    auto opened = factory_->open();
    if (!opened) return std::move(opened).err();
    c.journal = std::move(*opened);
  }
  return c.journal.get();
}

void io_pool::stop() {
  pool_.stop();
}

snapshot_writer::snapshot_writer(std::shared_ptr<persistence::snapshot_store_factory> factory,
                                 std::size_t max_queued, observer on_saved,
                                 std::shared_ptr<log_sink> log)
    : factory_(std::move(factory)),
      on_saved_(std::move(on_saved)),
      worker_(
          worker_options{1, max_queued, 512}, logger{std::move(log), "snapshot_writer"},
          [this](store& st, std::vector<persistence::snapshot_record>& batch) { save(st, batch); },
          [this](persistence::snapshot_record& s, const error& e) {
            if (on_saved_) on_saved_(s, e);
          }) {}

snapshot_writer::~snapshot_writer() {
  stop();
}

bool snapshot_writer::submit(persistence::snapshot_record s) {
  return worker_.post(std::move(s));
}

void snapshot_writer::stop() {
  worker_.stop();
}

void snapshot_writer::save(store& st, std::vector<persistence::snapshot_record>& batch) {
  // Only each stream's newest snapshot matters: an older one queued beside it is superseded
  // before it was ever needed. The rest are saved in one transaction, so that under load the
  // writer takes the store's lock once per batch rather than once per aggregate.
  std::unordered_map<std::string_view, std::size_t> newest;
  newest.reserve(batch.size());
  std::vector<persistence::snapshot_record> due;
  due.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto [it, fresh] = newest.emplace(batch[i].stream.str(), i);
    if (!fresh && batch[i].at.value > batch[it->second].at.value) it->second = i;
  }
  for (std::size_t i = 0; i < batch.size(); ++i)
    if (newest.at(batch[i].stream.str()) == i) due.push_back(std::move(batch[i]));
  batch.clear();

  result<void> saved = ok();
  if (!st.open) {
    auto opened = factory_->open();
    if (opened)
      st.open = std::move(*opened);
    else
      saved = std::move(opened).err();
  }
  if (st.open) {
    saved = st.open->save_all(due);
    if (!saved) st.open.reset();  // reconnect on the next batch
  }
  // `batch` is empty already, so a throwing observer leaves nothing to be reported twice.
  if (on_saved_)
    for (const auto& s : due) on_saved_(s, saved);
}

}  // namespace strata::actors
