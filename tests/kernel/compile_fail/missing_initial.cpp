// clang-format off
// expect: A::initial must be `static A::state initial()`
// reject: aggregate_model.hpp
// `initial` is missing.
#include "planted.hpp"

struct counter {
  static constexpr std::string_view type = "Counter";
  using state = planted::state;
  using command = planted::command;
  using event = planted::event;
  static constexpr std::uint32_t state_version = 1;
  static strata::decision<event> decide(const state& s, const command& c,
                                        const strata::context& ctx) {
    return planted::decide_counter(s, c, ctx);
  }
  static state evolve(state s, const event& e) noexcept { return planted::evolve_counter(s, e); }
  static const strata::schema<event>& events() { return planted::counter_events(); }
};

strata::result<void> use(strata::runtime& rt) { return rt.register_aggregate<counter>(); }
