// clang-format off
// expect: no matching
// expect: call to
// reject: aggregate_model.hpp
// A command of another aggregate sent to a counter: the typed `send` takes only the
// aggregate's own command, so the mistake is a compile error at the call, not a runtime one.
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

/// A command of some other aggregate.
struct transfer_funds {
  int amount = 0;
};

strata::result<void> use(strata::runtime& rt) {
  if (auto r = rt.register_aggregate<counter>(); !r) return r;
  auto f = rt.send<counter>("c-1", transfer_funds{5});
  (void)f;
  return strata::ok();
}
