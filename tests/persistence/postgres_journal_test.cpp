// The PostgreSQL journal against a real server: append semantics, JSONB, tampering, lost
// connections and, above all, that no reader ever sees global positions out of order.

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "strata/persistence/audit_chain.hpp"
#include "strata/persistence/postgres/detail/pg_error.hpp"
#include "strata/persistence/postgres/postgres_journal.hpp"
#include "tests/persistence/postgres_support.hpp"
#include "tests/persistence/support.hpp"

namespace strata::persistence {
namespace {

using testing::append_one;
using testing::make_event;
using testing::part;
using testing::pg_exec;
using testing::render;
using testing::test_time;

// A fresh schema for one test, dropped when the test ends.
struct pg_test_schema {
  std::string conninfo;
  std::string schema;
  testing::schema_guard guard;

  pg_test_schema(std::string c, const std::string& prefix)
      : conninfo(std::move(c)), schema(testing::unique_schema(prefix)), guard(conninfo, schema) {}

  postgres_journal_options options() const {
    postgres_journal_options o;
    o.conninfo = conninfo;
    o.schema = schema;
    return o;
  }

  std::unique_ptr<postgres_journal> open(postgres_journal_options o) const {
    auto j = postgres_journal::open(std::move(o));
    REQUIRE_MESSAGE(j.has_value(), (j ? std::string{} : to_string(j.err())));
    return std::move(*j);
  }
  std::unique_ptr<postgres_journal> open() const { return open(options()); }

  pqxx::result sql(const std::string& statement) const { return pg_exec(conninfo, statement); }
};

std::vector<event_record> read_all_of(journal& j) {
  auto all = j.read_all(global_position{0}, 100000);
  REQUIRE_MESSAGE(all.has_value(), (all ? std::string{} : to_string(all.err())));
  return std::move(*all);
}

std::string positions_of(const std::vector<event_record>& records) {
  std::string out;
  for (const auto& r : records) out += (out.empty() ? "" : " ") + std::to_string(r.position.value);
  return out;
}

std::optional<chain_violation> verify(journal& j, const stream_id& s) {
  auto v = verify_stream(j, s);
  REQUIRE_MESSAGE(v.has_value(), (v ? std::string{} : to_string(v.err())));
  return *v;
}

const stream_id order_1{"Order", "1"};
const stream_id order_2{"Order", "2"};

TEST_CASE(
    "appended events come back with versions and positions and every field and a valid chain") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "basic"};
  auto j = db.open();

  auto first = append_one(*j, order_1, 0,
                          {make_event("placed", R"({"total":5})", test_time(1)),
                           make_event("confirmed", "{}", test_time(2))});
  REQUIRE(first.has_value());
  CHECK(render(*first) == "placed@1 confirmed@2");
  CHECK(positions_of(*first) == "1 2");
  auto second = append_one(*j, order_2, 0, {make_event("placed")});
  REQUIRE(second.has_value());
  CHECK(positions_of(*second) == "3");

  auto stream = j->read_stream(order_1, {});
  REQUIRE(stream.has_value());
  REQUIRE(stream->size() == 2);
  const event_record& r = stream->front();
  const event_record& w = first->front();
  CHECK(r.position == w.position);
  CHECK(r.event_id == w.event_id);
  CHECK(r.event_type == "placed");
  CHECK(r.schema_version == w.schema_version);
  CHECK(r.aggregate_type == "Order");
  CHECK(r.aggregate_id == "1");
  CHECK(r.time == test_time(1));
  CHECK(r.user_id == w.user_id);
  CHECK(r.command_id == w.command_id);
  CHECK(r.correlation_id == w.correlation_id);
  CHECK(r.causation_id == w.causation_id);
  CHECK(r.data == R"({"total":5})");
  CHECK(r.hash == w.hash);
  CHECK(r.hash == chain_hash("", r));
  CHECK((*stream)[1].hash == chain_hash(r.hash, (*stream)[1]));

  auto head = j->head(order_1);
  REQUIRE(head.has_value());
  CHECK(*head == version{2});
  auto last = j->last_position();
  REQUIRE(last.has_value());
  CHECK(*last == global_position{3});
  auto intact = verify_journal(*j);
  REQUIRE(intact.has_value());
  CHECK_FALSE(intact->has_value());
}

TEST_CASE("an empty journal has head 0 and last position 0 and reads nothing") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "empty"};
  auto j = db.open();
  auto head = j->head(order_1);
  REQUIRE(head.has_value());
  CHECK(*head == version{0});
  auto last = j->last_position();
  REQUIRE(last.has_value());
  CHECK(*last == global_position{0});
  CHECK(read_all_of(*j).empty());
  auto stream = j->read_stream(order_1, {});
  REQUIRE(stream.has_value());
  CHECK(stream->empty());
}

TEST_CASE("a schema written before journals had ids gets one on its next open, kept after") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "ids"};
  const std::string first = db.open()->id();
  CHECK(first.size() == 36);
  CHECK(db.sql("SELECT journal_id FROM " + db.schema + ".journal_meta")[0][0].as<std::string>() ==
        first);
  db.sql("DROP TABLE " + db.schema + ".journal_meta");
  const std::string given = db.open()->id();
  CHECK(given.size() == 36);
  CHECK(given != first);
  CHECK(db.open()->id() == given);
}

TEST_CASE("a stale stream in a batch conflicts alone and gives its positions back") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "conflict"};
  auto j = db.open();
  REQUIRE(append_one(*j, order_1, 0, {make_event("placed")}).has_value());

  auto out = j->append({part(order_2, 0, {make_event("placed")}),
                        part(order_1, 0, {make_event("placed"), make_event("confirmed")}),
                        part(stream_id{"Order", "3"}, 0, {make_event("placed")})});
  REQUIRE(out.has_value());
  REQUIRE(out->size() == 3);
  REQUIRE((*out)[0].has_value());
  REQUIRE_FALSE((*out)[1].has_value());
  CHECK((*out)[1].err().code == errc::conflict);
  CHECK((*out)[1].err().message == "Order-1 expected version 0, head is 1");
  REQUIRE((*out)[2].has_value());
  CHECK(positions_of(*(*out)[0]) == "2");
  CHECK(positions_of(*(*out)[2]) == "3");
  CHECK(positions_of(read_all_of(*j)) == "1 2 3");
  auto head = j->head(order_1);
  REQUIRE(head.has_value());
  CHECK(*head == version{1});
}

TEST_CASE("a batch naming a stream twice or with an empty stream is refused and writes nothing") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "invalid"};
  auto j = db.open();
  auto twice = j->append(
      {part(order_1, 0, {make_event("placed")}), part(order_1, 1, {make_event("confirmed")})});
  REQUIRE_FALSE(twice.has_value());
  CHECK(twice.err().code == errc::invalid_argument);
  auto empty = j->append({part(order_2, 0, {})});
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.err().code == errc::invalid_argument);
  CHECK(read_all_of(*j).empty());
}

TEST_CASE("two instances racing on one stream: the second append on a stale head conflicts") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "race"};
  auto a = db.open();
  auto b = db.open();
  REQUIRE(append_one(*a, order_1, 0, {make_event("placed")}).has_value());
  auto stale = append_one(*b, order_1, 0, {make_event("placed")});
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.err().code == errc::conflict);
  auto next = append_one(*b, order_1, 1, {make_event("confirmed")});
  REQUIRE(next.has_value());
  CHECK(render(*next) == "confirmed@2");
  CHECK(render(read_all_of(*a)) == "placed@1 confirmed@2");
}

