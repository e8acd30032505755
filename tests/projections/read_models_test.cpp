// The read models: what each table holds after a realistic sequence of events, and the
// queries over it.

#include <doctest/doctest.h>

#include "strata/domain/inventory/read_models/inventory_levels.hpp"
#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/domain/payments/read_models/payments_ledger.hpp"
#include "strata/domain/users/read_models/user_activity_daily.hpp"
#include "strata/persistence/projection.hpp"
#include "strata/persistence/projection_store.hpp"
#include "tests/projections/support.hpp"

using namespace strata;
using namespace strata::testing;

namespace {

template <class P>
read_model_reader project(persistence::journal& j, read_db& db) {
  auto caught = catch_up(j, std::make_shared<P>(), db.open());
  REQUIRE_MESSAGE(caught, (caught ? "" : to_string(caught.err())));
  return db.reader();
}

std::string ids(const result<std::vector<read_models::order_summary>>& r) {
  REQUIRE(r);
  std::string out;
  for (const auto& o : *r) out += (out.empty() ? "" : " ") + o.order_id;
  return out;
}

}  // namespace

TEST_CASE("order summaries track status, total and item count and answer by customer and status") {
  persistence::memory_journal j;
  append<orders::order>(j, "o-1", {placed("alice", 2, 150)});
  append<orders::order>(
      j, "o-1",
      {orders::item_added{orders::line{"sku-2", 3, money{10, "EUR"}}},
       orders::item_added{orders::line{"sku-2", 1, money{10, "EUR"}}}, orders::confirmed{}});
  append<orders::order>(j, "o-2", {placed("bob", 1, 999)});
  append<orders::order>(j, "o-2", {orders::cancelled{"changed my mind"}});
  append<orders::order>(j, "o-3", {placed("alice", 5, 20)});
  append<orders::order>(j, "o-3",
                        {orders::item_added{orders::line{"sku-9", 1, money{7, "EUR"}}},
                         orders::item_removed{"sku-1"}});
  append<orders::order>(j, "o-4", {placed("alice", 1, 100)});
  append<orders::order>(j, "o-4",
                        {orders::confirmed{}, orders::marked_ready{},
                         orders::shipped{std::string{"dhl"}, std::nullopt}});
  read_db db;
  auto store = project<read_models::order_summary_projection>(j, db);

  auto o1 = read_models::find_order(store, "o-1");
  REQUIRE(o1);
  REQUIRE(o1->has_value());
  CHECK(to_string(**o1) == "o-1 alice confirmed 6x 340 EUR");
  CHECK(to_string(**read_models::find_order(store, "o-3")) == "o-3 alice open 1x 7 EUR");
  CHECK(to_string(**read_models::find_order(store, "o-4")) == "o-4 alice shipped 1x 100 EUR");
  CHECK(ids(read_models::orders_by_customer(store, "alice")) == "o-1 o-3 o-4");
  CHECK(ids(read_models::orders_by_customer(store, "bob")) == "o-2");
  CHECK(ids(read_models::orders_by_customer(store, "carol")).empty());
  CHECK(ids(read_models::orders_by_status(store, "cancelled")) == "o-2");
  CHECK(ids(read_models::orders_by_status(store, "open")) == "o-3");
  CHECK(ids(read_models::orders_by_status(store, "confirmed")) == "o-1");
  CHECK(read_orders(store) == fold_orders(j));
}

TEST_CASE("order summaries upcast stored v1 events before applying them") {
  persistence::memory_journal j;
  persistence::stream_append a;
  a.stream = stream_id{"Order", "o-old"};
  persistence::new_event n;
  n.event_id = "old-1";
  n.event_type = "OrderPlaced";
  n.schema_version = 1;
  n.data =
      R"({"customer_id":"dora","lines":[{"sku":"s","quantity":2,"unit_price":250}],"total":500})";
  a.events.push_back(n);
  REQUIRE(j.append({a}));
  read_db db;
  auto store = project<read_models::order_summary_projection>(j, db);
  CHECK(to_string(**read_models::find_order(store, "o-old")) == "o-old dora open 2x 500 USD");
}

