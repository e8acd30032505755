#include <doctest/doctest.h>

#include <fstream>
#include <utility>

#include "strata/runtime/config.hpp"
#include "tests/runtime/temp_dir.hpp"

using namespace strata;

TEST_CASE("an empty configuration gives the working defaults") {
  auto c = parse_config("{}");
  REQUIRE(c);
  CHECK(c->journal.backend == journal_backend::sqlite);
  CHECK(c->journal.sqlite.path == "strata.db");
  CHECK(c->journal.sqlite.synchronous == sqlite_synchronous::full);
  CHECK(c->projections.synchronous == sqlite_synchronous::normal);
  CHECK(c->projections.on_poison == persistence::poison_policy::park_and_continue);
  CHECK(c->metrics.bind_address == "127.0.0.1");
  CHECK(c->metrics.enabled);
  CHECK(c->metrics.port == 0);  // any free port: runtimes share a host
  CHECK(c->aggregates.snapshot_every == 100);
  CHECK(c->scheduler_threads == 2);
  CHECK_FALSE(c->scheduler_moderate_polling);  // an idle worker sleeps until work comes
}

TEST_CASE("CAF's moderate polling of idle workers is turned back on by its key") {
  auto c = parse_config(R"({"scheduler_moderate_polling":true})");
  REQUIRE(c);
  CHECK(c->scheduler_moderate_polling);
  auto refused = parse_config(R"({"scheduler_moderate_polling":"yes"})");
  REQUIRE_FALSE(refused);
  CHECK(refused.err().message.find("scheduler_moderate_polling") != std::string::npos);
}

TEST_CASE("given keys override defaults and the rest keep theirs") {
  auto c = parse_config(
      R"({"journal":{"backend":"memory","sqlite":{"synchronous":"normal"},"max_wait_us":1000,)"
      R"("wait_after_events":16},"commands":{"timeout_ms":250}})");
  REQUIRE(c);
  CHECK(c->journal.backend == journal_backend::memory);
  CHECK(c->journal.max_wait_us == 1000);
  CHECK(c->journal.wait_after_events == 16);
  CHECK(c->journal.max_batch_events == 1000);
  CHECK(c->journal.sqlite.synchronous == sqlite_synchronous::normal);
  CHECK(c->journal.sqlite.path == "strata.db");
  CHECK(c->commands.timeout_ms == 250);
}

TEST_CASE("a configuration round-trips through its JSON form") {
  runtime_config c;
  c.journal.backend = journal_backend::postgres;
  c.journal.postgres.conninfo = "host=127.0.0.1 port=5433";
  c.journal.sqlite.synchronous = sqlite_synchronous::normal;
  c.projections.synchronous = sqlite_synchronous::full;
  c.projections.on_poison = persistence::poison_policy::stop;
  c.metrics.enabled = false;
  const auto text = to_json_text(c);
  CHECK(text.find(R"("backend":"postgres")") != std::string::npos);  // names, not numbers
  CHECK(text.find(R"("on_poison":"stop")") != std::string::npos);
  auto back = parse_config(text);
  REQUIRE(back);
  CHECK(back->journal.backend == journal_backend::postgres);
  CHECK(back->journal.postgres.conninfo == "host=127.0.0.1 port=5433");
  CHECK(back->journal.sqlite.synchronous == sqlite_synchronous::normal);
  CHECK(back->projections.synchronous == sqlite_synchronous::full);
  CHECK(back->projections.on_poison == persistence::poison_policy::stop);
  CHECK_FALSE(back->metrics.enabled);
  CHECK(to_json_text(*back) == text);
}

TEST_CASE("every value of an enumerated setting is refused naming its key and the accepted ones") {
  struct bad_value {
    const char* text;
    const char* key;
    const char* accepted;
  };
  const bad_value cases[] = {
      {R"({"journal":{"backend":"mongodb"}})", "journal.backend",
       R"("sqlite", "postgres" or "memory")"},
      {R"({"journal":{"backend":1}})", "journal.backend", R"("sqlite", "postgres" or "memory")"},
      {R"({"journal":{"sqlite":{"synchronous":"off"}}})", "journal.sqlite.synchronous",
       R"("full" or "normal")"},
      {R"({"projections":{"synchronous":"FULL"}})", "projections.synchronous",
       R"("full" or "normal")"},
      {R"({"projections":{"on_poison":"ignore"}})", "projections.on_poison",
       R"("park_and_continue" or "stop")"},
  };
  for (const auto& [text, key, accepted] : cases) {
    const std::string input = text;
    CAPTURE(input);
    auto c = parse_config(text);
    REQUIRE_FALSE(c);
    CHECK(c.err().code == errc::invalid_argument);
    CHECK(c.err().message.find(key) != std::string::npos);
    CHECK(c.err().message.find(accepted) != std::string::npos);
  }
}

