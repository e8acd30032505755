// A host's own aggregate on the installed strata package: a counter that can be raised, in the
// in-memory journal (`--sqlite FILE`: an SQLite journal, which counter_strata reads). Prints
// "counter c-1 at v2: 5" and exits 0 when everything worked.

#include <cstdint>
#include <cstdio>
#include <string_view>
#include <variant>

#include <strata/runtime/runtime.hpp>

#include "counter.hpp"

int main(int argc, char** argv) {
  strata::runtime_config config;
  config.journal.backend = strata::journal_backend::memory;
  // `--postgres`: the PostgreSQL journal instead (a build without it says so at start).
  if (argc > 1 && std::string_view{argv[1]} == "--postgres")
    config.journal.backend = strata::journal_backend::postgres;
  if (argc > 2 && std::string_view{argv[1]} == "--sqlite") {
    config.journal.backend = strata::journal_backend::sqlite;
    config.journal.sqlite.path = argv[2];
  }
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
