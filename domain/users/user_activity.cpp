#include "strata/domain/users/user_activity.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include <boost/describe/enum_to_string.hpp>

#include "strata/domain/kernel/arithmetic.hpp"

namespace strata::users {
namespace {

// The start of the rate window ending at `t_us`, without overflowing for absurd times.
std::int64_t window_start(std::int64_t t_us) {
  return saturating_sub(t_us, rate_window.count());
}

bool is_known(action_kind k) {
  return boost::describe::enum_to_string(k, nullptr) != nullptr;
}

decision<event> decide_record(const state& s, const record& c, const context& ctx) {
  if (!is_known(c.kind))
    return reject(kind_unknown, "the action kind is not one of the known kinds");
  if (c.subject.size() > max_subject_bytes)
    return reject(subject_too_long, "subject has " + std::to_string(c.subject.size()) +
                                        " bytes, at most " + std::to_string(max_subject_bytes) +
                                        " are allowed");
  if (c.attributes.size() > max_attributes)
    return reject(too_many_attributes, std::to_string(c.attributes.size()) +
                                           " attributes, at most " +
                                           std::to_string(max_attributes) + " are allowed");
  for (const auto& [key, value] : c.attributes) {
    if (key.empty()) return reject(attribute_key_empty, "attribute keys must not be empty");
    if (key.size() > max_attribute_bytes)
      return reject(attribute_key_too_long, "an attribute key is longer than " +
                                                std::to_string(max_attribute_bytes) + " bytes");
    if (value.size() > max_attribute_bytes)
      return reject(attribute_value_too_long, "attribute '" + key + "' is longer than " +
                                                  std::to_string(max_attribute_bytes) + " bytes");
  }
  const std::int64_t now_us = to_unix_micros(ctx.now);
  const std::int64_t start = window_start(now_us);
  const auto in_window = std::count_if(s.recent_us.begin(), s.recent_us.end(),
                                       [&](std::int64_t t) { return t > start; });
  if (static_cast<std::size_t>(in_window) >= max_actions_per_minute)
    return reject(rate_limited, std::to_string(in_window) +
                                    " actions within the last minute, at most " +
                                    std::to_string(max_actions_per_minute) + " are allowed");
  return action_recorded{s.last_sequence + 1, c.kind, c.subject, c.attributes, now_us};
}

}  // namespace

decision<event> user_activity::decide(const state& s, const command& cmd, const context& ctx) {
  return std::visit([&](const record& c) { return decide_record(s, c, ctx); }, cmd);
}

state user_activity::evolve(state s, const event& e) noexcept {
  const auto& a = std::get<action_recorded>(e);
  s.last_sequence = std::max(s.last_sequence, a.sequence);
  auto& recent = s.recent_us;
  recent.insert(std::upper_bound(recent.begin(), recent.end(), a.occurred_at_us), a.occurred_at_us);
  // Times at or before (newest - window) can never count again, as decisions move forward
  // in time; beyond the newest `max_actions_per_minute` none is needed to reach the limit.
  const std::int64_t newest = recent.back();
  auto keep_from = std::upper_bound(recent.begin(), recent.end(), window_start(newest));
  if (static_cast<std::size_t>(recent.end() - keep_from) > max_actions_per_minute)
    keep_from = recent.end() - static_cast<std::ptrdiff_t>(max_actions_per_minute);
  recent.erase(recent.begin(), keep_from);
  return s;
}

const schema<event>& user_activity::events() {
  static const schema<event> s =
      schema<event>::builder().event<action_recorded>("UserActionRecorded", 1).build();
  return s;
}

}  // namespace strata::users