TEST_CASE("a configuration built in code with an enum out of range is refused naming the key") {
  runtime_config c;
  CHECK(validate(c));
  c.journal.backend = static_cast<journal_backend>(9);
  auto v = validate(c);
  REQUIRE_FALSE(v);
  CHECK(v.err().code == errc::invalid_argument);
  CHECK(v.err().message.find("journal.backend") != std::string::npos);
}

TEST_CASE("a misspelt key is an error naming its path, not silently ignored") {
  auto c = parse_config(R"({"journal":{"sqlite":{"pth":"x.db"}}})");
  REQUIRE_FALSE(c);
  CHECK(c.err().code == errc::invalid_argument);
  CHECK(c.err().message.find("journal.sqlite.pth") != std::string::npos);
}

TEST_CASE("malformed or ill-typed configurations are clear errors") {
  auto bad_json = parse_config(R"({"journal":)");
  REQUIRE_FALSE(bad_json);
  CHECK(bad_json.err().code == errc::invalid_argument);
  auto wrong_type = parse_config(R"({"commands":{"timeout_ms":"soon"}})");
  REQUIRE_FALSE(wrong_type);
  CHECK(wrong_type.err().code == errc::invalid_argument);
  auto backend = parse_config(R"({"journal":{"backend":"mongodb"}})");
  REQUIRE_FALSE(backend);
  CHECK(backend.err().message.find("mongodb") != std::string::npos);
  auto mode = parse_config(R"({"journal":{"sqlite":{"synchronous":"off"}}})");
  REQUIRE_FALSE(mode);
  CHECK(mode.err().message.find("synchronous") != std::string::npos);
  CHECK_FALSE(parse_config("[1,2]"));
}

TEST_CASE("a zero count, bound or timeout is an error naming the setting") {
  const std::pair<const char*, const char*> zeroes[] = {
      {R"({"commands":{"timeout_ms":0}})", "commands.timeout_ms"},
      {R"({"commands":{"max_in_flight_per_type":0}})", "commands.max_in_flight_per_type"},
      {R"({"commands":{"max_queued_per_aggregate":0}})", "commands.max_queued_per_aggregate"},
      {R"({"journal":{"reader_threads":0}})", "journal.reader_threads"},
      {R"({"aggregates":{"max_live_per_type":0}})", "aggregates.max_live_per_type"},
      {R"({"aggregates":{"crash_window_ms":0}})", "aggregates.crash_window_ms"},
      {R"({"projections":{"batch_events":0}})", "projections.batch_events"},
      {R"({"scheduler_threads":0})", "scheduler_threads"},
  };
  for (const auto& [text, name] : zeroes) {
    const std::string input = text;
    CAPTURE(input);
    auto c = parse_config(text);
    REQUIRE_FALSE(c);
    CHECK(c.err().code == errc::invalid_argument);
    CHECK(c.err().message.find(name) != std::string::npos);
  }
  // Where 0 means "off", it stays allowed.
  CHECK(parse_config(R"({"aggregates":{"idle_timeout_ms":0,"snapshot_every":0}})"));
  auto sync = parse_config(R"({"projections":{"synchronous":"sometimes"}})");
  REQUIRE_FALSE(sync);
  CHECK(sync.err().message.find("projections.synchronous") != std::string::npos);
}

TEST_CASE("a configuration file is read, and a missing one is not_found") {
  strata::testing::temp_dir dir;
  {
    std::ofstream out{dir.file("strata.json")};
    out << R"({"journal":{"sqlite":{"path":"orders.db"}}})";
  }
  auto c = load_config(dir.file("strata.json"));
  REQUIRE(c);
  CHECK(c->journal.sqlite.path == "orders.db");
  auto missing = load_config(dir.file("nope.json"));
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == errc::not_found);
}

