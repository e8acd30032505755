#include "strata/persistence/cluster.hpp"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <map>

namespace strata {

bool is_valid_node_id(std::string_view node_id) noexcept {
  if (node_id.empty() || node_id.size() > 64) return false;
  for (char c : node_id) {
    const bool good = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
    if (!good) return false;
  }
  return true;
}

std::string_view to_string(member_status s) noexcept {
  switch (s) {
    case member_status::joining:
      return "joining";
    case member_status::alive:
      return "alive";
    case member_status::suspect:
      return "suspect";
    case member_status::dead:
      return "dead";
    case member_status::left:
      return "left";
  }
  return "unknown";
}

std::vector<std::string> plan_assignment(const std::vector<std::string>& live_members,
                                         std::uint32_t shard_count,
                                         const std::vector<std::string>& current_owners) {
  assert(current_owners.empty() || current_owners.size() == shard_count);
  std::vector<std::string> plan(shard_count);
  if (live_members.empty() || shard_count == 0) return plan;

  // The shards each live member holds now, ascending.
  std::map<std::string, std::vector<std::uint32_t>> held;
  for (const auto& m : live_members) held[m];
  for (std::uint32_t shard = 0; shard < current_owners.size(); ++shard)
    if (auto it = held.find(current_owners[shard]); it != held.end()) it->second.push_back(shard);

  // Shares: `extra` members get one more than the others; giving it to those holding the most
  // keeps the most shards where they are.
  std::vector<std::string> by_holding;
  for (const auto& [node, shards] : held) by_holding.push_back(node);
  std::stable_sort(by_holding.begin(), by_holding.end(),
                   [&held](const std::string& a, const std::string& b) {
                     return held[a].size() > held[b].size();
                   });
  const std::size_t members = by_holding.size();
  const std::size_t base = shard_count / members;
  const std::size_t extra = shard_count % members;
  std::map<std::string, std::size_t> share;
  for (std::size_t i = 0; i < members; ++i) share[by_holding[i]] = base + (i < extra ? 1 : 0);

  // Each keeps its lowest shards up to its share; the rest, and the unowned, are handed out.
  std::vector<bool> placed(shard_count, false);
  std::map<std::string, std::size_t> count;
  for (const auto& [node, shards] : held) {
    const std::size_t keep = std::min(shards.size(), share[node]);
    for (std::size_t i = 0; i < keep; ++i) {
      plan[shards[i]] = node;
      placed[shards[i]] = true;
    }
    count[node] = keep;
  }
  auto taker = held.begin();  // node-id order
  for (std::uint32_t shard = 0; shard < shard_count; ++shard) {
    if (placed[shard]) continue;
    while (count[taker->first] >= share[taker->first]) ++taker;
    plan[shard] = taker->first;
    ++count[taker->first];
  }
  return plan;
}

}  // namespace strata
