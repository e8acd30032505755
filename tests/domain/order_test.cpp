#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

#include "strata/domain/orders/order.hpp"
#include "strata/testing/given_when_then.hpp"
#include "strata/testing/golden.hpp"
#include "strata/testing/upcast.hpp"

using namespace strata;
using namespace strata::orders;
using strata::testing::no_events;
using strata::testing::rejected;

namespace {

using given = strata::testing::given<order>;

template <class... E>
std::string then(E&&... events) {
  return strata::testing::then<order>(std::forward<E>(events)...);
}

money usd(std::int64_t minor) {
  return money{minor, "USD"};
}

const line widget{"WIDGET", 2, usd(500)};
const line gadget{"GADGET", 1, usd(1250)};

placed placed_widget_and_gadget() {
  return placed{"cust-1", "USD", {widget, gadget}, usd(2250)};
}

given open_order() {
  return given{{placed_widget_and_gadget()}};
}
given confirmed_order() {
  return given{{placed_widget_and_gadget(), confirmed{}}};
}
given ready_order() {
  return given{{placed_widget_and_gadget(), confirmed{}, marked_ready{}}};
}
given cancelled_order() {
  return given{{placed_widget_and_gadget(), cancelled{"changed my mind"}}};
}
given shipped_order() {
  return given{{placed_widget_and_gadget(), confirmed{}, shipped{"DHL", "JD0001"}}};
}

std::vector<command> every_command() {
  return {place{"cust-2", "USD", {widget}},
          add_item{gadget},
          remove_item{"WIDGET"},
          confirm{},
          mark_ready{},
          cancel{"late"},
          ship{"UPS", "1Z"}};
}

}  // namespace

TEST_CASE("placing an order records its lines, currency and total") {
  CHECK(given{}.when(place{"cust-1", "USD", {widget, gadget}}) ==
        then(placed{"cust-1", "USD", {widget, gadget}, usd(2250)}));
}

TEST_CASE("an order can be placed without lines and has a zero total") {
  CHECK(given{}.when(place{"cust-1", "EUR", {}}) ==
        then(placed{"cust-1", "EUR", {}, money{0, "EUR"}}));
}

TEST_CASE("a free line with a zero price is accepted") {
  line free{"SAMPLE", 1, usd(0)};
  CHECK(given{}.when(place{"cust-1", "USD", {free}}) ==
        then(placed{"cust-1", "USD", {free}, usd(0)}));
}

TEST_CASE("an order is placed only once") {
  CHECK(open_order().when(place{"cust-1", "USD", {widget}}) == rejected(order_already_placed));
  CHECK(cancelled_order().when(place{"cust-1", "USD", {widget}}) == rejected(order_already_placed));
}

TEST_CASE("an order needs a customer id") {
  CHECK(given{}.when(place{"", "USD", {widget}}) == rejected(customer_missing));
}

TEST_CASE("an order needs a three-letter upper-case currency code") {
  CHECK(given{}.when(place{"cust-1", "", {}}) == rejected(currency_invalid));
  CHECK(given{}.when(place{"cust-1", "usd", {}}) == rejected(currency_invalid));
  CHECK(given{}.when(place{"cust-1", "EURO", {}}) == rejected(currency_invalid));
}

TEST_CASE("every line of a placed order needs a sku") {
  CHECK(given{}.when(place{"cust-1", "USD", {line{"", 1, usd(1)}}}) == rejected(sku_missing));
}

TEST_CASE("line quantities must be positive") {
  CHECK(given{}.when(place{"cust-1", "USD", {line{"A", 0, usd(1)}}}) ==
        rejected(quantity_not_positive));
  CHECK(given{}.when(place{"cust-1", "USD", {line{"A", -3, usd(1)}}}) ==
        rejected(quantity_not_positive));
}

TEST_CASE("unit prices must not be negative") {
  CHECK(given{}.when(place{"cust-1", "USD", {line{"A", 1, usd(-1)}}}) == rejected(price_negative));
}

TEST_CASE("every line must be in the order's currency") {
  CHECK(given{}.when(place{"cust-1", "USD", {widget, line{"B", 1, money{100, "EUR"}}}}) ==
        rejected(currency_mismatch));
}

TEST_CASE("a sku appears on at most one line of a placed order") {
  CHECK(given{}.when(place{"cust-1", "USD", {widget, widget}}) == rejected(sku_duplicate));
}

TEST_CASE("a total that does not fit in 64 bits is rejected, not wrapped") {
  const auto max = std::numeric_limits<std::int64_t>::max();
  CHECK(given{}.when(place{"cust-1", "USD", {line{"A", 2, usd(max / 2 + 1)}}}) ==
        rejected(total_overflow));
  CHECK(given{}.when(place{"cust-1", "USD", {line{"A", 1, usd(max)}, line{"B", 1, usd(1)}}}) ==
        rejected(total_overflow));
  CHECK(given{{placed{"cust-1", "USD", {line{"A", 1, usd(max)}}, usd(max)}}}.when(
            add_item{line{"B", 1, usd(1)}}) == rejected(total_overflow));
}

