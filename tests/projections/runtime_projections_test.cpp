// Projections through strata::runtime: catch-up then live with commands running, a slow
// projection overflowing its buffer, read-your-writes, lag, poison handling and rebuilds.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/persistence/forwarding_journal.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/projections/support.hpp"
#include "tests/runtime/scrape.hpp"

using namespace strata;
using namespace strata::testing;
using namespace std::chrono_literals;

namespace {

struct files {
  temp_dir dir;
  runtime_config config(std::uint32_t buffer_events = 10000) const {
    runtime_config c;
    c.journal.sqlite.path = dir.file("journal.db");
    c.projections.path = dir.file("read.db");
    c.projections.buffer_events = buffer_events;
    c.metrics.enabled = false;
    return c;
  }
  std::unique_ptr<runtime> start(std::uint32_t buffer_events = 10000) const {
    auto rt = runtime::start(config(buffer_events));
    REQUIRE_MESSAGE(rt, (rt ? "" : to_string(rt.err())));
    REQUIRE((*rt)->register_aggregate<orders::order>());
    return std::move(*rt);
  }
  std::unique_ptr<persistence::journal> journal() const {
    persistence::sqlite_journal_options o;
    o.path = dir.file("journal.db");
    auto j = persistence::sqlite_journal::open(o);
    REQUIRE(j);
    return std::move(*j);
  }
  std::unique_ptr<persistence::projection_store> read_models() const {
    auto s = persistence::sqlite_projection_store::open({dir.file("read.db")});
    REQUIRE(s);
    return std::move(*s);
  }
  /// A connection for the read models' typed queries.
  read_model_reader reader() const { return read_model_reader{read_models()}; }
};

orders::command place(const std::string& customer, std::int64_t qty = 1) {
  return orders::place{customer, "EUR", {orders::line{"sku-1", qty, money{100, "EUR"}}}};
}

/// Sends `n` orders in waves of 32 in flight; returns the last position.
global_position place_many(runtime& rt, const std::string& prefix, int n) {
  global_position last{};
  for (int i = 0; i < n; i += 32) {
    std::vector<std::future<command_result>> fs;
    for (int k = i; k < std::min(n, i + 32); ++k)
      fs.push_back(
          rt.send<orders::order>(prefix + std::to_string(k), place("c-" + std::to_string(k % 5))));
    for (auto& f : fs) {
      auto r = f.get();
      REQUIRE_MESSAGE(r.is_accepted(), to_string(r));
      last = std::max(last, r.position);
    }
  }
  return last;
}

std::shared_ptr<projection> summaries() {
  return std::make_shared<read_models::order_summary_projection>();
}

/// Order summaries that take their time: every apply waits on a gate the test opens.
/// Order summaries held at their first event until `open`. Each transaction's records come
/// as one batch, whose size is noted: a batch larger than the event bus's buffer cannot have
/// come through the bus, so it was read from the journal.
class gated_summaries final : public summaries_wrapper {
 public:
  result<void> apply(persistence::projection_transaction& tx,
                     const persistence::event_record& r) override {
    gate_.wait();
    return inner_->apply(tx, r);
  }
  bool folds_batches() const noexcept override { return true; }
  result<void> apply_batch(persistence::projection_transaction& tx,
                           const std::vector<const persistence::event_record*>& records) override {
    gate_.wait();
    {
      std::lock_guard<std::mutex> lock{mutex_};
      batch_sizes_.push_back(records.size());
    }
    for (const auto* r : records)
      if (auto applied = inner_->apply(tx, *r); !applied) return applied;
    return ok();
  }
  void open() {
    std::call_once(once_, [this] { opener_.set_value(); });
  }
  /// The size of every batch applied so far, in order.
  std::vector<std::size_t> batch_sizes() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return batch_sizes_;
  }

  mutable std::mutex mutex_;  // guards batch_sizes_
  std::vector<std::size_t> batch_sizes_;

  std::once_flag once_;
  std::promise<void> opener_;
  std::shared_future<void> gate_{opener_.get_future().share()};
};

}  // namespace

