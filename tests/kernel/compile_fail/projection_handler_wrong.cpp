// clang-format off
// expect: projection::on<E>(handler): the handler must be callable as `strata::result<void>(strata::read_model_tx&, const E&, const strata::event_info&)`
// reject: no match for call
// A projection's handler takes the event by value and forgets the transaction.
#include "planted.hpp"
#include "strata/persistence/read_model.hpp"

class totals final : public strata::projection {
 public:
  totals() : projection("totals") {
    on<planted::added>([](planted::added) -> strata::result<void> { return strata::ok(); });
  }
  strata::result<void> setup(strata::read_model_tx&) override { return strata::ok(); }
  strata::result<void> drop(strata::read_model_tx&) override { return strata::ok(); }
};

totals make_totals() { return totals{}; }
