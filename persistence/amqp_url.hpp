#pragma once

// AMQP URLs, parsed without any AMQP client (configuration checks them in every build).

#include <cstdint>
#include <string>
#include <string_view>

#include "strata/domain/kernel/result.hpp"

namespace strata::persistence {

/// The parts of an AMQP URL `amqp://[user[:password]@]host[:port][/vhost]`.
struct amqp_address {
  std::string host;
  std::uint16_t port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";  ///< An empty path or "/" is the default vhost "/"; "%2f" decodes.
};

/// Parses `url`. Errors: `invalid_argument` saying what is wrong (not `amqp://`, no host, a
/// port that is not a number from 1 to 65535, a bad percent escape).
result<amqp_address> parse_amqp_url(std::string_view url);

}  // namespace strata::persistence
