#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/describe/class.hpp>

#include "strata/persistence/read_model.hpp"

namespace strata::read_models {

/// What one user did on one UTC day.
struct daily_activity {
  std::string user_id;
  std::string day;  ///< "YYYY-MM-DD" (UTC) of the actions' time.
  std::int64_t actions = 0;
  std::int64_t orders_placed = 0;  ///< Actions of kind placed_order.
  std::int64_t searches = 0;       ///< Actions of kind searched.
};
BOOST_DESCRIBE_STRUCT(daily_activity, (), (user_id, day, actions, orders_placed, searches))

/// The projection "user_activity_daily": action counts per user per UTC day, from
/// UserActionRecorded (the user is the UserActivity aggregate id).
class user_activity_daily_projection final : public projection {
 public:
  static constexpr std::string_view projection_name = "user_activity_daily";
  user_activity_daily_projection();
  result<void> setup(read_model_tx& tx) override;
  result<void> drop(read_model_tx& tx) override;
};

/// The days of `user_id`, oldest first. Errors: the store's.
result<std::vector<daily_activity>> activity_of(read_model_reader& store, std::string_view user_id);

}  // namespace strata::read_models
