#pragma once

// The host's own aggregate: a counter that can be raised.

#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/describe.hpp>

#include <strata/domain/kernel/decider.hpp>
#include <strata/domain/kernel/schema.hpp>

namespace counting {

struct raise {
  std::int64_t by = 0;
};
BOOST_DESCRIBE_STRUCT(raise, (), (by))
using command = std::variant<raise>;

struct raised {
  std::int64_t by = 0;
};
BOOST_DESCRIBE_STRUCT(raised, (), (by))
using event = std::variant<raised>;

struct state {
  std::int64_t value = 0;
};
BOOST_DESCRIBE_STRUCT(state, (), (value))

struct counter {
  static constexpr std::string_view type = "Counter";
  using state = counting::state;
  using command = counting::command;
  using event = counting::event;
  static constexpr std::uint32_t state_version = 1;

  static state initial() { return {}; }

  static strata::decision<event> decide(const state&, const command& c, const strata::context&) {
    const auto& r = std::get<raise>(c);
    if (r.by <= 0) return strata::reject("not_positive", "a counter is raised by at least 1");
    return std::vector<event>{raised{r.by}};
  }

  static state evolve(state s, const event& e) noexcept {
    s.value += std::get<raised>(e).by;
    return s;
  }

  static const strata::schema<event>& events() {
    static const strata::schema<event> s =
        strata::schema<event>::builder().event<raised>("CounterRaised", 1).build();
    return s;
  }
};

}  // namespace counting