// The one-statement path (postgres_journal_options::known_heads): an instance that wrote a
// stream's head itself appends to it in one statement, checked against the stored head.

TEST_CASE(
    "an append on heads the instance wrote itself is one statement, positioned and chained "
    "as by the usual transaction") {
  STRATA_PG_CONNINFO(conninfo);
  for (const std::size_t known_heads : {std::size_t{16384}, std::size_t{0}}) {
    CAPTURE(known_heads);
    pg_test_schema db{conninfo, "known"};
    auto options = db.options();
    options.known_heads = known_heads;
    auto j = db.open(options);
    REQUIRE(
        append_one(*j, order_1, 0, {make_event("placed"), make_event("confirmed")}).has_value());
    REQUIRE(append_one(*j, order_2, 0, {make_event("placed")}).has_value());
    CHECK(j->one_statement_appends() == 0);  // new streams take the usual transaction

    auto out = j->append({part(order_2, 1, {make_event("paid"), make_event("shipped")}),
                          part(order_1, 2, {make_event("paid")})});
    REQUIRE(out.has_value());
    REQUIRE((*out)[0].has_value());
    REQUIRE((*out)[1].has_value());
    CHECK(j->one_statement_appends() == (known_heads == 0 ? 0 : 1));
    CHECK(render(*(*out)[0]) == "paid@2 shipped@3");
    CHECK(positions_of(*(*out)[0]) == "4 5");
    CHECK(positions_of(*(*out)[1]) == "6");
    CHECK(positions_of(read_all_of(*j)) == "1 2 3 4 5 6");
    auto head = j->head(order_2);
    REQUIRE(head.has_value());
    CHECK(*head == version{3});
    auto stored = j->read_stream(order_1, {});
    REQUIRE(stored.has_value());
    REQUIRE(stored->size() == 3);
    CHECK((*stored)[2].hash == (*(*out)[1])[0].hash);
    CHECK((*stored)[2].hash == chain_hash((*stored)[1].hash, (*stored)[2]));
    auto intact = verify_journal(*j);
    REQUIRE(intact.has_value());
    CHECK_FALSE(intact->has_value());
  }
}

TEST_CASE(
    "a head another instance moved is not trusted: a stale append conflicts, a current one "
    "chains from the other instance's event") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "moved"};
  auto a = db.open();
  auto b = db.open();
  REQUIRE(append_one(*a, order_1, 0, {make_event("placed")}).has_value());
  REQUIRE(append_one(*b, order_1, 1, {make_event("confirmed")}).has_value());

  // a remembers head 1; the stored head is 2.
  auto stale = append_one(*a, order_1, 1, {make_event("paid")});
  REQUIRE_FALSE(stale.has_value());
  CHECK(stale.err().code == errc::conflict);
  CHECK(stale.err().message == "Order-1 expected version 1, head is 2");
  CHECK(a->one_statement_appends() == 0);

  // The conflict taught a the stored head: the next append is one statement again.
  auto next = append_one(*a, order_1, 2, {make_event("paid")});
  REQUIRE(next.has_value());
  CHECK(a->one_statement_appends() == 1);
  CHECK(render(read_all_of(*a)) == "placed@1 confirmed@2 paid@3");
  CHECK_FALSE(verify(*a, order_1).has_value());
}

TEST_CASE("a remembered head at the stored version but with another hash is not trusted") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "rehash"};
  auto a = db.open();
  const new_event same = make_event("placed", R"({"n":0})");
  auto first =
      a->append({part(order_1, 0, {make_event("placed", R"({"n":1})")}), part(order_2, 0, {same})});
  REQUIRE(first.has_value());
  // The schema dropped and made again: both streams at version 1 once more with the same
  // stream keys, Order-2 with the very same event (and so the same hash), Order-1 with another.
  db.sql("DROP SCHEMA " + db.schema + " CASCADE");
  auto b = db.open();
  auto again =
      b->append({part(order_1, 0, {make_event("placed", R"({"n":2})")}), part(order_2, 0, {same})});
  REQUIRE(again.has_value());
  REQUIRE((*again)[1].has_value());
  REQUIRE((*first)[1].has_value());
  REQUIRE((*(*again)[1])[0].hash == (*(*first)[1])[0].hash);

  // a remembers both heads; one of the two no longer holds: nothing of the batch is written
  // by the one statement, and the usual transaction chains each stream from what is stored.
  auto next = a->append(
      {part(order_1, 1, {make_event("confirmed")}), part(order_2, 1, {make_event("confirmed")})});
  REQUIRE(next.has_value());
  REQUIRE((*next)[0].has_value());
  REQUIRE((*next)[1].has_value());
  CHECK(a->one_statement_appends() == 0);
  CHECK(render(read_all_of(*b)) == "placed@1 placed@1 confirmed@2 confirmed@2");
  CHECK_FALSE(verify(*b, order_1).has_value());
  CHECK_FALSE(verify(*b, order_2).has_value());
}

TEST_CASE("an instance remembers at most known_heads streams, the newest written among them") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "fewheads"};
  auto options = db.options();
  options.known_heads = 2;
  auto j = db.open(options);
  const stream_id order_3{"Order", "3"};
  REQUIRE(
      j->append({part(order_1, 0, {make_event("placed")}), part(order_2, 0, {make_event("placed")}),
                 part(order_3, 0, {make_event("placed")})})
          .has_value());
  // Two of the three heads at most are remembered: a batch of all three is never one statement.
  auto all =
      j->append({part(order_1, 1, {make_event("paid")}), part(order_2, 1, {make_event("paid")}),
                 part(order_3, 1, {make_event("paid")})});
  REQUIRE(all.has_value());
  for (const auto& outcome : *all) CHECK(outcome.has_value());
  CHECK(j->one_statement_appends() == 0);
  // A stream just written is remembered, whichever another stream made room for it.
  REQUIRE(append_one(*j, order_3, 2, {make_event("shipped")}).has_value());
  const auto before = j->one_statement_appends();
  REQUIRE(append_one(*j, order_3, 3, {make_event("delivered")}).has_value());
  CHECK(j->one_statement_appends() == before + 1);
  CHECK(positions_of(read_all_of(*j)) == "1 2 3 4 5 6 7 8");
  auto intact = verify_journal(*j);
  REQUIRE(intact.has_value());
  CHECK_FALSE(intact->has_value());
}

TEST_CASE("a command id appended again on a remembered head is a duplicate and writes nothing") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "knowndup"};
  auto j = db.open();
  new_event placed = make_event("placed");
  REQUIRE(append_one(*j, order_1, 0, {placed}).has_value());
  new_event confirmed = make_event("confirmed");
  REQUIRE(append_one(*j, order_1, 1, {confirmed}).has_value());
  CHECK(j->one_statement_appends() == 1);

  auto again = append_one(*j, order_1, 2, {confirmed});
  REQUIRE_FALSE(again.has_value());
  CHECK(again.err().code == errc::duplicate);
  CHECK(j->one_statement_appends() == 1);
  auto after = append_one(*j, order_1, 2, {make_event("paid")});
  REQUIRE(after.has_value());
  CHECK(j->one_statement_appends() == 2);
  CHECK(render(read_all_of(*j)) == "placed@1 confirmed@2 paid@3");
  CHECK(positions_of(read_all_of(*j)) == "1 2 3");
}

