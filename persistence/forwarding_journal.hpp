#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/persistence/journal.hpp"

namespace strata::persistence {

/// A journal that forwards every call to another: the base of decorators (counting,
/// progress reporting), which override only what they observe, so that a method added to
/// `journal` later is forwarded too instead of falling back to its default.
/// Thread-safety: as the inner journal. REQUIRES: `inner` outlives this.
class forwarding_journal : public journal {
 public:
  explicit forwarding_journal(journal& inner) noexcept : inner_(inner) {}

  result<std::vector<stream_outcome>> append(const std::vector<stream_append>& batch) override {
    return inner_.append(batch);
  }
  result<std::vector<event_record>> find_command(const stream_id& stream,
                                                 std::string_view command_id) override {
    return inner_.find_command(stream, command_id);
  }
  result<std::vector<event_record>> read_stream(const stream_id& stream,
                                                const stream_range& range) override {
    return inner_.read_stream(stream, range);
  }
  result<std::size_t> for_each_in_stream(const stream_id& stream, const stream_range& range,
                                         const event_visitor& visit) override {
    return inner_.for_each_in_stream(stream, range, visit);
  }
  result<std::vector<event_record>> read_all(global_position after, std::size_t limit) override {
    return inner_.read_all(after, limit);
  }
  result<version> head(const stream_id& stream) override { return inner_.head(stream); }
  result<global_position> last_position() override { return inner_.last_position(); }
  result<std::optional<stream_anchor>> anchor(const stream_id& stream) override {
    return inner_.anchor(stream);
  }
  result<std::vector<stream_anchor>> anchors() override { return inner_.anchors(); }
  result<std::optional<archive_mark>> archived() override { return inner_.archived(); }
  result<std::uint64_t> cut(const std::vector<stream_cut>& cuts,
                            const std::string& archive) override {
    return inner_.cut(cuts, archive);
  }
  const std::string& id() const noexcept override { return inner_.id(); }

 protected:
  journal& inner() noexcept { return inner_; }

 private:
  journal& inner_;
};

}  // namespace strata::persistence
