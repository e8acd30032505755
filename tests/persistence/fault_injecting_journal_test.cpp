// The fault-injecting journal decorator.

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "strata/persistence/fault_injecting_journal.hpp"
#include "strata/persistence/memory_journal.hpp"
#include "tests/persistence/support.hpp"
#include "tests/support/wait_until.hpp"

namespace strata::persistence::testing {
namespace {

const stream_id order_1{"Order", "1"};

struct faulty {
  std::shared_ptr<memory_journal_factory> store = std::make_shared<memory_journal_factory>();
  std::shared_ptr<fault_plan> plan = std::make_shared<fault_plan>();
  fault_injecting_journal_factory factory{store, plan};

  std::unique_ptr<journal> open() {
    auto j = factory.open();
    REQUIRE(j.has_value());
    return std::move(*j);
  }
};

TEST_CASE("with no fault set the decorator forwards every call") {
  faulty f;
  auto j = f.open();
  REQUIRE(append_one(*j, order_1, 0, {make_event("placed")}).has_value());
  CHECK(render(*j->read_stream(order_1, {})) == "placed@1");
  CHECK(j->head(order_1)->value == 1);
  CHECK(j->last_position()->value == 1);
  CHECK(j->read_all(global_position{}, 5)->size() == 1);
  CHECK(f.plan->appends_seen() == 1);
  CHECK(f.plan->appends_failed() == 0);
}

TEST_CASE("the n-th append fails with the chosen error and writes nothing, the others pass") {
  faulty f;
  auto j = f.open();
  f.plan->fail_nth_append(2, error{errc::unavailable, "injected"});
  REQUIRE(append_one(*j, order_1, 0, {make_event("a")}).has_value());
  auto second = j->append({part(order_1, 1, {make_event("b")})});
  REQUIRE_FALSE(second.has_value());
  CHECK(second.err() == error{errc::unavailable, "injected"});
  REQUIRE(append_one(*j, order_1, 1, {make_event("c")}).has_value());
  CHECK(render(*j->read_stream(order_1, {})) == "a@1 c@2");
  CHECK(f.plan->appends_seen() == 3);
  CHECK(f.plan->appends_failed() == 1);
}

TEST_CASE("every append fails while the switch is set, across instances of the factory") {
  faulty f;
  auto a = f.open();
  auto b = f.open();
  f.plan->fail_appends(error{errc::unavailable, "down"});
  CHECK_FALSE(a->append({part(order_1, 0, {make_event("a")})}).has_value());
  CHECK_FALSE(b->append({part(order_1, 0, {make_event("a")})}).has_value());
  f.plan->fail_appends(std::nullopt);
  REQUIRE(append_one(*b, order_1, 0, {make_event("a")}).has_value());
  CHECK(a->head(order_1)->value == 1);
}

TEST_CASE("an append failing after commit is written although the caller sees an error") {
  faulty f;
  auto j = f.open();
  f.plan->fail_appends_after_commit(error{errc::timeout, "reply lost"});
  auto out = j->append({part(order_1, 0, {make_event("a")})});
  REQUIRE_FALSE(out.has_value());
  CHECK(out.err().code == errc::timeout);
  f.plan->clear();
  CHECK(j->head(order_1)->value == 1);
}

TEST_CASE("reads fail while the read switch is set and appends still pass") {
  faulty f;
  auto j = f.open();
  f.plan->fail_reads(error{errc::corrupted, "event at global position 1: bad"});
  REQUIRE(append_one(*j, order_1, 0, {make_event("a")}).has_value());
  CHECK(j->read_stream(order_1, {}).err().code == errc::corrupted);
  CHECK(j->read_all(global_position{}, 1).err().code == errc::corrupted);
  CHECK(j->head(order_1).err().code == errc::corrupted);
  CHECK(j->last_position().err().code == errc::corrupted);
  CHECK(f.plan->reads_failed() == 4);
  f.plan->fail_reads(std::nullopt);
  CHECK(j->head(order_1)->value == 1);
}

TEST_CASE("opening fails while the open switch is set") {
  faulty f;
  f.plan->fail_opens(error{errc::unavailable, "no store"});
  auto j = f.factory.open();
  REQUIRE_FALSE(j.has_value());
  CHECK(j.err().code == errc::unavailable);
  f.plan->fail_opens(std::nullopt);
  CHECK(f.factory.open().has_value());
}

TEST_CASE("a delay holds every call back by at least the configured time") {
  faulty f;
  auto j = f.open();
  f.plan->set_delay(std::chrono::milliseconds{20});
  const auto start = std::chrono::steady_clock::now();
  CHECK(j->last_position().has_value());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed >= std::chrono::milliseconds{20});
}

TEST_CASE("switches flipped from another thread take effect on a journal in use") {
  faulty f;
  auto j = f.open();
  std::atomic<bool> running{true};
  std::atomic<int> passed{0}, failed{0}, passed_after_failure{0};
  // Appends run without pause on their own thread while this one flips the switch on, then
  // off again.
  std::thread appender{[&] {
    for (int i = 0; running.load(); ++i) {
      auto out =
          j->append({part(stream_id{"Order", "s" + std::to_string(i)}, 0, {make_event("a")})});
      if (!out)
        ++failed;
      else if (failed.load() > 0)
        ++passed_after_failure;
      else
        ++passed;
    }
  }};
  const bool passing = strata::testing::wait_until([&] { return passed.load() > 0; });
  f.plan->fail_appends(error{errc::unavailable, "x"});
  const bool failing = strata::testing::wait_until([&] { return failed.load() > 0; });
  f.plan->fail_appends(std::nullopt);
  const bool recovered =
      strata::testing::wait_until([&] { return passed_after_failure.load() > 0; });
  running = false;
  appender.join();
  CHECK(passing);
  CHECK(failing);
  CHECK(recovered);
  CHECK(f.plan->appends_failed() == static_cast<std::uint64_t>(failed.load()));
  CHECK(f.plan->appends_seen() ==
        static_cast<std::uint64_t>(passed.load() + failed.load() + passed_after_failure.load()));
  CHECK(j->last_position()->value ==
        static_cast<std::uint64_t>(passed.load() + passed_after_failure.load()));
}

TEST_CASE("a hold keeps every call waiting until it is released") {
  faulty f;
  auto j = f.open();
  f.plan->hold();
  auto appended = std::async(std::launch::async, [&] {
    return append_one(*j, order_1, 0, {make_event("placed")}).has_value();
  });
  struct release_on_exit {  // before the future waits for its thread
    std::shared_ptr<fault_plan> plan;
    ~release_on_exit() { plan->release(); }
  } release{f.plan};
  REQUIRE(f.plan->wait_held(1));
  CHECK(f.plan->held() == 1);
  CHECK(appended.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);
  CHECK(f.plan->appends_seen() == 0);  // held before it is counted
  f.plan->release();
  CHECK(appended.get());
  CHECK(f.plan->held() == 0);
  CHECK(j->last_position()->value == 1);  // new calls pass
  CHECK_FALSE(f.plan->wait_held(1, std::chrono::milliseconds(0)));
}

TEST_CASE("archive calls are forwarded, and the archive reads obey the read switch") {
  faulty f;
  auto j = f.open();
  REQUIRE(append_one(*j, order_1, 0, {make_event("a"), make_event("b")}).has_value());
  auto anchors = j->anchors();
  REQUIRE(anchors.has_value());
  auto direct = f.store->open();
  REQUIRE(direct.has_value());
  CHECK(anchors->size() == (*direct)->anchors()->size());
  auto mark = j->archived();
  REQUIRE(mark.has_value());
  CHECK_FALSE(mark->has_value());
  f.plan->fail_reads(error{errc::unavailable, "down"});
  CHECK(j->anchor(order_1).err().code == errc::unavailable);
  CHECK(j->anchors().err().code == errc::unavailable);
  CHECK(j->archived().err().code == errc::unavailable);
  std::size_t visited = 0;
  auto each = j->for_each_in_stream(order_1, {}, [&](const event_view&) {
    ++visited;
    return result<visit_control>{visit_control::next};
  });
  CHECK(each.err().code == errc::unavailable);
  CHECK(visited == 0);
}

}  // namespace
}  // namespace strata::persistence::testing
