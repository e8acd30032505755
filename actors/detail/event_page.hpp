#pragma once

// A page of a stream's events copied out of the journal's row buffers, so that one thread can
// read the next page while another folds this one (rehydration of long streams).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "strata/persistence/journal.hpp"

namespace strata::actors::detail {

/// The events of one `journal::for_each_in_stream` call, owned: every field of each view is
/// copied into one buffer, so a page costs two allocations however many events it holds (none
/// once reused at its size). `view(i)` hands the event back as the journal showed it.
///
/// Thread-safety: none; a page is filled by one thread, then handed to another.
class event_page {
 public:
  void clear() noexcept {
    bytes_.clear();
    entries_.clear();
  }

  /// Copies `v`.
  void add(const persistence::event_view& v) {
    entry e;
    e.position = v.position;
    e.schema_version = v.schema_version;
    e.stream_version = v.stream_version;
    e.time = v.time;
    std::size_t k = 0;
    for (std::string_view field : {v.event_id, v.event_type, v.user_id, v.command_id,
                                   v.correlation_id, v.causation_id, v.data, v.hash}) {
      e.fields[k++] = span{bytes_.size(), field.size()};
      bytes_.append(field);
    }
    entries_.push_back(e);
  }

  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }

  /// The stream version of the last event (REQUIRES: not empty).
  version last_version() const noexcept { return entries_.back().stream_version; }

  /// Event `i` (REQUIRES: i < size()), valid until the page is changed.
  persistence::event_view view(std::size_t i) const noexcept {
    const entry& e = entries_[i];
    persistence::event_view v;
    v.position = e.position;
    v.schema_version = e.schema_version;
    v.stream_version = e.stream_version;
    v.time = e.time;
    v.event_id = text(e.fields[0]);
    v.event_type = text(e.fields[1]);
    v.user_id = text(e.fields[2]);
    v.command_id = text(e.fields[3]);
    v.correlation_id = text(e.fields[4]);
    v.causation_id = text(e.fields[5]);
    v.data = text(e.fields[6]);
    v.hash = text(e.fields[7]);
    return v;
  }

 private:
  struct span {
    std::size_t offset = 0;
    std::size_t size = 0;
  };
  struct entry {
    global_position position;
    std::uint32_t schema_version = 1;
    version stream_version;
    timestamp time{};
    span fields[8];
  };

  std::string_view text(span s) const noexcept { return {bytes_.data() + s.offset, s.size}; }

  std::string bytes_;  // offsets, not pointers: the buffer moves while the page fills
  std::vector<entry> entries_;
};

}  // namespace strata::actors::detail