TEST_CASE("wait_for gives read-your-writes and lag reports position and head") {
  files f;
  auto rt = f.start();
  REQUIRE(rt->add_projection(summaries()));
  auto r = rt->send<orders::order>("o-1", place("alice", 3)).get();
  REQUIRE(r.is_accepted());
  REQUIRE(rt->wait_for("order_summary", r.position, 10s));
  auto store = rt->open_read_models();
  REQUIRE(store);
  auto o = read_models::find_order(*store, "o-1");
  REQUIRE(o);
  REQUIRE(o->has_value());
  CHECK(to_string(**o) == "o-1 alice open 3x 300 EUR");
  auto lag = rt->projection_lag("order_summary");
  REQUIRE(lag);
  CHECK(lag->position == r.position);
  CHECK(lag->lag_events == 0);
  CHECK(lag->lag_seconds == 0.0);
  auto late = rt->wait_for("order_summary", r.position.next(), 50ms);
  REQUIRE_FALSE(late);
  CHECK(late.err().code == errc::timeout);
  CHECK(rt->wait_for("nope", r.position, 10ms).err().code == errc::not_found);
  CHECK(rt->add_projection(summaries()).err().code == errc::invalid_argument);
}

TEST_CASE(
    "a projection catches up while commands run and switches to live with no gap or duplicate") {
  files f;
  {
    auto rt = f.start();
    place_many(*rt, "before-", 1500);
  }
  auto rt = f.start();
  std::atomic<bool> writing{true};
  auto writer = std::async(std::launch::async, [&] {
    global_position last{};
    for (int wave = 0; writing.load() || wave < 3; ++wave)
      last = std::max(last, place_many(*rt, "during-" + std::to_string(wave) + "-", 64));
    return last;
  });
  REQUIRE(rt->add_projection(summaries()));
  // Catching up over 1500 events while new ones keep arriving.
  REQUIRE(rt->wait_for("order_summary", global_position{1500}, 30s));
  writing = false;
  const auto last = writer.get();
  auto after = place_many(*rt, "after-", 10);  // live
  REQUIRE(rt->wait_for("order_summary", std::max(last, after), 30s));
  auto lag = rt->projection_lag("order_summary");
  REQUIRE(lag);
  CHECK(lag->lag_events == 0);
  auto j = f.journal();
  CHECK(read_orders(f.reader()) == fold_orders(*j));
  CHECK(read_orders(f.reader()).size() == 1500 + 10 + (last.value - 1500));
}

namespace {

/// Opens SQLite journals that record the threads their `read_all` runs on, and whether two
/// `read_all` calls of the factory's journals ever ran at once.
class read_watching_factory final : public persistence::journal_factory {
 public:
  explicit read_watching_factory(persistence::sqlite_journal_options o) : inner_(std::move(o)) {}

  result<std::unique_ptr<persistence::journal>> open() override {
    auto j = inner_.open();
    if (!j) return std::move(j).err();
    return std::unique_ptr<persistence::journal>{std::make_unique<watched>(*this, std::move(*j))};
  }
  std::set<std::thread::id> readers() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return readers_;
  }
  std::atomic<bool> overlapped{false};

 private:
  class watched final : public persistence::forwarding_journal {
   public:
    watched(read_watching_factory& f, std::unique_ptr<persistence::journal> inner)
        : forwarding_journal(*inner), factory_(f), owned_(std::move(inner)) {}
    result<std::vector<persistence::event_record>> read_all(global_position after,
                                                            std::size_t limit) override {
      if (factory_.inside_.fetch_add(1) != 0) factory_.overlapped = true;
      {
        std::lock_guard<std::mutex> lock{factory_.mutex_};
        factory_.readers_.insert(std::this_thread::get_id());
      }
      auto out = forwarding_journal::read_all(after, limit);
      factory_.inside_.fetch_sub(1);
      return out;
    }

   private:
    read_watching_factory& factory_;
    std::unique_ptr<persistence::journal> owned_;
  };

  persistence::sqlite_journal_factory inner_;
  mutable std::mutex mutex_;
  std::set<std::thread::id> readers_;
  std::atomic<int> inside_{0};
};

}  // namespace

TEST_CASE("a runtime projection catching up over a backlog reads its next batches ahead") {
  files f;
  {
    auto rt = f.start();
    place_many(*rt, "before-", 1500);
  }
  auto config = f.config();
  config.projections.batch_events = 100;  // 15 batches: steps of 8 read 7 of each ahead
  persistence::sqlite_journal_options jo;
  jo.path = config.journal.sqlite.path;
  auto watching = std::make_shared<read_watching_factory>(jo);
  runtime_overrides o;
  o.journal = watching;
  auto rt = runtime::start(config, o);
  REQUIRE_MESSAGE(rt, (rt ? "" : to_string(rt.err())));
  REQUIRE((*rt)->register_aggregate<orders::order>());
  REQUIRE((*rt)->add_projection(summaries()));
  REQUIRE((*rt)->wait_for("order_summary", global_position{1500}, 30s));
  // The projection actor's own thread reads the first batch of each step; the others are read
  // on threads of their own, never two reads at once.
  CHECK(watching->readers().size() >= 2);
  CHECK_FALSE(watching->overlapped.load());
  auto j = f.journal();
  CHECK(read_orders(f.reader()) == fold_orders(*j));
}

