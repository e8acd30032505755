// The Fulfilment decider in Given/When/Then form, and the pure plan over it: which steps are
// due in each state, with which deterministic ids, and what each answer records.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "strata/domain/fulfilment/fulfilment.hpp"
#include "strata/domain/fulfilment/plan.hpp"
#include "strata/testing/given_when_then.hpp"
#include "strata/testing/golden.hpp"

using namespace strata;
using namespace strata::fulfilment;
using strata::testing::given;
using strata::testing::no_events;
using strata::testing::rejected;
using saga = strata::fulfilment::fulfilment;

namespace {

template <class... E>
std::string then(E&&... e) {
  return strata::testing::then<saga>(std::forward<E>(e)...);
}

started two_lines() {
  return started{"1", {line{"sku-a", 2}, line{"sku-b", 1}}, money{5000, "EUR"}, "card"};
}

start start_two_lines() {
  return start{"1", {line{"sku-a", 2}, line{"sku-b", 1}}, money{5000, "EUR"}, "card"};
}

given<saga> reserved_both() {
  return given<saga>{{two_lines(), stock_reserved{"sku-a", 2}, stock_reserved{"sku-b", 1}}};
}

given<saga> authorized() {
  return reserved_both().then_also(payment_authorized{money{5000, "EUR"}});
}

given<saga> captured() {
  return authorized().then_also(payment_captured{money{5000, "EUR"}});
}

given<saga> out_of_stock() {
  return given<saga>{{two_lines(), stock_reserved{"sku-a", 2},
                      reservation_refused{"sku-b", "insufficient_stock", "only 0 units"}}};
}

// Renders the due steps as "kind aggregate (command id)" separated by "; ".
std::string due(const state& s) {
  std::string out;
  for (const auto& st : next_steps(s)) {
    if (!out.empty()) out += "; ";
    out += to_string(st);
  }
  return out.empty() ? "nothing" : out;
}

step only_step(const state& s) {
  auto steps = next_steps(s);
  REQUIRE(steps.size() == 1);
  return steps.front();
}

step_outcome accepted(std::vector<std::string> types = {}) {
  step_outcome o;
  o.accepted = true;
  o.event_types = std::move(types);
  return o;
}

step_outcome refused(std::string code) {
  step_outcome o;
  o.code = std::move(code);
  o.message = "because";
  return o;
}

std::string rendered(const command& c) {
  return std::visit([](const auto& x) { return json::to_json(x); }, c) + " #" +
         std::to_string(c.index());
}

}  // namespace

TEST_CASE("starting a fulfilment records the order's lines, amount and payment method") {
  CHECK(given<saga>{}.when(start_two_lines()) == then(two_lines()));
}

TEST_CASE("starting a started fulfilment again changes nothing") {
  CHECK(given<saga>{{two_lines()}}.when(start_two_lines()) == no_events);
}

TEST_CASE("a start is rejected unless it names this order, lines, an amount and a method") {
  auto s = start_two_lines();
  s.order_id = "";
  CHECK(given<saga>{}.when(s) == rejected(order_id_missing));
  s = start_two_lines();
  s.order_id = "2";
  CHECK(given<saga>{}.when(s) == rejected(order_id_mismatch));
  s = start_two_lines();
  s.lines.clear();
  CHECK(given<saga>{}.when(s) == rejected(lines_missing));
  s = start_two_lines();
  s.lines[1].sku = "";
  CHECK(given<saga>{}.when(s) == rejected(sku_missing));
  s = start_two_lines();
  s.lines[1].sku = "sku-a";
  CHECK(given<saga>{}.when(s) == rejected(sku_duplicate));
  s = start_two_lines();
  s.lines[0].quantity = 0;
  CHECK(given<saga>{}.when(s) == rejected(quantity_not_positive));
  s = start_two_lines();
  s.amount.minor = 0;
  CHECK(given<saga>{}.when(s) == rejected(amount_not_positive));
  s = start_two_lines();
  s.amount.currency = "eur";
  CHECK(given<saga>{}.when(s) == rejected(currency_invalid));
  s = start_two_lines();
  s.payment_method = "";
  CHECK(given<saga>{}.when(s) == rejected(method_missing));
}

TEST_CASE("an outcome recorded before the fulfilment started is rejected") {
  CHECK(given<saga>{}.when(record_reserved{"sku-a"}) == rejected(fulfilment_not_started));
  CHECK(given<saga>{}.when(record_authorized{}) == rejected(fulfilment_not_started));
  CHECK(given<saga>{}.when(record_cancelled{}) == rejected(fulfilment_not_started));
}

