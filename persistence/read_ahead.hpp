#pragma once

// How a long read of the journal starts its next read on a second thread (rehydration's pages,
// catch-up's batches).

#include <future>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>

namespace strata::persistence {

/// Runs `f` on a thread of its own, or, when no thread can be started, on the thread that asks
/// for its result, when it asks. The returned future waits for `f` when destroyed, so what `f`
/// uses must outlive the future.
template <class F>
std::future<std::invoke_result_t<std::decay_t<F>&>> start_read_ahead(F&& f) {
  // One shared instance, so that the fallback calls `f` itself and not a moved-from copy.
  auto shared = std::make_shared<std::decay_t<F>>(std::forward<F>(f));
  auto run = [shared] { return (*shared)(); };
  try {
    return std::async(std::launch::async | std::launch::deferred, run);
  } catch (const std::system_error&) {  // no thread: the read runs when its result is needed
    return std::async(std::launch::deferred, run);
  }
}

}  // namespace strata::persistence