TEST_CASE("a slow projection overflows its bounded buffer and reads the journal instead") {
  files f;
  auto rt = f.start(8);  // room for 8 live events
  auto slow = std::make_shared<gated_summaries>();
  struct release_on_exit {
    std::shared_ptr<gated_summaries> g;
    ~release_on_exit() { g->open(); }
  } release{slow};
  REQUIRE(rt->add_projection(slow));
  // The journal writer is not held up: every command is accepted while the projection is
  // stuck in its first event.
  const auto last = place_many(*rt, "o-", 300);
  auto stuck = rt->projection_lag("order_summary");
  REQUIRE(stuck);
  CHECK(stuck->position < last);
  CHECK(stuck->lag_events > 0);
  slow->open();
  // Most batches never fitted the buffer of 8: reaching `last` took reads of the journal.
  REQUIRE(rt->wait_for("order_summary", last, 30s));
  auto j = f.journal();
  CHECK(read_orders(f.reader()) == fold_orders(*j));
  CHECK(read_orders(f.reader()).size() == 300);
  auto caught_up = rt->projection_lag("order_summary");
  REQUIRE(caught_up);
  CHECK(caught_up->lag_events == 0);
  // Every event applied once; after the held one, the bus (8 events at most in flight)
  // gave up and the rest was read from the journal in batches larger than its buffer.
  const auto sizes = slow->batch_sizes();
  REQUIRE(sizes.size() >= 2);
  std::size_t applied = 0, largest_after_first = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    applied += sizes[i];
    if (i > 0) largest_after_first = std::max(largest_after_first, sizes[i]);
  }
  CHECK(applied == 300);
  CHECK(largest_after_first > 8);
}

namespace {}  // namespace

TEST_CASE("stopping the runtime lets a live projection take every commit made before the stop") {
  files f;
  auto slow = std::make_shared<gated_summaries>();
  struct release_on_exit {
    std::shared_ptr<gated_summaries> g;
    ~release_on_exit() { g->open(); }
  } release{slow};
  {
    auto rt = f.start();
    REQUIRE(rt->add_projection(slow));
    REQUIRE(wait_until([&] {
      auto lag = rt->projection_lag("order_summary");
      return lag && lag->live;
    }));
    // Every commit is handed to the bus before its reply; the projection is held in its
    // first event, so the others wait in its mailbox when the stop begins. The stop runs on
    // another thread than the one that added the projection.
    place_many(*rt, "o-", 40);
    auto stopped = std::async(std::launch::async, [&] { rt->stop(); });
    slow->open();
    stopped.get();
  }
  auto j = f.journal();
  const auto applied = read_orders(f.reader());
  CHECK(applied.size() == 40);
  CHECK(applied == fold_orders(*j));
}

TEST_CASE("a live poison event is parked, listed and retried through the runtime") {
  files f;
  auto rt = f.start();
  auto picky = std::make_shared<picky_summaries>();
  REQUIRE(rt->add_projection(picky));
  auto bad = rt->send<orders::order>("o-bad", place("eve")).get();
  auto good = rt->send<orders::order>("o-good", place("eve")).get();
  REQUIRE(bad.is_accepted());
  REQUIRE(good.is_accepted());
  REQUIRE(rt->wait_for("order_summary", good.position, 10s));
  auto letters = rt->dead_letters("order_summary");
  REQUIRE(letters);
  REQUIRE(letters->size() == 1);
  CHECK(letters->front().position == bad.position);
  CHECK(letters->front().error == "invalid_argument: refused o-bad");
  auto store = rt->open_read_models();
  REQUIRE(store);
  CHECK_FALSE(read_models::find_order(*store, "o-bad")->has_value());
  auto failed = rt->retry_dead_letter("order_summary", bad.position);
  CHECK_FALSE(failed);
  picky->refuse = false;
  REQUIRE(rt->retry_dead_letter("order_summary", bad.position));
  CHECK(rt->dead_letters("order_summary")->empty());
  CHECK(read_models::find_order(*store, "o-bad")->has_value());
}

