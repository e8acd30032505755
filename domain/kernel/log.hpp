#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/describe/enum.hpp>

namespace strata {

/// How much a log message matters, least first.
enum class log_level { debug, info, warning, error };
BOOST_DESCRIBE_ENUM(log_level, debug, info, warning, error)

/// The stable lower-case name of `level`: "debug", "info", "warning" or "error".
std::string_view to_string(log_level level) noexcept;

/// The level named `text` (as `to_string` writes it), or nullopt for any other text.
std::optional<log_level> parse_log_level(std::string_view text) noexcept;

/// Where the library's messages go: the seam a host implements to route them into its own
/// logging. strata never writes to stderr or stdout itself; everything it has to say (a
/// snapshot it ignored, a host callback that threw, a task that failed) goes through a sink.
///
/// Thread-safety: `write` is called from many threads at once (the actors' scheduler, the
/// journal writer, the reader pool) and must be thread-safe. It must not throw and should be
/// short: it runs on the thread that has something to report.
class log_sink {
 public:
  virtual ~log_sink() = default;

  /// One message of `component` (e.g. "journal_writer", "rehydration", "engine"), without a
  /// trailing newline.
  virtual void write(log_level level, std::string_view component,
                     std::string_view message) noexcept = 0;
};

/// The default sink: one line per message on stderr,
/// `strata <level> <component>: <message>`, for messages at or above a minimum level.
///
/// Thread-safety: `write` may be called from any thread; each line is written whole.
class stderr_log_sink final : public log_sink {
 public:
  explicit stderr_log_sink(log_level min_level = log_level::warning) noexcept
      : min_level_(min_level) {}

  void write(log_level level, std::string_view component,
             std::string_view message) noexcept override;

  /// The line `write` prints for a message, newline included.
  static std::string format(log_level level, std::string_view component, std::string_view message);

 private:
  const log_level min_level_;
};

/// A sink that passes the messages at or above `min_level` on to `next` (the filter the
/// runtime puts in front of a host's sink for `log.level`). REQUIRES: `next` is not null.
std::shared_ptr<log_sink> filter_log(std::shared_ptr<log_sink> next, log_level min_level);

/// What a component holds to report: a sink and its own name. Cheap to copy.
///
/// A default-constructed logger, or one given a null sink, writes to a `stderr_log_sink` at
/// `warning`, so that a component built on its own (in a test, a tool) still reports.
/// Thread-safety: as the sink's.
class logger {
 public:
  logger() : logger(nullptr, "strata") {}
  logger(std::shared_ptr<log_sink> sink, std::string component);

  const std::string& component() const noexcept { return component_; }
  const std::shared_ptr<log_sink>& sink() const noexcept { return sink_; }

  void write(log_level level, std::string_view message) const noexcept {
    sink_->write(level, component_, message);
  }
  void debug(std::string_view message) const noexcept { write(log_level::debug, message); }
  void info(std::string_view message) const noexcept { write(log_level::info, message); }
  void warning(std::string_view message) const noexcept { write(log_level::warning, message); }
  void error(std::string_view message) const noexcept { write(log_level::error, message); }

  /// The same sink under another component name.
  logger named(std::string component) const { return logger{sink_, std::move(component)}; }

 private:
  std::shared_ptr<log_sink> sink_;
  std::string component_;
};

}  // namespace strata
