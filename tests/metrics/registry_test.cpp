#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <string>

#include "strata/metrics/metrics.hpp"
#include "tests/metrics/exposition.hpp"

using namespace strata;
using namespace strata::metrics;
using strata::metrics::testing::parse_exposition;

namespace {

// The value of a sample, or NaN when it is missing, so a failed CHECK prints what it saw.
double value_of(const testing::exposition& scrape, const std::string& name,
                const std::map<std::string, std::string>& labels = {}) {
  const auto v = scrape.value(name, labels);
  if (!v) MESSAGE("missing sample " << name);
  return v ? *v : std::nan("");
}

}  // namespace

TEST_CASE("the text parser reads names, escaped labels, special values and timestamps") {
  const auto scrape = parse_exposition(
      "# HELP x_total Some help.\n"
      "# TYPE x_total counter\n"
      "x_total{a=\"q\\\"uote\",b=\"back\\\\slash\\nnext\"} 3 1700000000000\n"
      "y_bucket{le=\"+Inf\"} 4\n"
      "z -1.5e-3\n"
      "broken{a=\"1\" 2\n");
  CHECK(scrape.types.at("x_total") == "counter");
  CHECK(scrape.helps.at("x_total") == "Some help.");
  CHECK(value_of(scrape, "x_total", {{"a", "q\"uote"}, {"b", "back\\slash\nnext"}}) == 3);
  CHECK(value_of(scrape, "y_bucket", {{"le", "+Inf"}}) == 4);
  CHECK(value_of(scrape, "z") == doctest::Approx(-0.0015));
  REQUIRE(scrape.problems.size() == 1);
  CHECK(scrape.problems.front() == "broken{a=\"1\" 2");
}

TEST_CASE("a finished command counts under its aggregate type and outcome") {
  auto metrics = registry::create();
  auto& orders = metrics->for_aggregate("Order");
  auto& payments = metrics->for_aggregate("Payment");
  orders.command_done(command_status::accepted, 0.001);
  orders.command_done(command_status::accepted, 0.001);
  orders.command_done(command_status::conflict, 0.001);
  payments.command_done(command_status::overloaded, 0.001);

  const auto scrape = parse_exposition(metrics->scrape_text());
  CHECK(value_of(scrape, "strata_commands_total",
                 {{"aggregate_type", "Order"}, {"outcome", "accepted"}}) == 2);
  CHECK(value_of(scrape, "strata_commands_total",
                 {{"aggregate_type", "Order"}, {"outcome", "conflict"}}) == 1);
  CHECK(value_of(scrape, "strata_commands_total",
                 {{"aggregate_type", "Order"}, {"outcome", "overloaded"}}) == 0);
  CHECK(value_of(scrape, "strata_commands_total",
                 {{"aggregate_type", "Payment"}, {"outcome", "overloaded"}}) == 1);
  CHECK(value_of(scrape, "strata_commands_total",
                 {{"aggregate_type", "Payment"}, {"outcome", "accepted"}}) == 0);
  for (const char* outcome :
       {"accepted", "rejected", "conflict", "overloaded", "timeout", "unavailable", "failed"}) {
    CHECK_MESSAGE(
        scrape.value("strata_commands_total", {{"aggregate_type", "Order"}, {"outcome", outcome}}),
        "no series for outcome " << outcome);
  }
  CHECK(scrape.problems.empty());
}

TEST_CASE("command latencies land in the cumulative buckets of the duration histogram") {
  auto metrics = registry::create();
  auto& orders = metrics->for_aggregate("Order");
  orders.command_done(command_status::accepted, 0.0003);
  orders.command_done(command_status::accepted, 0.0003);
  orders.command_done(command_status::rejected, 0.002);
  orders.command_done(command_status::timeout, 7.0);
  orders.command_done(command_status::failed, -1.0);  // a clock step backwards counts as 0

  const auto scrape = parse_exposition(metrics->scrape_text());
  const std::string bucket = "strata_command_duration_seconds_bucket";
  auto le = [](const char* bound) {
    return std::map<std::string, std::string>{{"aggregate_type", "Order"}, {"le", bound}};
  };
  CHECK(value_of(scrape, bucket, le("5e-05")) == 1);
  CHECK(value_of(scrape, bucket, le("0.00025")) == 1);
  CHECK(value_of(scrape, bucket, le("0.0005")) == 3);
  CHECK(value_of(scrape, bucket, le("0.001")) == 3);
  CHECK(value_of(scrape, bucket, le("0.0025")) == 4);
  CHECK(value_of(scrape, bucket, le("5")) == 4);
  CHECK(value_of(scrape, bucket, le("+Inf")) == 5);
  CHECK(value_of(scrape, "strata_command_duration_seconds_count", {{"aggregate_type", "Order"}}) ==
        5);
  CHECK(value_of(scrape, "strata_command_duration_seconds_sum", {{"aggregate_type", "Order"}}) ==
        doctest::Approx(0.0003 + 0.0003 + 0.002 + 7.0));
}

