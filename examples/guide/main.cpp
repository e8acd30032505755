// The bank of docs/GUIDE.md: opens an account, deposits, withdraws, is refused a withdrawal
// beyond the balance, and prints the account. With a configuration file as its argument it
// runs on that journal (bank-postgres.json: PostgreSQL); without, on the SQLite file bank.db in
// the working directory. Commands carry ids, so a second run answers each with its original
// outcome and changes nothing.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <variant>

#include <strata/runtime/runtime.hpp>

#include "account.hpp"
#include "balances.hpp"

namespace {

strata::runtime_config configuration(int argc, char** argv) {
  if (argc > 1) {
    auto loaded = strata::load_config(argv[1]);
    if (!loaded) {
      std::fprintf(stderr, "%s\n", to_string(loaded.err()).c_str());
      std::exit(2);
    }
    return *loaded;
  }
  strata::runtime_config config;
  config.journal.backend = strata::journal_backend::sqlite;
  config.journal.sqlite.path = "bank.db";
  config.projections.path = "bank-read.db";
  config.metrics.enabled = false;
  return config;
}

/// Sends one command as alice, with `command_id` as its idempotency key, and waits for the
/// answer.
strata::command_result send(strata::runtime& rt, const std::string& account_id,
                            bank::command command, const std::string& command_id) {
  strata::command_metadata meta;
  meta.user_id = "alice";
  meta.command_id = command_id;
  auto result = rt.send<bank::account>(account_id, std::move(command), meta).get();
  std::printf("%s: %s\n", command_id.c_str(), to_string(result).c_str());
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  auto started = strata::runtime::start(configuration(argc, argv));
  if (!started) {
    std::fprintf(stderr, "start: %s\n", to_string(started.err()).c_str());
    return 1;
  }
  std::unique_ptr<strata::runtime> rt = std::move(*started);
  if (auto r = rt->register_aggregate<bank::account>(); !r) {
    std::fprintf(stderr, "register: %s\n", to_string(r.err()).c_str());
    return 1;
  }
  if (auto r = rt->add_projection(std::make_shared<bank::balances>()); !r) {
    std::fprintf(stderr, "projection: %s\n", to_string(r.err()).c_str());
    return 1;
  }

  send(*rt, "acc-1", bank::open{"alice", "EUR"}, "open-1");
  send(*rt, "acc-1", bank::deposit{500, "EUR"}, "deposit-1");
  auto withdrawal = send(*rt, "acc-1", bank::withdraw{200, "EUR"}, "withdraw-1");
  auto refused = send(*rt, "acc-1", bank::withdraw{1000, "EUR"}, "withdraw-2");
  if (!withdrawal.is_accepted() || !refused.why || refused.why->code != bank::insufficient_funds)
    return 1;

  auto view = rt->current_state<bank::account>("acc-1").get();
  if (!view) {
    std::fprintf(stderr, "state: %s\n", to_string(view.err()).c_str());
    return 1;
  }
  std::printf("acc-1 at v%llu: %lld %s\n", static_cast<unsigned long long>(view->at.value),
              static_cast<long long>(view->state.balance), view->state.currency.c_str());

  // Read your own write: wait until the projection has applied the withdrawal, then query.
  if (auto r = rt->wait_for("balances", withdrawal.position, std::chrono::seconds(5)); !r) {
    std::fprintf(stderr, "wait_for: %s\n", to_string(r.err()).c_str());
    return 1;
  }
  auto reader = rt->open_read_models();
  if (!reader) return 1;
  auto row = bank::balance_of(*reader, "acc-1");
  if (!row || !*row) return 1;
  std::printf("balances: %s %s %lld %s\n", (*row)->account_id.c_str(), (*row)->owner.c_str(),
              static_cast<long long>((*row)->amount), (*row)->currency.c_str());

  // The deposits in the account's history: typed events, each with its audit record.
  auto history = rt->history<bank::account>("acc-1", strata::version{1}, view->at).get();
  if (!history) return 1;
  for (const strata::recorded<bank::account>& r : *history) {
    if (const auto* d = std::get_if<bank::deposited>(&r.event))
      std::printf("v%llu: %s deposited %lld %s\n",
                  static_cast<unsigned long long>(r.info.stream_version.value),
                  r.info.user_id.c_str(), static_cast<long long>(d->amount), d->currency.c_str());
  }

  rt->stop();
  return view->state.balance == 300 ? 0 : 1;
}
