#include "strata/cli/command_support.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "strata/domain/kernel/input.hpp"

namespace strata::cli_support {

const CLI::Validator& unsigned_integer() {
  static const CLI::Validator check{
      [](std::string& text) -> std::string {
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
          return quote_for_message(text) + " is not a non-negative integer";
        errno = 0;
        (void)std::strtoull(text.c_str(), nullptr, 10);
        if (errno == ERANGE)
          return quote_for_message(text) + " is larger than 18446744073709551615";
        return {};
      },
      std::string{}};
  return check;
}

cli_exit store_failure(cli_context& c, const error& e) {
  c.out().error(e.message);
  return cli_exit::usage;
}

cli_exit usage_failure(cli_context& c, const std::string& message) {
  c.out().error(message);
  return cli_exit::usage;
}

std::optional<stream_id> parse_stream(cli_context& c, const std::string& text) {
  stream_id s = stream_id::parse(text);
  if (s.empty()) {
    c.out().error(quote_for_message(text) + " is not a stream: write it Type-id, e.g. Order-456");
    return std::nullopt;
  }
  if (auto id = check_aggregate_id(s.aggregate_id()); !id) {
    c.out().error("stream " + quote_for_message(text) + ": " + id.err().message);
    return std::nullopt;
  }
  return s;
}

void print_table(cli_output& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::string text;
    for (std::size_t i = 0; i < rows[r].size(); ++i) {
      const bool last = i + 1 == rows[r].size();
      std::string cell = last ? rows[r][i] : fmt::format("{:<{}}  ", rows[r][i], width[i]);
      text += r == 0 ? out.paint(cell, cli_output::style::bold) : cell;
    }
    out.line(text);
  }
}

progress_line::progress_line(cli_context& c, std::string what, std::uint64_t total)
    : err_(c.progress() ? c.out().err() : nullptr),
      what_(std::move(what)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

progress_line::~progress_line() {
  finish();
}

void progress_line::update(std::uint64_t done) {
  done_ = done;
  if (err_ == nullptr) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds{200}) return;
  if (!drawn_ && now - start_ < std::chrono::milliseconds{200} && done_ < total_) return;
  last_draw_ = now;
  draw();
}

void progress_line::draw() {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
  std::string text = fmt::format("{}  {}/{} events", what_, done_, total_);
  if (total_ > 0) text += fmt::format("  {}%", done_ * 100 / total_);
  text += fmt::format("  {:.0f}/s", rate);
  if (rate > 0 && total_ >= done_) {
    text += fmt::format("  {:.0f}s left", static_cast<double>(total_ - done_) / rate);
  }
  fmt::print(err_, "\r\x1b[K{}", text);
  std::fflush(err_);
  drawn_ = true;
}

void progress_line::finish() {
  if (err_ == nullptr || !drawn_) return;
  fmt::print(err_, "\r\x1b[K");
  std::fflush(err_);
  drawn_ = false;
}

}  // namespace strata::cli_support
