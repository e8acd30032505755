#include <doctest/doctest.h>

#include <sstream>

#include "strata/domain/kernel/decider.hpp"
#include "strata/domain/kernel/ids.hpp"
#include "strata/domain/kernel/result.hpp"
#include "strata/domain/kernel/time.hpp"

using namespace strata;

TEST_CASE("a stream id splits into aggregate type and id at the first dash") {
  stream_id s{"Order", "order-456"};
  CHECK(s.str() == "Order-order-456");
  CHECK(s.aggregate_type() == "Order");
  CHECK(s.aggregate_id() == "order-456");
  auto parsed = stream_id::parse("Order-order-456");
  CHECK(parsed == s);
  CHECK(parsed.aggregate_id() == "order-456");
  CHECK(stream_id::parse("nodash").empty());
  CHECK(stream_id::parse("-x").empty());
  CHECK(stream_id::parse("Order-").empty());
}

TEST_CASE("versions and positions order and print as values") {
  CHECK(version{1} < version{2});
  CHECK(version{2}.next() == version{3});
  CHECK(global_position{7} > global_position{6});
  std::ostringstream os;
  os << version{3} << ' ' << global_position{9};
  CHECK(os.str() == "v3 @9");
}

TEST_CASE("a result holds either a value or an error") {
  result<int> good = 42;
  REQUIRE(good);
  CHECK(*good == 42);
  result<int> bad = error{errc::conflict, "head moved"};
  REQUIRE_FALSE(bad);
  CHECK(bad.err().code == errc::conflict);
  CHECK(to_string(bad.err()) == "conflict: head moved");
  result<void> fine = ok();
  CHECK(fine);
  result<void> failed = error{errc::unavailable, "disk"};
  CHECK_FALSE(failed);
  CHECK(failed.err().message == "disk");
}

TEST_CASE("reading the value of a failed result throws bad_result_access with the error") {
  result<int> bad = error{errc::conflict, "head moved"};
  try {
    (void)bad.value();
    FAIL("value() on an error did not throw");
  } catch (const bad_result_access& ex) {
    CHECK(ex.code() == errc::conflict);
    CHECK(ex.message() == "head moved");
    CHECK(std::string{ex.what()} == "conflict: head moved");
  }
  const result<std::string> cbad = error{errc::not_found, "no such order"};
  CHECK_THROWS_AS((void)cbad.value(), bad_result_access);
  CHECK_THROWS_AS((void)*cbad, bad_result_access);
  CHECK_THROWS_AS((void)cbad->size(), bad_result_access);
  result<std::string> moved = error{errc::internal, "x"};
  CHECK_THROWS_AS((void)std::move(moved).value(), bad_result_access);
  CHECK_THROWS_WITH_AS((void)std::move(bad).value(), "conflict: head moved", bad_result_access);
}

TEST_CASE("reading the error of a successful result throws bad_result_access") {
  result<int> good = 42;
  CHECK_THROWS_AS((void)good.err(), bad_result_access);
  CHECK_THROWS_AS((void)std::move(good).err(), bad_result_access);
  result<void> fine = ok();
  try {
    (void)fine.err();
    FAIL("err() on a success did not throw");
  } catch (const bad_result_access& ex) {
    CHECK(ex.code() == errc::internal);
    CHECK(std::string{ex.what()}.find("holds a value") != std::string::npos);
  }
  CHECK_THROWS_AS((void)std::move(fine).err(), bad_result_access);
  const std::exception& base = bad_result_access{error{errc::timeout, "late"}};
  CHECK(std::string{base.what()} == "timeout: late");
}

TEST_CASE("only transient error codes are retryable") {
  CHECK(is_retryable(errc::conflict));
  CHECK(is_retryable(errc::unavailable));
  CHECK(is_retryable(errc::overloaded));
  CHECK(is_retryable(errc::timeout));
  CHECK_FALSE(is_retryable(errc::corrupted));
  CHECK_FALSE(is_retryable(errc::invalid_argument));
  CHECK_FALSE(is_retryable(errc::rejected));
  CHECK(to_string(errc::not_found) == "not_found");
}

TEST_CASE("error codes map to the status a failed command is answered and counted with") {
  CHECK(status_of(errc::rejected) == command_status::rejected);
  CHECK(status_of(errc::conflict) == command_status::conflict);
  CHECK(status_of(errc::overloaded) == command_status::overloaded);
  CHECK(status_of(errc::timeout) == command_status::timeout);
  CHECK(status_of(errc::unavailable) == command_status::unavailable);
  CHECK(status_of(errc::internal) == command_status::failed);
  CHECK(status_of(errc::corrupted) == command_status::failed);
  CHECK(status_of(errc::invalid_argument) == command_status::failed);
  CHECK(status_of(errc::not_found) == command_status::failed);
  CHECK(status_of(errc::unsupported) == command_status::failed);
  CHECK(to_string(command_status::accepted) == "accepted");
  CHECK(to_string(command_status::unavailable) == "unavailable");
  CHECK(to_string(command_status::failed) == "failed");
}

TEST_CASE("timestamps round-trip through ISO 8601 with microseconds") {
  const timestamp t = from_unix_micros(1'764'619'200'123'456);  // 2025-12-01T20:00:00.123456Z
  CHECK(to_iso8601(t) == "2025-12-01T20:00:00.123456Z");
  auto back = parse_iso8601(to_iso8601(t));
  REQUIRE(back);
  CHECK(*back == t);
  CHECK(to_iso8601(from_unix_micros(0)) == "1970-01-01T00:00:00.000000Z");
  CHECK(to_iso8601(from_unix_micros(-1)) == "1969-12-31T23:59:59.999999Z");
  auto leap = parse_iso8601("2024-02-29T23:59:59Z");
  REQUIRE(leap);
  CHECK(to_iso8601(*leap) == "2024-02-29T23:59:59.000000Z");
  auto short_fraction = parse_iso8601("2024-02-29T00:00:00.5+00:00");
  REQUIRE(short_fraction);
  CHECK(to_unix_micros(*short_fraction) % 1'000'000 == 500'000);
}

TEST_CASE("malformed timestamps are refused, not guessed") {
  CHECK_FALSE(parse_iso8601(""));
  CHECK_FALSE(parse_iso8601("2024-13-01T00:00:00Z"));
  CHECK_FALSE(parse_iso8601("2024-01-01T00:00:00"));
  CHECK_FALSE(parse_iso8601("2024-01-01T00:00:00+02:00"));
  CHECK_FALSE(parse_iso8601("2024-01-01T00:00:00.Z"));
  CHECK_FALSE(parse_iso8601("yesterday"));
}

namespace {
struct e1 {
  int x = 0;
};
struct e2 {};
using ev = std::variant<e1, e2>;
}  // namespace

TEST_CASE("a decision holds events or a rejection") {
  decision<ev> none;
  CHECK_FALSE(none.is_rejected());
  CHECK(none.events().empty());
  decision<ev> one = e1{5};
  REQUIRE(one.events().size() == 1);
  CHECK(std::get<e1>(one.events()[0]).x == 5);
  decision<ev> no = reject("empty", "nothing to confirm");
  REQUIRE(no.is_rejected());
  CHECK(no.why().code == "empty");
  decision<ev> two = std::vector<ev>{e1{1}, e2{}};
  CHECK(two.events().size() == 2);
}
