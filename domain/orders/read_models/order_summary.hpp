#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/describe/class.hpp>

#include "strata/persistence/read_model.hpp"

/// Read models built from the journal by projections. Each file owns its tables (schema at
/// the top of its .cpp) and offers typed queries over a `read_model_reader` connection.
namespace strata::read_models {

/// One order as the order-summary read model shows it.
struct order_summary {
  std::string order_id;
  std::string customer_id;
  std::string status;  ///< "open", "confirmed", "ready_to_ship", "shipped" or "cancelled".
  std::string currency;
  std::int64_t total_minor = 0;     ///< Sum of quantity x unit price over the lines.
  std::int64_t item_count = 0;      ///< Units over all lines.
  std::uint64_t last_position = 0;  ///< Global position of the last event applied to it.

  friend bool operator==(const order_summary& a, const order_summary& b) {
    return a.order_id == b.order_id && a.customer_id == b.customer_id && a.status == b.status &&
           a.currency == b.currency && a.total_minor == b.total_minor &&
           a.item_count == b.item_count && a.last_position == b.last_position;
  }
};
BOOST_DESCRIBE_STRUCT(order_summary, (),
                      (order_id, customer_id, status, currency, total_minor, item_count,
                       last_position))

/// Renders a summary as "o-1 c-7 open 3x 1500 EUR".
std::string to_string(const order_summary& s);

/// The projection "order_summary": one row per order (status, total, item count, customer)
/// from the Order events, plus its lines (to keep totals right when a line is removed).
class order_summary_projection final : public projection {
 public:
  static constexpr std::string_view projection_name = "order_summary";
  /// Handles every Order event; folds a batch in memory (each touched order's row and lines
  /// read once, each changed row or line written once, with the values the handlers leave).
  order_summary_projection();
  result<void> setup(read_model_tx& tx) override;
  result<void> drop(read_model_tx& tx) override;
};

/// Queries of the order-summary read model. Errors: the store's.
result<std::optional<order_summary>> find_order(read_model_reader& store,
                                                std::string_view order_id);
/// Orders of `customer_id`, by order id.
result<std::vector<order_summary>> orders_by_customer(read_model_reader& store,
                                                      std::string_view customer_id);
/// Orders in `status`, by order id.
result<std::vector<order_summary>> orders_by_status(read_model_reader& store,
                                                    std::string_view status);
/// Every order, by order id.
result<std::vector<order_summary>> all_orders(read_model_reader& store);

}  // namespace strata::read_models
