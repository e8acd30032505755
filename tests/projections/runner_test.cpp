// The projection runner without actors: ordering, checkpoints in the same transaction,
// failed commits, poison events, retries and rebuilds.

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/persistence/archive.hpp"
#include "strata/persistence/fault_injecting_projection_store.hpp"
#include "strata/persistence/forwarding_journal.hpp"
#include "strata/persistence/memory_snapshot_store.hpp"
#include "strata/persistence/projection_runner.hpp"
#include "strata/persistence/projection_store.hpp"
#include "tests/projections/support.hpp"

using namespace strata;
using namespace strata::testing;

namespace {

std::shared_ptr<persistence::projection> summaries() {
  return bound(std::make_shared<read_models::order_summary_projection>());
}

std::string rendered(const result<std::optional<read_models::order_summary>>& o) {
  REQUIRE(o);
  return o->has_value() ? to_string(**o) : "none";
}

}  // namespace

TEST_CASE("a runner applies only the next position, drops older records and reports a gap") {
  persistence::memory_journal j;
  auto a = append<orders::order>(j, "o-1", {placed("c-1", 2)});
  auto b = append<orders::order>(j, "o-2", {placed("c-1", 3)});
  auto c = append<orders::order>(j, "o-3", {placed("c-2", 1)});
  read_db db;
  auto runner = runner_for(summaries(), db.open(), persistence::poison_policy::park_and_continue);
  REQUIRE(runner.start());

  auto gap = runner.apply(b);
  REQUIRE(gap);
  CHECK(gap->gap);
  CHECK(gap->applied == 0);
  CHECK(runner.position().position.value == 0);

  auto first = runner.apply(a);
  REQUIRE(first);
  CHECK(first->applied == 1);
  auto again = runner.apply(a);
  REQUIRE(again);
  CHECK(again->skipped == 1);
  CHECK(again->applied == 0);

  std::vector<persistence::event_record> mixed{a[0], b[0], c[0]};
  auto rest = runner.apply(mixed);
  REQUIRE(rest);
  CHECK(rest->skipped == 1);
  CHECK(rest->applied == 2);
  CHECK(runner.position().position == c[0].position);
  auto store = db.reader();
  CHECK(rendered(read_models::find_order(store, "o-2")) == "o-2 c-1 open 3x 300 EUR");
  auto cp = store.connection().load_checkpoint("order_summary");
  REQUIRE(cp);
  CHECK(cp->position == c[0].position);
}

TEST_CASE("a failed commit applies nothing and the batch is applied exactly once after it") {
  persistence::memory_journal j;
  for (int i = 0; i < 30; ++i) append<orders::order>(j, "o-" + std::to_string(i), {placed("c", 1)});
  read_db db;
  auto plan = std::make_shared<persistence::projection_store_fault_plan>();
  auto faulty =
      std::make_shared<persistence::fault_injecting_projection_store_factory>(db.factory, plan);
  auto store = faulty->open();
  REQUIRE(store);
  auto runner =
      runner_for(summaries(), std::move(*store), persistence::poison_policy::park_and_continue);
  REQUIRE(runner.start());                                         // commit #1
  plan->fail_nth_commit(2, error{errc::unavailable, "injected"});  // the second batch of ten
  auto one = runner.catch_up(j, 10, 10);
  REQUIRE(one);
  CHECK(runner.position().position.value == 10);
  auto two = runner.catch_up(j, 10, 10);
  REQUIRE_FALSE(two);
  CHECK(two.err().code == errc::unavailable);
  CHECK(plan->commits_failed() == 1);
  CHECK(runner.position().position.value == 10);
  auto reader = db.reader();
  auto after_failure = read_models::all_orders(reader);
  REQUIRE(after_failure);
  CHECK(after_failure->size() == 10);
  auto cp = reader.connection().load_checkpoint("order_summary");
  REQUIRE(cp);
  CHECK(cp->position.value == 10);

  auto rest = runner.catch_up(j, 10);
  REQUIRE(rest);
  CHECK(runner.position().position.value == 30);
  CHECK(read_orders(reader) == fold_orders(j));
}

