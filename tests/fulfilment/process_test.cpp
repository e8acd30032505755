// The fulfilment process end to end through strata::runtime, on the memory and the SQLite
// journal: the happy path, both compensations, a crash at every step (the manager halted
// mid-step, then a new runtime on the same journal), a SIGKILLed child process, lost journal
// replies, and the correlation and causation of every event.

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <iterator>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/fulfilment/support.hpp"
#include "tests/support/single_threaded.hpp"

using namespace strata;
using strata::testing::backend;
using strata::testing::count;
using strata::testing::fulfilment_harness;
using strata::testing::saga;

namespace {

const std::vector<std::pair<std::string, std::int64_t>> two_lines = {{"sku-a", 2}, {"sku-b", 1}};

void check_fulfilled(fulfilment_harness& h, const std::string& order) {
  auto f = h.wait_finished(order);
  CHECK(f.current == fulfilment::phase::completed);
  CHECK(h.state_of<orders::order>(order).current == orders::status::ready_to_ship);
  auto pay = h.state_of<payments::payment>(fulfilment::payment_id(order));
  CHECK(pay.current == payments::status::authorized);
  CHECK(pay.captured_minor == 3000);
  CHECK(h.state_of<inventory::inventory_item>("sku-a").reservations.at(order) == 2);
  CHECK(h.state_of<inventory::inventory_item>("sku-b").reservations.at(order) == 1);
  auto all = h.journal_contents();
  CHECK(count(all, "StockReserved", "sku-a", order) == 1);
  CHECK(count(all, "StockReserved", "sku-b", order) == 1);
  CHECK(count(all, "PaymentAuthorized", "pay-" + order) == 1);
  CHECK(count(all, "PaymentCaptured", "pay-" + order) == 1);
  CHECK(count(all, "OrderMarkedReady", order) == 1);
  CHECK(count(all, "FulfilmentStarted", order) == 1);
  CHECK(count(all, "FulfilmentCompleted", order) == 1);
  strata::testing::check_no_step_applied_twice(all);
}

void check_out_of_stock(fulfilment_harness& h, const std::string& order) {
  auto f = h.wait_finished(order);
  CHECK(f.current == fulfilment::phase::compensated);
  CHECK(f.failure_code == inventory::insufficient_stock);
  CHECK(h.state_of<orders::order>(order).current == orders::status::cancelled);
  CHECK(h.state_of<inventory::inventory_item>("sku-a").reservations.count(order) == 0);
  CHECK(h.state_of<inventory::inventory_item>("sku-a").reserved == 0);
  auto all = h.journal_contents();
  CHECK(count(all, "StockReserved", "sku-a", order) == 1);
  CHECK(count(all, "ReservationReleased", "sku-a", order) == 1);
  CHECK(count(all, "StockReserved", "sku-b", order) == 0);
  CHECK(count(all, "PaymentAuthorized", "pay-" + order) == 0);
  CHECK(count(all, "PaymentCaptured", "pay-" + order) == 0);
  CHECK(count(all, "OrderCancelled", order, "insufficient") +
            count(all, "OrderCancelled", order, "only 0 units") >=
        1);
  CHECK(count(all, "OrderCancelled", order) == 1);
  CHECK(count(all, "FulfilmentCompensated", order) == 1);
  strata::testing::check_no_step_applied_twice(all);
}

void happy_path(backend b) {
  fulfilment_harness h{b};
  h.open();
  h.stock("sku-a", 5);
  h.stock("sku-b", 5);
  h.place_and_confirm("o-1", two_lines);
  check_fulfilled(h, "o-1");
  const auto story = strata::testing::story(h.journal_contents(), "o-1");
  std::istringstream words{story};
  const std::vector<std::string> events{std::istream_iterator<std::string>{words},
                                        std::istream_iterator<std::string>{}};
  REQUIRE_MESSAGE(events.size() == 13, story);
  const auto joined = [&](std::size_t from, std::size_t to) {
    std::string out;
    for (std::size_t i = from; i < to; ++i) out += (i == from ? "" : " ") + events[i];
    return out;
  };
  CHECK(joined(0, 3) == "OrderPlaced@Order OrderConfirmed@Order FulfilmentStarted@Fulfilment");
  // The two lines are reserved at once, so their four events may interleave; each
  // FulfilmentStockReserved records a reservation made before it.
  int reserved = 0, recorded = 0;
  for (std::size_t i = 3; i < 7; ++i) {
    if (events[i] == "StockReserved@InventoryItem") {
      ++reserved;
    } else {
      CHECK_MESSAGE(events[i] == "FulfilmentStockReserved@Fulfilment", story);
      CHECK_MESSAGE(++recorded <= reserved, story);
    }
  }
  CHECK_MESSAGE((reserved == 2 && recorded == 2), story);
  CHECK(joined(7, 13) ==
        "PaymentAuthorized@Payment FulfilmentPaymentAuthorized@Fulfilment "
        "PaymentCaptured@Payment FulfilmentPaymentCaptured@Fulfilment "
        "OrderMarkedReady@Order FulfilmentCompleted@Fulfilment");
}

void out_of_stock(backend b) {
  fulfilment_harness h{b};
  h.open();
  h.stock("sku-a", 5);  // sku-b has none
  h.place_and_confirm("o-1", two_lines);
  check_out_of_stock(h, "o-1");
}

void payment_declined(backend b) {
  fulfilment_harness h{b};
  fulfilment_options o;
  o.payment_method = [](const std::string&) { return std::string{"expired-card"}; };
  o.provider = [](const payments::authorize& a) -> std::optional<std::string> {
    if (a.method == "expired-card") return std::string{"card expired"};
    return std::nullopt;
  };
  h.open(o);
  h.stock("sku-a", 5);
  h.stock("sku-b", 5);
  h.place_and_confirm("o-1", two_lines);
  auto f = h.wait_finished("o-1");
  CHECK(f.current == fulfilment::phase::compensated);
  CHECK(f.payment == fulfilment::payment_status::declined);
  CHECK(h.state_of<orders::order>("o-1").current == orders::status::cancelled);
  CHECK(h.state_of<payments::payment>("pay-o-1").current == payments::status::failed);
  CHECK(h.state_of<inventory::inventory_item>("sku-a").reserved == 0);
  CHECK(h.state_of<inventory::inventory_item>("sku-b").reserved == 0);
  auto all = h.journal_contents();
  CHECK(count(all, "PaymentFailed", "pay-o-1", "card expired") == 1);
  CHECK(count(all, "PaymentCaptured", "pay-o-1") == 0);
  CHECK(count(all, "ReservationReleased", "sku-a", "o-1") == 1);
  CHECK(count(all, "ReservationReleased", "sku-b", "o-1") == 1);
  CHECK(count(all, "OrderCancelled", "o-1", "payment declined: card expired") == 1);
  strata::testing::check_no_step_applied_twice(all);
}

// Runs the scenario once to count the answered commands, then once per crash point k:
// halts the manager right after the k-th answer, starts a new runtime on the same journal
// and read models, and checks that the fulfilment completes exactly once.
void crash_at_every_step(backend b, bool with_stock) {
  auto scenario = [&](fulfilment_harness& h) {
    h.stock("sku-a", 5);
    if (with_stock) h.stock("sku-b", 5);
    h.place_and_confirm("o-1", two_lines);
  };
  std::size_t points = 0;
  {
    fulfilment_harness h{b};
    fulfilment_options o;
    o.on_answer = [&points](const std::string&, const command_result&) {
      ++points;
      return true;
    };
    h.open(o);
    scenario(h);
    h.wait_finished("o-1");
    h.close();
  }
  REQUIRE(points >= 8);
  for (std::size_t k = 1; k <= points; ++k) {
    CAPTURE(k);
    fulfilment_harness h{b};
    auto seen = std::make_shared<std::atomic<std::size_t>>(0);
    auto halted_at = std::make_shared<std::string>();
    fulfilment_options o;
    o.on_answer = [seen, halted_at, k](const std::string& id, const command_result&) {
      if (++*seen != k) return true;
      *halted_at = id;
      return false;
    };
    h.open(o);
    scenario(h);
    REQUIRE(h.wait_halted());
    h.close();
    CAPTURE(*halted_at);
    h.open();
    if (with_stock)
      check_fulfilled(h, "o-1");
    else
      check_out_of_stock(h, "o-1");
  }
}

}  // namespace

