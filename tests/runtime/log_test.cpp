#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "strata/domain/orders/order.hpp"
#include "strata/persistence/memory_journal.hpp"
#include "strata/runtime/process_manager.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/runtime/temp_dir.hpp"
#include "tests/support/capture_log.hpp"

using namespace strata;
using namespace std::chrono_literals;
using strata::testing::capture_sink;

namespace {

/// Snapshot storage whose every save fails; counts the attempts, with a bounded wait for one.
struct failing_snapshots final : persistence::snapshot_store_factory {
  struct store final : persistence::snapshot_store {
    failing_snapshots* owner;
    explicit store(failing_snapshots* o) : owner(o) {}
    result<void> save(const persistence::snapshot_record&) override {
      {
        std::lock_guard<std::mutex> lock{owner->mutex};
        ++owner->saves;
      }
      owner->attempted.notify_all();
      return error{errc::unavailable, "the snapshot database is down"};
    }
    result<std::optional<persistence::snapshot_record>> load_latest(const stream_id&,
                                                                    version) override {
      return std::optional<persistence::snapshot_record>{};
    }
    result<std::vector<persistence::snapshot_record>> list(const stream_id&) override {
      return std::vector<persistence::snapshot_record>{};
    }
    result<void> remove_stream(const stream_id&) override { return ok(); }
  };

  std::mutex mutex;
  std::condition_variable attempted;
  int saves = 0;

  result<std::unique_ptr<persistence::snapshot_store>> open() override {
    return std::unique_ptr<persistence::snapshot_store>{std::make_unique<store>(this)};
  }
  /// True once a save was attempted (waiting up to 10 s).
  bool wait_for_attempt() {
    std::unique_lock<std::mutex> lock{mutex};
    return attempted.wait_for(lock, 10s, [&] { return saves > 0; });
  }
};

runtime_config memory_config() {
  runtime_config c;
  c.journal.backend = journal_backend::memory;
  c.metrics.enabled = false;
  return c;
}

orders::place a_placement() {
  return orders::place{"c-1", "EUR", {orders::line{"sku", 1, money{100, "EUR"}}}};
}

}  // namespace

TEST_CASE("a command callback that throws is reported to the host's sink as an engine error") {
  auto sink = std::make_shared<capture_sink>();
  runtime_overrides o;
  o.journal = std::make_shared<persistence::memory_journal_factory>();
  o.log = sink;
  auto rt = runtime::start(memory_config(), o);
  REQUIRE_MESSAGE(rt, (rt ? "" : to_string(rt.err())));
  REQUIRE((*rt)->register_aggregate<orders::order>());
  (*rt)->send<orders::order>("o-1", a_placement(), {},
                             [](command_result) { throw std::runtime_error("host bug"); });
  auto l = sink->first_of("engine");
  REQUIRE_MESSAGE(l, "no message of the engine within 10 s");
  CHECK(l->level == log_level::error);
  CHECK(l->message.find("a command callback threw: host bug") != std::string::npos);
  (*rt)->stop();
}

TEST_CASE("a snapshot that cannot be saved is a warning, and log.level filters what a sink gets") {
  for (auto level : {log_level::warning, log_level::error}) {
    CAPTURE(to_string(level));
    auto sink = std::make_shared<capture_sink>();
    auto c = memory_config();
    c.aggregates.snapshot_every = 1;
    c.log.level = level;
    runtime_overrides o;
    o.journal = std::make_shared<persistence::memory_journal_factory>();
    auto snapshots = std::make_shared<failing_snapshots>();
    o.snapshots = snapshots;
    o.log = sink;
    auto rt = runtime::start(c, o);
    REQUIRE_MESSAGE(rt, (rt ? "" : to_string(rt.err())));
    REQUIRE((*rt)->register_aggregate<orders::order>());
    auto placed = (*rt)->send<orders::order>("o-1", a_placement());
    REQUIRE(placed.wait_for(10s) == std::future_status::ready);
    REQUIRE(placed.get().is_accepted());
    // The snapshot is queued after the reply: wait for its save, then stop, which joins the
    // snapshot writer, so its report of that save has reached the sink (or was filtered).
    REQUIRE_MESSAGE(snapshots->wait_for_attempt(), "no snapshot save was attempted within 10 s");
    (*rt)->stop();
    std::lock_guard<std::mutex> lock{sink->mutex};
    std::vector<capture_sink::line> warnings;
    for (const auto& l : sink->lines)
      if (l.component == "snapshot_writer") warnings.push_back(l);
    if (level == log_level::error) {
      CHECK(warnings.empty());
    } else {
      REQUIRE(warnings.size() == 1);
      CHECK(warnings[0].level == log_level::warning);
      CHECK(warnings[0].message.find("snapshot of Order-o-1 at v1 not saved") != std::string::npos);
      CHECK(warnings[0].message.find("the snapshot database is down") != std::string::npos);
    }
  }
}

namespace {

/// Starts an instance per placed order; its first round throws, its second finishes.
struct throwing_once_process final : process_definition {
  std::atomic<int> rounds{0};
  std::string_view name() const override { return "throws-once"; }
  std::vector<std::string> handles() const override { return {"OrderPlaced"}; }
  std::optional<std::string> started_by(const persistence::event_record& r) const override {
    return r.aggregate_id;
  }
  std::optional<std::string> finished_by(const persistence::event_record&) const override {
    return std::nullopt;
  }
  process_progress advance(runtime&, const std::string&, const std::string&) override {
    if (rounds.fetch_add(1) == 0) throw std::runtime_error("the first round fails");
    return process_progress::finished;
  }
};

}  // namespace

TEST_CASE(
    "a process round that throws is logged under the process and the instance is advanced again") {
  strata::testing::temp_dir dir;
  auto sink = std::make_shared<capture_sink>();
  runtime_overrides o;
  o.journal = std::make_shared<persistence::memory_journal_factory>();
  o.log = sink;
  auto config = memory_config();
  config.projections.path = dir.file("read.db");
  auto rt = runtime::start(config, o);
  REQUIRE(rt);
  REQUIRE((*rt)->register_aggregate<orders::order>());
  auto def = std::make_shared<throwing_once_process>();
  process_options po;
  po.retry_delay = 1ms;
  auto pm = process_manager::start(**rt, def, po);
  REQUIRE(pm);

  REQUIRE((*rt)->send<orders::order>("o-1", a_placement()).get().is_accepted());

  auto line = sink->first_of("process:throws-once");
  REQUIRE(line);
  CHECK(line->level == log_level::error);
  CHECK(line->message.find("the first round fails") != std::string::npos);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (((*pm)->active() != 0 || def->rounds.load() < 2) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  CHECK(def->rounds.load() == 2);
  CHECK((*pm)->active() == 0);
  (*pm)->stop();
}
