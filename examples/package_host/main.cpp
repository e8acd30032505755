// A host's own aggregate on the installed strata package: a counter that can be raised, in the
// in-memory journal. Prints "counter c-1 at v2: 5" and exits 0 when everything worked.

#include <cstdint>
#include <cstdio>
#include <string_view>
#include <variant>

#include <boost/describe.hpp>

#include <strata/domain/kernel/decider.hpp>
#include <strata/domain/kernel/schema.hpp>
#include <strata/runtime/runtime.hpp>

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

int main(int argc, char** argv) {
  strata::runtime_config config;
  config.journal.backend = strata::journal_backend::memory;
  // `--postgres`: the PostgreSQL journal instead (a build without it says so at start).
  if (argc > 1 && std::string_view{argv[1]} == "--postgres")
    config.journal.backend = strata::journal_backend::postgres;
  config.metrics.enabled = false;
  auto started = strata::runtime::start(config);
  if (!started) {
    std::fprintf(stderr, "start: %s\n", to_string(started.err()).c_str());
    return 1;
  }
  auto rt = std::move(*started);
  if (auto r = rt->register_aggregate<counting::counter>(); !r) {
    std::fprintf(stderr, "register: %s\n", to_string(r.err()).c_str());
    return 1;
  }
  for (std::int64_t by : {2, 3}) {
    auto r = rt->send<counting::counter>("c-1", counting::raise{by}).get();
    if (!r.is_accepted()) {
      std::fprintf(stderr, "send: %s\n", to_string(r).c_str());
      return 1;
    }
  }
  auto view = rt->current_state<counting::counter>("c-1").get();
  if (!view) return 1;
  std::printf("counter c-1 at v%llu: %lld\n", static_cast<unsigned long long>(view->at.value),
              static_cast<long long>(view->state.value));
  rt->stop();
  return view->state.value == 5 ? 0 : 1;
}