TEST_CASE("a confirmed order is reserved, paid, captured and made ready on the memory journal") {
  happy_path(backend::memory);
}

TEST_CASE("a confirmed order is reserved, paid, captured and made ready on the SQLite journal") {
  happy_path(backend::sqlite);
}

TEST_CASE("an order out of stock has its reservations released and is cancelled (memory)") {
  out_of_stock(backend::memory);
}

TEST_CASE("an order out of stock has its reservations released and is cancelled (SQLite)") {
  out_of_stock(backend::sqlite);
}

TEST_CASE("a declined payment releases the reservations and cancels the order (memory)") {
  payment_declined(backend::memory);
}

TEST_CASE("a declined payment releases the reservations and cancels the order (SQLite)") {
  payment_declined(backend::sqlite);
}

TEST_CASE("a fulfilment halted after any answer completes exactly once after a restart (memory)") {
  crash_at_every_step(backend::memory, true);
}

TEST_CASE("a fulfilment halted after any answer completes exactly once after a restart (SQLite)") {
  crash_at_every_step(backend::sqlite, true);
}

TEST_CASE("a compensation halted after any answer is finished exactly once after a restart") {
  crash_at_every_step(backend::memory, false);
}

TEST_CASE("a compensation halted after any answer is finished exactly once (SQLite)") {
  crash_at_every_step(backend::sqlite, false);
}

