// clang-format off
// expect: every alternative of A::event must be described for its JSON
// expect: event_is_described<renamed, false>
// reject: tag_invoke
// An event struct without BOOST_DESCRIBE_STRUCT.
#include <string>

#include "planted.hpp"

struct renamed {
  std::string name;
};
using event = std::variant<planted::added, renamed>;

struct counter {
  static constexpr std::string_view type = "Counter";
  using state = planted::state;
  using command = planted::command;
  using event = ::event;
  static constexpr std::uint32_t state_version = 1;
  static state initial() { return {}; }
  static strata::decision<event> decide(const state&, const command&, const strata::context&) {
    return renamed{"x"};
  }
  static state evolve(state s, const event&) noexcept { return s; }
  static const strata::schema<event>& events();
};

strata::result<void> use(strata::runtime& rt) { return rt.register_aggregate<counter>(); }
