#include "strata/actors/cluster_wire.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>

namespace strata::actors {

namespace {

// The layout (docs/CLUSTER.md, "Forwarding"): a kind byte, a format byte, then the fields in
// a fixed order. Numbers are unsigned LEB128 (7 bits a byte, low group first), a signed one
// zigzag-mapped first; a text is its length as a number, then its bytes. Enumerations travel
// as their numbers and are range-checked on the way in.

constexpr char forwarded_kind = 'F';
constexpr char result_kind = 'R';
constexpr std::uint8_t format = 1;

// Bits of a forwarded command's flags and of a result's.
constexpr std::uint64_t has_expected_version = 1;
constexpr std::uint64_t is_duplicate = 1;
constexpr std::uint64_t has_why = 2;
constexpr std::uint64_t has_failure = 4;

class writer {
 public:
  explicit writer(char kind) {
    out_.push_back(kind);
    out_.push_back(static_cast<char>(format));
  }

  void number(std::uint64_t n) {
    while (n >= 0x80) {
      out_.push_back(static_cast<char>((n & 0x7f) | 0x80));
      n >>= 7;
    }
    out_.push_back(static_cast<char>(n));
  }

  void signed_number(std::int64_t n) {
    const auto u = static_cast<std::uint64_t>(n);
    number((u << 1) ^ (n < 0 ? ~std::uint64_t{0} : 0));
  }

  void text(std::string_view s) {
    number(s.size());
    out_.append(s);
  }

  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

/// Reads what `writer` wrote. The first field that is missing, too long or out of range sets
/// `failed` to its name; every read after that returns a zero value, so a decoder reads on
/// and checks once at the end.
class reader {
 public:
  reader(std::string_view in, char kind, const char* what) : in_(in), what_(what) {
    if (!in_.empty() && in_[0] == '{') {
      failed =
          "a JSON body, the wire form of strata releases before the binary one: every "
          "node of a cluster must run the same release";
    } else if (in_.size() < 2 || in_[0] != kind) {
      fail("its kind byte", 0);
    } else if (static_cast<std::uint8_t>(in_[1]) != format) {
      failed = std::string{"wire format "} + std::to_string(static_cast<std::uint8_t>(in_[1])) +
               ", this node reads format " + std::to_string(format);
    }
    at_ = in_.size() < 2 ? in_.size() : 2;
  }

  std::uint64_t number(const char* field) {
    const auto start = at_;
    std::uint64_t n = 0;
    for (unsigned shift = 0; !failed; shift += 7) {
      // The tenth byte may hold the 64th bit only, and ends the number.
      if (at_ == in_.size() || (shift == 63 && static_cast<std::uint8_t>(in_[at_]) > 1)) {
        fail(field, start);
        break;
      }
      const auto byte = static_cast<std::uint8_t>(in_[at_++]);
      n |= std::uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return n;
    }
    return 0;
  }

  std::int64_t signed_number(const char* field) {
    const auto u = number(field);
    return static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }

  std::string text(const char* field) {
    const auto start = at_;
    const auto size = number(field);
    if (failed) return {};
    if (size > in_.size() - at_) {
      fail(field, start);
      return {};
    }
    std::string s{in_.substr(at_, size)};
    at_ += size;
    return s;
  }

  /// A number that must be below `limit`.
  std::uint64_t below(std::uint64_t limit, const char* field) {
    const auto start = at_;
    const auto n = number(field);
    if (!failed && n >= limit) fail(field, start);
    return n;
  }

  /// How many more items of at least `least_bytes` each could follow.
  std::size_t room_for(std::size_t least_bytes) const { return (in_.size() - at_) / least_bytes; }

  /// The error of the first field that failed, or of bytes after the last field.
  std::optional<error> finish() {
    if (!failed && at_ != in_.size())
      failed = std::to_string(in_.size() - at_) + " bytes after the last field";
    if (!failed) return std::nullopt;
    return error{errc::invalid_argument, std::string{what_} + ": " + *failed};
  }

  std::optional<std::string> failed;

 private:
  /// `field`, which starts at byte `start`, is cut short, too long or out of range.
  void fail(const char* field, std::size_t start) {
    if (!failed)
      failed = std::string{"malformed or missing "} + field + " at byte " + std::to_string(start);
  }

