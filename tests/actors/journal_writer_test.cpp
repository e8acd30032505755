#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "strata/actors/journal_writer.hpp"
#include "strata/persistence/memory_journal.hpp"
#include "tests/support/fault_injecting_journal.hpp"

using namespace strata;

namespace {

persistence::stream_append one_event(std::string id, std::uint64_t expected = 0) {
  persistence::stream_append a;
  a.stream = stream_id{"Order", id};
  a.expected = version{expected};
  persistence::new_event e;
  e.event_id = "id-" + id + "-" + std::to_string(expected);
  e.event_type = "OrderConfirmed";
  e.data = "{}";
  a.events.push_back(e);
  return a;
}

struct writer_fixture {
  std::shared_ptr<persistence::memory_journal_factory> memory =
      std::make_shared<persistence::memory_journal_factory>();
  std::shared_ptr<persistence::fault_plan> faults = std::make_shared<persistence::fault_plan>();
  persistence::fault_injecting_journal_factory journal{memory, faults};
  std::mutex mutex;
  std::vector<actors::commit_stats> commits;
  std::vector<global_position> published;
  std::unique_ptr<actors::journal_writer> writer;

  explicit writer_fixture(actors::journal_writer_options o = {}) {
    auto w = actors::journal_writer::start(
        journal, o,
        [this](actors::journal_writer::committed_batch rs) {
          std::lock_guard<std::mutex> lock{mutex};
          for (const auto& r : *rs) published.push_back(r.position);
        },
        [this](const actors::commit_stats& s) {
          std::lock_guard<std::mutex> lock{mutex};
          commits.push_back(s);
        });
    REQUIRE(w);
    writer = std::move(*w);
  }
  writer_fixture(const writer_fixture&) = delete;
  writer_fixture& operator=(const writer_fixture&) = delete;

  /// A commit a failed check left held must not keep the writer from stopping.
  ~writer_fixture() { faults->release(); }

  std::vector<actors::commit_stats> commits_so_far() {
    std::lock_guard<std::mutex> lock{mutex};
    return commits;
  }

  std::future<persistence::stream_outcome> submit(persistence::stream_append a) {
    auto p = std::make_shared<std::promise<persistence::stream_outcome>>();
    auto f = p->get_future();
    writer->submit(std::move(a),
                   [p](persistence::stream_outcome o) { p->set_value(std::move(o)); });
    return f;
  }
};

template <class T>
T wait(std::future<T>& f) {
  REQUIRE(f.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  return f.get();
}

}  // namespace

TEST_CASE("appends that arrive during a commit share the next transaction") {
  writer_fixture t;
  t.faults->hold();  // a slow fsync: the first commit waits until released
  std::vector<std::future<persistence::stream_outcome>> fs;
  fs.push_back(t.submit(one_event("o-0")));
  REQUIRE(t.faults->wait_held(1));
  for (int i = 1; i < 50; ++i) fs.push_back(t.submit(one_event("o-" + std::to_string(i))));
  t.faults->release();
  for (auto& f : fs) CHECK(wait(f));
  t.writer->stop();
  std::size_t events = 0, largest = 0;
  for (const auto& c : t.commits) {
    events += c.events;
    largest = std::max(largest, c.events);
  }
  CHECK(events == 50);
  CHECK(t.commits.size() < 50);  // batched
  CHECK(largest > 1);
  // The 49 that arrived during the first commit shared the next one.
  REQUIRE(t.commits.size() == 2);
  CHECK(t.commits[0].events == 1);
  CHECK(t.commits[1].events == 49);
}

TEST_CASE("a conflicting stream in a batch does not fail the others") {
  writer_fixture t;
  t.faults->hold();
  auto warmup = t.submit(one_event("slow"));  // holds the writer while the batch gathers
  REQUIRE(t.faults->wait_held(1));
  auto good = t.submit(one_event("a"));
  auto bad = t.submit(one_event("b", 7));  // stream b is new: expected 7 is stale
  auto good2 = t.submit(one_event("c"));
  t.faults->release();
  CHECK(wait(warmup));
  auto g = wait(good);
  auto b = wait(bad);
  auto g2 = wait(good2);
  CHECK(g);
  CHECK(g2);
  REQUIRE_FALSE(b);
  CHECK(b.err().code == errc::conflict);
  // The three shared one batch: one commit of three streams, one of them in conflict.
  t.writer->stop();
  const auto commits = t.commits_so_far();
  REQUIRE(commits.size() == 2);
  CHECK(commits[1].streams == 3);
  CHECK(commits[1].conflicts == 1);
}

TEST_CASE("a failed transaction fails every append in it and publishes nothing") {
  writer_fixture t;
  t.faults->fail_appends(error{errc::unavailable, "disk full"});
  auto a = t.submit(one_event("a"));
  auto b = t.submit(one_event("b"));
  auto ra = wait(a);
  auto rb = wait(b);
  REQUIRE_FALSE(ra);
  REQUIRE_FALSE(rb);
  CHECK(ra.err().message == "disk full");
  t.faults->fail_appends(std::nullopt);
  auto c = t.submit(one_event("c"));
  CHECK(wait(c));
  t.writer->stop();
  CHECK(t.published == std::vector<global_position>{global_position{1}});
}

TEST_CASE("committed records are published in global order") {
  writer_fixture t;
  std::vector<std::future<persistence::stream_outcome>> fs;
  for (int round = 0; round < 5; ++round)
    for (int i = 0; i < 20; ++i)
      fs.push_back(
          t.submit(one_event("o-" + std::to_string(i), static_cast<std::uint64_t>(round))));
  for (auto& f : fs) CHECK(wait(f));
  t.writer->stop();
  REQUIRE(t.published.size() == 100);
  for (std::size_t i = 0; i < t.published.size(); ++i)
    CHECK(t.published[i] == global_position{i + 1});
}

TEST_CASE("after stop, an append is answered unavailable") {
  writer_fixture t;
  t.writer->stop();
  auto f = t.submit(one_event("a"));
  auto r = wait(f);
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::unavailable);
}

TEST_CASE("on a store that never blocks, appends commit on the caller's thread, in order") {
  persistence::memory_journal_factory memory;
  REQUIRE_FALSE(memory.blocks());
  std::mutex m;
  std::vector<global_position> published;
  auto w =
      actors::journal_writer::start(memory, {}, [&](actors::journal_writer::committed_batch rs) {
        std::lock_guard<std::mutex> lock{m};
        for (const auto& r : *rs) published.push_back(r.position);
      });
  REQUIRE(w);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        bool answered = false;
        (*w)->submit(one_event("t" + std::to_string(t) + "-" + std::to_string(i)),
                     [&](persistence::stream_outcome o) {
                       answered = true;
                       if (o) ++ok;
                     });
        CHECK(answered);  // synchronous: answered before submit returns
      }
    });
  for (auto& t : threads) t.join();
  CHECK(ok == 200);
  REQUIRE(published.size() == 200);
  for (std::size_t i = 0; i < published.size(); ++i) CHECK(published[i] == global_position{i + 1});
  (*w)->stop();
  bool refused = false;
  (*w)->submit(one_event("late"), [&](persistence::stream_outcome o) { refused = !o; });
  CHECK(refused);
}
