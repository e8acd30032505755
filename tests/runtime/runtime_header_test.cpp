// runtime.hpp comes first and alone: it compiles with nothing included before it.
#include "strata/runtime/runtime.hpp"

#include <doctest/doctest.h>

#include <type_traits>

// What the runtime hides behind its pimpl: declared here, never defined in this file.
namespace strata::actors {
class engine;
class journal_writer;
class projection_host;
}  // namespace strata::actors

namespace {

template <class T, class = void>
struct is_complete : std::false_type {};
template <class T>
struct is_complete<T, std::void_t<decltype(sizeof(T))>> : std::true_type {};

#ifdef CAF_VERSION
constexpr bool caf_included = true;
#else
constexpr bool caf_included = false;
#endif

}  // namespace

TEST_CASE("runtime.hpp compiles on its own and keeps the engine, the metrics and CAF out") {
  CHECK_FALSE(is_complete<strata::actors::engine>::value);
  CHECK_FALSE(is_complete<strata::actors::journal_writer>::value);
  CHECK_FALSE(is_complete<strata::actors::projection_host>::value);
  CHECK_FALSE(is_complete<strata::metrics::registry>::value);
  CHECK_FALSE(caf_included);
  // What a host names is complete and in namespace strata.
  CHECK(is_complete<strata::command_result>::value);
  CHECK(is_complete<strata::projection_lag>::value);
  CHECK(is_complete<strata::dead_letter>::value);
  CHECK(is_complete<strata::chain_violation>::value);
  CHECK(is_complete<strata::event_info>::value);
}
