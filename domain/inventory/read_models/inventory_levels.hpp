#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/persistence/projection.hpp"
#include "strata/persistence/projection_store.hpp"

namespace strata::read_models {

/// Stock of one SKU: on hand, promised to orders, and what is left to promise.
struct inventory_level {
  std::string sku;
  std::int64_t on_hand = 0;
  std::int64_t reserved = 0;
  std::int64_t available = 0;  ///< on_hand - reserved.
};

/// The projection "inventory_levels": one row per SKU (the InventoryItem aggregate id).
class inventory_levels_projection final : public persistence::projection {
 public:
  static constexpr std::string_view projection_name = "inventory_levels";
  std::string_view name() const override { return projection_name; }
  std::vector<std::string> handles() const override;
  result<void> setup(persistence::projection_transaction& tx) override;
  result<void> drop(persistence::projection_transaction& tx) override;
  result<void> apply(persistence::projection_transaction& tx,
                     const persistence::event_record& record) override;
};

/// The level of `sku`, if any stock event was seen for it. Errors: the store's.
result<std::optional<inventory_level>> find_level(persistence::projection_store& store,
                                                  std::string_view sku);
/// Every SKU's level, by SKU. Errors: the store's.
result<std::vector<inventory_level>> all_levels(persistence::projection_store& store);

}  // namespace strata::read_models
