#pragma once

namespace strata {

/// Combines lambdas into one visitor for `std::visit`, one `operator()` per alternative:
/// `std::visit(overloaded{[](const placed&) {...}, [](const cancelled&) {...}}, event)`.
template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

}  // namespace strata
