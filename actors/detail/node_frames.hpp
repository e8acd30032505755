#pragma once

// The batches two nodes' links exchange (actors/node_link.cpp): many requests, or many
// answers, in one text of frames, so that a batch crosses the connection as one message.
// A frame is its id (8 bytes), its kind (1 byte) and its body's length (4 bytes), both
// numbers little-endian, then the body. Pure functions, no CAF.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/domain/kernel/result.hpp"

namespace strata::actors::detail {

/// What a frame carries: a request, a peer's reply to one, or the reason it has none.
enum class frame_kind : std::uint8_t { request = 0, reply = 1, failure = 2 };

struct frame {
  std::uint64_t id = 0;
  frame_kind kind = frame_kind::request;
  std::string_view body;  ///< Points into the parsed text.
};

/// The longest body a frame can carry (its length is 4 bytes).
constexpr std::size_t max_frame_body = 0xffffffffu;

/// Appends one frame to `out`; false, and `out` unchanged, when the body is longer than
/// `max_frame_body`.
[[nodiscard]] bool append_frame(std::string& out, std::uint64_t id, frame_kind kind,
                                std::string_view body);

/// Every frame of `text`, in order, each body a view into `text`. Errors: `invalid_argument`
/// naming the byte offset, for a text that ends inside a frame or a kind out of range; no frame
/// is returned then.
result<std::vector<frame>> parse_frames(std::string_view text);

}  // namespace strata::actors::detail
