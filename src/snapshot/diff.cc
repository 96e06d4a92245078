#include "snapshot/diff.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_format.h"

namespace clonebot::snapshot {
namespace {

const MappingRecord* Find(const std::vector<MappingRecord>& maps, uint64_t addr) {
  auto it = std::upper_bound(maps.begin(), maps.end(), addr,
                             [](uint64_t a, const MappingRecord& r) { return a < r.m.start; });
  if (it == maps.begin()) return nullptr;
  --it;
  return addr < it->m.end ? &*it : nullptr;
}

}  // namespace

DiffResult Diff(const Chain& a, const Chain& b) {
  DiffResult out;
  const auto& ma = a.leaf().mappings;
  const auto& mb = b.leaf().mappings;
  std::vector<PageLoc> fa = a.Flatten(), fb = b.Flatten();

  // Changed pages: an address with data in A or B, stored in both, whose contents differ.
  std::vector<uint64_t> changed;
  size_t i = 0, j = 0;
  auto stored_in_both = [&](uint64_t addr) {
    const MappingRecord* ra = Find(ma, addr);
    const MappingRecord* rb = Find(mb, addr);
    return ra && rb && ra->skipped.empty() && rb->skipped.empty();
  };
  while (i < fa.size() || j < fb.size()) {
    uint64_t addr;
    bool differ;
    if (j == fb.size() || (i < fa.size() && fa[i].addr < fb[j].addr)) {
      addr = fa[i++].addr;  // data in A, zero in B
      differ = true;
    } else if (i == fa.size() || fb[j].addr < fa[i].addr) {
      addr = fb[j++].addr;  // zero in A, data in B
      differ = true;
    } else {
      addr = fa[i].addr;
      differ = !(a.block(fa[i]).hash == b.block(fb[j]).hash);
      i++;
      j++;
    }
    if (differ && stored_in_both(addr)) changed.push_back(addr);
  }
  out.changed_pages = changed.size();

  std::map<uint64_t, uint64_t> per_mapping;  // B mapping start -> changed pages
  for (uint64_t addr : changed) {
    const MappingRecord* rb = Find(mb, addr);
    per_mapping[rb->m.start]++;
    if (!out.changed.empty() && out.changed.back().end == addr &&
        out.changed.back().mapping == rb->m.DisplayName() && Find(mb, addr - 4096) == rb) {
      out.changed.back().end += 4096;
      out.changed.back().pages++;
    } else {
      out.changed.push_back({addr, addr + 4096, 1, rb->m.DisplayName()});
    }
  }

  // Mappings, matched by start address and name, in address order.
  std::map<uint64_t, const MappingRecord*> by_start_a;
  for (const auto& r : ma) by_start_a[r.m.start] = &r;
  std::map<uint64_t, MappingDiff> rows;
  for (const auto& rb : mb) {
    MappingDiff d;
    d.m = rb.m;
    auto it = by_start_a.find(rb.m.start);
    if (it == by_start_a.end() || it->second->m.DisplayName() != rb.m.DisplayName()) {
      d.status = "added";
    } else {
      const Mapping& old = it->second->m;
      std::vector<std::string> was;
      if (old.perms != rb.m.perms) was.push_back(absl::StrFormat("perms %s->%s", old.perms, rb.m.perms));
      if (old.end != rb.m.end) was.push_back(absl::StrFormat("end 0x%x->0x%x", old.end, rb.m.end));
      if (old.offset != rb.m.offset) was.push_back(absl::StrFormat("offset 0x%x->0x%x", old.offset, rb.m.offset));
      for (size_t k = 0; k < was.size(); k++) d.was += (k ? ", " : "") + was[k];
      d.changed_pages = per_mapping.count(rb.m.start) ? per_mapping[rb.m.start] : 0;
      d.status = (!was.empty() || d.changed_pages) ? "changed" : "unchanged";
      by_start_a.erase(it);
    }
    rows[rb.m.start] = std::move(d);
  }
  for (const auto& [start, ra] : by_start_a) {
    MappingDiff d;
    d.m = ra->m;
    d.status = "removed";
    rows.emplace(start + 1, std::move(d));  // after a B mapping at the same start, if any
  }
  for (auto& [k, d] : rows) out.mappings.push_back(std::move(d));
  return out;
}

nlohmann::json DiffToJson(const DiffResult& d) {
  nlohmann::json maps = nlohmann::json::array();
  for (const MappingDiff& m : d.mappings) {
    nlohmann::json o = {{"start", absl::StrFormat("0x%x", m.m.start)},
                        {"end", absl::StrFormat("0x%x", m.m.end)},
                        {"perms", m.m.perms},
                        {"name", m.m.DisplayName()},
                        {"status", m.status},
                        {"changed_pages", m.changed_pages}};
    if (!m.was.empty()) o["was"] = m.was;
    maps.push_back(std::move(o));
  }
  nlohmann::json changed = nlohmann::json::array();
  for (const ChangedRange& c : d.changed)
    changed.push_back({{"start", absl::StrFormat("0x%x", c.start)},
                       {"end", absl::StrFormat("0x%x", c.end)},
                       {"pages", c.pages},
                       {"mapping", c.mapping}});
  return {{"mappings", maps}, {"changed", changed}, {"changed_pages", d.changed_pages}};
}

}  // namespace clonebot::snapshot
