// The wire form of a forwarded command and of its result (actors/cluster_wire.hpp,
// actors/command_json.hpp): everything a caller reads from a `command_result` survives the
// trip between two nodes, and a text that is not a whole one of them is refused.

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

#include <doctest/doctest.h>

#include "strata/actors/aggregate_model.hpp"
#include "strata/actors/cluster_wire.hpp"
#include "tests/cluster/tally.hpp"

namespace strata::cluster_testing {
namespace {

command_result round_trip(const command_result& r) {
  auto back = actors::decode_result(actors::encode_result(r));
  REQUIRE_MESSAGE(back, to_string(back.err()));
  return std::move(*back);
}

TEST_CASE("an accepted result crosses with its versions, position and records byte for byte") {
  command_result r;
  r.status = command_status::accepted;
  r.at = version{7};
  r.position = global_position{42};
  persistence::event_record e;
  e.position = global_position{42};
  e.event_id = "0190a5c4-0000-7000-8000-000000000001";
  e.event_type = "TallyRaised";
  e.schema_version = 1;
  e.aggregate_type = "Tally";
  e.aggregate_id = "t-1";
  e.stream_version = version{7};
  e.time = timestamp{std::chrono::microseconds{1'764'000'000'123'456}};
  e.user_id = "user-7";
  e.command_id = "cmd-1";
  e.correlation_id = "corr";
  e.causation_id = "cause";
  e.data = R"({"amount":5,"note":"caf\u00e9 \"quoted\""})";
  e.hash = "ab12";
  r.records = {e, e};
  r.records[1].stream_version = version{8};
  const auto back = round_trip(r);
  CHECK(back.status == command_status::accepted);
  CHECK(back.at == version{7});
  CHECK(back.position == global_position{42});
  REQUIRE(back.records.size() == 2);
  const auto& b = back.records[0];
  CHECK(b.position == e.position);
  CHECK(b.event_id == e.event_id);
  CHECK(b.event_type == e.event_type);
  CHECK(b.schema_version == 1);
  CHECK(b.aggregate_type == "Tally");
  CHECK(b.aggregate_id == "t-1");
  CHECK(b.stream_version == version{7});
  CHECK(b.time == e.time);
  CHECK(b.user_id == e.user_id);
  CHECK(b.command_id == e.command_id);
  CHECK(b.correlation_id == e.correlation_id);
  CHECK(b.causation_id == e.causation_id);
  CHECK(b.data == e.data);
  CHECK(b.hash == e.hash);
  CHECK(back.records[1].stream_version == version{8});
  CHECK_FALSE(back.duplicate);
  CHECK_FALSE(back.why);
  CHECK_FALSE(back.failure);
  auto typed = back.events<tally>();
  REQUIRE(typed);
  CHECK(std::get<raised>((*typed)[0].event).note == "café \"quoted\"");
}

TEST_CASE("a rejection, a duplicate and every failure status cross intact") {
  command_result rejected;
  rejected.status = command_status::rejected;
  rejected.at = version{3};
  rejected.why = rejection{"not_positive", "a tally is raised by at least 1, not -5"};
  const auto r = round_trip(rejected);
  CHECK(r.status == command_status::rejected);
  CHECK(r.at == version{3});
  REQUIRE(r.why);
  CHECK(r.why->code == "not_positive");
  CHECK(r.why->message == "a tally is raised by at least 1, not -5");

  command_result duplicate;
  duplicate.status = command_status::accepted;
  duplicate.duplicate = true;
  CHECK(round_trip(duplicate).duplicate);

  for (auto [status, code] : {std::pair{command_status::conflict, errc::conflict},
                              std::pair{command_status::overloaded, errc::overloaded},
                              std::pair{command_status::timeout, errc::timeout},
                              std::pair{command_status::unavailable, errc::unavailable},
                              std::pair{command_status::failed, errc::invalid_argument},
                              std::pair{command_status::failed, errc::corrupted}}) {
    command_result f;
    f.status = status;
    f.failure = error{code, "why: " + std::string{to_string(code)}};
    const auto back = round_trip(f);
    CHECK(back.status == status);
    REQUIRE(back.failure);
    CHECK(back.failure->code == code);
    CHECK(back.failure->message == f.failure->message);
  }
}

TEST_CASE("a forwarded command keeps its metadata and its command decodes to the same value") {
  auto model = actors::model_of<tally>();
  tally::command c = raise{12, "note"};
  auto text = model->encode_command(std::any{c});
  REQUIRE(text);
  actors::forwarded_command f;
  f.type = "Tally";
  f.aggregate_id = "t-9";
  f.command = *text;
  f.meta.command_id = "cmd-9";
  f.meta.user_id = "u";
  f.meta.correlation_id = "c";
  f.meta.causation_id = "k";
  f.meta.expected_version = version{4};
  f.from_node = "node-2";
  auto back = actors::decode_forwarded(actors::encode_forwarded(f));
  REQUIRE(back);
  CHECK(back->type == "Tally");
  CHECK(back->aggregate_id == "t-9");
  CHECK(back->meta.command_id == "cmd-9");
  CHECK(back->meta.user_id == "u");
  CHECK(back->meta.correlation_id == "c");
  CHECK(back->meta.causation_id == "k");
  REQUIRE(back->meta.expected_version);
  CHECK(*back->meta.expected_version == version{4});
  CHECK(back->from_node == "node-2");
  auto decoded = model->decode_command(back->command);
  REQUIRE(decoded);
  const auto& cmd = std::any_cast<const tally::command&>(*decoded);
  REQUIRE(std::holds_alternative<raise>(cmd));
  CHECK(std::get<raise>(cmd).amount == 12);
  CHECK(std::get<raise>(cmd).note == "note");

  // The second alternative, an empty struct, is told apart by its index.
  auto closing = model->decode_command(*model->encode_command(std::any{tally::command{close{}}}));
  REQUIRE(closing);
  CHECK(std::holds_alternative<close>(std::any_cast<const tally::command&>(*closing)));

  f.meta.expected_version.reset();
  CHECK_FALSE(actors::decode_forwarded(actors::encode_forwarded(f))->meta.expected_version);
}

TEST_CASE("malformed wire text is refused as invalid, never thrown") {
  auto model = actors::model_of<tally>();
  CHECK(model->decode_command("not json").err().code == errc::invalid_argument);
  CHECK(model->decode_command(R"({"alt":5,"data":{}})").err().code == errc::invalid_argument);
  CHECK(model->decode_command(R"({"alt":0})").err().code == errc::invalid_argument);
  CHECK(model->encode_command(std::any{42}).err().code == errc::invalid_argument);
  CHECK(actors::decode_forwarded("").err().code == errc::invalid_argument);
  CHECK(actors::decode_forwarded(R"({"type":"Tally"})").err().code == errc::invalid_argument);
  CHECK(actors::decode_result("{}").err().code == errc::invalid_argument);
}

/// A forwarded command and a result with every optional part, as the wire carries them.
std::pair<std::string, std::string> full_texts() {
  actors::forwarded_command f;
  f.type = "Tally";
  f.aggregate_id = "t-1";
  f.command = R"({"alt":0,"data":{"amount":3,"note":""}})";
  f.meta.command_id = "c-1";
  f.meta.expected_version = version{300};
  f.from_node = "node-1";
  command_result r;
  r.status = command_status::failed;
  r.at = version{1};
  r.duplicate = true;
  persistence::event_record e;
  e.event_type = "TallyRaised";
  e.time = timestamp{std::chrono::microseconds{-5}};  // before 1970: a negative number
  e.data = "{}";
  r.records = {e};
  r.why = rejection{"code", "message"};
  r.failure = error{errc::duplicate, "failure"};
  return {actors::encode_forwarded(f), actors::encode_result(r)};
}

TEST_CASE("a time before 1970 and the largest numbers cross intact") {
  command_result r;
  r.status = command_status::accepted;
  r.at = version{UINT64_MAX};
  r.position = global_position{UINT64_MAX - 1};
  persistence::event_record e;
  e.time = timestamp{std::chrono::microseconds{INT64_MIN}};
  e.stream_version = version{1};
  r.records = {e, e};
  r.records[1].time = timestamp{std::chrono::microseconds{INT64_MAX}};
  const auto back = round_trip(r);
  CHECK(back.at == version{UINT64_MAX});
  CHECK(back.position == global_position{UINT64_MAX - 1});
  REQUIRE(back.records.size() == 2);
  CHECK(back.records[0].time == e.time);
  CHECK(back.records[1].time == r.records[1].time);
  const auto [forwarded, result] = full_texts();
  auto f = actors::decode_forwarded(forwarded);
  REQUIRE(f);
  CHECK(*f->meta.expected_version == version{300});
  auto full = actors::decode_result(result);
  REQUIRE(full);
  CHECK(full->records.at(0).time == timestamp{std::chrono::microseconds{-5}});
  CHECK(full->failure->code == errc::duplicate);
  CHECK(full->why->message == "message");
  CHECK(full->duplicate);
}

TEST_CASE("every cut-short wire text, a byte too many, and a value out of range are refused") {
  const auto [forwarded, result] = full_texts();
  // Each prefix of a whole text ends inside a field: refused, never read past its end.
  for (std::size_t n = 0; n < forwarded.size(); ++n) {
    auto cut = actors::decode_forwarded(std::string_view{forwarded}.substr(0, n));
    REQUIRE_FALSE(cut);
    CHECK(cut.err().code == errc::invalid_argument);
  }
  for (std::size_t n = 0; n < result.size(); ++n) {
    auto cut = actors::decode_result(std::string_view{result}.substr(0, n));
    REQUIRE_FALSE(cut);
    CHECK(cut.err().code == errc::invalid_argument);
  }
  CHECK(actors::decode_result(result + "x").err().message ==
        "command result: 1 bytes after the last field");
  CHECK(actors::decode_forwarded(result).err().message ==
        "forwarded command: malformed or missing its kind byte at byte 0");

  // Another format, a status and a failure code that name nothing, and a record count larger
  // than the text.
  auto other = result;
  other[1] = 2;
  CHECK(actors::decode_result(other).err().message ==
        "command result: wire format 2, this node reads format 1");
  command_result r;
  r.status = command_status::accepted;
  auto bad_status = actors::encode_result(r);
  bad_status[2] = static_cast<char>(command_status_count);
  CHECK(actors::decode_result(bad_status).err().message ==
        "command result: malformed or missing status at byte 2");
  r.status = command_status::failed;
  r.failure = error{errc::duplicate, ""};
  auto bad_code = actors::encode_result(r);
  bad_code[bad_code.size() - 2] = static_cast<char>(static_cast<int>(errc::duplicate) + 1);
  CHECK(actors::decode_result(bad_code).err().message ==
        "command result: failure code 12 is no error code");
  bad_code[bad_code.size() - 2] = 0;  // below the first code
  CHECK(actors::decode_result(bad_code).err().message ==
        "command result: failure code 0 is no error code");
  command_result none;
  auto many = actors::encode_result(none);
  many[6] = 0x7f;  // 127 records announced, none there
  CHECK(actors::decode_result(many).err().message ==
        "command result: 127 records announced, more than the text can hold");
  // An eleven-byte number (more than 64 bits) in the version.
  auto wide = std::string{"R\x01\x00", 3} + std::string(10, '\xff') + '\x01';
  CHECK(actors::decode_result(wide).err().message ==
        "command result: malformed or missing version at byte 3");
  // A node of an earlier release, whose bodies were JSON objects.
  CHECK(actors::decode_result(R"({"status":0,"at":1,"position":2})").err().message ==
        "command result: a JSON body, the wire form of strata releases before the binary one: "
        "every node of a cluster must run the same release");
}

}  // namespace
}  // namespace strata::cluster_testing
