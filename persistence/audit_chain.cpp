#include "strata/persistence/audit_chain.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include <openssl/evp.h>

namespace strata::persistence {
namespace {

constexpr std::string_view encoding_name = "strata.event.v1";
constexpr std::size_t page_size = 1024;

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xffU));
  }
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xffU));
  }
}

void put_text(std::string& out, std::string_view text) {
  put_u32(out, static_cast<std::uint32_t>(text.size()));
  out.append(text.data(), text.size());
}

bool is_hash_hex(std::string_view h) {
  if (h.size() != 64) return false;
  return std::all_of(h.begin(), h.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string versioned(const char* what, std::uint64_t v) {
  return std::string{what} + " " + std::to_string(v);
}

chain_violation violation(const stream_id& s, version at, global_position pos, std::string kind,
                          std::string detail) {
  return chain_violation{s, at, pos, std::move(kind), std::move(detail)};
}

/// Reads every event of `stream`, in pages by version.
result<std::vector<event_record>> read_whole_stream(journal& j, const stream_id& stream) {
  std::vector<event_record> all;
  stream_range range;
  range.limit = page_size;
  for (;;) {
    auto page = j.read_stream(stream, range);
    if (!page) return std::move(page).err();
    if (page->empty()) break;
    const version last = page->back().stream_version;
    const bool full = page->size() >= page_size;
    all.insert(all.end(), std::make_move_iterator(page->begin()),
               std::make_move_iterator(page->end()));
    if (!full || last < range.from) break;
    range.from = last.next();
  }
  return all;
}

void encode_into(std::string& out, const event_record& r) {
  out.clear();
  out.reserve(encoding_name.size() + 12 * 4 + 20 + r.event_id.size() + r.event_type.size() +
              r.aggregate_type.size() + r.aggregate_id.size() + r.user_id.size() +
              r.command_id.size() + r.correlation_id.size() + r.causation_id.size() +
              r.data.size());
  out.append(encoding_name.data(), encoding_name.size());
  put_text(out, r.event_id);
  put_text(out, r.event_type);
  put_u32(out, 4);
  put_u32(out, r.schema_version);
  put_text(out, r.aggregate_type);
  put_text(out, r.aggregate_id);
  put_u32(out, 8);
  put_u64(out, r.stream_version.value);
  put_u32(out, 8);
  put_u64(out, static_cast<std::uint64_t>(to_unix_micros(r.time)));
  put_text(out, r.user_id);
  put_text(out, r.command_id);
  put_text(out, r.correlation_id);
  put_text(out, r.causation_id);
  put_text(out, r.data);
}

// OpenSSL 3 looks the algorithm up in its providers on every EVP_DigestInit_ex with
// EVP_sha256(); an explicitly fetched one is looked up once per process. It is immutable and
// shared by every thread; null when the default provider has no SHA-256 (then the legacy
// constant is used).
const EVP_MD* sha256() {
  static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return fetched != nullptr ? fetched : EVP_sha256();
}

}  // namespace

struct chain_hasher::impl {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
  std::string encoded;
};

chain_hasher::chain_hasher() : impl_(std::make_unique<impl>()) {}
chain_hasher::~chain_hasher() = default;

std::string chain_hasher::link(std::string_view previous_hash_hex, const event_record& r) {
  encode_into(impl_->encoded, r);
  EVP_MD_CTX* ctx = impl_->ctx.get();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // The inputs are in memory; EVP only fails on allocation failure, which is not recoverable.
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, previous_hash_hex.data(), previous_hash_hex.size()) != 1 ||
      EVP_DigestUpdate(ctx, impl_->encoded.data(), impl_->encoded.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, digest, &length) != 1) {
    return {};
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(static_cast<std::size_t>(length) * 2, '0');
  for (unsigned int i = 0; i < length; ++i) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 0x0f];
  }
  return out;
}

std::string canonical_encoding(const event_record& r) {
  std::string out;
  encode_into(out, r);
  return out;
}

std::string chain_hash(std::string_view previous_hash_hex, const event_record& r) {
  return chain_hasher{}.link(previous_hash_hex, r);
}

result<std::optional<chain_violation>> verify_stream(journal& j, const stream_id& stream) {
  using answer = std::optional<chain_violation>;
  auto read = read_whole_stream(j, stream);
  if (!read) {
    if (read.err().code != errc::corrupted) return std::move(read).err();
    return answer{violation(stream, version{}, global_position{}, "corrupted", read.err().message)};
  }
  auto head = j.head(stream);
  if (!head) {
    if (head.err().code != errc::corrupted) return std::move(head).err();
    return answer{violation(stream, version{}, global_position{}, "corrupted", head.err().message)};
  }
  auto anchored = j.anchor(stream);
  if (!anchored) {
    if (anchored.err().code != errc::corrupted) return std::move(anchored).err();
    return answer{
        violation(stream, version{}, global_position{}, "corrupted", anchored.err().message)};
  }
  auto& recs = *read;
  std::stable_sort(recs.begin(), recs.end(), [](const event_record& a, const event_record& b) {
    return a.stream_version < b.stream_version ||
           (a.stream_version == b.stream_version && a.position < b.position);
  });

  chain_hasher hasher;
  // An archived prefix: the chain continues from the anchor (the last archived event).
  version expected = *anchored ? (*anchored)->at.next() : version{1};
  std::string_view previous_hash = *anchored ? std::string_view{(*anchored)->hash} : "";
  for (std::size_t i = 0; i < recs.size(); ++i) {
    const event_record& r = recs[i];
    const version v = r.stream_version;
    if (v > *head) {
      return answer{violation(stream, v, r.position, "inserted",
                              versioned("event beyond the recorded head, head is", head->value))};
    }
    if (v < expected) {
      return answer{violation(stream, v, r.position, "inserted",
                              versioned("a second event with version", v.value))};
    }
    if (v > expected) {
      return answer{
          violation(stream, expected, r.position, "missing",
                    versioned("no event with this version; the next one is version", v.value))};
    }
    if (i + 1 < recs.size() && recs[i + 1].position < r.position) {
      return answer{violation(stream, v, r.position, "reordered",
                              "version " + std::to_string(v.value + 1) + " was committed at " +
                                  std::to_string(recs[i + 1].position.value) +
                                  ", before this one")};
    }
    if (!is_hash_hex(r.hash)) {
      return answer{violation(stream, v, r.position, "corrupted",
                              "the stored hash is not 64 lower-case hex digits")};
    }
    if (hasher.link(previous_hash, r) != r.hash) {
      return answer{violation(stream, v, r.position, "altered",
                              "the stored hash does not match the event and its predecessor")};
    }
    previous_hash = r.hash;
    expected = v.next();
  }
  if (head->value + 1 > expected.value) {
    const global_position last = recs.empty() ? global_position{} : recs.back().position;
    return answer{violation(stream, expected, last, "missing",
                            versioned("the recorded head is version", head->value))};
  }
  return answer{};
}

