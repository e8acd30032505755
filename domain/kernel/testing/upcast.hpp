#pragma once

// What a stored event of an older shape becomes today, without a journal:
//
//   CHECK(upcast<account>("Deposited", 1, R"({"amount":500})") ==
//         then<account>(deposited{500, "EUR"}));

#include <cstdint>
#include <string>
#include <string_view>

#include "strata/domain/kernel/error.hpp"
#include "strata/testing/given_when_then.hpp"

namespace strata::testing {

/// Decodes the stored body `json` of `(wire_name, version)` through `A::events()`, upcasting it
/// to the current shapes, and renders the resulting events like `then<A>(...)`. A body the
/// schema refuses renders as "error(code: message)"; for the error itself, typed, call
/// `A::events().decode(wire_name, version, json)`.
template <class A>
std::string upcast(std::string_view wire_name, std::uint32_t version, std::string_view json) {
  auto decoded = A::events().decode(wire_name, version, json);
  if (!decoded) return "error(" + to_string(decoded.err()) + ")";
  return render<A>(*decoded);
}

}  // namespace strata::testing
