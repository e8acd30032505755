#include <doctest/doctest.h>

#include <string>

#include "strata/domain/kernel/input.hpp"

using namespace strata;

TEST_CASE("first_invalid_utf8 finds the first byte outside a well-formed sequence") {
  constexpr auto npos = std::string_view::npos;
  CHECK(first_invalid_utf8("") == npos);
  CHECK(first_invalid_utf8("plain ascii, longer than eight bytes") == npos);
  CHECK(first_invalid_utf8("é€😀") == npos);
  CHECK(first_invalid_utf8("abcdefghij\xff") == 10);
  CHECK(first_invalid_utf8("\xc0\xaf") == 0);          // overlong '/'
  CHECK(first_invalid_utf8("\xe0\x80\xaf") == 0);      // overlong, three bytes
  CHECK(first_invalid_utf8("ab\xed\xa0\x80") == 2);    // a surrogate
  CHECK(first_invalid_utf8("\xf4\x90\x80\x80") == 0);  // above U+10FFFF
  CHECK(first_invalid_utf8("ok\xe2\x82") == 2);        // cut at the end
  CHECK(first_invalid_utf8("\x80") == 0);              // a lone continuation byte
}

TEST_CASE("check_aggregate_id refuses empty, oversized, NUL-holding and non-UTF-8 ids by name") {
  CHECK(check_aggregate_id("o-1"));
  CHECK(check_aggregate_id(std::string(max_aggregate_id_bytes, 'x')));
  CHECK(check_aggregate_id("'; DROP TABLE events; --"));
  CHECK(check_aggregate_id("%_\\"));
  auto empty = check_aggregate_id("");
  REQUIRE_FALSE(empty);
  CHECK(empty.err().code == errc::invalid_argument);
  CHECK(empty.err().message == "aggregate id is empty");
  auto huge = check_aggregate_id(std::string(max_aggregate_id_bytes + 1, 'x'));
  REQUIRE_FALSE(huge);
  CHECK(huge.err().message == "aggregate id is 1025 bytes long, more than the 1024 allowed");
  auto nul = check_aggregate_id(std::string{"ab\0c", 4});
  REQUIRE_FALSE(nul);
  CHECK(nul.err().message == "aggregate id 'ab\\x00c' holds a NUL byte at offset 2");
  auto bad = check_aggregate_id("o-\xff");
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message == "aggregate id 'o-\\xff' is not valid UTF-8 at offset 2");
}

TEST_CASE("check_json_text names the member holding a NUL character or invalid UTF-8") {
  CHECK(check_json_text("e", R"({"a":"x","b":[1,{"c":"\\u0000"}]})"));  // an escaped backslash
  auto nul = check_json_text("event X", R"({"a":"x","b":[1,{"c":"y\u0000"}]})");
  REQUIRE_FALSE(nul);
  CHECK(nul.err().code == errc::invalid_argument);
  CHECK(nul.err().message == "event X: member 'b'[1].'c' holds a NUL character");
  auto bad = check_json_text("event X", "{\"a\":\"\xff\"}");
  REQUIRE_FALSE(bad);
  CHECK(bad.err().message == "event X: member 'a' is not valid UTF-8");
  auto key = check_json_text("event X", R"({"k\u0000":1})");
  REQUIRE_FALSE(key);
  CHECK(key.err().message == "event X: member 'k\\x00' holds a NUL character");
}

TEST_CASE("quote_for_message escapes control bytes and cuts long text, saying its length") {
  CHECK(quote_for_message("abc") == "'abc'");
  CHECK(quote_for_message("a'b\n") == "'a\\x27b\\x0a'");
  CHECK(quote_for_message(std::string(100, 'x')) ==
        "'" + std::string(64, 'x') + "' (100 bytes, cut)");
}
