#include "strata/actors/detail/node_frames.hpp"

namespace strata::actors::detail {

namespace {

constexpr std::size_t header_size = 8 + 1 + 4;

void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::uint64_t get_le(std::string_view text, std::size_t at, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i)
    value |= static_cast<std::uint64_t>(static_cast<unsigned char>(text[at + i])) << (8 * i);
  return value;
}

}  // namespace

bool append_frame(std::string& out, std::uint64_t id, frame_kind kind, std::string_view body) {
  if (body.size() > max_frame_body) return false;
  put_le(out, id, 8);
  out.push_back(static_cast<char>(kind));
  put_le(out, body.size(), 4);
  out.append(body);
  return true;
}

result<std::vector<frame>> parse_frames(std::string_view text) {
  std::vector<frame> frames;
  std::size_t at = 0;
  while (at < text.size()) {
    if (text.size() - at < header_size)
      return error{errc::invalid_argument,
                   "a batch of frames ends inside a frame header at byte " + std::to_string(at)};
    frame f;
    f.id = get_le(text, at, 8);
    const auto kind = static_cast<unsigned char>(text[at + 8]);
    if (kind > static_cast<unsigned char>(frame_kind::failure))
      return error{errc::invalid_argument, "a frame at byte " + std::to_string(at) +
                                               " has the unknown kind " + std::to_string(kind)};
    f.kind = static_cast<frame_kind>(kind);
    const auto length = static_cast<std::size_t>(get_le(text, at + 9, 4));
    at += header_size;
    if (text.size() - at < length)
      return error{errc::invalid_argument, "a frame's body of " + std::to_string(length) +
                                               " bytes runs past the end of its batch at byte " +
                                               std::to_string(text.size())};
    f.body = text.substr(at, length);
    at += length;
    frames.push_back(f);
  }
  return frames;
}

}  // namespace strata::actors::detail
