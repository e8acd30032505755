// The RabbitMQ relay: its configuration and message format without a broker, then against the
// test broker (scripts/rabbitmq-test-server.sh, STRATA_TEST_AMQP_URL): every event arrives with
// its headers and in order, a broker restart mid-load loses nothing while commands go on, and
// a relay killed with SIGKILL publishes everything after its restart, duplicates only within
// one batch.

#include <doctest/doctest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "strata/domain/orders/order.hpp"
#include "strata/metrics/metrics.hpp"
#include "strata/persistence/rabbitmq/event_relay.hpp"
#include "strata/persistence/record_json.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/persistence/sqlite_projection_store.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/relay/support.hpp"
#include "tests/runtime/temp_dir.hpp"
#include "tests/support/wait_until.hpp"

using namespace strata;
using strata::testing::test_consumer;

namespace {

runtime_config config_with_relay(const testing::temp_dir& dir, const std::string& url,
                                 const std::string& exchange) {
  runtime_config c;
  c.journal.sqlite.path = dir.file("strata.db");
  c.projections.path = dir.file("strata-read.db");
  c.metrics.enabled = false;
  c.relay.enabled = true;
  c.relay.rabbitmq.url = url;
  c.relay.rabbitmq.exchange = exchange;
  c.relay.batch_events = 50;
  c.relay.backoff_min_ms = 20;
  c.relay.backoff_max_ms = 500;
  c.relay.poll_ms = 5;
  return c;
}

std::vector<persistence::event_record> journal_records(const std::string& path) {
  persistence::sqlite_journal_options o;
  o.path = path;
  persistence::sqlite_journal_factory f{o};
  auto j = f.open();
  REQUIRE(j);
  auto all = (*j)->read_all(global_position{}, 1'000'000);
  REQUIRE(all);
  return std::move(*all);
}

orders::place a_place(int i) {
  return orders::place{
      "customer-" + std::to_string(i % 5),
      "EUR",
      {orders::line{"sku-" + std::to_string(i % 3), 1 + i % 4, money{250, "EUR"}}}};
}

double scraped(runtime& rt, const std::string& name) {
  const auto text = rt.metrics().scrape_text();
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

}  // namespace

TEST_CASE("a malformed relay configuration is refused, naming the key") {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"relay": {"rabbitmq": {"url": "http://127.0.0.1:5672/"}}})", "relay.rabbitmq.url"},
      {R"({"relay": {"rabbitmq": {"url": "amqp://guest:guest@:5672/"}}})", "relay.rabbitmq.url"},
      {R"({"relay": {"rabbitmq": {"url": "amqp://127.0.0.1:99999/"}}})", "relay.rabbitmq.url"},
      {R"({"relay": {"rabbitmq": {"exchange": ""}}})", "relay.rabbitmq.exchange"},
      {R"({"relay": {"rabbitmq": {"exchange": "amq.topic"}}})", "relay.rabbitmq.exchange"},
      {R"({"relay": {"batch_events": 0}})", "relay.batch_events"},
      {R"({"relay": {"backoff_min_ms": 500, "backoff_max_ms": 100}})", "relay.backoff_max_ms"},
      {R"({"relay": {"enabled": "yes"}})", "relay.enabled"},
      {R"({"relay": {"rabbitmq": {"uri": "amqp://127.0.0.1/"}}})", "relay.rabbitmq.uri"},
  };
  for (const auto& entry : cases) {
    const auto& text = entry.first;  // not a structured binding: INFO captures it in a lambda
    const auto& key = entry.second;
    INFO(text);
    auto c = parse_config(text);
    REQUIRE(!c);
    CHECK(c.err().code == errc::invalid_argument);
    CHECK(c.err().message.find(key) != std::string::npos);
  }
  // The URL's password never shows in a message.
  auto bad_port = parse_config(R"({"relay": {"rabbitmq": {"url": "amqp://u:s3cret@h:0/"}}})");
  REQUIRE(!bad_port);
  CHECK(bad_port.err().message.find("s3cret") == std::string::npos);

  // Built in code, the same checks run at start.
  testing::temp_dir dir;
  auto c = config_with_relay(dir, "amqp://127.0.0.1:5672/", "strata.events");
  c.relay.batch_events = 0;
  auto rt = runtime::start(c);
  REQUIRE(!rt);
  CHECK(rt.err().message.find("relay.batch_events must be at least 1") != std::string::npos);
}

TEST_CASE("the relay is off by default and its defaults parse back") {
  runtime_config c;
  CHECK_FALSE(c.relay.enabled);
  CHECK(c.relay.rabbitmq.url == "amqp://guest:guest@127.0.0.1:5672/");
  CHECK(c.relay.rabbitmq.exchange == "strata.events");
  auto back = parse_config(to_json_text(c));
  REQUIRE(back);
  CHECK(back->relay.batch_events == c.relay.batch_events);
  CHECK(back->relay.rabbitmq.url == c.relay.rabbitmq.url);
}

TEST_CASE("AMQP URLs are parsed into host, port, credentials and vhost") {
  auto a = persistence::parse_amqp_url("amqp://guest:guest@127.0.0.1:5672/");
  REQUIRE(a);
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 5672);
  CHECK(a->user == "guest");
  CHECK(a->password == "guest");
  CHECK(a->vhost == "/");
  auto b = persistence::parse_amqp_url("amqp://alice:p%40ss@localhost/shop%2fprod");
  REQUIRE(b);
  CHECK(b->port == 5672);
  CHECK(b->password == "p@ss");
  CHECK(b->vhost == "shop/prod");
  CHECK(!persistence::parse_amqp_url("amqp://localhost/%zz"));
  CHECK(!persistence::parse_amqp_url("amqps://localhost/"));
}

TEST_CASE("a relayed message carries the record's JSON, its routing key and its headers") {
  persistence::event_record r;
  r.position = global_position{42};
  r.event_id = "0190a1b2-0000-7000-8000-000000000001";
  r.event_type = "OrderPlaced";
  r.schema_version = 2;
  r.aggregate_type = "Order";
  r.aggregate_id = "order-7";
  r.stream_version = version{3};
  r.user_id = "alice";
  r.command_id = "cmd-1";
  r.correlation_id = "corr-1";
  r.causation_id = "cause-1";
  r.data = R"({"customer_id":"c-1"})";
  auto m = persistence::relay_message(r, "strata.events");
  REQUIRE(m);
  CHECK(m->exchange == "strata.events");
  CHECK(m->routing_key == "Order.OrderPlaced");
  CHECK(m->body == *persistence::to_json_text(r));
  CHECK(m->content_type == "application/json");
  CHECK(m->message_id == r.event_id);
  CHECK(m->persistent);
  CHECK(testing::int_header(*m, "global_position") == 42);
  CHECK(testing::int_header(*m, "version") == 3);
  CHECK(testing::int_header(*m, "schema_version") == 2);
  CHECK(testing::string_header(*m, "aggregate_type") == "Order");
  CHECK(testing::string_header(*m, "aggregate_id") == "order-7");
  CHECK(testing::string_header(*m, "event_type") == "OrderPlaced");
  CHECK(testing::string_header(*m, "correlation_id") == "corr-1");
  CHECK(testing::string_header(*m, "causation_id") == "cause-1");
  r.data = "not json";
  CHECK(persistence::relay_message(r, "x").err().code == errc::corrupted);
}

TEST_CASE("every committed event reaches the exchange once, in order, with its headers") {
  const auto url = testing::test_amqp_url();
  if (!url) {
    MESSAGE("STRATA_TEST_AMQP_URL is not set (scripts/rabbitmq-test-server.sh); skipped");
    CHECK(!runtime_config{}.relay.enabled);
    return;
  }
  testing::temp_dir dir;
  const auto exchange = testing::unique_name("strata.events.test");
  test_consumer consumer{*url, exchange, "Order.*"};
  REQUIRE(consumer.connect());
  auto started = runtime::start(config_with_relay(dir, *url, exchange));
  REQUIRE(started);
  auto& rt = **started;
  REQUIRE(rt.register_aggregate<orders::order>());
  std::vector<std::future<command_result>> pending;
  for (int i = 0; i < 40; ++i) {
    const auto id = "order-" + std::to_string(i % 8);
    pending.push_back(
        i < 8 ? rt.send<orders::order>(id, a_place(i))
              : rt.send<orders::order>(id, orders::add_item{orders::line{"sku-" + std::to_string(i),
                                                                         1, money{100, "EUR"}}}));
  }
  for (auto& f : pending) REQUIRE(f.get().is_accepted());
  const auto records = journal_records(dir.file("strata.db"));
  REQUIRE(records.size() == 40);
  REQUIRE(consumer.receive_until([&](const auto& got) { return got.size() >= records.size(); }));
  REQUIRE(testing::wait_until([&] {
    auto s = rt.relay_status();
    return s && s->lag_events == 0 && s->confirmed == records.back().position;
  }));

  const auto& got = consumer.received();
  REQUIRE(got.size() == records.size());
  std::int64_t previous = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const auto& m = got[i];
    const auto& r = records[i];
    INFO("message ", i);
    CHECK(testing::int_header(m, "global_position") > previous);  // global, so per stream too
    previous = testing::int_header(m, "global_position");
    CHECK(testing::int_header(m, "global_position") == static_cast<std::int64_t>(r.position.value));
    CHECK(m.routing_key == "Order." + r.event_type);
    CHECK(m.message_id == r.event_id);
    CHECK(m.content_type == "application/json");
    CHECK(m.persistent);
    CHECK(testing::string_header(m, "aggregate_type") == r.aggregate_type);
    CHECK(testing::string_header(m, "aggregate_id") == r.aggregate_id);
    CHECK(testing::int_header(m, "version") == static_cast<std::int64_t>(r.stream_version.value));
    CHECK(testing::string_header(m, "event_type") == r.event_type);
    CHECK(testing::int_header(m, "schema_version") == r.schema_version);
    CHECK(testing::string_header(m, "correlation_id") == r.correlation_id);
    CHECK(testing::string_header(m, "causation_id") == r.causation_id);
    CHECK(m.body == *persistence::to_json_text(r));
  }
  CHECK(scraped(rt, "strata_relay_published_total") == 40);
  CHECK(scraped(rt, "strata_relay_connected") == 1);
  CHECK(scraped(rt, "strata_relay_lag_events") == 0);
  CHECK(scraped(rt, "strata_relay_position") == static_cast<double>(records.back().position.value));

  // The checkpoint is a row of the read-model store's checkpoint table, naming the journal.
  rt.stop();
  persistence::sqlite_projection_store_options so;
  so.path = dir.file("strata-read.db");
  persistence::sqlite_projection_store_factory stores{so};
  auto store = stores.open();
  REQUIRE(store);
  auto cp = (*store)->load_checkpoint(persistence::relay_checkpoint_name);
  REQUIRE(cp);
  CHECK(cp->position == records.back().position);
  CHECK(!cp->journal_id.empty());
}