TEST_CASE("a restarted runner continues from the committed checkpoint without applying twice") {
  persistence::memory_journal j;
  append<orders::order>(j, "o-1", {placed("c", 1)});
  for (int i = 0; i < 4; ++i)
    append<orders::order>(
        j, "o-1", {orders::item_added{orders::line{"s" + std::to_string(i), 1, money{10, "EUR"}}}});
  read_db db;
  {
    auto r = runner_for(summaries(), db.open(), persistence::poison_policy::park_and_continue);
    REQUIRE(r.start());
    REQUIRE(r.catch_up(j, 2, 3));
    CHECK(r.position().position.value == 3);
  }
  append<orders::order>(j, "o-2", {placed("c", 1)});
  auto r = runner_for(summaries(), db.open(), persistence::poison_policy::park_and_continue);
  REQUIRE(r.start());
  CHECK(r.position().position.value == 3);
  REQUIRE(r.catch_up(j));
  auto store = db.reader();
  CHECK(read_orders(store) == fold_orders(j));
}

TEST_CASE("a poison event is parked and the projection goes on with park_and_continue") {
  persistence::memory_journal j;
  append<orders::order>(j, "o-1", {placed("c-1", 1)});
  auto bad = append_raw(j, "Order", "o-2", "OrderPlaced", "{\"customer_id\": 42");
  append<orders::order>(j, "o-3", {placed("c-1", 2)});
  read_db db;
  auto runner = runner_for(summaries(), db.open(), persistence::poison_policy::park_and_continue);
  REQUIRE(runner.start());
  auto out = runner.catch_up(j);
  REQUIRE(out);
  CHECK(out->parked == 1);
  CHECK(runner.position().position.value == 3);
  auto store = db.reader();
  auto letters = store.connection().dead_letters("order_summary");
  REQUIRE(letters);
  REQUIRE(letters->size() == 1);
  CHECK(letters->front().position == bad.position);
  CHECK(letters->front().event_id == bad.event_id);
  CHECK(letters->front().error.rfind("corrupted", 0) == 0);
  CHECK(letters->front().parked_at == test_clock()->now());  // the runner's clock, no other
  CHECK(rendered(read_models::find_order(store, "o-3")) == "o-3 c-1 open 2x 200 EUR");
  CHECK(rendered(read_models::find_order(store, "o-2")) == "none");

  auto retried = runner.retry(j, bad.position);
  REQUIRE_FALSE(retried);  // the event itself is broken: it fails again and stays parked
  letters = store.connection().dead_letters("order_summary");
  REQUIRE(letters);
  REQUIRE(letters->size() == 1);
  CHECK(letters->front().attempts == 2);
  CHECK(runner.retry(j, global_position{1}).err().code == errc::not_found);
}

namespace {

/// Fails on the first `failures` calls for one order id, then applies like the real one.
class flaky_summaries final : public summaries_wrapper {
 public:
  explicit flaky_summaries(int failures) : failures_(failures) {}
  result<void> apply(persistence::projection_transaction& tx,
                     const persistence::event_record& r) override {
    if (r.aggregate_id == "o-flaky" && failures_ > 0) {
      --failures_;
      return error{errc::invalid_argument, "customer service is on strike"};
    }
    return inner_->apply(tx, r);
  }

  int failures_;
};

}  // namespace

TEST_CASE("a commit whose reply was lost is not applied again: the runner reads its checkpoint") {
  persistence::memory_journal j;
  append<orders::order>(j, "o-1", {placed("c", 1)});
  for (int i = 0; i < 3; ++i)  // the same sku: applying one twice would count it twice
    append<orders::order>(j, "o-1", {orders::item_added{orders::line{"s", 1, money{10, "EUR"}}}});
  read_db db;
  auto plan = std::make_shared<persistence::projection_store_fault_plan>();
  auto faulty =
      std::make_shared<persistence::fault_injecting_projection_store_factory>(db.factory, plan);
  auto store = faulty->open();
  REQUIRE(store);
  auto runner = runner_for(std::make_shared<flaky_summaries>(0), std::move(*store),
                           persistence::poison_policy::park_and_continue);
  REQUIRE(runner.start());
  plan->lose_commit_replies(error{errc::unavailable, "reply lost"});
  auto lost = runner.catch_up(j, 10);
  REQUIRE_FALSE(lost);
  CHECK(runner.position().position.value == 0);  // as far as the runner knows
  plan->clear();
  REQUIRE(runner.catch_up(j, 10));
  CHECK(runner.position().position.value == 4);
  auto reader = db.reader();
  CHECK(read_orders(reader) == fold_orders(j));
  CHECK(plan->commits_failed() == 1);
}

