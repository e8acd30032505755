// Hostile input on PostgreSQL: what the runtime refuses never reaches the server, SQL
// metacharacters are values, and rows altered in the server are refused by name. Skipped
// without a test server (STRATA_TEST_PG).

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "strata/domain/orders/order.hpp"
#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/persistence/postgres_support.hpp"
#include "tests/runtime/pg_runtime.hpp"
#include "tests/support/wait_until.hpp"

using namespace strata;
using persistence::testing::pg_conninfo;
using persistence::testing::pg_exec;

namespace {

template <class T>
T wait(std::future<T> f) {
  REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
  return f.get();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// A runtime on fresh PostgreSQL schemas with reference order "ref-1" (two events).
struct pg_hostile : testing::pg_runtime_schemas {
  std::unique_ptr<runtime> rt;

  explicit pg_hostile(std::string c) : pg_runtime_schemas(std::move(c), "hostile") {
    start();
    REQUIRE(
        wait(rt->send<orders::order>("ref-1", orders::place{"c-ref", "EUR", {}})).is_accepted());
    REQUIRE(wait(rt->send<orders::order>(
                     "ref-1", orders::add_item{orders::line{"sku", 2, money{150, "EUR"}}}))
                .is_accepted());
  }
  runtime_config config() const { return pg_runtime_schemas::config(1); }
  void start() {
    auto r = runtime::start(config());
    REQUIRE_MESSAGE(r, (r ? "" : to_string(r.err())));
    rt = std::move(*r);
    REQUIRE(rt->register_aggregate<orders::order>());
  }
  void restart_after(const std::string& sql) {
    rt->stop();
    rt.reset();
    pg_exec(conninfo, sql);
    start();
  }
  void check_reference_intact() {
    auto h = wait(rt->history<orders::order>("ref-1", version{1}, version{10}));
    REQUIRE_MESSAGE(h, (h ? "" : to_string(h.err())));
    CHECK(h->size() == 2);
    auto chain = wait(rt->verify_stream<orders::order>("ref-1"));
    REQUIRE(chain);
    CHECK_FALSE(chain->has_value());
  }
  std::string victim_v2() const { return " WHERE version = 2 AND aggregate_id = 'o-bad'"; }
  void write_victim() {
    REQUIRE(wait(rt->send<orders::order>("o-bad", orders::place{"c-1", "EUR", {}})).is_accepted());
    REQUIRE(wait(rt->send<orders::order>(
                     "o-bad", orders::add_item{orders::line{"sku", 1, money{10, "EUR"}}}))
                .is_accepted());
  }
  void check_victim_corrupted(const std::string& what) {
    INFO("expected: " << what);
    auto h = wait(rt->history<orders::order>("o-bad", version{1}, version{10}));
    REQUIRE_FALSE(h);
    INFO("message: " << h.err().message);
    CHECK(h.err().code == errc::corrupted);
    CHECK(contains(h.err().message, what));
    check_reference_intact();
  }
};

}  // namespace

TEST_CASE("on PostgreSQL, NUL bytes and invalid UTF-8 are refused before they reach the server") {
  auto conninfo = pg_conninfo();
  if (!conninfo) return;
  pg_hostile h{*conninfo};
  auto nul_id =
      wait(h.rt->send<orders::order>(std::string{"o\0x", 3}, orders::place{"c", "EUR", {}}));
  REQUIRE(nul_id.failure);
  CHECK(nul_id.failure->code == errc::invalid_argument);
  CHECK(contains(nul_id.failure->message, "holds a NUL byte at offset 1"));
  auto nul_field =
      wait(h.rt->send<orders::order>("o-1", orders::place{std::string{"c\0x", 3}, "EUR", {}}));
  REQUIRE(nul_field.failure);
  CHECK(nul_field.failure->code == errc::invalid_argument);
  CHECK(contains(nul_field.failure->message, "member 'customer_id' holds a NUL character"));
  auto utf8 = wait(h.rt->send<orders::order>("o-1", orders::place{"c-\xc3", "EUR", {}}));
  REQUIRE(utf8.failure);
  CHECK(utf8.failure->code == errc::invalid_argument);
  CHECK(contains(utf8.failure->message, "member 'customer_id' is not valid UTF-8"));
  auto huge =
      wait(h.rt->send<orders::order>(std::string(1 << 20, 'x'), orders::place{"c", "EUR", {}}));
  REQUIRE(huge.failure);
  CHECK(huge.failure->code == errc::invalid_argument);
  CHECK(contains(huge.failure->message, "1048576 bytes long"));
  auto chain = wait(h.rt->verify_audit_trail());
  REQUIRE(chain);
  CHECK_FALSE(chain->has_value());
  h.check_reference_intact();
}

TEST_CASE("on PostgreSQL, SQL metacharacters in ids and fields are stored as plain text") {
  auto conninfo = pg_conninfo();
  if (!conninfo) return;
  pg_hostile h{*conninfo};
  REQUIRE(h.rt->add_projection(std::make_shared<read_models::order_summary_projection>()));
  global_position last;
  for (const std::string id :
       {"'; DROP TABLE events; --", "%", "_", "ref-%", "a\\b", "$1", "x' OR '1'='1"}) {
    INFO("id: " << id);
    auto r = wait(h.rt->send<orders::order>(id, orders::place{id, "EUR", {}}));
    REQUIRE(r.is_accepted());
    last = r.position;
    auto back = wait(h.rt->history<orders::order>(id, version{1}, version{10}));
    REQUIRE(back);
    REQUIRE(back->size() == 1);
    CHECK(std::get<orders::placed>((*back)[0].event).customer_id == id);
  }
  REQUIRE(h.rt->wait_for("order_summary", last, std::chrono::seconds(30)));
  auto reader = h.rt->open_read_models();
  REQUIRE(reader);
  auto percent = read_models::orders_by_customer(*reader, "%");
  REQUIRE(percent);
  REQUIRE(percent->size() == 1);
  CHECK(percent->front().order_id == "%");
  auto all = read_models::all_orders(*reader);
  REQUIRE(all);
  CHECK(all->size() == 8);
  auto chain = wait(h.rt->verify_audit_trail());
  REQUIRE(chain);
  CHECK_FALSE(chain->has_value());
  h.check_reference_intact();
}

TEST_CASE("on PostgreSQL, a stored event of an unknown type is refused as corrupted, naming it") {
  auto conninfo = pg_conninfo();
  if (!conninfo) return;
  pg_hostile h{*conninfo};
  h.write_victim();
  h.restart_after("UPDATE " + h.journal_schema + ".events SET event_type = 'NoSuchEvent'" +
                  h.victim_v2());
  h.check_victim_corrupted("Order-o-bad v2 (NoSuchEvent): unknown event type NoSuchEvent");
}

TEST_CASE("on PostgreSQL, stored event data nested too deeply is refused as corrupted") {
  auto conninfo = pg_conninfo();
  if (!conninfo) return;
  pg_hostile h{*conninfo};
  h.write_victim();
  // PostgreSQL's jsonb takes 1,000 levels; strata decodes at most 32.
  h.restart_after("UPDATE " + h.journal_schema + ".events SET data_text = '" +
                  std::string(1'000, '[') + std::string(1'000, ']') + "'" + h.victim_v2());
  h.check_victim_corrupted(
      "Order-o-bad v2 (ItemAdded): ItemAdded v2: malformed JSON: nested more than 32 levels deep");
}

TEST_CASE("on PostgreSQL, a stored event with a negative version is corrupted, naming the column") {
  auto conninfo = pg_conninfo();
  if (!conninfo) return;
  pg_hostile h{*conninfo};
  h.write_victim();
  h.restart_after("UPDATE " + h.journal_schema + ".events SET version = -1" + h.victim_v2());
  auto view = wait(h.rt->current_state<orders::order>("o-bad"));
  REQUIRE_FALSE(view);
  CHECK(view.err().code == errc::corrupted);
  CHECK(contains(view.err().message, "column version is not a positive integer"));
  h.check_reference_intact();
}

TEST_CASE("on PostgreSQL, a corrupted snapshot row is passed over and the events replayed") {
  auto conninfo = pg_conninfo();
  if (!conninfo) return;
  pg_hostile h{*conninfo};
  h.write_victim();
  auto snapshot_at_2 = [&] {
    auto r = pg_exec(*conninfo, "SELECT count(*) FROM " + h.journal_schema +
                                    ".snapshots WHERE stream = 'Order-o-bad' AND at = 2");
    return r[0][0].as<int>() == 1;
  };
  REQUIRE(strata::testing::wait_until(snapshot_at_2));
  h.restart_after("UPDATE " + h.journal_schema + ".snapshots SET state = '" +
                  std::string(100'000, '[') + "' WHERE stream = 'Order-o-bad'");
  auto view = wait(h.rt->current_state<orders::order>("o-bad"));
  REQUIRE_MESSAGE(view, (view ? "" : to_string(view.err())));
  CHECK(view->at == version{2});
  CHECK(view->state.lines.at("sku").quantity == 1);
  h.check_reference_intact();
}

TEST_CASE("on PostgreSQL, a corrupted read-model checkpoint refuses the projection, naming it") {
  auto conninfo = pg_conninfo();
  if (!conninfo) return;
  pg_hostile h{*conninfo};
  REQUIRE(h.rt->add_projection(std::make_shared<read_models::order_summary_projection>()));
  auto placed = wait(h.rt->send<orders::order>("o-2", orders::place{"c-2", "EUR", {}}));
  REQUIRE(placed.is_accepted());
  REQUIRE(h.rt->wait_for("order_summary", placed.position, std::chrono::seconds(30)));
  h.restart_after("UPDATE " + h.read_schema +
                  ".projection_checkpoints SET position = -5 WHERE name = 'order_summary'");
  auto added = h.rt->add_projection(std::make_shared<read_models::order_summary_projection>());
  REQUIRE_FALSE(added);
  CHECK(added.err().code == errc::corrupted);
  CHECK(contains(added.err().message, "checkpoint of projection order_summary"));
  h.check_reference_intact();
}