TEST_CASE("a rebuild while commands run ends equal to the incrementally built read model") {
  files f;
  auto rt = f.start();
  REQUIRE(rt->add_projection(summaries()));
  auto first = place_many(*rt, "o-", 400);
  REQUIRE(rt->wait_for("order_summary", first, 30s));
  auto writer = std::async(std::launch::async, [&] { return place_many(*rt, "p-", 400); });
  REQUIRE(rt->rebuild_projection("order_summary"));
  const auto last = writer.get();
  REQUIRE(rt->wait_for("order_summary", last, 30s));
  auto j = f.journal();
  auto cp = f.read_models()->load_checkpoint("order_summary");
  REQUIRE(cp);
  CHECK(cp->journal_id == j->id());
  const auto rebuilt = read_orders(f.reader());
  CHECK(rebuilt.size() == 800);
  CHECK(rebuilt == fold_orders(*j));
  // The same journal projected incrementally into another database.
  read_db other;
  auto runner =
      runner_for(summaries(), other.open(), persistence::poison_policy::park_and_continue);
  REQUIRE(runner.start());
  for (int i = 0; i < 80; ++i) REQUIRE(runner.catch_up(*j, 10, 10));
  CHECK(read_orders(other.reader()) == rebuilt);
}

TEST_CASE("an invalid on_poison setting is refused before anything starts") {
  auto parsed = parse_config(R"({"projections":{"on_poison":"ignore"}})");
  REQUIRE_FALSE(parsed);
  CHECK(parsed.err().code == errc::invalid_argument);
  CHECK(parsed.err().message.find("projections.on_poison") != std::string::npos);
  files f;
  auto c = f.config();
  c.projections.on_poison = static_cast<persistence::poison_policy>(7);  // built in code
  auto rt = runtime::start(c);
  REQUIRE_FALSE(rt);
  CHECK(rt.err().code == errc::invalid_argument);
  CHECK(rt.err().message.find("projections.on_poison") != std::string::npos);
}

namespace {

/// Removes the journal's file (and its WAL), keeping the read-model database.
void delete_journal(const files& f) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    std::filesystem::remove(f.dir.file(std::string{"journal.db"} + suffix), ec);
  }
}

std::int64_t count_orders(read_model_reader&& s) {
  auto count = s.query_one<std::int64_t>("SELECT count(*) FROM order_summary");
  REQUIRE(count);
  return count->value_or(0);
}

/// Runs a runtime on `f` with the order summaries until its `n` orders are projected; returns
/// the last position.
global_position project_orders(const files& f, const std::string& prefix, int n) {
  auto rt = f.start();
  REQUIRE(rt->add_projection(summaries()));
  const auto last = place_many(*rt, prefix, n);
  REQUIRE(rt->wait_for("order_summary", last, 10s));
  return last;
}

/// Places one more order and waits until the order summaries applied it.
global_position place_one_projected(runtime& rt) {
  auto r = rt.send<orders::order>("o-late", place("c-1")).get();
  REQUIRE(r.is_accepted());
  REQUIRE(rt.wait_for("order_summary", r.position, 10s));
  return r.position;
}

/// Runs `statements` on the read-model database, in one transaction.
void alter_read_db(const files& f, const std::vector<std::string>& statements) {
  auto store = f.read_models();
  auto tx = store->begin();
  REQUIRE(tx);
  for (const auto& s : statements) REQUIRE((*tx)->execute(s));
  REQUIRE((*tx)->commit());
}

bool mentions(const error& e, const std::string& text) {
  return e.message.find(text) != std::string::npos;
}

/// Order summaries that count the records they were given.
class counted_summaries final : public summaries_wrapper {
 public:
  result<void> apply(persistence::projection_transaction& tx,
                     const persistence::event_record& r) override {
    ++applied;
    return inner_->apply(tx, r);
  }
  std::atomic<int> applied{0};
};

}  // namespace