TEST_CASE("with policy stop a poison event stops the projection until a retry succeeds") {
  persistence::memory_journal j;
  append<orders::order>(j, "o-1", {placed("c-1", 1)});
  auto bad = append<orders::order>(j, "o-flaky", {placed("c-1", 4)});
  append<orders::order>(j, "o-3", {placed("c-1", 2)});
  read_db db;
  auto runner =
      runner_for(std::make_shared<flaky_summaries>(1), db.open(), persistence::poison_policy::stop);
  REQUIRE(runner.start());
  auto out = runner.catch_up(j);
  REQUIRE(out);
  CHECK(out->stopped);
  CHECK(runner.is_stopped());
  CHECK(runner.position().position.value == 1);
  auto again = runner.catch_up(j);  // never spins over it, never skips it
  REQUIRE(again);
  CHECK(runner.position().position.value == 1);

  {  // a restart stays stopped at the parked event
    auto restarted = runner_for(std::make_shared<flaky_summaries>(0), db.open(),
                                persistence::poison_policy::stop);
    REQUIRE(restarted.start());
    CHECK(restarted.is_stopped());
  }

  REQUIRE(runner.retry(j, bad[0].position));
  CHECK_FALSE(runner.is_stopped());
  CHECK(runner.position().position == bad[0].position);
  REQUIRE(runner.catch_up(j));
  auto store = db.reader();
  auto letters = store.connection().dead_letters("order_summary");
  REQUIRE(letters);
  CHECK(letters->empty());
  CHECK(read_orders(store) == fold_orders(j));
}

namespace {

// A journal that runs `before_read` once, before its first read_all: where a retry has read
// the dead letters and not yet begun its transaction.
class interleaving_journal final : public persistence::forwarding_journal {
 public:
  using forwarding_journal::forwarding_journal;
  std::function<void()> before_read;

  result<std::vector<persistence::event_record>> read_all(global_position after,
                                                          std::size_t limit) override {
    if (before_read) std::exchange(before_read, nullptr)();
    return forwarding_journal::read_all(after, limit);
  }
};

}  // namespace

TEST_CASE("two runners retrying one parked event at once apply it once: the later is refused") {
  for (auto policy :
       {persistence::poison_policy::stop, persistence::poison_policy::park_and_continue}) {
    INFO("policy " << static_cast<int>(policy));
    persistence::memory_journal j;
    append<orders::order>(j, "o-1", {placed("c-1", 1)});
    auto bad = append<orders::order>(j, "o-flaky", {placed("c-1", 4)});
    append<orders::order>(j, "o-3", {placed("c-1", 2)});
    read_db db;
    auto first = runner_for(std::make_shared<flaky_summaries>(1), db.open(), policy);
    REQUIRE(first.start());
    REQUIRE(first.catch_up(j));  // parks o-flaky
    auto second = runner_for(std::make_shared<flaky_summaries>(0), db.open(), policy);
    REQUIRE(second.start());

    // The second has read the dead letters when the first retries the event and commits.
    interleaving_journal interleaved{j};
    std::optional<result<void>> first_retry;
    interleaved.before_read = [&] { first_retry = first.retry(j, bad[0].position); };
    auto second_retry = second.retry(interleaved, bad[0].position);
    REQUIRE(first_retry.has_value());
    CHECK(first_retry->has_value());
    REQUIRE_FALSE(second_retry);
    CHECK(second_retry.err().code == errc::conflict);

    // Both go on from where the store stands; the model holds every event once.
    REQUIRE(first.catch_up(j));
    REQUIRE(second.catch_up(j));
    CHECK_FALSE(second.is_stopped());
    auto store = db.reader();
    auto letters = store.connection().dead_letters("order_summary");
    REQUIRE(letters);
    CHECK(letters->empty());
    CHECK(read_orders(store) == fold_orders(j));
  }
}