TEST_CASE("inventory levels show on hand, reserved and available per sku") {
  persistence::memory_journal j;
  using namespace inventory;
  append<inventory_item>(j, "sku-1", {received{10}, reserved{"o-1", 3}, reserved{"o-2", 2}});
  append<inventory_item>(j, "sku-1", {released{"o-2", 2}, committed{"o-1", 3}});
  append<inventory_item>(j, "sku-2",
                         {received{5}, reserved{"o-3", 1}, adjusted{5, 8, "recount", "u-1"}});
  read_db db;
  auto store = project<read_models::inventory_levels_projection>(j, db);
  auto all = read_models::all_levels(store);
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].sku == "sku-1");
  CHECK((*all)[0].on_hand == 7);
  CHECK((*all)[0].reserved == 0);
  CHECK((*all)[0].available == 7);
  auto two = read_models::find_level(store, "sku-2");
  REQUIRE(two);
  REQUIRE(two->has_value());
  CHECK((*two)->on_hand == 8);
  CHECK((*two)->reserved == 1);
  CHECK((*two)->available == 7);
  CHECK_FALSE(read_models::find_level(store, "sku-3")->has_value());
}

TEST_CASE("the payments ledger lists every movement and keeps a balance per payment") {
  persistence::memory_journal j;
  using namespace payments;
  append<payment>(
      j, "p-1",
      {authorized{"o-1", money{1000, "EUR"}, "card"}, captured{"cap-1", money{600, "EUR"}},
       captured{"cap-2", money{400, "EUR"}}, refunded{"ref-1", money{250, "EUR"}}});
  append<payment>(j, "p-2", {authorized{"o-2", money{50, "USD"}, "paypal"}, voided{}});
  read_db db;
  auto store = project<read_models::payments_ledger_projection>(j, db);
  auto ledger = read_models::ledger_of(store, "p-1");
  REQUIRE(ledger);
  std::string kinds;
  for (const auto& e : *ledger)
    kinds += e.kind + ":" + std::to_string(e.amount_minor) + e.currency + " ";
  CHECK(kinds == "authorized:1000EUR captured:600EUR captured:400EUR refunded:250EUR ");
  auto balance = read_models::balance_of(store, "p-1");
  REQUIRE(balance);
  REQUIRE(balance->has_value());
  CHECK((*balance)->order_id == "o-1");
  CHECK((*balance)->authorized_minor == 1000);
  CHECK((*balance)->captured_minor == 1000);
  CHECK((*balance)->refunded_minor == 250);
  CHECK((*balance)->status == "refunded");
  auto voided_one = read_models::balance_of(store, "p-2");
  REQUIRE(voided_one);
  CHECK((*voided_one)->status == "voided");
  CHECK(read_models::ledger_of(store, "p-2")->back().currency == "USD");
}

TEST_CASE("user activity counts actions per user per UTC day") {
  persistence::memory_journal j;
  using namespace users;
  const std::int64_t day1 = 1'764'619'200'000'000;  // 2025-12-01T20:00:00Z
  const std::int64_t hour = 3'600'000'000;
  append<user_activity>(
      j, "u-1",
      {action_recorded{1, action_kind::searched, "shoes", {}, day1},
       action_recorded{2, action_kind::viewed, "p-1", {}, day1 + hour},
       action_recorded{3, action_kind::placed_order, "o-1", {}, day1 + 5 * hour}});
  append<user_activity>(j, "u-2", {action_recorded{1, action_kind::signed_in, "", {}, day1}});
  read_db db;
  auto store = project<read_models::user_activity_daily_projection>(j, db);
  auto days = read_models::activity_of(store, "u-1");
  REQUIRE(days);
  REQUIRE(days->size() == 2);
  CHECK((*days)[0].day == "2025-12-01");
  CHECK((*days)[0].actions == 2);
  CHECK((*days)[0].searches == 1);
  CHECK((*days)[1].day == "2025-12-02");
  CHECK((*days)[1].actions == 1);
  CHECK((*days)[1].orders_placed == 1);
  auto other = read_models::activity_of(store, "u-2");
  REQUIRE(other);
  CHECK(other->size() == 1);
}
