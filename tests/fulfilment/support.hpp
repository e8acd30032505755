#pragma once

// A runtime with the fulfilment process on a memory or SQLite journal that can be stopped
// and started again on the same journal and read-model files, plus helpers that read the
// whole journal and count what the process did.

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "strata/domain/fulfilment/fulfilment.hpp"
#include "strata/domain/fulfilment/processes/fulfilment_process.hpp"
#include "strata/domain/inventory/inventory_item.hpp"
#include "strata/domain/orders/order.hpp"
#include "strata/domain/payments/payment.hpp"
#include "strata/persistence/memory_journal.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/runtime/temp_dir.hpp"
#include "tests/support/fault_injecting_journal.hpp"

namespace strata::testing {

using saga = fulfilment::fulfilment;

enum class backend { memory, sqlite };

inline const char* name_of(backend b) {
  return b == backend::memory ? "memory" : "sqlite";
}

class fulfilment_harness {
 public:
  explicit fulfilment_harness(backend b) {
    config_.metrics.enabled = false;
    config_.projections.path = dir_.file("read.db");
    config_.journal.sqlite.path = dir_.file("journal.db");  // nothing in the working directory
    config_.projections.retry_delay_ms = 20;
    if (b == backend::memory) {
      inner_ = std::make_shared<persistence::memory_journal_factory>();
    } else {
      persistence::sqlite_journal_options o;
      o.path = dir_.file("journal.db");
      inner_ = std::make_shared<persistence::sqlite_journal_factory>(o);
    }
    faults_ = std::make_shared<persistence::fault_plan>();
    journal_ = std::make_shared<persistence::fault_injecting_journal_factory>(inner_, faults_);
  }
  ~fulfilment_harness() { close(); }

  /// Starts a runtime and the process on the shared journal (the state "after a restart").
  void open(fulfilment_options options = {}) {
    runtime_overrides o;
    o.journal = journal_;
    auto rt = runtime::start(config_, o);
    REQUIRE_MESSAGE(rt, (rt ? "" : to_string(rt.err())));
    rt_ = std::move(*rt);
    auto reg = register_fulfilment_aggregates(*rt_);
    REQUIRE_MESSAGE(reg, (reg ? "" : to_string(reg.err())));
    process_options p;
    p.retry_delay = std::chrono::milliseconds{10};
    auto pm = start_fulfilment(*rt_, std::move(options), p);
    REQUIRE_MESSAGE(pm, (pm ? "" : to_string(pm.err())));
    pm_ = std::move(*pm);
  }

  /// Stops the process, then the runtime.
  void close() {
    pm_.reset();
    if (rt_) rt_->stop();
    rt_.reset();
  }

  runtime& rt() { return *rt_; }
  process_manager& process() { return *pm_; }
  persistence::fault_plan& faults() { return *faults_; }

  command_result run_host(std::function<std::future<command_result>(runtime&)> send) {
    auto r = send(*rt_).get();
    REQUIRE_MESSAGE(r.is_accepted(), to_string(r));
    return r;
  }

  void stock(const std::string& sku, std::int64_t quantity) {
    run_host([&](runtime& rt) {
      return rt.send<inventory::inventory_item>(sku, inventory::receive{quantity});
    });
  }

  /// Places and confirms `order` with `lines` (sku, quantity) at 1000 minor units each.
  void place_and_confirm(const std::string& order,
                         const std::vector<std::pair<std::string, std::int64_t>>& lines) {
    orders::place p{"customer-1", "EUR", {}};
    for (const auto& [sku, q] : lines) p.lines.push_back(orders::line{sku, q, money{1000, "EUR"}});
    command_metadata m;
    m.correlation_id = order;
    m.user_id = "customer-1";
    run_host([&](runtime& rt) { return rt.send<orders::order>(order, p, m); });
    run_host([&](runtime& rt) { return rt.send<orders::order>(order, orders::confirm{}, m); });
  }

  /// Polls the Fulfilment of `order` until it finished (bounded); its final state.
  fulfilment::state wait_finished(const std::string& order,
                                  std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    fulfilment::state last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto v = rt_->current_state<saga>(order).get();
      if (v) {
        last = v->state;
        if (fulfilment::is_finished(last)) return last;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling interval
    }
    FAIL("fulfilment of " << order << " did not finish; phase "
                          << std::string{boost::describe::enum_to_string(last.current, "?")});
    return last;
  }

  /// Waits (bounded) until the manager halted at an injected crash point.
  bool wait_halted(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pm_->is_halted()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling interval
    }
    return false;
  }

  template <class A>
  typename A::state state_of(const std::string& id) {
    auto v = rt_->current_state<A>(id).get();
    REQUIRE_MESSAGE(v, (v ? "" : to_string(v.err())));
    return v->state;
  }

  /// Every record in the journal, in global order.
  std::vector<persistence::event_record> journal_contents() {
    auto j = inner_->open();
    REQUIRE(j);
    auto all = (*j)->read_all(global_position{0}, 1'000'000);
    REQUIRE_MESSAGE(all, (all ? "" : to_string(all.err())));
    return *all;
  }

  runtime_config& config() { return config_; }
  std::string file(const std::string& name) const { return dir_.file(name); }

 private:
  temp_dir dir_;
  runtime_config config_;
  std::shared_ptr<persistence::journal_factory> inner_;
  std::shared_ptr<persistence::fault_plan> faults_;
  std::shared_ptr<persistence::journal_factory> journal_;
  std::unique_ptr<runtime> rt_;
  std::unique_ptr<process_manager> pm_;
};

/// How many records of `type` on `aggregate_id` (any aggregate type) whose data mentions
/// `needle` (empty: any).
inline std::size_t count(const std::vector<persistence::event_record>& records,
                         const std::string& type, const std::string& aggregate_id,
                         const std::string& needle = {}) {
  std::size_t n = 0;
  for (const auto& r : records)
    if (r.event_type == type && r.aggregate_id == aggregate_id &&
        (needle.empty() || r.data.find(needle) != std::string::npos))
      ++n;
  return n;
}

/// Every event the process appended for `order`, rendered "Type@Aggregate" in global order.
inline std::string story(const std::vector<persistence::event_record>& records,
                         const std::string& order) {
  std::string out;
  for (const auto& r : records) {
    if (r.correlation_id != order) continue;
    if (!out.empty()) out += ' ';
    out += r.event_type + "@" + r.aggregate_type;
  }
  return out;
}

/// No event the process caused appears twice with the same body on the same aggregate:
/// each step was applied at most once.
inline void check_no_step_applied_twice(const std::vector<persistence::event_record>& records) {
  std::map<std::string, std::size_t> events_by_type_and_body;
  for (const auto& r : records) {
    if (r.command_id.rfind("fulfil:", 0) != 0) continue;
    const std::string key = r.aggregate_type + "-" + r.aggregate_id + " " + r.event_type + r.data;
    CHECK_MESSAGE(++events_by_type_and_body[key] == 1, "applied twice: " << key);
  }
}

}  // namespace strata::testing
