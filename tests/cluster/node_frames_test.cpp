// The batches of frames two nodes' links exchange (actors/detail/node_frames.hpp): what is
// appended parses back in order, bodies of any byte and length included, and a damaged batch
// is refused whole, naming where it breaks.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

#include "strata/actors/detail/node_frames.hpp"

namespace strata::cluster_testing {
namespace {

using actors::detail::append_frame;
using actors::detail::frame_kind;
using actors::detail::parse_frames;

struct sent {
  std::uint64_t id;
  frame_kind kind;
  std::string body;
};

TEST_CASE("frames appended to a batch parse back in order with their ids, kinds and bodies") {
  std::string zeros(3, '\0');
  const std::vector<sent> frames{
      {1, frame_kind::request, R"({"type":"tally"})"},
      {0xfedcba9876543210ULL, frame_kind::reply, ""},
      {42, frame_kind::failure, "the node's handler threw"},
      {7, frame_kind::request, zeros + "\xff\x80" + std::string(70000, 'x')},
  };
  std::string batch;
  for (const auto& f : frames) REQUIRE(append_frame(batch, f.id, f.kind, f.body));
  const auto parsed = parse_frames(batch);
  REQUIRE_MESSAGE(parsed, to_string(parsed.err()));
  REQUIRE(parsed->size() == frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    INFO("frame " << i);
    CHECK((*parsed)[i].id == frames[i].id);
    CHECK((*parsed)[i].kind == frames[i].kind);
    CHECK((*parsed)[i].body == frames[i].body);
  }
  const auto none = parse_frames("");
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("a batch cut short, or with a kind out of range, is refused whole naming the byte") {
  std::string batch;
  REQUIRE(append_frame(batch, 1, frame_kind::request, "first"));
  REQUIRE(append_frame(batch, 2, frame_kind::request, "second"));
  const auto whole = batch.size();
  // Cut inside the second frame's header, then inside its body.
  for (const auto cut : {whole - 10, whole - 3}) {
    INFO("cut at " << cut);
    const auto parsed = parse_frames(std::string_view{batch}.substr(0, cut));
    REQUIRE_FALSE(parsed);
    CHECK(parsed.err().code == errc::invalid_argument);
    CHECK(parsed.err().message.find("byte") != std::string::npos);
  }
  auto bad_kind = batch;
  bad_kind[8] = 9;  // the first frame's kind
  const auto parsed = parse_frames(bad_kind);
  REQUIRE_FALSE(parsed);
  CHECK(parsed.err().message.find("unknown kind 9") != std::string::npos);
  CHECK(parsed.err().message.find("byte 0") != std::string::npos);
}

TEST_CASE("a body longer than a frame's 4-byte length can carry is refused, the batch unchanged") {
  std::string batch;
  REQUIRE(append_frame(batch, 1, frame_kind::request, "kept"));
  const auto before = batch;
  // Only the view's length is looked at: nothing past the first bytes is read.
  const std::string small = "x";
  const std::string_view too_long{small.data(), actors::detail::max_frame_body + 1};
  CHECK_FALSE(append_frame(batch, 2, frame_kind::request, too_long));
  CHECK(batch == before);
  const auto parsed = parse_frames(batch);
  REQUIRE(parsed);
  REQUIRE(parsed->size() == 1);
  CHECK((*parsed)[0].body == "kept");
}

}  // namespace
}  // namespace strata::cluster_testing