result<std::optional<chain_violation>> verify_journal(journal& j) {
  using answer = std::optional<chain_violation>;
  struct stream_state {
    stream_id stream;
    version next{1};
    std::string hash;
  };
  std::unordered_map<std::string, std::size_t> index;
  std::vector<stream_state> streams;
  std::optional<global_position> first_gap;
  global_position after{};
  chain_hasher hasher;

  // Streams with an archived prefix continue from their anchors; positions up to the
  // highest archived one may be absent (they are in the archive).
  auto anchors = j.anchors();
  if (!anchors) {
    if (anchors.err().code != errc::corrupted) return std::move(anchors).err();
    return answer{
        violation(stream_id{}, version{}, global_position{}, "corrupted", anchors.err().message)};
  }
  auto mark = j.archived();
  if (!mark) {
    if (mark.err().code != errc::corrupted) return std::move(mark).err();
    return answer{
        violation(stream_id{}, version{}, global_position{}, "corrupted", mark.err().message)};
  }
  const global_position archived_through = *mark ? (*mark)->through : global_position{};
  for (const stream_anchor& a : *anchors) {
    index.emplace(a.stream.str(), streams.size());
    streams.push_back(stream_state{a.stream, a.at.next(), a.hash});
  }

  for (;;) {
    auto page = j.read_all(after, page_size);
    if (!page) {
      if (page.err().code != errc::corrupted) return std::move(page).err();
      return answer{
          violation(stream_id{}, version{}, after.next(), "corrupted", page.err().message)};
    }
    for (const event_record& r : *page) {
      if (!first_gap && r.position != after.next() && r.position.value > archived_through.value + 1)
        first_gap = std::max(after, archived_through).next();
      after = r.position;
      auto [it, fresh] = index.try_emplace(r.stream().str(), streams.size());
      if (fresh) streams.push_back(stream_state{r.stream(), version{1}, {}});
      stream_state& st = streams[it->second];
      std::optional<chain_violation> found;
      if (r.stream_version != st.next) {
        found = violation(
            st.stream, st.next, r.position, r.stream_version > st.next ? "missing" : "reordered",
            versioned("in global order the stream continues with version", r.stream_version.value));
      } else if (!is_hash_hex(r.hash)) {
        found = violation(st.stream, r.stream_version, r.position, "corrupted",
                          "the stored hash is not 64 lower-case hex digits");
      } else if (hasher.link(st.hash, r) != r.hash) {
        found = violation(st.stream, r.stream_version, r.position, "altered",
                          "the stored hash does not match the event and its predecessor");
      }
      if (found) {
        // The stream as a whole tells more precisely what happened (e.g. a forged event
        // beyond the head, or a swap that shows up as a gap in global order).
        auto precise = verify_stream(j, st.stream);
        if (!precise || *precise) return precise;
        return answer{std::move(found)};
      }
      st.hash = r.hash;
      st.next = r.stream_version.next();
    }
    if (page->size() < page_size) break;
  }

  for (const stream_state& st : streams) {
    auto head = j.head(st.stream);
    if (!head) {
      if (head.err().code != errc::corrupted) return std::move(head).err();
      return answer{
          violation(st.stream, version{}, global_position{}, "corrupted", head.err().message)};
    }
    if (head->value + 1 != st.next.value) {
      auto precise = verify_stream(j, st.stream);
      if (!precise || *precise) return precise;
      return answer{violation(st.stream, st.next, global_position{},
                              head->value + 1 > st.next.value ? "missing" : "inserted",
                              versioned("the recorded head is version", head->value))};
    }
  }

  auto last = j.last_position();
  if (!last) {
    if (last.err().code != errc::corrupted) return std::move(last).err();
    return answer{
        violation(stream_id{}, version{}, global_position{}, "corrupted", last.err().message)};
  }
  if (*last > after && *last > archived_through && !first_gap)
    first_gap = std::max(after, archived_through).next();
  if (first_gap) {
    return answer{violation(stream_id{}, version{}, *first_gap, "missing",
                            versioned("no event at global position", first_gap->value))};
  }
  return answer{};
}

}  // namespace strata::persistence
