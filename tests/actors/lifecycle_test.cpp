// Lifecycle at scale: the live bound, queue bounds, deadlines of queued commands, and
// supervision of crashing aggregates.

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/actors/order_fixture.hpp"
#include "tests/support/delegating_model.hpp"

using namespace strata;
using actors::command_status;
using strata::testing::make_line;
using strata::testing::order_engine;
using strata::testing::order_state;
using strata::testing::place_order;
using strata::testing::sample;
using strata::testing::wait_until;

namespace {

/// The Order model, except that `cancel{"boom"}` throws out of `decide` (a bug escaping the
/// decider), to exercise the supervision path.
class crashing_model final : public testing::delegating_model {
 public:
  crashing_model() : delegating_model(actors::model_of<orders::order>()) {}
  result<actors::decided> decide(const std::any& s, const std::any& c,
                                 const context& ctx) const override {
    const auto* cmd = std::any_cast<orders::command>(&c);
    if (cmd != nullptr)
      if (const auto* cancel = std::get_if<orders::cancel>(cmd); cancel && cancel->reason == "boom")
        throw std::runtime_error("bug in decide");
    return delegating_model::decide(s, c, ctx);
  }
};

}  // namespace

TEST_CASE("more aggregates than the live bound keeps the live count bounded and loses no command") {
  actors::engine_options o;
  o.max_live_per_type = 10;
  order_engine t{o};
  for (int i = 0; i < 100; ++i) {
    auto r = t.run("o-" + std::to_string(i), place_order());
    REQUIRE_MESSAGE(r.is_accepted(), to_string(r));
  }
  for (int i = 0; i < 100; ++i) {
    auto r = t.run("o-" + std::to_string(i), orders::add_item{make_line("sku-2", 1)});
    REQUIRE_MESSAGE(r.is_accepted(), to_string(r));
    CHECK(r.at == version{2});
  }
  const auto text = t.engine->metrics().scrape_text();
  CHECK(sample(text, "strata_live_aggregates{aggregate_type=\"Order\"}") <= 11);
  CHECK(sample(text, "strata_aggregate_passivations_total{aggregate_type=\"Order\"}") >= 180);
  CHECK(t.journal_contents().size() == 200);
}

TEST_CASE("an aggregate's queue beyond its bound answers overloaded at once") {
  actors::engine_options o;
  o.max_queued_per_aggregate = 2;
  order_engine t{o};
  REQUIRE(t.run("o-1", place_order()).is_accepted());
  t.faults->hold();  // the first command's append waits until released
  std::vector<std::future<actors::command_result>> fs;
  fs.push_back(t.send("o-1", orders::add_item{make_line("sku-2", 1)}));
  REQUIRE(t.faults->wait_held(1));
  for (int i = 1; i < 10; ++i) fs.push_back(t.send("o-1", orders::add_item{make_line("sku-2", 1)}));
  // Two wait behind the append; the other seven are refused while it is still held.
  std::vector<std::optional<actors::command_result>> rs(fs.size());
  auto answered = [&] { return strata::testing::collect_answers(fs, rs); };
  REQUIRE(wait_until([&] { return answered() >= 7; }));
  CHECK(answered() == 7);
  for (const auto& r : rs)
    if (r) CHECK_MESSAGE(r->status == command_status::overloaded, to_string(*r));
  t.faults->release();
  int accepted = 0, overloaded = 0;
  for (std::size_t i = 0; i < fs.size(); ++i) {
    auto r = rs[i] ? *rs[i] : order_engine::wait(std::move(fs[i]));
    accepted += r.is_accepted();
    overloaded += r.status == command_status::overloaded;
  }
  CHECK(accepted + overloaded == 10);
  CHECK(overloaded >= 6);
  CHECK(accepted == 3);
  CHECK(t.journal_contents().size() == static_cast<std::size_t>(1 + accepted));
}

