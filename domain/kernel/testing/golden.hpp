#pragma once

// Golden files: the stored JSON of every event shape an aggregate has ever written, kept in the
// host's source tree, so that a change to an event struct that would alter what is stored, or
// break the decoding of what was stored, fails a test:
//
//   CHECK(golden_mismatches<account>(GOLDEN_DIR, {{"Deposited", 1, deposited{500, "EUR"}},
//                                                  {"Deposited", 2, deposited{500, "USD"}}}) ==
//                                                  "");
//
// reads <GOLDEN_DIR>/<A::type>/Deposited.v1.json and .v2.json.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "strata/testing/given_when_then.hpp"

namespace strata::testing {

/// One golden fixture: the stored body of (wire name, version) and the current event it must
/// decode to.
template <class A>
struct golden_case {
  std::string wire_name;
  std::uint32_t version;
  typename A::event expected;
};

namespace detail {

/// The file's text without its trailing newlines.
inline std::string golden_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace detail

/// Checks every fixture of aggregate `A` under `<golden_dir>/<A::type>/<WireName>.v<N>.json`:
/// - each case's file decodes (upcasting old versions) to exactly `expected`;
/// - for current versions, encoding `expected` gives exactly the file's text (trailing newlines
///   in the file are ignored);
/// - every alternative of `A::event` has a fixture at its current version;
/// - every file in the folder is covered by a case (no unchecked fixture).
/// Returns one line per broken rule; empty when all hold.
template <class A>
std::string golden_mismatches(std::string_view golden_dir,
                              const std::vector<golden_case<A>>& cases) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path{std::string{golden_dir}} / std::string{A::type};
  if (!fs::is_directory(dir)) return "missing golden folder " + dir.string() + "\n";
  std::string out;
  std::set<std::string> covered;
  for (const auto& c : cases) {
    const std::string file = c.wire_name + ".v" + std::to_string(c.version) + ".json";
    const std::string where = "golden file " + (dir / file).string();
    covered.insert(file);
    if (!fs::exists(dir / file)) {
      out += where + " is missing\n";
      continue;
    }
    const std::string text = detail::golden_text(dir / file);
    auto decoded = A::events().decode(c.wire_name, c.version, text);
    if (!decoded) {
      out += where + " does not decode: " + to_string(decoded.err()) + "\n";
      continue;
    }
    if (render<A>(*decoded) != render<A>(c.expected))
      out += where + " decodes to " + render<A>(*decoded) + ", expected " + render<A>(c.expected) +
             "\n";
    auto enc = A::events().encode(c.expected);
    if (enc.type == c.wire_name && enc.schema_version == c.version && enc.data != text)
      out += where + " holds " + text + ", the current encoding is " + enc.data + "\n";
  }
  for (const auto& e : every_alternative<typename A::event>()) {
    auto enc = A::events().encode(e);
    const std::string file =
        std::string{enc.type} + ".v" + std::to_string(enc.schema_version) + ".json";
    if (covered.count(file) == 0) out += "no golden case for the current " + file + "\n";
  }
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string file = entry.path().filename().string();
    if (covered.count(file) == 0) out += "golden file " + file + " is not checked\n";
  }
  return out;
}

}  // namespace strata::testing
