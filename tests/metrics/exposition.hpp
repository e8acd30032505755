#pragma once

// Test helpers: a small parser for the Prometheus text exposition format, a blocking HTTP GET
// over a loopback socket, and a runner for promtool.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "strata/metrics/metrics.hpp"

namespace strata::metrics::testing {

/// One sample line: `name{label="value",...} value`.
struct sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// A parsed scrape: the samples plus the `# TYPE` and `# HELP` declarations by family name.
struct exposition {
  std::vector<sample> samples;
  std::map<std::string, std::string> types;
  std::map<std::string, std::string> helps;
  std::vector<std::string> problems;  // lines the parser could not read

  /// The value of the sample named `name` whose labels are exactly `labels`.
  std::optional<double> value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
    return std::nullopt;
  }

  /// Every sample name that occurs, e.g. "strata_command_duration_seconds_bucket".
  std::set<std::string> sample_names() const {
    std::set<std::string> names;
    for (const auto& s : samples) names.insert(s.name);
    return names;
  }
};

inline bool is_name_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

inline std::optional<double> parse_number(std::string_view text) {
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  std::string copy{text};
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size() || errno == ERANGE) return std::nullopt;
  return v;
}

/// Parses one sample line; nullopt when it is malformed.
inline std::optional<sample> parse_sample(std::string_view line) {
  sample s;
  std::size_t i = 0;
  while (i < line.size() && is_name_char(line[i], i == 0)) ++i;
  if (i == 0) return std::nullopt;
  s.name = std::string{line.substr(0, i)};
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      const std::size_t start = i;
      while (i < line.size() && is_name_char(line[i], i == start)) ++i;
      if (i == start || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') {
        return std::nullopt;
      }
      std::string label{line.substr(start, i - start)};
      i += 2;
      std::string value;
      for (;; ++i) {
        if (i >= line.size()) return std::nullopt;
        if (line[i] == '"') break;
        if (line[i] == '\\') {
          if (++i >= line.size()) return std::nullopt;
          value += line[i] == 'n' ? '\n' : line[i];
        } else {
          value += line[i];
        }
      }
      ++i;  // closing quote
      if (!s.labels.emplace(std::move(label), std::move(value)).second) return std::nullopt;
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return std::nullopt;
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') return std::nullopt;
  ++i;
  const std::size_t end = line.find(' ', i);  // an optional timestamp may follow
  const auto number = parse_number(line.substr(i, end == std::string_view::npos ? end : end - i));
  if (!number) return std::nullopt;
  s.value = *number;
  return s;
}

/// Parses a whole scrape in the text format.
inline exposition parse_exposition(const std::string& text) {
  exposition out;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream words{line};
      std::string hash, keyword, name;
      words >> hash >> keyword >> name;
      std::string rest;
      std::getline(words, rest);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      if (keyword == "TYPE") out.types[name] = rest;
      if (keyword == "HELP") out.helps[name] = rest;
      continue;
    }
    if (auto s = parse_sample(line)) {
      out.samples.push_back(std::move(*s));
    } else {
      out.problems.push_back(line);
    }
  }
  return out;
}

/// The answer to an HTTP request.
struct http_response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string failure;  // non-empty when no response could be read
};

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline std::string decode_chunked(const std::string& raw) {
  std::string out;
  std::size_t at = 0;
  for (;;) {
    const auto eol = raw.find("\r\n", at);
    if (eol == std::string::npos) return out;
    const auto size = std::strtoul(raw.substr(at, eol - at).c_str(), nullptr, 16);
    if (size == 0) return out;
    out += raw.substr(eol + 2, size);
    at = eol + 2 + size + 2;
  }
}

