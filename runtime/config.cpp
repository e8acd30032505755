#include "runtime/config.hpp"

#include <fstream>
#include <sstream>

#include "domain/kernel/json.hpp"

namespace strata {

result<runtime_config> parse_config(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec) return error{errc::invalid_argument, "configuration is not valid JSON: " + ec.message()};
  if (!v.is_object()) return error{errc::invalid_argument, "configuration must be a JSON object"};
  if (auto unknown = json::first_unknown_key<runtime_config>(v); !unknown.empty())
    return error{errc::invalid_argument, "unknown configuration key '" + unknown + "'"};
  runtime_config c;
  try {
    c = json::from_json<runtime_config>(v);
  } catch (const std::exception& ex) {
    return error{errc::invalid_argument,
                 std::string{"configuration has a value of the wrong type: "} + ex.what()};
  }
  const auto& b = c.journal.backend;
  if (b != "sqlite" && b != "postgres" && b != "memory")
    return error{
        errc::invalid_argument,
        "journal.backend must be \"sqlite\", \"postgres\" or \"memory\", not \"" + b + "\""};
  const auto& s = c.journal.sqlite.synchronous;
  if (s != "full" && s != "normal")
    return error{errc::invalid_argument,
                 "journal.sqlite.synchronous must be \"full\" or \"normal\", not \"" + s + "\""};
  if (c.scheduler_threads == 0)
    return error{errc::invalid_argument, "scheduler_threads must be at least 1"};
  if (c.aggregates.snapshots_kept == 0)
    return error{errc::invalid_argument, "aggregates.snapshots_kept must be at least 1"};
  if (c.journal.max_batch_events == 0)
    return error{errc::invalid_argument, "journal.max_batch_events must be at least 1"};
  return c;
}

result<runtime_config> load_config(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in) return error{errc::not_found, "cannot read configuration file " + path};
  std::stringstream buf;
  buf << in.rdbuf();
  auto c = parse_config(buf.str());
  if (!c) {
    auto e = std::move(c).err();
    e.message = path + ": " + e.message;
    return e;
  }
  return c;
}

std::string to_json_text(const runtime_config& config) {
  return json::to_json(config);
}

}  // namespace strata
