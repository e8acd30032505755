// The typed read-model API: parameters and rows of every supported type and their errors,
// handlers bound to event structs through the registered schemas, upcast events with their
// metadata, and events without a handler.

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>

#include <boost/describe/class.hpp>

#include "strata/domain/orders/order.hpp"
#include "strata/domain/payments/payment.hpp"
#include "strata/persistence/read_model.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/projections/support.hpp"

using namespace strata;
using namespace strata::testing;

namespace rows {

/// One row with a member of every supported type.
struct every_type {
  std::int32_t small = 0;
  std::uint64_t big = 0;
  bool flag = false;
  double ratio = 0;
  std::string text;
  std::string view;
  std::string chars;
  std::optional<std::int64_t> some;
  std::optional<std::int64_t> none;
  std::optional<std::string> null_text;
  std::int64_t at_version = 0;
  std::uint64_t at_position = 0;
  timestamp time{};
};
BOOST_DESCRIBE_STRUCT(every_type, (),
                      (small, big, flag, ratio, text, view, chars, some, none, null_text,
                       at_version, at_position, time))

struct pair_row {
  std::string name;
  std::int64_t count = 0;
};
BOOST_DESCRIBE_STRUCT(pair_row, (), (name, count))

struct flag_row {
  bool flag = false;
};
BOOST_DESCRIBE_STRUCT(flag_row, (), (flag))

struct tiny_row {
  std::int8_t tiny = 0;
};
BOOST_DESCRIBE_STRUCT(tiny_row, (), (tiny))

struct unsigned_row {
  std::uint32_t u = 0;
};
BOOST_DESCRIBE_STRUCT(unsigned_row, (), (u))

}  // namespace rows

namespace {

using namespace rows;

constexpr const char* every_type_columns =
    "SELECT small, big, flag, ratio, text, view, chars, some, none, null_text, at_version, "
    "at_position, time FROM t";

/// A transaction on a fresh read-model database with table t of every column kind.
struct scratch {
  read_db db;
  std::unique_ptr<persistence::projection_store> store = db.open();
  std::unique_ptr<persistence::projection_transaction> raw = [this] {
    auto begun = store->begin();
    REQUIRE(begun);
    return std::move(*begun);
  }();
  read_model_tx tx{*raw};
  scratch() {
    REQUIRE(
        tx.execute("CREATE TABLE t (small, big, flag, ratio, text, view, chars, some, none, "
                   "null_text, at_version, at_position, time)"));
  }
};

std::string message_of(const error& e) {
  return to_string(e);
}

}  // namespace

