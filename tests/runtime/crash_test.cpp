// Durability against a crash of the process: a child process runs the runtime, reports every
// accepted event id through a pipe, and SIGKILLs itself mid-stream. Every reported event must
// be in the journal file afterwards.

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <future>
#include <set>
#include <string>

#include "strata/domain/orders/order.hpp"
#include "strata/persistence/sqlite_journal.hpp"
#include "strata/runtime/runtime.hpp"
#include "tests/runtime/temp_dir.hpp"

using namespace strata;

namespace {

[[noreturn]] void child_main(const std::string& path, int out_fd, int kill_after) {
  runtime_config c;
  c.journal.sqlite.path = path;
  c.metrics.enabled = false;
  auto rt = runtime::start(c);
  if (!rt || !(*rt)->register_aggregate<orders::order>()) _exit(3);
  int accepted = 0;
  for (int i = 0;; ++i) {
    // Many commands in flight, so that the kill lands while batches are being written.
    std::vector<std::future<command_result>> fs;
    for (int k = 0; k < 32; ++k)
      fs.push_back((*rt)->send<orders::order>(
          "o-" + std::to_string(i) + "-" + std::to_string(k),
          orders::place{"c", "EUR", {orders::line{"s", 1, money{100, "EUR"}}}}));
    for (auto& f : fs) {
      auto r = f.get();
      if (!r.is_accepted()) _exit(4);
      for (const auto& e : r.records) {
        std::string line = e.event_id + "\n";
        if (write(out_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(5);
      }
      if (++accepted == kill_after) kill(getpid(), SIGKILL);
    }
  }
}

}  // namespace

TEST_CASE("every event acknowledged before a SIGKILL is in the journal after it") {
  strata::testing::temp_dir dir;
  const std::string path = dir.file("strata.db");
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    child_main(path, fds[1], 500);
  }
  close(fds[1]);
  std::set<std::string> acknowledged;
  {
    FILE* in = fdopen(fds[0], "r");
    REQUIRE(in != nullptr);
    char buf[128];
    while (std::fgets(buf, sizeof buf, in) != nullptr) {
      std::string id{buf};
      if (!id.empty() && id.back() == '\n') id.pop_back();
      acknowledged.insert(id);
    }
    std::fclose(in);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE_MESSAGE(WIFSIGNALED(status), "child exited with code " << WEXITSTATUS(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  CHECK(acknowledged.size() == 500);

  persistence::sqlite_journal_options o;
  o.path = path;
  auto j = persistence::sqlite_journal::open(o);
  REQUIRE(j);
  auto all = (*j)->read_all(global_position{0}, 1'000'000);
  REQUIRE(all);
  std::set<std::string> stored;
  for (const auto& r : *all) stored.insert(r.event_id);
  std::size_t missing = 0;
  for (const auto& id : acknowledged) missing += stored.count(id) == 0;
  CHECK(missing == 0);
  CHECK(stored.size() >= acknowledged.size());
}
