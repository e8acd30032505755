#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "strata/domain/orders/order.hpp"
#include "strata/metrics/metrics.hpp"
#include "strata/persistence/sqlite_snapshot_store.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/runtime/stepping_clock.hpp"
#include "tests/runtime/temp_dir.hpp"
#include "tests/support/wait_until.hpp"

using namespace strata;

namespace {

using strata::testing::wait;

struct order_history : strata::testing::clocked_orders {
  std::vector<timestamp> times;  // times[v-1]: timestamp of version v

  order_history() : clocked_orders(100) {}
  void write(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      orders::command c =
          times.empty()
              ? orders::command{orders::place{"c-1", "EUR", {}}}
              : orders::command{orders::add_item{orders::line{"sku", 1, money{10, "EUR"}}}};
      auto r = wait(rt->send<orders::order>("o-1", c));
      REQUIRE(r.is_accepted());
      times.push_back(r.records[0].time);
    }
  }
  std::vector<persistence::snapshot_record> snapshots() {
    persistence::sqlite_snapshot_store_options o;
    o.path = config.journal.sqlite.path;
    auto s = persistence::sqlite_snapshot_store::open(o);
    REQUIRE(s);
    auto l = (*s)->list(stream_id{"Order", "o-1"});
    REQUIRE(l);
    return *l;
  }
};

}  // namespace

TEST_CASE("the runtime takes a snapshot every N events, off the command path, keeping the last K") {
  order_history h;
  // Snapshot writes are asynchronous, each counted after its row is visible, and the writer
  // saves only a stream's newest of the snapshots queued together (a slow store under load
  // skips the older ones). The events therefore go a hundred at a time, each hundred once the
  // previous snapshot is saved and counted (a bounded wait), so that all four are written.
  std::vector<persistence::snapshot_record> kept;
  for (std::uint64_t at = 100; at <= 400; at += 100) {
    INFO("snapshot at " << at);
    h.write(100);
    const std::string written = "strata_snapshots_written_total{aggregate_type=\"Order\"} " +
                                std::to_string(at / 100) + "\n";
    REQUIRE(strata::testing::wait_until([&] {
      kept = h.snapshots();
      return !kept.empty() && kept.back().at == version{at} &&
             h.rt->metrics().scrape_text().find(written) != std::string::npos;
    }));
  }
  h.write(50);  // past the last snapshot: no new one before 500
  kept = h.snapshots();
  REQUIRE(kept.size() == 3);
  CHECK(kept[0].at == version{200});
  CHECK(kept[1].at == version{300});
  CHECK(kept[2].at == version{400});
  CHECK(kept[2].state_version == orders::order::state_version);
}

TEST_CASE("after a restart an aggregate rehydrates from its snapshot and replays only the tail") {
  order_history h;
  h.write(250);
  REQUIRE(strata::testing::wait_until([&] {
    const auto kept = h.snapshots();
    return !kept.empty() && kept.back().at == version{200};
  }));
  h.rt->stop();
  h.start();
  auto view = wait(h.rt->current_state<orders::order>("o-1"));
  REQUIRE(view);
  CHECK(view->at == version{250});
  CHECK(view->state.lines.at("sku").quantity == 249);
  const auto text = h.rt->metrics().scrape_text();
  CHECK(text.find("strata_rehydrated_events_total{aggregate_type=\"Order\"} 50") !=
        std::string::npos);
}