TEST_CASE(
    "read_stream honours from and to and until and limit and read_all pages in global order") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "ranges"};
  auto j = db.open();
  std::vector<new_event> events;
  for (int i = 1; i <= 6; ++i)
    events.push_back(make_event("e" + std::to_string(i), "{}", test_time(i)));
  REQUIRE(append_one(*j, order_1, 0, events).has_value());
  REQUIRE(append_one(*j, order_2, 0, {make_event("x")}).has_value());

  stream_range range;
  range.from = version{2};
  range.to = version{5};
  auto middle = j->read_stream(order_1, range);
  REQUIRE(middle.has_value());
  CHECK(render(*middle) == "e2@2 e3@3 e4@4 e5@5");
  range.limit = 2;
  auto limited = j->read_stream(order_1, range);
  REQUIRE(limited.has_value());
  CHECK(render(*limited) == "e2@2 e3@3");
  stream_range until;
  until.until = test_time(3);
  auto early = j->read_stream(order_1, until);
  REQUIRE(early.has_value());
  CHECK(render(*early) == "e1@1 e2@2 e3@3");

  auto page1 = j->read_all(global_position{0}, 4);
  REQUIRE(page1.has_value());
  CHECK(positions_of(*page1) == "1 2 3 4");
  auto page2 = j->read_all(page1->back().position, 4);
  REQUIRE(page2.has_value());
  CHECK(positions_of(*page2) == "5 6 7");
  CHECK(render(*page2) == "e5@5 e6@6 x@1");
}

TEST_CASE("large batches are written in several statements of whole streams and keep their order") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "chunks"};
  auto options = db.options();
  options.insert_chunk_rows = 7;  // groups of two 3-event streams; the 30-event one alone
  auto j = db.open(options);
  std::vector<stream_append> batch;
  for (int s = 0; s < 10; ++s) {
    std::vector<new_event> events;
    for (int i = 0; i < 3; ++i)
      events.push_back(
          make_event("e", "{\"s\":" + std::to_string(s) + ",\"i\":" + std::to_string(i) + "}"));
    batch.push_back(part(stream_id{"Order", "s" + std::to_string(s)}, 0, std::move(events)));
  }
  std::vector<new_event> big;
  for (int i = 0; i < 30; ++i) big.push_back(make_event("e", "{\"i\":" + std::to_string(i) + "}"));
  batch.insert(batch.begin() + 5, part(order_1, 0, std::move(big)));
  auto out = j->append(batch);
  REQUIRE_MESSAGE(out.has_value(), (out ? std::string{} : to_string(out.err())));
  for (const auto& o : *out) REQUIRE(o.has_value());

  auto all = read_all_of(*j);
  REQUIRE(all.size() == 60);
  std::size_t index = 0;
  for (std::size_t p = 0; p < batch.size(); ++p)
    for (std::size_t i = 0; i < batch[p].events.size(); ++i, ++index) {
      const event_record& r = all[index];
      CHECK(r.position.value == index + 1);
      CHECK(r.aggregate_id == batch[p].stream.aggregate_id());
      CHECK(r.stream_version.value == i + 1);
      CHECK(r.data == batch[p].events[i].data);
      CHECK(r.hash == (*(*out)[p])[i].hash);
    }
  auto intact = verify_journal(*j);
  REQUIRE(intact.has_value());
  CHECK_FALSE(intact->has_value());
  auto last = j->last_position();
  REQUIRE(last.has_value());
  CHECK(*last == global_position{60});
}

// A batch of new streams, streams that exist and two stale ones (one exists, one does not);
// `bad_json` also makes one stream's data invalid, which fails it alone.
void check_mixed_batch(bool bad_json) {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, bad_json ? "mixed_bad" : "mixed"};
  auto j = db.open();
  const stream_id existing_a{"Order", "a"};
  const stream_id existing_b{"Order", "b"};
  const stream_id stale{"Order", "stale"};
  const stream_id stale_new{"Order", "stale_new"};
  const stream_id fresh_1{"Order", "new1"};
  const stream_id fresh_2{"Order", "new2"};
  const stream_id broken{"Order", "broken"};
  auto seeded = j->append({part(existing_a, 0, {make_event("placed")}),
                           part(stale, 0, {make_event("placed"), make_event("confirmed")}),
                           part(existing_b, 0, {make_event("placed")})});
  REQUIRE(seeded.has_value());
  auto stale_hash = db.sql("SELECT last_hash FROM " + db.schema + ".streams WHERE name = '" +
                           stale.str() + "'")[0][0]
                        .as<std::string>();

  std::vector<stream_append> batch{
      part(fresh_1, 0, {make_event("placed"), make_event("confirmed")}),
      part(existing_b, 1, {make_event("confirmed")}),
      part(stale, 1, {make_event("confirmed")}),
      part(stale_new, 4, {make_event("placed")}),
      part(existing_a, 1, {make_event("confirmed"), make_event("shipped")}),
      part(fresh_2, 0, {make_event("placed")})};
  if (bad_json) batch.insert(batch.begin() + 2, part(broken, 0, {make_event("placed", "{no")}));
  auto out = j->append(batch);
  REQUIRE_MESSAGE(out.has_value(), (out ? std::string{} : to_string(out.err())));
  REQUIRE(out->size() == batch.size());

  std::string outcomes;
  for (std::size_t i = 0; i < out->size(); ++i) {
    const auto& o = (*out)[i];
    outcomes += (outcomes.empty() ? "" : " ") + batch[i].stream.str() + "=";
    outcomes += o ? positions_of(*o) : std::string{to_string(o.err().code)};
  }
  std::string expected =
      "Order-new1=5 6 Order-b=7 Order-stale=conflict Order-stale_new=conflict "
      "Order-a=8 9 Order-new2=10";
  if (bad_json) expected.insert(expected.find(" Order-stale="), " Order-broken=invalid_argument");
  CHECK(outcomes == expected);
  CHECK((*out)[bad_json ? 3 : 2].err().message == "Order-stale expected version 1, head is 2");
  CHECK((*out)[bad_json ? 4 : 3].err().message == "Order-stale_new expected version 4, head is 0");

  // Gap-free and in order; the stale and broken streams wrote nothing, not even a streams row.
  auto all = read_all_of(*j);
  CHECK(positions_of(all) == "1 2 3 4 5 6 7 8 9 10");
  CHECK(render(all) ==
        "placed@1 placed@1 confirmed@2 placed@1 placed@1 confirmed@2 confirmed@2 confirmed@2 "
        "shipped@3 placed@1");
  auto stale_stream = j->read_stream(stale, {});
  REQUIRE(stale_stream.has_value());
  CHECK(render(*stale_stream) == "placed@1 confirmed@2");
  auto stale_row = db.sql("SELECT head, last_hash FROM " + db.schema + ".streams WHERE name = '" +
                          stale.str() + "'");
  REQUIRE(stale_row.size() == 1);
  CHECK(stale_row[0][0].as<std::int64_t>() == 2);
  CHECK(stale_row[0][1].as<std::string>() == stale_hash);
  auto names = db.sql("SELECT string_agg(name, ' ' ORDER BY name) FROM " + db.schema + ".streams");
  CHECK(names[0][0].as<std::string>() == "Order-a Order-b Order-new1 Order-new2 Order-stale");
  auto counter = db.sql("SELECT last_position FROM " + db.schema + ".journal_position");
  CHECK(counter[0][0].as<std::int64_t>() == 10);

  for (const stream_id& s : {existing_a, existing_b, fresh_1, fresh_2, stale}) {
    auto head = j->head(s);
    REQUIRE(head.has_value());
    auto events = j->read_stream(s, {});
    REQUIRE(events.has_value());
    CHECK(head->value == events->size());
    CHECK(db.sql("SELECT last_hash FROM " + db.schema + ".streams WHERE name = '" + s.str() +
                 "'")[0][0]
              .as<std::string>() == events->back().hash);
  }
  auto intact = verify_journal(*j);
  REQUIRE(intact.has_value());
  CHECK_FALSE(intact->has_value());

  // The next batch continues right after, on the heads the mixed batch left.
  auto next = j->append(
      {part(stale, 2, {make_event("shipped")}), part(fresh_2, 1, {make_event("confirmed")})});
  REQUIRE(next.has_value());
  REQUIRE((*next)[0].has_value());
  REQUIRE((*next)[1].has_value());
  CHECK(positions_of(*(*next)[0]) == "11");
  CHECK(render(*(*next)[1]) == "confirmed@2");
}