TEST_CASE("a fulfilment whose process is SIGKILLed mid-step completes exactly once after it") {
  const std::size_t idle_threads = strata::testing::idle_thread_count();
  for (int kill_after : {1, 3, 6, 9}) {
    CAPTURE(kill_after);
    fulfilment_harness h{backend::sqlite};
    h.open();
    h.stock("sku-a", 5);
    h.stock("sku-b", 5);
    h.close();
    // The runtime just stopped may still be ending a thread; the child must start from one.
    REQUIRE_MESSAGE(strata::testing::wait_threads_idle(idle_threads),
                    "threads: " << strata::testing::thread_count() << ", idle: " << idle_threads);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // The child: confirm the order and die after the kill_after-th answered command.
      auto seen = std::make_shared<std::atomic<int>>(0);
      fulfilment_options o;
      o.on_answer = [seen, kill_after](const std::string&, const command_result&) {
        if (++*seen == kill_after) kill(getpid(), SIGKILL);
        return true;
      };
      runtime_overrides ov;
      persistence::sqlite_journal_options jo;
      jo.path = h.file("journal.db");
      ov.journal = std::make_shared<persistence::sqlite_journal_factory>(jo);
      auto rt = runtime::start(h.config(), ov);
      if (!rt || !register_fulfilment_aggregates(**rt)) _exit(3);
      auto pm = start_fulfilment(**rt, o);
      if (!pm) _exit(4);
      orders::place p{"customer-1", "EUR", {}};
      for (const auto& [sku, q] : two_lines)
        p.lines.push_back(orders::line{sku, q, money{1000, "EUR"}});
      if (!(*rt)->send<orders::order>("o-1", p).get().is_accepted()) _exit(5);
      if (!(*rt)->send<orders::order>("o-1", orders::confirm{}).get().is_accepted()) _exit(6);
      for (int i = 0; i < 20000; ++i) {  // bounded: the kill comes long before
        auto v = (*rt)->current_state<saga>("o-1").get();
        if (v && fulfilment::is_finished(v->state)) _exit(7);
        usleep(1000);
      }
      _exit(8);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "child exited with code " << WEXITSTATUS(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    h.open();
    check_fulfilled(h, "o-1");
  }
}

TEST_CASE("appends that fail or lose their reply are retried without doing a step twice") {
  fulfilment_harness h{backend::memory};
  auto* faults = &h.faults();
  fulfilment_options o;
  auto armed = std::make_shared<std::set<std::string>>();  // worker threads: one at a time
  auto armed_lock = std::make_shared<std::mutex>();
  o.on_answer = [faults, armed, armed_lock](const std::string& id, const command_result&) {
    // Once started, the reservations commit but their replies are lost; once authorized,
    // the append recording it fails before it reaches the journal. Each fault is armed once
    // (a resent command is answered again).
    std::lock_guard<std::mutex> lock(*armed_lock);
    if (!armed->insert(id).second) return true;
    if (id == "fulfil:o-1:start")
      faults->fail_appends_after_commit(error{errc::unavailable, "lost"});
    if (id == "fulfil:o-1:authorize")
      faults->fail_nth_append(1, error{errc::unavailable, "journal away"});
    return true;
  };
  h.open(o);
  h.stock("sku-a", 5);
  h.stock("sku-b", 5);
  h.place_and_confirm("o-1", two_lines);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (faults->appends_failed() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling interval
  REQUIRE(faults->appends_failed() >= 3);
  faults->fail_appends_after_commit(std::nullopt);
  check_fulfilled(h, "o-1");
  CHECK(faults->appends_failed() >= 4);
}

TEST_CASE("every event of a fulfilment carries its correlation id and an earlier cause") {
  fulfilment_harness h{backend::sqlite};
  h.open();
  h.stock("sku-a", 1);
  h.stock("sku-b", 5);
  h.place_and_confirm("o-1", {{"sku-a", 1}});
  h.place_and_confirm("o-2", two_lines);  // sku-a is gone: compensated
  CHECK(h.wait_finished("o-1").current == fulfilment::phase::completed);
  CHECK(h.wait_finished("o-2").current == fulfilment::phase::compensated);
  auto all = h.journal_contents();
  std::map<std::string, global_position> position_of;
  for (const auto& r : all) position_of[r.event_id] = r.position;
  for (const std::string order : {"o-1", "o-2"}) {
    CAPTURE(order);
    std::string confirmed_id;
    std::size_t by_process = 0;
    for (const auto& r : all) {
      if (r.aggregate_id == order && r.event_type == "OrderConfirmed") confirmed_id = r.event_id;
      if (r.command_id.rfind("fulfil:" + order + ":", 0) != 0) continue;
      ++by_process;
      CAPTURE(r.event_type);
      CAPTURE(r.command_id);
      CHECK(r.correlation_id == order);
      CHECK(r.user_id == "fulfilment");
      auto cause = position_of.find(r.causation_id);
      REQUIRE_MESSAGE(cause != position_of.end(), "cause " << r.causation_id << " unknown");
      CHECK(cause->second.value < r.position.value);
      if (r.event_type == "FulfilmentStarted") CHECK(r.causation_id == confirmed_id);
    }
    CHECK(by_process >= 6);
  }
}
