#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "strata/domain/users/user_activity.hpp"
#include "strata/testing/given_when_then.hpp"
#include "strata/testing/golden.hpp"

using namespace strata;
using namespace strata::users;
using namespace std::chrono_literals;
using strata::testing::rejected;

namespace {

using given = strata::testing::given<user_activity>;

template <class... E>
std::string then(E&&... events) {
  return strata::testing::then<user_activity>(std::forward<E>(events)...);
}

const timestamp noon = from_unix_micros(1'767'268'800'000'000);  // 2026-01-01T12:00:00Z

std::int64_t us(timestamp t) {
  return to_unix_micros(t);
}

action_recorded viewed_at(std::uint64_t seq, timestamp t) {
  return action_recorded{seq, action_kind::viewed, "sku-" + std::to_string(seq), {}, us(t)};
}

// `n` actions, one every `step`, the last at `last`.
given actions_until(timestamp last, std::size_t n, std::chrono::microseconds step) {
  given g;
  for (std::size_t i = 0; i < n; ++i)
    g.then_also(viewed_at(i + 1, last - step * static_cast<std::int64_t>(n - 1 - i)));
  return g.at(last);
}

}  // namespace

TEST_CASE("a recorded action gets the next sequence number and the decision time") {
  CHECK(given{}.at(noon).when(record{action_kind::signed_in, "", {}}) ==
        then(action_recorded{1, action_kind::signed_in, "", {}, us(noon)}));
  auto g = given{{viewed_at(1, noon - 10s), viewed_at(2, noon - 5s)}}.at(noon);
  CHECK(g.when(record{action_kind::searched, "red shoes", {{"page", "2"}}}) ==
        then(action_recorded{3, action_kind::searched, "red shoes", {{"page", "2"}}, us(noon)}));
}

TEST_CASE("every known action kind can be recorded") {
  for (auto k :
       {action_kind::signed_in, action_kind::signed_out, action_kind::viewed, action_kind::searched,
        action_kind::added_to_cart, action_kind::removed_from_cart, action_kind::placed_order,
        action_kind::cancelled_order, action_kind::updated_profile})
    CHECK(given{}.at(noon).when(record{k, "x", {}}) ==
          then(action_recorded{1, k, "x", {}, us(noon)}));
}

TEST_CASE("an action kind outside the known set is rejected") {
  CHECK(given{}.when(record{static_cast<action_kind>(200), "x", {}}) == rejected(kind_unknown));
}

TEST_CASE("a subject may have up to 256 bytes") {
  const std::string longest(max_subject_bytes, 's');
  CHECK(given{}.at(noon).when(record{action_kind::viewed, longest, {}}) ==
        then(action_recorded{1, action_kind::viewed, longest, {}, us(noon)}));
  CHECK(given{}.when(record{action_kind::viewed, longest + "s", {}}) == rejected(subject_too_long));
}

TEST_CASE("an action may have up to 16 attributes") {
  std::map<std::string, std::string> attrs;
  for (std::size_t i = 0; i < max_attributes; ++i) attrs["k" + std::to_string(i)] = "v";
  CHECK(given{}.at(noon).when(record{action_kind::viewed, "x", attrs}) ==
        then(action_recorded{1, action_kind::viewed, "x", attrs, us(noon)}));
  attrs["one-more"] = "v";
  CHECK(given{}.when(record{action_kind::viewed, "x", attrs}) == rejected(too_many_attributes));
}

TEST_CASE("attribute keys and values may have up to 128 bytes") {
  const std::string longest(max_attribute_bytes, 'a');
  std::map<std::string, std::string> ok{{longest, longest}};
  CHECK(given{}.at(noon).when(record{action_kind::viewed, "x", ok}) ==
        then(action_recorded{1, action_kind::viewed, "x", ok, us(noon)}));
  CHECK(given{}.when(record{action_kind::viewed, "x", {{longest + "a", "v"}}}) ==
        rejected(attribute_key_too_long));
  CHECK(given{}.when(record{action_kind::viewed, "x", {{"k", longest + "a"}}}) ==
        rejected(attribute_value_too_long));
}

TEST_CASE("an attribute key must not be empty") {
  CHECK(given{}.when(record{action_kind::viewed, "x", {{"", "v"}}}) ==
        rejected(attribute_key_empty));
}

TEST_CASE("the hundredth action within a minute is accepted and the next is rate limited") {
  auto g = actions_until(noon, max_actions_per_minute - 1, 500ms);
  CHECK(g.when(record{action_kind::viewed, "x", {}}) ==
        then(action_recorded{max_actions_per_minute, action_kind::viewed, "x", {}, us(noon)}));
  g.then_also(action_recorded{max_actions_per_minute, action_kind::viewed, "x", {}, us(noon)});
  CHECK(g.when(record{action_kind::viewed, "y", {}}) == rejected(rate_limited));
}

TEST_CASE("an action exactly one minute old no longer counts against the rate limit") {
  given g{{viewed_at(1, noon - 60s)}};
  for (std::uint64_t seq = 2; seq <= max_actions_per_minute; ++seq)
    g.then_also(viewed_at(seq, noon - 30s));
  CHECK(g.at(noon - 1us).when(record{action_kind::viewed, "x", {}}) == rejected(rate_limited));
  CHECK(g.at(noon).when(record{action_kind::viewed, "x", {}}) ==
        then(action_recorded{max_actions_per_minute + 1, action_kind::viewed, "x", {}, us(noon)}));
}

TEST_CASE("a rate-limited user can record again once the minute has passed") {
  auto g = actions_until(noon, max_actions_per_minute, 1ms);
  CHECK(g.when(record{action_kind::viewed, "x", {}}) == rejected(rate_limited));
  auto after = actions_until(noon, max_actions_per_minute, 1ms).at(noon + 60s);
  CHECK(after.when(record{action_kind::viewed, "x", {}}) ==
        then(action_recorded{
            max_actions_per_minute + 1, action_kind::viewed, "x", {}, us(noon + 60s)}));
}

TEST_CASE("the rate-limit state stays bounded however long the history") {
  auto s = actions_until(noon, 1000, 100ms).state();
  CHECK(s.last_sequence == 1000);
  CHECK(s.recent_us.size() == max_actions_per_minute);
  CHECK(s.recent_us.back() == us(noon));
  auto sparse = actions_until(noon, 50, 30s).state();
  CHECK(sparse.recent_us.size() == 2);  // only noon - 30s and noon are inside the minute
}

TEST_CASE("an action replayed out of time order keeps the recent times sorted") {
  auto s = given{{viewed_at(1, noon), viewed_at(2, noon - 20s), viewed_at(3, noon - 10s)}}.state();
  CHECK(s.recent_us == std::vector<std::int64_t>{us(noon - 20s), us(noon - 10s), us(noon)});
  CHECK(s.last_sequence == 3);
}

TEST_CASE("every stored UserActivity event shape matches its golden JSON") {
  CHECK(strata::testing::golden_mismatches<user_activity>(
            STRATA_GOLDEN_DIR,
            {
                {"UserActionRecorded", 1,
                 action_recorded{1, action_kind::searched, "red shoes", {{"page", "2"}}, us(noon)}},
            }) == "");
}

TEST_CASE("a user activity state survives its snapshot JSON") {
  auto s = actions_until(noon, 5, 1s).state();
  auto text = json::to_json(s);
  CHECK(strata::testing::state_round_trip<user_activity>(s) == text);
  auto back = json::from_json<state>(boost::json::parse(text));
  CHECK(back.last_sequence == 5);
  CHECK(back.recent_us == s.recent_us);
}

TEST_CASE("evolve applies any user activity event to any user activity state") {
  const auto min = std::numeric_limits<std::int64_t>::min();
  const auto max = std::numeric_limits<std::int64_t>::max();
  CHECK(strata::testing::evolve_mismatches<user_activity>(
            {actions_until(noon, 150, 100ms).state()},
            {viewed_at(1, noon), action_recorded{0, action_kind::viewed, "", {}, min},
             action_recorded{
                 std::numeric_limits<std::uint64_t>::max(), action_kind::viewed, "", {}, max},
             action_recorded{7, static_cast<action_kind>(99), "", {}, 0}}) == "");
}
