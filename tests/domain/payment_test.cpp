#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

#include "strata/domain/payments/payment.hpp"
#include "strata/testing/given_when_then.hpp"
#include "strata/testing/golden.hpp"

using namespace strata;
using namespace strata::payments;
using strata::testing::rejected;

namespace {

using given = strata::testing::given<payment>;

template <class... E>
std::string then(E&&... events) {
  return strata::testing::then<payment>(std::forward<E>(events)...);
}

money eur(std::int64_t minor) {
  return money{minor, "EUR"};
}

const authorized authorized_100{"order-1", eur(10000), "card"};

given authorized_payment() {
  return given{{authorized_100}};
}
given partly_captured() {
  return given{{authorized_100, captured{"cap-1", eur(6000)}}};
}
given voided_payment() {
  return given{{authorized_100, voided{}}};
}
given failed_payment() {
  return given{{authorized_100, failed{"card expired"}}};
}

std::vector<command> every_command() {
  return {authorize{"order-1", eur(100), "card"}, capture{"cap-9", eur(1)}, refund{"ref-9", eur(1)},
          void_authorization{}, fail{"declined"}};
}

}  // namespace

TEST_CASE("a payment is authorized for an order, an amount and a method") {
  CHECK(given{}.when(authorize{"order-1", eur(10000), "card"}) == then(authorized_100));
}

TEST_CASE("a payment is authorized only once") {
  CHECK(authorized_payment().when(authorize{"order-1", eur(10000), "card"}) ==
        rejected(payment_already_authorized));
}

TEST_CASE("an authorization needs an order id, a method, a currency code and a positive amount") {
  CHECK(given{}.when(authorize{"", eur(1), "card"}) == rejected(order_id_missing));
  CHECK(given{}.when(authorize{"order-1", eur(1), ""}) == rejected(method_missing));
  CHECK(given{}.when(authorize{"order-1", money{1, "eur"}, "card"}) == rejected(currency_invalid));
  CHECK(given{}.when(authorize{"order-1", money{1, ""}, "card"}) == rejected(currency_invalid));
  CHECK(given{}.when(authorize{"order-1", eur(0), "card"}) == rejected(amount_not_positive));
  CHECK(given{}.when(authorize{"order-1", eur(-5), "card"}) == rejected(amount_not_positive));
}

TEST_CASE("the full authorized amount can be captured at once") {
  CHECK(authorized_payment().when(capture{"cap-1", eur(10000)}) ==
        then(captured{"cap-1", eur(10000)}));
}

TEST_CASE("partial captures add up to at most the authorized amount") {
  CHECK(partly_captured().when(capture{"cap-2", eur(4000)}) == then(captured{"cap-2", eur(4000)}));
  CHECK(partly_captured().when(capture{"cap-2", eur(4001)}) ==
        rejected(capture_exceeds_authorized));
  CHECK(authorized_payment().when(capture{"cap-1", eur(10001)}) ==
        rejected(capture_exceeds_authorized));
}

TEST_CASE("a second capture of the same capture id is rejected") {
  CHECK(partly_captured().when(capture{"cap-1", eur(100)}) == rejected(capture_duplicate));
}

TEST_CASE("a capture needs a capture id") {
  CHECK(authorized_payment().when(capture{"", eur(100)}) == rejected(capture_id_missing));
}

TEST_CASE("a capture before authorization is rejected") {
  CHECK(given{}.when(capture{"cap-1", eur(100)}) == rejected(payment_not_authorized));
}

TEST_CASE("amounts in another currency are rejected") {
  CHECK(authorized_payment().when(capture{"cap-1", money{100, "USD"}}) ==
        rejected(currency_mismatch));
  CHECK(partly_captured().when(refund{"ref-1", money{100, "USD"}}) == rejected(currency_mismatch));
}

TEST_CASE("non-positive capture and refund amounts are rejected") {
  CHECK(authorized_payment().when(capture{"cap-1", eur(0)}) == rejected(amount_not_positive));
  CHECK(authorized_payment().when(capture{"cap-1", eur(-1)}) == rejected(amount_not_positive));
  CHECK(partly_captured().when(refund{"ref-1", eur(0)}) == rejected(amount_not_positive));
}

TEST_CASE("captured money can be refunded up to the captured total") {
  auto g = partly_captured();
  CHECK(g.when(refund{"ref-1", eur(2500)}) == then(refunded{"ref-1", eur(2500)}));
  g.then_also(refunded{"ref-1", eur(2500)});
  CHECK(g.when(refund{"ref-2", eur(3500)}) == then(refunded{"ref-2", eur(3500)}));
  CHECK(g.when(refund{"ref-2", eur(3501)}) == rejected(refund_exceeds_captured));
}

