#pragma once

#include <atomic>
#include <thread>

namespace strata::actors::detail {

/// A lock for critical sections of a few microseconds taken by the scheduler's threads: it
/// spins briefly, then yields, where a contended std::mutex puts the thread to sleep in the
/// kernel and wakes it again. Used in one place only, the journal writer's inline commits to
/// a store that never blocks (the memory journal), where two scheduler threads contend for
/// every command: there, in-memory orders at 256 in flight ran at ~198,000 commands/s with it
/// and ~150,000 with std::mutex (strata-bench orders --classes memory --levels 256, three
/// alternating runs each, Release). Anything longer, or taken off the scheduler, uses
/// std::mutex.
///
/// Thread-safety: a BasicLockable for std::lock_guard; not recursive.
class spin_mutex {
 public:
  void lock() noexcept {
    for (unsigned spins = 0;;) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < 128) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        } else {
          std::this_thread::yield();  // the holder may be descheduled: let it run
        }
      }
    }
  }
  void unlock() noexcept {
    locked_.store(false, std::memory_order_release);
  }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace strata::actors::detail
