// Malformed, oversized and hostile input at the runtime's public API and in the rows it
// reads back: each is refused with the error code the API documents and a message naming
// what was wrong, and what the journal already holds is left as it was.

#include <doctest/doctest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "strata/domain/kernel/input.hpp"
#include "strata/domain/orders/order.hpp"
#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/runtime/stepping_clock.hpp"
#include "tests/runtime/temp_dir.hpp"
#include "tests/support/wait_until.hpp"

using namespace strata;
using strata::testing::wait;

namespace {

orders::line line(std::string sku, std::int64_t quantity, std::int64_t price) {
  return orders::line{std::move(sku), quantity, money{price, "EUR"}};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// A runtime on an SQLite journal with Order registered and one reference order, "ref-1",
/// whose two events every test reads back unchanged at the end.
struct hostile_fixture {
  strata::testing::temp_dir dir;
  runtime_config config;
  std::unique_ptr<runtime> rt;
  std::vector<std::string> reference;  // the reference order's stored bodies

  hostile_fixture() {
    config.journal.sqlite.path = dir.file("strata.db");
    config.projections.path = dir.file("strata-read.db");
    config.metrics.enabled = false;
    config.aggregates.snapshot_every = 0;
    start();
    REQUIRE(
        wait(rt->send<orders::order>("ref-1", orders::place{"c-ref", "EUR", {}})).is_accepted());
    auto added = wait(rt->send<orders::order>("ref-1", orders::add_item{line("sku-1", 2, 150)}));
    REQUIRE(added.is_accepted());
    reference = bodies("ref-1");
    REQUIRE(reference.size() == 2);
  }
  void start() {
    auto r = runtime::start(config);
    REQUIRE_MESSAGE(r, (r ? "" : to_string(r.err())));
    rt = std::move(*r);
    REQUIRE(rt->register_aggregate<orders::order>());
  }
  std::vector<std::string> bodies(const std::string& id) {
    auto h = wait(rt->history<orders::order>(id, version{1}, version{1'000}));
    REQUIRE_MESSAGE(h, (h ? "" : to_string(h.err())));
    std::vector<std::string> out;
    for (const auto& e : *h) out.push_back(json::to_json(e.event));
    return out;
  }
  /// The audit chain verifies and the reference order reads back as it was written.
  void check_undamaged() {
    auto chain = wait(rt->verify_audit_trail());
    REQUIRE_MESSAGE(chain, (chain ? "" : to_string(chain.err())));
    CHECK_FALSE(chain->has_value());
    CHECK(bodies("ref-1") == reference);
    auto view = wait(rt->current_state<orders::order>("ref-1"));
    REQUIRE(view);
    CHECK(view->at == version{2});
  }
  /// The failure of a command that must have been refused.
  error refused(const std::string& id, orders::command c, command_metadata meta = {}) {
    auto r = wait(rt->send<orders::order>(id, std::move(c), std::move(meta)));
    REQUIRE_FALSE(r.is_accepted());
    REQUIRE(r.failure.has_value());
    return *r.failure;
  }
};

void check_refused_everywhere(hostile_fixture& f, const std::string& id, const std::string& what) {
  INFO("id of " << id.size() << " bytes; expected: " << what);
  const auto sent = f.refused(id, orders::place{"c-1", "EUR", {}});
  CHECK(sent.code == errc::invalid_argument);
  CHECK(contains(sent.message, what));
  auto current = wait(f.rt->current_state<orders::order>(id));
  REQUIRE_FALSE(current);
  CHECK(current.err().code == errc::invalid_argument);
  CHECK(contains(current.err().message, what));
  auto at = wait(f.rt->state_at<orders::order>(id, version{1}));
  REQUIRE_FALSE(at);
  CHECK(at.err().code == errc::invalid_argument);
  CHECK(contains(at.err().message, what));
  auto as_of = wait(f.rt->state_as_of<orders::order>(id, from_unix_micros(0)));
  REQUIRE_FALSE(as_of);
  CHECK(as_of.err().code == errc::invalid_argument);
  auto history = wait(f.rt->history<orders::order>(id, version{1}, version{10}));
  REQUIRE_FALSE(history);
  CHECK(history.err().code == errc::invalid_argument);
  CHECK(contains(history.err().message, what));
  auto verified = wait(f.rt->verify_stream<orders::order>(id));
  REQUIRE_FALSE(verified);
  CHECK(verified.err().code == errc::invalid_argument);
  CHECK(contains(verified.err().message, what));
}

}  // namespace

TEST_CASE("an empty aggregate id is refused by every runtime entry point that takes an id") {
  hostile_fixture f;
  check_refused_everywhere(f, "", "aggregate id is empty");
  f.check_undamaged();
}

TEST_CASE("a 1 MB aggregate id is refused as too long, naming the limit, and nothing is stored") {
  hostile_fixture f;
  const std::string huge(1 << 20, 'x');
  check_refused_everywhere(f, huge, "aggregate id is 1048576 bytes long, more than the 1024");
  // The longest id allowed is an ordinary id.
  const std::string longest(max_aggregate_id_bytes, 'y');
  CHECK(wait(f.rt->send<orders::order>(longest, orders::place{"c-1", "EUR", {}})).is_accepted());
  CHECK(f.bodies(longest).size() == 1);
  f.check_undamaged();
}

TEST_CASE("an aggregate id holding a NUL byte is refused, naming the offset") {
  hostile_fixture f;
  check_refused_everywhere(f, std::string{"ref-1\0evil", 10}, "holds a NUL byte at offset 5");
  f.check_undamaged();
}

TEST_CASE("an aggregate id that is not valid UTF-8 is refused, naming the offset") {
  hostile_fixture f;
  check_refused_everywhere(f, "o-\xff\xfe", "is not valid UTF-8 at offset 2");
  check_refused_everywhere(f, "o-\xc0\xaf", "is not valid UTF-8 at offset 2");      // overlong '/'
  check_refused_everywhere(f, "o-\xed\xa0\x80", "is not valid UTF-8 at offset 2");  // surrogate
  // Multi-byte UTF-8 is an ordinary id.
  CHECK(
      wait(f.rt->send<orders::order>("ordre-é-😀", orders::place{"c-1", "EUR", {}})).is_accepted());
  f.check_undamaged();
}

TEST_CASE("a NUL byte inside a command's string field is refused, naming the member") {
  hostile_fixture f;
  const auto e = f.refused("o-1", orders::place{std::string{"c-1\0x", 5}, "EUR", {}});
  CHECK(e.code == errc::invalid_argument);
  CHECK(contains(e.message, "Order event OrderPlaced"));
  CHECK(contains(e.message, "member 'customer_id' holds a NUL character"));
  // Nested: the sku of a line.
  const auto nested =
      f.refused("o-1", orders::place{"c-1", "EUR", {line(std::string{"a\0b", 3}, 1, 10)}});
  CHECK(nested.code == errc::invalid_argument);
  CHECK(contains(nested.message, "member 'lines'[0].'sku' holds a NUL character"));
  // Nothing was stored and the aggregate is still new.
  auto view = wait(f.rt->current_state<orders::order>("o-1"));
  REQUIRE(view);
  CHECK(view->at == version{0});
  // A backslash followed by "u0000" is text, not a NUL.
  CHECK(wait(f.rt->send<orders::order>("o-1", orders::place{"c\\u0000", "EUR", {}})).is_accepted());
  f.check_undamaged();
}

TEST_CASE("invalid UTF-8 inside a command's string field is refused, naming the member") {
  hostile_fixture f;
  const auto e = f.refused("o-1", orders::place{"c-\xff", "EUR", {}});
  CHECK(e.code == errc::invalid_argument);
  CHECK(contains(e.message, "member 'customer_id' is not valid UTF-8"));
  const auto sku =
      f.refused("o-1", orders::place{"c-1", "EUR", {line("\xe2\x82", 1, 10)}});  // cut sequence
  CHECK(sku.code == errc::invalid_argument);
  CHECK(contains(sku.message, "member 'lines'[0].'sku' is not valid UTF-8"));
  auto view = wait(f.rt->current_state<orders::order>("o-1"));
  REQUIRE(view);
  CHECK(view->at == version{0});
  f.check_undamaged();
}

TEST_CASE("a NUL byte or invalid UTF-8 in command metadata is refused, naming the member") {
  hostile_fixture f;
  command_metadata nul;
  nul.user_id = std::string{"alice\0root", 10};
  const auto a = f.refused("o-1", orders::place{"c-1", "EUR", {}}, nul);
  CHECK(a.code == errc::invalid_argument);
  CHECK(contains(a.message, "command metadata user_id"));
  CHECK(contains(a.message, "holds a NUL byte at offset 5"));
  command_metadata bad;
  bad.command_id = "cmd-\x80";
  const auto b = f.refused("o-1", orders::place{"c-1", "EUR", {}}, bad);
  CHECK(b.code == errc::invalid_argument);
  CHECK(contains(b.message, "command metadata command_id"));
  CHECK(contains(b.message, "is not valid UTF-8 at offset 4"));
  f.check_undamaged();
}

TEST_CASE("SQL metacharacters in ids and string fields are stored and read back as plain text") {
  hostile_fixture f;
  const std::vector<std::string> ids = {"'; DROP TABLE events; --",
                                        "%",
                                        "_",
                                        "ref-%",
                                        "ref_1",
                                        "back\\slash",
                                        "\"quoted\"",
                                        "x' OR '1'='1"};
  for (const auto& id : ids) {
    INFO("id: " << id);
    auto r = wait(f.rt->send<orders::order>(id, orders::place{id, "EUR", {line(id, 1, 10)}}));
    REQUIRE(r.is_accepted());
    auto h = wait(f.rt->history<orders::order>(id, version{1}, version{10}));
    REQUIRE(h);
    REQUIRE(h->size() == 1);  // its own event only: no pattern matched another stream
    CHECK((*h)[0].info.aggregate_id == id);
    const auto* placed = std::get_if<orders::placed>(&(*h)[0].event);
    REQUIRE(placed != nullptr);
    CHECK(placed->customer_id == id);
    CHECK(placed->lines.at(0).sku == id);
  }
  f.check_undamaged();
}

TEST_CASE("history with from after to is refused, naming both versions") {
  hostile_fixture f;
  auto h = wait(f.rt->history<orders::order>("ref-1", version{5}, version{2}));
  REQUIRE_FALSE(h);
  CHECK(h.err().code == errc::invalid_argument);
  CHECK(contains(h.err().message, "from (version 5) is after to (version 2)"));
  f.check_undamaged();
}

TEST_CASE("huge versions and times read as the head, version 0 as the start") {
  hostile_fixture f;
  constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  constexpr std::uint64_t wrapped = static_cast<std::uint64_t>(-1);  // a negative version
  auto all = wait(f.rt->history<orders::order>("ref-1", version{1}, version{max}));
  REQUIRE(all);
  CHECK(all->size() == 2);
  auto none = wait(f.rt->history<orders::order>("ref-1", version{wrapped}, version{max}));
  REQUIRE(none);
  CHECK(none->empty());
  auto head = wait(f.rt->state_at<orders::order>("ref-1", version{max}));
  REQUIRE(head);
  CHECK(head->at == version{2});
  auto start = wait(f.rt->state_at<orders::order>("ref-1", version{0}));
  REQUIRE(start);
  CHECK(start->at == version{0});
  auto later = wait(f.rt->state_as_of<orders::order>(
      "ref-1", from_unix_micros(std::numeric_limits<std::int64_t>::max())));
  REQUIRE(later);
  CHECK(later->at == version{2});
  auto before = wait(f.rt->state_as_of<orders::order>(
      "ref-1", from_unix_micros(std::numeric_limits<std::int64_t>::min())));
  REQUIRE(before);
  CHECK(before->at == version{0});
  f.check_undamaged();
}

TEST_CASE("projection names and read-model query values are never SQL") {
  hostile_fixture f;
  REQUIRE(f.rt->add_projection(std::make_shared<read_models::order_summary_projection>()));
  auto placed = wait(
      f.rt->send<orders::order>("'; DROP TABLE order_summary; --", orders::place{"%", "EUR", {}}));
  REQUIRE(placed.is_accepted());
  REQUIRE(f.rt->wait_for("order_summary", placed.position, std::chrono::seconds(20)));
  auto reader = f.rt->open_read_models();
  REQUIRE(reader);
  // '%' and '_' match only themselves; a quote ends nothing.
  auto percent = read_models::orders_by_customer(*reader, "%");
  REQUIRE(percent);
  REQUIRE(percent->size() == 1);
  CHECK(percent->front().order_id == "'; DROP TABLE order_summary; --");
  auto underscore = read_models::orders_by_customer(*reader, "_");
  REQUIRE(underscore);
  CHECK(underscore->empty());
  auto injected = read_models::find_order(*reader, "x' OR '1'='1");
  REQUIRE(injected);
  CHECK_FALSE(injected->has_value());
  auto nul = read_models::orders_by_customer(*reader, std::string{"%\0", 2});
  REQUIRE(nul);
  CHECK(nul->empty());
  auto all = read_models::all_orders(*reader);
  REQUIRE(all);
  CHECK(all->size() == 2);  // ref-1 and the hostile one: the table is still there
  // A projection's name is a value too; an unknown or hostile one is simply not found.
  for (const std::string name : {"", "'; DROP TABLE projection_checkpoints; --", "%"}) {
    CHECK(f.rt->projection_lag(name).err().code == errc::not_found);
    CHECK(f.rt->wait_for(name, global_position{1}, std::chrono::milliseconds{1}).err().code ==
          errc::not_found);
    CHECK(f.rt->dead_letters(name).err().code == errc::not_found);
    CHECK(f.rt->rebuild_projection(name).err().code == errc::not_found);
  }
  CHECK(f.rt->projection_lag("order_summary"));
  f.check_undamaged();
}

// ---- Stored rows: an SQLite file altered behind the runtime's back ----

namespace {

/// Stops the runtime, runs `sql` on the journal file, starts it again.
void alter_journal(hostile_fixture& f, const std::string& sql) {
  f.rt->stop();
  f.rt.reset();
  {
    SQLite::Database db{f.config.journal.sqlite.path, SQLite::OPEN_READWRITE};
    db.exec(sql);
  }
  f.start();
}

/// The reference order reads back as written (the altered stream is another one).
void check_reference_intact(hostile_fixture& f) {
  CHECK(f.bodies("ref-1") == f.reference);
  auto chain = wait(f.rt->verify_stream<orders::order>("ref-1"));
  REQUIRE(chain);
  CHECK_FALSE(chain->has_value());
}

/// Writes order "o-bad" (placed, one item added) for a test to alter.
void write_victim(hostile_fixture& f) {
  REQUIRE(wait(f.rt->send<orders::order>("o-bad", orders::place{"c-1", "EUR", {}})).is_accepted());
  REQUIRE(
      wait(f.rt->send<orders::order>("o-bad", orders::add_item{line("sku", 1, 10)})).is_accepted());
}

void check_victim_corrupted(hostile_fixture& f, const std::string& what, bool history_too = true) {
  INFO("expected: " << what);
  auto view = wait(f.rt->current_state<orders::order>("o-bad"));
  REQUIRE_FALSE(view);
  INFO("message: " << view.err().message);
  CHECK(view.err().code == errc::corrupted);
  CHECK(contains(view.err().message, what));
  if (history_too) {
    auto h = wait(f.rt->history<orders::order>("o-bad", version{1}, version{10}));
    REQUIRE_FALSE(h);
    CHECK(h.err().code == errc::corrupted);
  }
  auto sent = wait(f.rt->send<orders::order>("o-bad", orders::confirm{}));
  CHECK(sent.status == command_status::failed);
  REQUIRE(sent.failure);
  CHECK(sent.failure->code == errc::corrupted);
  check_reference_intact(f);
}

constexpr const char* victim_v2 =
    " WHERE version = 2 AND stream_key = (SELECT stream_key FROM streams WHERE name = "
    "'Order-o-bad')";

}  // namespace

TEST_CASE("a stored event of an unknown type is refused as corrupted, naming the type") {
  hostile_fixture f;
  write_victim(f);
  alter_journal(f, std::string{"UPDATE events SET event_type = 'NoSuchEvent'"} + victim_v2);
  check_victim_corrupted(f, "Order-o-bad v2 (NoSuchEvent): unknown event type NoSuchEvent");
}

TEST_CASE("damaged audit columns do not stop an aggregate, and history and verify report them") {
  hostile_fixture f;
  write_victim(f);
  alter_journal(f, std::string{"UPDATE events SET user_id = X'00FF', hash = X'ABCD'"} + victim_v2);
  // The state needs none of those columns: a rehydration does not read them.
  auto view = wait(f.rt->current_state<orders::order>("o-bad"));
  REQUIRE_MESSAGE(view, (view ? "" : to_string(view.err())));
  CHECK(view->at == version{2});
  CHECK(view->state.lines.size() == 1);
  // Reads of whole events refuse the row, naming the column.
  auto h = wait(f.rt->history<orders::order>("o-bad", version{1}, version{10}));
  REQUIRE_FALSE(h);
  CHECK(h.err().code == errc::corrupted);
  CHECK(contains(h.err().message, "column user_id is not text"));
  // Verification reports the row it cannot read as a violation of the stream, naming the column.
  auto verified = wait(f.rt->verify_stream<orders::order>("o-bad"));
  REQUIRE_MESSAGE(verified, (verified ? "" : to_string(verified.err())));
  REQUIRE(verified->has_value());
  const chain_violation& v = **verified;
  INFO("verify: " << v.kind << ": " << v.detail);
  CHECK(v.stream.str() == "Order-o-bad");
  CHECK(v.kind == "corrupted");
  CHECK(contains(v.detail, "column user_id is not text"));
  check_reference_intact(f);
}

TEST_CASE("a stored event nested 100,000 levels deep is refused as corrupted, not recursed into") {
  hostile_fixture f;
  write_victim(f);
  alter_journal(f, "UPDATE events SET data = '" + std::string(100'000, '[') + "'" + victim_v2);
  check_victim_corrupted(
      f,
      "Order-o-bad v2 (ItemAdded): ItemAdded v2: malformed JSON: nested more than 32 levels deep");
}

TEST_CASE("a stored event whose data is not JSON, not UTF-8 or of the wrong kind is corrupted") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"'{\"sku\": '", "malformed JSON"},
      {"X'7b22736b75223a22ff227d'", "column data is not JSON text"},  // a blob
      {"CAST(X'7b22736b75223a22ff227d' AS TEXT)", "malformed JSON"},  // {"sku":"\xff"}
      {"'[1, 2, 3]'", "Order-o-bad v2 (ItemAdded)"},
      {"'{\"item\": {\"sku\": 42, \"quantity\": \"many\"}}'", "Order-o-bad v2 (ItemAdded)"},
  };
  for (const auto& c : cases) {
    // Named references, not a structured binding: INFO captures them in a lambda.
    const auto& value = c.first;
    const auto& what = c.second;
    INFO("data = " << value);
    hostile_fixture f;
    write_victim(f);
    alter_journal(f, "UPDATE events SET data = " + value + victim_v2);
    check_victim_corrupted(f, what);
  }
}

TEST_CASE(
    "a stored event with a negative, zero or textual version is corrupted, naming the column") {
  for (const std::string value : {"-1", "0", "'two'"}) {
    INFO("version = " << value);
    hostile_fixture f;
    write_victim(f);
    alter_journal(f, "UPDATE events SET version = " + value + victim_v2);
    // A text version sorts after every number: a bounded history does not reach it.
    check_victim_corrupted(f, "column version is not a positive integer", value != "'two'");
  }
}

TEST_CASE("a stored event with an unknown schema version is refused as newer than the code") {
  hostile_fixture f;
  write_victim(f);
  alter_journal(f, std::string{"UPDATE events SET schema_version = 99"} + victim_v2);
  auto view = wait(f.rt->current_state<orders::order>("o-bad"));
  REQUIRE_FALSE(view);
  CHECK(view.err().code == errc::unsupported);
  CHECK(contains(view.err().message, "Order-o-bad v2 (ItemAdded)"));
  CHECK(contains(view.err().message, "newer than this code"));
  check_reference_intact(f);
}

TEST_CASE("a corrupted snapshot row is passed over: the state is rebuilt from the events") {
  hostile_fixture f;
  f.rt->stop();
  f.rt.reset();
  f.config.aggregates.snapshot_every = 1;
  f.start();
  write_victim(f);
  // Wait (bounded) for the snapshot at version 2, then break it.
  auto snapshot_at_2 = [&] {
    SQLite::Database db{f.config.journal.sqlite.path, SQLite::OPEN_READONLY};
    SQLite::Statement q{db,
                        "SELECT count(*) FROM snapshots WHERE stream = 'Order-o-bad' AND at = 2"};
    return q.executeStep() && q.getColumn(0).getInt() == 1;
  };
  REQUIRE(strata::testing::wait_until(snapshot_at_2));
  for (const std::string& state : {"'" + std::string(100'000, '[') + "'",
                                   std::string{"'{\"status\": 7}'"}, std::string{"X'ff'"}}) {
    INFO("state = " << state.substr(0, 40));
    alter_journal(f, "UPDATE snapshots SET state = " + state + " WHERE stream = 'Order-o-bad'");
    auto view = wait(f.rt->state_at<orders::order>("o-bad", version{2}));
    REQUIRE_MESSAGE(view, (view ? "" : to_string(view.err())));
    CHECK(view->at == version{2});
    CHECK(view->state.lines.at("sku").quantity == 1);
    auto live = wait(f.rt->current_state<orders::order>("o-bad"));
    REQUIRE_MESSAGE(live, (live ? "" : to_string(live.err())));
    CHECK(live->at == version{2});
  }
  f.check_undamaged();
}

TEST_CASE("a corrupted read-model checkpoint refuses the projection, naming it") {
  hostile_fixture f;
  REQUIRE(f.rt->add_projection(std::make_shared<read_models::order_summary_projection>()));
  auto placed = wait(f.rt->send<orders::order>("o-2", orders::place{"c-2", "EUR", {}}));
  REQUIRE(placed.is_accepted());
  REQUIRE(f.rt->wait_for("order_summary", placed.position, std::chrono::seconds(20)));
  for (const std::string position : {"-5", "'many'"}) {
    INFO("position = " << position);
    f.rt->stop();
    f.rt.reset();
    {
      SQLite::Database db{f.config.projections.path, SQLite::OPEN_READWRITE};
      db.exec("UPDATE projection_checkpoints SET position = " + position +
              " WHERE name = 'order_summary'");
    }
    f.start();
    auto added = f.rt->add_projection(std::make_shared<read_models::order_summary_projection>());
    REQUIRE_FALSE(added);
    CHECK(added.err().code == errc::corrupted);
    CHECK(contains(added.err().message, "checkpoint of projection order_summary"));
    // The journal is untouched, and a rebuild is the way out.
    f.check_undamaged();
    REQUIRE(f.rt->add_projection(std::make_shared<read_models::order_summary_projection>(),
                                 projection_start::rebuild));
  }
}

// ---- The configuration: parse_config and load_config ----

namespace {

std::string config_refusal(const std::string& text) {
  auto c = parse_config(text);
  REQUIRE_FALSE(c);
  CHECK(c.err().code == errc::invalid_argument);
  // Printable whatever the input: no control byte reaches an operator's terminal.
  for (char ch : c.err().message) CHECK(static_cast<unsigned char>(ch) >= 0x20);
  return c.err().message;
}

}  // namespace

TEST_CASE(
    "a configuration nested 100,000 levels deep is refused at the depth limit, not recursed") {
  const std::string deep(100'000, '[');
  CHECK(contains(config_refusal(deep), "nested more than 32 levels deep"));
  CHECK(contains(config_refusal(R"({"journal":)" + deep), "nested more than 32 levels deep"));
  // 32 levels are fine as JSON (and then refused for what they are).
  CHECK(contains(config_refusal(std::string(32, '[') + std::string(32, ']')),
                 "configuration must be a JSON object"));
}

TEST_CASE("a configuration that is not UTF-8 or holds NUL is refused, naming the place or key") {
  CHECK(config_refusal("{\"journal\":{\"sqlite\":{\"path\":\"\xff.db\"}}}") ==
        "configuration is not valid JSON at line 1, column 31: the text is not valid UTF-8");
  CHECK(config_refusal("{\n\"log\":{\"level\":\"inf\xc3\"}}") ==
        "configuration is not valid JSON at line 2, column 20: the text is not valid UTF-8");
  // An escaped NUL in a path would cut it where the operating system reads it.
  CHECK(config_refusal(R"({"journal":{"sqlite":{"path":"strata.db\u0000.bak"}}})") ==
        "journal.sqlite.path holds a NUL character at offset 9");
  CHECK(config_refusal(R"({"journal":{"postgres":{"conninfo":"host=x\u0000"}}})") ==
        "journal.postgres.conninfo holds a NUL character at offset 6");
  // A raw NUL byte is not JSON; the message shows it escaped.
  CHECK(config_refusal(std::string{"{}\0", 3}) ==
        "configuration is not valid JSON at line 1, column 3: expected the end of the text, "
        "found '\\x00'");
  // Built in code, the same configuration is refused by runtime::start.
  runtime_config c;
  c.projections.path = std::string{"read\0.db", 8};
  auto started = runtime::start(c);
  REQUIRE_FALSE(started);
  CHECK(started.err().code == errc::invalid_argument);
  CHECK(started.err().message == "projections.path holds a NUL character at offset 4");
}

TEST_CASE("unknown configuration keys and values of the wrong JSON type are refused by name") {
  CHECK(config_refusal(R"({"journal":{},"jornal":{}})") == "unknown configuration key 'jornal'");
  CHECK(config_refusal(R"({"'; DROP TABLE events; --":1})") ==
        "unknown configuration key '\\x27; DROP TABLE events; --'");
  CHECK(config_refusal(R"({"log":{"lev\u0000el":"info"}})") ==
        "unknown configuration key 'log.lev\\x00el'");
  CHECK(config_refusal(R"({"scheduler_threads":"4"})") ==
        R"(scheduler_threads must be a non-negative integer, found "4" (a string))");
  CHECK(config_refusal(R"({"journal":{"sqlite":{"path":["a.db"]}}})") ==
        R"(journal.sqlite.path must be a string, found ["a.db"] (an array))");
  CHECK(config_refusal(R"({"commands":{"timeout_ms":1e400}})") ==
        "commands.timeout_ms must be a non-negative integer, found inf (a number)");
  CHECK(contains(config_refusal(""), "expected a value, found the end of the text"));
}
