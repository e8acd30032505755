#pragma once

// Waiting for a process to be back to the threads it had before it started any work, before it
// forks a child that starts threads of its own.
//
// A stopped actor system may leave threads that are still ending: CAF 0.17 detaches the thread
// of a detached actor and counts it as gone just before it returns. A fork taken while such a
// thread runs copies a process whose other threads may hold locks, and ThreadSanitizer refuses
// to start threads in that child.

#include <dirent.h>

#include <chrono>
#include <cstddef>
#include <thread>

#include "tests/support/wait_until.hpp"

namespace strata::testing {

/// The number of threads of this process, from /proc/self/task; 0 when it cannot be read.
inline std::size_t thread_count() {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  std::size_t n = 0;
  while (const dirent* entry = readdir(dir))
    if (entry->d_name[0] != '.') ++n;
  closedir(dir);
  return n;
}

/// The threads this process runs on when none of its work runs: 1, or 2 under ThreadSanitizer,
/// whose background thread starts with the first thread the process starts (this function
/// starts and joins one). Call it before anything else has started threads.
inline std::size_t idle_thread_count() {
  std::thread([] {}).join();
  return thread_count();
}

/// Waits until this process runs on at most `idle` threads (from idle_thread_count()); true
/// when it does within `timeout`.
inline bool wait_threads_idle(std::size_t idle,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  return wait_until([idle] { return thread_count() <= idle; }, timeout);
}

}  // namespace strata::testing
