#include "strata/actors/deadline_watch.hpp"

#include <utility>

namespace strata::actors {

deadline_watch::deadline_watch(std::shared_ptr<log_sink> log)
    : worker_(worker_options{}, logger{std::move(log), "deadline_watch"},
              [](no_state&, std::vector<std::function<void()>>& batch) {
                for (auto& f : batch) {
                  auto fire = std::move(f);  // out first: one that throws is not called again
                  fire();
                }
              }) {}

void deadline_watch::arm(clock::time_point when, std::function<void()> fire) {
  (void)worker_.post_at(when, std::move(fire));  // refused after stop: ignored, as documented
}

std::size_t deadline_watch::pending() const {
  return worker_.queued();
}

void deadline_watch::stop() {
  worker_.stop();
}

}  // namespace strata::actors
