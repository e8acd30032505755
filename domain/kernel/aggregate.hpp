#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "strata/domain/kernel/decider.hpp"
#include "strata/domain/kernel/schema.hpp"

namespace strata {

/// The contract of an aggregate type (a "decider"): a plain struct with static members,
/// which the runtime is a template over.
///
///   struct order {
///     static constexpr std::string_view type = "Order";    // stream = "Order-<id>"
///     using state = ...;  using command = std::variant<...>;  using event = std::variant<...>;
///     static constexpr std::uint32_t state_version = 1;     // bump when `state`'s JSON changes
///     static state initial();
///     static decision<event> decide(const state&, const command&, const context&);
///     static state evolve(state, const event&) noexcept;  // total and pure
///     static const schema<event>& events();                // wire names, versions, upcasters
///   };
///
/// `state` is described with BOOST_DESCRIBE_STRUCT so that snapshots can store it as JSON, and
/// so is every event and command struct.
///
/// `is_decider` only detects the members; `check_decider<A>()` (decider_check.hpp), run by
/// `runtime::register_aggregate` and `runtime::send`, checks their exact signatures and says
/// what to write when one is wrong.
template <class A, class = void>
struct is_decider : std::false_type {};

template <class A>
struct is_decider<A,
                  std::void_t<typename A::state, typename A::command, typename A::event,
                              decltype(A::type), decltype(A::state_version), decltype(A::initial()),
                              decltype(A::decide(std::declval<const typename A::state&>(),
                                                 std::declval<const typename A::command&>(),
                                                 std::declval<const context&>())),
                              decltype(A::evolve(std::declval<typename A::state>(),
                                                 std::declval<const typename A::event&>())),
                              decltype(A::events())>> : std::true_type {};

template <class A>
inline constexpr bool is_decider_v = is_decider<A>::value;

/// Applies `events` to `s` in order: the state after them.
template <class A>
typename A::state fold(typename A::state s, const std::vector<typename A::event>& events) {
  for (const auto& e : events) s = A::evolve(std::move(s), e);
  return s;
}

}  // namespace strata
