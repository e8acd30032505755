#pragma once

// The operator commands beyond inspection: exporting and importing streams as JSON lines,
// rebuilding past states with the host's deciders, and driving the host's projections.
//
//   int main(int argc, char** argv) {
//     strata::cli app{"bank-strata", "Operate the bank's journal"};
//     app.register_aggregate<bank::account>();
//     app.register_projection(std::make_shared<bank::balances>());
//     strata::add_inspection_commands(app);
//     strata::add_transfer_commands(app);
//     strata::add_decider_commands(app);
//     strata::add_projection_commands(app);
//     return app.run(argc, argv);
//   }

#include <string_view>

#include "strata/cli/cli.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/event_record.hpp"

namespace strata {

/// Reads one line of an export (the record JSON of persistence/record_json.hpp, as
/// `strata --json events` and `strata export` print it); a trailing '\r' is ignored.
/// Errors: `invalid_argument` saying what is wrong (not JSON, a member missing or of the
/// wrong type, a version of 0, an empty aggregate type or id, a hash that is not 64
/// lower-case hex digits). Thread-safety: a pure function.
result<persistence::event_record> parse_export_line(std::string_view line);

/// Adds `export [STREAM]` and `import FILE` (see docs/CLI.md).
void add_transfer_commands(cli& c);

/// Adds `state STREAM [--at-version N | --at TIME]` and `diff STREAM --from A --to B`, which
/// rebuild states with the deciders registered on `c` (`cli::register_aggregate<A>()`).
void add_decider_commands(cli& c);

/// Adds `projections`, `rebuild NAME` and `retry NAME POSITION`, for the projections
/// registered on `c` (`cli::register_projection`).
void add_projection_commands(cli& c);

/// Adds `cluster`, which shows the membership and lease tables of a cluster on a PostgreSQL
/// journal (see docs/CLI.md and docs/CLUSTER.md).
void add_cluster_commands(cli& c);

}  // namespace strata
