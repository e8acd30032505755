#include <doctest/doctest.h>

#include <mutex>
#include <string>
#include <vector>

#include "strata/domain/kernel/log.hpp"

using namespace strata;

namespace {

struct capture_sink final : log_sink {
  std::vector<std::string> lines;
  void write(log_level level, std::string_view component,
             std::string_view message) noexcept override {
    lines.push_back(stderr_log_sink::format(level, component, message));
  }
};

}  // namespace

TEST_CASE("the default sink writes one line: strata, level, component, message") {
  CHECK(stderr_log_sink::format(log_level::warning, "rehydration", "ignoring snapshot of Order-1") ==
        "strata warning rehydration: ignoring snapshot of Order-1\n");
  CHECK(stderr_log_sink::format(log_level::error, "engine", "a command callback threw: x") ==
        "strata error engine: a command callback threw: x\n");
}

TEST_CASE("log levels print and parse by their lower-case names, and nothing else parses") {
  for (auto l : {log_level::debug, log_level::info, log_level::warning, log_level::error})
    CHECK(parse_log_level(to_string(l)) == l);
  CHECK_FALSE(parse_log_level("Warning").has_value());
  CHECK_FALSE(parse_log_level("verbose").has_value());
}

TEST_CASE("a level filter passes the messages at or above its level only") {
  auto capture = std::make_shared<capture_sink>();
  auto filtered = filter_log(capture, log_level::warning);
  logger log{filtered, "journal_writer"};
  log.debug("d");
  log.info("i");
  log.warning("w");
  log.error("e");
  CHECK(capture->lines == std::vector<std::string>{"strata warning journal_writer: w\n",
                                                   "strata error journal_writer: e\n"});
}

TEST_CASE("a logger without a sink still has one, and keeps its component name") {
  logger log{nullptr, "engine"};
  REQUIRE(static_cast<bool>(log.sink()));
  CHECK(log.component() == "engine");
  CHECK(log.named("snapshot_writer").component() == "snapshot_writer");
  CHECK(static_cast<bool>(log.named("snapshot_writer").sink() == log.sink()));
}