TEST_CASE(
    "a batch of new, existing and stale streams commits the fresh ones gap-free and the stale "
    "ones write nothing") {
  check_mixed_batch(false);
}

TEST_CASE(
    "a stream with data that is not JSON in a mixed batch fails alone and the rest stays "
    "gap-free") {
  check_mixed_batch(true);
}

TEST_CASE("event data keeps its exact text while the JSONB column is queryable") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "jsonb"};
  auto j = db.open();
  const std::string text = R"({ "b" : 2,   "a" : {"n":[1, 2]} })";
  REQUIRE(append_one(*j, order_1, 0, {make_event("placed", text)}).has_value());
  auto back = read_all_of(*j);
  REQUIRE(back.size() == 1);
  CHECK(back[0].data == text);
  auto queried = db.sql("SELECT data->'a'->'n'->>1, data::text FROM " + db.schema + ".events");
  REQUIRE(queried.size() == 1);
  CHECK(queried[0][0].as<std::string>() == "2");
  CHECK(queried[0][1].as<std::string>() != text);  // JSONB normalised it
  CHECK_FALSE(verify(*j, order_1).has_value());
}

TEST_CASE("data that is not JSON fails its stream only with invalid_argument") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "badjson"};
  auto j = db.open();
  auto out = j->append({part(order_1, 0, {make_event("placed", "{not json")}),
                        part(order_2, 0, {make_event("placed")})});
  REQUIRE_MESSAGE(out.has_value(), (out ? std::string{} : to_string(out.err())));
  REQUIRE_FALSE((*out)[0].has_value());
  CHECK((*out)[0].err().code == errc::invalid_argument);
  REQUIRE((*out)[1].has_value());
  CHECK(positions_of(read_all_of(*j)) == "1");
}

TEST_CASE("concurrent first opens of one schema create it exactly once without errors") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "create"};
  std::vector<std::thread> openers;
  std::atomic<int> failures{0};
  std::vector<std::string> messages(4);
  for (int i = 0; i < 4; ++i)
    openers.emplace_back([&, i] {
      auto j = postgres_journal::open(db.options());
      if (!j) {
        ++failures;
        messages[static_cast<std::size_t>(i)] = to_string(j.err());
      }
    });
  for (auto& t : openers) t.join();
  CHECK_MESSAGE(failures.load() == 0, (messages[0] + messages[1] + messages[2] + messages[3]));
  auto j = db.open();
  REQUIRE(append_one(*j, order_1, 0, {make_event("placed")}).has_value());
}

TEST_CASE("every PostgreSQL store maps one SQLSTATE class to one error code") {
  using detail::code_of_sqlstate;
  CHECK(code_of_sqlstate("23505") == errc::conflict);          // unique violation
  CHECK(code_of_sqlstate("23514") == errc::conflict);          // check violation
  CHECK(code_of_sqlstate("22P02") == errc::invalid_argument);  // not JSON
  CHECK(code_of_sqlstate("40001") == errc::unavailable);       // serialization failure
  CHECK(code_of_sqlstate("40P01") == errc::unavailable);       // deadlock
  CHECK(code_of_sqlstate("53300") == errc::unavailable);       // too many connections
  CHECK(code_of_sqlstate("55P03") == errc::unavailable);       // lock not available
  CHECK(code_of_sqlstate("08006") == errc::unavailable);       // connection failure
  CHECK(code_of_sqlstate("57P01") == errc::unavailable);       // administrator shutdown
  CHECK(code_of_sqlstate("42601") == errc::internal);          // syntax error: a bug
  CHECK(code_of_sqlstate("XX000") == errc::internal);
  CHECK(detail::is_connection_sqlstate("57P03"));
  CHECK_FALSE(detail::is_connection_sqlstate("40001"));
}

TEST_CASE("a bad schema name is an invalid argument") {
  postgres_journal_options o;
  o.conninfo = "host=127.0.0.1";
  o.schema = "strata; DROP TABLE x";
  auto j = postgres_journal::open(o);
  REQUIRE_FALSE(j.has_value());
  CHECK(j.err().code == errc::invalid_argument);
}

// --- tampering -------------------------------------------------------------------------------

struct tampered_journal {
  pg_test_schema db;
  std::unique_ptr<postgres_journal> j;
  explicit tampered_journal(const std::string& conninfo) : db(conninfo, "tamper"), j(db.open()) {
    REQUIRE(append_one(*j, order_1, 0,
                       {make_event("placed", R"({"total":100})"), make_event("item_added"),
                        make_event("confirmed")})
                .has_value());
    REQUIRE(append_one(*j, order_2, 0, {make_event("placed")}).has_value());
    REQUIRE_FALSE(verify(*j, order_1).has_value());
  }
  std::string events() const { return db.schema + ".events"; }
};

TEST_CASE("changing an event's data in SQL is found by verification") {
  STRATA_PG_CONNINFO(conninfo);
  tampered_journal t{conninfo};
  t.db.sql("UPDATE " + t.events() + " SET data_text = '{\"total\":1}' WHERE global_position = 1");
  auto v = verify(*t.j, order_1);
  REQUIRE(v.has_value());
  CHECK(v->kind == "altered");
  CHECK(v->at == version{1});
  auto whole = verify_journal(*t.j);
  REQUIRE(whole.has_value());
  REQUIRE(whole->has_value());
  CHECK((*whole)->stream == order_1);
  // The JSONB copy follows the text and cannot be changed on its own.
  CHECK(t.db.sql("SELECT data->>'total' FROM " + t.events() + " WHERE global_position = 1")[0][0]
            .as<std::string>() == "1");
  CHECK_THROWS_AS(t.db.sql("UPDATE " + t.events() + " SET data = '{}' WHERE global_position = 2"),
                  pqxx::sql_error);
}

TEST_CASE("deleting an event row in SQL is found by verification") {
  STRATA_PG_CONNINFO(conninfo);
  tampered_journal t{conninfo};
  t.db.sql("DELETE FROM " + t.events() + " WHERE global_position = 2");
  auto v = verify(*t.j, order_1);
  REQUIRE(v.has_value());
  CHECK(v->kind == "missing");
  CHECK(v->at == version{2});
  // Deleting the last event is caught too: the streams row still records head 3.
  t.db.sql("DELETE FROM " + t.events() + " WHERE global_position = 3");
  auto last = verify(*t.j, order_1);
  REQUIRE(last.has_value());
  CHECK(last->kind == "missing");
}

