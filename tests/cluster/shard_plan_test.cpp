// The pure parts of the cluster: the shard hash (a storage contract: these values must never
// change) and the assignment plan (even, minimal moves, the same on every node).

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "strata/persistence/cluster.hpp"

using namespace strata;

namespace {

// The expected values below were computed apart from strata's code: the first three are the
// published FNV-1a 64 test vectors of the FNV reference (""), ("a"), ("foobar"); the stream
// names' hashes come from a separate few-line script of the same definition (XOR each byte into
// 0xcbf29ce484222325, multiply by 0x100000001b3 mod 2^64), reduced modulo 64 and 7 by hand.

TEST_CASE("FNV-1a 64 gives the published test vectors") {
  CHECK(fnv1a_64("") == 0xcbf29ce484222325ULL);
  CHECK(fnv1a_64("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(fnv1a_64("foobar") == 0x85944171f73967e8ULL);
  CHECK(fnv1a_64("bar", fnv1a_64("foo")) == fnv1a_64("foobar"));  // it continues a hash
  static_assert(fnv1a_64("a") == 0xaf63dc4c8601ec8cULL, "usable at compile time");
}

TEST_CASE("an aggregate's shard is the FNV-1a 64 of its stream name modulo the shard count") {
  CHECK(fnv1a_64("Order-456") == 0xec0743bdcf612875ULL);
  CHECK(shard_of("Order", "456", 64) == 53);
  CHECK(shard_of("Order", "456", 7) == 6);
  CHECK(fnv1a_64("Payment-p-1") == 0xe8d54cdc0e2e7186ULL);
  CHECK(shard_of("Payment", "p-1", 64) == 6);
  CHECK(shard_of("Payment", "p-1", 7) == 2);
  CHECK(shard_of("Order", "456", 1) == 0);
}

using owners = std::vector<std::string>;

std::map<std::string, std::size_t> counts_of(const owners& plan) {
  std::map<std::string, std::size_t> counts;
  for (const auto& o : plan) ++counts[o];
  return counts;
}

// Shards that had a live owner and get another one.
std::size_t moves(const owners& before, const owners& after, const std::set<std::string>& live) {
  std::size_t moved = 0;
  for (std::size_t i = 0; i < before.size(); ++i)
    if (live.count(before[i]) != 0 && before[i] != after[i]) ++moved;
  return moved;
}

// The fewest moves any even plan needs, by trying every choice of the members that get one
// shard more (small member counts only).
std::size_t fewest_moves(const std::vector<std::string>& members, std::uint32_t shards,
                         const owners& current) {
  std::map<std::string, std::size_t> held;
  for (const auto& o : current) ++held[o];
  const std::size_t n = members.size();
  const std::size_t base = shards / n;
  const std::size_t extra = shards % n;
  std::size_t best = std::numeric_limits<std::size_t>::max();
  for (std::uint32_t mask = 0; mask < (1U << n); ++mask) {
    if (static_cast<std::size_t>(__builtin_popcount(mask)) != extra) continue;
    std::size_t excess = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t share = base + ((mask >> i) & 1U);
      const std::size_t h = held[members[i]];
      excess += h > share ? h - share : 0;
    }
    best = std::min(best, excess);
  }
  return best;
}

std::vector<std::string> names(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back("node-" + std::to_string(i));
  return out;
}

void check_even(const owners& plan, const std::vector<std::string>& members) {
  const std::set<std::string> live(members.begin(), members.end());
  auto counts = counts_of(plan);
  for (const auto& o : plan) REQUIRE(live.count(o) == 1);
  std::size_t low = std::numeric_limits<std::size_t>::max();
  std::size_t high = 0;
  for (const auto& m : members) {
    low = std::min(low, counts[m]);
    high = std::max(high, counts[m]);
  }
  CHECK(high - low <= 1);
}

TEST_CASE("a plan from any current owners is even and moves no more shards than it must") {
  std::mt19937 random{20261205};
  for (std::size_t n = 1; n <= 10; ++n) {
    for (std::uint32_t shards : {1U, 5U, 16U, 64U, 100U}) {
      for (int round = 0; round < 20; ++round) {
        const auto members = names(n);
        // Current owners: live members, a node that is gone, or nobody.
        owners current(shards);
        for (auto& o : current) {
          const auto pick = random() % (n + 2);
          o = pick < n ? members[pick] : pick == n ? std::string{"gone"} : std::string{};
        }
        CAPTURE(n);
        CAPTURE(shards);
        const auto plan = plan_assignment(members, shards, current);
        REQUIRE(plan.size() == shards);
        check_even(plan, members);
        const std::set<std::string> live(members.begin(), members.end());
        CHECK(moves(current, plan, live) == fewest_moves(members, shards, current));
      }
    }
  }
}

TEST_CASE(
    "a joining member takes shards only for itself and a leaving member's shards alone move") {
  for (std::size_t n = 1; n <= 40; ++n) {
    for (std::uint32_t shards : {7U, 64U, 256U}) {
      CAPTURE(n);
      CAPTURE(shards);
      auto members = names(n);
      const auto before = plan_assignment(members, shards, {});
      check_even(before, members);

      auto joined = members;
      joined.push_back("node-new");
      const auto after_join = plan_assignment(joined, shards, before);
      check_even(after_join, joined);
      for (std::uint32_t s = 0; s < shards; ++s)
        if (after_join[s] != before[s]) CHECK(after_join[s] == "node-new");
      CHECK(moves(before, after_join, {members.begin(), members.end()}) ==
            counts_of(after_join)["node-new"]);

      if (n == 1) continue;
      auto remaining = members;
      const std::string gone = remaining[n / 2];
      remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(n / 2));
      const auto after_leave = plan_assignment(remaining, shards, before);
      check_even(after_leave, remaining);
      for (std::uint32_t s = 0; s < shards; ++s)
        if (after_leave[s] != before[s]) CHECK(before[s] == gone);
    }
  }
}

TEST_CASE("every member computes the same plan whatever the order it lists the members in") {
  auto members = names(7);
  owners current(64);
  for (std::size_t s = 0; s < current.size(); ++s) current[s] = members[s % 3];
  const auto plan = plan_assignment(members, 64, current);
  std::mt19937 random{7};
  for (int round = 0; round < 10; ++round) {
    std::shuffle(members.begin(), members.end(), random);
    CHECK(plan_assignment(members, 64, current) == plan);
  }
}

TEST_CASE("with no live member no shard has an owner") {
  const auto plan = plan_assignment({}, 8, owners(8, "node-0"));
  CHECK(plan == owners(8));
}

}  // namespace
