#pragma once

// Given/When/Then for any decider: given past events (folded with evolve), when a command
// with a context, then the rendered events or the rejection code. Events are rendered as
// "<WireName><JSON body>" through the aggregate's own schema, so a failing check prints both
// sides in the storage format.

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "strata/domain/kernel/aggregate.hpp"
#include "strata/domain/kernel/json.hpp"
#include "strata/domain/kernel/time.hpp"

namespace strata::testing {

/// "OrderPlaced{...}" for one event.
template <class A>
std::string render(const typename A::event& e) {
  auto enc = A::events().encode(e);
  return std::string{enc.type} + enc.data;
}

/// The events separated by a space.
template <class A>
std::string render(const std::vector<typename A::event>& events) {
  std::string out;
  for (const auto& e : events) {
    if (!out.empty()) out += ' ';
    out += render<A>(e);
  }
  return out;
}

inline const std::string no_events = "no events";

/// "rejected(code)", "no events" or the rendered events. An event that does not survive
/// encode/decode, or a rejection without a message, is flagged in the text.
template <class A>
std::string render_decision(const decision<typename A::event>& d) {
  if (d.is_rejected())
    return "rejected(" + d.why().code + ")" + (d.why().message.empty() ? " without message" : "");
  if (d.events().empty()) return no_events;
  std::string out = render<A>(d.events());
  for (const auto& e : d.events()) {
    auto enc = A::events().encode(e);
    auto back = A::events().decode(enc.type, enc.schema_version, enc.data);
    if (!back || back->size() != 1 || render<A>(back->front()) != render<A>(e))
      out += " [" + std::string{enc.type} + " does not round-trip]";
  }
  return out;
}

/// The expected outcome "these events", rendered like `render_decision`.
template <class A, class... E>
std::string then(E&&... events) {
  std::vector<typename A::event> v{typename A::event{std::forward<E>(events)}...};
  return render<A>(v);
}

/// The expected outcome "rejected with `code`".
inline std::string rejected(std::string_view code) {
  return "rejected(" + std::string{code} + ")";
}

/// A history of events plus the context the next command is decided in.
template <class A>
class given {
 public:
  using event = typename A::event;

  given(std::vector<event> history = {}) : history_(std::move(history)) {}  // NOLINT

  given& at(timestamp now) {
    now_ = now;
    return *this;
  }
  given& by(std::string user_id) {
    user_id_ = std::move(user_id);
    return *this;
  }
  given& then_also(event e) {
    history_.push_back(std::move(e));
    return *this;
  }

  /// The state after the history.
  typename A::state state() const { return fold<A>(A::initial(), history_); }

  /// Decides `cmd` on the folded history.
  decision<event> decide(const typename A::command& cmd) const {
    context ctx;
    ctx.now = now_;
    ctx.aggregate_id = aggregate_id_;
    ctx.current = version{history_.size()};
    ctx.user_id = user_id_;
    ctx.command_id = command_id_;
    return A::decide(state(), cmd, ctx);
  }

  /// The rendered outcome of `cmd`, to compare with `then(...)`, `rejected(...)` or
  /// `no_events`.
  std::string when(const typename A::command& cmd) const { return render_decision<A>(decide(cmd)); }

 private:
  std::vector<event> history_;
  timestamp now_ = from_unix_micros(1'767'225'600'000'000);  // 2026-01-01T00:00:00Z
  std::string aggregate_id_ = "1";
  std::string user_id_ = "user-1";
  std::string command_id_ = "cmd-1";
};

/// One golden fixture: the stored body of (wire name, version) and the current event it
/// must decode to.
template <class A>
struct golden_case {
  std::string wire_name;
  std::uint32_t version;
  typename A::event expected;
};

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <class Variant, std::size_t... I>
std::vector<Variant> every_alternative(std::index_sequence<I...>) {
  return {Variant{std::in_place_index<I>}...};
}

/// One default-constructed value of each alternative of `Variant`.
template <class Variant>
std::vector<Variant> every_alternative() {
  return every_alternative<Variant>(std::make_index_sequence<std::variant_size_v<Variant>>{});
}

/// Checks every fixture of aggregate `A` under `<golden_dir>/<A::type>/`:
/// - each case's file decodes (upcasting old versions) to exactly `expected`;
/// - for current versions, encoding `expected` gives exactly the file's text (a trailing
///   newline in the file is ignored);
/// - every alternative of `A::event` has a fixture at its current version;
/// - every file in the folder is covered by a case (no untested fixture).
template <class A>
void check_golden(std::string_view golden_dir, const std::vector<golden_case<A>>& cases) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path{std::string{golden_dir}} / std::string{A::type};
  REQUIRE_MESSAGE(fs::is_directory(dir), "missing golden folder " << dir);
  std::set<std::string> covered;
  for (const auto& c : cases) {
    const std::string file = c.wire_name + ".v" + std::to_string(c.version) + ".json";
    INFO("golden file " << (dir / file).string());
    covered.insert(file);
    REQUIRE(fs::exists(dir / file));
    std::string text = read_text(dir / file);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    auto decoded = A::events().decode(c.wire_name, c.version, text);
    REQUIRE_MESSAGE(decoded, (decoded ? "" : to_string(decoded.err())));
    REQUIRE(decoded->size() == 1);
    CHECK(render<A>(decoded->front()) == render<A>(c.expected));
    auto enc = A::events().encode(c.expected);
    if (enc.type == c.wire_name && enc.schema_version == c.version) CHECK(enc.data == text);
  }
  for (const auto& e : every_alternative<typename A::event>()) {
    auto enc = A::events().encode(e);
    const std::string file =
        std::string{enc.type} + ".v" + std::to_string(enc.schema_version) + ".json";
    CHECK_MESSAGE(covered.count(file) == 1, "no golden case for the current " << file);
  }
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string file = entry.path().filename().string();
    CHECK_MESSAGE(covered.count(file) == 1, "golden file " << file << " is not checked");
  }
}

/// Applies every event (plus a default value of every alternative) to every state, twice:
/// evolve must neither throw (it is noexcept, a throw would terminate) nor depend on
/// anything but its arguments.
template <class A>
void check_evolve_is_total(std::vector<typename A::state> states,
                           std::vector<typename A::event> events) {
  states.push_back(A::initial());
  for (auto& e : every_alternative<typename A::event>()) events.push_back(std::move(e));
  for (const auto& s : states) {
    for (const auto& e : events) {
      INFO("event " << render<A>(e) << " on state " << json::to_json(s));
      CHECK(json::to_json(A::evolve(s, e)) == json::to_json(A::evolve(s, e)));
    }
  }
}

/// The snapshot JSON of `s`, decoded and encoded again: equal to `json::to_json(s)` when the
/// state round-trips.
template <class A>
std::string state_round_trip(const typename A::state& s) {
  return json::to_json(json::from_json<typename A::state>(boost::json::parse(json::to_json(s))));
}

}  // namespace strata::testing
