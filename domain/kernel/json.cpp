#include "strata/domain/kernel/json.hpp"

#include <cmath>

namespace strata::json {

bool holds_non_finite(const boost::json::value& v) noexcept {
  switch (v.kind()) {
    case boost::json::kind::double_:
      return !std::isfinite(v.get_double());
    case boost::json::kind::array:
      for (const auto& e : v.get_array())
        if (holds_non_finite(e)) return true;
      return false;
    case boost::json::kind::object:
      for (const auto& m : v.get_object())
        if (holds_non_finite(m.value())) return true;
      return false;
    default:
      return false;
  }
}

}  // namespace strata::json