TEST_CASE("a reservation is recorded once per line, with the line's quantity") {
  given<saga> g{{two_lines()}};
  CHECK(g.when(record_reserved{"sku-a"}) == then(stock_reserved{"sku-a", 2}));
  g.then_also(stock_reserved{"sku-a", 2});
  CHECK(g.when(record_reserved{"sku-a"}) == no_events);
  CHECK(g.when(record_reservation_refused{"sku-a", "insufficient_stock", "x"}) == no_events);
  CHECK(g.when(record_reserved{"sku-z"}) == rejected(sku_unknown));
}

TEST_CASE("a refused reservation needs a reason and is recorded with the inventory's code") {
  given<saga> g{{two_lines()}};
  CHECK(g.when(record_reservation_refused{"sku-b", "insufficient_stock", ""}) ==
        rejected(reason_missing));
  CHECK(g.when(record_reservation_refused{"sku-b", "insufficient_stock", "only 0 units"}) ==
        then(reservation_refused{"sku-b", "insufficient_stock", "only 0 units"}));
}

TEST_CASE("once every line is reserved the fulfilment authorizes the payment") {
  auto s = reserved_both().state();
  CHECK(s.current == phase::authorizing);
  CHECK(reserved_both().when(record_authorized{}) == then(payment_authorized{money{5000, "EUR"}}));
}

TEST_CASE("the payment is not authorized while stock is still being reserved") {
  given<saga> g{{two_lines(), stock_reserved{"sku-a", 2}}};
  CHECK(g.state().current == phase::reserving);
  CHECK(g.when(record_authorized{}) == rejected(step_not_due));
  CHECK(g.when(record_captured{}) == rejected(step_not_due));
  CHECK(g.when(record_ready{}) == rejected(step_not_due));
}

TEST_CASE("a refused reservation switches to compensation once every line has an outcome") {
  given<saga> g{{two_lines(), reservation_refused{"sku-b", "insufficient_stock", "only 0"}}};
  CHECK(g.state().current == phase::reserving);
  auto s = out_of_stock().state();
  CHECK(s.current == phase::compensating);
  CHECK(s.failure_code == "insufficient_stock");
  CHECK(s.failure_reason == "sku-b: only 0 units");
}

TEST_CASE("an authorization is recorded once and a second answer changes nothing") {
  CHECK(authorized().when(record_authorized{}) == no_events);
  CHECK(authorized().when(record_declined{"payment_failed", "x"}) == no_events);
}

TEST_CASE("a declined payment needs a reason and starts compensation") {
  CHECK(reserved_both().when(record_declined{"payment_failed", ""}) == rejected(reason_missing));
  CHECK(reserved_both().when(record_declined{"payment_failed", "card expired"}) ==
        then(payment_declined{"payment_failed", "card expired"}));
  auto s = reserved_both().then_also(payment_declined{"payment_failed", "card expired"}).state();
  CHECK(s.current == phase::compensating);
  CHECK(s.payment == payment_status::declined);
  CHECK(s.failure_reason == "payment declined: card expired");
}

TEST_CASE("the capture follows the authorization and is recorded once") {
  CHECK(reserved_both().when(record_captured{}) == rejected(step_not_due));
  CHECK(authorized().when(record_captured{}) == then(payment_captured{money{5000, "EUR"}}));
  CHECK(captured().when(record_captured{}) == no_events);
  CHECK(authorized().when(record_capture_failed{"capture_exceeds_authorized", "too much"}) ==
        then(capture_failed{"capture_exceeds_authorized", "too much"}));
}

TEST_CASE("a ready order completes the fulfilment and nothing is due after it") {
  CHECK(captured().when(record_ready{}) == then(completed{}));
  auto done = captured().then_also(completed{});
  CHECK(done.state().current == phase::completed);
  CHECK(is_finished(done.state()));
  CHECK(done.when(record_ready{}) == no_events);
  CHECK(done.when(record_released{"sku-a"}) == rejected(fulfilment_finished));
  CHECK(next_steps(done.state()).empty());
}

TEST_CASE("an order that refuses to be made ready is compensated with a refund") {
  auto g = captured().then_also(ready_refused{"order_cancelled", "the order is cancelled"});
  CHECK(g.state().current == phase::compensating);
  CHECK(due(g.state()) ==
        "release InventoryItem-sku-a (fulfil:1:release:sku-a); release InventoryItem-sku-b "
        "(fulfil:1:release:sku-b); refund Payment-pay-1 (fulfil:1:refund)");
  CHECK(g.when(record_refunded{}) == then(payment_refunded{money{5000, "EUR"}}));
  CHECK(g.when(record_voided{}) == rejected(step_not_due));
}