TEST_CASE("changing an event's version in SQL is found by verification") {
  STRATA_PG_CONNINFO(conninfo);
  tampered_journal t{conninfo};
  t.db.sql("UPDATE " + t.events() + " SET version = 7 WHERE global_position = 2");
  auto v = verify(*t.j, order_1);
  REQUIRE(v.has_value());
  CHECK_MESSAGE(v->at <= version{7}, (v->kind + ": " + v->detail));
  CHECK(v->stream == order_1);
  CHECK_FALSE(verify(*t.j, order_2).has_value());
}

TEST_CASE("a malformed stored row is reported as corrupted naming its position") {
  STRATA_PG_CONNINFO(conninfo);
  tampered_journal t{conninfo};
  t.db.sql("UPDATE " + t.events() + " SET schema_version = -3 WHERE global_position = 3");
  auto all = t.j->read_all(global_position{0}, 100);
  REQUIRE_FALSE(all.has_value());
  CHECK(all.err().code == errc::corrupted);
  CHECK(all.err().message.find("position 3") != std::string::npos);
  auto stream = t.j->read_stream(order_1, {});
  REQUIRE_FALSE(stream.has_value());
  CHECK(stream.err().code == errc::corrupted);
  auto other = t.j->read_stream(order_2, {});
  CHECK(other.has_value());
}

TEST_CASE("a read of the fields a fold needs leaves the audit columns out of the result") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "fold_fields"};
  auto j = db.open();
  REQUIRE(append_one(*j, order_1, 0, {make_event("placed"), make_event("added")}).has_value());
  persistence::stream_range fold;
  fold.fields = persistence::event_fields::fold;
  for (bool until : {false, true}) {  // both prepared statements
    CAPTURE(until);
    persistence::stream_range full;
    if (until) {
      fold.until = test_time(3600);
      full.until = fold.until;
    }
    auto a = j->read_stream(order_1, fold);
    auto b = j->read_stream(order_1, full);
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    REQUIRE(a->size() == 2);
    REQUIRE(b->size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK((*a)[i].event_type == (*b)[i].event_type);
      CHECK((*a)[i].command_id == (*b)[i].command_id);
      CHECK((*a)[i].data == (*b)[i].data);
      CHECK((*a)[i].time == (*b)[i].time);
      CHECK((*a)[i].aggregate_id == "1");
      CHECK((*a)[i].event_id.empty());
      CHECK((*a)[i].user_id.empty());
      CHECK((*a)[i].correlation_id.empty());
      CHECK((*a)[i].causation_id.empty());
      CHECK((*a)[i].hash.empty());
      CHECK_FALSE((*b)[i].hash.empty());
    }
  }
}

// --- lost connections ------------------------------------------------------------------------

TEST_CASE("a killed connection gives unavailable once and the same instance then reconnects") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "killed"};
  auto options = db.options();
  const std::string app = db.schema + "_victim";
  options.conninfo += " application_name=" + app;
  auto j = db.open(options);
  REQUIRE(append_one(*j, order_1, 0, {make_event("placed")}).has_value());
  auto killed = db.sql(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
      "application_name = '" +
      app + "'");
  REQUIRE(killed.size() == 1);

  auto lost = j->append({part(order_1, 1, {make_event("confirmed")})});
  REQUIRE_FALSE(lost.has_value());
  CHECK(lost.err().code == errc::unavailable);
  // The append was one statement that commits on its own (the instance wrote Order-1 last):
  // lost with the connection, its outcome is not known to the client.
  CHECK(lost.err().message.find("outcome unknown") != std::string::npos);
  auto again = append_one(*j, order_1, 1, {make_event("confirmed")});
  REQUIRE_MESSAGE(again.has_value(), (again ? std::string{} : to_string(again.err())));
  CHECK(render(read_all_of(*j)) == "placed@1 confirmed@2");
}

// Restarts the server when a test that stopped it ends, whatever happened in between.
struct server_restart {
  std::string ctl;
  ~server_restart() { (void)std::system((ctl + " start -w >/dev/null 2>&1").c_str()); }
};

TEST_CASE(
    "a stopped server gives unavailable, commits nothing, and the instance works after a restart") {
  STRATA_PG_CONNINFO(conninfo);
  const char* ctl = std::getenv("STRATA_TEST_PG_CTL");
  REQUIRE_MESSAGE(ctl != nullptr, "STRATA_TEST_PG_CTL is not set: run scripts/test.sh");
  pg_test_schema db{conninfo, "stopped"};
  auto j = db.open();
  REQUIRE(append_one(*j, order_1, 0, {make_event("placed")}).has_value());
  {
    server_restart restart{ctl};
    REQUIRE(std::system((std::string{ctl} + " stop -m fast >/dev/null").c_str()) == 0);
    auto down = j->append({part(order_1, 1, {make_event("confirmed")})});
    REQUIRE_FALSE(down.has_value());
    CHECK(down.err().code == errc::unavailable);
    auto read = j->read_all(global_position{0}, 10);
    REQUIRE_FALSE(read.has_value());
    CHECK(read.err().code == errc::unavailable);
    REQUIRE(std::system((std::string{ctl} + " start -w >/dev/null").c_str()) == 0);
  }
  auto head = j->head(order_1);
  REQUIRE_MESSAGE(head.has_value(), (head ? std::string{} : to_string(head.err())));
  CHECK(*head == version{1});
  auto after = append_one(*j, order_1, 1, {make_event("confirmed")});
  REQUIRE_MESSAGE(after.has_value(), (after ? std::string{} : to_string(after.err())));
  CHECK(render(read_all_of(*j)) == "placed@1 confirmed@2");
  CHECK(positions_of(read_all_of(*j)) == "1 2");
}

TEST_CASE(
    "writers sharing streams, new and existing, in batches commit every accepted event once "
    "and gap-free") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "shared"};
  auto first = db.open();  // creates the schema before anyone races
  constexpr int writers = 3;
  constexpr int rounds = 15;
  constexpr int streams = 6;
  std::vector<int> accepted(writers, 0);
  std::vector<std::string> failures(writers);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      auto opened = postgres_journal::open(db.options());
      if (!opened) {
        failures[static_cast<std::size_t>(w)] = to_string(opened.err());
        return;
      }
      auto& j = **opened;
      for (int r = 0; r < rounds; ++r) {
        // Each writer names the streams in its own order; heads may be stale by the time the
        // batch runs, which must give conflicts, never errors or lost events.
        std::vector<stream_append> batch;
        for (int k = 0; k < streams; k += 2) {
          stream_id s{"Shared", std::to_string((k + w + r) % streams)};
          auto head = j.head(s);
          if (!head) {
            failures[static_cast<std::size_t>(w)] = to_string(head.err());
            return;
          }
          batch.push_back(part(s, head->value, {make_event("tick")}));
        }
        auto out = j.append(batch);
        if (!out) {
          failures[static_cast<std::size_t>(w)] = to_string(out.err());
          return;
        }
        for (const auto& o : *out) {
          if (o) {
            ++accepted[static_cast<std::size_t>(w)];
          } else if (o.err().code != errc::conflict) {
            failures[static_cast<std::size_t>(w)] = to_string(o.err());
            return;
          }
        }
      }
    });
  for (auto& t : threads) t.join();
  for (int w = 0; w < writers; ++w)
    CHECK_MESSAGE(failures[static_cast<std::size_t>(w)].empty(),
                  failures[static_cast<std::size_t>(w)]);
  int total = 0;
  for (int a : accepted) total += a;
  CHECK(total > 0);

  auto all = read_all_of(*first);
  REQUIRE(all.size() == static_cast<std::size_t>(total));
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].position.value == i + 1);
  std::uint64_t heads = 0;
  for (int k = 0; k < streams; ++k) {
    auto head = first->head(stream_id{"Shared", std::to_string(k)});
    REQUIRE(head.has_value());
    heads += head->value;
  }
  CHECK(heads == all.size());
  auto intact = verify_journal(*first);
  REQUIRE(intact.has_value());
  CHECK_FALSE(intact->has_value());
}