TEST_CASE("a broker stopped and restarted mid-load loses nothing, and commands go on meanwhile") {
  const auto url = testing::test_amqp_url();
  const char* ctl = std::getenv("STRATA_TEST_AMQP_CTL");
  if (!url || ctl == nullptr) {
    MESSAGE("STRATA_TEST_AMQP_URL or STRATA_TEST_AMQP_CTL is not set; skipped");
    CHECK(!runtime_config{}.relay.enabled);
    return;
  }
  testing::temp_dir dir;
  const auto exchange = testing::unique_name("strata.events.test");
  test_consumer consumer{*url, exchange};
  REQUIRE(consumer.connect());
  auto started = runtime::start(config_with_relay(dir, *url, exchange));
  REQUIRE(started);
  auto& rt = **started;
  REQUIRE(rt.register_aggregate<orders::order>());

  std::atomic<int> accepted{0};
  std::atomic<int> refused{0};
  std::atomic<bool> done{false};
  std::thread load{[&] {
    for (int i = 0; !done; ++i) {
      auto r = rt.send<orders::order>("order-" + std::to_string(i), a_place(i)).get();
      (r.is_accepted() ? accepted : refused)++;
    }
  }};
  REQUIRE(consumer.receive_until([](const auto& got) { return got.size() >= 20; }));

  REQUIRE(std::system((std::string{ctl} + " stop").c_str()) == 0);
  REQUIRE(testing::wait_until([&] { return !rt.relay_status()->connected; }));
  // With the broker down, commands are still accepted.
  const int before = accepted;
  REQUIRE(testing::wait_until([&] { return accepted >= before + 50; }));
  CHECK(!rt.relay_status()->connected);
  REQUIRE(std::system((std::string{ctl} + " start").c_str()) == 0);
  const int after_restart = accepted;
  REQUIRE(testing::wait_until([&] { return accepted >= after_restart + 20; }));
  done = true;
  load.join();
  CHECK(refused == 0);

  const auto records = journal_records(dir.file("strata.db"));
  const auto last = static_cast<std::int64_t>(records.back().position.value);
  CHECK(records.size() == static_cast<std::size_t>(accepted));
  const bool all = consumer.receive_until(
      [&](const auto& got) { return testing::has_all(got, last); }, std::chrono::seconds(60));
  if (!all) {
    const auto counts = testing::position_counts(consumer.received());
    std::string missing;
    for (std::int64_t p = 1; p <= last; ++p)
      if (counts.find(p) == counts.end()) missing += " " + std::to_string(p);
    const auto s = rt.relay_status();
    INFO("missing:", missing.substr(0, 400), "; relay confirmed ", s->confirmed.value, ", lag ",
         s->lag_events, ", connected ", s->connected);
    CHECK(all);
  }
  REQUIRE(all);
  REQUIRE(testing::wait_until([&] { return rt.relay_status()->lag_events == 0; }));
  CHECK(scraped(rt, "strata_relay_reconnects_total") >= 1);
  CHECK(scraped(rt, "strata_relay_errors_total") >= 1);
  CHECK(scraped(rt, "strata_relay_connected") == 1);
  // Duplicates only from the batch the relay had unconfirmed when the broker went away, plus
  // what the consumer had received but whose acks the stopping broker did not take (at most
  // its prefetch of 100).
  int duplicates = 0;
  for (const auto& [position, count] : testing::position_counts(consumer.received()))
    duplicates += count - 1;
  CHECK(duplicates <= static_cast<int>(rt.config().relay.batch_events) + 100);
}

