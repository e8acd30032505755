#pragma once

// Helpers the commands share: failure reports, stream arguments, paged scans, tables and
// progress on stderr. Not part of a host's API.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/cli/cli.hpp"
#include "strata/persistence/forwarding_journal.hpp"

namespace CLI {
class Validator;
}  // namespace CLI

namespace strata::cli_support {

/// The check of an option holding a version, position, count or interval: decimal digits whose
/// value fits in 64 bits. Refuses "-1" and "99999999999999999999999" (which CLI11 would wrap
/// or clamp), naming the option: "--from: '-1' is not a non-negative integer".
const CLI::Validator& unsigned_integer();

/// Records per page when a command reads the journal.
inline constexpr std::size_t page_size = 1000;

/// Reports a failure to open or read a store; the exit code for it (`usage`).
cli_exit store_failure(cli_context& c, const error& e);

/// Reports bad usage; the exit code for it (`usage`).
cli_exit usage_failure(cli_context& c, const std::string& message);

/// `text` as a stream (Type-id), or nullopt after reporting it as bad usage.
std::optional<stream_id> parse_stream(cli_context& c, const std::string& text);

/// Prints rows as columns separated by two spaces, each as wide as its widest cell; the first
/// row is the header (in bold).
void print_table(cli_output& out, const std::vector<std::vector<std::string>>& rows);

/// Calls `visit` with every event after `after` in global order, in pages, until it returns
/// false. Errors: the journal's.
template <class Visit>
result<void> scan_all(persistence::journal& j, global_position after, Visit&& visit) {
  for (;;) {
    auto page = j.read_all(after, page_size);
    if (!page) return std::move(page).err();
    for (const persistence::event_record& r : *page) {
      if (!visit(r)) return ok();
    }
    if (page->size() < page_size) return ok();
    after = page->back().position;
  }
}

/// A journal that hands every call on to `inner` and reports the position of the last event
/// each `read_all` page returned (the progress of a whole-journal scan by code that takes a
/// journal, such as `persistence::verify_journal`).
class reading_journal final : public persistence::forwarding_journal {
 public:
  reading_journal(persistence::journal& inner, std::function<void(global_position)> on_page)
      : forwarding_journal(inner), on_page_(std::move(on_page)) {}

  result<std::vector<persistence::event_record>> read_all(global_position after,
                                                          std::size_t limit) override {
    auto page = inner().read_all(after, limit);
    if (page && !page->empty()) on_page_(page->back().position);
    return page;
  }

 private:
  std::function<void(global_position)> on_page_;
};

/// What `events --follow` prints: one stream from version `from`, or (no stream) the whole
/// journal after position `after`.
struct follow_request {
  std::optional<stream_id> stream;
  version from{1};
  global_position after;
  std::optional<std::uint64_t> max_events;  ///< Stop after printing this many.
  std::chrono::milliseconds poll{500};      ///< The wait between polls that found nothing new.
};

/// Prints the events `r` asks for, then polls the journal every `r.poll` and prints what was
/// committed since, until SIGINT or SIGTERM (exit 0) or `r.max_events` events were printed.
/// Flushes stdout after each poll. Errors are reported and give `usage`.
cli_exit follow_events(cli_context& c, persistence::journal& j, const follow_request& r);

/// A progress line on stderr, "verify  12000/50000 events  24%  8000/s  5s left", redrawn at
/// most every 200 ms while the command runs and erased when it finishes; nothing at all when
/// the context does not report progress. Never touches stdout.
class progress_line {
 public:
  progress_line(cli_context& c, std::string what, std::uint64_t total);
  ~progress_line();
  progress_line(const progress_line&) = delete;
  progress_line& operator=(const progress_line&) = delete;

  /// `done` of the total are done.
  void update(std::uint64_t done);
  /// Erases the line.
  void finish();

 private:
  void draw();

  std::FILE* err_ = nullptr;  ///< Null when progress is off.
  std::string what_;
  std::uint64_t total_;
  std::uint64_t done_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
};

}  // namespace strata::cli_support
