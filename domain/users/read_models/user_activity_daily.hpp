#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/persistence/projection.hpp"
#include "strata/persistence/projection_store.hpp"

namespace strata::read_models {

/// What one user did on one UTC day.
struct daily_activity {
  std::string user_id;
  std::string day;  ///< "YYYY-MM-DD" (UTC) of the actions' time.
  std::int64_t actions = 0;
  std::int64_t orders_placed = 0;  ///< Actions of kind placed_order.
  std::int64_t searches = 0;       ///< Actions of kind searched.
};

/// The projection "user_activity_daily": action counts per user per UTC day, from
/// UserActionRecorded (the user is the UserActivity aggregate id).
class user_activity_daily_projection final : public persistence::projection {
 public:
  static constexpr std::string_view projection_name = "user_activity_daily";
  std::string_view name() const override { return projection_name; }
  std::vector<std::string> handles() const override;
  result<void> setup(persistence::projection_transaction& tx) override;
  result<void> drop(persistence::projection_transaction& tx) override;
  result<void> apply(persistence::projection_transaction& tx,
                     const persistence::event_record& record) override;
};

/// The days of `user_id`, oldest first. Errors: the store's.
result<std::vector<daily_activity>> activity_of(persistence::projection_store& store,
                                                std::string_view user_id);

}  // namespace strata::read_models