TEST_CASE("the same aggregate type always gets the same handles") {
  auto metrics = registry::create();
  auto& first = metrics->for_aggregate("Order");
  metrics->for_aggregate("Payment");
  metrics->for_aggregate("InventoryItem");
  auto& again = metrics->for_aggregate(std::string{"Ord"} + "er");
  CHECK(&first == &again);
  CHECK(first.type() == "Order");
  CHECK(&metrics->for_projection("a") == &metrics->for_projection("a"));
  CHECK(&metrics->for_projection("a") != &metrics->for_projection("b"));
  first.command_done(command_status::accepted, 0.0);
  again.command_done(command_status::accepted, 0.0);
  const auto scrape = parse_exposition(metrics->scrape_text());
  CHECK(value_of(scrape, "strata_commands_total",
                 {{"aggregate_type", "Order"}, {"outcome", "accepted"}}) == 2);
}

TEST_CASE("the lifecycle counters and gauges of an aggregate type move with their calls") {
  auto metrics = registry::create();
  auto& orders = metrics->for_aggregate("Order");
  for (int i = 0; i < 3; ++i) {
    orders.spawned();
    orders.live_add(+1);
  }
  orders.passivated();
  orders.live_add(-1);
  orders.in_flight_add(+5);
  orders.in_flight_add(-2);
  orders.restarted();
  orders.events_appended(4);
  orders.events_appended(6);
  orders.rehydrated(0.0002, 10);
  orders.rehydrated(0.2, 250);
  orders.snapshot_written();
  orders.snapshot_queued(120);
  orders.snapshot_ignored(snapshot_ignore_reason::state_version);
  orders.snapshot_ignored(snapshot_ignore_reason::decode);
  orders.snapshot_ignored(snapshot_ignore_reason::decode);

  const auto scrape = parse_exposition(metrics->scrape_text());
  const std::map<std::string, std::string> order{{"aggregate_type", "Order"}};
  CHECK(value_of(scrape, "strata_aggregate_spawns_total", order) == 3);
  CHECK(value_of(scrape, "strata_aggregate_passivations_total", order) == 1);
  CHECK(value_of(scrape, "strata_live_aggregates", order) == 2);
  CHECK(value_of(scrape, "strata_commands_in_flight", order) == 3);
  CHECK(value_of(scrape, "strata_aggregate_restarts_total", order) == 1);
  CHECK(value_of(scrape, "strata_events_appended_total", order) == 10);
  CHECK(value_of(scrape, "strata_rehydrations_total", order) == 2);
  CHECK(value_of(scrape, "strata_rehydrated_events_total", order) == 260);
  CHECK(value_of(scrape, "strata_rehydration_duration_seconds_count", order) == 2);
  CHECK(value_of(scrape, "strata_rehydration_duration_seconds_sum", order) ==
        doctest::Approx(0.2002));
  CHECK(value_of(scrape, "strata_rehydration_duration_seconds_bucket",
                 {{"aggregate_type", "Order"}, {"le", "0.00025"}}) == 1);
  CHECK(value_of(scrape, "strata_snapshots_written_total", order) == 1);
  CHECK(value_of(scrape, "strata_snapshot_distance_events_count", order) == 1);
  CHECK(value_of(scrape, "strata_snapshot_distance_events_sum", order) == 120);
  auto reason = [](const char* r) {
    return std::map<std::string, std::string>{{"aggregate_type", "Order"}, {"reason", r}};
  };
  CHECK(value_of(scrape, "strata_snapshots_ignored_total", reason("state_version")) == 1);
  CHECK(value_of(scrape, "strata_snapshots_ignored_total", reason("hash_mismatch")) == 0);
  CHECK(value_of(scrape, "strata_snapshots_ignored_total", reason("decode")) == 2);
}