// --- global order under concurrent writers ---------------------------------------------------
//
// A slow writer takes its positions and keeps its transaction open while fast writers (threads
// or processes, each with its own connection) append and a reader polls read_all, checking
// that each page continues exactly after the last position it saw. The slow writer is held by
// test code, not by the journal: for the journal, a test connection locks the slow stream's
// row, so its append stops after taking the counter row and before writing; for the naive
// schema, the test is the writer and commits when it chooses.

constexpr int fast_writers = 3;
constexpr int appends_per_writer = 10;
constexpr int events_per_append = 2;
// The slow writer's stream is seeded with one append; the slow writer appends one more.
constexpr std::uint64_t race_events = events_per_append * (2 + fast_writers * appends_per_writer);

// Waits, bounded, until `done()`; false when the bound passed first.
template <class Done>
bool wait_until(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// True while the connection named `app` waits for a lock another transaction holds.
bool is_waiting_on_lock(pqxx::connection& probe, const std::string& app) {
  pqxx::nontransaction tx{probe};
  auto r = tx.exec_params1(
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND "
      "wait_event_type = 'Lock'",
      app);
  return r[0].as<int>() > 0;
}

// The first error a group of threads saw, kept once.
class first_error {
 public:
  void note(const std::string& what) {
    std::lock_guard<std::mutex> lock{mutex_};
    if (text_.empty()) text_ = what;
  }
  std::string text() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return text_;
  }

 private:
  mutable std::mutex mutex_;
  std::string text_;
};