TEST_CASE("adding an item to an open order records it and raises the total") {
  line bolt{"BOLT", 10, usd(15)};
  auto g = open_order();
  CHECK(g.when(add_item{bolt}) == then(item_added{bolt}));
  auto s = g.then_also(item_added{bolt}).state();
  CHECK(s.total_minor == 2250 + 150);
  CHECK(s.lines.at("BOLT").quantity == 10);
}

TEST_CASE("adding more of a sku already on the order adds to its quantity") {
  line more{"WIDGET", 3, usd(500)};
  auto g = open_order();
  CHECK(g.when(add_item{more}) == then(item_added{more}));
  auto s = g.then_also(item_added{more}).state();
  CHECK(s.lines.at("WIDGET").quantity == 5);
  CHECK(s.total_minor == 2250 + 1500);
}

TEST_CASE("adding a sku already on the order at another price is rejected") {
  CHECK(open_order().when(add_item{line{"WIDGET", 1, usd(499)}}) == rejected(sku_price_mismatch));
}

TEST_CASE("an added item obeys the same line rules as a placed one") {
  CHECK(open_order().when(add_item{line{"", 1, usd(1)}}) == rejected(sku_missing));
  CHECK(open_order().when(add_item{line{"A", 0, usd(1)}}) == rejected(quantity_not_positive));
  CHECK(open_order().when(add_item{line{"A", 1, usd(-5)}}) == rejected(price_negative));
  CHECK(open_order().when(add_item{line{"A", 1, money{5, "GBP"}}}) == rejected(currency_mismatch));
}

TEST_CASE("items cannot be added or removed after confirmation") {
  for (const auto& g : {confirmed_order(), ready_order()}) {
    CHECK(g.when(add_item{line{"BOLT", 1, usd(1)}}) == rejected(order_already_confirmed));
    CHECK(g.when(remove_item{"WIDGET"}) == rejected(order_already_confirmed));
  }
}

TEST_CASE("removing an item drops its line and lowers the total") {
  auto g = open_order();
  CHECK(g.when(remove_item{"WIDGET"}) == then(item_removed{"WIDGET"}));
  auto s = g.then_also(item_removed{"WIDGET"}).state();
  CHECK(s.lines.count("WIDGET") == 0);
  CHECK(s.total_minor == 1250);
}

TEST_CASE("removing a sku that is not on the order is rejected") {
  CHECK(open_order().when(remove_item{"NOPE"}) == rejected(sku_unknown));
}

TEST_CASE("an order with lines can be confirmed") {
  CHECK(open_order().when(confirm{}) == then(confirmed{}));
}

TEST_CASE("an empty order cannot be confirmed") {
  CHECK(given{{placed{"cust-1", "USD", {}, usd(0)}}}.when(confirm{}) == rejected(order_empty));
  auto emptied = open_order().then_also(item_removed{"WIDGET"}).then_also(item_removed{"GADGET"});
  CHECK(emptied.when(confirm{}) == rejected(order_empty));
}

TEST_CASE("an order is confirmed only once") {
  CHECK(confirmed_order().when(confirm{}) == rejected(order_already_confirmed));
}

TEST_CASE("a confirmed order can be marked ready to ship") {
  CHECK(confirmed_order().when(mark_ready{}) == then(marked_ready{}));
}

TEST_CASE("marking an order ready again changes nothing") {
  CHECK(ready_order().when(mark_ready{}) == no_events);
}

TEST_CASE("an order that is not confirmed cannot be marked ready") {
  CHECK(open_order().when(mark_ready{}) == rejected(order_not_confirmed));
}

TEST_CASE("a confirmed or ready order ships with optional carrier and tracking number") {
  CHECK(confirmed_order().when(ship{"DHL", "JD0001"}) == then(shipped{"DHL", "JD0001"}));
  CHECK(ready_order().when(ship{}) == then(shipped{}));
}

TEST_CASE("an order does not ship before it is confirmed") {
  CHECK(open_order().when(ship{"DHL", {}}) == rejected(order_not_confirmed));
}

TEST_CASE("an unshipped order can be cancelled with a reason at any stage") {
  for (const auto& g : {open_order(), confirmed_order(), ready_order()})
    CHECK(g.when(cancel{"out of stock"}) == then(cancelled{"out of stock"}));
}

TEST_CASE("a cancellation needs a reason") {
  CHECK(open_order().when(cancel{""}) == rejected(reason_missing));
}

TEST_CASE("a shipped order cannot be cancelled") {
  CHECK(shipped_order().when(cancel{"too late"}) == rejected(order_shipped));
}

TEST_CASE("nothing but place is accepted before an order is placed") {
  for (const auto& c : every_command()) {
    if (std::holds_alternative<place>(c)) continue;
    CHECK(given{}.when(c) == rejected(order_not_placed));
  }
}

TEST_CASE("nothing is accepted after an order is cancelled") {
  for (const auto& c : every_command()) {
    auto expected = std::holds_alternative<place>(c) ? order_already_placed : order_cancelled;
    CHECK(cancelled_order().when(c) == rejected(expected));
  }
}

