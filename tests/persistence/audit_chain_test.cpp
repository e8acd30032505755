// The audit chain's encoding, hashes and verification, against a journal the test can tamper
// with freely (the SQLite file-level tampering lives in sqlite_journal_test.cpp).

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "strata/persistence/audit_chain.hpp"
#include "strata/persistence/memory_journal.hpp"
#include "tests/persistence/support.hpp"

namespace strata::persistence::testing {
namespace {

/// A journal over a plain vector of stored records, so tests can damage them at will.
class vector_journal final : public journal {
 public:
  std::vector<event_record> records;  // what is "stored", in any order
  std::map<std::string, std::uint64_t> heads;
  std::optional<error> read_error;

  result<std::vector<stream_outcome>> append(const std::vector<stream_append>&) override {
    return error{errc::unsupported, "read-only test journal"};
  }
  result<std::vector<event_record>> read_stream(const stream_id& stream,
                                                const stream_range& range) override {
    if (read_error) return *read_error;
    std::vector<event_record> out;
    for (const auto& r : records) {
      if (r.stream() == stream && r.stream_version >= range.from) out.push_back(r);
    }
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return a.stream_version < b.stream_version;
    });
    if (out.size() > range.limit) out.resize(range.limit);
    return out;
  }
  result<std::vector<event_record>> read_all(global_position after, std::size_t limit) override {
    if (read_error) return *read_error;
    std::vector<event_record> out;
    for (const auto& r : records) {
      if (r.position > after) out.push_back(r);
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.position < b.position; });
    if (out.size() > limit) out.resize(limit);
    return out;
  }
  result<version> head(const stream_id& stream) override {
    if (read_error) return *read_error;
    auto it = heads.find(stream.str());
    return version{it == heads.end() ? 0 : it->second};
  }
  result<global_position> last_position() override {
    if (read_error) return *read_error;
    global_position last{};
    for (const auto& r : records) last = std::max(last, r.position);
    return last;
  }
  const std::string& id() const noexcept override { return id_; }

  event_record& at(const stream_id& s, std::uint64_t v) {
    for (auto& r : records) {
      if (r.stream() == s && r.stream_version.value == v) return r;
    }
    FAIL("no event " << s << " v" << v);
    return records.front();
  }
  void erase(const stream_id& s, std::uint64_t v) {
    records.erase(std::remove_if(records.begin(), records.end(),
                                 [&](const auto& r) {
                                   return r.stream() == s && r.stream_version.value == v;
                                 }),
                  records.end());
  }

 private:
  std::string id_ = make_journal_id();
};

const stream_id order_1{"Order", "1"};
const stream_id order_2{"Order", "2"};

/// Order-1 v1..v4 and Order-2 v1..v2, interleaved: positions 1..6.
vector_journal sample_journal() {
  memory_journal source;
  auto ok1 = source.append({part(order_1, 0, {make_event("placed"), make_event("added")})});
  auto ok2 = source.append({part(order_2, 0, {make_event("placed")})});
  auto ok3 = source.append({part(order_1, 2, {make_event("confirmed"), make_event("shipped")}),
                            part(order_2, 1, {make_event("cancelled")})});
  REQUIRE((ok1 && ok2 && ok3));
  vector_journal copy;
  copy.records = *source.read_all(global_position{}, 100);
  copy.heads[order_1.str()] = 4;
  copy.heads[order_2.str()] = 2;
  REQUIRE(copy.records.size() == 6);
  return copy;
}

chain_violation must_violate(journal& j) {
  auto v = verify_journal(j);
  if (!v) FAIL("verify_journal failed: " << describe(v.err()));
  if (!v->has_value()) FAIL("verify_journal found no violation");
  return **v;
}

std::string put32(std::uint32_t v) {
  std::string out;
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
  return out;
}
std::string put64(std::uint64_t v) {
  std::string out;
  for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
  return out;
}
std::string field(const std::string& text) {
  return put32(static_cast<std::uint32_t>(text.size())) + text;
}