TEST_CASE("log.level is one of four names, warning unless given, and any other text is refused") {
  auto d = parse_config("{}");
  REQUIRE(d);
  CHECK(d->log.level == log_level::warning);
  auto c = parse_config(R"({"log":{"level":"debug"}})");
  REQUIRE(c);
  CHECK(c->log.level == log_level::debug);
  auto back = parse_config(to_json_text(*c));
  REQUIRE(back);
  CHECK(back->log.level == log_level::debug);
  for (const char* bad : {R"({"log":{"level":"loud"}})", R"({"log":{"level":3}})"}) {
    auto r = parse_config(bad);
    REQUIRE_FALSE(r);
    CHECK(r.err().code == errc::invalid_argument);
    CHECK(r.err().message.find("log.level must be") != std::string::npos);
  }
}

namespace {

// The message of the error parsing `text` gives; fails the test when it parses.
std::string refusal_of(const std::string& text) {
  auto c = parse_config(text);
  REQUIRE_FALSE(c);
  CHECK(c.err().code == errc::invalid_argument);
  return c.err().message;
}

// No message may show a library's internals (source locations, category names).
void check_plain(const std::string& message) {
  CHECK(message.find("boost") == std::string::npos);
  CHECK(message.find(".hpp") == std::string::npos);
  CHECK(message.find(" at /") == std::string::npos);
}

}  // namespace

TEST_CASE("a value of the wrong kind names its key, what the key takes and what was found") {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"commands":{"timeout_ms":"fast"}})",
       R"(commands.timeout_ms must be a non-negative integer, found "fast" (a string))"},
      {R"({"scheduler_threads":true})",
       "scheduler_threads must be a non-negative integer, found true (a boolean)"},
      {R"({"journal":{"sqlite":{"path":3}}})",
       "journal.sqlite.path must be a string, found 3 (a number)"},
      {R"({"metrics":{"enabled":"yes"}})",
       R"(metrics.enabled must be true or false, found "yes" (a string))"},
      {R"({"metrics":{"enabled":null}})", "metrics.enabled must be true or false, found null"},
      {R"({"journal":3})", "journal must be an object, found 3 (a number)"},
      {R"({"journal":{"sqlite":[1,2]}})",
       "journal.sqlite must be an object, found [1,2] (an array)"},
      {R"({"log":{"level":{"x":1}}})",
       R"(log.level must be "debug", "info", "warning" or "error", found {"x":1} (an object))"},
      {R"({"journal":{"backend":"mongodb"}})",
       R"(journal.backend must be "sqlite", "postgres" or "memory", found "mongodb" (a string))"},
  };
  for (const auto& [text, expected] : cases) {
    const std::string input = text;
    CAPTURE(input);
    const auto message = refusal_of(text);
    CHECK(message == expected);
    check_plain(message);
  }
}

TEST_CASE("a number that is negative, fractional or out of range is refused with the range") {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"commands":{"timeout_ms":-1}})",
       "commands.timeout_ms must be a non-negative integer, found -1 (a number)"},
      {R"({"commands":{"timeout_ms":1.5}})",
       "commands.timeout_ms must be a non-negative integer, found 1.5 (a number)"},
      {R"({"metrics":{"port":70000}})",
       "metrics.port must be an integer from 0 to 65535, found 70000 (a number)"},
      {R"({"journal":{"max_batch_events":5000000000}})",
       "journal.max_batch_events must be an integer from 0 to 4294967295, found 5000000000 (a "
       "number)"},
  };
  for (const auto& [text, expected] : cases) {
    const std::string input = text;
    CAPTURE(input);
    CHECK(refusal_of(text) == expected);
  }
  // An integer written with a fraction of zero is still that integer.
  auto whole = parse_config(R"({"commands":{"timeout_ms":250.0}})");
  REQUIRE(whole);
  CHECK(whole->commands.timeout_ms == 250);
  auto top = parse_config(R"({"metrics":{"port":65535}})");
  REQUIRE(top);
  CHECK(top->metrics.port == 65535);
}