namespace {

// Runs the relay host (tests/relay/relay_host.cpp); its stdout is read through `out`.
pid_t spawn_host(const std::vector<std::string>& args, FILE** out) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  *out = fdopen(fds[0], "r");
  return pid;
}

}  // namespace

TEST_CASE("a relay killed with SIGKILL mid-stream publishes everything after a restart") {
  const auto url = testing::test_amqp_url();
  if (!url) {
    MESSAGE("STRATA_TEST_AMQP_URL is not set (scripts/rabbitmq-test-server.sh); skipped");
    CHECK(!runtime_config{}.relay.enabled);
    return;
  }
  testing::temp_dir dir;
  const auto exchange = testing::unique_name("strata.events.test");
  test_consumer consumer{*url, exchange};
  REQUIRE(consumer.connect());
  const std::string batch = "20";
  const std::vector<std::string> base{
      STRATA_RELAY_HOST, dir.file("strata.db"), dir.file("strata-read.db"), *url, exchange, batch};

  auto first_args = base;
  first_args.push_back("2000");
  FILE* out = nullptr;
  const pid_t first = spawn_host(first_args, &out);
  // Killed once the broker has seen part of the stream, while commands still flow.
  const bool mid_stream = consumer.receive_until([](const auto& got) { return got.size() >= 300; });
  kill(first, SIGKILL);
  int status = 0;
  REQUIRE(waitpid(first, &status, 0) == first);
  std::fclose(out);
  REQUIRE(mid_stream);
  CHECK(WIFSIGNALED(status));

  auto second_args = base;
  second_args.push_back("0");
  const pid_t second = spawn_host(second_args, &out);
  char line[256];
  std::string last_line;
  while (std::fgets(line, sizeof line, out) != nullptr) last_line = line;
  std::fclose(out);
  REQUIRE(waitpid(second, &status, 0) == second);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(last_line.rfind("caught up ", 0) == 0);

  const auto records = journal_records(dir.file("strata.db"));
  REQUIRE(!records.empty());
  CHECK(records.size() < 4000);  // the first host did not finish: the kill was mid-stream
  const auto last = static_cast<std::int64_t>(records.back().position.value);
  REQUIRE(consumer.receive_until([&](const auto& got) { return testing::has_all(got, last); }));
  std::set<std::string> ids;
  for (const auto& m : consumer.received()) ids.insert(m.message_id);
  CHECK(ids.size() == records.size());
  for (const auto& r : records) CHECK(ids.count(r.event_id) == 1);
  // Duplicates only within the unconfirmed window: one batch, published again once.
  int duplicates = 0;
  for (const auto& [position, count] : testing::position_counts(consumer.received())) {
    CHECK(count <= 2);
    duplicates += count - 1;
  }
  CHECK(duplicates <= std::stoi(batch));
}

