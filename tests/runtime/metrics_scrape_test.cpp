// A real scrape of GET /metrics over HTTP while commands run: the series of commands, the
// journal, live aggregates, rehydrations and a projection move between scrapes, end at the
// exact counts of the replies once the load stopped, and pass `promtool check metrics`. And
// a real Prometheus server, run with the shipped configuration, scraping a runtime.

#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "strata/domain/orders/order.hpp"
#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/runtime/scrape.hpp"
#include "tests/runtime/temp_dir.hpp"

using namespace strata;
using namespace strata::testing;
using namespace std::chrono_literals;
namespace mt = strata::metrics::testing;

namespace {

constexpr std::size_t window = 64;  // commands in flight at most

/// Sends orders from a thread of its own with the callback form of `send`, `window` in
/// flight: a new order "o-<n>" each time, and every fifth time a second `place` of an order
/// placed before, which the decider rejects. Runs until `stop` and at least `minimum`
/// commands; counts the replies by outcome.
class load {
 public:
  load(runtime& rt, std::size_t minimum) : rt_(rt), minimum_(minimum) {
    thread_ = std::thread{[this] { run(); }};
  }
  ~load() { finish(); }

  /// Stops sending and waits for every reply.
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  std::uint64_t accepted() const { return accepted_.load(); }
  std::uint64_t rejected() const { return rejected_.load(); }
  std::uint64_t other() const { return other_.load(); }
  std::uint64_t orders() const { return orders_.load(); }
  global_position last_position() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return last_;
  }
  std::string first_other() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return first_other_;
  }

 private:
  void run() {
    for (std::uint64_t n = 0; !stop_.load() || n < minimum_; ++n) {
      send("o-" + std::to_string(n));
      orders_.fetch_add(1);
      if (n % 5 == 4) send("o-" + std::to_string(n - 4));  // placed already: rejected
    }
    std::unique_lock<std::mutex> lock{mutex_};
    drained_.wait(lock, [&] { return in_flight_ == 0; });
  }

  void send(const std::string& id) {
    {
      std::unique_lock<std::mutex> lock{mutex_};
      drained_.wait(lock, [&] { return in_flight_ < window; });
      ++in_flight_;
    }
    orders::command c =
        orders::place{"c-" + id, "EUR", {orders::line{"sku-1", 1, money{250, "EUR"}}}};
    rt_.send<orders::order>(id, std::move(c), {}, [this](command_result r) {
      std::lock_guard<std::mutex> lock{mutex_};
      if (r.is_accepted()) {
        accepted_.fetch_add(1);
        last_ = std::max(last_, r.position);
      } else if (r.status == command_status::rejected) {
        rejected_.fetch_add(1);
      } else {
        if (other_.fetch_add(1) == 0) first_other_ = to_string(r);
      }
      --in_flight_;
      drained_.notify_all();
    });
  }

  runtime& rt_;
  const std::size_t minimum_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> accepted_{0}, rejected_{0}, other_{0}, orders_{0};
  mutable std::mutex mutex_;
  std::condition_variable drained_;
  std::size_t in_flight_ = 0;
  global_position last_{};
  std::string first_other_;
  std::thread thread_;
};

/// GET /metrics on 127.0.0.1:port, checked and parsed.
struct scraped {
  std::string body;
  exposition series;
};

scraped scrape(std::uint16_t port) {
  const auto response = mt::http_get(port, "/metrics");
  REQUIRE_MESSAGE(response.failure.empty(), response.failure);
  REQUIRE(response.status == 200);
  auto series = parse_exposition(response.body);
  if (!series.problems.empty()) FAIL("unreadable line in the scrape: " << series.problems.front());
  return scraped{response.body, std::move(series)};
}

const std::map<std::string, std::string> order{{"aggregate_type", "Order"}};
const std::map<std::string, std::string> summary{{"projection", "order_summary"}};

std::map<std::string, std::string> with_outcome(const std::string& outcome) {
  return {{"aggregate_type", "Order"}, {"outcome", outcome}};
}

/// The figures the test follows from scrape to scrape.
struct figures {
  double accepted, events, batches, live, rehydrations, position;
};