TEST_CASE("a JSON syntax error gives the line, the column and what was expected") {
  const std::pair<const char*, const char*> cases[] = {
      // A missing comma between two keys, on the third line.
      {"{\n  \"journal\": {\"backend\": \"memory\"}\n  \"commands\": {}\n}",
       "configuration is not valid JSON at line 3, column 3: expected ',' or '}', found '\"'"},
      {R"({"journal":)",
       "configuration is not valid JSON at line 1, column 12: expected a value, found the end of "
       "the text"},
      {R"({"journal" {}})",
       "configuration is not valid JSON at line 1, column 12: expected ':', found '{'"},
      {R"({"metrics":{"enabled":tru}})",
       "configuration is not valid JSON at line 1, column 23: expected a value, found 'tru'"},
      {R"({"scheduler_threads":2,})",
       "configuration is not valid JSON at line 1, column 24: expected a key in double quotes, "
       "found '}'"},
      {R"({} x)",
       "configuration is not valid JSON at line 1, column 4: expected the end of the text, found "
       "'x'"},
      {"{\"journal\":{\"sqlite\":{\"path\":\"a\\qb\"}}}",
       "configuration is not valid JSON at line 1, column 33: a string holds an invalid escape or "
       "a control character"},
  };
  for (const auto& [text, expected] : cases) {
    const std::string input = text;
    CAPTURE(input);
    const auto message = refusal_of(text);
    CHECK(message == expected);
    check_plain(message);
  }
}

TEST_CASE("a configuration that is not an object says what it found") {
  CHECK(refusal_of("[1,2]") == "configuration must be a JSON object, found [1,2] (an array)");
  CHECK(refusal_of("7") == "configuration must be a JSON object, found 7 (a number)");
}

TEST_CASE("a file's errors are prefixed with its path") {
  strata::testing::temp_dir dir;
  {
    std::ofstream out{dir.file("strata.json")};
    out << "{\n  \"commands\": {\"timeout_ms\": \"fast\"}\n}\n";
  }
  auto c = load_config(dir.file("strata.json"));
  REQUIRE_FALSE(c);
  CHECK(c.err().message ==
        dir.file("strata.json") +
            R"(: commands.timeout_ms must be a non-negative integer, found "fast" (a string))");
}

TEST_CASE("the cluster keys default to a disabled node on loopback with consistent timings") {
  auto c = parse_config("{}");
  REQUIRE(c);
  CHECK_FALSE(c->cluster.enabled);
  CHECK(c->cluster.host == "127.0.0.1");
  CHECK(c->cluster.port == 0);
  CHECK(c->cluster.shard_count == 64);
  CHECK(c->cluster.heartbeat_interval_ms < c->cluster.suspect_timeout_ms);
  CHECK(c->cluster.suspect_timeout_ms < c->cluster.dead_timeout_ms);
  CHECK(c->cluster.lease_duration_ms >= 2 * c->cluster.heartbeat_interval_ms);
}

TEST_CASE("an enabled cluster node on the PostgreSQL journal is read with all its keys") {
  auto c = parse_config(R"({"journal":{"backend":"postgres"},
    "cluster":{"enabled":true,"node_id":"node-1","host":"127.0.0.1","port":4711,
               "shard_count":128,"heartbeat_interval_ms":200,"suspect_timeout_ms":600,
               "dead_timeout_ms":2000,"lease_duration_ms":1000,
               "tls":{"certificate":"/etc/strata/node-1.pem","key":"/etc/strata/node-1.key",
                      "ca":"/etc/strata/cluster-ca.pem"}}})");
  REQUIRE_MESSAGE(c, to_string(c.err()));
  CHECK(c->cluster.enabled);
  CHECK(c->cluster.tls.enabled);
  CHECK(c->cluster.tls.certificate == "/etc/strata/node-1.pem");
  CHECK(c->cluster.tls.key == "/etc/strata/node-1.key");
  CHECK(c->cluster.tls.ca == "/etc/strata/cluster-ca.pem");
  CHECK(c->cluster.tls.passphrase.empty());
  CHECK(c->cluster.node_id == "node-1");
  CHECK(c->cluster.port == 4711);
  CHECK(c->cluster.shard_count == 128);
  CHECK(c->cluster.heartbeat_interval_ms == 200);
  CHECK(c->cluster.suspect_timeout_ms == 600);
  CHECK(c->cluster.dead_timeout_ms == 2000);
  CHECK(c->cluster.lease_duration_ms == 1000);
  auto back = parse_config(to_json_text(*c));
  REQUIRE(back);
  CHECK(back->cluster.node_id == "node-1");
  CHECK(back->cluster.tls.ca == "/etc/strata/cluster-ca.pem");
}

