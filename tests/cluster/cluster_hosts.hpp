#pragma once

// Runtimes as cluster nodes, each a process of its own (strata-cluster-host), for every
// multi-process cluster case: started with the host's default timings, short ones or TLS
// files, driven line by line, safe to drive from several client threads at once (one line in
// flight per node), frozen, woken and killed.

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/cluster/cluster_support.hpp"

namespace strata::cluster_testing {

/// The `cluster.*_ms` timings a node process runs with.
struct node_timings {
  std::uint32_t heartbeat_ms = 150;
  std::uint32_t suspect_ms = 800;
  std::uint32_t dead_ms = 2000;
  std::uint32_t lease_ms = 1200;

  /// The host's arguments for these timings.
  std::vector<std::string> args() const {
    return {std::to_string(heartbeat_ms), std::to_string(suspect_ms), std::to_string(dead_ms),
            std::to_string(lease_ms)};
  }
};

/// A command's answer line, split.
struct node_answer {
  std::string status;  ///< "accepted", "unavailable", ...; "ended" when the node is gone.
  std::uint64_t version = 0;
  std::uint64_t position = 0;
  std::size_t events = 0;
  bool duplicate = false;
  std::string code;
  std::string message;
};

inline node_answer parse_node_answer(const std::string& line) {
  node_answer a;
  if (line.rfind("result ", 0) != 0) {
    a.status = "ended";
    a.message = line;
    return a;
  }
  std::istringstream in{line};
  std::string word;
  int duplicate = 0;
  in >> word >> a.status >> a.version >> a.position >> a.events >> duplicate >> a.code;
  a.duplicate = duplicate != 0;
  std::getline(in >> std::ws, a.message);
  return a;
}

/// What a node's "status" line says.
struct node_status {
  std::size_t live = 0, owned = 0, routed = 0, forwarded = 0, served = 0, peers = 0;
};

/// One node process. `ask` may be called from several threads: one line is in flight at once.
class node_process {
 public:
  /// Starts node `id` on `schema`; `args` follow the id on the host's command line (timings,
  /// TLS files: tests/cluster/cluster_host.cpp). Waits for its "ready" line.
  node_process(const std::string& conninfo, const std::string& schema, std::string id,
               const std::vector<std::string>& args = {})
      : node_id(std::move(id)), process_(command_line(conninfo, schema, node_id, args)) {
    const auto ready = process_.read_line();
    REQUIRE_MESSAGE(ready.rfind("ready " + node_id, 0) == 0, "node " << node_id << ": " << ready);
  }

  const std::string node_id;

  /// Sends one request line; the answer line ("(the process ended)" once it is gone).
  std::string ask(const std::string& line) {
    std::lock_guard<std::mutex> lock{mutex_};
    if (gone_.load()) return "(the process ended)";
    process_.write_line(line);
    return process_.read_line();
  }

  node_answer command(const std::string& line) { return parse_node_answer(ask(line)); }

  node_status status() {
    node_status s;
    std::istringstream in{ask("status")};
    std::string word;
    in >> word >> s.live >> s.owned >> s.routed >> s.forwarded >> s.served >> s.peers;
    return s;
  }

  /// The value of an unlabelled metric series of the node's registry (-1 when unreadable).
  double metric(const std::string& name) {
    std::istringstream in{ask("metric " + name)};
    std::string word;
    double value = -1;
    in >> word >> value;
    return value;
  }

  std::string owner(const std::string& id) {
    std::istringstream in{ask("owner " + id)};
    std::string word, node;
    in >> word >> node;
    return node;
  }

  bool freeze() { return process_.send_signal(SIGSTOP); }
  bool wake() { return process_.send_signal(SIGCONT); }
  bool gone() const { return gone_.load(); }

  /// kill -9, without waiting for a line in flight on another thread (it reads the end).
  void kill_hard() {
    gone_.store(true);
    static_cast<void>(process_.send_signal(SIGKILL));
  }

  /// Stops the runtime through its "quit"; true when it exited with 0.
  bool quit() {
    std::lock_guard<std::mutex> lock{mutex_};
    process_.write_line("quit");
    const int status = process_.wait();
    gone_.store(true);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

 private:
  static std::vector<std::string> command_line(const std::string& conninfo,
                                               const std::string& schema, const std::string& id,
                                               const std::vector<std::string>& args) {
    std::vector<std::string> line{STRATA_CLUSTER_HOST, conninfo, schema, id};
    line.insert(line.end(), args.begin(), args.end());
    return line;
  }

  std::mutex mutex_;
  std::atomic<bool> gone_{false};
  child_process process_;
};

}  // namespace strata::cluster_testing
