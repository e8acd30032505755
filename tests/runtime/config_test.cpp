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
  CHECK(c->metrics.port == 9464);
  CHECK(c->aggregates.snapshot_every == 100);
  CHECK(c->scheduler_threads == 2);
}

TEST_CASE("given keys override defaults and the rest keep theirs") {
  auto c = parse_config(
      R"({"journal":{"backend":"memory","sqlite":{"synchronous":"normal"}},"commands":{"timeout_ms":250}})");
  REQUIRE(c);
  CHECK(c->journal.backend == journal_backend::memory);
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
    CAPTURE(text);
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
    CAPTURE(text);
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
