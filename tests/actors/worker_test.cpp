#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "strata/actors/worker.hpp"
#include "strata/domain/kernel/log.hpp"
#include "tests/support/capture_log.hpp"

using namespace strata;
using namespace std::chrono_literals;
using strata::testing::capture_sink;

namespace {

using clk = std::chrono::steady_clock;

/// What the handlers saw, with a bounded wait for it to reach a size; and a gate that holds
/// the first batch until the test opens it.
struct recorder {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::vector<int>> batches;
  bool gate_open = true;
  bool holding = false;

  void close_gate() {
    std::lock_guard<std::mutex> lock{mutex};
    gate_open = false;
  }
  void open_gate() {
    {
      std::lock_guard<std::mutex> lock{mutex};
      gate_open = true;
    }
    changed.notify_all();
  }
  /// Called by a handler: records `batch`, then waits while the gate is closed.
  void record(const std::vector<int>& batch) {
    std::unique_lock<std::mutex> lock{mutex};
    batches.push_back(batch);
    holding = !gate_open;
    changed.notify_all();
    changed.wait(lock, [this] { return gate_open; });
    holding = false;
  }
  bool wait_holding() {
    std::unique_lock<std::mutex> lock{mutex};
    return changed.wait_for(lock, 10s, [this] { return holding; });
  }
  bool wait_items(std::size_t n) {
    std::unique_lock<std::mutex> lock{mutex};
    return changed.wait_for(lock, 10s, [&] { return items_locked() >= n; });
  }
  std::vector<int> items() {
    std::lock_guard<std::mutex> lock{mutex};
    std::vector<int> out;
    for (const auto& b : batches) out.insert(out.end(), b.begin(), b.end());
    return out;
  }
  std::vector<std::vector<int>> all_batches() {
    std::lock_guard<std::mutex> lock{mutex};
    return batches;
  }

 private:
  std::size_t items_locked() const {
    std::size_t n = 0;
    for (const auto& b : batches) n += b.size();
    return n;
  }
};

using int_worker = actors::worker<int>;

int_worker::handler recording(recorder& r) {
  return [&r](actors::no_state&, std::vector<int>& batch) { r.record(batch); };
}

}  // namespace

TEST_CASE("a worker of one thread runs its items in the order they were posted") {
  recorder r;
  int_worker w{{}, logger{}, recording(r)};
  for (int i = 0; i < 100; ++i) REQUIRE(w.post(int{i}));
  REQUIRE_MESSAGE(r.wait_items(100), "not every item ran within 10 s");
  std::vector<int> expected;
  for (int i = 0; i < 100; ++i) expected.push_back(i);
  CHECK(r.items() == expected);
}

TEST_CASE("a batch takes everything queued up to the batch bound, in order") {
  recorder r;
  actors::worker_options o;
  o.max_batch = 3;
  r.close_gate();
  int_worker w{o, logger{}, recording(r)};
  REQUIRE(w.post(0));
  REQUIRE_MESSAGE(r.wait_holding(), "the first batch did not start within 10 s");
  for (int i = 1; i <= 5; ++i) REQUIRE(w.post(int{i}));  // queued behind the held batch
  r.open_gate();
  REQUIRE_MESSAGE(r.wait_items(6), "not every item ran within 10 s");
  CHECK(r.all_batches() == std::vector<std::vector<int>>{{0}, {1, 2, 3}, {4, 5}});
}

TEST_CASE("a batch waits up to max_wait for more, and goes as soon as it is full") {
  recorder r;
  actors::worker_options o;
  o.max_batch = 3;
  o.max_wait = std::chrono::hours(1);  // a batch that went before it was full would never end
  int_worker w{o, logger{}, recording(r)};
  for (int i = 0; i < 3; ++i) REQUIRE(w.post(int{i}));
  REQUIRE_MESSAGE(r.wait_items(3), "a full batch did not go within 10 s");
  CHECK(r.all_batches() == std::vector<std::vector<int>>{{0, 1, 2}});
}

TEST_CASE("with wait_after, a batch waits for more only after a batch at least that heavy") {
  recorder r;
  actors::worker_options o;
  o.max_batch = 4;
  o.max_wait = std::chrono::hours(1);  // a batch that waited would not end within the test
  o.wait_after = 3;
  r.close_gate();
  int_worker w{o, logger{}, recording(r)};
  // Light: the first batch (after none) and the next (after one of 1) go without waiting.
  REQUIRE(w.post(0));
  REQUIRE_MESSAGE(r.wait_holding(), "a batch after none waited");
  for (int i = 1; i <= 3; ++i) REQUIRE(w.post(int{i}));
  r.open_gate();
  REQUIRE_MESSAGE(r.wait_items(4), "a batch after a light one waited");
  // After a batch of 3, the next one waits until it is full.
  for (int i = 4; i <= 7; ++i) REQUIRE(w.post(int{i}));
  REQUIRE_MESSAGE(r.wait_items(8), "a full batch did not go within 10 s");
  CHECK(r.all_batches() == std::vector<std::vector<int>>{{0}, {1, 2, 3}, {4, 5, 6, 7}});
}