#ifdef STRATA_RELAY_CONSUMER
namespace {

// Runs the example consumer with `args` and returns its exit status and its output.
std::pair<int, std::string> run_consumer(const std::string& args) {
  const std::string command = std::string{STRATA_RELAY_CONSUMER} + " " + args;
  FILE* out = popen(command.c_str(), "r");
  REQUIRE(out != nullptr);
  std::string text;
  char line[256];
  while (std::fgets(line, sizeof line, out) != nullptr) text += line;
  return {pclose(out), text};
}

}  // namespace

TEST_CASE("the example consumer keeps order totals from the relay, each message once") {
  const auto url = testing::test_amqp_url();
  if (!url) {
    MESSAGE("STRATA_TEST_AMQP_URL is not set (scripts/rabbitmq-test-server.sh); skipped");
    CHECK(!runtime_config{}.relay.enabled);
    return;
  }
  testing::temp_dir dir;
  const auto exchange = testing::unique_name("strata.events.test");
  const auto queue = testing::unique_name("order-totals");
  const std::string db = dir.file("order-totals.db");
  const std::string args = "--url '" + *url + "' --exchange " + exchange + " --queue " + queue +
                           " --pattern 'Order.*' --db " + db;
  // Its first run declares its queue (nothing to read yet) and exits once idle.
  auto setup = run_consumer(args + " --until-idle 0");
  REQUIRE(setup.first == 0);
  CHECK(setup.second.find("applied 0, duplicates 0") != std::string::npos);

  auto started = runtime::start(config_with_relay(dir, *url, exchange));
  REQUIRE(started);
  auto& rt = **started;
  REQUIRE(rt.register_aggregate<orders::order>());
  for (int i = 0; i < 5; ++i)
    REQUIRE(rt.send<orders::order>("order-" + std::to_string(i), a_place(i)).get().is_accepted());
  REQUIRE(rt.send<orders::order>("order-0",
                                 orders::add_item{orders::line{"extra", 2, money{100, "EUR"}}})
              .get()
              .is_accepted());
  REQUIRE(rt.send<orders::order>("order-1", orders::confirm{}).get().is_accepted());
  const auto records = journal_records(dir.file("strata.db"));
  REQUIRE(testing::wait_until([&] {
    auto s = rt.relay_status();
    return s && s->confirmed == records.back().position;
  }));

  auto first = run_consumer(args + " --until-idle 1000");
  REQUIRE(first.first == 0);
  CHECK(first.second.find("applied 7, duplicates 0") != std::string::npos);

  // The same message again (as after a relay crash): the consumer counts it once.
  {
    auto address = persistence::parse_amqp_url(*url);
    REQUIRE(address);
    persistence::amqp_options o;
    o.address = *address;
    auto c = persistence::amqp_connection::open(o);
    REQUIRE(c);
    REQUIRE((*c)->enable_confirms());
    auto again = persistence::relay_message(records.front(), exchange);
    REQUIRE(again);
    REQUIRE((*c)->publish(*again));
    REQUIRE((*c)->wait_for_confirms(std::chrono::seconds(10)));
  }
  auto second = run_consumer(args + " --max-messages 1");
  REQUIRE(second.first == 0);
  CHECK(second.second.find("applied 0, duplicates 1") != std::string::npos);

  SQLite::Database read{db};
  const auto total_of = [&](const std::string& order) {
    SQLite::Statement q{read,
                        "SELECT total_minor, status FROM order_total_view WHERE order_id = ?"};
    q.bind(1, order);
    REQUIRE(q.executeStep());
    return std::make_pair(q.getColumn(0).getInt64(), q.getColumn(1).getString());
  };
  CHECK(total_of("order-0") == std::make_pair(std::int64_t{250 + 200}, std::string{"open"}));
  CHECK(total_of("order-1") == std::make_pair(std::int64_t{2 * 250}, std::string{"confirmed"}));
  CHECK(total_of("order-3") == std::make_pair(std::int64_t{4 * 250}, std::string{"open"}));

  // Its queue is its own: deleted here, as a test leaves the broker as it found it.
  auto address = persistence::parse_amqp_url(*url);
  persistence::amqp_options o;
  o.address = *address;
  auto c = persistence::amqp_connection::open(o);
  REQUIRE(c);
  CHECK((*c)->delete_queue(queue));
}
#endif