TEST_CASE("compensation releases only what was reserved, once") {
  auto g = out_of_stock();
  CHECK(g.when(record_released{"sku-b"}) == rejected(step_not_due));
  CHECK(g.when(record_released{"sku-a"}) == then(reservation_released{"sku-a"}));
  g.then_also(reservation_released{"sku-a"});
  CHECK(g.when(record_released{"sku-a"}) == no_events);
}

TEST_CASE("the order is cancelled only after everything held for it was given back") {
  auto g = out_of_stock();
  CHECK(g.when(record_cancelled{}) == rejected(step_not_due));
  g.then_also(reservation_released{"sku-a"});
  CHECK(g.when(record_cancelled{}) == then(compensated{"sku-b: only 0 units", ""}));
  g.then_also(compensated{"sku-b: only 0 units", ""});
  CHECK(g.state().current == phase::compensated);
  CHECK(g.when(record_cancelled{}) == no_events);
}

TEST_CASE("an authorized payment is voided before the order is cancelled") {
  auto g = authorized().then_also(capture_failed{"capture_exceeds_authorized", "x"});
  CHECK(g.when(record_cancelled{}) == rejected(step_not_due));
  CHECK(g.when(record_voided{}) == then(payment_voided{}));
  g.then_also(payment_voided{});
  CHECK(g.when(record_voided{}) == no_events);
}

TEST_CASE("evolve applies any event to any state") {
  CHECK(strata::testing::evolve_mismatches<saga>(
            {out_of_stock().state(), captured().state(), given<saga>{{two_lines()}}.state()},
            {two_lines(), stock_reserved{"sku-x", 1}, reservation_released{"sku-x"}}) == "");
}

TEST_CASE("every event survives its wire encoding") {
  for (const auto& e : strata::testing::every_alternative<saga::event>()) {
    auto enc = saga::events().encode(e);
    CHECK(std::string{enc.type}.rfind("Fulfilment", 0) == 0);
    auto back = saga::events().decode(enc.type, enc.schema_version, enc.data);
    REQUIRE(back);
    REQUIRE(back->size() == 1);
    CHECK(strata::testing::render<saga>(back->front()) == strata::testing::render<saga>(e));
  }
}

TEST_CASE("a started fulfilment reserves every line with a deterministic command id") {
  auto s = given<saga>{{two_lines()}}.state();
  CHECK(due(s) ==
        "reserve InventoryItem-sku-a (fulfil:1:reserve:sku-a); reserve InventoryItem-sku-b "
        "(fulfil:1:reserve:sku-b)");
  auto steps = next_steps(s);
  const auto& r = std::get<inventory::reserve>(std::get<inventory::command>(steps[0].command));
  CHECK(r.order_id == "1");
  CHECK(r.quantity == 2);
  CHECK(steps[0].record_command_id() == "fulfil:1:reserve:sku-a:recorded");
  // The same state plans the same ids again: a resend is a duplicate.
  CHECK(due(s) == due(given<saga>{{two_lines()}}.state()));
}

TEST_CASE("only the lines still pending are reserved again") {
  auto s = given<saga>{{two_lines(), stock_reserved{"sku-a", 2}}}.state();
  CHECK(due(s) == "reserve InventoryItem-sku-b (fulfil:1:reserve:sku-b)");
}

TEST_CASE("the happy path plans authorize, capture and mark_ready in turn") {
  auto a = only_step(reserved_both().state());
  CHECK(to_string(a) == "authorize Payment-pay-1 (fulfil:1:authorize)");
  const auto& auth = std::get<payments::authorize>(std::get<payments::command>(a.command));
  CHECK(auth.amount == money{5000, "EUR"});
  CHECK(auth.method == "card");
  auto c = only_step(authorized().state());
  CHECK(to_string(c) == "capture Payment-pay-1 (fulfil:1:capture)");
  CHECK(std::get<payments::capture>(std::get<payments::command>(c.command)).capture_id ==
        "capture-1");
  CHECK(to_string(only_step(captured().state())) == "mark_ready Order-1 (fulfil:1:mark_ready)");
}

