#pragma once

// A child process of strata-bench (`strata-bench <internal subcommand> ...`) driven line by
// line over its stdin and stdout: the nodes of `cluster`, the peers of `link`.

#include <sys/types.h>

#include <cstdio>
#include <string>
#include <vector>

namespace strata::bench {

/// The path of the running strata-bench, to start children of it.
std::string self_exe();

class child_process {
 public:
  /// Starts `args` (argv[0] a path) with its stdin and stdout on pipes. `what` names it in
  /// errors.
  child_process(std::vector<std::string> args, std::string what);
  /// Writes "quit", closes its stdin and waits for it to exit (unless killed already).
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  void write_line(const std::string& line);
  /// The next line it writes, without the newline; empty at its end.
  std::string read_line();
  std::string ask(const std::string& line) {
    write_line(line);
    return read_line();
  }
  /// SIGKILL, and waits for it.
  void kill_now();

 private:
  pid_t pid_ = -1;
  FILE* in_ = nullptr;
  FILE* out_ = nullptr;
};

}  // namespace strata::bench
