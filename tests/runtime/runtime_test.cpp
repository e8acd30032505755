#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <future>

#include <SQLiteCpp/SQLiteCpp.h>
#include "strata/domain/orders/order.hpp"

#include "strata/persistence/sqlite_journal.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/runtime/temp_dir.hpp"

using namespace strata;

namespace {

template <class T>
T wait(std::future<T> f) {
  REQUIRE_MESSAGE(f.wait_for(std::chrono::seconds(20)) == std::future_status::ready,
                  "no answer within 20 s");
  return f.get();
}

runtime_config sqlite_runtime_config(const std::string& path) {
  runtime_config c;
  c.journal.sqlite.path = path;
  c.metrics.enabled = false;
  return c;
}

std::unique_ptr<runtime> start(const runtime_config& c) {
  auto rt = runtime::start(c);
  REQUIRE_MESSAGE(rt, (rt ? "" : to_string(rt.err())));
  REQUIRE((*rt)->register_aggregate<orders::order>());
  return std::move(*rt);
}

orders::line line(std::string sku, std::int64_t qty, std::int64_t price) {
  return orders::line{std::move(sku), qty, money{price, "EUR"}};
}

}  // namespace

TEST_CASE("an order goes through its life on the SQLite journal and survives a restart") {
  strata::testing::temp_dir dir;
  const auto c = sqlite_runtime_config(dir.file("strata.db"));
  {
    auto rt = start(c);
    command_metadata meta;
    meta.user_id = "alice";
    meta.correlation_id = "checkout-1";
    auto placed = wait(rt->send<orders::order>(
        "o-1", orders::place{"cust-1", "EUR", {line("sku-1", 2, 1500)}}, meta));
    REQUIRE_MESSAGE(placed.is_accepted(), to_string(placed));
    CHECK(placed.records[0].user_id == "alice");
    CHECK(placed.records[0].correlation_id == "checkout-1");
    CHECK(wait(rt->send<orders::order>("o-1", orders::add_item{line("sku-2", 1, 500)}))
              .is_accepted());
    auto shipped_early = wait(rt->send<orders::order>("o-1", orders::ship{}));
    CHECK(shipped_early.status == command_status::rejected);
    CHECK(shipped_early.why->code == orders::order_not_confirmed);
    CHECK(wait(rt->send<orders::order>("o-1", orders::confirm{})).is_accepted());
    auto shipped = wait(rt->send<orders::order>("o-1", orders::ship{"DHL", "123"}));
    REQUIRE(shipped.is_accepted());
    CHECK(shipped.at == version{4});
    rt->stop();
  }
  auto rt = start(c);
  auto view = wait(rt->current_state<orders::order>("o-1"));
  REQUIRE(view);
  CHECK(view->at == version{4});
  CHECK(view->state.current == orders::status::shipped);
  CHECK(view->state.total_minor == 3500);
  CHECK(view->state.lines.size() == 2);
  auto after = wait(rt->send<orders::order>("o-1", orders::cancel{"too late"}));
  CHECK(after.status == command_status::rejected);
}

TEST_CASE("the group commit's wait keys reach the journal writer") {
  // A commit may wait up to an hour for more events, but only after one of a million events.
  // A lone command is therefore committed at once; were wait_after_events not passed on, its
  // commit would wait the hour and no answer would come within the test.
  strata::testing::temp_dir dir;
  auto c = sqlite_runtime_config(dir.file("strata.db"));
  c.journal.max_wait_us = 3'600'000'000U;
  c.journal.wait_after_events = 1'000'000;
  auto rt = start(c);
  auto placed =
      wait(rt->send<orders::order>("o-1", orders::place{"cust-1", "EUR", {line("sku-1", 1, 100)}}));
  CHECK_MESSAGE(placed.is_accepted(), to_string(placed));
  auto added = wait(rt->send<orders::order>("o-1", orders::add_item{line("sku-2", 1, 200)}));
  CHECK_MESSAGE(added.is_accepted(), to_string(added));
  CHECK(added.at == version{2});
  rt->stop();
}

TEST_CASE("the events an accepted command reports are exactly what the file holds") {
  strata::testing::temp_dir dir;
  const auto c = sqlite_runtime_config(dir.file("strata.db"));
  std::vector<persistence::event_record> reported;
  {
    auto rt = start(c);
    for (int i = 0; i < 10; ++i) {
      auto r = wait(rt->send<orders::order>("o-" + std::to_string(i),
                                            orders::place{"c", "EUR", {line("s", 1, 100)}}));
      REQUIRE(r.is_accepted());
      reported.insert(reported.end(), r.records.begin(), r.records.end());
    }
  }
  persistence::sqlite_journal_options o;
  o.path = c.journal.sqlite.path;
  auto j = persistence::sqlite_journal::open(o);
  REQUIRE(j);
  auto all = (*j)->read_all(global_position{0}, 1000);
  REQUIRE(all);
  REQUIRE(all->size() == reported.size());
  for (std::size_t i = 0; i < all->size(); ++i) {
    CHECK((*all)[i].event_id == reported[i].event_id);
    CHECK((*all)[i].data == reported[i].data);
    CHECK((*all)[i].hash == reported[i].hash);
  }
}

