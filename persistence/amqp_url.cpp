#include "strata/persistence/amqp_url.hpp"

#include <cctype>

namespace strata::persistence {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

result<std::string> percent_decoded(std::string_view s, const char* what) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    const int hi = i + 2 < s.size() ? hex_digit(s[i + 1]) : -1;
    const int lo = i + 2 < s.size() ? hex_digit(s[i + 2]) : -1;
    if (hi < 0 || lo < 0)
      return error{errc::invalid_argument,
                   std::string{"AMQP URL has a bad percent escape in its "} + what};
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

}  // namespace

result<amqp_address> parse_amqp_url(std::string_view url) {
  constexpr std::string_view scheme = "amqp://";
  if (url.substr(0, scheme.size()) != scheme)
    return error{errc::invalid_argument, "AMQP URL must start with amqp:// (found '" +
                                             std::string{url.substr(0, url.find("://"))} +
                                             "://...')"};
  std::string_view rest = url.substr(scheme.size());
  amqp_address a;
  std::string_view authority = rest;
  std::string_view path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    std::string_view user = userinfo;
    std::string_view password;
    if (auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      user = userinfo.substr(0, colon);
      password = userinfo.substr(colon + 1);
    }
    auto u = percent_decoded(user, "user");
    if (!u) return std::move(u).err();
    auto p = percent_decoded(password, "password");
    if (!p) return std::move(p).err();
    a.user = std::move(*u);
    a.password = std::move(*p);
  }
  std::string_view host = authority;
  if (auto colon = authority.rfind(':');
      colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    host = authority.substr(0, colon);
    const std::string_view port = authority.substr(colon + 1);
    unsigned long value = 0;
    bool digits = !port.empty() && port.size() <= 5;
    for (char c : port) {
      if (std::isdigit(static_cast<unsigned char>(c)) == 0) digits = false;
      if (digits) value = value * 10 + static_cast<unsigned long>(c - '0');
    }
    if (!digits || value == 0 || value > 65535)
      return error{
          errc::invalid_argument,
          "AMQP URL port must be a number from 1 to 65535 (found '" + std::string{port} + "')"};
    a.port = static_cast<std::uint16_t>(value);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) return error{errc::invalid_argument, "AMQP URL names no host"};
  a.host = std::string{host};
  if (!path.empty()) {
    auto v = percent_decoded(path, "vhost");
    if (!v) return std::move(v).err();
    a.vhost = std::move(*v);
  }
  return a;
}

}  // namespace strata::persistence
