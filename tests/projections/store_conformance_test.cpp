// The read-model store contract, run against every backend: SQLite always, PostgreSQL in the
// strata_projections_postgres_tests executable (STRATA_TEST_POSTGRES), each test on a fresh
// file or schema.

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/describe/class.hpp>

#include "strata/persistence/projection_runner.hpp"
#include "strata/persistence/read_model.hpp"
#include "strata/persistence/sqlite_projection_store.hpp"
#include "strata/runtime/config.hpp"
#include "tests/runtime/temp_dir.hpp"
#include "tests/support/wait_until.hpp"

#ifdef STRATA_TEST_POSTGRES
#include "strata/domain/orders/order.hpp"
#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/persistence/postgres/postgres_projection_store.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/persistence/postgres_support.hpp"
#endif

using namespace strata;
using namespace strata::persistence;

namespace {

struct sqlite_store {
  [[maybe_unused]] static constexpr const char* name = "sqlite";
  bool available() const { return true; }
  result<std::unique_ptr<projection_store>> open() {
    sqlite_projection_store_options o;
    o.path = dir.file("read.db");
    return sqlite_projection_store_factory{o}.open();
  }
  strata::testing::temp_dir dir;
};

#ifdef STRATA_TEST_POSTGRES
/// A fresh schema on the server of STRATA_TEST_PG, dropped afterwards.
struct postgres_store {
  static constexpr const char* name = "postgres";
  postgres_store() {
    const char* conninfo = std::getenv("STRATA_TEST_PG");
    if (conninfo != nullptr) options.conninfo = conninfo;
    options.schema = persistence::testing::unique_schema("rm");
  }
  ~postgres_store() {
    if (!options.conninfo.empty())
      persistence::testing::schema_guard drop{options.conninfo, options.schema};
  }
  bool available() const {
    const char* skip = std::getenv("STRATA_SKIP_PG");
    return !(options.conninfo.empty() && skip != nullptr && std::string{skip} == "1");
  }
  result<std::unique_ptr<projection_store>> open() {
    if (options.conninfo.empty())
      return error{errc::unavailable,
                   "STRATA_TEST_PG is not set: run scripts/test.sh or set STRATA_SKIP_PG=1"};
    return postgres_projection_store_factory{options}.open();
  }
  postgres_projection_store_options options;
};
#endif

std::unique_ptr<projection_store> must_open(result<std::unique_ptr<projection_store>> s) {
  REQUIRE_MESSAGE(s, (s ? "" : to_string(s.err())));
  return std::move(*s);
}

std::unique_ptr<projection_transaction> must_begin(projection_store& s) {
  auto tx = s.begin();
  REQUIRE_MESSAGE(tx, (tx ? "" : to_string(tx.err())));
  return std::move(*tx);
}

void must(const result<void>& r) {
  REQUIRE_MESSAGE(r, (r ? "" : to_string(r.err())));
}

constexpr const char* create_sample =
    "CREATE TABLE IF NOT EXISTS sample (id BIGINT PRIMARY KEY, r DOUBLE PRECISION, t TEXT, n "
    "TEXT)";

dead_letter letter(std::int64_t position, std::string why) {
  dead_letter d;
  d.projection = "p";
  d.position = global_position{static_cast<std::uint64_t>(position)};
  d.event_id = "e-" + std::to_string(position);
  d.event_type = "orders.placed";
  d.error = std::move(why);
  d.parked_at = from_unix_micros(1'764'633'600'000'000 + position);
  return d;
}

struct sample_row {
  std::int64_t id = 0;
  double r = 0;
  std::string t;
  std::optional<std::string> n;
};
BOOST_DESCRIBE_STRUCT(sample_row, (), (id, r, t, n))

}  // namespace

#ifdef STRATA_TEST_POSTGRES
TYPE_TO_STRING_AS("postgres", postgres_store);
#define STRATA_STORE_BACKENDS postgres_store
#else
TYPE_TO_STRING_AS("sqlite", sqlite_store);
#define STRATA_STORE_BACKENDS sqlite_store
#endif

#define STRATA_REQUIRE_STORE(b)                              \
  if (!(b).available()) {                                    \
    MESSAGE((b).name << " store skipped: STRATA_SKIP_PG=1"); \
    return;                                                  \
  }

TEST_CASE_TEMPLATE("read-model rows, the checkpoint and dead letters commit together or not at all",
                   B, STRATA_STORE_BACKENDS) {
  B b;
  STRATA_REQUIRE_STORE(b);
  auto store = must_open(b.open());
  {
    auto tx = must_begin(*store);
    must(tx->execute(create_sample));
    must(tx->commit());
  }
  {
    auto tx = must_begin(*store);
    must(tx->execute("INSERT INTO sample (id, t) VALUES (?, ?)", {std::int64_t{1}, "kept"}));
    must(tx->save_checkpoint("p", checkpoint{global_position{7}, from_unix_micros(70), "j-1"}));
    must(tx->park(letter(5, "bad")));
    // The transaction sees its own writes before committing.
    auto inside = tx->load_checkpoint("p");
    REQUIRE(inside);
    CHECK(inside->position == global_position{7});
    must(tx->commit());
    CHECK(tx->commit().err().code == errc::invalid_argument);
  }
  {
    auto tx = must_begin(*store);
    must(tx->execute("INSERT INTO sample (id, t) VALUES (?, ?)", {std::int64_t{2}, "dropped"}));
    must(tx->save_checkpoint("p", checkpoint{global_position{9}, from_unix_micros(90), ""}));
    must(tx->park(letter(8, "worse")));
  }  // destroyed uncommitted: rolled back
  auto other = must_open(b.open());
  auto rows = other->query("SELECT id, t FROM sample ORDER BY id");
  REQUIRE(rows);
  REQUIRE(rows->size() == 1);
  CHECK(as_int((*rows)[0][0]) == 1);
  CHECK(as_text((*rows)[0][1]) == "kept");
  auto cp = other->load_checkpoint("p");
  REQUIRE(cp);
  CHECK(cp->position == global_position{7});
  CHECK(to_unix_micros(cp->last_event_time) == 70);
  auto parked = other->dead_letters("p");
  REQUIRE(parked);
  REQUIRE(parked->size() == 1);
  CHECK(parked->front().position == global_position{5});
  // The store is usable again after the rollback.
  auto tx = must_begin(*store);
  must(tx->execute("INSERT INTO sample (id, t) VALUES (?, ?)", {std::int64_t{2}, "now"}));
  must(tx->commit());
  auto count = other->query("SELECT count(*) FROM sample");
  REQUIRE(count);
  CHECK(as_int((*count)[0][0]) == 2);
}

TEST_CASE_TEMPLATE("a checkpoint saved without a journal id keeps the one recorded before", B,
                   STRATA_STORE_BACKENDS) {
  B b;
  STRATA_REQUIRE_STORE(b);
  auto store = must_open(b.open());
  auto none = store->load_checkpoint("p");
  REQUIRE(none);
  CHECK(none->position == global_position{0});
  CHECK(none->journal_id.empty());
  {
    auto tx = must_begin(*store);
    must(tx->save_checkpoint("p", checkpoint{global_position{3}, from_unix_micros(30), "j-1"}));
    must(tx->commit());
  }
  {
    auto tx = must_begin(*store);
    must(tx->save_checkpoint("p", checkpoint{global_position{4}, from_unix_micros(40), ""}));
    must(tx->commit());
  }
  auto cp = must_open(b.open())->load_checkpoint("p");
  REQUIRE(cp);
  CHECK(cp->position == global_position{4});
  CHECK(to_unix_micros(cp->last_event_time) == 40);
  CHECK(cp->journal_id == "j-1");
  {
    auto tx = must_begin(*store);
    must(tx->save_checkpoint("p", checkpoint{global_position{5}, from_unix_micros(50), "j-2"}));
    must(tx->commit());
  }
  auto replaced = store->load_checkpoint("p");
  REQUIRE(replaced);
  CHECK(replaced->journal_id == "j-2");
  auto other = store->load_checkpoint("q");
  REQUIRE(other);
  CHECK(other->position == global_position{0});
}

TEST_CASE_TEMPLATE("parking counts attempts, unpark removes one letter and forget clears all", B,
                   STRATA_STORE_BACKENDS) {
  B b;
  STRATA_REQUIRE_STORE(b);
  auto store = must_open(b.open());
  {
    auto tx = must_begin(*store);
    must(tx->park(letter(9, "first")));
    must(tx->park(letter(4, "other")));
    must(tx->park(letter(9, "again")));
    must(tx->save_checkpoint("p", checkpoint{global_position{9}, from_unix_micros(90), "j"}));
    must(tx->commit());
  }
  auto parked = store->dead_letters("p");
  REQUIRE(parked);
  REQUIRE(parked->size() == 2);
  CHECK((*parked)[0].position == global_position{4});
  CHECK((*parked)[0].attempts == 1);
  CHECK((*parked)[1].position == global_position{9});
  CHECK((*parked)[1].attempts == 2);
  CHECK((*parked)[1].error == "again");
  CHECK((*parked)[1].event_id == "e-9");
  CHECK((*parked)[1].event_type == "orders.placed");
  CHECK(to_unix_micros((*parked)[1].parked_at) == 1'764'633'600'000'009);
  {  // unpark_once removes a parked event once; a second time it is a conflict
    auto tx = must_begin(*store);
    must(tx->unpark_once("p", global_position{9}));
    auto again = tx->unpark_once("p", global_position{9});
    REQUIRE_FALSE(again);
    CHECK(again.err().code == errc::conflict);
    auto never = tx->unpark_once("p", global_position{100});
    REQUIRE_FALSE(never);
    CHECK(never.err().code == errc::conflict);
  }  // rolled back: 9 is parked still
  {
    auto tx = must_begin(*store);
    must(tx->unpark("p", global_position{4}));
    must(tx->unpark("p", global_position{100}));
    must(tx->commit());
  }
  parked = store->dead_letters("p");
  REQUIRE(parked);
  REQUIRE(parked->size() == 1);
  CHECK(parked->front().position == global_position{9});
  {
    auto tx = must_begin(*store);
    must(tx->forget("p"));
    must(tx->commit());
  }
  parked = store->dead_letters("p");
  REQUIRE(parked);
  CHECK(parked->empty());
  auto cp = store->load_checkpoint("p");
  REQUIRE(cp);
  CHECK(cp->position == global_position{0});
}

TEST_CASE_TEMPLATE("integers, reals, text and NULL round-trip through parameters and rows", B,
                   STRATA_STORE_BACKENDS) {
  B b;
  STRATA_REQUIRE_STORE(b);
  auto store = must_open(b.open());
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  {
    auto tx = must_begin(*store);
    read_model_tx typed{*tx};
    must(typed.execute(create_sample));
    must(typed.execute("INSERT INTO sample (id, r, t, n) VALUES (?, ?, ?, ?)", big, 2.5,
                       "it's a '?' ?1", nullptr));
    must(typed.execute("INSERT INTO sample (id, r, t, n) VALUES (?1, ?2, ?3, ?3)", std::int64_t{-3},
                       -0.125, "x"));
    // The raw rows have the kinds of the columns.
    auto raw = tx->query("SELECT id, r, t, n, 'what?' FROM sample WHERE id = ?", {big});
    REQUIRE(raw);
    REQUIRE(raw->size() == 1);
    const auto& row = raw->front();
    CHECK(std::get<std::int64_t>(row[0]) == big);
    CHECK(std::get<double>(row[1]) == 2.5);
    CHECK(std::get<std::string>(row[2]) == "it's a '?' ?1");
    CHECK(std::holds_alternative<std::nullptr_t>(row[3]));
    CHECK(std::get<std::string>(row[4]) == "what?");
    must(tx->commit());
  }
  read_model_reader reader{must_open(b.open())};
  auto rows = reader.query<sample_row>("SELECT id, r, t, n FROM sample ORDER BY id");
  REQUIRE_MESSAGE(rows, (rows ? "" : to_string(rows.err())));
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].id == -3);
  CHECK((*rows)[0].r == -0.125);
  CHECK((*rows)[0].n == std::optional<std::string>{"x"});
  CHECK((*rows)[1].id == big);
  CHECK((*rows)[1].t == "it's a '?' ?1");
  CHECK_FALSE((*rows)[1].n.has_value());
  // Aggregates of integers read as integers.
  auto sum = reader.query_one<std::int64_t>("SELECT SUM(id) - ? FROM sample WHERE id < 0",
                                            std::int64_t{1});
  REQUIRE_MESSAGE(sum, (sum ? "" : to_string(sum.err())));
  CHECK(*sum == std::optional<std::int64_t>{-4});
}