TEST_CASE("an overridden journal without a snapshot store leaves snapshots off") {
  strata::testing::temp_dir dir;
  // The configured backend's file is where the default snapshot store would live.
  auto c = sqlite_runtime_config(dir.file("configured.db"));
  c.aggregates.snapshot_every = 1;
  persistence::sqlite_journal_options jo;
  jo.path = dir.file("overridden.db");
  runtime_overrides o;
  o.journal = std::make_shared<persistence::sqlite_journal_factory>(jo);
  {
    auto rt = runtime::start(c, o);
    REQUIRE_MESSAGE(rt, (rt ? "" : to_string(rt.err())));
    REQUIRE((*rt)->register_aggregate<orders::order>());
    REQUIRE(wait((*rt)->send<orders::order>("o-1", orders::place{"c", "EUR", {line("a", 1, 100)}}))
                .is_accepted());
    for (int i = 0; i < 3; ++i)
      REQUIRE(wait((*rt)->send<orders::order>("o-1", orders::add_item{line("b", 1, 10)}))
                  .is_accepted());
    auto view = wait((*rt)->current_state<orders::order>("o-1"));
    REQUIRE(view);
    CHECK(view->at == version{4});
    CHECK(view->state.total_minor == 130);
    (*rt)->stop();
  }
  CHECK(std::filesystem::exists(jo.path));
  CHECK_MESSAGE(!std::filesystem::exists(c.journal.sqlite.path),
                "a snapshot store was opened on the configured journal's file");
}

TEST_CASE("registering an aggregate type twice is refused") {
  runtime_config c;
  c.journal.backend = journal_backend::memory;
  c.metrics.enabled = false;
  auto rt = runtime::start(c);
  REQUIRE(rt);
  REQUIRE((*rt)->register_aggregate<orders::order>());
  auto again = (*rt)->register_aggregate<orders::order>();
  REQUIRE_FALSE(again);
  CHECK(again.err().code == errc::invalid_argument);
}

namespace {

// The Order decider with a schema built step by step (so the compiler cannot check it) that
// forgets two of its events.
struct order_missing_events : orders::order {
  static constexpr std::string_view type = "OrderMissingEvents";
  static const schema<event>& events() {
    static const schema<event> s = [] {
      auto b = schema<event>::builder();
      b.event<orders::placed>("OrderPlaced", 2);
      b.event<orders::item_added>("ItemAdded", 2);
      b.event<orders::item_removed>("ItemRemoved", 1);
      b.event<orders::confirmed>("OrderConfirmed", 1);
      b.event<orders::marked_ready>("OrderMarkedReady", 1);
      return b.build();
    }();
    return s;
  }
};

}  // namespace