/// A blocking `GET path` on 127.0.0.1:port, HTTP/1.1 with `Connection: close`. Gives up after
/// `timeout_seconds` without data.
inline http_response http_get(std::uint16_t port, const std::string& path,
                              int timeout_seconds = 10) {
  http_response response;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    response.failure = std::string{"socket: "} + std::strerror(errno);
    return response;
  }
  timeval timeout{};
  timeout.tv_sec = timeout_seconds;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    response.failure = "connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno);
    ::close(fd);
    return response;
  }
  const std::string request = "GET " + path +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n"
                              "Connection: close\r\n\r\n";
  std::size_t sent = 0;
  while (sent < request.size()) {
    const auto n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      response.failure = std::string{"send: "} + std::strerror(errno);
      ::close(fd);
      return response;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string raw;
  char buffer[8192];
  for (;;) {
    const auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      response.failure = std::string{"recv: "} + std::strerror(errno);
      ::close(fd);
      return response;
    }
    raw.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);

  const auto header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos || raw.compare(0, 5, "HTTP/") != 0) {
    response.failure = "malformed response: " + raw.substr(0, 200);
    return response;
  }
  std::istringstream head{raw.substr(0, header_end)};
  std::string line;
  std::getline(head, line);
  std::istringstream status_line{line};
  std::string protocol;
  status_line >> protocol >> response.status;
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    response.headers[lower(line.substr(0, colon))] = value;
  }
  response.body = raw.substr(header_end + 4);
  if (lower(response.headers["transfer-encoding"]) == "chunked") {
    response.body = decode_chunked(response.body);
  }
  return response;
}

/// A listening TCP socket on 127.0.0.1 that keeps its port busy while it lives (a port that
/// was free: take `port()`, then let it go).
class busy_port {
 public:
  busy_port() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = 0;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bound_ = fd_ >= 0 &&
             ::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0 &&
             ::listen(fd_, 4) == 0;
    socklen_t size = sizeof address;
    if (bound_ && ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }
  ~busy_port() {
    if (fd_ >= 0) ::close(fd_);
  }
  busy_port(const busy_port&) = delete;
  busy_port& operator=(const busy_port&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  bool bound_ = false;
  std::uint16_t port_ = 0;
};

/// The full path of `program` on PATH, or empty.
inline std::string find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::istringstream in{dirs};
  std::string dir;
  while (std::getline(in, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

/// What a command printed (stdout and stderr together) and its exit status.
struct command_output {
  int exit_status = -1;
  std::string output;
};

/// Runs `command` through the shell with `input` on its standard input.
inline command_output run_with_input(const std::string& command, const std::string& input) {
  static int counter = 0;
  const auto file = std::filesystem::temp_directory_path() /
                    ("strata_metrics_test_" + std::to_string(::getpid()) + "_" +
                     std::to_string(++counter) + ".txt");
  {
    std::ofstream out{file, std::ios::binary};
    out << input;
  }
  command_output result;
  const std::string full = command + " < '" + file.string() + "' 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe == nullptr) {
    result.output = std::string{"popen: "} + std::strerror(errno);
    std::filesystem::remove(file);
    return result;
  }
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::filesystem::remove(file);
  return result;
}

/// Gives every metric family at least one child with a non-zero value, so a scrape shows all
/// of them.
inline void touch_every_family(registry& metrics) {
  auto& order = metrics.for_aggregate("Order");
  order.command_done(command_status::accepted, 0.0004);
  order.command_done(command_status::rejected, 0.0002);
  order.events_appended(1);
  order.live_add(1);
  order.in_flight_add(1);
  order.spawned();
  order.passivated();
  order.hibernated();
  order.restarted();
  order.rehydrated(0.003, 12);
  order.snapshot_written();
  order.snapshot_queued(100);
  order.snapshot_ignored(snapshot_ignore_reason::state_version);
  metrics.journal().commit_done(true, 8, 0.002);
  metrics.journal().appends_conflicted(1);
  auto& summary = metrics.for_projection("order_summary");
  summary.progress(global_position{7}, global_position{9});
  summary.set_lag(2, 0.5);
  summary.applied(7);
  summary.dead_lettered(1);
  metrics.set_mailbox_backlog("aggregate", 3);
}

}  // namespace strata::metrics::testing
