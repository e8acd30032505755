// clang-format off
// expect: compiles
// A correct decider: registering it and sending it a command compiles.
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
  static state evolve(state s, const event& e) noexcept { return planted::evolve_counter(s, e); }
  static const strata::schema<event>& events() { return planted::counter_events(); }
};

strata::result<void> use(strata::runtime& rt) {
  if (auto r = rt.register_aggregate<counter>(); !r) return r;
  auto f = rt.send<counter>("c-1", planted::add{2});
  (void)f;
  return strata::ok();
}
