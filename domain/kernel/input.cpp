#include "strata/domain/kernel/input.hpp"

#include <cstdint>
#include <cstring>
#include <utility>

#include <boost/json.hpp>

namespace strata {

namespace {

// The length of the well-formed UTF-8 sequence at `text[i]`, or 0 when it is not one.
std::size_t sequence_at(std::string_view text, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b = byte(i);
  const std::size_t left = text.size() - i;
  const auto cont = [&](std::size_t k) { return (byte(k) & 0xC0u) == 0x80u; };
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return left >= 2 && cont(i + 1) ? 2 : 0;
  if (b >= 0xE0 && b <= 0xEF) {
    if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    if (b == 0xE0 && byte(i + 1) < 0xA0) return 0;  // overlong
    if (b == 0xED && byte(i + 1) > 0x9F) return 0;  // a surrogate
    return 3;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (b == 0xF0 && byte(i + 1) < 0x90) return 0;  // overlong
    if (b == 0xF4 && byte(i + 1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// The offset of the first escaped NUL (`\u0000`) in JSON text, or npos.
std::size_t first_escaped_nul(std::string_view text) noexcept {
  for (std::size_t i = text.find('\\'); i != std::string_view::npos; i = text.find('\\', i)) {
    if (i + 1 >= text.size()) break;
    if (text[i + 1] == 'u' && text.compare(i + 2, 4, "0000") == 0) return i;
    i += 2;  // past the escaped character, so "\\\\u0000" is not a NUL
  }
  return std::string_view::npos;
}

bool bad_string(std::string_view s) {
  return s.find('\0') != std::string_view::npos || first_invalid_utf8(s) != std::string_view::npos;
}

// The path of the first member whose key or string value is `bad_string`, or empty.
std::string bad_member(const boost::json::value& v, const std::string& path) {
  if (v.is_string()) return bad_string(v.get_string()) ? (path.empty() ? "(the body)" : path) : "";
  if (v.is_array()) {
    const auto& a = v.get_array();
    for (std::size_t i = 0; i < a.size(); ++i)
      if (auto p = bad_member(a[i], path + "[" + std::to_string(i) + "]"); !p.empty()) return p;
  }
  if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      const std::string key{kv.key()};
      const std::string child =
          path.empty() ? quote_for_message(key) : path + "." + quote_for_message(key);
      if (bad_string(kv.key())) return child;
      if (auto p = bad_member(kv.value(), child); !p.empty()) return p;
    }
  }
  return {};
}

}  // namespace

std::size_t first_invalid_utf8(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    // ASCII runs, eight bytes at a time.
    while (i + 8 <= text.size()) {
      std::uint64_t w;
      std::memcpy(&w, text.data() + i, 8);
      if ((w & 0x8080808080808080ull) != 0) break;
      i += 8;
    }
    if (i >= text.size()) break;
    const std::size_t n = sequence_at(text, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

result<void> check_aggregate_id(std::string_view id) {
  if (id.empty()) return error{errc::invalid_argument, "aggregate id is empty"};
  if (id.size() > max_aggregate_id_bytes)
    return error{errc::invalid_argument, "aggregate id is " + std::to_string(id.size()) +
                                             " bytes long, more than the " +
                                             std::to_string(max_aggregate_id_bytes) + " allowed"};
  if (auto nul = id.find('\0'); nul != std::string_view::npos)
    return error{errc::invalid_argument, "aggregate id " + quote_for_message(id) +
                                             " holds a NUL byte at offset " + std::to_string(nul)};
  if (auto bad = first_invalid_utf8(id); bad != std::string_view::npos)
    return error{errc::invalid_argument, "aggregate id " + quote_for_message(id) +
                                             " is not valid UTF-8 at offset " +
                                             std::to_string(bad)};
  return ok();
}

result<void> check_metadata(const command_metadata& meta) {
  const std::pair<const char*, const std::string*> fields[] = {
      {"command_id", &meta.command_id},
      {"user_id", &meta.user_id},
      {"correlation_id", &meta.correlation_id},
      {"causation_id", &meta.causation_id},
  };
  for (const auto& [name, value] : fields) {
    if (auto nul = value->find('\0'); nul != std::string::npos)
      return error{errc::invalid_argument,
                   std::string{"command metadata "} + name + " " + quote_for_message(*value) +
                       " holds a NUL byte at offset " + std::to_string(nul)};
    if (auto bad = first_invalid_utf8(*value); bad != std::string_view::npos)
      return error{errc::invalid_argument,
                   std::string{"command metadata "} + name + " " + quote_for_message(*value) +
                       " is not valid UTF-8 at offset " + std::to_string(bad)};
  }
  return ok();
}

bool storable_json_text(std::string_view json_text) noexcept {
  return first_invalid_utf8(json_text) == std::string_view::npos &&
         first_escaped_nul(json_text) == std::string_view::npos;
}

result<void> check_json_text(std::string_view what, std::string_view json_text) {
  if (storable_json_text(json_text)) return ok();
  const bool invalid = first_invalid_utf8(json_text) != std::string_view::npos;
  std::string member;
  boost::json::parse_options o;
  o.allow_invalid_utf8 = true;
  boost::system::error_code ec;
  auto v = boost::json::parse(json_text, ec, {}, o);
  if (!ec) member = bad_member(v, {});
  if (member.empty()) member = "(the body)";
  return error{errc::invalid_argument,
               std::string{what} + ": member " + member +
                   (invalid ? " is not valid UTF-8" : " holds a NUL character")};
}

std::string quote_for_message(std::string_view text) {
  constexpr std::size_t shown = 64;
  std::string out = "'";
  std::size_t i = 0;
  while (i < text.size() && i < shown) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t n = sequence_at(text, i);
    static constexpr char hex[] = "0123456789abcdef";
    if (n == 0 || c < 0x20 || c == 0x7F || c == '\'' || c == '\\') {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xF];
      ++i;
    } else {
      out.append(text.data() + i, n);
      i += n;
    }
  }
  out += '\'';
  if (i < text.size()) out += " (" + std::to_string(text.size()) + " bytes, cut)";
  return out;
}

}  // namespace strata
