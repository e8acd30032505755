#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

#include "strata/domain/inventory/inventory_item.hpp"
#include "strata/testing/given_when_then.hpp"
#include "strata/testing/golden.hpp"

using namespace strata;
using namespace strata::inventory;
using strata::testing::no_events;
using strata::testing::rejected;

namespace {

using given = strata::testing::given<inventory_item>;

template <class... E>
std::string then(E&&... events) {
  return strata::testing::then<inventory_item>(std::forward<E>(events)...);
}

// 10 on hand, 3 reserved for order-1: 7 available.
given stocked() {
  return given{{received{10}, reserved{"order-1", 3}}};
}

}  // namespace

TEST_CASE("received stock adds to on hand") {
  auto g = given{};
  CHECK(g.when(receive{10}) == then(received{10}));
  CHECK(g.then_also(received{10}).then_also(received{5}).state().on_hand == 15);
}

TEST_CASE("a received quantity must be positive") {
  CHECK(given{}.when(receive{0}) == rejected(quantity_not_positive));
  CHECK(given{}.when(receive{-1}) == rejected(quantity_not_positive));
}

TEST_CASE("receiving more than on hand can count is rejected") {
  CHECK(given{{received{std::numeric_limits<std::int64_t>::max()}}}.when(receive{1}) ==
        rejected(quantity_overflow));
}

TEST_CASE("available stock can be reserved for an order") {
  auto g = stocked();
  CHECK(g.when(reserve{"order-2", 7}) == then(reserved{"order-2", 7}));
  auto s = g.then_also(reserved{"order-2", 7}).state();
  CHECK(s.reserved == 10);
  CHECK(available(s) == 0);
}

TEST_CASE("reserving more than is available is rejected") {
  CHECK(stocked().when(reserve{"order-2", 8}) == rejected(insufficient_stock));
  CHECK(given{}.when(reserve{"order-2", 1}) == rejected(insufficient_stock));
}

TEST_CASE("the same reservation for the same order again changes nothing") {
  CHECK(stocked().when(reserve{"order-1", 3}) == no_events);
}

TEST_CASE("a second reservation for the same order with another quantity is rejected") {
  CHECK(stocked().when(reserve{"order-1", 4}) == rejected(reservation_conflict));
  CHECK(stocked().when(reserve{"order-1", 2}) == rejected(reservation_conflict));
}

TEST_CASE("a reservation needs an order id and a positive quantity") {
  CHECK(stocked().when(reserve{"", 1}) == rejected(order_id_missing));
  CHECK(stocked().when(reserve{"order-2", 0}) == rejected(quantity_not_positive));
  CHECK(stocked().when(reserve{"order-2", -2}) == rejected(quantity_not_positive));
}

TEST_CASE("releasing a reservation makes its units available again") {
  auto g = stocked();
  CHECK(g.when(release{"order-1"}) == then(released{"order-1", 3}));
  auto s = g.then_also(released{"order-1", 3}).state();
  CHECK(s.on_hand == 10);
  CHECK(s.reserved == 0);
  CHECK(s.reservations.empty());
}

TEST_CASE("releasing an unknown reservation is rejected") {
  CHECK(stocked().when(release{"order-9"}) == rejected(reservation_unknown));
  CHECK(stocked().then_also(released{"order-1", 3}).when(release{"order-1"}) ==
        rejected(reservation_unknown));
}

TEST_CASE("committing a reservation takes its units off on hand and reserved") {
  auto g = stocked();
  CHECK(g.when(commit{"order-1"}) == then(committed{"order-1", 3}));
  auto s = g.then_also(committed{"order-1", 3}).state();
  CHECK(s.on_hand == 7);
  CHECK(s.reserved == 0);
  CHECK(available(s) == 7);
}

TEST_CASE("committing an unknown reservation is rejected") {
  CHECK(stocked().when(commit{"order-9"}) == rejected(reservation_unknown));
  CHECK(stocked().then_also(committed{"order-1", 3}).when(commit{"order-1"}) ==
        rejected(reservation_unknown));
}

TEST_CASE("an adjustment sets the counted on hand and records who and why") {
  auto g = stocked().by("clerk-7");
  CHECK(g.when(adjust{8, "annual count"}) == then(adjusted{10, 8, "annual count", "clerk-7"}));
  CHECK(g.then_also(adjusted{10, 8, "annual count", "clerk-7"}).state().on_hand == 8);
}

TEST_CASE("an adjustment may bring on hand down to exactly what is reserved") {
  CHECK(stocked().when(adjust{3, "damaged"}) == then(adjusted{10, 3, "damaged", "user-1"}));
}

TEST_CASE("an adjustment needs a reason") {
  CHECK(stocked().when(adjust{8, ""}) == rejected(reason_missing));
}

TEST_CASE("an adjustment needs a user in its context") {
  CHECK(stocked().by("").when(adjust{8, "count"}) == rejected(user_missing));
}

TEST_CASE("an adjustment cannot go below zero or below what is reserved") {
  CHECK(stocked().when(adjust{-1, "count"}) == rejected(quantity_negative));
  CHECK(stocked().when(adjust{2, "count"}) == rejected(adjustment_below_reserved));
}

TEST_CASE("every stored InventoryItem event shape matches its golden JSON") {
  CHECK(strata::testing::golden_mismatches<inventory_item>(
            STRATA_GOLDEN_DIR, {
                                   {"StockReceived", 1, received{10}},
                                   {"StockReserved", 1, reserved{"order-1", 3}},
                                   {"ReservationReleased", 1, released{"order-1", 3}},
                                   {"ReservationCommitted", 1, committed{"order-1", 3}},
                                   {"StockAdjusted", 1, adjusted{10, 8, "annual count", "clerk-7"}},
                               }) == "");
}

TEST_CASE("an inventory state survives its snapshot JSON") {
  auto s = stocked().then_also(reserved{"order-2", 4}).state();
  auto text = json::to_json(s);
  CHECK(strata::testing::state_round_trip<inventory_item>(s) == text);
  auto back = json::from_json<state>(boost::json::parse(text));
  CHECK(back.on_hand == 10);
  CHECK(back.reserved == 7);
  CHECK(back.reservations == s.reservations);
}

TEST_CASE("evolve applies any inventory event to any inventory state") {
  const auto max = std::numeric_limits<std::int64_t>::max();
  CHECK(strata::testing::evolve_mismatches<inventory_item>(
            {stocked().state(), given{{received{max}, reserved{"o", max}}}.state()},
            {received{max}, reserved{"order-1", max}, reserved{"new", 1}, released{"nope", 1},
             released{"order-1", 3}, committed{"order-1", 3}, committed{"nope", 1},
             adjusted{0, -5, "odd", ""}}) == "");
}