TEST_CASE("nothing can be refunded before something is captured") {
  CHECK(authorized_payment().when(refund{"ref-1", eur(1)}) == rejected(refund_exceeds_captured));
}

TEST_CASE("a second refund of the same refund id is rejected") {
  auto g = partly_captured().then_also(refunded{"ref-1", eur(100)});
  CHECK(g.when(refund{"ref-1", eur(100)}) == rejected(refund_duplicate));
}

TEST_CASE("a refund needs a refund id") {
  CHECK(partly_captured().when(refund{"", eur(100)}) == rejected(refund_id_missing));
}

TEST_CASE("an authorization with nothing captured can be voided") {
  CHECK(authorized_payment().when(void_authorization{}) == then(voided{}));
}

TEST_CASE("an authorization with a capture cannot be voided") {
  CHECK(partly_captured().when(void_authorization{}) == rejected(payment_captured));
}

TEST_CASE("voiding before authorization is rejected") {
  CHECK(given{}.when(void_authorization{}) == rejected(payment_not_authorized));
}

TEST_CASE("a payment can fail with a reason before or after authorization") {
  CHECK(given{}.when(fail{"declined"}) == then(failed{"declined"}));
  CHECK(authorized_payment().when(fail{"expired"}) == then(failed{"expired"}));
}

TEST_CASE("a failure needs a reason") {
  CHECK(authorized_payment().when(fail{""}) == rejected(reason_missing));
}

TEST_CASE("a payment with captured money cannot fail") {
  CHECK(partly_captured().when(fail{"late decline"}) == rejected(payment_captured));
}

TEST_CASE("nothing is accepted after a payment is voided") {
  for (const auto& c : every_command()) CHECK(voided_payment().when(c) == rejected(payment_voided));
}

TEST_CASE("nothing is accepted after a payment failed") {
  for (const auto& c : every_command()) CHECK(failed_payment().when(c) == rejected(payment_failed));
  CHECK(given{{failed{"declined"}}}.when(authorize{"order-1", eur(1), "card"}) ==
        rejected(payment_failed));
}

TEST_CASE("the payment state tracks authorized, captured and refunded totals") {
  auto s = partly_captured()
               .then_also(captured{"cap-2", eur(1000)})
               .then_also(refunded{"ref-1", eur(500)})
               .state();
  CHECK(s.current == status::authorized);
  CHECK(s.currency == "EUR");
  CHECK(s.authorized_minor == 10000);
  CHECK(s.captured_minor == 7000);
  CHECK(s.refunded_minor == 500);
  CHECK(s.capture_ids == std::vector<std::string>{"cap-1", "cap-2"});
  CHECK(s.refund_ids == std::vector<std::string>{"ref-1"});
  CHECK(voided_payment().state().current == status::voided);
  CHECK(failed_payment().state().current == status::failed);
}

TEST_CASE("every stored Payment event shape matches its golden JSON") {
  CHECK(strata::testing::golden_mismatches<payment>(
            STRATA_GOLDEN_DIR, {
                                   {"PaymentAuthorized", 1, authorized_100},
                                   {"PaymentCaptured", 1, captured{"cap-1", eur(6000)}},
                                   {"PaymentRefunded", 1, refunded{"ref-1", eur(2500)}},
                                   {"PaymentVoided", 1, voided{}},
                                   {"PaymentFailed", 1, failed{"card expired"}},
                               }) == "");
}

TEST_CASE("a payment state survives its snapshot JSON") {
  auto s = partly_captured().then_also(refunded{"ref-1", eur(500)}).state();
  auto text = json::to_json(s);
  CHECK(strata::testing::state_round_trip<payment>(s) == text);
  auto back = json::from_json<state>(boost::json::parse(text));
  CHECK(back.current == status::authorized);
  CHECK(back.captured_minor == 6000);
  CHECK(back.refunded_minor == 500);
  CHECK(back.capture_ids == s.capture_ids);
  CHECK(back.refund_ids == s.refund_ids);
}

TEST_CASE("evolve applies any payment event to any payment state") {
  const auto max = std::numeric_limits<std::int64_t>::max();
  CHECK(strata::testing::evolve_mismatches<payment>(
            {authorized_payment().state(), partly_captured().state(), voided_payment().state(),
             given{{authorized_100, captured{"big", eur(max)}}}.state()},
            {authorized_100, captured{"cap-1", eur(max)}, refunded{"r", eur(max)}, voided{},
             failed{"x"}}) == "");
}