TEST_CASE("state at a version: before the first event, at exact boundaries, after the last") {
  order_history h;
  h.write(250);
  auto before = wait(h.rt->state_at<orders::order>("o-1", version{0}));
  REQUIRE(before);
  CHECK(before->at == version{0});
  CHECK(before->state.current == orders::status::none);
  for (std::uint64_t v : {1u, 99u, 100u, 101u, 200u, 250u}) {
    CAPTURE(v);
    auto at = wait(h.rt->state_at<orders::order>("o-1", version{v}));
    REQUIRE(at);
    CHECK(at->at == version{v});
    CHECK(at->time == h.times[v - 1]);
    CHECK(at->state.current == orders::status::open);
    if (v > 1) CHECK(at->state.lines.at("sku").quantity == static_cast<std::int64_t>(v - 1));
  }
  auto after = wait(h.rt->state_at<orders::order>("o-1", version{10'000}));
  REQUIRE(after);
  CHECK(after->at == version{250});
  auto unknown = wait(h.rt->state_at<orders::order>("nobody", version{5}));
  REQUIRE(unknown);
  CHECK(unknown->at == version{0});
}

TEST_CASE("state as of a time: before the first event, at an event's exact time, between, after") {
  order_history h;
  h.write(150);
  auto before =
      wait(h.rt->state_as_of<orders::order>("o-1", h.times[0] - std::chrono::microseconds(1)));
  REQUIRE(before);
  CHECK(before->at == version{0});
  auto exact = wait(h.rt->state_as_of<orders::order>("o-1", h.times[119]));
  REQUIRE(exact);
  CHECK(exact->at == version{120});
  auto between =
      wait(h.rt->state_as_of<orders::order>("o-1", h.times[119] + std::chrono::microseconds(1)));
  REQUIRE(between);
  CHECK(between->at == version{120});
  auto after =
      wait(h.rt->state_as_of<orders::order>("o-1", h.times.back() + std::chrono::hours(1)));
  REQUIRE(after);
  CHECK(after->at == version{150});
}

TEST_CASE("state as of a system clock time point is floored to the microsecond of event times") {
  order_history h;
  h.write(3);
  using sys = std::chrono::system_clock;
  const sys::time_point second{h.times[1].time_since_epoch()};  // version 2, exactly
  auto exact = wait(h.rt->state_as_of<orders::order>("o-1", second));
  REQUIRE(exact);
  CHECK(exact->at == version{2});
  CHECK(exact->time == h.times[1]);
  // Within the same microsecond: floored onto version 2's timestamp.
  auto within =
      wait(h.rt->state_as_of<orders::order>("o-1", second + std::chrono::nanoseconds(999)));
  REQUIRE(within);
  CHECK(within->at == version{2});
  // One nanosecond earlier floors to the microsecond before it: version 1 only.
  auto before = wait(h.rt->state_as_of<orders::order>("o-1", second - std::chrono::nanoseconds(1)));
  REQUIRE(before);
  CHECK(before->at == version{1});
  CHECK(before->state.lines.empty());
  auto now = wait(h.rt->state_as_of<orders::order>("o-1", sys::now()));
  REQUIRE(now);
  CHECK(now->at == version{3});
}

TEST_CASE("temporal queries do not disturb the live aggregate") {
  order_history h;
  h.write(120);
  auto past = wait(h.rt->state_at<orders::order>("o-1", version{10}));
  REQUIRE(past);
  auto live = wait(h.rt->current_state<orders::order>("o-1"));
  REQUIRE(live);
  CHECK(live->at == version{120});
  auto next = wait(
      h.rt->send<orders::order>("o-1", orders::add_item{orders::line{"sku", 1, money{10, "EUR"}}}));
  REQUIRE(next.is_accepted());
  CHECK(next.at == version{121});
}

TEST_CASE("the history between two versions lists exactly those events") {
  order_history h;
  h.write(30);
  auto diff = wait(h.rt->history<orders::order>("o-1", version{10}, version{12}));
  REQUIRE(diff);
  REQUIRE(diff->size() == 3);
  CHECK((*diff)[0].info.stream_version == version{10});
  CHECK((*diff)[2].info.stream_version == version{12});
  CHECK((*diff)[0].info.event_type == "ItemAdded");
  const auto* added = std::get_if<orders::item_added>(&(*diff)[0].event);
  REQUIRE(added != nullptr);
  CHECK(added->item.sku == "sku");
  CHECK(added->item.unit_price == money{10, "EUR"});
  auto none = wait(h.rt->history<orders::order>("o-1", version{31}, version{40}));
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("history gives each event with the metadata it was stored with") {
  order_history h;
  command_metadata meta;
  meta.user_id = "alice";
  meta.command_id = "cmd-1";
  meta.correlation_id = "checkout-1";
  meta.causation_id = "cause-1";
  auto placed = wait(h.rt->send<orders::order>("o-1", orders::place{"c-1", "EUR", {}}, meta));
  REQUIRE_MESSAGE(placed.is_accepted(), to_string(placed));
  auto added = wait(
      h.rt->send<orders::order>("o-1", orders::add_item{orders::line{"sku", 2, money{10, "EUR"}}}));
  REQUIRE_MESSAGE(added.is_accepted(), to_string(added));

  auto all = wait(h.rt->history<orders::order>("o-1", version{1}, version{2}));
  REQUIRE_MESSAGE(all, (all ? "" : to_string(all.err())));
  REQUIRE(all->size() == 2);
  const auto& first = (*all)[0];
  const auto* p = std::get_if<orders::placed>(&first.event);
  REQUIRE(p != nullptr);
  CHECK(p->customer_id == "c-1");
  CHECK(p->currency == "EUR");
  const event_info& i = first.info;
  const persistence::event_record& stored = placed.records.at(0);
  CHECK(i.position == stored.position);
  CHECK(i.position == global_position{1});
  CHECK(i.stream_version == version{1});
  CHECK(i.time == stored.time);
  CHECK(i.aggregate_type == "Order");
  CHECK(i.aggregate_id == "o-1");
  CHECK(i.event_id == stored.event_id);
  CHECK(i.event_type == "OrderPlaced");
  CHECK(i.schema_version == orders::order::events().version_of<orders::placed>());
  CHECK(i.user_id == "alice");
  CHECK(i.command_id == "cmd-1");
  CHECK(i.correlation_id == "checkout-1");
  CHECK(i.causation_id == "cause-1");

  const auto& second = (*all)[1];
  REQUIRE(std::holds_alternative<orders::item_added>(second.event));
  CHECK(second.info.position == global_position{2});
  CHECK(second.info.stream_version == version{2});
  CHECK(second.info.time > i.time);
  CHECK(second.info.event_id == added.records.at(0).event_id);
  CHECK(second.info.user_id.empty());
}
