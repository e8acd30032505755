// The series a projection reports into the runtime's registry: position, lag in events and
// seconds, events applied, dead letters, and the live batches waiting in its mailbox.

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/projections/support.hpp"
#include "tests/runtime/scrape.hpp"

using namespace strata;
using namespace strata::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* summary = "order_summary";

struct files {
  temp_dir dir;
  std::unique_ptr<runtime> start() const {
    runtime_config c;
    c.journal.sqlite.path = dir.file("journal.db");
    c.projections.path = dir.file("read.db");
    c.metrics.enabled = false;  // recorded all the same; read through the registry
    auto rt = runtime::start(c);
    REQUIRE_MESSAGE(rt, (rt ? "" : to_string(rt.err())));
    REQUIRE((*rt)->register_aggregate<orders::order>());
    return std::move(*rt);
  }
};

orders::command place(const std::string& customer) {
  return orders::place{customer, "EUR", {orders::line{"sku-1", 1, money{100, "EUR"}}}};
}

command_result accepted(runtime& rt, const std::string& id) {
  auto r = rt.send<orders::order>(id, place("c-" + id)).get();
  REQUIRE_MESSAGE(r.is_accepted(), to_string(r));
  return r;
}

/// Order summaries whose handler, once `hold` was called, waits until `release`.
class holding_summaries final : public summaries_wrapper {
 public:
  result<void> apply(persistence::projection_transaction& tx,
                     const persistence::event_record& r) override {
    std::unique_lock<std::mutex> lock{mutex_};
    released_.wait(lock, [&] { return !held_; });
    lock.unlock();
    return inner_->apply(tx, r);
  }
  void hold() {
    std::lock_guard<std::mutex> lock{mutex_};
    held_ = true;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock{mutex_};
      held_ = false;
    }
    released_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable released_;
  bool held_ = false;
};

/// Releases a held projection before the runtime stops (declare it after the runtime).
struct release_on_exit {
  std::shared_ptr<holding_summaries> p;
  ~release_on_exit() { p->release(); }
};

}  // namespace

TEST_CASE("projection series show position, applied events and dead letters once committed") {
  files f;
  auto rt = f.start();
  auto picky = std::make_shared<picky_summaries>();
  REQUIRE(rt->add_projection(picky));
  const auto& registry = rt->metrics();
  {
    // The series exist from registration, at the checkpoint.
    const auto s = read_series(registry);
    CHECK(value_of(s, "strata_projection_position", {{"projection", summary}}) == 0);
    CHECK(value_of(s, "strata_projection_lag_events", {{"projection", summary}}) == 0);
    CHECK(value_of(s, "strata_projection_events_applied_total", {{"projection", summary}}) == 0);
    CHECK(value_of(s, "strata_dead_lettered_events_total", {{"projection", summary}}) == 0);
  }
  accepted(*rt, "o-1");
  const auto bad = accepted(*rt, "o-bad");
  const auto last = accepted(*rt, "o-2");
  REQUIRE(rt->wait_for(summary, last.position, 10s));

  // wait_for returns after the series were set: no further wait is needed.
  const auto s = read_series(registry);
  const auto position = static_cast<double>(last.position.value);
  CHECK(value_of(s, "strata_projection_position", {{"projection", summary}}) == position);
  CHECK(value_of(s, "strata_projection_lag_events", {{"projection", summary}}) == 0);
  CHECK(value_of(s, "strata_projection_lag_seconds", {{"projection", summary}}) == 0);
  // Every position but the parked one was applied; the parked one is a dead letter.
  CHECK(value_of(s, "strata_projection_events_applied_total", {{"projection", summary}}) ==
        position - 1);
  CHECK(value_of(s, "strata_dead_lettered_events_total", {{"projection", summary}}) == 1);

  picky->refuse = false;
  REQUIRE(rt->retry_dead_letter(summary, bad.position));
  CHECK(projection_series(registry, "strata_projection_events_applied_total", summary) == position);
  CHECK(projection_series(registry, "strata_dead_lettered_events_total", summary) == 1);
}

TEST_CASE("a projection stuck in its handler shows its lag growing with the journal head") {
  files f;
  auto rt = f.start();
  auto slow = std::make_shared<holding_summaries>();
  release_on_exit release{slow};
  REQUIRE(rt->add_projection(slow));
  const auto& registry = rt->metrics();
  const auto first = accepted(*rt, "o-0");
  REQUIRE(rt->wait_for(summary, first.position, 10s));

  slow->hold();
  global_position last{};
  for (int i = 1; i <= 5; ++i)
    last = std::max(last, accepted(*rt, "o-" + std::to_string(i)).position);
  const auto behind = static_cast<double>(last.value - first.position.value);
  // The head reaches the registry when the commit is published, which may follow the replies.
  const bool lagging = wait_until([&] {
    return projection_series(registry, "strata_projection_lag_events", summary) == behind;
  });
  const auto stuck = read_series(registry);
  INFO("lag events: ", value_of(stuck, "strata_projection_lag_events", {{"projection", summary}}),
       ", expected ", behind);
  REQUIRE(lagging);
  CHECK(value_of(stuck, "strata_projection_position", {{"projection", summary}}) ==
        static_cast<double>(first.position.value));
  CHECK(value_of(stuck, "strata_projection_lag_seconds", {{"projection", summary}}) > 0);

  slow->release();
  REQUIRE(rt->wait_for(summary, last, 10s));
  const auto caught_up = read_series(registry);
  CHECK(value_of(caught_up, "strata_projection_position", {{"projection", summary}}) ==
        static_cast<double>(last.value));
  CHECK(value_of(caught_up, "strata_projection_lag_events", {{"projection", summary}}) == 0);
  CHECK(value_of(caught_up, "strata_projection_lag_seconds", {{"projection", summary}}) == 0);
  CHECK(value_of(caught_up, "strata_projection_events_applied_total", {{"projection", summary}}) ==
        static_cast<double>(last.value));
}

TEST_CASE("the event bus reports the live batches waiting in a stuck projection's mailbox") {
  files f;
  auto rt = f.start();
  auto slow = std::make_shared<holding_summaries>();
  release_on_exit release{slow};
  REQUIRE(rt->add_projection(slow));
  const auto& registry = rt->metrics();
  const std::map<std::string, std::string> kind{{"actor_kind", "projection"}};
  CHECK(value_of(read_series(registry), "strata_mailbox_backlog_messages", kind) == 0);
  REQUIRE(wait_until([&] {
    auto lag = rt->projection_lag(summary);
    return lag && lag->live;
  }));

  slow->hold();
  accepted(*rt, "o-0");  // its batch is taken and then held in the handler
  constexpr int waiting = 4;
  global_position last{};
  for (int i = 1; i <= waiting; ++i)
    last = std::max(last, accepted(*rt, "o-" + std::to_string(i)).position);
  const bool backed_up = wait_until([&] {
    return value_of(read_series(registry), "strata_mailbox_backlog_messages", kind) == waiting;
  });
  INFO("backlog: ", value_of(read_series(registry), "strata_mailbox_backlog_messages", kind));
  CHECK(backed_up);

  slow->release();
  REQUIRE(rt->wait_for(summary, last, 10s));
  CHECK(wait_until([&] {
    return value_of(read_series(registry), "strata_mailbox_backlog_messages", kind) == 0;
  }));
}