TEST_CASE("a parked event retried successfully leaves the dead letters and enters the model") {
  persistence::memory_journal j;
  auto bad = append<orders::order>(j, "o-flaky", {placed("c-9", 5)});
  append<orders::order>(j, "o-2", {placed("c-9", 1)});
  read_db db;
  auto runner = runner_for(std::make_shared<flaky_summaries>(1), db.open(),
                           persistence::poison_policy::park_and_continue);
  REQUIRE(runner.start());
  REQUIRE(runner.catch_up(j));
  auto store = db.reader();
  CHECK(store.connection().dead_letters("order_summary")->size() == 1);
  REQUIRE(runner.retry(j, bad[0].position));
  CHECK(store.connection().dead_letters("order_summary")->empty());
  CHECK(read_orders(store) == fold_orders(j));
}

TEST_CASE("a reset read model rebuilt from position 0 equals the incrementally built one") {
  persistence::memory_journal j;
  read_db db;
  auto runner = runner_for(summaries(), db.open(), persistence::poison_policy::park_and_continue);
  REQUIRE(runner.start());
  for (int i = 0; i < 20; ++i) {
    append<orders::order>(j, "o-" + std::to_string(i % 7),
                          {i < 7 ? orders::event{placed("c-" + std::to_string(i % 3), 1)}
                                 : orders::event{orders::item_added{orders::line{
                                       "x" + std::to_string(i), 2, money{5, "EUR"}}}}});
    REQUIRE(runner.catch_up(j));
  }
  auto store = db.reader();
  const auto incremental = read_orders(store);
  REQUIRE(runner.reset());
  CHECK(runner.position().position.value == 0);
  CHECK(read_orders(store).empty());
  REQUIRE(runner.catch_up(j, 3));
  CHECK(read_orders(store) == incremental);
  CHECK(incremental == fold_orders(j));
}

namespace {

// Records how catch_up reads: the threads its reads ran on, whether two ever ran at once, the
// positions they started after; and fails every read after `fail_after`.
class watching_journal final : public persistence::forwarding_journal {
 public:
  using forwarding_journal::forwarding_journal;
  std::optional<std::uint64_t> fail_after;
  std::atomic<bool> overlapped{false};
  std::set<std::thread::id> readers;
  std::vector<std::uint64_t> reads_after;

  result<std::vector<persistence::event_record>> read_all(global_position after,
                                                          std::size_t limit) override {
    if (inside_.fetch_add(1) != 0) overlapped = true;
    {
      std::lock_guard<std::mutex> lock{mutex_};
      readers.insert(std::this_thread::get_id());
      reads_after.push_back(after.value);
    }
    auto out = fail_after && after.value >= *fail_after
                   ? result<std::vector<persistence::event_record>>{error{
                         errc::unavailable, "injected: the journal is gone"}}
                   : forwarding_journal::read_all(after, limit);
    inside_.fetch_sub(1);
    return out;
  }

 private:
  std::atomic<int> inside_{0};
  std::mutex mutex_;
};

}  // namespace

TEST_CASE(
    "catch_up applies every event to the head, and nothing the second time, reading each batch "
    "after a full one on a second thread, one read at a time") {
  persistence::memory_journal j;
  for (int i = 0; i < 50; ++i) append<orders::order>(j, "o-" + std::to_string(i), {placed("c", 1)});
  watching_journal w{j};
  read_db db;
  auto runner = runner_for(summaries(), db.open());
  REQUIRE(runner.start());
  auto first = runner.catch_up(w, 8);
  REQUIRE(first);
  CHECK(first->applied == 50);
  CHECK(runner.position().position.value == 50);
  auto cp = db.open()->load_checkpoint("order_summary");
  REQUIRE(cp);
  CHECK(cp->position.value == 50);
  CHECK(read_orders(db.reader()) == fold_orders(j));
  CHECK_FALSE(w.overlapped.load());
  CHECK(w.readers.size() >= 2);
  // Every batch once, each from where the one before ended: 0, 8, ..., 48 (two events).
  CHECK(w.reads_after == std::vector<std::uint64_t>{0, 8, 16, 24, 32, 40, 48});
  auto second = catch_up(j, summaries(), db.open());
  REQUIRE(second);
  CHECK(second->applied == 0);

  watching_journal limited{j};
  auto again = runner_for(summaries(), db.open());
  REQUIRE(again.start());
  REQUIRE(again.reset());
  auto some = again.catch_up(limited, 8, 20);  // nothing read past what was asked for
  REQUIRE(some);
  CHECK(some->applied == 20);
  CHECK(limited.reads_after == std::vector<std::uint64_t>{0, 8, 16});
}

