// strata: the operator command line (see docs/CLI.md).

#include "strata/cli/cli.hpp"

int main(int argc, char** argv) {
  strata::cli app;
  strata::add_inspection_commands(app);
  strata::add_archive_commands(app);
  return app.run(argc, argv);
}
