#pragma once

// Shared by the projection tests: journals filled directly (no actors), read-model stores in
// temporary files, a manual clock, runners without actors, and a fold over the journal to
// compare read models with.

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "strata/domain/inventory/inventory_item.hpp"
#include "strata/domain/orders/order.hpp"
#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/domain/payments/payment.hpp"
#include "strata/domain/users/user_activity.hpp"
#include "strata/persistence/journal.hpp"
#include "strata/persistence/memory_journal.hpp"
#include "strata/persistence/projection.hpp"
#include "strata/persistence/projection_runner.hpp"
#include "strata/persistence/read_model.hpp"
#include "strata/persistence/sqlite_projection_store.hpp"
#include "tests/runtime/temp_dir.hpp"
#ifdef STRATA_TEST_POSTGRES
#include "strata/persistence/postgres/postgres_projection_store.hpp"
#include "tests/persistence/postgres_support.hpp"
#endif

namespace strata::testing {

/// A clock that stands still until set. Thread-safe.
class manual_clock final : public clock {
 public:
  explicit manual_clock(std::int64_t unix_micros = 1'764'633'600'000'000) : now_(unix_micros) {}
  timestamp now() const override { return from_unix_micros(now_.load()); }
  void set(timestamp t) { now_.store(to_unix_micros(t)); }

 private:
  std::atomic<std::int64_t> now_;
};

/// The clock of the runners of these tests.
inline std::shared_ptr<const manual_clock> test_clock() {
  static const auto clk = std::make_shared<const manual_clock>();
  return clk;
}

/// The event structs of the shop's aggregates (orders, payments, inventory, user activity),
/// as a runtime that registered them all knows them.
inline const event_catalog& shop_catalog() {
  static event_catalog catalog;
  static const bool filled = [] {
    catalog.add<orders::order>();
    catalog.add<payments::payment>();
    catalog.add<inventory::inventory_item>();
    catalog.add<users::user_activity>();
    return true;
  }();
  (void)filled;
  return catalog;
}

/// Typed projection `p` bound to the shop's catalog: the record-level projection a runner
/// drives.
inline std::shared_ptr<persistence::projection> bound(std::shared_ptr<projection> p) {
  auto b = bind_projection(std::move(p), shop_catalog());
  REQUIRE_MESSAGE(b, (b ? "" : to_string(b.err())));
  return std::move(*b);
}

/// A runner of `p` over `store` on the test clock.
inline persistence::projection_runner runner_for(
    std::shared_ptr<persistence::projection> p,
    std::unique_ptr<persistence::projection_store> store,
    persistence::poison_policy policy = persistence::poison_policy::park_and_continue) {
  return persistence::projection_runner{std::move(p), std::move(store), policy, test_clock()};
}
inline persistence::projection_runner runner_for(
    std::shared_ptr<projection> p, std::unique_ptr<persistence::projection_store> store,
    persistence::poison_policy policy = persistence::poison_policy::park_and_continue) {
  return runner_for(bound(std::move(p)), std::move(store), policy);
}

/// Catches `p` up over `j` into `store` from its checkpoint to the head, the way a host's
/// tool would (a runner of its own, no actors). Errors: the journal's or the store's.
inline result<persistence::apply_outcome> catch_up(
    persistence::journal& j, std::shared_ptr<persistence::projection> p,
    std::unique_ptr<persistence::projection_store> store, std::size_t batch = 1000) {
  auto runner = runner_for(std::move(p), std::move(store));
  if (auto s = runner.start(); !s) return std::move(s).err();
  return runner.catch_up(j, batch);
}
inline result<persistence::apply_outcome> catch_up(
    persistence::journal& j, std::shared_ptr<projection> p,
    std::unique_ptr<persistence::projection_store> store, std::size_t batch = 1000) {
  return catch_up(j, bound(std::move(p)), std::move(store), batch);
}

/// The order-summary projection behind a wrapper: a test overrides `apply` to add a fault, a
/// wait or a count, and calls `inner_->apply` for the real work.
class summaries_wrapper : public persistence::projection {
 public:
  std::string_view name() const override { return inner_->name(); }
  std::vector<std::string> handles() const override { return inner_->handles(); }
  result<void> setup(persistence::projection_transaction& tx) override { return inner_->setup(tx); }
  result<void> drop(persistence::projection_transaction& tx) override { return inner_->drop(tx); }
  result<void> apply(persistence::projection_transaction& tx,
                     const persistence::event_record& r) override {
    return inner_->apply(tx, r);
  }

