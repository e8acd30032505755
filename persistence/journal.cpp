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