TEST_CASE_TEMPLATE("a broken constraint is a conflict and SQL that does not compile is internal", B,
                   STRATA_STORE_BACKENDS) {
  B b;
  STRATA_REQUIRE_STORE(b);
  auto store = must_open(b.open());
  {
    auto tx = must_begin(*store);
    must(tx->execute(create_sample));
    must(tx->execute("INSERT INTO sample (id) VALUES (?)", {std::int64_t{1}}));
    must(tx->commit());
  }
  {
    auto tx = must_begin(*store);
    auto dup = tx->execute("INSERT INTO sample (id) VALUES (?)", {std::int64_t{1}});
    REQUIRE_FALSE(dup);
    CHECK(dup.err().code == errc::conflict);
  }
  {
    auto tx = must_begin(*store);
    auto bad = tx->execute("INSRT INTO sample (id) VALUES (?)", {std::int64_t{2}});
    REQUIRE_FALSE(bad);
    CHECK(bad.err().code == errc::internal);
  }
  auto bad_query = store->query("SELECT FROM WHERE");
  REQUIRE_FALSE(bad_query);
  CHECK(bad_query.err().code == errc::internal);
  // Nothing of the failed transactions was kept, and the store still works.
  auto rows = store->query("SELECT count(*) FROM sample");
  REQUIRE(rows);
  CHECK(as_int((*rows)[0][0]) == 1);
}

