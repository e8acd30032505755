// The host's own operator command line, built from the installed strata::cli: the inspection
// commands, export and import, and state and diff with its counter decider.
//
//   counter_strata --journal counter.db state Counter-c-1

#include <strata/cli/cli.hpp>
#include <strata/cli/operations.hpp>

#include "counter.hpp"

int main(int argc, char** argv) {
  strata::cli app{"counter-strata", "Inspect the counters' journal"};
  app.register_aggregate<counting::counter>();
  strata::add_inspection_commands(app);
  strata::add_transfer_commands(app);
  strata::add_decider_commands(app);
  return app.run(argc, argv);
}