figures figures_of(const exposition& e) {
  return figures{value_of(e, "strata_commands_total", with_outcome("accepted")),
                 value_of(e, "strata_events_appended_total", order),
                 value_of(e, "strata_journal_batch_events_count"),
                 value_of(e, "strata_live_aggregates", order),
                 value_of(e, "strata_rehydrations_total", order),
                 value_of(e, "strata_projection_position", summary)};
}

void check_promtool(const std::string& promtool, const std::string& body) {
  const auto checked = mt::run_with_input("'" + promtool + "' check metrics", body);
  INFO("promtool said: ", checked.output);
  CHECK(checked.exit_status == 0);
  CHECK(checked.output.empty());
}

/// Where `program` of the Debian package 'prometheus' is; fails the test when it is missing.
std::string prometheus_program(const std::string& program) {
  const std::string path = mt::find_on_path(program);
  REQUIRE_MESSAGE(!path.empty(), program << " is not installed: install the Debian package "
                                            "'prometheus' (scripts/deps.sh --with-test-servers)");
  return path;
}

/// A runtime on a fresh SQLite journal and read-model file in `dir`, serving /metrics on a
/// free loopback port, with Orders registered.
std::unique_ptr<runtime> metrics_runtime(const temp_dir& dir) {
  runtime_config config;
  config.journal.sqlite.path = dir.file("journal.db");
  config.projections.path = dir.file("read.db");
  config.metrics.enabled = true;
  config.metrics.bind_address = "127.0.0.1";
  config.metrics.port = 0;
  auto started = runtime::start(config);
  REQUIRE_MESSAGE(started, (started ? "" : to_string(started.err())));
  REQUIRE((*started)->register_aggregate<orders::order>());
  return std::move(*started);
}

}  // namespace

