// The page index blob of a snapshot image: which pages hold data, and where their bytes are.
// Byte layout: docs/formats/image.md, "Page index blob". Little-endian, version 1.
//
// A snapshot's memory, page by page, is:
//  - a page inside a kData run: the block the run names for it;
//  - a page inside a kInherit run: whatever the parent snapshot holds at that address (only an
//    incremental snapshot has kInherit runs; a page the parent does not hold is zero);
//  - any other page of a mapping: zero (never touched, or touched and all zeros).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace clonebot::snapshot {

// XXH3-128 of a page's bytes. Equal hashes are taken as equal pages (dedup).
struct PageHash {
  uint64_t hi = 0, lo = 0;
  friend bool operator==(const PageHash&, const PageHash&) = default;
  friend auto operator<=>(const PageHash&, const PageHash&) = default;
};
PageHash HashPage(const uint8_t* page);
// True if the 4096 bytes at |page| are all zero.
bool IsZeroPage(const uint8_t* page);

using Sha256 = std::array<uint8_t, 32>;

// One distinct page content, stored as slot |slot| of the zstd frame at [frame_off,
// frame_off+frame_clen) of pack |pack|.
struct Block {
  PageHash hash;
  uint64_t frame_off = 0;
  uint32_t frame_clen = 0;
  uint16_t pack = 0;
  uint16_t slot = 0;
};

enum class RunKind : uint32_t { kData = 1, kInherit = 2 };

struct Run {
  uint64_t start = 0;  // page-aligned address
  uint32_t npages = 0;
  RunKind kind = RunKind::kData;
  uint64_t first_ref = 0;  // kData: the run's pages use refs[first_ref .. first_ref+npages)
  uint64_t end() const { return start + uint64_t{npages} * 4096; }
};

// A parsed index that points into its serialized bytes, which must outlive it (Chain keeps the
// blob mapped): opening a snapshot's parent copies nothing (the index of a 1 GiB snapshot is
// ~6 MB; copying it into fresh memory cost ~4 ms here). Checked exactly as PageIndex::Parse
// (or, on request, later: see Parse).
struct PageIndexView {
  uint32_t page_size = 4096;
  std::span<const Sha256> packs;
  std::span<const Block> blocks;  // sorted by hash, unique
  std::span<const Run> runs;      // sorted by start, non-overlapping
  std::span<const uint32_t> refs;

  // |bytes| must be 8-byte aligned (a mapping is); on a big-endian host this fails. Without
  // |verify|, only the header and the size are checked: the spans lie within |bytes| and
  // FindBlock stays within them, but nothing they hold is checked (a block's pack number, the
  // order, the runs, the refs, the CRC32C) until Verify: a snapshot verifies its parent's
  // index on another thread while it works, and looks blocks up meanwhile.
  static absl::StatusOr<PageIndexView> Parse(std::span<const uint8_t> bytes, bool verify = true);
  // The CRC32C of |bytes| (this view's), then every bound and order Parse(…, true) checks.
  absl::Status Verify(std::span<const uint8_t> bytes) const;
  int64_t FindBlock(const PageHash& hash) const;
};

// A Bloom filter over the hashes of a set of blocks, for a deep parent chain: an incremental
// snapshot looks each new page up in every level of its chain, and most pages are in none, so
// a lookup that says "not here" from one cache line saves the searches of the levels. Split
// blocks (as Parquet's): a key sets one bit in each of the 8 words of one 64-byte line, the
// line chosen by the hash's low half and the bits by its high half (XXH3-128 is uniform, so
// no rehash). About 16 bits per key: false positives ~0.1%, never a false negative.
class BlockFilter {
 public:
  BlockFilter() = default;  // contains nothing
  explicit BlockFilter(std::span<const Block> blocks);
  bool MayContain(const PageHash& h) const {
    if (lines_.empty()) return false;
    const Line& line = lines_[h.lo & mask_];
    for (int j = 0; j < 8; j++)
      if (!(line.w[j] >> ((h.hi >> (6 * j)) & 63) & 1)) return false;
    return true;
  }

 private:
  struct alignas(64) Line {
    uint64_t w[8] = {};
  };
  std::vector<Line> lines_;
  uint64_t mask_ = 0;
};

struct PageIndex {
  uint32_t page_size = 4096;
  std::vector<Sha256> packs;     // pack blobs by digest (this image's or an ancestor's)
  std::vector<Block> blocks;     // sorted by hash, unique
  std::vector<Run> runs;         // sorted by start, non-overlapping
  std::vector<uint32_t> refs;    // block numbers of the pages of kData runs

  std::vector<uint8_t> Serialize() const;
  // The same bytes as Serialize, as the header (written into |header|) followed by the parts of
  // the body, which point into this index: for streaming a large index into a blob without a
  // copy of the whole.
  static constexpr size_t kHeaderBytes = 64;
  std::array<std::span<const uint8_t>, 5> SerializedParts(std::array<uint8_t, kHeaderBytes>& header) const;
  // Checks the magic, version, CRC32C, every bound and the sort orders.
  static absl::StatusOr<PageIndex> Parse(std::span<const uint8_t> bytes);
  // The block with |hash|, or -1.
  int64_t FindBlock(const PageHash& hash) const;
  uint64_t DataPages() const;
};

// Sorts |in| by hash into |out| (hashes must be distinct); (*renum)[i] is where in[i] went.
// Linear on uniform hashes (a counting sort on their top bits), n log n at worst.
void SortBlocks(const std::vector<Block>& in, std::vector<Block>* out, std::vector<uint32_t>* renum);

inline constexpr char kIndexMediaType[] = "application/vnd.clonebot.snapshot.index.v1";
inline constexpr char kPackMediaType[] = "application/vnd.clonebot.snapshot.pages.v1+zstd";

}  // namespace clonebot::snapshot
