#include "snapshot/chain.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "base/status.h"

namespace clonebot::snapshot {
namespace {

bool HexField(const nlohmann::json& j, const char* key, uint64_t* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return false;
  const std::string& s = it->get_ref<const std::string&>();
  return s.rfind("0x", 0) == 0 && absl::SimpleHexAtoi(s.substr(2), out);
}


absl::Status ParseConfig(Image& img, const std::string& dir) {
  auto bad = [&](const std::string& why) {
    return absl::DataLossError(absl::StrFormat("%s: config: %s", dir, why));
  };
  const nlohmann::json& c = img.config;
  if (!c.is_object() || !c.contains("clonebot") || !c["clonebot"].is_object())
    return bad("not a clonebot snapshot (no \"clonebot\" object)");
  const nlohmann::json& m = c["clonebot"];
  if (!m.contains("format_version") || !m["format_version"].is_number_integer())
    return bad("no format_version");
  if (m["format_version"].get<int>() != kConfigFormatVersion)
    return bad(absl::StrFormat("unsupported format_version %d", m["format_version"].get<int>()));
  if (!m.contains("mappings") || !m["mappings"].is_array()) return bad("no mappings");
  for (const auto& jm : m["mappings"]) {
    MappingRecord r;
    if (!jm.is_object() || !HexField(jm, "start", &r.m.start) || !HexField(jm, "end", &r.m.end) ||
        r.m.end < r.m.start || !jm.contains("perms") || !jm["perms"].is_string())
      return bad("malformed mapping");
    r.m.perms = jm["perms"].get<std::string>();
    HexField(jm, "offset", &r.m.offset);
    r.m.path = jm.value("path", "");
    r.m.deleted = jm.value("deleted", false);
    r.m.inode = jm.value("inode", uint64_t{0});
    r.skipped = jm.value("skipped", "");
    r.pages_present = jm.value("pages_present", uint64_t{0});
    img.mappings.push_back(std::move(r));
  }
  if (m.contains("parent") && m["parent"].is_object()) {
    img.parent_path = m["parent"].value("path", "");
    img.parent_manifest = m["parent"].value("manifest", "");
    if (img.parent_path.empty() || img.parent_manifest.empty()) return bad("malformed parent");
  }
  return absl::OkStatus();
}

}  // namespace

std::string DigestString(const Sha256& d) {
  static const char* hex = "0123456789abcdef";
  std::string s = "sha256:";
  for (uint8_t b : d) {
    s += hex[b >> 4];
    s += hex[b & 15];
  }
  return s;
}

bool ParseDigest(const std::string& s, Sha256* out) {
  if (s.size() != 7 + 64 || s.rfind("sha256:", 0) != 0) return false;
  for (int i = 0; i < 32; i++) {
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = nib(s[7 + 2 * i]), lo = nib(s[8 + 2 * i]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

const nlohmann::json& Image::meta() const {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  return config.is_object() ? config.at("clonebot") : kEmpty;  // ParseConfig checked it is there
}

absl::StatusOr<std::unique_ptr<Image>> OpenImage(const std::string& dir, bool defer_checks,
                                                 bool read_config) {
  auto img = std::make_unique<Image>();
  ASSIGN_OR_RETURN(img->layout, image::Layout::Open(dir));
  const auto& ann = img->layout->annotations();
  auto annotation = [&](const char* key) -> const std::string* {
    auto it = ann.find(key);
    return it == ann.end() ? nullptr : &it->second;
  };
  const std::string* method = annotation(kMethodAnnotation);
  const std::string* parent = annotation(kParentAnnotation);
  const std::string* parent_path = annotation(kParentPathAnnotation);
  if (!read_config && method != nullptr && (parent == nullptr) == (parent_path == nullptr)) {
    img->method = *method;
    if (const std::string* c = annotation(kCreatedAnnotation)) img->created = *c;
    if (parent != nullptr) {
      if (parent->empty() || parent_path->empty())
        return absl::DataLossError(dir + ": malformed parent annotations");
      img->parent_manifest = *parent;
      img->parent_path = *parent_path;
    }
  } else {
    ASSIGN_OR_RETURN(std::vector<uint8_t> cfg, img->layout->ReadBlob(img->layout->config()));
    img->config = nlohmann::json::parse(cfg.begin(), cfg.end(), nullptr, /*allow_exceptions=*/false);
    if (img->config.is_discarded()) return absl::DataLossError(dir + ": config blob is not JSON");
    RETURN_IF_ERROR(ParseConfig(*img, dir));
    auto text = [&](const char* key) {  // a field of another type is left "", never thrown
      auto it = img->meta().find(key);
      return it != img->meta().end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    img->method = text("method");
    img->created = text("created");
  }
  const image::Descriptor* index = nullptr;
  for (const auto& l : img->layout->layers())
    if (l.media_type == kIndexMediaType) index = &l;
  if (!index) return absl::DataLossError(dir + ": no page index layer");
  // Mapped, not digest-verified: the index carries its own CRC32C, checked by Parse (or, with
  // |defer_checks|, by Chain::CheckIndexes), ten times cheaper than SHA-256 on the 6 MB index
  // of a 1 GiB snapshot.
  ASSIGN_OR_RETURN(img->index_blob, img->layout->MapBlob(*index));
  auto parsed = PageIndexView::Parse(img->index_blob->bytes(), /*verify=*/!defer_checks);
  if (!parsed.ok()) return absl::DataLossError(dir + ": " + std::string(parsed.status().message()));
  img->index = *parsed;
  return img;
}

absl::Status Chain::CheckIndexes() const {
  for (const auto& level : levels_)
    if (absl::Status st = level->index.Verify(level->index_blob->bytes()); !st.ok())
      return absl::DataLossError(level->layout->dir() + ": " + std::string(st.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Chain>> Chain::Open(const std::string& dir, bool defer_checks) {
  auto chain = std::make_unique<Chain>();
  std::vector<std::unique_ptr<Image>> rev;
  std::string cur = dir;
  std::string want_manifest;
  std::set<std::string> seen;
  for (;;) {
    ASSIGN_OR_RETURN(auto img, OpenImage(cur, defer_checks, /*read_config=*/rev.empty()));
    const std::string& digest = img->layout->manifest_descriptor().digest;
    if (!want_manifest.empty() && digest != want_manifest)
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s is not the parent this snapshot was taken against (its manifest is %s, expected %s)", cur,
          digest, want_manifest));
    if (!seen.insert(digest).second) return absl::DataLossError(cur + ": parent chain has a cycle");
    std::string parent = img->parent_path;
    want_manifest = img->parent_manifest;
    rev.push_back(std::move(img));
    if (parent.empty()) break;
    cur = parent[0] == '/' ? parent : cur + "/" + parent;
    // Resolved by the kernel's rules (symlinks first, then ".."), so that the path of level k
    // does not carry the "child/../" of every level below it: an O(depth) path at every open
    // made opening a chain O(depth^2), and a deep chain (or long names) overran PATH_MAX. If
    // it does not resolve, the open below names the unresolved path.
    std::error_code ec;
    if (auto c = std::filesystem::canonical(cur, ec); !ec) cur = c.string();
  }
  std::reverse(rev.begin(), rev.end());
  chain->levels_ = std::move(rev);
  return chain;
}

std::vector<PageLoc> Chain::Flatten() const {
  std::vector<PageLoc> prev;
  for (uint32_t level = 0; level < levels_.size(); level++) {
    const PageIndexView& idx = levels_[level]->index;
    std::vector<PageLoc> cur;
    size_t p = 0;  // cursor into prev (both are address-ordered)
    for (const Run& r : idx.runs) {
      if (r.kind == RunKind::kData) {
        for (uint32_t i = 0; i < r.npages; i++)
          cur.push_back({r.start + uint64_t{i} * 4096, level, idx.refs[r.first_ref + i]});
      } else {
        while (p < prev.size() && prev[p].addr < r.start) p++;
        for (; p < prev.size() && prev[p].addr < r.end(); p++) cur.push_back(prev[p]);
      }
    }
    prev = std::move(cur);
  }
  return prev;
}

std::optional<std::pair<Block, Sha256>> Chain::FindBlock(const PageHash& h) const {
  std::call_once(filters_once_, [this] {
    filters_.resize(levels_.size());
    for (size_t l = 1; l < levels_.size(); l++) filters_[l] = BlockFilter(levels_[l]->index.blocks);
  });
  for (size_t l = levels_.size(); l-- > 0;) {
    if (l > 0 && !filters_[l].MayContain(h)) continue;
    const PageIndexView& idx = levels_[l]->index;
    int64_t b = idx.FindBlock(h);
    if (b >= 0 && idx.blocks[b].pack < idx.packs.size())
      return std::make_pair(idx.blocks[b], idx.packs[idx.blocks[b].pack]);
  }
  return std::nullopt;
}

absl::StatusOr<const image::Layout::Mapped*> Chain::Pack(uint32_t level, uint16_t pack) const {
  auto key = std::make_pair(level, pack);
  auto it = packs_.find(key);
  if (it != packs_.end()) return it->second.get();
  std::string digest = DigestString(levels_[level]->index.packs[pack]);
  // The pack is in this image or in an ancestor (a block deduplicated against the parent).
  for (uint32_t l = level + 1; l-- > 0;) {
    const image::Layout& lay = *levels_[l]->layout;
    for (const auto& d : lay.layers()) {
      if (d.digest != digest) continue;
      ASSIGN_OR_RETURN(auto mapped, lay.MapBlob(d));
      auto* raw = mapped.get();
      packs_[key] = std::move(mapped);
      return raw;
    }
  }
  return absl::DataLossError(absl::StrFormat("%s: page pack %s is in no image of the chain",
                                             levels_[level]->layout->dir(), digest));
}

absl::Status Chain::ReadPage(const PageLoc& loc, uint8_t* out) const {
  const Block& b = block(loc);
  ASSIGN_OR_RETURN(const image::Layout::Mapped* pack, Pack(loc.level, b.pack));
  std::span<const uint8_t> bytes = pack->bytes();
  const std::string& dir = levels_[loc.level]->layout->dir();
  if (b.frame_off > bytes.size() || bytes.size() - b.frame_off < b.frame_clen)
    return absl::DataLossError(absl::StrFormat("%s: page frame at %u lies outside its pack", dir, b.frame_off));
  uint8_t frame[16 * 4096];
  size_t n = ZSTD_decompress(frame, sizeof frame, bytes.data() + b.frame_off, b.frame_clen);
  if (ZSTD_isError(n) || (b.slot + 1) * 4096ull > n)
    return absl::DataLossError(absl::StrFormat("%s: page frame at %u is corrupt", dir, b.frame_off));
  memcpy(out, frame + b.slot * 4096, 4096);
  if (!(HashPage(out) == b.hash))
    return absl::DataLossError(absl::StrFormat("%s: page 0x%x does not match its hash", dir, loc.addr));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> Chain::Extract(uint64_t addr, uint64_t len) const {
  if (len == 0) return std::vector<uint8_t>();
  if (addr + len < addr) return absl::InvalidArgumentError("address range wraps around");
  // Every byte must lie in a stored mapping of the leaf.
  const auto& maps = leaf().mappings;
  for (uint64_t a = addr; a < addr + len;) {
    auto it = std::find_if(maps.begin(), maps.end(), [&](const MappingRecord& r) { return r.m.start <= a && a < r.m.end; });
    if (it == maps.end())
      return absl::InvalidArgumentError(absl::StrFormat("0x%x is not mapped in this snapshot", a));
    if (!it->skipped.empty())
      return absl::InvalidArgumentError(absl::StrFormat("0x%x is in %s, which is not stored (%s)", a,
                                                        it->m.DisplayName(), it->skipped));
    a = it->m.end;
  }
  std::vector<uint8_t> out(len, 0);
  std::vector<PageLoc> pages = Flatten();
  uint64_t first = addr & ~uint64_t{4095};
  auto it = std::lower_bound(pages.begin(), pages.end(), first, [](const PageLoc& p, uint64_t a) { return p.addr < a; });
  uint8_t page[4096];
  for (; it != pages.end() && it->addr < addr + len; ++it) {
    RETURN_IF_ERROR(ReadPage(*it, page));
    uint64_t lo = std::max(addr, it->addr), hi = std::min(addr + len, it->addr + 4096);
    memcpy(out.data() + (lo - addr), page + (lo - it->addr), hi - lo);
  }
  return out;
}

}  // namespace clonebot::snapshot