TEST_CASE("scrapes of /metrics during a load show every series moving and end at the replies") {
  const std::string promtool = prometheus_program("promtool");
  temp_dir dir;
  auto started = metrics_runtime(dir);
  auto& rt = *started;
  REQUIRE(rt.add_projection(std::make_shared<read_models::order_summary_projection>()));
  const auto port = rt.metrics().bound_port();
  REQUIRE(port != 0);

  load commands{rt, 4 * window};
  std::vector<figures> seen;
  std::string mid_load_body;
  constexpr int scrapes = 4;
  for (int i = 0; i < scrapes; ++i) {
    if (i > 0) {
      // More than a window of replies since the last scrape: every series below must have
      // moved, whatever was in flight when it was taken.
      const double before = seen.back().accepted;
      const bool progressed = wait_until(
          [&] { return static_cast<double>(commands.accepted()) > before + window; }, 60s);
      REQUIRE_MESSAGE(progressed, "the load stalled at " << commands.accepted() << " accepted");
    }
    if (i == scrapes - 1) {
      // The projection follows asynchronously: wait until it passed the first scrape's position.
      const double first = seen.front().position;
      REQUIRE(wait_until(
          [&] {
            auto lag = rt.projection_lag("order_summary");
            return lag && static_cast<double>(lag->position.value) > first;
          },
          60s));
    }
    auto s = scrape(port);
    seen.push_back(figures_of(s.series));
    if (i == 1) mid_load_body = std::move(s.body);
  }
  commands.finish();

  for (std::size_t i = 1; i < seen.size(); ++i) {
    CAPTURE(i);
    const auto& a = seen[i - 1];
    const auto& b = seen[i];
    CHECK(b.accepted > a.accepted);
    CHECK(b.events > a.events);
    CHECK(b.batches > a.batches);
    CHECK(b.live > a.live);
    CHECK(b.rehydrations > a.rehydrations);
    CHECK(b.position >= a.position);
  }
  CHECK(seen.back().position > seen.front().position);
  INFO("the first unexpected reply: ", commands.first_other());
  REQUIRE(commands.other() == 0);

  // After the load: exact counts.
  const auto accepted = static_cast<double>(commands.accepted());
  const auto last = commands.last_position();
  REQUIRE(rt.wait_for("order_summary", last, 30s));
  const auto final_scrape = scrape(port);
  const auto& e = final_scrape.series;
  CHECK(commands.accepted() == commands.orders());  // every new order was accepted
  CHECK(last.value == commands.accepted());         // one event each, nothing else written
  CHECK(value_of(e, "strata_commands_total", with_outcome("accepted")) == accepted);
  CHECK(value_of(e, "strata_commands_total", with_outcome("rejected")) ==
        static_cast<double>(commands.rejected()));
  for (const char* outcome : {"conflict", "overloaded", "timeout", "unavailable", "failed"}) {
    CAPTURE(outcome);
    CHECK(value_of(e, "strata_commands_total", with_outcome(outcome)) == 0);
  }
  CHECK(value_of(e, "strata_command_duration_seconds_count", order) ==
        accepted + static_cast<double>(commands.rejected()));
  CHECK(value_of(e, "strata_commands_in_flight", order) == 0);
  CHECK(value_of(e, "strata_events_appended_total", order) == accepted);
  CHECK(value_of(e, "strata_journal_batch_events_sum") == accepted);
  const double batches = value_of(e, "strata_journal_batch_events_count");
  CHECK(batches >= 1);
  CHECK(batches <= accepted);
  CHECK(value_of(e, "strata_journal_commits_total", {{"result", "ok"}}) == batches);
  CHECK(value_of(e, "strata_journal_commits_total", {{"result", "failed"}}) == 0);
  // One live aggregate per order, each rehydrated once from an empty stream.
  CHECK(value_of(e, "strata_live_aggregates", order) == accepted);
  CHECK(value_of(e, "strata_aggregate_spawns_total", order) == accepted);
  CHECK(value_of(e, "strata_rehydrations_total", order) == accepted);
  CHECK(value_of(e, "strata_rehydrated_events_total", order) == 0);
  CHECK(value_of(e, "strata_projection_position", summary) == static_cast<double>(last.value));
  CHECK(value_of(e, "strata_projection_lag_events", summary) == 0);
  CHECK(value_of(e, "strata_projection_lag_seconds", summary) == 0);
  CHECK(value_of(e, "strata_projection_events_applied_total", summary) ==
        static_cast<double>(last.value));
  CHECK(value_of(e, "strata_dead_lettered_events_total", summary) == 0);
  CHECK(value_of(e, "strata_mailbox_backlog_messages", {{"actor_kind", "projection"}}) >= 0);

  check_promtool(promtool, mid_load_body);
  check_promtool(promtool, final_scrape.body);
}

