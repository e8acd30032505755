#include "strata/persistence/journal.hpp"

#include <cstdint>
#include <mutex>
#include <optional>
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

result<std::vector<event_record>> read_command_events(journal& j, const stream_id& stream,
                                                      version first, std::string_view command_id) {
  // Pages, because a command's events are few but their number is not stored.
  constexpr std::size_t page = 16;
  std::vector<event_record> out;
  stream_range range;
  range.from = first;
  range.limit = page;
  for (;;) {
    auto records = j.read_stream(stream, range);
    if (!records) return std::move(records).err();
    for (auto& r : *records) {
      if (r.command_id != command_id) return out;
      out.push_back(std::move(r));
    }
    if (records->size() < page) return out;
    range.from = out.back().stream_version.next();
  }
}

result<std::vector<event_record>> archived_command_events(journal& j, const stream_id& stream,
                                                          version first, version anchor_at,
                                                          std::vector<event_record> kept,
                                                          std::string_view command_id) {
  std::vector<event_record> out;
  version expected = first;
  for (auto& r : kept) {
    if (r.stream_version != expected || r.command_id != command_id || expected > anchor_at) break;
    out.push_back(std::move(r));
    expected = expected.next();
  }
  if (out.empty() || out.back().stream_version != anchor_at) return out;
  // The command's run reaches the anchor: it may go on in the journal.
  auto hot = read_command_events(j, stream, anchor_at.next(), command_id);
  if (!hot) return std::move(hot).err();
  out.insert(out.end(), std::make_move_iterator(hot->begin()), std::make_move_iterator(hot->end()));
  return out;
}

result<std::vector<event_record>> journal::find_command(const stream_id& stream,
                                                        std::string_view command_id) {
  std::optional<version> first;
  if (command_id.empty()) return std::vector<event_record>{};
  auto visited =
      for_each_in_stream(stream, stream_range{}, [&](const event_view& e) -> result<visit_control> {
        if (e.command_id != command_id) return visit_control::next;
        first = e.stream_version;
        return visit_control::stop;
      });
  if (!visited) return std::move(visited).err();
  if (!first) return std::vector<event_record>{};
  return read_command_events(*this, stream, *first, command_id);
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
