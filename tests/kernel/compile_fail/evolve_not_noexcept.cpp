// clang-format off
// expect: A::evolve must be noexcept
// reject: aggregate_model.hpp
// `evolve` may throw.
#include "planted.hpp"

struct counter {
  static constexpr std::string_view type = "Counter";
  using state = planted::state;
  using command = planted::command;
  using event = planted::event;
  static constexpr std::uint32_t state_version = 1;
  static state initial() { return {}; }
  static strata::decision<event> decide(const state& s, const command& c,
                                        const strata::context& ctx) {
    return planted::decide_counter(s, c, ctx);
  }
  static state evolve(state s, const event& e) { return planted::evolve_counter(s, e); }
  static const strata::schema<event>& events() { return planted::counter_events(); }
};

void use(strata::runtime& rt) { (void)rt.send<counter>("c-1", planted::reset{}); }