TEST_CASE("items weigh what their weight says, and one heavier than the bound still goes") {
  struct value_weight {
    std::size_t operator()(int v) const noexcept { return static_cast<std::size_t>(v); }
  };
  recorder r;
  actors::worker_options o;
  o.max_batch = 5;
  r.close_gate();
  actors::worker<int, actors::no_state, value_weight> w{
      o, logger{}, [&r](actors::no_state&, std::vector<int>& batch) { r.record(batch); }};
  REQUIRE(w.post(1));
  REQUIRE_MESSAGE(r.wait_holding(), "the first batch did not start within 10 s");
  for (int v : {2, 3, 9, 1}) REQUIRE(w.post(int{v}));
  r.open_gate();
  REQUIRE_MESSAGE(r.wait_items(5), "not every item ran within 10 s");
  CHECK(r.all_batches() == std::vector<std::vector<int>>{{1}, {2, 3}, {9}, {1}});
}

TEST_CASE("timed items run in the order of their times, after their time") {
  recorder r;
  r.close_gate();
  std::atomic<clk::rep> four_ran{0};
  int_worker w{{}, logger{}, [&](actors::no_state&, std::vector<int>& batch) {
                 for (int v : batch)
                   if (v == 4) four_ran = clk::now().time_since_epoch().count();
                 r.record(batch);
               }};
  REQUIRE(w.post(0));
  REQUIRE_MESSAGE(r.wait_holding(), "the first batch did not start within 10 s");
  const auto t0 = clk::now();
  // Posted out of order while the thread is held; all but the last are due when it is free.
  REQUIRE(w.post_at(t0 - 1ms, 3));
  REQUIRE(w.post_at(t0 - 3ms, 1));
  REQUIRE(w.post_at(t0 - 2ms, 2));
  REQUIRE(w.post_at(t0 - 2ms, 22));  // same time: in the order posted
  const auto later = clk::now() + 30ms;
  REQUIRE(w.post_at(later, 4));
  r.open_gate();
  REQUIRE_MESSAGE(r.wait_items(6), "not every item ran within 10 s");
  CHECK(four_ran.load() >= later.time_since_epoch().count());
  std::vector<int> timed;
  for (int v : r.items())
    if (v != 0) timed.push_back(v);
  CHECK(timed == std::vector<int>{1, 2, 22, 3, 4});
  CHECK(w.queued() == 0);
}

TEST_CASE("a full queue refuses an item and leaves it to the caller") {
  recorder r;
  actors::worker_options o;
  o.max_queued = 2;
  r.close_gate();
  actors::worker<std::string> w{o, logger{},
                                [&r](actors::no_state&, std::vector<std::string>& batch) {
                                  r.record(std::vector<int>(batch.size(), 0));
                                }};
  REQUIRE(w.post(std::string{"running"}));
  REQUIRE_MESSAGE(r.wait_holding(), "the first batch did not start within 10 s");
  REQUIRE(w.post(std::string{"a"}));
  REQUIRE(w.post_at(clk::now() + 1h, std::string{"b"}));
  std::string refused = "c";
  CHECK_FALSE(w.post(std::move(refused)));
  CHECK(refused == "c");
  CHECK_FALSE(w.post_at(clk::now(), std::move(refused)));
  CHECK(refused == "c");
  CHECK(w.queued() == 2);
  r.open_gate();
}

TEST_CASE("stop runs what is queued and due, fails what is not yet due, then refuses posts") {
  recorder r;
  std::mutex m;
  std::vector<std::pair<int, error>> failed;
  r.close_gate();
  int_worker w{{}, logger{}, recording(r), [&](int& v, const error& e) {
                 std::lock_guard<std::mutex> lock{m};
                 failed.emplace_back(v, e);
               }};
  REQUIRE(w.post(0));
  REQUIRE_MESSAGE(r.wait_holding(), "the first batch did not start within 10 s");
  REQUIRE(w.post(1));
  REQUIRE(w.post(2));
  REQUIRE(w.post_at(clk::now() - 1ms, 3));
  REQUIRE(w.post_at(clk::now() + 1h, 4));
  std::thread stopper{[&] { w.stop(); }};
  // stop() waits for the held batch; it refuses new items from the moment it was called.
  const auto refused_by = clk::now() + 10s;
  int late = 5;
  while (w.post(int{late}) && clk::now() < refused_by) {
    ++late;  // posted before stop() took effect: still run
  }
  r.open_gate();
  stopper.join();
  CHECK_FALSE(w.post(99));
  CHECK_FALSE(w.post_at(clk::now(), 99));
  w.stop();  // idempotent
  auto ran = r.items();
  std::vector<int> expected{0, 3, 1, 2};  // the due timed item before the immediate ones
  for (int v = 5; v < late; ++v) expected.push_back(v);
  CHECK(std::set<int>(ran.begin(), ran.end()) == std::set<int>(expected.begin(), expected.end()));
  CHECK(ran.size() == expected.size());
  std::lock_guard<std::mutex> lock{m};
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].first == 4);
  CHECK(failed[0].second.code == errc::unavailable);
}

