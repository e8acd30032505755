#include "strata/domain/kernel/error.hpp"

namespace strata {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::conflict:
      return "conflict";
    case errc::unavailable:
      return "unavailable";
    case errc::overloaded:
      return "overloaded";
    case errc::timeout:
      return "timeout";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::not_found:
      return "not_found";
    case errc::corrupted:
      return "corrupted";
    case errc::unsupported:
      return "unsupported";
    case errc::rejected:
      return "rejected";
    case errc::internal:
      return "internal";
    case errc::duplicate:
      return "duplicate";
  }
  return "unknown";
}

std::string_view to_string(command_status s) noexcept {
  switch (s) {
    case command_status::accepted:
      return "accepted";
    case command_status::rejected:
      return "rejected";
    case command_status::conflict:
      return "conflict";
    case command_status::overloaded:
      return "overloaded";
    case command_status::timeout:
      return "timeout";
    case command_status::unavailable:
      return "unavailable";
    case command_status::failed:
      return "failed";
  }
  return "failed";
}

std::string to_string(const error& e) {
  std::string out{to_string(e.code)};
  if (!e.message.empty()) {
    out += ": ";
    out += e.message;
  }
  return out;
}

}  // namespace strata
