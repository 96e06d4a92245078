// PageStore: turns the pages read from a process into the page packs and page index of a new
// image. Zero pages are dropped; the others are hashed (XXH3-128), deduplicated against each
// other and against every image of the parent chain, packed 16 to a zstd frame, and streamed
// into pack blobs of the image being written (two per worker on tmpfs; on a disk one, and two
// once it holds 4 MiB).
// Hashing and compression run on worker threads, after the target has been resumed.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "image/oci.h"
#include "snapshot/page_index.h"

namespace clonebot::snapshot {

class Chain;

struct StoreStats {
  uint64_t pages_in = 0;       // pages handed to the store
  uint64_t zero_pages = 0;     // of which all-zero (not stored)
  uint64_t dedup_pages = 0;    // non-zero pages whose content was already stored
  uint64_t unique_pages = 0;   // pages compressed into this image's packs
  uint64_t packed_bytes = 0;   // compressed bytes of this image's packs
};

class PageStore {
 public:
  // |parent| (may be null) is the chain whose blocks are reused. |workers| calls of AddBatch may
  // run at once, each with its own |worker| number in [0, workers).
  PageStore(image::LayoutWriter* writer, const Chain* parent, int workers, int zstd_level = 1);
  ~PageStore();

  // Adds |n| pages: addrs[i] holds the 4096 bytes at pages + i*4096. A provisional page (read
  // ahead of the stop, and perhaps written again before it) is in the index only if Finish's
  // |keep| names its address; a page added both ways keeps its non-provisional bytes. Provisional
  // pages that are dropped leave their bytes in a pack, unreferenced, and count in stats().
  absl::Status AddBatch(int worker, const uint64_t* addrs, const uint8_t* pages, size_t n,
                        bool provisional = false);

  // Flushes worker |worker|'s last frame and finishes its pack blobs (write, fsync, rename), and
  // sorts its entries. Called by that worker when it has no more pages, so that the workers'
  // final writes overlap; AddBatch must not be called for |worker| afterwards.
  absl::Status FinishWorker(int worker);

  // Finishes the workers FinishWorker was not called for and builds the index: kData runs for
  // the stored pages (and the provisional ones whose address is in |keep|, ascending), plus the
  // |inherit| runs (which must not overlap them). Appends the pack descriptors to |packs|, in
  // worker order.
  absl::StatusOr<PageIndex> Finish(const std::vector<Run>& inherit, std::vector<image::Descriptor>* packs,
                                   const std::vector<uint64_t>& keep = {});

  StoreStats stats() const;

 private:
  struct Worker;
  struct Entry {  // a page stored at an address
    uint64_t addr;
    uint32_t block;
  };
  absl::Status FlushFrame(Worker& w);
  // The pack blob the next frame of |w| goes to (opened if need be); sets w.lane.
  absl::StatusOr<image::BlobWriter*> NextPack(Worker& w);
  // Points |n| blocks at the frame just appended at w.offset (|clen| bytes); advances w.offset.
  void RecordFrame(Worker& w, const uint32_t* blocks, size_t n, size_t clen);
  // Appends one raw frame of the kPagesPerFrame pages items[k].first of |pages|, for blocks
  // items[k].second.
  absl::Status RawFrameFrom(Worker& w, const uint8_t* pages, const std::pair<size_t, uint32_t>* items);
  // The same for the |n| pages items[0..n): half to each of the worker's two packs (opened if
  // need be), in raw frames of up to kPagesPerFrame pages, written from |pages| with
  // BlobWriter::AppendTwo. Memory filesystems only (elsewhere the packs are paired
  // only once large: kPairAfter).
  absl::Status RawFramesTwo(Worker& w, const uint8_t* pages, const std::pair<size_t, uint32_t>* items,
                            size_t n);
  uint16_t PackNumber(const Sha256& digest);

  image::LayoutWriter* writer_;
  const Chain* parent_;
  int zstd_level_;
  std::vector<std::unique_ptr<Worker>> workers_;
  mutable std::mutex mu_;  // guards everything below
  // Content hash -> its block. XXH3-128 is uniform: its low half is the table's hash.
  struct HashLo {
    size_t operator()(const PageHash& h) const { return h.lo; }
  };
  absl::flat_hash_map<PageHash, uint32_t, HashLo> by_hash_;
  std::vector<Block> blocks_;           // pack numbers refer to packs_
  std::vector<Sha256> packs_;
  StoreStats stats_;
};

}  // namespace clonebot::snapshot
