#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/describe/class.hpp>

#include "strata/persistence/read_model.hpp"

namespace strata::read_models {

/// Stock of one SKU: on hand, promised to orders, and what is left to promise.
struct inventory_level {
  std::string sku;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t available = 0;  ///< on_hand - reserved.
};
BOOST_DESCRIBE_STRUCT(inventory_level, (), (sku, on_hand, reserved, available))

/// The projection "inventory_levels": one row per SKU (the InventoryItem aggregate id).
class inventory_levels_projection final : public projection {
 public:
  static constexpr std::string_view projection_name = "inventory_levels";
  inventory_levels_projection();
  result<void> setup(read_model_tx& tx) override;
  result<void> drop(read_model_tx& tx) override;
};

/// The level of `sku`, if any stock event was seen for it. Errors: the store's.
result<std::optional<inventory_level>> find_level(read_model_reader& store, std::string_view sku);
/// Every SKU's level, by SKU. Errors: the store's.
result<std::vector<inventory_level>> all_levels(read_model_reader& store);

}  // namespace strata::read_models