  std::string_view in_;
  std::size_t at_ = 0;
  const char* what_;
};

/// The fewest bytes a record takes: 13 numbers and texts of one byte each, and a time.
constexpr std::size_t least_record_bytes = 14;

void write_record(writer& w, const persistence::event_record& r) {
  w.number(r.position.value);
  w.text(r.event_id);
  w.text(r.event_type);
  w.number(r.schema_version);
  w.text(r.aggregate_type);
  w.text(r.aggregate_id);
  w.number(r.stream_version.value);
  w.signed_number(r.time.time_since_epoch().count());
  w.text(r.user_id);
  w.text(r.command_id);
  w.text(r.correlation_id);
  w.text(r.causation_id);
  w.text(r.data);  // the stored text itself, byte for byte
  w.text(r.hash);
}

persistence::event_record read_record(reader& in) {
  persistence::event_record r;
  r.position = global_position{in.number("record position")};
  r.event_id = in.text("record event id");
  r.event_type = in.text("record event type");
  r.schema_version =
      static_cast<std::uint32_t>(in.below(std::uint64_t{1} << 32, "record schema version"));
  r.aggregate_type = in.text("record aggregate type");
  r.aggregate_id = in.text("record aggregate id");
  r.stream_version = version{in.number("record version")};
  r.time = timestamp{std::chrono::microseconds{in.signed_number("record time")}};
  r.user_id = in.text("record user id");
  r.command_id = in.text("record command id");
  r.correlation_id = in.text("record correlation id");
  r.causation_id = in.text("record causation id");
  r.data = in.text("record data");
  r.hash = in.text("record hash");
  return r;
}

}  // namespace

std::string encode_forwarded(const forwarded_command& c) {
  writer w{forwarded_kind};
  w.text(c.type);
  w.text(c.aggregate_id);
  w.text(c.command);
  w.text(c.meta.command_id);
  w.text(c.meta.user_id);
  w.text(c.meta.correlation_id);
  w.text(c.meta.causation_id);
  w.number(c.meta.expected_version ? has_expected_version : 0);
  if (c.meta.expected_version) w.number(c.meta.expected_version->value);
  w.text(c.from_node);
  return w.take();
}

result<forwarded_command> decode_forwarded(std::string_view text) {
  reader in{text, forwarded_kind, "forwarded command"};
  forwarded_command c;
  c.type = in.text("type");
  c.aggregate_id = in.text("aggregate id");
  c.command = in.text("command");
  c.meta.command_id = in.text("command id");
  c.meta.user_id = in.text("user id");
  c.meta.correlation_id = in.text("correlation id");
  c.meta.causation_id = in.text("causation id");
  const auto flags = in.below(has_expected_version << 1, "flags");
  if ((flags & has_expected_version) != 0)
    c.meta.expected_version = version{in.number("expected version")};
  c.from_node = in.text("sending node");
  if (auto failed = in.finish()) return std::move(*failed);
  if (c.type.empty() || c.command.empty())
    return error{errc::invalid_argument, "forwarded command without a type or a command"};
  return c;
}

std::string encode_result(const command_result& r) {
  writer w{result_kind};
  w.number(static_cast<std::uint64_t>(r.status));
  w.number(r.at.value);
  w.number(r.position.value);
  w.number((r.duplicate ? is_duplicate : 0) | (r.why ? has_why : 0) |
           (r.failure ? has_failure : 0));
  w.number(r.records.size());
  for (const auto& record : r.records) write_record(w, record);
  if (r.why) {
    w.text(r.why->code);
    w.text(r.why->message);
  }
  if (r.failure) {
    w.number(static_cast<std::uint64_t>(r.failure->code));
    w.text(r.failure->message);
  }
  return w.take();
}

result<command_result> decode_result(std::string_view text) {
  reader in{text, result_kind, "command result"};
  command_result r;
  r.status = static_cast<command_status>(in.below(command_status_count, "status"));
  r.at = version{in.number("version")};
  r.position = global_position{in.number("position")};
  const auto flags = in.below(has_failure << 1, "flags");
  r.duplicate = (flags & is_duplicate) != 0;
  const auto records = in.number("record count");
  if (!in.failed && records > in.room_for(least_record_bytes))
    in.failed = std::to_string(records) + " records announced, more than the text can hold";
  if (!in.failed) {
    r.records.reserve(records);
    for (std::uint64_t i = 0; i < records && !in.failed; ++i) r.records.push_back(read_record(in));
  }
  if ((flags & has_why) != 0) {
    auto code = in.text("rejection code");
    auto message = in.text("rejection message");
    r.why = rejection{std::move(code), std::move(message)};
  }
  if ((flags & has_failure) != 0) {
    // A known code is one `to_string` names: no bounds to keep in step with the enumeration.
    const auto code = in.number("failure code");
    if (!in.failed && (code > std::numeric_limits<std::underlying_type_t<errc>>::max() ||
                       to_string(static_cast<errc>(code)) == "unknown"))
      in.failed = "failure code " + std::to_string(code) + " is no error code";
    auto message = in.text("failure message");
    r.failure = error{static_cast<errc>(code), std::move(message)};
  }
  if (auto failed = in.finish()) return std::move(*failed);
  return r;
}

}  // namespace strata::actors