namespace {

/// Keeps every message a runtime reports.
class recording_log final : public log_sink {
 public:
  void write(log_level level, std::string_view component,
             std::string_view message) noexcept override {
    std::lock_guard<std::mutex> lock{mutex_};
    lines_.push_back(std::string{to_string(level)} + " " + std::string{component} + ": " +
                     std::string{message});
  }
  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return lines_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

}  // namespace

TEST_CASE("two runtimes with the default metrics settings start side by side and both serve") {
  temp_dir dir;
  runtime_config first_config;
  first_config.journal.sqlite.path = dir.file("first.db");
  first_config.projections.path = dir.file("first-read.db");
  first_config.log.level = log_level::info;
  runtime_config second_config = first_config;
  second_config.journal.sqlite.path = dir.file("second.db");
  second_config.projections.path = dir.file("second-read.db");
  second_config.log.level = log_level::warning;  // nothing on stderr from the second one
  REQUIRE(first_config.metrics.enabled);

  auto log = std::make_shared<recording_log>();
  runtime_overrides with_log;
  with_log.log = log;
  auto first = runtime::start(first_config, std::move(with_log));
  REQUIRE_MESSAGE(first, (first ? "" : to_string(first.err())));
  auto second = runtime::start(second_config);
  REQUIRE_MESSAGE(second, (second ? "" : to_string(second.err())));

  const auto first_port = (*first)->metrics().bound_port();
  const auto second_port = (*second)->metrics().bound_port();
  REQUIRE(first_port != 0);
  REQUIRE(second_port != 0);
  CHECK(first_port != second_port);
  CHECK(mt::http_get(first_port, "/metrics").status == 200);
  CHECK(mt::http_get(second_port, "/metrics").status == 200);

  // The picked port is reported where an operator looks for it.
  const std::string expected =
      "info metrics: serving metrics on http://127.0.0.1:" + std::to_string(first_port) +
      "/metrics";
  const auto lines = log->lines();
  CHECK(std::find(lines.begin(), lines.end(), expected) != lines.end());
}

TEST_CASE("a fixed metrics port that is taken fails the second runtime with a clear error") {
  temp_dir dir;
  runtime_config first_config;
  first_config.journal.backend = journal_backend::memory;
  first_config.projections.path = dir.file("first-read.db");
  auto first = runtime::start(first_config);
  REQUIRE_MESSAGE(first, (first ? "" : to_string(first.err())));
  const auto taken = (*first)->metrics().bound_port();
  REQUIRE(taken != 0);

  runtime_config second_config = first_config;
  second_config.projections.path = dir.file("second-read.db");
  second_config.metrics.port = taken;
  auto second = runtime::start(second_config);
  REQUIRE_FALSE(second);
  CHECK(second.err().code == errc::unavailable);
  CHECK(second.err().message.find("127.0.0.1:" + std::to_string(taken)) != std::string::npos);
  CHECK(mt::http_get(taken, "/metrics").status == 200);
}

TEST_CASE("stop returns promptly with metrics on and frees the port") {
  temp_dir dir;
  runtime_config config;
  config.journal.sqlite.path = dir.file("journal.db");
  config.projections.path = dir.file("read.db");
  REQUIRE(config.metrics.enabled);
  auto started = runtime::start(config);
  REQUIRE_MESSAGE(started, (started ? "" : to_string(started.err())));
  auto& rt = **started;
  REQUIRE(rt.register_aggregate<orders::order>());
  const auto port = rt.metrics().bound_port();
  REQUIRE(port != 0);
  // A served scrape puts the listener back into its poll, the case that used to take 2 s.
  REQUIRE(mt::http_get(port, "/metrics").status == 200);

  const auto began = std::chrono::steady_clock::now();
  rt.stop();
  const auto took = std::chrono::steady_clock::now() - began;
  MESSAGE("runtime::stop with metrics on took " << std::chrono::duration<double>(took).count()
                                                << " s");
  CHECK(took < 1s);
  CHECK_FALSE(rt.metrics().is_exposed());
  CHECK(mt::http_get(port, "/metrics").status != 200);
}

namespace {

/// A Prometheus server (Debian's package `prometheus`) for one test: `config_text` is its
/// configuration, its data and its output (prometheus.log) go to `dir`, and its HTTP API
/// listens on a loopback port that was free. Stopped with SIGTERM.
class prometheus_server {
 public:
  prometheus_server(const std::string& binary, const temp_dir& dir, const std::string& config_text)
      : log_(dir.file("prometheus.log")) {
    port_ = mt::busy_port{}.port();
    const auto config = dir.file("prometheus.yml");
    std::ofstream{config} << config_text;
    const std::vector<std::string> args{binary, "--config.file=" + config,
                                        "--storage.tsdb.path=" + dir.file("tsdb"),
                                        "--web.listen-address=127.0.0.1:" + std::to_string(port_)};
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t output;
    posix_spawn_file_actions_init(&output);
    posix_spawn_file_actions_addopen(&output, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&output, 1, 2);
    if (port_ == 0 ||
        posix_spawn(&pid_, binary.c_str(), &output, nullptr, argv.data(), environ) != 0)
      pid_ = -1;
    posix_spawn_file_actions_destroy(&output);
  }
  ~prometheus_server() { stop(); }
  prometheus_server(const prometheus_server&) = delete;
  prometheus_server& operator=(const prometheus_server&) = delete;

  bool started() const { return pid_ > 0; }