TEST_CASE("registering a decider whose schema misses events is refused, naming them") {
  runtime_config c;
  c.journal.backend = journal_backend::memory;
  c.metrics.enabled = false;
  auto rt = runtime::start(c);
  REQUIRE(rt);
  auto r = (*rt)->register_aggregate<order_missing_events>();
  REQUIRE_FALSE(r);
  CHECK(r.err().code == errc::invalid_argument);
  CHECK(r.err().message.find("OrderMissingEvents") != std::string::npos);
  CHECK(r.err().message.find("orders::cancelled") != std::string::npos);
  CHECK(r.err().message.find("orders::shipped") != std::string::npos);
  CHECK(r.err().message.find("orders::placed") == std::string::npos);
  // Nothing was registered: a command to that type is answered, not decided.
  auto done = (*rt)->send<order_missing_events>("o-1", orders::confirm{});
  REQUIRE(done.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  CHECK(done.get().status != command_status::accepted);
}

TEST_CASE("a journal path that cannot be opened fails start with a clear error") {
  auto c = sqlite_runtime_config("/nonexistent-dir/for/sure/strata.db");
  auto rt = runtime::start(c);
  REQUIRE_FALSE(rt);
  CHECK(rt.err().code == errc::unavailable);
}

TEST_CASE("the audit trail verifies, and an event altered in the file is found") {
  strata::testing::temp_dir dir;
  const auto c = sqlite_runtime_config(dir.file("strata.db"));
  {
    auto rt = start(c);
    for (int i = 0; i < 3; ++i)
      REQUIRE(wait(rt->send<orders::order>("o-1",
                                           orders::add_item{line("s" + std::to_string(i), 1, 100)}))
                  .status == command_status::rejected);  // not placed yet: nothing appended
    REQUIRE(wait(rt->send<orders::order>("o-1", orders::place{"c", "EUR", {line("a", 1, 100)}}))
                .is_accepted());
    REQUIRE(
        wait(rt->send<orders::order>("o-1", orders::add_item{line("b", 2, 100)})).is_accepted());
    REQUIRE(wait(rt->send<orders::order>("o-2", orders::place{"c", "EUR", {}})).is_accepted());
    auto intact = wait(rt->verify_audit_trail());
    REQUIRE(intact);
    CHECK_FALSE(intact->has_value());
  }
  {
    SQLite::Database db{c.journal.sqlite.path, SQLite::OPEN_READWRITE};
    db.exec(
        "UPDATE events SET data = replace(data, '\"quantity\":2', '\"quantity\":20') WHERE version "
        "= 2");
  }
  auto rt = start(c);
  auto found = wait(rt->verify_audit_trail());
  REQUIRE(found);
  REQUIRE(found->has_value());
  CHECK((*found)->stream == stream_id{"Order", "o-1"});
  CHECK((*found)->at == version{2});
  CHECK((*found)->kind == "altered");
  auto other = wait(rt->verify_stream<orders::order>("o-2"));
  REQUIRE(other);
  CHECK_FALSE(other->has_value());
}

TEST_CASE("stored v1 Order rows in the SQLite file are read as current events and decided on") {
  strata::testing::temp_dir dir;
  const auto c = sqlite_runtime_config(dir.file("strata.db"));
  {
    // Rows as an older release wrote them: OrderPlaced and ItemAdded v1 (bare USD amounts).
    persistence::sqlite_journal_options o;
    o.path = c.journal.sqlite.path;
    auto j = persistence::sqlite_journal::open(o);
    REQUIRE(j);
    persistence::stream_append a;
    a.stream = stream_id{"Order", "legacy-1"};
    auto ev = [](std::string id, std::string type, std::string data) {
      persistence::new_event e;
      e.event_id = std::move(id);
      e.event_type = std::move(type);
      e.schema_version = 1;
      e.time = from_unix_micros(1'600'000'000'000'000);
      e.data = std::move(data);
      return e;
    };
    a.events.push_back(ev(
        "00000000-0000-7000-8000-00000000000a", "OrderPlaced",
        R"({"customer_id":"cust-1","lines":[{"sku":"WIDGET","quantity":2,"unit_price":500}],"total":1000})"));
    a.events.push_back(ev("00000000-0000-7000-8000-00000000000b", "ItemAdded",
                          R"({"sku":"BOLT","quantity":10,"unit_price":15})"));
    auto out = (*j)->append({a});
    REQUIRE(out);
    REQUIRE((*out)[0]);
  }
  auto rt = start(c);
  auto view = wait(rt->current_state<orders::order>("legacy-1"));
  REQUIRE_MESSAGE(view, (view ? "" : to_string(view.err())));
  CHECK(view->at == version{2});
  CHECK(view->state.currency == "USD");
  CHECK(view->state.total_minor == 1150);
  CHECK(view->state.lines.at("BOLT").quantity == 10);
  // The history shows the old events in their current shape, with the version they were
  // stored at.
  auto old = wait(rt->history<orders::order>("legacy-1", version{1}, version{2}));
  REQUIRE_MESSAGE(old, (old ? "" : to_string(old.err())));
  REQUIRE(old->size() == 2);
  const auto* placed = std::get_if<orders::placed>(&(*old)[0].event);
  REQUIRE(placed != nullptr);
  CHECK(placed->currency == "USD");
  CHECK(placed->total == money{1000, "USD"});
  REQUIRE(placed->lines.size() == 1);
  CHECK(placed->lines[0].unit_price == money{500, "USD"});
  CHECK((*old)[0].info.event_type == "OrderPlaced");
  CHECK((*old)[0].info.schema_version == 1);
  CHECK((*old)[0].info.event_id == "00000000-0000-7000-8000-00000000000a");
  CHECK((*old)[0].info.time == from_unix_micros(1'600'000'000'000'000));
  const auto* added = std::get_if<orders::item_added>(&(*old)[1].event);
  REQUIRE(added != nullptr);
  CHECK(added->item.unit_price == money{15, "USD"});
  CHECK((*old)[1].info.schema_version == 1);
  // A new command in the current shape continues the old stream: same currency required.
  auto eur = wait(rt->send<orders::order>("legacy-1", orders::add_item{line("NUT", 1, 5)}));
  CHECK(eur.status == command_status::rejected);
  CHECK(eur.why->code == orders::currency_mismatch);
  auto usd = wait(rt->send<orders::order>(
      "legacy-1", orders::add_item{orders::line{"NUT", 1, money{5, "USD"}}}));
  REQUIRE_MESSAGE(usd.is_accepted(), to_string(usd));
  CHECK(usd.records[0].schema_version == 2);
  auto typed = usd.events<orders::order>();
  REQUIRE(typed);
  REQUIRE(typed->size() == 1);
  CHECK(std::get<orders::item_added>(typed->front().event).item.sku == "NUT");
  CHECK(typed->front().info.stream_version == version{3});
}
