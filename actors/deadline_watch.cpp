#include "actors/deadline_watch.hpp"

#include <utility>

namespace strata::actors {

deadline_watch::deadline_watch() : thread_([this] { run(); }) {}

deadline_watch::~deadline_watch() {
  stop();
}

void deadline_watch::arm(clock::time_point when, std::function<void()> fire) {
  std::lock_guard<std::mutex> lock{mutex_};
  if (stopping_) return;
  const bool earliest = entries_.empty() || when < entries_.top().when;
  entries_.push(entry{when, std::move(fire)});
  if (earliest) wake_.notify_one();  // the thread sleeps until the old earliest time
}

std::size_t deadline_watch::pending() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return entries_.size();
}

void deadline_watch::stop() {
  {
    std::lock_guard<std::mutex> lock{mutex_};
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void deadline_watch::run() {
  std::unique_lock<std::mutex> lock{mutex_};
  for (;;) {
    if (stopping_) {
      entries_ = {};
      return;
    }
    if (entries_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const auto due = entries_.top().when;
    if (clock::now() < due) {
      wake_.wait_until(lock, due);
      continue;  // woken early by an earlier entry, by stop, or spuriously: look again
    }
    // The heap's top is const: the function is copied out before the pop (small functions
    // are stored in place, so this allocates nothing for the aggregates' use).
    std::function<void()> fire = entries_.top().fire;
    entries_.pop();
    lock.unlock();
    fire();
    lock.lock();
  }
}

}  // namespace strata::actors