TEST_CASE("a read ahead that fails ends catch_up with its error; the batches before it stay") {
  persistence::memory_journal j;
  for (int i = 0; i < 50; ++i) append<orders::order>(j, "o-" + std::to_string(i), {placed("c", 1)});
  watching_journal w{j};
  w.fail_after = 16;
  read_db db;
  auto runner = runner_for(summaries(), db.open());
  REQUIRE(runner.start());
  auto out = runner.catch_up(w, 8);
  REQUIRE_FALSE(out);
  CHECK(out.err().code == errc::unavailable);
  CHECK(runner.position().position.value == 16);
  CHECK(db.open()->load_checkpoint("order_summary")->position.value == 16);
  w.fail_after.reset();
  auto rest = runner.catch_up(w, 8);
  REQUIRE(rest);
  CHECK(rest->applied == 34);
  CHECK(read_orders(db.reader()) == fold_orders(j));
}

TEST_CASE(
    "a runner that stops inside a batch waits for the batch read ahead and resumes in order") {
  persistence::memory_journal j;
  for (int i = 0; i < 30; ++i)
    append<orders::order>(j, i == 5 ? std::string{"o-flaky"} : "o-" + std::to_string(i),
                          {placed("c", 1)});
  watching_journal w{j};
  read_db db;
  auto runner =
      runner_for(std::make_shared<flaky_summaries>(1), db.open(), persistence::poison_policy::stop);
  REQUIRE(runner.start());
  auto out = runner.catch_up(w, 4);  // stops at position 6, inside the batch 5..8
  REQUIRE(out);
  CHECK(out->stopped);
  CHECK(runner.position().position.value == 5);
  CHECK(w.reads_after == std::vector<std::uint64_t>{0, 4, 8});  // the last one not used
  REQUIRE(runner.retry(w, global_position{6}));
  auto rest = runner.catch_up(w, 4);
  REQUIRE(rest);
  CHECK(runner.position().position.value == 30);
  CHECK(read_orders(db.reader()) == fold_orders(j));
  CHECK_FALSE(w.overlapped.load());
}

TEST_CASE(
    "a runner started on a journal records its id, refuses another journal or a checkpoint past "
    "the head, and a rebuild start follows the new journal") {
  persistence::memory_journal first;
  for (int i = 0; i < 5; ++i)
    append<orders::order>(first, "o-" + std::to_string(i), {placed("c", 1)});
  read_db db;
  {
    auto runner = runner_for(summaries(), db.open());
    REQUIRE(runner.start(first, projection_start::resume));
    CHECK(runner.position().journal_id == first.id());
    REQUIRE(runner.catch_up(first));
  }
  auto cp = db.open()->load_checkpoint("order_summary");
  REQUIRE(cp);
  CHECK(cp->position.value == 5);
  CHECK(cp->journal_id == first.id());

  persistence::memory_journal second;
  for (int i = 0; i < 2; ++i)
    append<orders::order>(second, "n-" + std::to_string(i), {placed("c", 1)});
  {
    auto runner = runner_for(summaries(), db.open());
    auto other = runner.start(second, projection_start::resume);
    REQUIRE_FALSE(other);
    CHECK(other.err().code == errc::conflict);
    CHECK(other.err().message.find(first.id()) != std::string::npos);
    CHECK(other.err().message.find(second.id()) != std::string::npos);
    CHECK(other.err().message.find("projection_start::rebuild") != std::string::npos);
  }
  {  // the same read model without a recorded journal: the positions tell
    auto store = db.open();
    auto tx = store->begin();
    REQUIRE(tx);
    REQUIRE((*tx)->execute("UPDATE projection_checkpoints SET journal_id = ''"));
    REQUIRE((*tx)->commit());
    auto runner = runner_for(summaries(), db.open());
    auto ahead = runner.start(second, projection_start::resume);
    REQUIRE_FALSE(ahead);
    CHECK(ahead.err().code == errc::conflict);
    CHECK(ahead.err().message.find("position 5") != std::string::npos);
    CHECK(ahead.err().message.find("last position 2") != std::string::npos);
    CHECK(db.open()->load_checkpoint("order_summary")->position.value == 5);
  }
  auto runner = runner_for(summaries(), db.open());
  REQUIRE(runner.start(second, projection_start::rebuild));
  CHECK(runner.position().position.value == 0);
  CHECK(runner.position().journal_id == second.id());
  CHECK(read_orders(db.reader()).empty());
  REQUIRE(runner.catch_up(second));
  CHECK(read_orders(db.reader()) == fold_orders(second));
  CHECK(db.open()->load_checkpoint("order_summary")->journal_id == second.id());
  REQUIRE(runner.reset());
  CHECK(db.open()->load_checkpoint("order_summary")->journal_id == second.id());

  auto again = runner_for(summaries(), db.open());
  REQUIRE(again.start(second, projection_start::resume));
  CHECK(again.position().position.value == 0);
}

