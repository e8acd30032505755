// strata: the operator command line of the shop (see docs/CLI.md). It knows the shop's four
// deciders (for state and diff) and its four read models (for projections, rebuild, retry).

#include <memory>

#include "strata/cli/cli.hpp"
#include "strata/cli/operations.hpp"
#include "strata/domain/inventory/inventory_item.hpp"
#include "strata/domain/inventory/read_models/inventory_levels.hpp"
#include "strata/domain/orders/order.hpp"
#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/domain/payments/payment.hpp"
#include "strata/domain/payments/read_models/payments_ledger.hpp"
#include "strata/domain/users/read_models/user_activity_daily.hpp"
#include "strata/domain/users/user_activity.hpp"

int main(int argc, char** argv) {
  strata::cli app;
  app.register_aggregate<strata::orders::order>();
  app.register_aggregate<strata::payments::payment>();
  app.register_aggregate<strata::inventory::inventory_item>();
  app.register_aggregate<strata::users::user_activity>();
  app.register_projection(std::make_shared<strata::read_models::order_summary_projection>());
  app.register_projection(std::make_shared<strata::read_models::payments_ledger_projection>());
  app.register_projection(std::make_shared<strata::read_models::inventory_levels_projection>());
  app.register_projection(std::make_shared<strata::read_models::user_activity_daily_projection>());
  strata::add_inspection_commands(app);
  strata::add_transfer_commands(app);
  strata::add_decider_commands(app);
  strata::add_projection_commands(app);
  strata::add_archive_commands(app);
  strata::add_cluster_commands(app);
  return app.run(argc, argv);
}
