// The order-summary projection's batch fold against its record-by-record path: random
// histories of adds, removals, repeated skus, status changes and events of orders that were
// never placed must leave the same rows and lines either way, at any batch size.

#include <doctest/doctest.h>

#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <boost/describe/class.hpp>

#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/persistence/projection.hpp"
#include "strata/persistence/projection_store.hpp"
#include "tests/projections/support.hpp"

using namespace strata;
using namespace strata::testing;

namespace {

/// The order-summary projection with the default `apply_batch`: one `apply` per record.
class per_record_summaries final : public summaries_wrapper {};

/// The bound order-summary projection, counting the batches it was given decoded ahead and the
/// threads that decoded them.
class watched_summaries final : public summaries_wrapper {
 public:
  result<void> apply_batch(persistence::projection_transaction& tx,
                           const std::vector<const persistence::event_record*>& r) override {
    return inner_->apply_batch(tx, r);
  }
  bool folds_batches() const noexcept override { return inner_->folds_batches(); }
  std::unique_ptr<persistence::prepared_batch> prepare_batch(
      const std::vector<const persistence::event_record*>& r) const override {
    auto out = inner_->prepare_batch(r);
    std::lock_guard<std::mutex> lock{mutex_};
    preparers_.insert(std::this_thread::get_id());
    (out ? prepared_ : refused_) += 1;
    return out;
  }
  result<void> apply_prepared(persistence::projection_transaction& tx,
                              const std::vector<const persistence::event_record*>& r,
                              const persistence::prepared_batch& prepared) override {
    ++applied_prepared;
    return inner_->apply_prepared(tx, r, prepared);
  }

  std::size_t prepared() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return prepared_;
  }
  std::size_t refused() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return refused_;
  }
  bool prepared_on_this_thread() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return preparers_.count(std::this_thread::get_id()) > 0;
  }
  std::size_t applied_prepared = 0;

 private:
  mutable std::mutex mutex_;
  mutable std::set<std::thread::id> preparers_;
  mutable std::size_t prepared_ = 0;
  mutable std::size_t refused_ = 0;
};

/// Appends a random history over `orders` orders; `placed_first` places each order before
/// anything else happens to it (so that its total is always the sum of its lines).
void random_history(persistence::journal& j, std::mt19937& rng, int orders, int events,
                    bool placed_first) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  std::vector<bool> is_placed(static_cast<std::size_t>(orders), false);
  for (int n = 0; n < events; ++n) {
    const int k = pick(orders);
    const std::string id = "o-" + std::to_string(k);
    const std::string sku = "sku-" + std::to_string(pick(5));
    const std::int64_t price = 100 + pick(4) * 25;  // a repeated sku may come at another price
    orders::event e;
    const int what = pick(10);
    if ((placed_first && !is_placed[static_cast<std::size_t>(k)]) || what == 0) {
      orders::placed p;
      p.customer_id = "c-" + std::to_string(k % 3);
      p.currency = "EUR";
      std::int64_t total = 0;
      for (int l = pick(3); l > 0; --l) {
        const std::int64_t q = 1 + pick(3);
        p.lines.push_back(orders::line{"sku-" + std::to_string(l), q, money{price, "EUR"}});
        total += q * price;
      }
      p.total = money{total, "EUR"};
      e = p;
      is_placed[static_cast<std::size_t>(k)] = true;
    } else if (what <= 5) {
      e = orders::item_added{orders::line{sku, 1 + pick(4), money{price, "EUR"}}};
    } else if (what <= 7) {
      e = orders::item_removed{sku};
    } else if (what == 8) {
      e = pick(2) == 0 ? orders::event{orders::confirmed{}} : orders::event{orders::marked_ready{}};
    } else {
      e = pick(2) == 0 ? orders::event{orders::cancelled{"changed mind"}}
                       : orders::event{orders::shipped{}};
    }
    append<orders::order>(j, id, {e});
  }
}

struct line_row {
  std::string order_id;
  std::string sku;
  std::int64_t quantity = 0;
  std::int64_t unit_price_minor = 0;
};
BOOST_DESCRIBE_STRUCT(line_row, (), (order_id, sku, quantity, unit_price_minor))

struct recount_row {
  std::string order_id;
  std::int64_t total_minor = 0;
  std::int64_t item_count = 0;
};
BOOST_DESCRIBE_STRUCT(recount_row, (), (order_id, total_minor, item_count))

std::map<std::string, std::string> read_lines(read_model_reader& s) {
  auto rows = s.query<line_row>(
      "SELECT order_id, sku, quantity, unit_price_minor FROM order_summary_lines ORDER BY "
      "order_id, sku");
  REQUIRE_MESSAGE(rows, (rows ? "" : to_string(rows.err())));
  std::map<std::string, std::string> out;
  for (const auto& r : *rows)
    out[r.order_id + "/" + r.sku] =
        std::to_string(r.quantity) + "x" + std::to_string(r.unit_price_minor);
  return out;
}

/// Every order's row with its last position, rendered.
std::map<std::string, std::string> read_rows(read_model_reader& s) {
  auto all = read_models::all_orders(s);
  REQUIRE_MESSAGE(all, (all ? "" : to_string(all.err())));
  std::map<std::string, std::string> out;
  for (const auto& o : *all)
    out[o.order_id] = to_string(o) + " @" + std::to_string(o.last_position);
  return out;
}

void catch_up_with(persistence::journal& j, std::shared_ptr<persistence::projection> p, read_db& db,
                   std::size_t batch) {
  auto caught = catch_up(j, std::move(p), db.open(), batch);
  REQUIRE_MESSAGE(caught, (caught ? "" : to_string(caught.err())));
  CHECK(caught->parked == 0);
}