  /// Stops the server and waits for it; true when it exited with status 0.
  bool stop() {
    if (pid_ <= 0) return false;
    ::kill(pid_, SIGTERM);
    int status = 0;
    const bool waited = ::waitpid(pid_, &status, 0) == pid_;
    pid_ = -1;
    return waited && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

  std::string log() const {
    std::ifstream in{log_};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  /// The value of the instant query `promql` when it answers exactly one sample; otherwise
  /// nullopt, with what it answered in `why`.
  std::optional<double> value(const std::string& promql, std::string& why) const {
    const auto response = mt::http_get(port_, "/api/v1/query?query=" + url_encoded(promql));
    if (!response.failure.empty() || response.status != 200) {
      why = promql + ": " + (response.failure.empty() ? response.body : response.failure);
      return std::nullopt;
    }
    boost::system::error_code ec;
    const auto answer = boost::json::parse(response.body, ec);
    const auto* data = answer.is_object() ? answer.as_object().if_contains("data") : nullptr;
    const auto* result =
        data != nullptr && data->is_object() ? data->as_object().if_contains("result") : nullptr;
    if (ec || result == nullptr || !result->is_array() || result->as_array().size() != 1) {
      why = promql + ": " + response.body;
      return std::nullopt;
    }
    // [ <time>, "<value>" ]
    const auto& sample = result->as_array()[0].as_object().at("value").as_array();
    return std::stod(std::string{sample.at(1).as_string()});
  }

 private:
  static std::string url_encoded(const std::string& text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (const unsigned char c : text) {
      if (std::isalnum(c) != 0 || c == '_' || c == '-' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
    return out;
  }

  std::string log_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

/// `text` with its one occurrence of `from` replaced by `to`; fails the test if there is none.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, "'" << from << "' is not in the text");
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE(
    "a Prometheus server run with the shipped configuration scrapes the runtime and "
    "answers queries with its exact counts") {
  const std::string binary = prometheus_program("prometheus");
  temp_dir dir;
  auto started = metrics_runtime(dir);
  auto& rt = *started;
  const auto port = rt.metrics().bound_port();
  REQUIRE(port != 0);
  load commands{rt, 2 * window};
  commands.finish();
  INFO("the first unexpected reply: ", commands.first_other());
  REQUIRE(commands.other() == 0);
  const auto accepted = static_cast<double>(commands.accepted());
  const auto rejected = static_cast<double>(commands.rejected());
  REQUIRE(accepted > 0);
  REQUIRE(rejected > 0);

  // examples/monitoring/prometheus.yml as a user runs it, aimed at this runtime's port and
  // scraping every second instead of every five.
  std::ifstream shipped{std::string{STRATA_SOURCE_DIR} + "/examples/monitoring/prometheus.yml"};
  REQUIRE(shipped);
  std::ostringstream text;
  text << shipped.rdbuf();
  const auto server_config =
      replaced(replaced(text.str(), R"(targets: ["127.0.0.1:9464"])",
                        R"(targets: ["127.0.0.1:)" + std::to_string(port) + R"("])"),
               "scrape_interval: 5s", "scrape_interval: 1s");
  prometheus_server server{binary, dir, server_config};
  REQUIRE(server.started());

  // The load is over, so any scrape shows the final counts: wait for the first one.
  const std::string orders_of_job = R"(job="strata",service="strata",aggregate_type="Order")";
  std::string why;
  const bool scraped = wait_until(
      [&] {
        const auto up = server.value(R"(up{job="strata",service="strata"})", why);
        const auto seen =
            server.value("strata_commands_total{" + orders_of_job + R"(,outcome="accepted"})", why);
        return up == 1.0 && seen == accepted;
      },
      60s);
  REQUIRE_MESSAGE(scraped, "the last answer: " << why << "\nthe server's log:\n" << server.log());
  CHECK(server.value("strata_commands_total{" + orders_of_job + R"(,outcome="rejected"})", why) ==
        rejected);
  CHECK(server.value("strata_events_appended_total{" + orders_of_job + "}", why) == accepted);
  CHECK(server.value("strata_commands_in_flight{" + orders_of_job + "}", why) == 0.0);
  CHECK(server.value("strata_command_duration_seconds_count{" + orders_of_job + "}", why) ==
        accepted + rejected);
  CHECK_MESSAGE(server.stop(), server.log());
  rt.stop();
}
