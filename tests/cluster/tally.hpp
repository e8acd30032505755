#pragma once

// The aggregate the cluster's multi-process cases send commands to: a tally that is raised by
// positive amounts until it is closed.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/describe.hpp>

#include "strata/domain/kernel/decider.hpp"
#include "strata/domain/kernel/schema.hpp"

namespace strata::cluster_testing {

struct raise {
  std::int64_t amount = 0;
  std::string note;
};
BOOST_DESCRIBE_STRUCT(raise, (), (amount, note))
struct close {};
BOOST_DESCRIBE_STRUCT(close, (), ())
using command = std::variant<raise, close>;

struct raised {
  std::int64_t amount = 0;
  std::string note;
};
BOOST_DESCRIBE_STRUCT(raised, (), (amount, note))
struct closed {};
BOOST_DESCRIBE_STRUCT(closed, (), ())
using event = std::variant<raised, closed>;

struct tally_state {
  std::int64_t total = 0;
  bool is_closed = false;
};
BOOST_DESCRIBE_STRUCT(tally_state, (), (total, is_closed))

struct tally {
  static constexpr std::string_view type = "Tally";
  using state = tally_state;
  using command = cluster_testing::command;
  using event = cluster_testing::event;
  static constexpr std::uint32_t state_version = 1;

  static state initial() { return {}; }

  static decision<event> decide(const state& s, const command& c, const context&) {
    if (s.is_closed) return reject("tally_closed", "the tally is closed; nothing more is added");
    if (std::holds_alternative<close>(c)) return std::vector<event>{closed{}};
    const auto& r = std::get<raise>(c);
    if (r.amount <= 0)
      return reject("not_positive",
                    "a tally is raised by at least 1, not " + std::to_string(r.amount));
    return std::vector<event>{raised{r.amount, r.note}};
  }

  static state evolve(state s, const event& e) noexcept {
    if (const auto* r = std::get_if<raised>(&e)) s.total += r->amount;
    if (std::holds_alternative<closed>(e)) s.is_closed = true;
    return s;
  }

  static const schema<event>& events() {
    static const schema<event> s = schema<event>::builder()
                                       .event<raised>("TallyRaised", 1)
                                       .event<closed>("TallyClosed", 1)
                                       .build();
    return s;
  }
};

}  // namespace strata::cluster_testing
