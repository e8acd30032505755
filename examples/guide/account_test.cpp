// The bank account's rules, tested on the decider alone: no runtime, no journal.

#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <strata/testing/given_when_then.hpp>
#include <strata/testing/golden.hpp>
#include <strata/testing/upcast.hpp>

#include "account.hpp"

using namespace bank;
using strata::testing::rejected;
using given = strata::testing::given<account>;

template <class... E>
std::string then(E&&... events) {
  return strata::testing::then<account>(std::forward<E>(events)...);
}

TEST_CASE("an account is opened once") {
  CHECK(given{}.when(open{"alice", "EUR"}) == then(opened{"alice", "EUR"}));
  CHECK(given{{opened{"alice", "EUR"}}}.when(open{"bob", "EUR"}) == rejected(already_open));
}

TEST_CASE("a deposit is recorded in the account's currency") {
  CHECK(given{{opened{"alice", "EUR"}}}.when(deposit{500, "EUR"}) == then(deposited{500, "EUR"}));
  CHECK(given{{opened{"alice", "EUR"}}}.when(deposit{500, "USD"}) == rejected(wrong_currency));
  CHECK(given{{opened{"alice", "EUR"}}}.when(deposit{0, "EUR"}) == rejected(not_positive));
  CHECK(given{}.when(deposit{500, "EUR"}) == rejected(not_open));
}

TEST_CASE("a withdrawal beyond the balance is refused for insufficient funds") {
  auto funded = given{{opened{"alice", "EUR"}, deposited{500, "EUR"}}};
  CHECK(funded.when(withdraw{200, "EUR"}) == then(withdrawn{200, "EUR"}));
  CHECK(funded.when(withdraw{500, "EUR"}) == then(withdrawn{500, "EUR"}));
  CHECK(funded.when(withdraw{501, "EUR"}) == rejected(insufficient_funds));
}

TEST_CASE("the balance is the deposits minus the withdrawals") {
  auto history = given{{opened{"alice", "EUR"}, deposited{500, "EUR"}, withdrawn{200, "EUR"}}};
  CHECK(history.state().balance == 300);
}

TEST_CASE("a stored v1 Deposited, which had no currency, reads as a deposit in euros") {
  CHECK(strata::testing::upcast<account>("Deposited", 1, R"({"amount":500})") ==
        then(deposited{500, "EUR"}));
}

TEST_CASE("every stored event shape matches its golden JSON") {
  CHECK(strata::testing::golden_mismatches<account>(
            BANK_GOLDEN_DIR, {{"AccountOpened", 1, opened{"alice", "EUR"}},
                              {"Deposited", 1, deposited{500, "EUR"}},
                              {"Deposited", 2, deposited{500, "USD"}},
                              {"Withdrawn", 1, withdrawn{200, "EUR"}}}) == "");
}

TEST_CASE("evolve applies any event to any state") {
  CHECK(strata::testing::evolve_mismatches<account>(
            {given{{opened{"alice", "EUR"}, deposited{500, "EUR"}}}.state()},
            {withdrawn{900, "EUR"}, opened{"bob", "USD"}}) == "");
}