TEST_CASE(
    "a read model kept after its journal was deleted is refused naming both journal ids, and a "
    "rebuild makes it follow the new journal") {
  files f;
  project_orders(f, "old-", 5);
  const std::string old_id = f.journal()->id();
  delete_journal(f);
  auto rt = f.start();
  const auto last = place_many(*rt, "new-", 3);
  REQUIRE(last == global_position{3});
  const std::string new_id = f.journal()->id();
  REQUIRE(new_id != old_id);

  auto refused = rt->add_projection(summaries());
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::conflict);
  CHECK(mentions(refused.err(), old_id));
  CHECK(mentions(refused.err(), new_id));
  CHECK(mentions(refused.err(), "rebuild"));
  CHECK(rt->projection_lag("order_summary").err().code == errc::not_found);
  CHECK(count_orders(f.reader()) == 5);  // untouched

  REQUIRE(rt->add_projection(summaries(), projection_start::rebuild));
  REQUIRE(rt->wait_for("order_summary", last, 10s));
  const auto late = place_one_projected(*rt);
  const auto model = read_orders(f.reader());
  CHECK(model.size() == 4);
  CHECK(model == fold_orders(*f.journal()));
  CHECK(model.count("old-0") == 0);
  auto cp = f.read_models()->load_checkpoint("order_summary");
  REQUIRE(cp);
  CHECK(cp->journal_id == new_id);
  CHECK(cp->position == late);
}

TEST_CASE(
    "a read model without a recorded journal whose checkpoint is past the journal's head is "
    "refused naming both positions") {
  files f;
  project_orders(f, "old-", 6);
  // As a read-model file written before checkpoints recorded their journal.
  alter_read_db(f, {"UPDATE projection_checkpoints SET journal_id = ''"});
  delete_journal(f);
  auto rt = f.start();
  REQUIRE(place_many(*rt, "new-", 2) == global_position{2});

  auto refused = rt->add_projection(summaries());
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::conflict);
  CHECK(mentions(refused.err(), "position 6"));
  CHECK(mentions(refused.err(), "last position 2"));
  CHECK(mentions(refused.err(), "rebuild"));
  auto cp = f.read_models()->load_checkpoint("order_summary");
  REQUIRE(cp);
  CHECK(cp->journal_id.empty());  // nothing recorded for a refused read model

  REQUIRE(rt->add_projection(summaries(), projection_start::rebuild));
  REQUIRE(rt->wait_for("order_summary", global_position{2}, 10s));
  CHECK(read_orders(f.reader()) == fold_orders(*f.journal()));
}

TEST_CASE("a read model whose checkpoint was set past the head of its own journal is refused") {
  files f;
  project_orders(f, "o-", 2);
  {
    auto store = f.read_models();
    auto tx = store->begin();
    REQUIRE(tx);
    REQUIRE((*tx)->save_checkpoint("order_summary", {global_position{40}, timestamp{}}));
    REQUIRE((*tx)->commit());
  }
  auto rt = f.start();
  auto refused = rt->add_projection(summaries());
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::conflict);
  CHECK(mentions(refused.err(), "position 40"));
  CHECK(mentions(refused.err(), "last position 2"));
  CHECK(mentions(refused.err(), "rebuild"));
}

TEST_CASE("a restart on the same files resumes the read model without reapplying anything") {
  files f;
  const auto first = project_orders(f, "o-", 4);
  auto rt = f.start();
  auto counted = std::make_shared<counted_summaries>();
  REQUIRE(rt->add_projection(counted));
  auto lag = rt->projection_lag("order_summary");
  REQUIRE(lag);
  CHECK(lag->position == first);
  place_one_projected(*rt);
  CHECK(counted->applied.load() == 1);
  CHECK(read_orders(f.reader()) == fold_orders(*f.journal()));
}

TEST_CASE(
    "a read-model file from before checkpoints recorded their journal is migrated on open and "
    "resumes, recording the journal") {
  files f;
  const auto first = project_orders(f, "o-", 3);
  alter_read_db(f, {"CREATE TABLE old_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT "
                    "NULL, last_event_us INTEGER NOT NULL) WITHOUT ROWID",
                    "INSERT INTO old_checkpoints SELECT name, position, last_event_us FROM "
                    "projection_checkpoints",
                    "DROP TABLE projection_checkpoints",
                    "ALTER TABLE old_checkpoints RENAME TO projection_checkpoints"});
  {
    auto columns = f.reader().query_one<std::int64_t>(
        "SELECT count(*) FROM pragma_table_info('projection_checkpoints') WHERE name = "
        "'journal_id'");
    REQUIRE(columns);
    CHECK(columns->value_or(0) == 1);  // added back by the open
  }
  auto rt = f.start();
  auto counted = std::make_shared<counted_summaries>();
  REQUIRE(rt->add_projection(counted));
  auto cp = f.read_models()->load_checkpoint("order_summary");
  REQUIRE(cp);
  CHECK(cp->position == first);
  CHECK(cp->journal_id == f.journal()->id());
  place_one_projected(*rt);
  CHECK(counted->applied.load() == 1);
}
