#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "strata/domain/kernel/schema.hpp"
#include "strata/persistence/recorded_decoding.hpp"
#include "tests/persistence/support.hpp"

using namespace strata;

namespace {

struct renamed {
  std::string name;
};
BOOST_DESCRIBE_STRUCT(renamed, (), (name))
struct tagged {
  std::string tag;
};
BOOST_DESCRIBE_STRUCT(tagged, (), (tag))

/// What `decode_recorded` needs of an aggregate: its type, events and schema. "Relabelled" v1
/// was split into "Renamed" and "Tagged" v2.
struct label {
  static constexpr std::string_view type = "Label";
  using event = std::variant<renamed, tagged>;
  static const schema<event>& events() {
    static const schema<event> s =
        schema<event>::builder()
            .event<renamed>("Renamed", 2)
            .event<tagged>("Tagged", 2)
            .upcast("Relabelled", 1,
                    [](boost::json::object o) {
                      return std::vector<raw_event>{
                          {"Renamed", 2, boost::json::object{{"name", o.at("name")}}},
                          {"Tagged", 2, boost::json::object{{"tag", o.at("tag")}}}};
                    })
            .build();
    return s;
  }
};

/// Version `at` of stream "Label-l-1", at position 100 + `at`, stored as `type` v`v`.
persistence::event_record record(std::uint64_t at, std::string type, std::uint32_t v,
                                 std::string data) {
  auto e = persistence::testing::make_event(std::move(type), std::move(data));
  e.schema_version = v;
  return persistence::make_record(stream_id{"Label", "l-1"}, e, version{at},
                                  global_position{100 + at});
}

}  // namespace

TEST_CASE("a split record decodes into its current events, each with the record's metadata") {
  const std::vector<persistence::event_record> records{
      record(1, "Relabelled", 1, R"({"name":"n","tag":"t"})"),
      record(2, "Tagged", 2, R"({"tag":"u"})")};
  auto out = persistence::detail::decode_recorded<label>(records);
  const auto& split = records[0];
  const auto& plain = records[1];
  REQUIRE_MESSAGE(out, (out ? "" : to_string(out.err())));
  REQUIRE(out->size() == 3);
  CHECK(std::get<renamed>((*out)[0].event).name == "n");
  CHECK(std::get<tagged>((*out)[1].event).tag == "t");
  CHECK(std::get<tagged>((*out)[2].event).tag == "u");
  for (std::size_t i = 0; i < 2; ++i) {
    const event_info& info = (*out)[i].info;
    CHECK(info.position == global_position{101});
    CHECK(info.stream_version == version{1});
    CHECK(info.event_type == "Relabelled");  // as stored, before upcasting
    CHECK(info.schema_version == 1);
    CHECK(info.time == split.time);
    CHECK(info.event_id == split.event_id);
    CHECK(info.command_id == split.command_id);
    CHECK(info.causation_id == split.causation_id);
  }
  const event_info& last = (*out)[2].info;
  CHECK(last.position == global_position{102});
  CHECK(last.stream_version == version{2});
  CHECK(last.time == plain.time);
  CHECK(last.event_id == plain.event_id);
  CHECK(last.aggregate_type == "Label");
  CHECK(last.aggregate_id == "l-1");
  CHECK(last.event_type == "Tagged");
  CHECK(last.schema_version == 2);
  CHECK(last.user_id == "user-1");
  CHECK(last.command_id == plain.command_id);
  CHECK(last.correlation_id == "corr-1");
  CHECK(last.causation_id == plain.causation_id);
}

TEST_CASE("decoding stops at the first record of another aggregate type or that does not decode") {
  auto foreign = record(1, "Tagged", 2, R"({"tag":"t"})");
  foreign.aggregate_type = "Order";
  auto wrong_type = persistence::detail::decode_recorded<label>({foreign});
  REQUIRE_FALSE(wrong_type);
  CHECK(wrong_type.err().code == errc::invalid_argument);

  auto newer = persistence::detail::decode_recorded<label>({record(1, "Tagged", 3, "{}")});
  REQUIRE_FALSE(newer);
  CHECK(newer.err().code == errc::unsupported);
  CHECK(newer.err().message.find("Label-l-1 v1 (Tagged)") == 0);
}
