#pragma once

// Shared by the actor tests: an engine over the Order aggregate and a journal the test can
// fault, with blocking helpers that wait on futures (bounded, never a bare sleep).

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strata/actors/engine.hpp"
#include "strata/domain/orders/order.hpp"
#include "strata/persistence/memory_journal.hpp"
#include "tests/support/fault_injecting_journal.hpp"
#include "tests/support/wait_until.hpp"

namespace strata::testing {

class fixed_clock final : public clock {
 public:
  timestamp now() const override { return from_unix_micros(1'764'619'200'000'000); }
};

inline orders::line make_line(std::string sku, std::int64_t qty, std::int64_t price = 100) {
  return orders::line{std::move(sku), qty, money{price, "EUR"}};
}

inline orders::command place_order(std::string customer = "c-1") {
  return orders::place{std::move(customer), "EUR", {make_line("sku-1", 1)}};
}

struct order_engine {
  std::shared_ptr<persistence::memory_journal_factory> memory =
      std::make_shared<persistence::memory_journal_factory>();
  std::shared_ptr<persistence::fault_plan> faults = std::make_shared<persistence::fault_plan>();
  std::shared_ptr<persistence::fault_injecting_journal_factory> journal =
      std::make_shared<persistence::fault_injecting_journal_factory>(memory, faults);
  std::unique_ptr<actors::engine> engine;

  order_engine(const order_engine&) = delete;
  order_engine& operator=(const order_engine&) = delete;

  explicit order_engine(actors::engine_options options = {}) {
    auto e = actors::engine::start(options, journal, std::make_shared<fixed_clock>());
    REQUIRE_MESSAGE(e, (e ? "" : to_string(e.err())));
    engine = std::move(*e);
    auto added = engine->add_aggregate(actors::model_of<orders::order>());
    REQUIRE(added);
  }

  /// A journal call a failed check left held must not keep the engine from stopping.
  ~order_engine() { faults->release(); }

  std::future<actors::command_result> send(std::string id, orders::command c,
                                           command_metadata meta = {}) {
    auto p = std::make_shared<std::promise<actors::command_result>>();
    auto f = p->get_future();
    engine->send(orders::order::type, std::move(id), std::any{std::move(c)}, std::move(meta),
                 [p](actors::command_result r) { p->set_value(std::move(r)); });
    return f;
  }

  actors::command_result run(std::string id, orders::command c, command_metadata meta = {}) {
    return wait(send(std::move(id), std::move(c), std::move(meta)));
  }

  result<actors::state_view> state(std::string id) {
    auto p = std::make_shared<std::promise<result<actors::state_view>>>();
    auto f = p->get_future();
    engine->query_state(orders::order::type, std::move(id),
                        [p](result<actors::state_view> v) { p->set_value(std::move(v)); });
    return wait(std::move(f));
  }

  template <class T>
  static T wait(std::future<T> f) {
    auto status = f.wait_for(std::chrono::seconds(20));
    REQUIRE_MESSAGE(status == std::future_status::ready, "no answer within 20 s");
    return f.get();
  }

  /// The whole journal, read directly (not through the actors).
  std::vector<persistence::event_record> journal_contents() {
    auto j = memory->open();
    REQUIRE(j);
    auto all = (*j)->read_all(global_position{0}, 1'000'000);
    REQUIRE(all);
    return *all;
  }
};

/// The value of `series` (name and labels, as exposed) in the text exposition `text`.
inline double sample(const std::string& text, const std::string& series) {
  auto pos = text.find("\n" + series + " ");
  REQUIRE_MESSAGE(pos != std::string::npos, "no sample " << series);
  return std::stod(text.substr(pos + series.size() + 2));
}

inline const orders::state& order_state(const actors::state_view& v) {
  return std::any_cast<const orders::state&>(v.state);
}

/// How many of `futures` have answered, without waiting; each answer is moved once into the
/// same place of `results` (as large as `futures`).
inline int collect_answers(std::vector<std::future<actors::command_result>>& futures,
                           std::vector<std::optional<actors::command_result>>& results) {
  int n = 0;
  for (std::size_t i = 0; i < futures.size(); ++i) {
    if (!results[i] && futures[i].wait_for(std::chrono::seconds(0)) == std::future_status::ready)
      results[i] = futures[i].get();
    n += results[i].has_value();
  }
  return n;
}

}  // namespace strata::testing