event_record golden_record() {
  event_record r;
  r.position = global_position{77};
  r.event_id = "evt-1";
  r.event_type = "OrderPlaced";
  r.schema_version = 2;
  r.aggregate_type = "Order";
  r.aggregate_id = "42";
  r.stream_version = version{3};
  r.time = from_unix_micros(1'772'366'400'123'456);
  r.user_id = "user-1";
  r.command_id = "cmd-1";
  r.correlation_id = "corr-1";
  r.causation_id = "cause-1";
  r.data = R"({"total":1250})";
  r.hash = "not part of the encoding";
  return r;
}

TEST_CASE("the canonical encoding is the documented length-prefixed version 1 layout") {
  const std::string expected = std::string{"strata.event.v1"} + field("evt-1") +
                               field("OrderPlaced") + put32(4) + put32(2) + field("Order") +
                               field("42") + put32(8) + put64(3) + put32(8) +
                               put64(1'772'366'400'123'456) + field("user-1") + field("cmd-1") +
                               field("corr-1") + field("cause-1") + field(R"({"total":1250})");
  CHECK(canonical_encoding(golden_record()) == expected);
}

TEST_CASE("the chain hash of a known record matches an independently computed SHA-256") {
  // Computed outside this code base with Python's hashlib over the bytes above.
  CHECK(chain_hash("", golden_record()) ==
        "54c09377b612e866ab3c9a5614f21da714f8240a66b048295090d71e271050e0");
  CHECK(chain_hash(std::string(32, 'a') + std::string(32, 'b'), golden_record()) !=
        chain_hash("", golden_record()));
  std::string prev;
  for (int i = 0; i < 32; ++i) prev += "ab";
  CHECK(chain_hash(prev, golden_record()) ==
        "acebacd5115cd0432786726f02894bc433d673186ccf0029734bee14e97efe87");
}

TEST_CASE("every encoded field changes the hash but position and hash do not") {
  const event_record base = golden_record();
  const std::string h = chain_hash("", base);
  std::vector<void (*)(event_record&)> changes = {
      [](event_record& r) { r.event_id += "x"; },
      [](event_record& r) { r.event_type += "x"; },
      [](event_record& r) { r.schema_version += 1; },
      [](event_record& r) { r.aggregate_type += "x"; },
      [](event_record& r) { r.aggregate_id += "x"; },
      [](event_record& r) { r.stream_version = r.stream_version.next(); },
      [](event_record& r) { r.time += std::chrono::microseconds{1}; },
      [](event_record& r) { r.user_id += "x"; },
      [](event_record& r) { r.command_id += "x"; },
      [](event_record& r) { r.correlation_id += "x"; },
      [](event_record& r) { r.causation_id += "x"; },
      [](event_record& r) { r.data = R"({"total":1251})"; },
  };
  for (std::size_t i = 0; i < changes.size(); ++i) {
    event_record r = base;
    changes[i](r);
    CHECK_MESSAGE(chain_hash("", r) != h, "change #" << i << " did not change the hash");
  }
  // Moving bytes between adjacent fields must not collide (length prefixes).
  event_record shifted = base;
  shifted.user_id = "user-1c";
  shifted.command_id = "md-1";
  CHECK(chain_hash("", shifted) != h);
  event_record moved = base;
  moved.position = global_position{1};
  moved.hash = "something else";
  CHECK(chain_hash("", moved) == h);
}

TEST_CASE("an untampered journal and each of its streams verify") {
  vector_journal j = sample_journal();
  auto all = verify_journal(j);
  REQUIRE(all.has_value());
  CHECK_FALSE(all->has_value());
  auto one = verify_stream(j, order_1);
  REQUIRE(one.has_value());
  CHECK_FALSE(one->has_value());
}

TEST_CASE("changed event data is reported as altered at that event") {
  vector_journal j = sample_journal();
  j.at(order_1, 3).data = R"({"forged":true})";
  const auto v = must_violate(j);
  CHECK(v.kind == "altered");
  CHECK(v.stream == order_1);
  CHECK(v.at.value == 3);
  CHECK(v.position == j.at(order_1, 3).position);
  auto s = verify_stream(j, order_1);
  REQUIRE((s && s->has_value()));
  CHECK((*s)->kind == "altered");
  CHECK((*s)->at.value == 3);
}

TEST_CASE("an event removed from the middle of a stream is reported missing with its version") {
  vector_journal j = sample_journal();
  const global_position after_gap = j.at(order_1, 3).position;
  j.erase(order_1, 2);
  const auto v = must_violate(j);
  CHECK(v.kind == "missing");
  CHECK(v.stream == order_1);
  CHECK(v.at.value == 2);
  CHECK(v.position == after_gap);
}

TEST_CASE("a removed last event is reported missing because the head is beyond it") {
  vector_journal j = sample_journal();
  j.erase(order_2, 2);
  const auto v = must_violate(j);
  CHECK(v.kind == "missing");
  CHECK(v.stream == order_2);
  CHECK(v.at.value == 2);
}

TEST_CASE("two events with swapped versions are reported as reordered at the lower version") {
  vector_journal j = sample_journal();
  event_record& second = j.at(order_1, 2);
  event_record& third = j.at(order_1, 3);
  const global_position moved_to = third.position;
  second.stream_version = version{3};
  third.stream_version = version{2};
  const auto v = must_violate(j);
  CHECK(v.kind == "reordered");
  CHECK(v.stream == order_1);
  CHECK(v.at.value == 2);
  CHECK(v.position == moved_to);
}

TEST_CASE(
    "a forged event beyond the recorded head is reported as inserted even with a valid hash") {
  vector_journal j = sample_journal();
  event_record forged = j.at(order_2, 2);
  forged.position = global_position{7};
  forged.stream_version = version{3};
  forged.event_id = "forged";
  forged.hash = chain_hash(j.at(order_2, 2).hash, forged);
  j.records.push_back(forged);
  const auto v = must_violate(j);
  CHECK(v.kind == "inserted");
  CHECK(v.stream == order_2);
  CHECK(v.at.value == 3);
  CHECK(v.position.value == 7);
}

TEST_CASE("a second event with an existing version is reported as inserted") {
  vector_journal j = sample_journal();
  event_record copy = j.at(order_1, 2);
  copy.position = global_position{7};
  j.records.push_back(copy);
  const auto v = must_violate(j);
  CHECK(v.kind == "inserted");
  CHECK(v.stream == order_1);
  CHECK(v.at.value == 2);
  CHECK(v.position.value == 7);
}

TEST_CASE("a hash that is not 64 hex digits is reported as corrupted") {
  vector_journal j = sample_journal();
  j.at(order_2, 1).hash = "zz";
  const auto v = must_violate(j);
  CHECK(v.kind == "corrupted");
  CHECK(v.stream == order_2);
  CHECK(v.at.value == 1);
}

TEST_CASE("a journal read that reports corruption becomes a corrupted violation") {
  vector_journal j = sample_journal();
  j.read_error = error{errc::corrupted, "event at global position 3: column data is not text"};
  const auto v = must_violate(j);
  CHECK(v.kind == "corrupted");
  CHECK(v.detail.find("global position 3") != std::string::npos);
}

TEST_CASE("an unavailable journal is an error, not a violation") {
  vector_journal j = sample_journal();
  j.read_error = error{errc::unavailable, "down"};
  auto v = verify_journal(j);
  REQUIRE_FALSE(v.has_value());
  CHECK(v.err().code == errc::unavailable);
}

TEST_CASE("a stream that vanished with its head leaves a gap in positions reported as missing") {
  vector_journal j = sample_journal();
  const global_position hole = j.at(order_2, 1).position;
  j.erase(order_2, 1);
  j.erase(order_2, 2);
  j.heads.erase(order_2.str());
  const auto v = must_violate(j);
  CHECK(v.kind == "missing");
  CHECK(v.stream.empty());
  CHECK(v.position == hole);
}

}  // namespace
}  // namespace strata::persistence::testing
