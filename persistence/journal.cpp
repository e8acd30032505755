#include "strata/persistence/journal.hpp"

#include <cstdint>
#include <mutex>
#include <random>

namespace strata::persistence {

std::string make_journal_id() {
  static std::mutex mutex;
  static std::mt19937_64 rng{[] {
    std::random_device rd;
    std::seed_seq seed{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64{seed};
  }()};
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  {
    std::lock_guard<std::mutex> lock{mutex};
    hi = rng();
    lo = rng();
  }
  hi = (hi & ~std::uint64_t{0xf000}) | 0x4000;                           // version 4
  lo = (lo & ~(std::uint64_t{0xc} << 60)) | (std::uint64_t{0x8} << 60);  // RFC 4122 variant
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  auto put = [&](std::uint64_t v, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) out += digits[(v >> (4 * i)) & 0xf];
  };
  put(hi >> 32, 8);
  out += '-';
  put(hi >> 16, 4);
  out += '-';
  put(hi, 4);
  out += '-';
  put(lo >> 48, 4);
  out += '-';
  put(lo, 12);
  return out;
}

}  // namespace strata::persistence

namespace strata::persistence {

error archived_range_error(const stream_anchor& anchor, version from) {
  return error{errc::not_found, anchor.stream.str() + ": versions 1.." +
                                    std::to_string(anchor.at.value) +
                                    " are archived (newest part in archive '" + anchor.archive +
                                    "'); reading from version " + std::to_string(from.value) +
                                    " needs the archive, the journal holds versions " +
                                    std::to_string(anchor.at.value + 1) + " on"};
}

result<void> check_not_archived(journal& j, const stream_id& stream, version from) {
  auto a = j.anchor(stream);
  if (!a) return std::move(a).err();
  if (*a && from <= (*a)->at) return archived_range_error(**a, from);
  return ok();
}

result<void> check_cut_request(const std::vector<stream_cut>& cuts, const std::string& archive) {
  if (archive.empty()) return error{errc::invalid_argument, "cut: the archive has no name"};
  std::unordered_set<std::string_view> seen;
  for (const auto& c : cuts) {
    if (c.stream.empty()) return error{errc::invalid_argument, "cut of an empty stream id"};
    if (c.through.value == 0)
      return error{errc::invalid_argument, "cut of " + c.stream.str() + " through version 0"};
    if (!seen.insert(c.stream.str()).second)
      return error{errc::invalid_argument, "cut names " + c.stream.str() + " twice"};
  }
  return ok();
}

}  // namespace strata::persistence