TEST_CASE("compensation after a declined payment releases stock then cancels with the reason") {
  auto g = reserved_both().then_also(payment_declined{"payment_failed", "card expired"});
  CHECK(due(g.state()) ==
        "release InventoryItem-sku-a (fulfil:1:release:sku-a); release InventoryItem-sku-b "
        "(fulfil:1:release:sku-b)");
  g.then_also(reservation_released{"sku-a"}).then_also(reservation_released{"sku-b"});
  auto cancel = only_step(g.state());
  CHECK(to_string(cancel) == "cancel_order Order-1 (fulfil:1:cancel_order)");
  CHECK(std::get<orders::cancel>(std::get<orders::command>(cancel.command)).reason ==
        "payment declined: card expired");
}

TEST_CASE("an authorized payment is voided during compensation") {
  auto g = authorized().then_also(capture_failed{"capture_exceeds_authorized", "x"});
  auto steps = next_steps(g.state());
  REQUIRE(steps.size() == 3);
  CHECK(to_string(steps[2]) == "void_payment Payment-pay-1 (fulfil:1:void_payment)");
}

TEST_CASE("answers are interpreted by what the target did, not by what was sent") {
  auto s = given<saga>{{two_lines()}}.state();
  auto reserve = next_steps(s).front();
  CHECK(rendered(interpret(reserve, accepted({"StockReserved"}))) ==
        rendered(record_reserved{"sku-a"}));
  CHECK(rendered(interpret(reserve, accepted())) == rendered(record_reserved{"sku-a"}));
  CHECK(rendered(interpret(reserve, refused("insufficient_stock"))) ==
        rendered(record_reservation_refused{"sku-a", "insufficient_stock", "because"}));

  auto auth = only_step(reserved_both().state());
  CHECK(rendered(interpret(auth, accepted({"PaymentAuthorized"}))) ==
        rendered(record_authorized{}));
  auto failed = accepted({"PaymentFailed"});
  failed.message = "card expired";
  CHECK(rendered(interpret(auth, failed)) ==
        rendered(record_declined{"payment_failed", "card expired"}));
  CHECK(rendered(interpret(auth, refused("payment_already_authorized"))) ==
        rendered(record_authorized{}));
  CHECK(rendered(interpret(auth, refused("method_missing"))) ==
        rendered(record_declined{"method_missing", "because"}));

  auto capture = only_step(authorized().state());
  CHECK(rendered(interpret(capture, refused("capture_duplicate"))) == rendered(record_captured{}));
  CHECK(rendered(interpret(capture, refused("capture_exceeds_authorized"))) ==
        rendered(record_capture_failed{"capture_exceeds_authorized", "because"}));

  auto ready = only_step(captured().state());
  CHECK(rendered(interpret(ready, refused("order_cancelled"))) ==
        rendered(record_ready_refused{"order_cancelled", "because"}));

  auto g = out_of_stock().then_also(reservation_released{"sku-a"});
  auto cancel = only_step(g.state());
  CHECK(rendered(interpret(cancel, refused("order_cancelled"))) == rendered(record_cancelled{}));
  CHECK(rendered(interpret(cancel, refused("order_shipped"))) ==
        rendered(record_cancelled{"order_shipped"}));
  auto release = only_step(out_of_stock().state());
  CHECK(rendered(interpret(release, refused("reservation_unknown"))) ==
        rendered(record_released{"sku-a"}));
}

TEST_CASE("every fulfilment event matches its golden JSON") {
  const money eur{5000, "EUR"};
  CHECK(
      strata::testing::golden_mismatches<saga>(
          STRATA_FULFILMENT_GOLDEN_DIR,
          {
              {"FulfilmentStarted", 1, two_lines()},
              {"FulfilmentStockReserved", 1, stock_reserved{"sku-a", 2}},
              {"FulfilmentReservationRefused", 1,
               reservation_refused{"sku-b", "insufficient_stock", "only 0 units"}},
              {"FulfilmentPaymentAuthorized", 1, payment_authorized{eur}},
              {"FulfilmentPaymentDeclined", 1, payment_declined{"payment_failed", "card expired"}},
              {"FulfilmentPaymentCaptured", 1, payment_captured{eur}},
              {"FulfilmentCaptureFailed", 1,
               capture_failed{"capture_exceeds_authorized", "too much"}},
              {"FulfilmentCompleted", 1, completed{}},
              {"FulfilmentReadyRefused", 1,
               ready_refused{"order_cancelled", "the order is cancelled"}},
              {"FulfilmentReservationReleased", 1, reservation_released{"sku-a"}},
              {"FulfilmentPaymentVoided", 1, payment_voided{}},
              {"FulfilmentPaymentRefunded", 1, payment_refunded{eur}},
              {"FulfilmentCompensated", 1, compensated{"sku-b: only 0 units", ""}},
          }) == "");
}
