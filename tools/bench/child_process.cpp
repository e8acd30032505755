#include "tools/bench/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "tools/bench/common.hpp"

namespace strata::bench {

std::string self_exe() {
  char path[4096];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  check(n > 0, "strata-bench: cannot find /proc/self/exe");
  path[n] = '\0';
  return path;
}

child_process::child_process(std::vector<std::string> args, std::string what) {
  signal(SIGPIPE, SIG_IGN);  // a child that died answers EOF, not SIGPIPE
  int to_child[2], from_child[2];
  check(::pipe2(to_child, O_CLOEXEC) == 0 && ::pipe2(from_child, O_CLOEXEC) == 0,
        what + ": pipe: " + std::string{std::strerror(errno)});
  pid_ = ::fork();
  check(pid_ >= 0, what + ": fork: " + std::string{std::strerror(errno)});
  if (pid_ == 0) {
    ::dup2(to_child[0], 0);
    ::dup2(from_child[1], 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  in_ = ::fdopen(to_child[1], "w");
  out_ = ::fdopen(from_child[0], "r");
}

child_process::~child_process() {
  if (pid_ > 0) {
    write_line("quit");
    std::fclose(in_);
    ::waitpid(pid_, nullptr, 0);
  } else if (in_ != nullptr) {
    std::fclose(in_);
  }
  if (out_ != nullptr) std::fclose(out_);
}

void child_process::write_line(const std::string& line) {
  std::fputs((line + "\n").c_str(), in_);
  std::fflush(in_);
}

std::string child_process::read_line() {
  std::string line;
  for (int c; (c = std::fgetc(out_)) != EOF && c != '\n';) line.push_back(static_cast<char>(c));
  return line;
}

void child_process::kill_now() {
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace strata::bench
