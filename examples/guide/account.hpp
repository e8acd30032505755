#pragma once

// A bank account as a strata decider: commands open, deposit and withdraw; the events they
// record; the rules that reject them; and the schema that stores the events.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/describe.hpp>
#include <boost/json.hpp>

#include <strata/domain/kernel/decider.hpp>
#include <strata/domain/kernel/schema.hpp>

namespace bank {

// Commands: what a caller asks for.
struct open {
  std::string owner;
  std::string currency;
};
BOOST_DESCRIBE_STRUCT(open, (), (owner, currency))

struct deposit {
  std::int64_t amount = 0;  // minor units (cents)
  std::string currency;
};
BOOST_DESCRIBE_STRUCT(deposit, (), (amount, currency))

struct withdraw {
  std::int64_t amount = 0;
  std::string currency;
};
BOOST_DESCRIBE_STRUCT(withdraw, (), (amount, currency))

using command = std::variant<open, deposit, withdraw>;

// Events: what happened, stored for ever.
struct opened {
  std::string owner;
  std::string currency;
};
BOOST_DESCRIBE_STRUCT(opened, (), (owner, currency))

struct deposited {
  std::int64_t amount = 0;
  std::string currency;  // since v2; v1 deposits were all in euros
};
BOOST_DESCRIBE_STRUCT(deposited, (), (amount, currency))

struct withdrawn {
  std::int64_t amount = 0;
  std::string currency;
};
BOOST_DESCRIBE_STRUCT(withdrawn, (), (amount, currency))

using event = std::variant<opened, deposited, withdrawn>;

// State: what decide needs to know, folded from the events.
struct state {
  bool is_open = false;
  std::string owner;
  std::string currency;
  std::int64_t balance = 0;
};
BOOST_DESCRIBE_STRUCT(state, (), (is_open, owner, currency, balance))

// Rejection codes.
inline constexpr std::string_view already_open = "account_already_open";
inline constexpr std::string_view not_open = "account_not_open";
inline constexpr std::string_view not_positive = "amount_not_positive";
inline constexpr std::string_view wrong_currency = "wrong_currency";
inline constexpr std::string_view insufficient_funds = "insufficient_funds";

/// A stored v1 Deposited has no currency: every account was in euros then.
inline std::vector<strata::raw_event> deposited_v1(boost::json::object body) {
  body["currency"] = "EUR";
  return {strata::raw_event{"Deposited", 2, std::move(body)}};
}

struct account {
  static constexpr std::string_view type = "Account";
  using state = bank::state;
  using command = bank::command;
  using event = bank::event;
  static constexpr std::uint32_t state_version = 1;

  static state initial() { return {}; }

  static strata::decision<event> decide(const state& s, const command& c, const strata::context&) {
    return std::visit([&](const auto& cmd) { return decide_one(s, cmd); }, c);
  }

  static state evolve(state s, const event& e) noexcept {
    std::visit([&](const auto& ev) { apply(s, ev); }, e);
    return s;
  }

  static const strata::schema<event>& events() {
    static const strata::schema<event> s = strata::schema<event>::builder()
                                               .event<opened>("AccountOpened", 1)
                                               .event<deposited>("Deposited", 2)
                                               .event<withdrawn>("Withdrawn", 1)
                                               .upcast("Deposited", 1, deposited_v1)
                                               .build();
    return s;
  }

 private:
  // One overload per command: a command without one does not compile.
  static strata::decision<event> decide_one(const state& s, const open& o) {
    if (s.is_open) return strata::reject(already_open, "the account is open already");
    return opened{o.owner, o.currency};
  }

  static strata::decision<event> decide_one(const state& s, const deposit& d) {
    if (auto why = check(s, d.amount, d.currency)) return *why;
    return deposited{d.amount, d.currency};
  }

  static strata::decision<event> decide_one(const state& s, const withdraw& w) {
    if (auto why = check(s, w.amount, w.currency)) return *why;
    if (w.amount > s.balance)
      return strata::reject(insufficient_funds, "the balance is " + std::to_string(s.balance));
    return withdrawn{w.amount, w.currency};
  }

  /// The rules a deposit and a withdrawal share.
  static std::optional<strata::rejection> check(const state& s, std::int64_t amount,
                                                const std::string& currency) {
    if (!s.is_open) return strata::reject(not_open, "open the account first");
    if (amount <= 0) return strata::reject(not_positive, "the amount must be positive");
    if (currency != s.currency)
      return strata::reject(wrong_currency, "the account is in " + s.currency);
    return std::nullopt;
  }

  // One overload per event, each a plain change of the state.
  static void apply(state& s, const opened& o) {
    s.is_open = true;
    s.owner = o.owner;
    s.currency = o.currency;
  }
  static void apply(state& s, const deposited& d) { s.balance += d.amount; }
  static void apply(state& s, const withdrawn& w) { s.balance -= w.amount; }
};

}  // namespace bank
