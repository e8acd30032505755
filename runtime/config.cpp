#include "runtime/config.hpp"

#include <fstream>
#include <sstream>
#include <utility>

#include "domain/kernel/json.hpp"

namespace strata {

result<runtime_config> parse_config(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec) return error{errc::invalid_argument, "configuration is not valid JSON: " + ec.message()};
  if (!v.is_object()) return error{errc::invalid_argument, "configuration must be a JSON object"};
  if (auto unknown = json::first_unknown_key<runtime_config>(v); !unknown.empty())
    return error{errc::invalid_argument, "unknown configuration key '" + unknown + "'"};
  // Enumerated settings are turned into their enum here, once; any other text is refused.
  if (const auto* log = v.as_object().if_contains("log"); log != nullptr && log->is_object()) {
    if (const auto* level = log->as_object().if_contains("level"); level != nullptr) {
      if (!level->is_string() || !parse_log_level(level->get_string()))
        return error{errc::invalid_argument,
                     "log.level must be \"debug\", \"info\", \"warning\" or \"error\", not " +
                         boost::json::serialize(*level)};
    }
  }
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
  const auto& ps = c.projections.synchronous;
  if (ps != "full" && ps != "normal")
    return error{errc::invalid_argument,
                 "projections.synchronous must be \"full\" or \"normal\", not \"" + ps + "\""};
  // Zero would mean "never", "nothing" or "no thread" where that makes no sense; the few
  // settings where 0 means "off" (idle_timeout_ms, snapshot_every, max_wait_us, port) are
  // not listed.
  const std::pair<const char*, std::uint64_t> at_least_one[] = {
      {"scheduler_threads", c.scheduler_threads},
      {"journal.max_batch_events", c.journal.max_batch_events},
      {"journal.reader_threads", c.journal.reader_threads},
      {"commands.timeout_ms", c.commands.timeout_ms},
      {"commands.max_in_flight_per_type", c.commands.max_in_flight_per_type},
      {"commands.max_queued_per_aggregate", c.commands.max_queued_per_aggregate},
      {"aggregates.snapshots_kept", c.aggregates.snapshots_kept},
      {"aggregates.max_live_per_type", c.aggregates.max_live_per_type},
      {"aggregates.max_crashes", c.aggregates.max_crashes},
      {"aggregates.crash_window_ms", c.aggregates.crash_window_ms},
      {"projections.batch_events", c.projections.batch_events},
      {"projections.buffer_events", c.projections.buffer_events},
  };
  for (const auto& [name, value] : at_least_one)
    if (value == 0) return error{errc::invalid_argument, std::string{name} + " must be at least 1"};
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