TEST_CASE(
    "commands waiting behind a slow append time out at their deadline and are never applied") {
  actors::engine_options o;
  // Long enough for a first command under ThreadSanitizer, which runs it several times slower.
  o.command_timeout = std::chrono::milliseconds(400);
  order_engine t{o};
  // As in the reload case below: the engine's first command may outlast so short a deadline
  // on a loaded machine, and one answered `timeout` was never applied, so it is sent again.
  auto placed = t.run("o-1", place_order());
  for (int attempt = 1; attempt < 5 && placed.status == command_status::timeout; ++attempt)
    placed = t.run("o-1", place_order());
  REQUIRE_MESSAGE(placed.is_accepted(), to_string(placed));
  t.faults->hold();  // the first command's append waits until released
  auto first = t.send("o-1", orders::add_item{make_line("sku-2", 1)});
  REQUIRE(t.faults->wait_held(1));  // decided in time; its append is held
  auto second = t.send("o-1", orders::add_item{make_line("sku-3", 1)});
  auto third = t.send("o-1", orders::add_item{make_line("sku-4", 1)});
  auto r2 = order_engine::wait(std::move(second));
  auto r3 = order_engine::wait(std::move(third));
  CHECK(first.wait_for(std::chrono::seconds(0)) == std::future_status::timeout);  // still held
  t.faults->release();
  auto r1 = order_engine::wait(std::move(first));
  CHECK(r1.is_accepted());  // decided in time: its real outcome, however late
  CHECK(r2.status == command_status::timeout);
  CHECK(r3.status == command_status::timeout);
  t.faults->clear();
  auto s = t.state("o-1");
  REQUIRE(s);
  CHECK(s->at == version{2});
  CHECK(order_state(*s).lines.count("sku-3") == 0);
}

TEST_CASE(
    "a crashing aggregate fails its command, restarts from the journal, and leaves others alone") {
  order_engine t;
  REQUIRE(t.engine->add_aggregate(std::make_shared<crashing_model>()).err().code ==
          errc::invalid_argument);
  actors::engine_options o;
  o.max_crashes = 3;
  o.crash_window = std::chrono::seconds(60);
  auto e = actors::engine::start(o, t.journal, std::make_shared<strata::testing::fixed_clock>());
  REQUIRE(e);
  t.engine->stop();
  t.engine = std::move(*e);
  REQUIRE(t.engine->add_aggregate(std::make_shared<crashing_model>()));

  REQUIRE(t.run("o-1", place_order()).is_accepted());
  REQUIRE(t.run("o-2", place_order()).is_accepted());
  auto crashed = t.run("o-1", orders::cancel{"boom"});
  CHECK(crashed.status == command_status::failed);
  REQUIRE(crashed.failure);
  CHECK(crashed.failure->message.find("bug in decide") != std::string::npos);
  // It comes back from the journal with its state intact.
  auto again = t.run("o-1", orders::add_item{make_line("sku-2", 1)});
  REQUIRE_MESSAGE(again.is_accepted(), to_string(again));
  CHECK(again.at == version{2});
  CHECK(t.run("o-2", orders::add_item{make_line("sku-2", 1)}).is_accepted());
  // Two more crashes reach the limit: the aggregate is then refused, others still work.
  CHECK(t.run("o-1", orders::cancel{"boom"}).status == command_status::failed);
  CHECK(t.run("o-1", orders::cancel{"boom"}).status == command_status::failed);
  auto refused = t.run("o-1", orders::add_item{make_line("sku-3", 1)});
  CHECK(refused.status == command_status::unavailable);
  CHECK(refused.failure->message.find("crashed repeatedly") != std::string::npos);
  CHECK(t.run("o-2", orders::add_item{make_line("sku-3", 1)}).is_accepted());
  const auto text = t.engine->metrics().scrape_text();
  CHECK(sample(text, "strata_aggregate_restarts_total{aggregate_type=\"Order\"}") == 3);
}

TEST_CASE("passivated aggregates are counted and come back with their state") {
  actors::engine_options o;
  o.idle_timeout = std::chrono::milliseconds(10);
  order_engine t{o};
  REQUIRE(t.run("o-1", place_order()).is_accepted());
  // Wait (bounded) until the region passivated it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (sample(t.engine->metrics().scrape_text(),
                "strata_live_aggregates{aggregate_type=\"Order\"}") != 0) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  auto r = t.run("o-1", orders::add_item{make_line("sku-2", 1)});
  REQUIRE(r.is_accepted());
  CHECK(r.at == version{2});
  const auto text = t.engine->metrics().scrape_text();
  CHECK(sample(text, "strata_aggregate_passivations_total{aggregate_type=\"Order\"}") >= 1);
  CHECK(sample(text, "strata_aggregate_spawns_total{aggregate_type=\"Order\"}") >= 2);
}

