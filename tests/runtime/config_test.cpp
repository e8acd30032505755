#include <doctest/doctest.h>

#include <fstream>

#include "runtime/config.hpp"
#include "tests/runtime/temp_dir.hpp"

using namespace strata;

TEST_CASE("an empty configuration gives the working defaults") {
  auto c = parse_config("{}");
  REQUIRE(c);
  CHECK(c->journal.backend == "sqlite");
  CHECK(c->journal.sqlite.path == "strata.db");
  CHECK(c->journal.sqlite.synchronous == "full");
  CHECK(c->metrics.bind_address == "127.0.0.1");
  CHECK(c->metrics.port == 9464);
  CHECK(c->aggregates.snapshot_every == 100);
  CHECK(c->scheduler_threads == 2);
}

TEST_CASE("given keys override defaults and the rest keep theirs") {
  auto c = parse_config(
      R"({"journal":{"backend":"memory","sqlite":{"synchronous":"normal"}},"commands":{"timeout_ms":250}})");
  REQUIRE(c);
  CHECK(c->journal.backend == "memory");
  CHECK(c->journal.sqlite.synchronous == "normal");
  CHECK(c->journal.sqlite.path == "strata.db");
  CHECK(c->commands.timeout_ms == 250);
}

TEST_CASE("a configuration round-trips through its JSON form") {
  runtime_config c;
  c.journal.backend = "postgres";
  c.journal.postgres.conninfo = "host=127.0.0.1 port=5433";
  c.metrics.enabled = false;
  auto back = parse_config(to_json_text(c));
  REQUIRE(back);
  CHECK(back->journal.backend == "postgres");
  CHECK(back->journal.postgres.conninfo == "host=127.0.0.1 port=5433");
  CHECK_FALSE(back->metrics.enabled);
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
