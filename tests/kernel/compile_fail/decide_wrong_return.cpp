// clang-format off
// expect: A::decide must be `static strata::decision<A::event> decide(const A::state&, const A::command&, const strata::context&)`
// reject: tag_invoke
// reject: aggregate_model.hpp
// `decide` returns the events instead of a decision.
#include <vector>

#include "planted.hpp"

struct counter {
  static constexpr std::string_view type = "Counter";
  using state = planted::state;
  using command = planted::command;
  using event = planted::event;
  static constexpr std::uint32_t state_version = 1;
  static state initial() { return {}; }
  static std::vector<event> decide(const state&, const command&, const strata::context&) {
    return {planted::cleared{}};
  }
  static state evolve(state s, const event& e) noexcept { return planted::evolve_counter(s, e); }
  static const strata::schema<event>& events() { return planted::counter_events(); }
};

strata::result<void> use(strata::runtime& rt) { return rt.register_aggregate<counter>(); }