TEST_CASE("typed parameters of every supported type come back in the members of a described row") {
  scratch s;
  const timestamp when = from_unix_micros(1'764'633'600'123'456);
  const std::string_view view = "a view";
  const char* chars = "some chars";
  REQUIRE(s.tx.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       std::int32_t{-5}, std::uint64_t{7}, true, 2.5, std::string{"text"}, view,
                       chars, std::optional<std::int64_t>{9}, std::optional<std::int64_t>{},
                       nullptr, version{3}, global_position{11}, when));
  auto row = s.tx.query_one<every_type>(every_type_columns);
  REQUIRE_MESSAGE(row, (row ? "" : message_of(row.err())));
  REQUIRE(row->has_value());
  const auto& r = **row;
  CHECK(r.small == -5);
  CHECK(r.big == 7);
  CHECK(r.flag);
  CHECK(r.ratio == 2.5);
  CHECK(r.text == "text");
  CHECK(r.view == "a view");
  CHECK(r.chars == "some chars");
  CHECK(r.some == std::optional<std::int64_t>{9});
  CHECK_FALSE(r.none.has_value());
  CHECK_FALSE(r.null_text.has_value());
  CHECK(r.at_version == 3);
  CHECK(r.at_position == 11);
  CHECK(to_unix_micros(r.time) == 1'764'633'600'123'456);
  // Stored as SQL sees them: a bool as 1, a timestamp as unix microseconds, NULL as NULL.
  auto stored = s.raw->query("SELECT typeof(flag), flag, typeof(time), typeof(none) FROM t");
  REQUIRE(stored);
  CHECK(std::get<std::string>((*stored)[0][0]) == "integer");
  CHECK(std::get<std::int64_t>((*stored)[0][1]) == 1);
  CHECK(std::get<std::string>((*stored)[0][2]) == "integer");
  CHECK(std::get<std::string>((*stored)[0][3]) == "null");
}

TEST_CASE("a NULL for a member that is not optional is corrupted, naming the member and column") {
  scratch s;
  REQUIRE(s.tx.execute("INSERT INTO t (text, small) VALUES (?, ?)", nullptr, 4));
  auto row = s.tx.query_one<pair_row>("SELECT text, small FROM t");
  REQUIRE_FALSE(row);
  CHECK(row.err().code == errc::corrupted);
  CHECK(row.err().message.find("rows::pair_row.name (column 0)") != std::string::npos);
  CHECK(row.err().message.find("NULL") != std::string::npos);
  auto as_optional = s.tx.query_one<std::optional<std::string>>("SELECT text FROM t");
  REQUIRE(as_optional);
  REQUIRE(as_optional->has_value());
  CHECK_FALSE(as_optional->value().has_value());
}

TEST_CASE("a row with more or fewer columns than its struct has members is invalid_argument") {
  scratch s;
  REQUIRE(s.tx.execute("INSERT INTO t (text, small, big) VALUES ('a', 1, 2)"));
  auto fewer = s.tx.query<pair_row>("SELECT text FROM t");
  REQUIRE_FALSE(fewer);
  CHECK(fewer.err().code == errc::invalid_argument);
  CHECK(fewer.err().message == "the query returns 1 columns, rows::pair_row takes 2");
  auto more = s.tx.query_one<pair_row>("SELECT text, small, big FROM t");
  REQUIRE_FALSE(more);
  CHECK(more.err().code == errc::invalid_argument);
  auto scalar = s.tx.query_one<std::int64_t>("SELECT small, big FROM t");
  REQUIRE_FALSE(scalar);
  CHECK(scalar.err().code == errc::invalid_argument);
}

TEST_CASE("a value of the wrong kind is corrupted, naming the member and column index") {
  scratch s;
  REQUIRE(s.tx.execute("INSERT INTO t (text, small, ratio, big) VALUES (?, ?, ?, ?)", "seven",
                       "not a number", 1.5, -1));
  auto text_for_int = s.tx.query_one<pair_row>("SELECT text, small FROM t");
  REQUIRE_FALSE(text_for_int);
  CHECK(text_for_int.err().code == errc::corrupted);
  CHECK(text_for_int.err().message ==
        "rows::pair_row.count (column 1): not an integer (it holds text)");
  auto real_for_int = s.tx.query_one<pair_row>("SELECT text, ratio FROM t");
  REQUIRE_FALSE(real_for_int);
  CHECK(real_for_int.err().message ==
        "rows::pair_row.count (column 1): not an integer (it holds a real)");
  auto int_for_text = s.tx.query_one<pair_row>("SELECT big, big FROM t");
  REQUIRE_FALSE(int_for_text);
  CHECK(int_for_text.err().message ==
        "rows::pair_row.name (column 0): not text (it holds an integer)");
  auto negative_unsigned = s.tx.query_one<unsigned_row>("SELECT big FROM t");
  REQUIRE_FALSE(negative_unsigned);
  CHECK(negative_unsigned.err().code == errc::corrupted);
  CHECK(negative_unsigned.err().message.find("out of the member's range") != std::string::npos);
  auto too_big = s.tx.query_one<tiny_row>("SELECT 300");
  REQUIRE_FALSE(too_big);
  CHECK(too_big.err().code == errc::corrupted);
  auto not_a_bool = s.tx.query_one<flag_row>("SELECT 2");
  REQUIRE_FALSE(not_a_bool);
  CHECK(not_a_bool.err().message.find("flag_row.flag (column 0)") != std::string::npos);
  auto text_for_scalar = s.tx.query_one<double>("SELECT text FROM t");
  REQUIRE_FALSE(text_for_scalar);
  CHECK(text_for_scalar.err().message == "double.value (column 0): not a number (it holds text)");
}

TEST_CASE("a one-column query reads into a scalar row, and no row is nullopt") {
  scratch s;
  for (int i = 1; i <= 3; ++i)
    REQUIRE(s.tx.execute("INSERT INTO t (small, text) VALUES (?, ?)", i, "n" + std::to_string(i)));
  auto count = s.tx.query_one<std::int64_t>("SELECT COUNT(*) FROM t");
  REQUIRE(count);
  CHECK(count->value() == 3);
  auto names = s.tx.query<std::string>("SELECT text FROM t WHERE small >= ? ORDER BY small", 2);
  REQUIRE(names);
  CHECK(*names == std::vector<std::string>{"n2", "n3"});
  auto none = s.tx.query_one<std::int64_t>("SELECT small FROM t WHERE small > ?", 10);
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  auto ratio = s.tx.query_one<double>("SELECT SUM(small) FROM t");  // an integer reads as double
  REQUIRE(ratio);
  CHECK(ratio->value() == 6.0);
}

TEST_CASE("a reader queries what a committed transaction wrote, with typed rows") {
  read_db db;
  {
    auto store = db.open();
    auto raw = store->begin();
    REQUIRE(raw);
    read_model_tx tx{**raw};
    REQUIRE(tx.execute("CREATE TABLE counts (name TEXT, count INTEGER)"));
    REQUIRE(tx.execute("INSERT INTO counts VALUES (?, ?), (?, ?)", "a", 1, "b", 2));
    REQUIRE((*raw)->commit());
  }
  auto reader = db.reader();
  auto rows = reader.query<pair_row>("SELECT name, count FROM counts ORDER BY name");
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  CHECK(rows->at(1).name == "b");
  CHECK(rows->at(1).count == 2);
  auto b = reader.query_one<std::int64_t>("SELECT count FROM counts WHERE name = ?",
                                          std::optional<std::string>{"b"});
  REQUIRE(b);
  CHECK(b->value() == 2);
}

namespace {

/// What a projection's handlers saw.
struct seen {
  std::vector<orders::placed> placed;
  std::vector<event_info> infos;
  int confirmed = 0;
};

/// Handles OrderPlaced with a lambda and OrderConfirmed with a member function; nothing else.
class placements final : public projection {
 public:
  explicit placements(std::shared_ptr<seen> out) : projection("placements"), out_(std::move(out)) {
    on<orders::placed>([out = out_](read_model_tx& tx, const orders::placed& e,
                                    const event_info& info) -> result<void> {
      out->placed.push_back(e);
      out->infos.push_back(info);
      return tx.execute("INSERT INTO placements (order_id, customer_id) VALUES (?, ?)",
                        info.aggregate_id, e.customer_id);
    });
    on<orders::confirmed>(&placements::on_confirmed);
  }
  result<void> setup(read_model_tx& tx) override {
    return tx.execute(
        "CREATE TABLE IF NOT EXISTS placements (order_id TEXT PRIMARY KEY, customer_id TEXT)");
  }
  result<void> drop(read_model_tx& tx) override {
    return tx.execute("DROP TABLE IF EXISTS placements");
  }

 private:
  result<void> on_confirmed(read_model_tx&, const orders::confirmed&) {
    ++out_->confirmed;
    return ok();
  }
  std::shared_ptr<seen> out_;
};

/// A projection of payments, which the runtime of the test below does not register.
class balances final : public projection {
 public:
  balances() : projection("balances") {
    on<payments::authorized>([](read_model_tx&, const payments::authorized&) { return ok(); });
  }
  result<void> setup(read_model_tx&) override { return ok(); }
  result<void> drop(read_model_tx&) override { return ok(); }
};

}  // namespace

TEST_CASE("add_projection refuses a handler for an event struct no registered schema declares") {
  temp_dir dir;
  runtime_config config;
  config.journal.sqlite.path = dir.file("journal.db");
  config.projections.path = dir.file("read.db");
  config.metrics.enabled = false;
  auto rt = runtime::start(config);
  REQUIRE_MESSAGE(rt, (rt ? "" : to_string(rt.err())));
  REQUIRE((*rt)->register_aggregate<orders::order>());
  auto refused = (*rt)->add_projection(std::make_shared<balances>());
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::invalid_argument);
  CHECK(refused.err().message ==
        "projection balances handles strata::payments::authorized, which no registered "
        "aggregate's schema declares; register_aggregate it before add_projection");
  REQUIRE((*rt)->register_aggregate<payments::payment>());
  CHECK((*rt)->add_projection(std::make_shared<balances>()));
}