TEST_CASE("commands sent while the engine stops are accepted or refused unavailable, never lost") {
  order_engine t;
  constexpr int orders_count = 20;
  for (int i = 0; i < orders_count; ++i)
    REQUIRE(t.run("o-" + std::to_string(i), place_order()).is_accepted());
  std::atomic<bool> sending{true};
  std::atomic<int> sent{0};
  std::atomic<int> answered{0};
  std::atomic<int> accepted{0};
  std::atomic<int> unavailable{0};
  std::mutex m;
  std::vector<std::string> others;
  std::thread sender([&] {
    for (int i = 0; sending.load(); ++i) {
      // At most 1,024 unanswered: far below the admission bound, so that a slow machine sees
      // no `overloaded` (a refusal this test is not about).
      while (sent.load() - answered.load() >= 1024 && sending.load()) std::this_thread::yield();
      ++sent;
      t.engine->send(orders::order::type, "o-" + std::to_string(i % orders_count),
                     std::any{orders::command{orders::add_item{make_line("sku-2", 1)}}}, {},
                     [&](actors::command_result r) {
                       if (r.is_accepted())
                         ++accepted;
                       else if (r.status == command_status::unavailable)
                         ++unavailable;
                       else {
                         std::lock_guard<std::mutex> lock{m};
                         others.push_back(to_string(r));
                       }
                       ++answered;
                     });
    }
  });
  // Stop while commands stream in: some are in flight, some arrive after. Every wait is
  // bounded, and the sender is joined before any check can end the test.
  const bool streaming = wait_until([&] { return accepted.load() >= 200; });
  t.engine->stop();
  const bool refused = wait_until([&] { return unavailable.load() > 0; });
  sending = false;
  sender.join();
  REQUIRE_MESSAGE(streaming, "fewer than 200 commands accepted before the stop");
  REQUIRE_MESSAGE(refused, "no command refused after the stop");
  CHECK(answered.load() == sent.load());
  std::lock_guard<std::mutex> lock{m};
  CHECK_MESSAGE(others.empty(), (others.empty() ? std::string{} : others.front()));
  // Every accepted command is in the journal, after the placements.
  CHECK(t.journal_contents().size() == static_cast<std::size_t>(orders_count + accepted.load()));
}

TEST_CASE("a command waiting behind the reload of a failed aggregate times out at its deadline") {
  actors::engine_options o;
  // Long enough for a first command under ThreadSanitizer, which runs it several times slower.
  o.command_timeout = std::chrono::milliseconds(400);
  order_engine t{o};
  // The engine's first command opens the journal and may outlast so short a deadline on a
  // loaded machine: a command answered `timeout` was never applied, so it is sent again.
  auto placed = t.run("o-1", place_order());
  for (int attempt = 1; attempt < 5 && placed.status == command_status::timeout; ++attempt)
    placed = t.run("o-1", place_order());
  REQUIRE_MESSAGE(placed.is_accepted(), to_string(placed));
  // A fresh aggregate whose load fails is left failed; the next command starts a reload.
  t.faults->fail_reads(error{errc::unavailable, "journal down"});
  const auto first_sent = std::chrono::steady_clock::now();
  auto failed = t.run("o-2", place_order());
  // Refused by the failed load, or by its own expiry when the machine is slower still: either
  // way the aggregate is left failed.
  CHECK_MESSAGE(
      (failed.status == command_status::unavailable || failed.status == command_status::timeout),
      to_string(failed));
  t.faults->fail_reads(std::nullopt);
  // Not a synchronisation: the expiry armed for the first command (while its load ran) must
  // have come and gone, so that only the second command's own expiry can answer it.
  std::this_thread::sleep_until(first_sent + 3 * o.command_timeout);
  t.faults->hold();  // the reload waits until released
  auto waiting = t.send("o-2", place_order());
  REQUIRE(t.faults->wait_held(1));
  // Answered at its deadline by the expiry, not when the reload ends: it is still held.
  CHECK(order_engine::wait(std::move(waiting)).status == command_status::timeout);
  CHECK(t.faults->held() >= 1);
  t.faults->release();
}
