#include "tools/bench/common.hpp"

#include <dlfcn.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

namespace strata::bench {

void fail(const std::string& why) {
  std::fprintf(stderr, "\nstrata-bench: SELF-CHECK FAILED: %s\n", why.c_str());
  std::fflush(stderr);
  std::exit(3);
}

order_data::order_data(std::uint64_t seed, std::string currency, std::size_t target_bytes)
    : seed_(seed), currency_(std::move(currency)) {
  rng r{seed};
  for (std::size_t i = 0; i < skus_per_order; ++i) {
    skus_.push_back("sku-" + std::to_string(i) + "-" + std::to_string(r.below(1000000)));
    prices_.push_back(static_cast<std::int64_t>(100 + r.below(100000)));
  }
  // Pad every sku to the same length so that each event body is about `target_bytes`.
  const std::size_t base = event_bytes();
  if (base < target_bytes) {
    const std::size_t pad = target_bytes - base;
    for (auto& s : skus_) s += "-" + std::string(pad > 0 ? pad - 1 : 0, 'x');
  }
  std::size_t longest = 0;
  for (const auto& s : skus_) longest = std::max(longest, s.size());
  for (auto& s : skus_) s.resize(longest, 'x');
}

std::string order_data::order_id(std::size_t stream) const {
  return "o" + std::to_string(seed_ % 1000) + "-" + std::to_string(stream);
}

orders::place order_data::place(std::size_t stream) const {
  return orders::place{"customer-" + std::to_string(stream % 997), currency_, {}};
}

orders::add_item order_data::add(std::size_t n) const {
  const std::size_t k = n % skus_per_order;
  return orders::add_item{orders::line{skus_[k], 1, money{prices_[k], currency_}}};
}

std::size_t order_data::event_bytes() const {
  const auto a = add(0);
  return orders::order::events().encode(orders::event{orders::item_added{a.item}}).data.size();
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

std::int64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<std::int64_t>(u.ru_maxrss) * 1024;
}

std::int64_t current_rss_bytes() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream s{line.substr(6)};
      std::int64_t kib = 0;
      s >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

std::int64_t file_bytes(const std::string& path) {
  std::int64_t total = 0;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    struct stat st {};
    if (::stat((path + suffix).c_str(), &st) == 0) total += st.st_size;
  }
  return total;
}

void remove_db(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
}

std::shared_ptr<persistence::sqlite_journal_factory> fresh_sqlite_journal(const std::string& path,
                                                                          bool full) {
  remove_db(path);
  persistence::sqlite_journal_options so;
  so.path = path;
  so.sync = full ? persistence::sqlite_journal_options::durability::full
                 : persistence::sqlite_journal_options::durability::normal;
  return std::make_shared<persistence::sqlite_journal_factory>(so);
}

latency_summary summarize(std::vector<std::int64_t>& v) {
  latency_summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
    return static_cast<double>(v[std::min(i, v.size() - 1)]) / 1e6;
  };
  s.p50_ms = at(0.50);
  s.p95_ms = at(0.95);
  s.p99_ms = at(0.99);
  s.max_ms = static_cast<double>(v.back()) / 1e6;
  return s;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string json_string(const std::string& s) {
  return boost::json::serialize(boost::json::string_view{s});
}

namespace {

std::string number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  if (std::fabs(v - std::round(v)) < 1e-9 && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", v);
  }
  return buf;
}

std::vector<result_line>& emitted() {
  static std::vector<result_line> all;
  return all;
}

}  // namespace

result_line& result_line::param(const std::string& k, const std::string& text) {
  params.emplace_back(k, json_string(text));
  return *this;
}
result_line& result_line::param(const std::string& k, double v) {
  params.emplace_back(k, number(v));
  return *this;
}
result_line& result_line::figure(const std::string& k, double v) {
  figures.emplace_back(k, number(v));
  return *this;
}
result_line& result_line::figure(const std::string& k, const std::string& text) {
  figures.emplace_back(k, json_string(text));
  return *this;
}
result_line& result_line::latency(const latency_summary& l) {
  figure("p50_ms", l.p50_ms);
  figure("p95_ms", l.p95_ms);
  figure("p99_ms", l.p99_ms);
  return figure("max_ms", l.max_ms);
}
result_line& result_line::process(double cpu_start) {
  figure("cpu_s", cpu_seconds() - cpu_start);
  return figure("peak_rss_bytes", static_cast<double>(peak_rss_bytes()));
}

std::string allocator_in_use() {
  // gperftools defines malloc as an alias of tc_malloc: the same address when its malloc is
  // the one every call in the process reaches, whether linked or preloaded.
  void* in_use = ::dlsym(RTLD_DEFAULT, "malloc");
  void* tc = ::dlsym(RTLD_DEFAULT, "tc_malloc");
  if (tc != nullptr && in_use == tc) return "tcmalloc";
  // Otherwise the library the malloc in use comes from: the C library's, or another one
  // (jemalloc, say) preloaded or linked.
  Dl_info where{};
  if (in_use == nullptr || ::dladdr(in_use, &where) == 0 || where.dli_fname == nullptr)
    return "unknown";
  const std::string file = where.dli_fname;
  const std::string name = file.substr(file.rfind('/') + 1);
  return name.rfind("libc.so", 0) == 0 ? "system" : name;
}

void emit(const result_line& r) {
  std::string out = "{\"workload\":" + json_string(r.workload) +
                    ",\"case\":" + json_string(r.name) +
                    ",\"allocator\":" + json_string(allocator_in_use());
  for (const auto& [k, v] : r.params) out += "," + json_string(k) + ":" + v;
  for (const auto& [k, v] : r.figures) out += "," + json_string(k) + ":" + v;
  out += "}";
  std::printf("%s\n", out.c_str());
  std::fflush(stdout);
  emitted().push_back(r);
}

void print_summary() {
  std::fprintf(stderr, "\n%-10s %-34s %s\n", "workload", "case", "figures");
  std::fprintf(stderr, "%s\n", std::string(100, '-').c_str());
  for (const auto& r : emitted()) {
    std::string figs;
    for (const auto& [k, v] : r.figures) {
      if (k == "peak_rss_bytes" || k == "cpu_s" || k == "db_bytes") continue;
      if (!figs.empty()) figs += "  ";
      figs += k + "=" + v;
    }
    std::fprintf(stderr, "%-10s %-34s %s\n", r.workload.c_str(), r.name.c_str(), figs.c_str());
  }
}

}  // namespace strata::bench