TEST_CASE("an upcast stored event reaches its typed handler in its current shape with its info") {
  persistence::memory_journal j;
  persistence::stream_append a;
  a.stream = stream_id{"Order", "o-old"};
  persistence::new_event n;
  n.event_id = "old-1";
  n.event_type = "OrderPlaced";
  n.schema_version = 1;
  n.time = from_unix_micros(1'700'000'000'000'000);
  n.user_id = "dora";
  n.command_id = "cmd-1";
  n.correlation_id = "corr-1";
  n.causation_id = "cause-1";
  n.data =
      R"({"customer_id":"dora","lines":[{"sku":"s","quantity":2,"unit_price":250}],"total":500})";
  a.events.push_back(n);
  REQUIRE(j.append({a}));
  auto out = std::make_shared<seen>();
  read_db db;
  auto caught = catch_up(j, std::make_shared<placements>(out), db.open());
  REQUIRE_MESSAGE(caught, (caught ? "" : to_string(caught.err())));
  CHECK(caught->parked == 0);
  REQUIRE(out->placed.size() == 1);
  const auto& e = out->placed.front();
  CHECK(e.currency == "USD");  // v1 had no currency; its upcaster says USD
  REQUIRE(e.lines.size() == 1);
  CHECK(e.lines.front().unit_price.currency == "USD");
  CHECK(e.total.minor == 500);
  const auto& info = out->infos.front();
  CHECK(info.position.value == 1);
  CHECK(info.stream_version.value == 1);
  CHECK(to_unix_micros(info.time) == 1'700'000'000'000'000);
  CHECK(info.aggregate_type == "Order");
  CHECK(info.aggregate_id == "o-old");
  CHECK(info.event_id == "old-1");
  CHECK(info.event_type == "OrderPlaced");
  CHECK(info.schema_version == 1);  // as stored, before upcasting
  CHECK(info.user_id == "dora");
  CHECK(info.command_id == "cmd-1");
  CHECK(info.correlation_id == "corr-1");
  CHECK(info.causation_id == "cause-1");
  auto reader = db.reader();
  auto customer = reader.query_one<std::string>(
      "SELECT customer_id FROM placements WHERE order_id = ?", "o-old");
  REQUIRE(customer);
  CHECK(customer->value_or("") == "dora");
}

TEST_CASE("events of types without a handler only advance the checkpoint") {
  persistence::memory_journal j;
  append<orders::order>(j, "o-1", {placed("c-1", 2)});
  append<orders::order>(j, "o-1",
                        {orders::item_added{orders::line{"sku-2", 1, money{10, "EUR"}}},
                         orders::confirmed{}, orders::cancelled{"no"}});
  append<inventory::inventory_item>(j, "sku-1", {inventory::received{5}});
  auto out = std::make_shared<seen>();
  auto typed = std::make_shared<placements>(out);
  auto record_level = bound(typed);
  // The bound wire names: the handled events', and the old names Order's upcasters read.
  const auto handles = record_level->handles();
  CHECK(std::find(handles.begin(), handles.end(), "OrderPlaced") != handles.end());
  CHECK(std::find(handles.begin(), handles.end(), "OrderConfirmed") != handles.end());
  CHECK(std::find(handles.begin(), handles.end(), "OrderCancelled") == handles.end());
  CHECK(std::find(handles.begin(), handles.end(), "StockReceived") == handles.end());
  read_db db;
  auto caught = catch_up(j, record_level, db.open());
  REQUIRE(caught);
  CHECK(caught->applied == 5);
  CHECK(caught->parked == 0);
  CHECK(out->placed.size() == 1);
  CHECK(out->confirmed == 1);
  auto reader = db.reader();
  auto cp = reader.connection().load_checkpoint("placements");
  REQUIRE(cp);
  CHECK(cp->position.value == 5);
  CHECK(reader.connection().dead_letters("placements")->empty());
}

TEST_CASE(
    "binding refuses a struct handled twice and a fold over an unknown aggregate, and binds again "
    "to the same") {
  class twice final : public projection {
   public:
    twice() : projection("twice") {
      on<orders::confirmed>([](read_model_tx&, const orders::confirmed&) { return ok(); });
      on<orders::confirmed>([](read_model_tx&, const orders::confirmed&) { return ok(); });
    }
    result<void> setup(read_model_tx&) override { return ok(); }
    result<void> drop(read_model_tx&) override { return ok(); }
  };
  auto refused = twice{}.bind(shop_catalog());
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::invalid_argument);
  CHECK(refused.err().message.find("handles strata::orders::confirmed twice") != std::string::npos);

  class folding final : public projection {
   public:
    folding() : projection("folding") {
      on<orders::confirmed>([](read_model_tx&, const orders::confirmed&) { return ok(); });
      fold_batches<orders::order>(
          [](read_model_tx&, const std::vector<recorded<orders::order>>&) { return ok(); });
    }
    result<void> setup(read_model_tx&) override { return ok(); }
    result<void> drop(read_model_tx&) override { return ok(); }
  };
  event_catalog payments_only;
  payments_only.add<payments::payment>();
  auto unknown = folding{}.bind(payments_only);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.err().code == errc::invalid_argument);
  folding once;
  CHECK(once.bind(shop_catalog()));
  CHECK(once.bind(shop_catalog()));  // the same aggregates: a retried registration
  event_catalog orders_elsewhere;
  orders_elsewhere.add<orders::order>();
  CHECK(once.bind(orders_elsewhere));  // the same schema and decoder, through another catalog
  auto other = once.bind(payments_only);
  REQUIRE_FALSE(other);  // no Order there: its structs are not declared
  CHECK(other.err().code == errc::invalid_argument);
  CHECK(bound(std::make_shared<folding>())->folds_batches());
}
