#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include <boost/describe.hpp>

#include "strata/domain/kernel/aggregate.hpp"
#include "strata/domain/kernel/decider.hpp"
#include "strata/domain/kernel/schema.hpp"

namespace strata {

/// Compile-time checks of the decider contract (see `is_decider` in aggregate.hpp), run by
/// the templates a host instantiates (`runtime::register_aggregate<A>`, `runtime::send<A>`).
/// Each broken rule is one `static_assert` whose message says what to write; the checks stop
/// before anything would be instantiated with a type that does not fit, so no error comes from
/// deep inside the runtime, Boost.JSON or CAF.
namespace decider_checks {

template <class T>
struct is_variant : std::false_type {};
template <class... Ts>
struct is_variant<std::variant<Ts...>> : std::true_type {};

template <class A, class = void>
struct has_type : std::false_type {};
template <class A>
struct has_type<A, std::void_t<decltype(A::type)>>
    : std::is_convertible<decltype(A::type), std::string_view> {};

template <class A, class = void>
struct has_state : std::false_type {};
template <class A>
struct has_state<A, std::void_t<typename A::state>> : std::true_type {};

template <class A, class = void>
struct has_command : std::false_type {};
template <class A>
struct has_command<A, std::void_t<typename A::command>> : is_variant<typename A::command> {};

template <class A, class = void>
struct has_event : std::false_type {};
template <class A>
struct has_event<A, std::void_t<typename A::event>> : is_variant<typename A::event> {};

template <class A, class = void>
struct has_state_version : std::false_type {};
template <class A>
struct has_state_version<A, std::void_t<decltype(A::state_version)>>
    : std::is_convertible<decltype(A::state_version), std::uint32_t> {};

template <class A, class = void>
struct has_initial : std::false_type {};
template <class A>
struct has_initial<A, std::void_t<decltype(A::initial())>>
    : std::is_same<decltype(A::initial()), typename A::state> {};

template <class A, class = void>
struct has_decide : std::false_type {};
template <class A>
struct has_decide<A, std::void_t<decltype(A::decide(std::declval<const typename A::state&>(),
                                                    std::declval<const typename A::command&>(),
                                                    std::declval<const context&>()))>>
    : std::is_same<decltype(A::decide(std::declval<const typename A::state&>(),
                                      std::declval<const typename A::command&>(),
                                      std::declval<const context&>())),
                   decision<typename A::event>> {};

template <class A, class = void>
struct has_evolve : std::false_type {};
template <class A>
struct has_evolve<A, std::void_t<decltype(A::evolve(std::declval<typename A::state>(),
                                                    std::declval<const typename A::event&>()))>>
    : std::is_same<decltype(A::evolve(std::declval<typename A::state>(),
                                      std::declval<const typename A::event&>())),
                   typename A::state> {};

template <class A, bool = has_evolve<A>::value>
struct evolve_is_noexcept : std::false_type {};
template <class A>
struct evolve_is_noexcept<A, true>
    : std::bool_constant<noexcept(A::evolve(std::declval<typename A::state>(),
                                            std::declval<const typename A::event&>()))> {};

template <class A, class = void>
struct has_events : std::false_type {};
template <class A>
struct has_events<A, std::void_t<decltype(A::events())>>
    : std::is_same<decltype(A::events()), const schema<typename A::event>&> {};

/// Fails, naming `E` in the compiler's "in instantiation of" line, when `E` is not described.
template <class E, bool Described = boost::describe::has_describe_members<E>::value>
struct event_is_described : std::true_type {};
template <class E>
struct event_is_described<E, false> : std::false_type {
  static_assert(detail::always_false_v<E>,
                "every alternative of A::event must be described for its JSON: write "
                "`BOOST_DESCRIBE_STRUCT(E, (), (field1, field2, ...))` after the struct E named in "
                "`event_is_described<E, false>` above (`BOOST_DESCRIBE_STRUCT(E, (), ())` when it "
                "has no fields)");
};

template <class E, bool Described = boost::describe::has_describe_members<E>::value>
struct command_is_described : std::true_type {};
template <class E>
struct command_is_described<E, false> : std::false_type {
  static_assert(detail::always_false_v<E>,
                "every alternative of A::command must be described: write "
                "`BOOST_DESCRIBE_STRUCT(C, (), (field1, field2, ...))` after the struct C named in "
                "`command_is_described<C, false>` above (`BOOST_DESCRIBE_STRUCT(C, (), ())` when "
                "it has no fields)");
};

template <class Variant>
struct all_events_described;
template <class... Ts>
struct all_events_described<std::variant<Ts...>>
    : std::bool_constant<(true & ... & event_is_described<Ts>::value)> {};

template <class Variant>
struct all_commands_described;
template <class... Ts>
struct all_commands_described<std::variant<Ts...>>
    : std::bool_constant<(true & ... & command_is_described<Ts>::value)> {};

}  // namespace decider_checks

/// True when `A` fits the decider contract; otherwise fails to compile with one message per
/// broken rule, each saying what to write. Use it as `if constexpr (check_decider<A>())` so
/// nothing else is instantiated with a type that does not fit.
template <class A>
constexpr bool check_decider() {
  namespace c = decider_checks;
  static_assert(c::has_type<A>::value,
                "A::type must be `static constexpr std::string_view type = \"Name\";` (a stream is "
                "\"Name-<id>\")");
  static_assert(c::has_state<A>::value,
                "A::state must name the aggregate's state: `using state = ...;` (a struct with "
                "BOOST_DESCRIBE_STRUCT)");
  static_assert(c::has_command<A>::value,
                "A::command must be `using command = std::variant<...>;` of the command structs");
  static_assert(c::has_event<A>::value,
                "A::event must be `using event = std::variant<...>;` of the event structs");
  static_assert(c::has_state_version<A>::value,
                "A::state_version must be `static constexpr std::uint32_t state_version = 1;` "
                "(bump it when the state's JSON changes)");
  if constexpr (c::has_type<A>::value && c::has_state<A>::value && c::has_command<A>::value &&
                c::has_event<A>::value && c::has_state_version<A>::value) {
    static_assert(c::has_initial<A>::value, "A::initial must be `static A::state initial()`");
    static_assert(c::has_decide<A>::value,
                  "A::decide must be `static strata::decision<A::event> decide(const A::state&, "
                  "const A::command&, const strata::context&)`");
    static_assert(c::has_evolve<A>::value,
                  "A::evolve must be `static A::state evolve(A::state, const A::event&) noexcept`");
    static_assert(!c::has_evolve<A>::value || c::evolve_is_noexcept<A>::value,
                  "A::evolve must be noexcept: `static A::state evolve(A::state, const A::event&) "
                  "noexcept` (it runs on replay, where no event may be refused)");
    static_assert(c::has_events<A>::value,
                  "A::events must be `static const strata::schema<A::event>& events()` (wire "
                  "names and versions of every event struct)");
    constexpr bool events_described = c::all_events_described<typename A::event>::value;
    constexpr bool commands_described = c::all_commands_described<typename A::command>::value;
    return c::has_initial<A>::value && c::has_decide<A>::value && c::has_evolve<A>::value &&
           c::evolve_is_noexcept<A>::value && c::has_events<A>::value && events_described &&
           commands_described;
  } else {
    return false;
  }
}

/// `A::command`, or a placeholder when `A` has none (so that `runtime::send<A>` reaches its
/// checks instead of failing overload resolution).
template <class A, class = void>
struct command_of {
  struct missing {
    template <class T>
    missing(T&&) {}  // NOLINT: implicit, accepts anything until the checks reject `A`
  };
  using type = missing;
};
template <class A>
struct command_of<A, std::void_t<typename A::command>> {
  using type = typename A::command;
};
template <class A>
using command_of_t = typename command_of<A>::type;

}  // namespace strata