namespace {

/// Writes each record's position into `seen` (one row per record, numbered in the order the
/// statements ran) and, for a record whose data is "poison", a duplicate of an existing row
/// that breaks the primary key. Both statements share one SQL text, so a store that queues
/// runs of equal statements sends them together.
class recording_projection final : public persistence::projection {
 public:
  std::string_view name() const override { return "recording"; }
  std::vector<std::string> handles() const override { return {}; }
  result<void> setup(projection_transaction& tx) override {
    return tx.execute("CREATE TABLE IF NOT EXISTS seen (id BIGINT PRIMARY KEY, position BIGINT)");
  }
  result<void> drop(projection_transaction& tx) override {
    return tx.execute("DROP TABLE IF EXISTS seen");
  }
  result<void> apply(projection_transaction& tx, const event_record& r) override {
    const auto position = static_cast<std::int64_t>(r.position.value);
    // A poison event writes the id of the first row again: the key is broken.
    const std::int64_t id = r.data == "poison" ? 1 : position;
    return tx.execute("INSERT INTO seen (id, position) VALUES (?, ?)", {id, position});
  }
};

/// A clock that always reads the same time (the runner stamps dead letters with it).
class still_clock final : public clock {
 public:
  timestamp now() const override { return from_unix_micros(1'764'633'600'000'000); }
};

std::vector<event_record> numbered_records(std::uint64_t from, std::uint64_t to,
                                           std::uint64_t poison) {
  std::vector<event_record> out;
  for (std::uint64_t p = from; p <= to; ++p) {
    event_record r;
    r.position = global_position{p};
    r.event_id = "e-" + std::to_string(p);
    r.event_type = "test.recorded";
    r.aggregate_type = "test";
    r.aggregate_id = "a";
    r.stream_version = version{p};
    r.time = from_unix_micros(static_cast<std::int64_t>(p));
    r.data = p == poison ? "poison" : "{}";
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

TEST_CASE_TEMPLATE("deferred statements run in order and a query in the transaction sees them", B,
                   STRATA_STORE_BACKENDS) {
  B b;
  STRATA_REQUIRE_STORE(b);
  auto store = must_open(b.open());
  {
    auto tx = must_begin(*store);
    const bool deferred = tx->defer_writes(true);
    // PostgreSQL queues the statements; SQLite runs each at once.
    CHECK(deferred == (std::string{B::name} == "postgres"));
    must(tx->execute(create_sample));
    must(tx->execute("INSERT INTO sample (id, t) VALUES (?, ?)", {std::int64_t{1}, "a"}));
    for (const char* step : {"b", "c", "d"})
      must(tx->execute("UPDATE sample SET t = t || ? WHERE id = ?", {step, std::int64_t{1}}));
    // The query runs after every statement before it.
    auto seen = tx->query("SELECT t FROM sample WHERE id = ?", {std::int64_t{1}});
    REQUIRE_MESSAGE(seen, (seen ? "" : to_string(seen.err())));
    REQUIRE(seen->size() == 1);
    CHECK(as_text((*seen)[0][0]) == "abcd");
    must(tx->execute("UPDATE sample SET t = t || ? WHERE id = ?", {"e", std::int64_t{1}}));
    must(tx->execute("INSERT INTO sample (id, t, r) VALUES (?, ?, ?)",
                     {std::int64_t{2}, "it's ?1 -- not a comment", -0.5}));
    must(tx->execute("INSERT INTO sample (id, n) VALUES (?, ?)",
                     {std::numeric_limits<std::int64_t>::min(), nullptr}));
    must(tx->flush());
    // A run of one upsert whose rows meet the same key again: each row sees the rows before it,
    // as statements run one by one do.
    const std::pair<std::int64_t, const char*> upserts[] = {{10, "a"}, {11, "b"}, {10, "c"},
                                                            {10, "d"}, {11, "e"}, {12, "f"}};
    for (const auto& [id, piece] : upserts)
      must(
          tx->execute("INSERT INTO sample (id, t) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET "
                      "t = sample.t || excluded.t",
                      {id, piece}));
    must(tx->execute("UPDATE sample SET t = t || ? WHERE id = ?", {"f", std::int64_t{1}}));
    must(tx->save_checkpoint("p", checkpoint{global_position{3}, from_unix_micros(30), "j"}));
    must(tx->commit());
  }
  read_model_reader reader{must_open(b.open())};
  auto rows = reader.query<sample_row>(
      "SELECT id, COALESCE(r, 0), COALESCE(t, ''), n FROM sample "
      "ORDER BY id");
  REQUIRE_MESSAGE(rows, (rows ? "" : to_string(rows.err())));
  REQUIRE(rows->size() == 6);
  CHECK((*rows)[0].id == std::numeric_limits<std::int64_t>::min());
  CHECK_FALSE((*rows)[0].n.has_value());
  CHECK((*rows)[1].t == "abcdef");
  CHECK((*rows)[2].t == "it's ?1 -- not a comment");
  CHECK((*rows)[2].r == -0.5);
  CHECK((*rows)[3].t == "acd");
  CHECK((*rows)[4].t == "be");
  CHECK((*rows)[5].t == "f");
  auto cp = store->load_checkpoint("p");
  REQUIRE(cp);
  CHECK(cp->position == global_position{3});
}

TEST_CASE_TEMPLATE(
    "runs of one keyed UPDATE or DELETE change the rows that single statements would", B,
    STRATA_STORE_BACKENDS) {
  B b;
  STRATA_REQUIRE_STORE(b);
  auto store = must_open(b.open());
  {
    auto tx = must_begin(*store);
    must(tx->execute(create_sample));
    for (std::int64_t id = 1; id <= 6; ++id)
      must(tx->execute("INSERT INTO sample (id, t) VALUES (?, ?)", {id, "-"}));
    must(tx->commit());
  }
  {
    auto tx = must_begin(*store);
    tx->defer_writes(true);
    // Id 1 twice in one run: the second must win, as it does one statement at a time. Id 3's
    // NULL has no type of its own.
    const char* set = "UPDATE sample SET t = ?, n = ? WHERE id = ?";
    must(tx->execute(set, {"a", "10", std::int64_t{1}}));
    must(tx->execute(set, {"b", "20", std::int64_t{2}}));
    must(tx->execute(set, {"c", "30", std::int64_t{1}}));
    must(tx->execute(set, {"d", nullptr, std::int64_t{3}}));
    must(tx->execute(set, {"e", "50", std::int64_t{4}}));
    must(tx->execute(set, {"never", "0", std::int64_t{99}}));
    // A key of two columns, one of them matching no row.
    const char* by_two = "UPDATE sample SET r = ? WHERE id = ? AND t = ?";
    must(tx->execute(by_two, {1.5, std::int64_t{2}, "b"}));
    must(tx->execute(by_two, {2.5, std::int64_t{4}, "not e"}));
    must(tx->execute(by_two, {3.5, std::int64_t{1}, "c"}));
    const char* remove = "DELETE FROM sample WHERE id = ?";
    must(tx->execute(remove, {std::int64_t{5}}));
    must(tx->execute(remove, {std::int64_t{5}}));
    must(tx->execute(remove, {std::int64_t{98}}));
    // After the deletes, in the same transaction: the row is gone, the other updates stand.
    must(tx->execute(set, {"f", "60", std::int64_t{6}}));
    must(tx->flush());
    must(tx->commit());
  }
  read_model_reader reader{must_open(b.open())};
  auto rows = reader.query<sample_row>(
      "SELECT id, COALESCE(r, 0), COALESCE(t, ''), n FROM sample ORDER BY id");
  REQUIRE_MESSAGE(rows, (rows ? "" : to_string(rows.err())));
  REQUIRE(rows->size() == 5);
  const sample_row expected[] = {{1, 3.5, "c", "30"},
                                 {2, 1.5, "b", "20"},
                                 {3, 0, "d", std::nullopt},
                                 {4, 0, "e", "50"},
                                 {6, 0, "f", "60"}};
  for (std::size_t i = 0; i < rows->size(); ++i) {
    const auto& row = (*rows)[i];
    const auto& want = expected[i];
    INFO("row " << i);
    CHECK(row.id == want.id);
    CHECK(row.r == want.r);
    CHECK(row.t == want.t);
    CHECK(row.n == want.n);
  }
}

TEST_CASE_TEMPLATE("a deferred statement's failure fails its transaction and nothing of it commits",
                   B, STRATA_STORE_BACKENDS) {
  B b;
  STRATA_REQUIRE_STORE(b);
  auto store = must_open(b.open());
  {
    auto tx = must_begin(*store);
    must(tx->execute(create_sample));
    must(tx->execute("INSERT INTO sample (id) VALUES (?)", {std::int64_t{1}}));
    must(tx->commit());
  }
  {
    auto tx = must_begin(*store);
    tx->defer_writes(true);
    must(tx->execute("INSERT INTO sample (id) VALUES (?)", {std::int64_t{2}}));
    // Queued (PostgreSQL) or refused at once (SQLite): the error comes at the latest from flush.
    const auto dup = tx->execute("INSERT INTO sample (id) VALUES (?)", {std::int64_t{1}});
    // A statement first queued behind the failure never ran: the next transaction that runs it
    // must not take it for prepared (an expression, so that it is prepared, not merged).
    if (dup)
      must(tx->execute("UPDATE sample SET t = ? || '' WHERE id = ?", {"x", std::int64_t{1}}));
    const auto flushed = dup ? tx->flush() : dup;
    REQUIRE_FALSE(flushed);
    CHECK(flushed.err().code == errc::conflict);
    if (std::string{B::name} == "postgres") {
      auto c = tx->commit();
      CHECK_FALSE(c);
    }
  }
  auto rows = store->query("SELECT count(*) FROM sample");
  REQUIRE(rows);
  CHECK(as_int((*rows)[0][0]) == 1);
  {
    auto tx = must_begin(*store);
    tx->defer_writes(true);
    must(tx->execute("UPDATE sample SET t = ? || '' WHERE id = ?", {"x", std::int64_t{1}}));
    must(tx->flush());
    must(tx->commit());
  }
  auto t = store->query("SELECT t FROM sample WHERE id = ?", {std::int64_t{1}});
  REQUIRE(t);
  CHECK(as_text((*t)[0][0]) == "x");
}

TEST_CASE_TEMPLATE("a runner parks exactly the poison event of a batch whose statements are queued",
                   B, STRATA_STORE_BACKENDS) {
  for (const auto policy : {poison_policy::park_and_continue, poison_policy::stop}) {
    CAPTURE(static_cast<int>(policy));
    B b;
    STRATA_REQUIRE_STORE(b);
    projection_runner runner{std::make_shared<recording_projection>(), must_open(b.open()), policy,
                             std::make_shared<still_clock>()};
    must(runner.start());
    // Position 7 breaks the key; its statement is followed by those of 8..20 in the same run.
    auto out = runner.apply(numbered_records(1, 20, 7));
    REQUIRE_MESSAGE(out, (out ? "" : to_string(out.err())));
    CHECK(out->parked == 1);
    auto parked = runner.store().dead_letters("recording");
    REQUIRE(parked);
    REQUIRE(parked->size() == 1);
    CHECK(parked->front().position == global_position{7});
    CHECK(parked->front().error.rfind("conflict", 0) == 0);
    auto rows = runner.store().query("SELECT position FROM seen ORDER BY id");
    REQUIRE(rows);
    std::vector<std::int64_t> positions;
    for (const auto& r : *rows) positions.push_back(as_int(r[0]));
    std::vector<std::int64_t> expected;
    const std::int64_t last = policy == poison_policy::stop ? 6 : 20;
    for (std::int64_t p = 1; p <= last; ++p)
      if (p != 7) expected.push_back(p);
    CHECK(positions == expected);
    CHECK(runner.position().position == global_position{policy == poison_policy::stop ? 6u : 20u});
    CHECK(runner.store().load_checkpoint("recording")->position == runner.position().position);
    if (policy == poison_policy::park_and_continue) {
      // The next batch is queued again and applied whole.
      auto next = runner.apply(numbered_records(21, 40, 0));
      REQUIRE_MESSAGE(next, (next ? "" : to_string(next.err())));
      CHECK(next->applied == 20);
      CHECK(next->parked == 0);
      auto count = runner.store().query("SELECT count(*) FROM seen");
      REQUIRE(count);
      CHECK(as_int((*count)[0][0]) == 39);
    } else {
      CHECK(runner.is_stopped());
    }
  }
}

TEST_CASE_TEMPLATE("a checkpoint advances only from the position its writer expects", B,
                   STRATA_STORE_BACKENDS) {
  B b;
  STRATA_REQUIRE_STORE(b);
  auto store = must_open(b.open());
  const auto advance = [&](std::uint64_t expected, std::uint64_t to, std::string journal_id) {
    auto tx = must_begin(*store);
    auto moved = tx->advance_checkpoint(
        "p", global_position{expected},
        checkpoint{global_position{to}, from_unix_micros(static_cast<std::int64_t>(to) * 10),
                   std::move(journal_id)});
    if (moved) must(tx->commit());
    return moved;
  };
  must(advance(0, 5, "j-1"));
  // From a position it is not at: refused, naming both where it was expected and where it is.
  for (const std::uint64_t stale : {0u, 3u, 6u}) {
    CAPTURE(stale);
    auto refused = advance(stale, 7, "");
    REQUIRE_FALSE(refused);
    CHECK(refused.err().code == errc::conflict);
    CHECK(refused.err().message.find("not at position " + std::to_string(stale)) !=
          std::string::npos);
  }
  must(advance(5, 9, ""));
  auto cp = must_open(b.open())->load_checkpoint("p");
  REQUIRE(cp);
  CHECK(cp->position == global_position{9});
  CHECK(to_unix_micros(cp->last_event_time) == 90);
  CHECK(cp->journal_id == "j-1");  // an empty id keeps the recorded one
  // A projection without a checkpoint is at 0: it advances from there only.
  auto none = [&] {
    auto tx = must_begin(*store);
    return tx->advance_checkpoint("q", global_position{4},
                                  checkpoint{global_position{8}, from_unix_micros(80), ""});
  }();
  CHECK_FALSE(none);
  CHECK(store->load_checkpoint("q")->position == global_position{0});
}

namespace {

/// One row per record applied, with no key to catch a second application.
class counting_projection final : public persistence::projection {
 public:
  std::string_view name() const override { return "counting"; }
  std::vector<std::string> handles() const override { return {}; }
  result<void> setup(projection_transaction& tx) override {
    return tx.execute("CREATE TABLE IF NOT EXISTS applied (position BIGINT)");
  }
  result<void> drop(projection_transaction& tx) override {
    return tx.execute("DROP TABLE IF EXISTS applied");
  }
  result<void> apply(projection_transaction& tx, const event_record& r) override {
    return tx.execute("INSERT INTO applied (position) VALUES (?)",
                      {static_cast<std::int64_t>(r.position.value)});
  }
};

}  // namespace

TEST_CASE_TEMPLATE(
    "a runner whose batch another runner committed first applies none of it and resumes after "
    "it",
    B, STRATA_STORE_BACKENDS) {
  B b;
  STRATA_REQUIRE_STORE(b);
  // Two runners of one projection on one read model, as when a lease holder paused past its
  // lease resumes while the next holder runs: both start from the same checkpoint.
  auto projection = std::make_shared<counting_projection>();
  projection_runner late{projection, must_open(b.open()), poison_policy::stop,
                         std::make_shared<still_clock>()};
  projection_runner next{projection, must_open(b.open()), poison_policy::stop,
                         std::make_shared<still_clock>()};
  must(late.start());
  must(next.start());
  auto first = next.apply(numbered_records(1, 10, 0));
  REQUIRE_MESSAGE(first, (first ? "" : to_string(first.err())));
  CHECK(first->applied == 10);
  // The late runner's batch overlaps what was committed: refused whole.
  auto refused = late.apply(numbered_records(1, 12, 0));
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::conflict);
  const auto count = [&] {
    auto rows = next.store().query("SELECT count(*), count(DISTINCT position) FROM applied");
    REQUIRE(rows);
    return std::pair{as_int((*rows)[0][0]), as_int((*rows)[0][1])};
  };
  CHECK(count() == std::pair<std::int64_t, std::int64_t>{10, 10});
  CHECK(next.store().load_checkpoint("counting")->position == global_position{10});
  // Its next call reads where the store stands and applies only what is new.
  auto resumed = late.apply(numbered_records(1, 12, 0));
  REQUIRE_MESSAGE(resumed, (resumed ? "" : to_string(resumed.err())));
  CHECK(resumed->skipped == 10);
  CHECK(resumed->applied == 2);
  CHECK(count() == std::pair<std::int64_t, std::int64_t>{12, 12});
  CHECK(late.position().position == global_position{12});
}

#ifndef STRATA_TEST_POSTGRES

TEST_CASE("projections.backend takes sqlite or postgres, with the postgres section's keys") {
  auto c = parse_config(
      R"({"projections": {"backend": "postgres", "postgres": {"conninfo": "host=10.0.0.1", )"
      R"("schema": "shop_read"}}})");
  REQUIRE_MESSAGE(c, (c ? "" : to_string(c.err())));
  CHECK(c->projections.backend == projections_backend::postgres);
  CHECK(c->projections.postgres.conninfo == "host=10.0.0.1");
  CHECK(c->projections.postgres.schema == "shop_read");
  auto again = parse_config(to_json_text(*c));
  REQUIRE(again);
  CHECK(again->projections.backend == projections_backend::postgres);
  CHECK(again->projections.postgres.schema == "shop_read");
  runtime_config defaults;
  CHECK(defaults.projections.backend == projections_backend::sqlite);
  CHECK(defaults.projections.postgres.schema == "strata_read");
  auto bad = parse_config(R"({"projections": {"backend": "mongodb"}})");
  REQUIRE_FALSE(bad);
  CHECK(bad.err().code == errc::invalid_argument);
  CHECK(bad.err().message ==
        R"(projections.backend must be "sqlite" or "postgres", found "mongodb" (a string))");
}

#else

TEST_CASE("placeholders become numbered parameters with the casts of their values") {
  CHECK(postgres_placeholders("SELECT ?, ?, ?, ?", "idtn") ==
        "SELECT $1::bigint, $2::double precision, $3::text, $4");
  CHECK(postgres_placeholders("x = ?2 AND y = ? AND z = ?1", "ti") ==
        "x = $2::bigint AND y = $3 AND z = $1::text");
  CHECK(postgres_placeholders("'a?''?' \"b?\" -- c?\n/* d? */ ?", "i") ==
        "'a?''?' \"b?\" -- c?\n/* d? */ $1::bigint");
  CHECK(postgres_placeholders("CREATE TABLE t (n INTEGER NOT NULL, integers_x integer) WITHOUT\n"
                              "  ROWID",
                              "") == "CREATE TABLE t (n BIGINT NOT NULL, integers_x BIGINT) ");
  CHECK(postgres_placeholders("SELECT 'INTEGER', \"without rowid\" -- INTEGER\n", "") ==
        "SELECT 'INTEGER', \"without rowid\" -- INTEGER\n");
  CHECK(postgres_placeholders("SELECT without_x FROM t WITHOUT", "") ==
        "SELECT without_x FROM t WITHOUT");
}

TEST_CASE("a postgres read-model store refuses a schema that is not a plain identifier") {
  postgres_projection_store_options o;
  o.conninfo = "host=127.0.0.1";
  o.schema = "bad-name; DROP";
  auto s = postgres_projection_store::open(o);
  REQUIRE_FALSE(s);
  CHECK(s.err().code == errc::invalid_argument);
}

TEST_CASE("an unreachable postgres read-model database is unavailable") {
  postgres_projection_store_options o;
  o.conninfo = "host=127.0.0.1 port=1 connect_timeout=2";
  auto s = postgres_projection_store::open(o);
  REQUIRE_FALSE(s);
  CHECK(s.err().code == errc::unavailable);
}

// A cluster node sets the timeout so that a frozen projection holder cannot keep its rows
// locked: the server ends the transaction, which then commits nothing.
TEST_CASE(
    "a postgres read-model transaction left idle past its timeout is ended and writes nothing") {
  STRATA_PG_CONNINFO(conninfo);
  postgres_store b;
  const std::string app = b.options.schema + "_idle";
  b.options.conninfo += " application_name=" + app;
  b.options.idle_in_transaction_timeout_ms = 300;
  auto store = must_open(b.open());
  {
    auto tx = must_begin(*store);
    must(tx->execute("CREATE TABLE idle_rows (n BIGINT NOT NULL)"));
    must(tx->commit());
  }
  auto tx = must_begin(*store);
  must(tx->execute("INSERT INTO idle_rows (n) VALUES (?)", {std::int64_t{1}}));
  // The client now stops between two statements; the server ends its session.
  CHECK(strata::testing::wait_until([&] {
    auto left = persistence::testing::pg_exec(
        conninfo, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + app + "'");
    return left[0][0].as<int>() == 0;
  }));
  auto committed = tx->commit();
  REQUIRE_FALSE(committed);
  CHECK(committed.err().code == errc::unavailable);
  tx.reset();
  // Nothing of it was written, and the store reconnects for its next call.
  auto count = store->query("SELECT count(*) FROM idle_rows");
  REQUIRE_MESSAGE(count, (count ? "" : to_string(count.err())));
  CHECK(as_int((*count)[0][0]) == 0);
}

TEST_CASE("a postgres read-model store filled from empty analyzes its tables as they grow") {
  STRATA_PG_CONNINFO(conninfo);
  postgres_store b;
  auto store = must_open(b.open());
  // ANALYZE sets last_analyze; autovacuum, which may run meanwhile, sets last_autoanalyze.
  auto analyzed = [&] {
    return persistence::testing::pg_exec(
               conninfo, "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = '" +
                             b.options.schema +
                             "' AND relname = 'sample' AND last_analyze IS NOT NULL")[0][0]
        .as<int>();
  };
  {
    auto tx = must_begin(*store);
    must(tx->execute(create_sample));
    for (std::int64_t id = 0; id < 100; ++id)
      must(tx->execute("INSERT INTO sample (id) VALUES (?)", {id}));
    must(tx->commit());
  }
  CHECK(analyzed() == 0);  // 101 writes: too few to be worth it
  for (std::int64_t batch = 1; batch <= 9; ++batch) {
    auto tx = must_begin(*store);
    tx->defer_writes(true);
    for (std::int64_t id = batch * 100; id < (batch + 1) * 100; ++id)
      must(tx->execute("INSERT INTO sample (id) VALUES (?)", {id}));
    must(tx->commit());
  }
  // 1,001 committed writes: the planner now knows the table is not empty.
  CHECK(analyzed() == 1);
  const auto estimate =
      persistence::testing::pg_exec(conninfo, "SELECT reltuples FROM pg_class WHERE oid = '" +
                                                  b.options.schema + ".sample'::regclass")[0][0]
          .as<double>();
  CHECK(estimate == doctest::Approx(1000));
}

TEST_CASE("the runtime with projections.backend postgres keeps order summaries in PostgreSQL") {
  STRATA_PG_CONNINFO(conninfo);
  const std::string schema = persistence::testing::unique_schema("rt_rm");
  persistence::testing::schema_guard drop{conninfo, schema};
  strata::testing::temp_dir dir;
  auto config =
      parse_config(R"({"projections": {"backend": "postgres", "postgres": {"conninfo": ")" +
                   conninfo + R"(", "schema": ")" + schema + R"("}}})");
  REQUIRE_MESSAGE(config, (config ? "" : to_string(config.err())));
  config->journal.sqlite.path = dir.file("journal.db");
  config->metrics.enabled = false;
  auto rt = runtime::start(*config);
  REQUIRE_MESSAGE(rt, (rt ? "" : to_string(rt.err())));
  REQUIRE((*rt)->register_aggregate<orders::order>());
  REQUIRE((*rt)->add_projection(std::make_shared<read_models::order_summary_projection>()));
  auto placed =
      (*rt)
          ->send<orders::order>("o-1", orders::place{"alice",
                                                     "EUR",
                                                     {orders::line{"sku-1", 3, money{100, "EUR"}},
                                                      orders::line{"sku-2", 1, money{50, "EUR"}}}})
          .get();
  REQUIRE_MESSAGE(placed.is_accepted(), to_string(placed));
  auto added = (*rt)
                   ->send<orders::order>(
                       "o-1", orders::add_item{orders::line{"sku-1", 2, money{100, "EUR"}}})
                   .get();
  REQUIRE_MESSAGE(added.is_accepted(), to_string(added));
  auto wait = (*rt)->wait_for("order_summary", added.position, std::chrono::seconds{30});
  REQUIRE_MESSAGE(wait, (wait ? "" : to_string(wait.err())));
  auto reader = (*rt)->open_read_models();
  REQUIRE(reader);
  auto o = read_models::find_order(*reader, "o-1");
  REQUIRE_MESSAGE(o, (o ? "" : to_string(o.err())));
  REQUIRE(o->has_value());
  CHECK(to_string(**o) == "o-1 alice open 6x 550 EUR");
  auto by_customer = read_models::orders_by_customer(*reader, "alice");
  REQUIRE(by_customer);
  CHECK(by_customer->size() == 1);
  // The rows are in the configured schema.
  auto counted =
      persistence::testing::pg_exec(conninfo, "SELECT count(*) FROM " + schema + ".order_summary");
  CHECK(counted[0][0].as<int>() == 1);
}

#endif  // STRATA_TEST_POSTGRES
