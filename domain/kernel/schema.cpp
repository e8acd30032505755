#include "strata/domain/kernel/schema.hpp"

#include "strata/domain/kernel/input.hpp"

#include <algorithm>
#include <optional>

namespace strata::detail {
namespace {

// An upcasting chain longer than this is a cycle or a mistake, not a history.
constexpr int max_chain_length = 64;

std::string describe(std::string_view type, std::uint32_t version) {
  return std::string{type} + " v" + std::to_string(version);
}

// A parser and the memory of the values it builds, kept per thread and reused by every
// body decoded on it: a body that fits the initial buffer allocates nothing. The values
// live until the next body is parsed. The resource is made anew for each body rather than
// released: Boost.JSON 1.81's `release` keeps the size of the next block, which doubles with
// every block added, so a thread that decoded a few dozen large bodies would ask for blocks
// of gigabytes.
struct parse_scratch {
  static constexpr std::size_t initial_bytes = 16384;
  unsigned char initial[initial_bytes];
  std::optional<boost::json::monotonic_resource> memory{std::in_place, initial, initial_bytes};
  boost::json::parser parser{boost::json::storage_ptr{}, boost::json::parse_options{}};
  bool busy = false;  // a sink decoding another body on the same thread: not reentrant
};

parse_scratch& scratch() {
  thread_local parse_scratch s;
  return s;
}

// The parsed value, in the parser's memory (an assignment to a value of other memory would
// copy it), or null with `ec` set.
boost::json::value parse_with(boost::json::parser& p, std::string_view data,
                              boost::system::error_code& ec) {
  p.write(data.data(), data.size(), ec);
  if (ec) return nullptr;
  return p.release();
}

error malformed(std::string_view type, std::uint32_t version, boost::system::error_code ec) {
  return error{errc::corrupted,
               describe(type, version) + ": malformed JSON: " +
                   (ec == boost::json::error::too_deep
                        ? "nested more than " + std::to_string(max_json_depth) + " levels deep"
                        : ec.message())};
}

}  // namespace

void schema_core::add_type(std::string_view name, std::uint32_t version, std::size_t index) {
  if (current(name) != nullptr) {
    add_problem("wire name " + std::string{name} + " is registered twice");
    return;
  }
  if (version == 0) add_problem("wire name " + std::string{name} + " has version 0 (must be >= 1)");
  types_.push_back(type_entry{std::string{name}, version, index});
}

void schema_core::add_upcaster(std::string_view name, std::uint32_t from_version, upcaster fn) {
  if (find_step(name, from_version) != nullptr) {
    add_problem("the upcaster from " + describe(name, from_version) + " is registered twice");
    return;
  }
  steps_.push_back(step{std::string{name}, from_version, std::move(fn)});
}

const schema_core::type_entry* schema_core::current(std::string_view name) const noexcept {
  for (const auto& t : types_)
    if (t.name == name) return &t;
  return nullptr;
}

const schema_core::type_entry& schema_core::entry_for(std::size_t index) const noexcept {
  static const type_entry none{};
  for (const auto& t : types_)
    if (t.index == index) return t;
  return none;
}

bool schema_core::has_index(std::size_t index) const noexcept {
  for (const auto& t : types_)
    if (t.index == index) return true;
  return false;
}

std::vector<std::string> schema_core::upcast_names() const {
  std::vector<std::string> out;
  for (const auto& s : steps_)
    if (std::find(out.begin(), out.end(), s.name) == out.end()) out.push_back(s.name);
  return out;
}

const schema_core::step* schema_core::find_step(std::string_view name,
                                                std::uint32_t version) const noexcept {
  for (const auto& s : steps_)
    if (s.from_version == version && s.name == name) return &s;
  return nullptr;
}

bool schema_core::knows_name(std::string_view name) const noexcept {
  if (current(name) != nullptr) return true;
  for (const auto& s : steps_)
    if (s.name == name) return true;
  return false;
}

result<void> schema_core::resolve(std::string_view type, std::uint32_t version,
                                  std::string_view data, sink out) const {
  static_assert(max_json_depth == boost::json::parse_options{}.max_depth,
                "the parser's depth limit is the one input.hpp documents");
  parse_scratch& s = scratch();
  if (s.busy) {  // nested: an ordinary parse of its own
    boost::json::parser p{boost::json::storage_ptr{}, boost::json::parse_options{}};
    boost::system::error_code ec;
    boost::json::value body = parse_with(p, data, ec);
    if (ec) return malformed(type, version, ec);
    return resolve_body(type, version, body, out);
  }
  s.busy = true;
  struct release_on_exit {
    parse_scratch& s;
    ~release_on_exit() {
      s.parser.reset();  // drops what it still holds before its memory is released
      s.memory.emplace(s.initial, parse_scratch::initial_bytes);  // frees the blocks it added
      s.busy = false;
    }
  };
  s.parser.reset(&*s.memory);
  release_on_exit guard{s};
  boost::system::error_code ec;
  boost::json::value body = parse_with(s.parser, data, ec);  // gone before `guard` releases
  if (ec) return malformed(type, version, ec);
  return resolve_body(type, version, body, out);
}

result<void> schema_core::resolve_body(std::string_view type, std::uint32_t version,
                                       boost::json::value& body, sink out) const {
  if (const auto* t = current(type); t != nullptr && t->version == version) {
    return out(t->index, body);  // the common case: stored in the current shape
  }
  if (!body.is_object())
    return error{errc::corrupted, describe(type, version) + ": body is not a JSON object"};
  return resolve_object(type, version, std::move(body).as_object(), out, 0);
}

result<void> schema_core::resolve_object(std::string_view type, std::uint32_t version,
                                         boost::json::object data, sink out, int depth) const {
  if (depth > max_chain_length)
    return error{errc::internal, describe(type, version) + ": upcasting chain too long"};
  const type_entry* t = current(type);
  if (t != nullptr && t->version == version)
    return out(t->index, boost::json::value(std::move(data)));
  if (t != nullptr && version > t->version)
    return error{errc::unsupported, describe(type, version) + " is newer than this code (v" +
                                        std::to_string(t->version) + ")"};
  const step* s = find_step(type, version);
  if (s == nullptr) {
    if (!knows_name(type)) return error{errc::corrupted, "unknown event type " + std::string{type}};
    return error{errc::unsupported, "no upcaster from " + describe(type, version)};
  }
  std::vector<raw_event> next;
  try {
    next = s->fn(std::move(data));
  } catch (const std::exception& ex) {
    return error{errc::corrupted, "upcasting " + describe(type, version) + " failed: " + ex.what()};
  }
  for (auto& e : next) {
    if (e.version != version + 1)
      return error{errc::internal, "upcaster from " + describe(type, version) + " produced " +
                                       describe(e.type, e.version) + ", expected v" +
                                       std::to_string(version + 1)};
    if (auto r = resolve_object(e.type, e.version, std::move(e.data), out, depth + 1); !r) return r;
  }
  return ok();
}

}  // namespace strata::detail
