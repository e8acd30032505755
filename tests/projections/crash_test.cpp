// A real crash: a child process runs the runtime with the order-summary projection and is
// SIGKILLed while the projection applies live events; after a restart the read model must
// equal a fold over the journal, with every event counted exactly once (item counts add up,
// so an event applied twice would show).

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <string>
#include <vector>

#include "strata/domain/orders/read_models/order_summary.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/projections/support.hpp"

using namespace strata;
using namespace strata::testing;
using namespace std::chrono_literals;

namespace {

runtime_config config_in(const temp_dir& dir) {
  runtime_config c;
  c.journal.sqlite.path = dir.file("journal.db");
  c.projections.path = dir.file("read.db");
  c.projections.batch_events = 50;
  c.metrics.enabled = false;
  return c;
}

constexpr int orders_count = 100;

[[noreturn]] void child_main(const temp_dir& dir) {
  auto rt = runtime::start(config_in(dir));
  if (!rt || !(*rt)->register_aggregate<orders::order>()) _exit(3);
  auto& r = **rt;
  for (int i = 0; i < orders_count; ++i) {
    auto res = r.send<orders::order>("o-" + std::to_string(i),
                                     orders::place{"c-" + std::to_string(i % 7), "EUR", {}})
                   .get();
    if (!res.is_accepted()) _exit(4);
  }
  if (!r.add_projection(std::make_shared<read_models::order_summary_projection>())) _exit(5);
  bool applying = false;
  for (int wave = 0;; ++wave) {
    std::vector<std::future<command_result>> fs;
    for (int k = 0; k < 32; ++k)
      fs.push_back(r.send<orders::order>(
          "o-" + std::to_string((wave * 32 + k) % orders_count),
          orders::add_item{orders::line{"sku-" + std::to_string(wave % 3), 1, money{5, "EUR"}}}));
    global_position last{};
    for (auto& f : fs) {
      auto res = f.get();
      if (!res.is_accepted()) _exit(6);
      last = res.position;
    }
    // Once the projection has applied live events, die while it applies the next ones.
    if (applying) kill(getpid(), SIGKILL);
    if (wave >= 10 && r.wait_for("order_summary", global_position{last.value - 32}, 10s))
      applying = true;
    if (wave > 500) _exit(7);
  }
}

}  // namespace

TEST_CASE("after a SIGKILL during live projection the read model equals a fold over the journal") {
  temp_dir dir;
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) child_main(dir);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE_MESSAGE(WIFSIGNALED(status), "child exited with code " << WEXITSTATUS(status));
  CHECK(WTERMSIG(status) == SIGKILL);

  persistence::sqlite_journal_options jo;
  jo.path = dir.file("journal.db");
  auto j = persistence::sqlite_journal::open(jo);
  REQUIRE(j);
  auto head = (*j)->last_position();
  REQUIRE(head);
  CHECK(head->value > orders_count + 10 * 32);
  {
    auto before = persistence::sqlite_projection_store::open({dir.file("read.db")});
    REQUIRE(before);
    auto cp = (*before)->load_checkpoint("order_summary");
    REQUIRE(cp);
    CHECK(cp->position.value > orders_count);
    CHECK(cp->position.value <= head->value);
  }

  auto rt = runtime::start(config_in(dir));
  REQUIRE(rt);
  REQUIRE((*rt)->register_aggregate<orders::order>());
  REQUIRE((*rt)->add_projection(std::make_shared<read_models::order_summary_projection>()));
  REQUIRE((*rt)->wait_for("order_summary", *head, 30s));
  auto store = (*rt)->open_read_models();
  REQUIRE(store);
  const auto model = read_orders(*store);
  CHECK(model.size() == orders_count);
  CHECK(model == fold_orders(**j));
}