 protected:
  std::shared_ptr<persistence::projection> inner_ =
      bound(std::make_shared<read_models::order_summary_projection>());
};

/// Order summaries that refuse the events of order "o-bad" while `refuse` is set.
class picky_summaries final : public summaries_wrapper {
 public:
  result<void> apply(persistence::projection_transaction& tx,
                     const persistence::event_record& r) override {
    if (r.aggregate_id == "o-bad" && refuse.load())
      return error{errc::invalid_argument, "refused o-bad"};
    return inner_->apply(tx, r);
  }
  std::atomic<bool> refuse{true};
};

/// Appends events of aggregate `A` to stream `id` of `j`, after whatever it holds.
template <class A>
std::vector<persistence::event_record> append(persistence::journal& j, const std::string& id,
                                              const std::vector<typename A::event>& events,
                                              std::int64_t time_us = 1'764'619'200'000'000) {
  persistence::stream_append a;
  a.stream = stream_id{A::type, id};
  auto head = j.head(a.stream);
  REQUIRE(head);
  a.expected = *head;
  static int counter = 0;
  for (const auto& e : events) {
    auto enc = A::events().encode(e);
    persistence::new_event n;
    n.event_id = "evt-" + std::to_string(++counter);
    n.event_type = std::string{enc.type};
    n.schema_version = enc.schema_version;
    n.time = from_unix_micros(time_us);
    n.data = std::move(enc.data);
    a.events.push_back(std::move(n));
  }
  auto out = j.append({a});
  REQUIRE(out);
  REQUIRE((*out)[0]);
  return *(*out)[0];
}

/// Appends one raw record (any type name, version and body), e.g. a poison event.
inline persistence::event_record append_raw(persistence::journal& j, const std::string& type,
                                            const std::string& id, const std::string& event_type,
                                            const std::string& data) {
  persistence::stream_append a;
  a.stream = stream_id{type, id};
  auto head = j.head(a.stream);
  REQUIRE(head);
  a.expected = *head;
  persistence::new_event n;
  n.event_id = "raw-" + id + "-" + std::to_string(head->value + 1);
  n.event_type = event_type;
  n.data = data;
  a.events.push_back(std::move(n));
  auto out = j.append({a});
  REQUIRE(out);
  REQUIRE((*out)[0]);
  return (*out)[0]->front();
}

inline orders::placed placed(std::string customer, std::int64_t qty, std::int64_t price = 100,
                             std::string sku = "sku-1") {
  return orders::placed{std::move(customer),
                        "EUR",
                        {orders::line{std::move(sku), qty, money{price, "EUR"}}},
                        money{qty * price, "EUR"}};
}

/// A read-model store in a temporary file.
///
/// Built with STRATA_TEST_POSTGRES (strata_projections_postgres_tests), it is a fresh schema on
/// the server of STRATA_TEST_PG instead, dropped afterwards: the tests that use it run
/// unchanged on PostgreSQL.
#ifdef STRATA_TEST_POSTGRES
struct read_db {
  persistence::postgres_projection_store_options options = [] {
    persistence::postgres_projection_store_options o;
    auto conninfo = persistence::testing::pg_conninfo();
    REQUIRE_MESSAGE(conninfo, "these tests need PostgreSQL (STRATA_TEST_PG)");
    o.conninfo = *conninfo;
    o.schema = persistence::testing::unique_schema("read_db");
    return o;
  }();
  persistence::testing::schema_guard drop{options.conninfo, options.schema};
  std::shared_ptr<persistence::projection_store_factory> factory =
      std::make_shared<persistence::postgres_projection_store_factory>(options);
#else
struct read_db {
  temp_dir dir;
  std::shared_ptr<persistence::projection_store_factory> factory =
      std::make_shared<persistence::sqlite_projection_store_factory>(
          persistence::sqlite_projection_store_options{dir.file("read.db")});
#endif
  std::unique_ptr<persistence::projection_store> open() {
    auto s = factory->open();
    REQUIRE_MESSAGE(s, (s ? "" : to_string(s.err())));
    return std::move(*s);
  }
  /// A connection for the read models' typed queries.
  read_model_reader reader() {
    return read_model_reader{open()};
  }
};

/// The order summaries a fold over the whole journal gives, rendered, by order id.
inline std::map<std::string, std::string> fold_orders(persistence::journal& j) {
  std::map<std::string, orders::state> states;
  std::map<std::string, std::string> customers;
  global_position after{};
  for (;;) {
    auto batch = j.read_all(after, 1000);
    REQUIRE(batch);
    if (batch->empty()) break;
    for (const auto& r : *batch) {
      after = r.position;
      if (r.aggregate_type != orders::order::type) continue;
      auto events = orders::order::events().decode(r.event_type, r.schema_version, r.data);
      REQUIRE(events);
      auto& s = states[r.aggregate_id];
      for (const auto& e : *events) {
        if (const auto* p = std::get_if<orders::placed>(&e))
          customers[r.aggregate_id] = p->customer_id;
        s = orders::order::evolve(std::move(s), e);
      }
    }
  }
  std::map<std::string, std::string> out;
  for (const auto& [id, s] : states) {
    std::int64_t units = 0;
    for (const auto& [sku, l] : s.lines) units += l.quantity;
    read_models::order_summary v;
    v.order_id = id;
    v.customer_id = customers[id];
    static const char* names[] = {"none",          "open",    "confirmed",
                                  "ready_to_ship", "shipped", "cancelled"};
    v.status = names[static_cast<int>(s.current)];
    v.currency = s.currency;
    v.total_minor = s.total_minor;
    v.item_count = units;
    out[id] = to_string(v);
  }
  return out;
}

/// The order summaries of a read model, rendered, by order id.
inline std::map<std::string, std::string> read_orders(read_model_reader& s) {
  auto all = read_models::all_orders(s);
  REQUIRE_MESSAGE(all, (all ? "" : to_string(all.err())));
  std::map<std::string, std::string> out;
  for (const auto& o : *all) out[o.order_id] = to_string(o);
  return out;
}

inline std::map<std::string, std::string> read_orders(read_model_reader&& s) {
  return read_orders(s);
}

}  // namespace strata::testing
