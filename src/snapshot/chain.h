// Reading snapshot images: one image and its parent chain, page contents, the flattened page
// table. Used by extract, diff, inspect, and by an incremental snapshot to find its parent's
// pages.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "image/oci.h"
#include "nlohmann/json.hpp"
#include "snapshot/maps.h"
#include "snapshot/page_index.h"

namespace clonebot::snapshot {

inline constexpr int kConfigFormatVersion = 1;

// A mapping as recorded in an image.
struct MappingRecord {
  Mapping m;
  std::string skipped;        // why its memory is not stored, "" if it is
  uint64_t pages_present = 0; // present or swapped pages at the snapshot
};

// The manifest annotations of a snapshot (docs/formats/image.md): copies of config fields, so
// that a chain's ancestors can be walked without reading their configs.
inline constexpr char kMethodAnnotation[] = "org.clonebot.snapshot.method";
inline constexpr char kParentAnnotation[] = "org.clonebot.snapshot.parent";  // manifest digest
inline constexpr char kParentPathAnnotation[] = "org.clonebot.snapshot.parent.path";
inline constexpr char kCreatedAnnotation[] = "org.opencontainers.image.created";

// One committed snapshot image.
struct Image {
  std::unique_ptr<image::Layout> layout;
  // The whole config blob, and the mappings it records: only where the config was read (see
  // OpenImage); otherwise |config| is null, |mappings| empty and meta() an empty object.
  nlohmann::json config;
  const nlohmann::json& meta() const;
  std::vector<MappingRecord> mappings;
  std::unique_ptr<image::Layout::Mapped> index_blob;  // the bytes |index| points into
  PageIndexView index;
  std::string method, created;      // from the config, or from the manifest's annotations
  std::string parent_path;          // as recorded (relative to dir), "" for a full snapshot
  std::string parent_manifest;      // digest the parent must have
};

// Opens a committed image. With |defer_checks| its page index is parsed but not verified (see
// PageIndexView::Parse): Chain::CheckIndexes does that. Without |read_config|, an image whose
// manifest annotations carry the parent link (every image since they were added) is opened
// without its config blob: reading and parsing it was ~60% of the cost of opening one level of
// a chain (~0.15 of ~0.26 ms here). Older images are read whole either way.
absl::StatusOr<std::unique_ptr<Image>> OpenImage(const std::string& dir, bool defer_checks = false,
                                                 bool read_config = true);

// Where one page's bytes are.
struct PageLoc {
  uint64_t addr;
  uint32_t level;  // index into Chain::levels()
  uint32_t block;  // in that level's index
};

class Chain {
 public:
  // Opens |dir| and every ancestor (parent paths are relative to the child's directory),
  // checking each parent's manifest digest against what the child recorded. Only the leaf's
  // config is read (OpenImage's |read_config|): ancestors have method and created, not meta().
  // With |defer_checks| the page indexes are not verified (PageIndexView::Parse): until
  // CheckIndexes has passed, only FindBlock may be used, and what it returns not trusted.
  static absl::StatusOr<std::unique_ptr<Chain>> Open(const std::string& dir, bool defer_checks = false);
  // Verifies every level's page index (~3 ms for the index of a 1 GiB snapshot, with its page
  // faults). Reads only immutable state: may run on another thread while the chain is used.
  absl::Status CheckIndexes() const;

  // levels()[0] is the full snapshot at the root, back() the image that was opened.
  const std::vector<std::unique_ptr<Image>>& levels() const { return levels_; }
  const Image& leaf() const { return *levels_.back(); }

  // Every non-zero page of the leaf snapshot, sorted by address.
  std::vector<PageLoc> Flatten() const;

  const Block& block(const PageLoc& loc) const { return levels_[loc.level]->index.blocks[loc.block]; }
  // A block with this content anywhere in the chain: the block and its pack's digest. Safe on
  // an unverified index (a block naming a pack that is not there is not found). Thread-safe.
  // The first call builds a BlockFilter for every level but the root (which is searched
  // directly: one level, and the largest): at depth ~50 they saved ~1.7 us per page
  // looked up (4.5 ms of the pre-copy of 2,621 pages).
  std::optional<std::pair<Block, Sha256>> FindBlock(const PageHash& h) const;

  // Decompresses the page at |loc| into |out| (4096 bytes), checking its hash.
  absl::Status ReadPage(const PageLoc& loc, uint8_t* out) const;

  // The bytes [addr, addr+len) of the leaf snapshot. Fails if any part is outside the leaf's
  // mappings or in a mapping whose memory was not stored.
  absl::StatusOr<std::vector<uint8_t>> Extract(uint64_t addr, uint64_t len) const;

 private:
  absl::StatusOr<const image::Layout::Mapped*> Pack(uint32_t level, uint16_t pack) const;
  std::vector<std::unique_ptr<Image>> levels_;
  mutable std::once_flag filters_once_;
  mutable std::vector<BlockFilter> filters_;  // by level; [0] is empty (never consulted)
  mutable std::map<std::pair<uint32_t, uint16_t>, std::unique_ptr<image::Layout::Mapped>> packs_;
};

// The digest of a pack as "sha256:<hex>" and back.
std::string DigestString(const Sha256& d);
bool ParseDigest(const std::string& s, Sha256* out);

}  // namespace clonebot::snapshot
