#pragma once

// The building blocks of the deciders planted with one mistake each in this folder: a tiny
// counter aggregate whose parts are all correct.

#include <cstdint>
#include <string_view>
#include <variant>

#include "strata/runtime/runtime.hpp"

namespace planted {

struct state {
  std::int64_t total = 0;
};
BOOST_DESCRIBE_STRUCT(state, (), (total))

struct add {
  std::int64_t amount = 0;
};
BOOST_DESCRIBE_STRUCT(add, (), (amount))
struct reset {};
BOOST_DESCRIBE_STRUCT(reset, (), ())
using command = std::variant<add, reset>;

struct added {
  std::int64_t amount = 0;
};
BOOST_DESCRIBE_STRUCT(added, (), (amount))
struct cleared {};
BOOST_DESCRIBE_STRUCT(cleared, (), ())
using event = std::variant<added, cleared>;

inline strata::decision<event> decide_counter(const state&, const command& c,
                                              const strata::context&) {
  if (const auto* a = std::get_if<add>(&c)) return added{a->amount};
  return cleared{};
}

inline state evolve_counter(state s, const event& e) noexcept {
  if (const auto* a = std::get_if<added>(&e)) return state{s.total + a->amount};
  return state{};
}

inline const strata::schema<event>& counter_events() {
  static const strata::schema<event> s = strata::schema<event>::builder()
                                             .event<added>("Added", 1)
                                             .event<cleared>("Cleared", 1)
                                             .build();
  return s;
}

}  // namespace planted
