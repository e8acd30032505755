#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/persistence/projection.hpp"
#include "strata/persistence/projection_store.hpp"

namespace strata::read_models {

/// One money movement of a payment, in journal order.
struct ledger_entry {
  std::uint64_t position = 0;  ///< Global position of the event.
  std::string payment_id;
  std::string kind;               ///< "authorized", "captured", "refunded", "voided" or "failed".
  std::int64_t amount_minor = 0;  ///< 0 for voided and failed.
  std::string currency;
  std::string reference;  ///< Capture id, refund id, method or failure reason.
};

/// The balance of one payment.
struct payment_balance {
  std::string payment_id;
  std::string order_id;
  std::string currency;
  std::int64_t authorized_minor = 0;
  std::int64_t captured_minor = 0;
  std::int64_t refunded_minor = 0;
  std::string status;  ///< The last entry's kind.
};

/// The projection "payments_ledger": every Payment event as a ledger entry, plus a balance
/// per payment.
class payments_ledger_projection final : public persistence::projection {
 public:
  static constexpr std::string_view projection_name = "payments_ledger";
  std::string_view name() const override { return projection_name; }
  std::vector<std::string> handles() const override;
  result<void> setup(persistence::projection_transaction& tx) override;
  result<void> drop(persistence::projection_transaction& tx) override;
  result<void> apply(persistence::projection_transaction& tx,
                     const persistence::event_record& record) override;
};

/// The entries of `payment_id`, oldest first. Errors: the store's.
result<std::vector<ledger_entry>> ledger_of(persistence::projection_store& store,
                                            std::string_view payment_id);
/// The balance of `payment_id`, if it was authorized. Errors: the store's.
result<std::optional<payment_balance>> balance_of(persistence::projection_store& store,
                                                  std::string_view payment_id);

}  // namespace strata::read_models
