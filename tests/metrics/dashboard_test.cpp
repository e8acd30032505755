#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "strata/metrics/metrics.hpp"
#include "tests/metrics/exposition.hpp"

namespace json = boost::json;
using namespace strata::metrics;

namespace {

const std::string monitoring_dir = std::string{STRATA_SOURCE_DIR} + "/examples/monitoring";

std::string read_text(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct dashboard_query {
  std::string panel;
  std::string expr;
};

struct dashboard {
  json::object root;
  std::vector<const json::object*> panels;  // every panel, rows included
  std::vector<dashboard_query> queries;
};

dashboard load_dashboard() {
  dashboard d;
  const auto text = read_text(monitoring_dir + "/grafana-dashboard.json");
  REQUIRE_MESSAGE(!text.empty(), "cannot read " << monitoring_dir << "/grafana-dashboard.json");
  boost::system::error_code ec;
  auto parsed = json::parse(text, ec);
  REQUIRE_MESSAGE(!ec, "the dashboard is not valid JSON: " << ec.message());
  REQUIRE(parsed.is_object());
  d.root = std::move(parsed.as_object());
  REQUIRE(d.root.contains("panels"));
  REQUIRE(d.root.at("panels").is_array());
  for (const auto& p : d.root.at("panels").as_array()) {
    REQUIRE(p.is_object());
    d.panels.push_back(&p.as_object());
  }
  for (const auto* p : d.panels) {
    if (!p->contains("targets")) continue;
    for (const auto& t : p->at("targets").as_array()) {
      d.queries.push_back({std::string{p->at("title").as_string()},
                           std::string{t.as_object().at("expr").as_string()}});
    }
  }
  return d;
}

const json::object* panel_titled(const dashboard& d, const std::string& title) {
  for (const auto* p : d.panels) {
    if (p->contains("title") && p->at("title").is_string() && p->at("title").as_string() == title) {
      return p;
    }
  }
  return nullptr;
}

std::string all_exprs(const json::object& panel) {
  std::string joined;
  for (const auto& t : panel.at("targets").as_array()) {
    joined += std::string{t.as_object().at("expr").as_string()} + "\n";
  }
  return joined;
}

std::set<std::string> metric_names_in(const std::string& expr) {
  static const std::regex name{"strata_[a-z0-9_]+"};
  std::set<std::string> names;
  for (std::sregex_iterator it{expr.begin(), expr.end(), name}, end; it != end; ++it) {
    names.insert(it->str());
  }
  return names;
}

// Grafana's variables replaced by values Prometheus itself accepts.
std::string as_plain_promql(std::string expr) {
  for (const auto& [from, to] :
       {std::pair<std::string, std::string>{"$__rate_interval", "5m"}, {"$aggregate_type", ".*"}}) {
    for (auto at = expr.find(from); at != std::string::npos; at = expr.find(from)) {
      expr.replace(at, from.size(), to);
    }
  }
  return expr;
}

}  // namespace

TEST_CASE("the Grafana dashboard is a complete dashboard model") {
  const auto d = load_dashboard();
  CHECK(d.root.at("title").as_string() == "strata");
  CHECK(!d.root.at("uid").as_string().empty());
  CHECK(d.root.at("schemaVersion").is_int64());
  REQUIRE(d.panels.size() >= 7);
  std::set<std::int64_t> ids;
  for (const auto* p : d.panels) {
    const std::string title{p->at("title").as_string()};
    INFO("panel ", title);
    CHECK(ids.insert(p->at("id").as_int64()).second);
    const auto& grid = p->at("gridPos").as_object();
    for (const char* key : {"h", "w", "x", "y"}) CHECK(grid.at(key).is_int64());
    CHECK(grid.at("x").as_int64() + grid.at("w").as_int64() <= 24);
    if (p->at("type").as_string() == "row") continue;
    CHECK(p->at("type").as_string() == "timeseries");
    CHECK(p->at("datasource").as_object().at("type").as_string() == "prometheus");
    REQUIRE(!p->at("targets").as_array().empty());
    std::set<std::string> ref_ids;
    for (const auto& t : p->at("targets").as_array()) {
      CHECK(ref_ids.insert(std::string{t.as_object().at("refId").as_string()}).second);
      CHECK(!t.as_object().at("expr").as_string().empty());
    }
  }
}

TEST_CASE("the dashboard has every documented panel with the queries it promises") {
  const auto d = load_dashboard();
  for (const char* title :
       {"Command throughput by outcome", "Command latency (p50, p95, p99)", "Live aggregates",
        "Commands in flight", "Events appended and replayed", "Aggregate lifecycle",
        "Rehydration duration (p50, p99)", "Snapshots", "Journal batch size",
        "Journal commit latency", "Journal commits by result", "Projection lag",
        "Projection lag (seconds)", "Projection throughput", "Errors", "Mailbox backlog"}) {
    CHECK_MESSAGE(panel_titled(d, title) != nullptr, "missing panel \"" << title << "\"");
  }

  const auto* throughput = panel_titled(d, "Command throughput by outcome");
  REQUIRE(throughput != nullptr);
  CHECK(all_exprs(*throughput).find("sum by (outcome) (rate(strata_commands_total") !=
        std::string::npos);

  const auto* latency = panel_titled(d, "Command latency (p50, p95, p99)");
  REQUIRE(latency != nullptr);
  const auto latency_exprs = all_exprs(*latency);
  for (const char* quantile : {"0.5", "0.95", "0.99"}) {
    CHECK(latency_exprs.find(std::string{"histogram_quantile("} + quantile +
                             ", sum by (le) (rate(strata_command_duration_seconds_bucket") !=
          std::string::npos);
  }

  const auto* commit = panel_titled(d, "Journal commit latency");
  REQUIRE(commit != nullptr);
  CHECK(all_exprs(*commit).find("histogram_quantile(0.99, sum by (le) "
                                "(rate(strata_journal_commit_duration_seconds_bucket") !=
        std::string::npos);
  const auto* batch = panel_titled(d, "Journal batch size");
  REQUIRE(batch != nullptr);
  CHECK(all_exprs(*batch).find("strata_journal_batch_events_bucket") != std::string::npos);
  const auto* lag = panel_titled(d, "Projection lag");
  REQUIRE(lag != nullptr);
  CHECK(all_exprs(*lag).find("strata_projection_lag_events") != std::string::npos);

  const auto* errors = panel_titled(d, "Errors");
  REQUIRE(errors != nullptr);
  const auto error_exprs = all_exprs(*errors);
  for (const char* needle :
       {"rejected", "conflict", "overloaded", "timeout", "strata_dead_lettered_events_total",
        "strata_aggregate_restarts_total"}) {
    CHECK_MESSAGE(error_exprs.find(needle) != std::string::npos, "Errors panel lacks " << needle);
  }
}

TEST_CASE("every metric the dashboard queries is one the registry exports") {
  auto metrics = registry::create();
  testing::touch_every_family(*metrics);
  const auto exported = testing::parse_exposition(metrics->scrape_text()).sample_names();
  REQUIRE(exported.count("strata_commands_total") == 1);

  const auto d = load_dashboard();
  std::set<std::string> used;
  for (const auto& q : d.queries) {
    for (const auto& name : metric_names_in(q.expr)) {
      used.insert(name);
      CHECK_MESSAGE(exported.count(name) == 1,
                    "panel \"" << q.panel << "\" queries " << name << ", which is not exported");
    }
  }
  for (const auto& variable : d.root.at("templating").as_object().at("list").as_array()) {
    const auto& v = variable.as_object();
    if (!v.contains("definition")) continue;
    for (const auto& name : metric_names_in(std::string{v.at("definition").as_string()})) {
      CHECK_MESSAGE(exported.count(name) == 1, "variable queries unknown metric " << name);
    }
  }
  // The dashboard covers the core families, not just a few of them.
  for (const char* name :
       {"strata_commands_total", "strata_command_duration_seconds_bucket", "strata_live_aggregates",
        "strata_journal_batch_events_bucket", "strata_journal_commit_duration_seconds_bucket",
        "strata_projection_lag_events", "strata_dead_lettered_events_total",
        "strata_aggregate_restarts_total"}) {
    CHECK_MESSAGE(used.count(name) == 1, "the dashboard never queries " << name);
  }
}

TEST_CASE("every dashboard query is PromQL that promtool parses, and the scrape config is valid") {
  const std::string promtool = testing::find_on_path("promtool");
  REQUIRE_MESSAGE(!promtool.empty(),
                  "promtool is not installed: install the Debian package 'prometheus' "
                  "(scripts/deps.sh --with-test-servers) to check the dashboard queries");
  const auto d = load_dashboard();
  REQUIRE(!d.queries.empty());

  // Each query becomes a recording rule: `promtool check rules` parses its expression.
  std::string rules = "groups:\n  - name: dashboard\n    rules:\n";
  for (std::size_t i = 0; i < d.queries.size(); ++i) {
    rules += "      - record: strata:dashboard_query_" + std::to_string(i) + "\n";
    rules +=
        "        expr: " + json::serialize(json::string{as_plain_promql(d.queries[i].expr)}) + "\n";
  }
  const auto checked = testing::run_with_input("'" + promtool + "' check rules /dev/stdin", rules);
  INFO("promtool said: ", checked.output);
  CHECK(checked.exit_status == 0);
  CHECK(checked.output.find(std::to_string(d.queries.size()) + " rules found") !=
        std::string::npos);

  const auto config_path = monitoring_dir + "/prometheus.yml";
  CHECK(read_text(config_path).find("\"127.0.0.1:9464\"") != std::string::npos);
  const auto config =
      testing::run_with_input("'" + promtool + "' check config '" + config_path + "'", "");
  INFO("promtool said: ", config.output);
  CHECK(config.exit_status == 0);
}