TEST_CASE("a handler that throws keeps its thread, fails its batch as internal and is logged") {
  auto sink = std::make_shared<capture_sink>();
  std::mutex m;
  std::condition_variable changed;
  std::vector<int> handled;
  std::vector<std::pair<int, error>> failed;
  int_worker w{{},
               logger{sink, "test_worker"},
               [&](actors::no_state&, std::vector<int>& batch) {
                 if (batch[0] == 13) throw std::runtime_error("thirteen");
                 std::lock_guard<std::mutex> lock{m};
                 handled.push_back(batch[0]);
                 changed.notify_all();
               },
               [&](int& v, const error& e) {
                 std::lock_guard<std::mutex> lock{m};
                 failed.emplace_back(v, e);
               }};
  REQUIRE(w.post(12));
  REQUIRE(w.post(13));
  REQUIRE(w.post(14));
  {
    std::unique_lock<std::mutex> lock{m};
    REQUIRE_MESSAGE(changed.wait_for(lock, 10s, [&] { return handled.size() == 2; }),
                    "the thread did not go on after the throw within 10 s");
    CHECK(handled == std::vector<int>{12, 14});
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].first == 13);
    CHECK(failed[0].second.code == errc::internal);
    CHECK(failed[0].second.message.find("thirteen") != std::string::npos);
  }
  std::lock_guard<std::mutex> lock{sink->mutex};
  REQUIRE(sink->lines.size() == 1);
  CHECK(sink->lines[0].level == log_level::error);
  CHECK(sink->lines[0].component == "test_worker");
  CHECK(sink->lines[0].message.find("thirteen") != std::string::npos);
}

TEST_CASE("a submitted task's value, its exception and a stopped pool reach the caller") {
  auto sink = std::make_shared<capture_sink>();
  actors::task_pool<> pool{actors::worker_options{2}, logger{sink, "test_pool"}};
  auto submit = [&](bool throws) {
    auto p = std::make_shared<std::promise<result<int>>>();
    auto f = p->get_future();
    pool.submit<int>(
        [throws](actors::no_state&) -> result<int> {
          if (throws) throw std::logic_error("broken task");
          return 7;
        },
        [p](result<int> r) { p->set_value(std::move(r)); });
    REQUIRE_MESSAGE(f.wait_for(10s) == std::future_status::ready, "no answer within 10 s");
    return f.get();
  };
  auto good = submit(false);
  REQUIRE(good);
  CHECK(*good == 7);
  auto bad = submit(true);
  REQUIRE_FALSE(bad);
  CHECK(bad.err().code == errc::internal);
  CHECK(bad.err().message.find("broken task") != std::string::npos);
  {
    std::lock_guard<std::mutex> lock{sink->mutex};
    REQUIRE(sink->lines.size() == 1);
    CHECK(sink->lines[0].level == log_level::error);
    CHECK(sink->lines[0].component == "test_pool");
  }
  pool.stop();
  auto refused = submit(false);
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::unavailable);
}

TEST_CASE("each thread of a pool has a state of its own") {
  struct per_thread {
    int uses = 0;
  };
  std::mutex m;
  std::condition_variable changed;
  std::set<const per_thread*> states;
  int arrived = 0;
  actors::task_pool<per_thread> pool{actors::worker_options{2}, logger{}};  // goes first
  // Two tasks that each wait for the other: they can only both finish on two threads.
  for (int k = 0; k < 2; ++k) {
    REQUIRE(pool.post([&](per_thread& s) {
      ++s.uses;
      std::unique_lock<std::mutex> lock{m};
      states.insert(&s);
      ++arrived;
      changed.notify_all();
      changed.wait_for(lock, 10s, [&] { return arrived == 2; });
    }));
  }
  {
    std::unique_lock<std::mutex> lock{m};
    REQUIRE_MESSAGE(changed.wait_for(lock, 10s, [&] { return arrived == 2; }),
                    "two tasks did not run at once within 10 s");
  }
  pool.stop();
  CHECK(states.size() == 2);
}
