// Comparing two snapshots (usually a parent and a child, but any two images): which mappings
// came, went or changed, and which pages differ in content.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "snapshot/chain.h"

namespace clonebot::snapshot {

struct MappingDiff {
  Mapping m;               // as in B (as in A for "removed")
  std::string status;      // "added", "removed", "changed", "unchanged"
  std::string was;         // for "changed": what else changed besides content ("perms rw-p->r--p", "end 0x…")
  uint64_t changed_pages = 0;
};

struct ChangedRange {
  uint64_t start = 0, end = 0;
  uint64_t pages = 0;
  std::string mapping;     // display name of the mapping in B
};

struct DiffResult {
  std::vector<MappingDiff> mappings;
  std::vector<ChangedRange> changed;
  uint64_t changed_pages = 0;
};

// Pages are compared where both snapshots hold the address in a stored mapping; a mapping is
// matched by its start address and name.
DiffResult Diff(const Chain& a, const Chain& b);

nlohmann::json DiffToJson(const DiffResult& d);

}  // namespace clonebot::snapshot
