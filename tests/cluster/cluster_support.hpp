#pragma once

// What the cluster's test cases share: the test server, and node programs run as child
// processes with pipes on their standard input and output.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace strata::cluster_testing {

/// The test server (STRATA_TEST_PG), or nothing when it is not set.
inline std::optional<std::string> test_server() {
  const char* conninfo = std::getenv("STRATA_TEST_PG");
  if (conninfo == nullptr || *conninfo == '\0') return std::nullopt;
  return std::string{conninfo};
}

/// Declares `var`, the test server's connection string; skips the case when none is set.
#define STRATA_CLUSTER_SERVER(var)                                                  \
  auto var##_opt = ::strata::cluster_testing::test_server();                        \
  if (!var##_opt) {                                                                 \
    MESSAGE(                                                                        \
        "skipped: STRATA_TEST_PG is not set (source scripts/pg-test-server.sh and " \
        "call pg_test_server_start)");                                              \
    return;                                                                         \
  }                                                                                 \
  const std::string var = *var##_opt

/// A program run as a child process, its stdout read line by line and its stdin written;
/// killed with SIGKILL when still running at the end.
class child_process {
 public:
  explicit child_process(const std::vector<std::string>& args) {
    // A line written to a program that died (killed by a case, or crashed) must fail the
    // case's check, not end the test process with SIGPIPE.
    signal(SIGPIPE, SIG_IGN);
    int down[2];
    int up[2];
    REQUIRE(pipe(down) == 0);
    REQUIRE(pipe(up) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      dup2(down[0], STDIN_FILENO);
      dup2(up[1], STDOUT_FILENO);
      for (int fd : {down[0], down[1], up[0], up[1]}) ::close(fd);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    ::close(down[0]);
    ::close(up[1]);
    to_ = fdopen(down[1], "w");
    from_ = fdopen(up[0], "r");
  }
  ~child_process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (to_ != nullptr) std::fclose(to_);
    if (from_ != nullptr) std::fclose(from_);
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// The next line the program wrote, without its newline; a note when it ended instead.
  std::string read_line() {
    char line[4096] = {};
    if (std::fgets(line, sizeof line, from_) == nullptr) return "(the process ended)";
    std::string s{line};
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }

  /// Writes `line` and a newline to the program's stdin.
  void write_line(const std::string& line) {
    std::fprintf(to_, "%s\n", line.c_str());
    std::fflush(to_);
  }

  /// Waits for the program's end; its wait status.
  int wait() {
    int status = 0;
    REQUIRE(waitpid(pid_, &status, 0) == pid_);
    pid_ = -1;
    return status;
  }

  /// Sends `signal` to the program (SIGSTOP, SIGCONT); true when it was delivered.
  bool send_signal(int signal) { return pid_ > 0 && kill(pid_, signal) == 0; }

  /// kill -9; the wait status seen.
  int kill_hard() {
    REQUIRE(kill(pid_, SIGKILL) == 0);
    return wait();
  }

 private:
  pid_t pid_ = -1;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
};

}  // namespace strata::cluster_testing