TEST_CASE("journal commits record batch size, latency and result") {
  auto metrics = registry::create();
  auto before = parse_exposition(metrics->scrape_text());
  CHECK(value_of(before, "strata_journal_commits_total", {{"result", "ok"}}) == 0);
  CHECK(value_of(before, "strata_journal_batch_events_count") == 0);

  auto& journal = metrics->journal();
  journal.commit_done(true, 1, 0.0001);
  journal.commit_done(true, 100, 0.004);
  journal.commit_done(false, 30, 0.5);
  journal.appends_conflicted(2);
  journal.appends_conflicted(1);

  const auto scrape = parse_exposition(metrics->scrape_text());
  CHECK(value_of(scrape, "strata_journal_commits_total", {{"result", "ok"}}) == 2);
  CHECK(value_of(scrape, "strata_journal_commits_total", {{"result", "failed"}}) == 1);
  CHECK(value_of(scrape, "strata_journal_append_conflicts_total") == 3);
  CHECK(value_of(scrape, "strata_journal_batch_events_count") == 3);
  CHECK(value_of(scrape, "strata_journal_batch_events_sum") == 131);
  CHECK(value_of(scrape, "strata_journal_batch_events_bucket", {{"le", "1"}}) == 1);
  CHECK(value_of(scrape, "strata_journal_batch_events_bucket", {{"le", "50"}}) == 2);
  CHECK(value_of(scrape, "strata_journal_batch_events_bucket", {{"le", "100"}}) == 3);
  CHECK(value_of(scrape, "strata_journal_commit_duration_seconds_count") == 3);
  CHECK(value_of(scrape, "strata_journal_commit_duration_seconds_bucket", {{"le", "0.005"}}) == 2);
  CHECK(value_of(scrape, "strata_journal_commit_duration_seconds_sum") == doctest::Approx(0.5041));
}

TEST_CASE("projection position, lag, applied and dead-lettered events are reported per name") {
  auto metrics = registry::create();
  auto& summary = metrics->for_projection("order_summary");
  auto& stock = metrics->for_projection("stock \"levels\"");  // label values are escaped
  summary.progress(global_position{40}, global_position{100});
  summary.set_lag(60, 1.25);
  summary.applied(40);
  summary.dead_lettered();
  stock.progress(global_position{120}, global_position{100});  // ahead of a stale head: lag 0
  stock.applied();
  stock.applied(2);

  const auto scrape = parse_exposition(metrics->scrape_text());
  CHECK(scrape.problems.empty());
  const std::map<std::string, std::string> s{{"projection", "order_summary"}};
  const std::map<std::string, std::string> t{{"projection", "stock \"levels\""}};
  CHECK(value_of(scrape, "strata_projection_position", s) == 40);
  CHECK(value_of(scrape, "strata_projection_lag_events", s) == 60);
  CHECK(value_of(scrape, "strata_projection_lag_seconds", s) == 1.25);
  CHECK(value_of(scrape, "strata_projection_events_applied_total", s) == 40);
  CHECK(value_of(scrape, "strata_dead_lettered_events_total", s) == 1);
  CHECK(value_of(scrape, "strata_projection_position", t) == 120);
  CHECK(value_of(scrape, "strata_projection_lag_events", t) == 0);
  CHECK(value_of(scrape, "strata_projection_events_applied_total", t) == 3);
  CHECK(value_of(scrape, "strata_dead_lettered_events_total", t) == 0);

  summary.progress(global_position{100}, global_position{100});
  summary.set_lag(0, 0);
  const auto caught_up = parse_exposition(metrics->scrape_text());
  CHECK(value_of(caught_up, "strata_projection_lag_events", s) == 0);
  CHECK(value_of(caught_up, "strata_projection_lag_seconds", s) == 0);
  CHECK(value_of(caught_up, "strata_projection_position", s) == 100);
}

TEST_CASE("mailbox backlog is a gauge per actor kind that takes the latest sample") {
  auto metrics = registry::create();
  metrics->set_mailbox_backlog("aggregate", 12);
  metrics->set_mailbox_backlog("journal_writer", 3);
  metrics->set_mailbox_backlog("aggregate", 5);
  const auto scrape = parse_exposition(metrics->scrape_text());
  CHECK(value_of(scrape, "strata_mailbox_backlog_messages", {{"actor_kind", "aggregate"}}) == 5);
  CHECK(value_of(scrape, "strata_mailbox_backlog_messages", {{"actor_kind", "journal_writer"}}) ==
        3);
}

