#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/describe/class.hpp>

#include "strata/persistence/read_model.hpp"

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
BOOST_DESCRIBE_STRUCT(ledger_entry, (),
                      (position, payment_id, kind, amount_minor, currency, reference))

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
BOOST_DESCRIBE_STRUCT(payment_balance, (),
                      (payment_id, order_id, currency, authorized_minor, captured_minor,
                       refunded_minor, status))

/// The projection "payments_ledger": every Payment event as a ledger entry, plus a balance
/// per payment.
class payments_ledger_projection final : public projection {
 public:
  static constexpr std::string_view projection_name = "payments_ledger";
  payments_ledger_projection();
  result<void> setup(read_model_tx& tx) override;
  result<void> drop(read_model_tx& tx) override;
};

/// The entries of `payment_id`, oldest first. Errors: the store's.
result<std::vector<ledger_entry>> ledger_of(read_model_reader& store, std::string_view payment_id);
/// The balance of `payment_id`, if it was authorized. Errors: the store's.
result<std::optional<payment_balance>> balance_of(read_model_reader& store,
                                                  std::string_view payment_id);

}  // namespace strata::read_models