// Writers whose batches name the same streams in opposite orders, with a stream new to the
// journal among them, must never wait for each other in a cycle. A deadlock would end one of
// the appends with an error: PostgreSQL breaks it after deadlock_timeout.
TEST_CASE(
    "writers of overlapping streams in opposite orders, new streams among them, never "
    "deadlock") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "lock_order"};
  auto reader = db.open();
  constexpr int writers = 4;
  constexpr int rounds = 25;
  constexpr std::size_t shared = 6;
  std::vector<stream_id> streams;
  for (std::size_t i = 0; i < shared; ++i) streams.emplace_back("Order", "s" + std::to_string(i));

  first_error failure;
  std::atomic<std::uint64_t> written{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      auto j = postgres_journal::open(db.options());
      if (!j) return failure.note(to_string(j.err()));
      for (int r = 0; r < rounds; ++r) {
        std::vector<stream_append> batch;
        for (std::size_t k = 0; k < shared; ++k) {
          const stream_id& s = streams[w % 2 == 0 ? k : shared - 1 - k];
          auto head = (*j)->head(s);
          if (!head) return failure.note(to_string(head.err()));
          batch.push_back(part(s, head->value, {make_event("tick")}));
        }
        // Every writer tries to create this round's stream: one of them does.
        auto fresh = part(stream_id{"Order", "fresh" + std::to_string(r)}, 0, {make_event("new")});
        if (w % 2 == 0) {
          batch.insert(batch.begin(), std::move(fresh));
        } else {
          batch.push_back(std::move(fresh));
        }
        auto out = (*j)->append(batch);
        if (!out) return failure.note(to_string(out.err()));
        for (const auto& outcome : *out) {
          if (outcome) {
            written += outcome->size();
          } else if (outcome.err().code != errc::conflict) {
            return failure.note(to_string(outcome.err()));
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK_MESSAGE(failure.text().empty(), failure.text());

  auto all = read_all_of(*reader);
  CHECK(all.size() == written.load());
  std::size_t out_of_place = 0;
  for (std::size_t i = 0; i < all.size(); ++i)
    if (all[i].position.value != i + 1) ++out_of_place;
  CHECK(out_of_place == 0);
  for (int r = 0; r < rounds; ++r) {
    auto fresh = reader->read_stream(stream_id{"Order", "fresh" + std::to_string(r)}, {});
    REQUIRE(fresh.has_value());
    CHECK(fresh->size() == 1);
  }
  auto intact = verify_journal(*reader);
  REQUIRE(intact.has_value());
  CHECK_FALSE(intact->has_value());
}

// Archival takes the locks an append takes, in the same order; a cut in the other order
// (counter row first) would deadlock with an append of the same streams.
TEST_CASE("archival cuts beside appends to the same streams never deadlock") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "cut_order"};
  auto j = db.open();
  const stream_id a{"Order", "a"};
  const stream_id b{"Order", "b"};
  for (const stream_id& s : {a, b})
    REQUIRE(append_one(*j, s, 0, {make_event("placed"), make_event("tick")}).has_value());

  first_error failure;
  std::atomic<bool> done{false};
  std::atomic<int> appended{0};
  std::thread appender{[&] {
    auto w = postgres_journal::open(db.options());
    if (!w) return failure.note(to_string(w.err()));
    while (!done.load()) {
      std::vector<stream_append> batch;
      for (const stream_id* s : {&b, &a}) {
        auto head = (*w)->head(*s);
        if (!head) return failure.note(to_string(head.err()));
        batch.push_back(part(*s, head->value, {make_event("tick")}));
      }
      auto out = (*w)->append(batch);
      if (!out) return failure.note(to_string(out.err()));
      for (const auto& outcome : *out)
        if (!outcome) return failure.note(to_string(outcome.err()));
      ++appended;
    }
  }};
  // Each round cuts both streams through their second-newest event while the appender runs:
  // at least 30 cuts, and on until the appender has appended 10 more times meanwhile.
  REQUIRE(wait_until([&] { return appended.load() > 0 || !failure.text().empty(); }));
  const int appended_before = appended.load();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  int cuts = 0;
  while (failure.text().empty() && std::chrono::steady_clock::now() < give_up &&
         (cuts < 30 || appended.load() < appended_before + 10)) {
    std::vector<stream_cut> request;
    for (const stream_id& s : {a, b}) {
      auto events = j->read_stream(s, {});
      REQUIRE(events.has_value());
      if (events->size() < 2) continue;
      const event_record& keep_after = (*events)[events->size() - 2];
      request.push_back(stream_cut{s, keep_after.stream_version, keep_after.hash});
    }
    if (request.empty()) continue;
    auto removed = j->cut(request, "cold-1");
    if (!removed) failure.note("cut: " + to_string(removed.err()));
    ++cuts;
  }
  done = true;
  appender.join();
  CHECK_MESSAGE(failure.text().empty(), failure.text());
  CHECK(cuts >= 30);
  CHECK(appended.load() >= appended_before + 10);
  auto intact = verify_journal(*j);
  REQUIRE(intact.has_value());
  CHECK_FALSE(intact->has_value());
}

// A deadlock the server breaks ends the append with `unavailable`, to be tried again, and the
// same instance then appends. (libpqxx 6.4 throws class 40 as an exception type of its own
// rather than as an sql_error; it was once reported as `internal`.)
TEST_CASE("an append the server rolls back to break a deadlock is unavailable and can be retried") {
  STRATA_PG_CONNINFO(conninfo);
  pg_test_schema db{conninfo, "deadlock"};
  const stream_id a{"Order", "a"};
  const std::string victim_app = db.schema + "_victim";
  auto o = db.options();
  o.conninfo += " application_name=" + victim_app;
  auto j = db.open(o);
  REQUIRE(append_one(*j, a, 0, {make_event("placed")}).has_value());

  // The other side checks for a deadlock only after a minute, so the append is the victim.
  pqxx::connection other{conninfo};
  pqxx::work tx{other};
  tx.exec0("SET LOCAL deadlock_timeout = '60s'");
  tx.exec("SELECT last_position FROM " + db.schema + ".journal_position FOR UPDATE");
  std::optional<result<std::vector<stream_outcome>>> answer;
  std::thread appender{[&] { answer = j->append({part(a, 1, {make_event("confirmed")})}); }};
  pqxx::connection probe{conninfo};
  const bool waits = wait_until([&] { return is_waiting_on_lock(probe, victim_app); });
  if (waits) {
    // The append holds Order-a and waits for the counter row; this now waits for Order-a, and
    // returns once the server has broken the cycle by rolling the append back.
    tx.exec("SELECT 1 FROM " + db.schema + ".streams WHERE name = 'Order-a' FOR UPDATE");
  }
  tx.abort();
  appender.join();
  REQUIRE_MESSAGE(waits, "the append never waited for the counter row");
  REQUIRE(answer.has_value());
  REQUIRE_FALSE(answer->has_value());
  CHECK(answer->err().code == errc::unavailable);
  CHECK_MESSAGE(answer->err().message.find("deadlock") != std::string::npos, answer->err().message);

  auto again = j->append({part(a, 1, {make_event("confirmed")})});
  REQUIRE(again.has_value());
  REQUIRE(again->front().has_value());
  CHECK(again->front()->front().position.value == 2);
  CHECK(again->front()->front().stream_version.value == 2);
}

std::string race_stream(int writer) {
  return "w" + std::to_string(writer);
}

// One writer through the journal: `appends` appends to Race-w<writer>, the first on top of
// version `from`. Returns 0 or a small error code (usable as a process exit status); uses no
// doctest macros, so that it can run in a forked child.
int run_writer(postgres_journal_options options, int writer, int appends, std::uint64_t from) {
  try {
    auto j = postgres_journal::open(std::move(options));
    if (!j) return 3;
    stream_id stream{"Race", race_stream(writer)};
    for (int k = 0; k < appends; ++k) {
      std::vector<new_event> events;
      for (int e = 0; e < events_per_append; ++e) events.push_back(make_event("tick"));
      auto out = (*j)->append({stream_append{
          stream, version{from + static_cast<std::uint64_t>(k * events_per_append)}, events}});
      if (!out || !out->front()) return 4;
    }
    return 0;
  } catch (...) {
    return 5;
  }
}

// A writer as a naive schema would write: positions from a sequence, taken when the rows are
// inserted and visible only at commit, with no counter row. It writes the journal's tables
// directly on its own connection; nothing of it is in the journal.
class naive_writer {
 public:
  naive_writer(const std::string& conninfo, std::string schema)
      : connection_(conninfo), schema_(std::move(schema)) {}

  // Creates the sequence the naive writers take their positions from.
  static void prepare(const std::string& conninfo, const std::string& schema) {
    pg_exec(conninfo, "CREATE SEQUENCE " + schema + ".naive_positions");
  }

  // Inserts one append of Race-w<writer> on top of `from` in a transaction left open.
  void append(int writer, std::uint64_t from) {
    tx_ = std::make_unique<pqxx::work>(connection_);
    const std::string& s = schema_;
    tx_->exec_params(
        "WITH stream AS (INSERT INTO " + s +
            ".streams (name, aggregate_type, aggregate_id, head, last_hash) "
            "VALUES ('Race-' || $1::text, 'Race', $1::text, $2::bigint + $3::int, '') "
            "ON CONFLICT (name) DO UPDATE SET head = EXCLUDED.head RETURNING stream_key) "
            "INSERT INTO " +
            s +
            ".events (stream_key, global_position, version, event_id, event_type, "
            "schema_version, aggregate_type, aggregate_id, occurred_at, user_id, command_id, "
            "correlation_id, causation_id, data_text, hash) "
            "SELECT stream.stream_key, nextval('" +
            s +
            ".naive_positions'), $2::bigint + g, $1::text || '-' || ($2::bigint + g), 'tick', "
            "1, 'Race', $1::text, now(), '', '', '', '', '{}', '' "
            "FROM stream, generate_series(1, $3::int) AS g",
        race_stream(writer), static_cast<std::int64_t>(from), events_per_append);
  }

  void commit() {
    tx_->commit();
    tx_.reset();
  }

  // `appends` committed appends to Race-w<writer>, the first on top of `from`. Returns 0 or a
  // small error code, like `run_writer`.
  static int run(const std::string& conninfo, const std::string& schema, int writer, int appends,
                 std::uint64_t from) {
    try {
      naive_writer w{conninfo, schema};
      for (int k = 0; k < appends; ++k) {
        w.append(writer, from + static_cast<std::uint64_t>(k * events_per_append));
        w.commit();
      }
      return 0;
    } catch (...) {
      return 6;
    }
  }

 private:
  pqxx::connection connection_;
  std::string schema_;
  std::unique_ptr<pqxx::work> tx_;
};

struct race_report {
  int anomalies = 0;
  std::string first_anomaly;
  std::uint64_t last_seen = 0;
  std::string final_positions_ok;  // "" when the final journal is 1..race_events
};

// Reads every page after what `report` saw, noting each page that does not continue exactly
// after the last position seen before it.
void poll_once(journal& reader, race_report& report) {
  for (;;) {
    auto batch = reader.read_all(global_position{report.last_seen}, 1000);
    REQUIRE_MESSAGE(batch.has_value(), (batch ? std::string{} : to_string(batch.err())));
    if (batch->empty()) return;
    std::uint64_t expected = report.last_seen + 1;
    for (const auto& r : *batch) {
      if (r.position.value != expected && report.anomalies++ == 0)
        report.first_anomaly = "after position " + std::to_string(expected - 1) +
                               " the reader saw " + std::to_string(r.position.value);
      expected = r.position.value + 1;
    }
    report.last_seen = batch->back().position.value;
  }
}

// The writers of a race, as threads or forked processes; `finish` collects their statuses.
class writer_pool {
 public:
  explicit writer_pool(bool processes) : processes_(processes) {}
  writer_pool(const writer_pool&) = delete;
  writer_pool& operator=(const writer_pool&) = delete;
  ~writer_pool() { finish(); }

  template <class Fn>
  void start(Fn fn) {
    if (processes_) {
      pid_t pid = ::fork();
      REQUIRE(pid >= 0);
      if (pid == 0) ::_exit(fn());
      children_.push_back(pid);
    } else {
      statuses_.push_back(std::make_unique<int>(-1));
      threads_.emplace_back([status = statuses_.back().get(), fn] { *status = fn(); });
    }
  }

  // Waits for every writer; returns their exit statuses in start order.
  std::vector<int> finish() {
    for (pid_t child : children_) {
      int status = 0;
      const bool reaped = ::waitpid(child, &status, 0) == child;
      statuses_.push_back(
          std::make_unique<int>(reaped && WIFEXITED(status) ? WEXITSTATUS(status) : 100));
    }
    children_.clear();
    for (auto& t : threads_) t.join();
    threads_.clear();
    std::vector<int> out;
    for (const auto& s : statuses_) out.push_back(*s);
    return out;
  }

 private:
  bool processes_;
  std::vector<pid_t> children_;
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<int>> statuses_;  // stable addresses for the threads
};

void check_statuses(const std::vector<int>& statuses) {
  for (std::size_t w = 0; w < statuses.size(); ++w)
    CHECK_MESSAGE(statuses[w] == 0, "writer " << w << " failed with status " << statuses[w]);
}

void check_final(journal& reader, race_report& report) {
  auto all = read_all_of(reader);
  for (std::size_t i = 0; i < all.size(); ++i)
    if (all[i].position.value != i + 1) {
      report.final_positions_ok =
          "position " + std::to_string(all[i].position.value) + " at index " + std::to_string(i);
      break;
    }
  if (all.size() != race_events)
    report.final_positions_ok += " (" + std::to_string(all.size()) + " events)";
}

// The journal's writers race while one of them holds its positions.
race_report run_journal_race(const std::string& conninfo, bool processes) {
  pg_test_schema db{conninfo, processes ? "order_proc" : "order_thr"};
  auto reader = db.open();  // also creates the schema before anyone races
  REQUIRE(append_one(*reader, stream_id{"Race", race_stream(0)}, 0,
                     {make_event("tick"), make_event("tick")})
              .has_value());
  race_report report;
  poll_once(*reader, report);

  // The slow writer's write statement takes the counter row (positions from 3), then waits to
  // insert position 3, which this uncommitted row of another stream holds in the primary key.
  db.sql("INSERT INTO " + db.schema +
         ".streams (name, aggregate_type, aggregate_id, head, last_hash) "
         "VALUES ('Hold-x', 'Hold', 'x', 0, '')");
  pqxx::connection holder{conninfo};
  auto hold = std::make_unique<pqxx::work>(holder);
  hold->exec("INSERT INTO " + db.schema +
             ".events (stream_key, global_position, version, event_id, event_type, "
             "schema_version, aggregate_type, aggregate_id, occurred_at, user_id, command_id, "
             "correlation_id, causation_id, data_text, hash) SELECT stream_key, 3, 1, 'held', "
             "'held', 1, 'Hold', 'x', now(), '', '', '', '', '{}', '' FROM " +
             db.schema + ".streams WHERE name = 'Hold-x'");
  pqxx::connection probe{conninfo};
  auto named = [&](const std::string& app) {
    auto o = db.options();
    o.conninfo += " application_name=" + app;
    return o;
  };

  writer_pool writers{processes};
  const std::string slow_app = db.schema + "_slow";
  writers.start([o = named(slow_app)] { return run_writer(o, 0, 1, events_per_append); });
  REQUIRE_MESSAGE(wait_until([&] { return is_waiting_on_lock(probe, slow_app); }),
                  "the slow writer never reached the held position");
  std::vector<std::string> fast_apps;
  for (int w = 1; w <= fast_writers; ++w) {
    fast_apps.push_back(db.schema + "_fast" + std::to_string(w));
    writers.start(
        [o = named(fast_apps.back()), w] { return run_writer(o, w, appends_per_writer, 0); });
  }
  // Every other writer waits for the one holding positions: nothing new is visible meanwhile.
  CHECK_MESSAGE(wait_until([&] {
                  for (const auto& app : fast_apps)
                    if (!is_waiting_on_lock(probe, app)) return false;
                  return true;
                }),
                "the other writers did not wait for the writer holding its positions");
  poll_once(*reader, report);
  CHECK(report.last_seen == static_cast<std::uint64_t>(events_per_append));

  hold->abort();  // the slow writer goes on; then everyone else
  hold.reset();
  CHECK(wait_until([&] {
    poll_once(*reader, report);
    return report.last_seen >= race_events;
  }));
  check_statuses(writers.finish());
  check_final(*reader, report);
  return report;
}

// The same race with naive writers: the slow one holds positions it took from a sequence.
race_report run_naive_race(const std::string& conninfo, bool processes) {
  pg_test_schema db{conninfo, processes ? "naive_proc" : "naive_thr"};
  auto reader = db.open();  // creates the schema
  naive_writer::prepare(conninfo, db.schema);
  REQUIRE(naive_writer::run(conninfo, db.schema, 0, 1, 0) == 0);
  race_report report;
  poll_once(*reader, report);

  naive_writer slow{conninfo, db.schema};
  slow.append(0, events_per_append);  // positions taken, not committed

  writer_pool writers{processes};
  for (int w = 1; w <= fast_writers; ++w)
    writers.start([conninfo, schema = db.schema, w] {
      return naive_writer::run(conninfo, schema, w, appends_per_writer, 0);
    });
  // Nothing makes the fast writers wait: all of them commit while the slow one is open.
  check_statuses(writers.finish());
  poll_once(*reader, report);

  slow.commit();
  poll_once(*reader, report);
  check_final(*reader, report);
  return report;
}

TEST_CASE("naive sequence positions are seen out of order by a reader polling read_all") {
  STRATA_PG_CONNINFO(conninfo);
  auto report = run_naive_race(conninfo, false);
  CHECK_MESSAGE(report.anomalies > 0,
                "the naive writers were expected to show a skipped-then-filled position");
  CHECK_MESSAGE(report.final_positions_ok.empty(), report.final_positions_ok);
  MESSAGE("naive writers: " << report.first_anomaly);
}

TEST_CASE("counter-row positions are never seen out of order with several writer threads") {
  STRATA_PG_CONNINFO(conninfo);
  auto report = run_journal_race(conninfo, false);
  CHECK_MESSAGE(report.anomalies == 0, report.first_anomaly);
  CHECK(report.last_seen == race_events);
  CHECK_MESSAGE(report.final_positions_ok.empty(), report.final_positions_ok);
}

TEST_CASE("naive sequence positions are seen out of order with several writer processes") {
  STRATA_PG_CONNINFO(conninfo);
  auto report = run_naive_race(conninfo, true);
  CHECK_MESSAGE(report.anomalies > 0,
                "the naive writers were expected to show a skipped-then-filled position");
  CHECK_MESSAGE(report.final_positions_ok.empty(), report.final_positions_ok);
}

TEST_CASE("counter-row positions are never seen out of order with several writer processes") {
  STRATA_PG_CONNINFO(conninfo);
  auto report = run_journal_race(conninfo, true);
  CHECK_MESSAGE(report.anomalies == 0, report.first_anomaly);
  CHECK(report.last_seen == race_events);
  CHECK_MESSAGE(report.final_positions_ok.empty(), report.final_positions_ok);
}

}  // namespace
}  // namespace strata::persistence