TEST_CASE("command statuses and snapshot ignore reasons are their label values") {
  CHECK(to_string(command_status::unavailable) == "unavailable");
  CHECK(to_string(status_of(errc::corrupted)) == "failed");
  CHECK(to_string(snapshot_ignore_reason::hash_mismatch) == "hash_mismatch");
}

TEST_CASE("every documented family is declared with its type and a help text") {
  auto metrics = registry::create();
  testing::touch_every_family(*metrics);
  const auto scrape = parse_exposition(metrics->scrape_text());
  const std::map<std::string, std::string> expected{
      {"strata_commands_total", "counter"},
      {"strata_command_duration_seconds", "histogram"},
      {"strata_events_appended_total", "counter"},
      {"strata_live_aggregates", "gauge"},
      {"strata_commands_in_flight", "gauge"},
      {"strata_aggregate_spawns_total", "counter"},
      {"strata_aggregate_passivations_total", "counter"},
      {"strata_aggregate_hibernations_total", "counter"},
      {"strata_aggregate_restarts_total", "counter"},
      {"strata_rehydrations_total", "counter"},
      {"strata_rehydration_duration_seconds", "histogram"},
      {"strata_rehydrated_events_total", "counter"},
      {"strata_snapshots_written_total", "counter"},
      {"strata_snapshot_distance_events", "histogram"},
      {"strata_snapshots_ignored_total", "counter"},
      {"strata_journal_batch_events", "histogram"},
      {"strata_journal_commit_duration_seconds", "histogram"},
      {"strata_journal_commits_total", "counter"},
      {"strata_journal_append_conflicts_total", "counter"},
      {"strata_projection_position", "gauge"},
      {"strata_projection_lag_events", "gauge"},
      {"strata_projection_lag_seconds", "gauge"},
      {"strata_projection_events_applied_total", "counter"},
      {"strata_dead_lettered_events_total", "counter"},
      {"strata_mailbox_backlog_messages", "gauge"},
      {"strata_relay_position", "gauge"},
      {"strata_relay_lag_events", "gauge"},
      {"strata_relay_published_total", "counter"},
      {"strata_relay_connected", "gauge"},
      {"strata_relay_errors_total", "counter"},
      {"strata_relay_reconnects_total", "counter"},
      {"strata_cluster_members", "gauge"},
      {"strata_cluster_shards_owned", "gauge"},
      {"strata_cluster_commands_forwarded_total", "counter"},
      {"strata_cluster_forward_failures_total", "counter"},
      {"strata_cluster_commands_served_total", "counter"},
      {"strata_cluster_forward_duration_seconds", "histogram"},
      {"strata_cluster_suspicions_total", "counter"},
      {"strata_cluster_declarations_total", "counter"},
      {"strata_cluster_fenced_total", "counter"},
      {"strata_cluster_rejoins_total", "counter"},
      {"strata_cluster_handoffs_total", "counter"},
      {"strata_cluster_link_messages_total", "counter"},
      {"strata_cluster_link_requests_total", "counter"},
  };
  for (const auto& family : expected) {
    const auto& name = family.first;  // INFO captures it: no structured binding (C++17)
    const auto& type = family.second;
    INFO("family ", name);
    REQUIRE(scrape.types.count(name) == 1);
    CHECK(scrape.types.at(name) == type);
    REQUIRE(scrape.helps.count(name) == 1);
    CHECK(!scrape.helps.at(name).empty());
  }
  CHECK(scrape.types.size() == expected.size());
  CHECK(scrape.problems.empty());
}

TEST_CASE("durations can be given as std::chrono durations") {
  auto metrics = registry::create();
  auto& orders = metrics->for_aggregate("Order");
  orders.command_done(command_status::accepted, std::chrono::microseconds{300});
  orders.rehydrated(std::chrono::milliseconds{20}, 5);
  metrics->journal().commit_done(true, 4, std::chrono::nanoseconds{1500000});
  const auto scrape = parse_exposition(metrics->scrape_text());
  const std::map<std::string, std::string> order{{"aggregate_type", "Order"}};
  CHECK(value_of(scrape, "strata_command_duration_seconds_sum", order) == doctest::Approx(0.0003));
  CHECK(value_of(scrape, "strata_rehydration_duration_seconds_sum", order) ==
        doctest::Approx(0.02));
  CHECK(value_of(scrape, "strata_journal_commit_duration_seconds_sum") == doctest::Approx(0.0015));
}