TEST_CASE("a cluster node talks TLS unless plaintext is configured explicitly") {
  CHECK(parse_config("{}")->cluster.tls.enabled);
  auto missing = parse_config(
      R"({"journal":{"backend":"postgres"},"cluster":{"enabled":true,"node_id":"a"}})");
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == errc::invalid_argument);
  CHECK(missing.err().message.rfind("cluster.tls.certificate must name a PEM file when "
                                    "cluster.tls.enabled is true",
                                    0) == 0);
  CHECK(missing.err().message.find("set cluster.tls.enabled to false for plaintext") !=
        std::string::npos);
  auto no_ca = parse_config(R"({"journal":{"backend":"postgres"},"cluster":{"enabled":true,
    "node_id":"a","tls":{"certificate":"n.pem","key":"n.key"}}})");
  REQUIRE_FALSE(no_ca);
  CHECK(no_ca.err().message.rfind("cluster.tls.ca must name a PEM file", 0) == 0);
  auto plain = parse_config(R"({"journal":{"backend":"postgres"},"cluster":{"enabled":true,
    "node_id":"a","tls":{"enabled":false}}})");
  REQUIRE_MESSAGE(plain, to_string(plain.err()));
  CHECK_FALSE(plain->cluster.tls.enabled);
  CHECK(check_cluster_files(plain->cluster));  // nothing to read
}

TEST_CASE("the TLS files of a cluster node must be readable, and an error names the key") {
  strata::testing::temp_dir dir;
  cluster_config c;
  c.enabled = true;
  c.tls.certificate = dir.file("node.pem");
  c.tls.key = dir.file("node.key");
  c.tls.ca = dir.file("ca.pem");
  for (const auto& path : {c.tls.certificate, c.tls.ca}) std::ofstream{path} << "PEM";
  auto missing = check_cluster_files(c);
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == errc::invalid_argument);
  CHECK(missing.err().message ==
        "cluster.tls.key: cannot read " + c.tls.key + ": No such file or directory");
  std::ofstream{c.tls.key};  // empty
  auto empty = check_cluster_files(c);
  REQUIRE_FALSE(empty);
  CHECK(empty.err().message == "cluster.tls.key: cannot read " + c.tls.key + ": the file is empty");
  std::ofstream{c.tls.key} << "PEM";
  CHECK(check_cluster_files(c));
}

TEST_CASE("cluster settings that cannot work are refused naming the key") {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"cluster":{"shard_count":0}})", "cluster.shard_count must be at least 1"},
      {R"({"cluster":{"shard_count":70000}})",
       "cluster.shard_count must be at most 65536, found 70000"},
      {R"({"cluster":{"heartbeat_interval_ms":0}})",
       "cluster.heartbeat_interval_ms must be at least 1"},
      {R"({"cluster":{"suspect_timeout_ms":1000}})",
       "cluster.suspect_timeout_ms must be greater than cluster.heartbeat_interval_ms (1000), "
       "found 1000"},
      {R"({"cluster":{"dead_timeout_ms":2000}})",
       "cluster.dead_timeout_ms must be greater than cluster.suspect_timeout_ms (3000), found "
       "2000"},
      {R"({"cluster":{"lease_duration_ms":1500}})",
       "cluster.lease_duration_ms must be at least twice cluster.heartbeat_interval_ms (2000), "
       "found 1500"},
      {R"({"cluster":{"node_id":"node 1"}})",
       "cluster.node_id must be 1 to 64 characters of [A-Za-z0-9._-], found \"node 1\""},
      {R"({"journal":{"backend":"postgres"},"cluster":{"enabled":true}})",
       "cluster.node_id must be set when cluster.enabled is true"},
      {R"({"journal":{"backend":"postgres"},"cluster":{"enabled":true,"node_id":"a","host":""}})",
       "cluster.host must not be empty when cluster.enabled is true"},
      {R"({"cluster":{"enabled":true,"node_id":"a"}})",
       "cluster.enabled needs journal.backend \"postgres\" (membership and leases live in the "
       "journal's database), found \"sqlite\""},
      {R"({"cluster":{"port":70000}})",
       "cluster.port must be an integer from 0 to 65535, found 70000 (a number)"},
      {R"({"cluster":{"shards":8}})", "unknown configuration key 'cluster.shards'"},
  };
  for (const auto& [text, expected] : cases) {
    const std::string input = text;
    CAPTURE(input);
    const auto message = refusal_of(text);
    CHECK(message == expected);
    check_plain(message);
  }
}
