#pragma once

// Tells ThreadSanitizer about the hand-over a CAF message makes between threads.
//
// Debian's CAF is not built with -fsanitize=thread, so TSan sees neither the atomics of its
// mailboxes nor its scheduler: an object one thread fills and sends, and another receives
// through the mailbox, looks unsynchronised to it. Where strata hands a payload it allocated
// from one thread to an actor (a command from the caller's thread, a journal outcome from the
// writer's), the sender calls `handing_over(p)` just before the send and the actor calls
// `taken_over(p)` when the message arrives: to TSan that is a release and an acquire on the
// payload's address, the order the mailbox guarantees. Without TSan both are empty.

#if defined(__SANITIZE_THREAD__)
#define STRATA_THREAD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRATA_THREAD_SANITIZER 1
#endif
#endif

#ifdef STRATA_THREAD_SANITIZER
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace strata::actors::detail {

/// Before a message carrying `payload` leaves this thread through CAF.
inline void handing_over([[maybe_unused]] const void* payload) noexcept {
#ifdef STRATA_THREAD_SANITIZER
  __tsan_release(const_cast<void*>(payload));
#endif
}

/// When the actor receives the message carrying `payload`.
inline void taken_over([[maybe_unused]] const void* payload) noexcept {
#ifdef STRATA_THREAD_SANITIZER
  __tsan_acquire(const_cast<void*>(payload));
#endif
}

}  // namespace strata::actors::detail
