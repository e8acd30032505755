#pragma once

// How a command deadline armed on the deadline watch reaches its aggregate without keeping the
// aggregate's memory after it ended.

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/weak_intrusive_ptr.hpp>
#include <memory>
#include <mutex>
#include <utility>

namespace strata::actors::detail {

/// What an armed deadline holds to reach an actor. A `caf::actor_addr` would do, but CAF frees
/// an actor's storage (about 1.2 KB for an aggregate) only when its last weak reference goes,
/// and an entry waits on the watch for the whole command timeout: every aggregate that armed
/// one and then ended, hibernated or passivated, kept its storage that long. The cell is
/// emptied when the actor's state is destroyed (`expiry_cell_owner`), after which the entry
/// holds only the cell.
///
/// Thread-safety: `get` and `clear` may be called from any thread.
class expiry_cell {
 public:
  explicit expiry_cell(caf::weak_actor_ptr who) noexcept : who_(std::move(who)) {}

  /// The actor while it runs; null once it ended or the cell was emptied.
  caf::actor get() {
    std::lock_guard<std::mutex> lock{mutex_};
    return caf::actor_cast<caf::actor>(who_);
  }

  /// Drops the reference (released outside the lock: it may free the actor's storage).
  void clear() noexcept {
    caf::weak_actor_ptr gone;
    {
      std::lock_guard<std::mutex> lock{mutex_};
      gone.swap(who_);
    }
  }

 private:
  std::mutex mutex_;
  caf::weak_actor_ptr who_;
};

/// An actor's cell, a member of its state: made on the first deadline it arms, emptied when the
/// state is destroyed (CAF destroys a stateful actor's state when the actor ends).
class expiry_cell_owner {
 public:
  expiry_cell_owner() = default;
  ~expiry_cell_owner() {
    if (cell_) cell_->clear();
  }
  expiry_cell_owner(const expiry_cell_owner&) = delete;
  expiry_cell_owner& operator=(const expiry_cell_owner&) = delete;

  /// The cell of `self` (the owning actor's control block), made on the first call.
  const std::shared_ptr<expiry_cell>& cell(caf::actor_control_block* self) {
    if (!cell_) cell_ = std::make_shared<expiry_cell>(caf::weak_actor_ptr{self});
    return cell_;
  }

 private:
  std::shared_ptr<expiry_cell> cell_;
};

}  // namespace strata::actors::detail
