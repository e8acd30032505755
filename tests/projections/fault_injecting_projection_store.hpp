#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "strata/domain/kernel/result.hpp"
#include "strata/persistence/projection_store.hpp"

namespace strata::testing {

/// A plan for `fault_injecting_projection_store_factory`, for tests of the exactly-once
/// guarantee: the commit of the n-th transaction (1-based, counted over every store opened
/// with one plan) returns `unavailable` after rolling back, as if the process died between
/// apply and checkpoint. Thread-safety: any thread.
struct projection_fault_plan {
  std::atomic<std::uint64_t> commits{0};             ///< Commits attempted so far.
  std::atomic<std::uint64_t> fail_commit_number{0};  ///< 0: never fail.
  std::atomic<std::uint64_t> failed{0};              ///< Commits failed so far.
};

/// Opens the inner factory's stores wrapped so that they obey `plan`; everything else is
/// passed through unchanged.
class fault_injecting_projection_store_factory final
    : public persistence::projection_store_factory {
 public:
  fault_injecting_projection_store_factory(
      std::shared_ptr<persistence::projection_store_factory> inner,
      std::shared_ptr<projection_fault_plan> plan);
  result<std::unique_ptr<persistence::projection_store>> open() override;

 private:
  std::shared_ptr<persistence::projection_store_factory> inner_;
  std::shared_ptr<projection_fault_plan> plan_;
};

}  // namespace strata::testing
