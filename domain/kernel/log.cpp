#include "strata/domain/kernel/log.hpp"

#include <cstdio>
#include <utility>

namespace strata {

std::string_view to_string(log_level level) noexcept {
  switch (level) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warning:
      return "warning";
    case log_level::error:
      return "error";
  }
  return "error";
}

std::optional<log_level> parse_log_level(std::string_view text) noexcept {
  for (auto l : {log_level::debug, log_level::info, log_level::warning, log_level::error})
    if (text == to_string(l)) return l;
  return std::nullopt;
}

std::string stderr_log_sink::format(log_level level, std::string_view component,
                                    std::string_view message) {
  std::string line;
  line.reserve(16 + component.size() + message.size());
  line += "strata ";
  line += to_string(level);
  line += ' ';
  line += component;
  line += ": ";
  line += message;
  line += '\n';
  return line;
}

void stderr_log_sink::write(log_level level, std::string_view component,
                            std::string_view message) noexcept {
  if (level < min_level_) return;
  try {
    const auto line = format(level, component, message);
    // One fwrite per line: stdio locks the stream for the call, so lines never interleave.
    std::fwrite(line.data(), 1, line.size(), stderr);
  } catch (...) {  // out of memory while reporting: nothing better to do than to go on
  }
}

namespace {

class level_filter final : public log_sink {
 public:
  level_filter(std::shared_ptr<log_sink> next, log_level min_level)
      : next_(std::move(next)), min_level_(min_level) {}

  void write(log_level level, std::string_view component,
             std::string_view message) noexcept override {
    if (level >= min_level_) next_->write(level, component, message);
  }

 private:
  std::shared_ptr<log_sink> next_;
  const log_level min_level_;
};

}  // namespace

std::shared_ptr<log_sink> filter_log(std::shared_ptr<log_sink> next, log_level min_level) {
  return std::make_shared<level_filter>(std::move(next), min_level);
}

logger::logger(std::shared_ptr<log_sink> sink, std::string component)
    : sink_(sink ? std::move(sink) : std::make_shared<stderr_log_sink>()),
      component_(std::move(component)) {}

}  // namespace strata
