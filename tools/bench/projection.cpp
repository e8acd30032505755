// The `projection` workload: catch-up of the order-summary projection over 1 M events. A
// stub until the projections API exists.

#include <cstdio>

#include "tools/bench/common.hpp"

namespace strata::bench {

void run_projection(const options&) {
  // The projections API (actors/projection*, persistence/read_models/order_summary*) does
  // not exist yet: nothing to measure, and no figure is made up.
  result_line line;
  line.workload = "projection";
  line.name = "order-summary catch-up";
  line.figure("status", std::string{"not available yet: no projections API in this build"});
  emit(line);
  std::fprintf(stderr, "[projection] not available yet (no projections API)\n");
}

}  // namespace strata::bench
