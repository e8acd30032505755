#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "domain/orders/order.hpp"
#include "persistence/memory_journal.hpp"
#include "runtime/runtime.hpp"

using namespace strata;
using namespace std::chrono_literals;

namespace {

/// Keeps every message it is given, with a bounded wait for one to arrive.
struct capture_sink final : log_sink {
  struct line {
    log_level level;
    std::string component;
    std::string message;
  };
  std::mutex mutex;
  std::condition_variable arrived;
  std::vector<line> lines;

  void write(log_level level, std::string_view component,
             std::string_view message) noexcept override {
    {
      std::lock_guard<std::mutex> lock{mutex};
      lines.push_back(line{level, std::string{component}, std::string{message}});
    }
    arrived.notify_all();
  }

  /// The first message of `component` (waiting up to 10 s for one), or nullopt.
  std::optional<line> first_of(std::string_view component) {
    std::unique_lock<std::mutex> lock{mutex};
    std::optional<line> found;
    arrived.wait_for(lock, 10s, [&] {
      for (const auto& l : lines) {
        if (l.component != component) continue;
        found = l;
        return true;
      }
      return false;
    });
    return found;
  }
};

struct failing_snapshots final : persistence::snapshot_store_factory {
  result<std::unique_ptr<persistence::snapshot_store>> open() override {
    return error{errc::unavailable, "the snapshot database is down"};
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
    o.snapshots = std::make_shared<failing_snapshots>();
    o.log = sink;
    auto rt = runtime::start(c, o);
    REQUIRE_MESSAGE(rt, (rt ? "" : to_string(rt.err())));
    REQUIRE((*rt)->register_aggregate<orders::order>());
    auto placed = (*rt)->send<orders::order>("o-1", a_placement());
    REQUIRE(placed.wait_for(10s) == std::future_status::ready);
    REQUIRE(placed.get().is_accepted());
    (*rt)->stop();  // the snapshot writer has reported its attempt once this returns
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