TEST_CASE("nothing is accepted after an order has shipped") {
  for (const auto& c : every_command()) {
    auto expected = std::holds_alternative<place>(c) ? order_already_placed : order_shipped;
    CHECK(shipped_order().when(c) == rejected(expected));
  }
}

TEST_CASE("the state follows the lifecycle and keeps the total in minor units") {
  CHECK(given{}.state().current == status::none);
  CHECK(open_order().state().current == status::open);
  CHECK(open_order().state().currency == "USD");
  CHECK(open_order().state().total_minor == 2250);
  CHECK(confirmed_order().state().current == status::confirmed);
  CHECK(ready_order().state().current == status::ready_to_ship);
  CHECK(cancelled_order().state().current == status::cancelled);
  CHECK(shipped_order().state().current == status::shipped);
}

TEST_CASE("a stored v1 OrderPlaced decodes into the current event in USD") {
  auto dec = order::events().decode(
      "OrderPlaced", 1,
      R"({"customer_id":"c-9","lines":[{"sku":"A","quantity":3,"unit_price":199}],"total":597})");
  REQUIRE(dec);
  REQUIRE(dec->size() == 1);
  const auto& p = std::get<placed>(dec->front());
  CHECK(p.currency == "USD");
  CHECK(p.customer_id == "c-9");
  REQUIRE(p.lines.size() == 1);
  CHECK(p.lines[0].unit_price == usd(199));
  CHECK(p.total == usd(597));
}

TEST_CASE("a stored v1 OrderPlaced without a total gets the sum of its lines") {
  auto dec = order::events().decode(
      "OrderPlaced", 1,
      R"({"customer_id":"c","lines":[{"sku":"A","quantity":3,"unit_price":2},{"sku":"B","quantity":1,"unit_price":10}]})");
  REQUIRE(dec);
  CHECK(std::get<placed>(dec->front()).total == usd(16));
}

TEST_CASE("a stored v1 ItemAdded decodes into the current event in USD") {
  CHECK(strata::testing::upcast<order>("ItemAdded", 1,
                                       R"({"sku":"A","quantity":2,"unit_price":75})") ==
        then(item_added{line{"A", 2, usd(75)}}));
}

TEST_CASE("a malformed v1 OrderPlaced is reported as corrupted") {
  auto dec = order::events().decode("OrderPlaced", 1, R"({"customer_id":"c","lines":"oops"})");
  REQUIRE_FALSE(dec);
  CHECK(dec.err().code == errc::corrupted);
}

TEST_CASE("every stored Order event shape matches its golden JSON") {
  CHECK(
      strata::testing::golden_mismatches<order>(
          STRATA_GOLDEN_DIR,
          {
              {"OrderPlaced", 1,
               placed{"cust-1",
                      "USD",
                      {line{"WIDGET", 2, usd(500)}, line{"GADGET", 1, usd(1250)}},
                      usd(2250)}},
              {"OrderPlaced", 2,
               placed{"cust-1",
                      "EUR",
                      {line{"WIDGET", 2, money{500, "EUR"}}, line{"GADGET", 1, money{1250, "EUR"}}},
                      money{2250, "EUR"}}},
              {"ItemAdded", 1, item_added{line{"BOLT", 10, usd(15)}}},
              {"ItemAdded", 2, item_added{line{"BOLT", 10, money{15, "EUR"}}}},
              {"ItemRemoved", 1, item_removed{"WIDGET"}},
              {"OrderConfirmed", 1, confirmed{}},
              {"OrderMarkedReady", 1, marked_ready{}},
              {"OrderCancelled", 1, cancelled{"out of stock"}},
              {"OrderShipped", 1, shipped{"DHL", "JD0001"}},
          }) == "");
}

TEST_CASE("an order state survives its snapshot JSON") {
  auto s =
      open_order().then_also(item_added{line{"BOLT", 10, usd(15)}}).then_also(confirmed{}).state();
  auto text = json::to_json(s);
  CHECK(strata::testing::state_round_trip<order>(s) == text);
  auto back = json::from_json<state>(boost::json::parse(text));
  CHECK(back.current == status::confirmed);
  CHECK(back.currency == "USD");
  CHECK(back.total_minor == 2400);
  CHECK(back.lines.size() == 3);
  CHECK(back.lines.at("BOLT").unit_price_minor == 15);
}

TEST_CASE("evolve applies any order event to any order state") {
  const auto max = std::numeric_limits<std::int64_t>::max();
  CHECK(strata::testing::evolve_mismatches<order>(
            {open_order().state(), shipped_order().state(), cancelled_order().state(),
             given{{placed{"c", "USD", {line{"A", 1, usd(max)}}, usd(max)}}}.state()},
            {placed_widget_and_gadget(), item_added{line{"A", max, usd(max)}},
             item_added{line{"WIDGET", 1, usd(1)}}, item_removed{"WIDGET"}, item_removed{"NOPE"},
             shipped{"X", {}}}) == "");
}