TEST_CASE("a rebuild over a journal whose prefix was archived refuses and names the archive") {
  persistence::memory_journal j;
  auto a = append<orders::order>(j, "o-1", {placed("c-1", 2)});
  append<orders::order>(j, "o-2", {placed("c-1", 3)});
  append<orders::order>(j, "o-1", {placed("c-1", 1)});
  auto cut = j.cut({persistence::stream_cut{a[0].stream(), version{1}, a[0].hash}}, "cold-2025.db");
  REQUIRE(cut);
  read_db db;
  auto runner = runner_for(summaries(), db.open(), persistence::poison_policy::park_and_continue);
  REQUIRE(runner.start());
  auto caught = runner.catch_up(j, 10, 100);
  REQUIRE_FALSE(caught);
  CHECK(caught.err().code == errc::not_found);
  CHECK(caught.err().message.find("cold-2025.db") != std::string::npos);
  CHECK(runner.position().position.value == 0);
}

TEST_CASE("a read model rebuilt from the journal and its archive equals the one built before") {
  persistence::memory_journal j;
  persistence::memory_snapshot_store_factory snapshot_factory;
  auto opened = snapshot_factory.open();
  REQUIRE(opened);
  persistence::snapshot_store& snapshots = **opened;
  temp_dir files;
  read_db db;
  auto runner = runner_for(summaries(), db.open(), persistence::poison_policy::park_and_continue);
  REQUIRE(runner.start());
  for (int i = 0; i < 21; ++i) {
    auto r = append<orders::order>(j, "o-" + std::to_string(i % 3),
                                   {i < 3 ? orders::event{placed("c-" + std::to_string(i), 1)}
                                          : orders::event{orders::item_added{orders::line{
                                                "x" + std::to_string(i), 2, money{5, "EUR"}}}}});
    if (r[0].stream_version == version{5}) {
      persistence::snapshot_record snap;
      snap.stream = r[0].stream();
      snap.at = r[0].stream_version;
      snap.last_event_hash = r[0].hash;
      snap.state = "{}";
      REQUIRE(snapshots.save(snap));
    }
  }
  REQUIRE(runner.catch_up(j));
  auto store = db.reader();
  const auto before = read_orders(store);

  archive_options options;
  options.cut_off = from_unix_micros(4'102'444'800'000'000);
  auto plan = plan_archive(j, snapshots, options);
  REQUIRE(plan);
  REQUIRE(plan->streams.size() == 3);
  const std::string path = files.file("cold.db");
  auto done = run_archive(j, *plan, path, options);
  REQUIRE_MESSAGE(done, to_string(done.err()));
  CHECK(done->removed == 12);

  REQUIRE(runner.reset());
  auto refused = runner.catch_up(j);
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::not_found);
  CHECK(refused.err().message.find("cold.db") != std::string::npos);
  auto archive = archive_reader::open(path);
  REQUIRE(archive);
  auto rebuilt = catch_up_with_archive(runner, j, **archive, 4);
  REQUIRE_MESSAGE(rebuilt, to_string(rebuilt.err()));
  CHECK(rebuilt->applied == 21);
  CHECK(read_orders(store) == before);
}