/// The one dead letter of `db` is at `bad`, and order o-1 reads as `expected`.
void check_parked_and_order(read_db& db, const persistence::event_record& bad,
                            const std::string& expected) {
  auto store = db.reader();
  auto letters = store.connection().dead_letters("order_summary");
  REQUIRE(letters);
  REQUIRE(letters->size() == 1);
  CHECK(letters->front().position == bad.position);
  auto o = read_models::find_order(store, "o-1");
  REQUIRE(o);
  REQUIRE(o->has_value());
  CHECK(to_string(**o) == expected);
}

}  // namespace

TEST_CASE("the order-summary batch fold leaves the rows and lines that applying each record does") {
  for (unsigned seed : {1U, 2U, 3U, 4U}) {
    CAPTURE(seed);
    std::mt19937 rng{seed};
    persistence::memory_journal j;
    random_history(j, rng, 6, 400, seed % 2 == 0);
    read_db reference;
    catch_up_with(j, std::make_shared<per_record_summaries>(), reference, 1000);
    auto ref_store = reference.reader();
    const auto rows = read_rows(ref_store);
    const auto lines = read_lines(ref_store);
    REQUIRE(!rows.empty());
    REQUIRE(!lines.empty());
    for (std::size_t batch : {std::size_t{1}, std::size_t{7}, std::size_t{1000}}) {
      CAPTURE(batch);
      read_db folded;
      catch_up_with(j, bound(std::make_shared<read_models::order_summary_projection>()), folded,
                    batch);
      auto store = folded.reader();
      CHECK(read_rows(store) == rows);
      CHECK(read_lines(store) == lines);
    }
  }
}

TEST_CASE("order totals and item counts equal a recount of the lines after random histories") {
  std::mt19937 rng{42};
  persistence::memory_journal j;
  random_history(j, rng, 8, 600, true);
  read_db db;
  catch_up_with(j, bound(std::make_shared<read_models::order_summary_projection>()), db, 64);
  auto store = db.reader();
  auto orders = read_models::all_orders(store);
  REQUIRE(orders);
  REQUIRE(orders->size() == 8);
  auto recount = store.query<recount_row>(
      "SELECT o.order_id, (SELECT COALESCE(SUM(quantity * unit_price_minor), 0) FROM "
      "order_summary_lines l WHERE l.order_id = o.order_id), (SELECT COALESCE(SUM(quantity), 0) "
      "FROM order_summary_lines l WHERE l.order_id = o.order_id) FROM order_summary o ORDER BY "
      "o.order_id");
  REQUIRE(recount);
  REQUIRE(recount->size() == orders->size());
  std::int64_t units = 0;
  for (std::size_t i = 0; i < orders->size(); ++i) {
    const auto& o = (*orders)[i];
    CAPTURE(o.order_id);
    CHECK((*recount)[i].order_id == o.order_id);
    CHECK(o.total_minor == (*recount)[i].total_minor);
    CHECK(o.item_count == (*recount)[i].item_count);
    units += o.item_count;
  }
  CHECK(units > 0);
}

TEST_CASE("a poison record inside a folded batch is parked and the rest of the batch applied") {
  persistence::memory_journal j;
  append<orders::order>(j, "o-1", {placed("c-1", 2)});
  auto bad = append_raw(j, "Order", "o-1", "ItemAdded", "{\"item\": 7}");
  append<orders::order>(j, "o-1", {orders::item_added{orders::line{"sku-2", 3, money{50, "EUR"}}}});
  read_db db;
  auto caught =
      catch_up(j, std::make_shared<read_models::order_summary_projection>(), db.open(), 1000);
  REQUIRE(caught);
  CHECK(caught->applied == 3);
  CHECK(caught->parked == 1);
  check_parked_and_order(db, bad, "o-1 c-1 open 5x 350 EUR");
}

TEST_CASE("batches read ahead are decoded on the read-ahead thread and fold as decoded there") {
  std::mt19937 rng{7};
  persistence::memory_journal j;
  random_history(j, rng, 6, 400, true);
  read_db reference;
  catch_up_with(j, std::make_shared<per_record_summaries>(), reference, 1000);
  auto ref_store = reference.reader();

  auto watched = std::make_shared<watched_summaries>();
  read_db folded;
  catch_up_with(j, watched, folded, 16);  // 25 batches: the first read here, 24 ahead
  CHECK(watched->prepared() == 24);
  CHECK(watched->refused() == 0);
  CHECK(watched->applied_prepared == 24);
  CHECK_FALSE(watched->prepared_on_this_thread());
  auto store = folded.reader();
  CHECK(read_rows(store) == read_rows(ref_store));
  CHECK(read_lines(store) == read_lines(ref_store));
}

TEST_CASE("a batch read ahead that does not decode is not prepared, and its poison is parked") {
  persistence::memory_journal j;
  append<orders::order>(j, "o-1", {placed("c-1", 2)});
  append<orders::order>(j, "o-1", {orders::item_added{orders::line{"sku-9", 1, money{50, "EUR"}}}});
  auto bad = append_raw(j, "Order", "o-1", "ItemAdded", "{\"item\": 7}");
  append<orders::order>(j, "o-1", {orders::item_added{orders::line{"sku-2", 3, money{50, "EUR"}}}});
  auto watched = std::make_shared<watched_summaries>();
  read_db db;
  auto caught = catch_up(j, watched, db.open(), 2);  // positions 3 and 4 read ahead
  REQUIRE(caught);
  CHECK(caught->applied == 4);  // the parked one counted, as the runner does
  CHECK(caught->parked == 1);
  CHECK(watched->refused() == 1);
  CHECK(watched->applied_prepared == 0);
  check_parked_and_order(db, bad, "o-1 c-1 open 6x 400 EUR");
}
