#include "strata/persistence/projection.hpp"

namespace strata::persistence {

result<void> projection::apply_batch(projection_transaction& tx,
                                     const std::vector<const event_record*>& records) {
  for (const auto* r : records)
    if (auto a = apply(tx, *r); !a) return a;
  return ok();
}

}  // namespace strata::persistence
