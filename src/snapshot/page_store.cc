#include "snapshot/page_store.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/strings/str_format.h"
#include "base/status.h"
#include "snapshot/chain.h"

namespace clonebot::snapshot {

namespace {
constexpr int kPagesPerFrame = 16;
static_assert(kPagesPerFrame * 4096 <= (128 << 10), "a raw frame is one zstd block of at most 128 KiB");
// Block::pack >= this: open pack |lane| of worker w, where pack - kWorkerPack = 2 * w + lane.
constexpr uint32_t kWorkerPack = 0x8000;
// A worker writes one pack until it holds this much; then a second one opens, hashed together
// with the first (BlobWriter::PairWith: two SHA-256 streams at once), and frames alternate.
// On a disk, small images keep one pack per worker: each pack is one more file to fsync. On a
// memory filesystem a file costs next to nothing: pairs from the start.
constexpr uint64_t kPairAfter = 4 << 20;
constexpr int kSkipAfterMiss = 15;

// The head of a zstd frame (RFC 8878 §3.1.1) holding |n| bytes as one raw block: magic, a frame
// header with the single-segment flag and a 4-byte content size, a 3-byte raw block header
// (last block). The |n| bytes follow it as they are. Every zstd decoder reads such a frame. |n|
// is at most 128 KiB (the largest block).
constexpr size_t kRawFrameHead = 12;
void RawFrameHead(uint32_t n, uint8_t out[kRawFrameHead]) {
  const uint32_t magic = 0xFD2FB528;
  memcpy(out, &magic, 4);
  out[4] = 0xA0;  // Frame_Content_Size_flag = 2 (4 bytes), Single_Segment_flag = 1
  memcpy(out + 5, &n, 4);
  const uint32_t header = 1u /* last block */ | (0u << 1) /* raw */ | (n << 3);
  out[9] = header & 0xff;
  out[10] = (header >> 8) & 0xff;
  out[11] = (header >> 16) & 0xff;
}
}  // namespace

struct PageStore::Worker {
  std::unique_ptr<image::BlobWriter> blob[2];  // its packs (see kPairAfter)
  int lane = 0;                         // the pack the last frame went to
  ZSTD_CCtx* cctx = nullptr;
  std::vector<uint8_t> frame;           // up to kPagesPerFrame raw pages
  std::vector<uint32_t> frame_blocks;   // their block numbers
  std::vector<uint8_t> out;             // compressed frame
  std::vector<Entry> entries;           // pages this worker stored (sorted once finished)
  std::vector<Entry> provisional;       // the same, for provisional pages
  int index = 0;                        // in workers_
  bool finished = false;
  std::optional<image::Descriptor> pack[2];  // its finished blobs
  uint64_t offset[2] = {0, 0};          // bytes appended to blob[lane]
  int skip_zstd = 0;                    // frames left to store raw without trying zstd
  ~Worker() { ZSTD_freeCCtx(cctx); }
};

PageStore::PageStore(image::LayoutWriter* writer, const Chain* parent, int workers, int zstd_level)
    : writer_(writer), parent_(parent), zstd_level_(zstd_level) {
  for (int i = 0; i < workers; i++) {
    auto w = std::make_unique<Worker>();
    w->index = i;
    w->cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, zstd_level_);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 0);  // pages are checked by hash
    w->frame.reserve(kPagesPerFrame * 4096);
    w->out.resize(ZSTD_compressBound(kPagesPerFrame * 4096));
    workers_.push_back(std::move(w));
  }
}

PageStore::~PageStore() = default;

uint16_t PageStore::PackNumber(const Sha256& digest) {
  for (size_t i = 0; i < packs_.size(); i++)
    if (packs_[i] == digest) return static_cast<uint16_t>(i);
  packs_.push_back(digest);
  return static_cast<uint16_t>(packs_.size() - 1);
}

absl::StatusOr<image::BlobWriter*> PageStore::NextPack(Worker& w) {
  if (!w.blob[0]) {
    ASSIGN_OR_RETURN(w.blob[0], writer_->NewBlob());
  } else if (w.blob[1]) {
    w.lane ^= 1;
  } else if (w.offset[0] >= kPairAfter || writer_->on_memory_fs()) {
    ASSIGN_OR_RETURN(w.blob[1], writer_->NewBlob());
    w.blob[1]->PairWith(*w.blob[0]);
    w.lane = 1;
  }
  return w.blob[w.lane].get();
}

absl::Status PageStore::FlushFrame(Worker& w) {
  if (w.frame_blocks.empty()) return absl::OkStatus();
  // Incompressible data (random, already compressed, encrypted) is stored as a zstd frame of
  // raw blocks: zstd's attempt would cost ~0.5 ns a byte for nothing. After a frame that saved
  // under 3%, the next kSkipAfterMiss frames of this worker skip the attempt (and AddBatch tries
  // a frame's first page alone before it gathers the frame).
  size_t clen = 0;
  if (w.skip_zstd == 0) {
    clen = ZSTD_compress2(w.cctx, w.out.data(), w.out.size(), w.frame.data(), w.frame.size());
    if (ZSTD_isError(clen)) return absl::InternalError(absl::StrFormat("zstd: %s", ZSTD_getErrorName(clen)));
    if (clen * 100 > w.frame.size() * 97) {
      clen = 0;
      w.skip_zstd = kSkipAfterMiss;
    }
  } else {
    w.skip_zstd--;
  }
  ASSIGN_OR_RETURN(image::BlobWriter * blob, NextPack(w));
  if (clen == 0) {
    uint8_t head[kRawFrameHead];
    RawFrameHead(static_cast<uint32_t>(w.frame.size()), head);
    RETURN_IF_ERROR(blob->Append({head, kRawFrameHead}));
    RETURN_IF_ERROR(blob->Append({w.frame.data(), w.frame.size()}));
    clen = kRawFrameHead + w.frame.size();
  } else {
    RETURN_IF_ERROR(blob->Append({w.out.data(), clen}));
  }
  RecordFrame(w, w.frame_blocks.data(), w.frame_blocks.size(), clen);
  w.frame.clear();
  w.frame_blocks.clear();
  return absl::OkStatus();
}

void PageStore::RecordFrame(Worker& w, const uint32_t* blocks, size_t n, size_t clen) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t slot = 0; slot < n; slot++) {
    Block& b = blocks_[blocks[slot]];
    b.frame_off = w.offset[w.lane];
    b.frame_clen = static_cast<uint32_t>(clen);
    b.pack = static_cast<uint16_t>(kWorkerPack + 2 * w.index + w.lane);
    b.slot = static_cast<uint16_t>(slot);
  }
  stats_.packed_bytes += clen;
  w.offset[w.lane] += clen;
}

absl::Status PageStore::RawFrameFrom(Worker& w, const uint8_t* pages, const std::pair<size_t, uint32_t>* items) {
  ASSIGN_OR_RETURN(image::BlobWriter * blob, NextPack(w));
  uint8_t head[kRawFrameHead];
  RawFrameHead(kPagesPerFrame * 4096, head);
  RETURN_IF_ERROR(blob->Append({head, kRawFrameHead}));
  uint32_t blocks[kPagesPerFrame];
  for (int k = 0; k < kPagesPerFrame; k++) {
    RETURN_IF_ERROR(blob->Append({pages + items[k].first * 4096, 4096}));
    blocks[k] = items[k].second;
  }
  RecordFrame(w, blocks, kPagesPerFrame, kRawFrameHead + kPagesPerFrame * 4096);
  return absl::OkStatus();
}

absl::Status PageStore::RawFramesTwo(Worker& w, const uint8_t* pages,
                                     const std::pair<size_t, uint32_t>* items, size_t n) {
  if (!w.blob[0]) {
    ASSIGN_OR_RETURN(w.blob[0], writer_->NewBlob());
  }
  if (!w.blob[1]) {
    ASSIGN_OR_RETURN(w.blob[1], writer_->NewBlob());
    w.blob[1]->PairWith(*w.blob[0]);
  }
  // Each call gives the two packs halves of equal length (but for one page), so that they are
  // hashed two streams at once to the end: what one has more than the other is hashed alone.
  constexpr size_t kMaxPagesPerCall = 256;
  constexpr size_t kMaxFrames = kMaxPagesPerCall / kPagesPerFrame + 2;
  uint8_t heads[kMaxFrames][kRawFrameHead];
  std::vector<iovec> v[2];
  for (size_t done = 0; done < n;) {
    const size_t take = std::min(n - done, kMaxPagesPerCall);
    const size_t half[2] = {(take + 1) / 2, take / 2};
    v[0].clear();
    v[1].clear();
    size_t f = 0;
    for (int h = 0; h < 2; h++) {
      // The first half goes to the lane the last frame did not.
      if (half[h] > 0) w.lane ^= 1;
      for (size_t put = 0; put < half[h]; f++) {
        const size_t m = std::min<size_t>(half[h] - put, kPagesPerFrame);
        RawFrameHead(static_cast<uint32_t>(m * 4096), heads[f]);
        v[w.lane].push_back({heads[f], kRawFrameHead});
        uint32_t blocks[kPagesPerFrame];
        for (size_t p = 0; p < m; p++) {
          const auto& [i, block] = items[done + put + p];
          v[w.lane].push_back({const_cast<uint8_t*>(pages + i * 4096), 4096});
          blocks[p] = block;
        }
        RecordFrame(w, blocks, m, kRawFrameHead + m * 4096);
        put += m;
      }
      done += half[h];
    }
    RETURN_IF_ERROR(w.blob[0]->AppendTwo(v[0], *w.blob[1], v[1]));
  }
  return absl::OkStatus();
}

absl::Status PageStore::AddBatch(int worker, const uint64_t* addrs, const uint8_t* pages, size_t n,
                                 bool provisional) {
  Worker& w = *workers_[worker];
  if (w.finished) return absl::FailedPreconditionError("PageStore: AddBatch after FinishWorker");
  // Hash outside the lock; zero pages are dropped here.
  struct Item {
    size_t i;
    PageHash h;
  };
  std::vector<Item> items;
  items.reserve(n);
  uint64_t zeros = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t* p = pages + i * 4096;
    if (IsZeroPage(p)) {
      zeros++;
      continue;
    }
    items.push_back({i, HashPage(p)});
  }
  // Look up the parent chain outside the lock too (read-only).
  std::vector<std::optional<std::pair<Block, Sha256>>> in_parent(items.size());
  if (parent_)
    for (size_t k = 0; k < items.size(); k++) in_parent[k] = parent_->FindBlock(items[k].h);

  std::vector<std::pair<size_t, uint32_t>> to_pack;  // (page index, new block)
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.pages_in += n;
    stats_.zero_pages += zeros;
    for (size_t k = 0; k < items.size(); k++) {
      const Item& it = items[k];
      auto [slot, added] = by_hash_.try_emplace(it.h, static_cast<uint32_t>(blocks_.size()));
      const uint32_t found = slot->second;
      if (added) {
        Block nb;
        nb.hash = it.h;
        if (in_parent[k]) {
          nb = in_parent[k]->first;
          nb.pack = PackNumber(in_parent[k]->second);
          stats_.dedup_pages++;
        } else {
          to_pack.push_back({it.i, found});
          stats_.unique_pages++;
        }
        blocks_.push_back(nb);
      } else {
        stats_.dedup_pages++;
      }
      (provisional ? w.provisional : w.entries).push_back({addrs[it.i], found});
    }
  }
  const bool memory_fs = writer_->on_memory_fs();
  for (size_t k = 0; k < to_pack.size();) {
    if (w.skip_zstd == 0 && w.frame_blocks.empty()) {
      // Before a frame is gathered for zstd, its first page is tried alone: if that saves under
      // 3%, the frame and the next kSkipAfterMiss are stored raw without being copied or tried.
      const size_t c = ZSTD_compress2(w.cctx, w.out.data(), w.out.size(), pages + to_pack[k].first * 4096, 4096);
      if (ZSTD_isError(c)) return absl::InternalError(absl::StrFormat("zstd: %s", ZSTD_getErrorName(c)));
      if (c * 100 > 4096 * 97) w.skip_zstd = kSkipAfterMiss + 1;
    }
    if (w.skip_zstd > 0 && memory_fs) {
      // While zstd is skipped, on a memory filesystem, every page of the batch goes from |pages|
      // to the worker's two packs with no copy but the kernel's, in frames of up to
      // kPagesPerFrame (the last one may be short). A frame begun by an earlier batch goes first.
      if (!w.frame_blocks.empty()) {
        RETURN_IF_ERROR(FlushFrame(w));
        continue;
      }
      size_t n = std::min<size_t>(to_pack.size() - k, static_cast<size_t>(w.skip_zstd) * kPagesPerFrame);
      RETURN_IF_ERROR(RawFramesTwo(w, pages, &to_pack[k], n));
      w.skip_zstd -= std::min<int>(w.skip_zstd, static_cast<int>((n + kPagesPerFrame - 1) / kPagesPerFrame));
      k += n;
      continue;
    }
    if (w.skip_zstd > 0 && w.frame_blocks.empty() && to_pack.size() - k >= kPagesPerFrame) {
      // Elsewhere whole raw frames go from |pages| to the blob: one copy, not two.
      RETURN_IF_ERROR(RawFrameFrom(w, pages, &to_pack[k]));
      w.skip_zstd--;
      k += kPagesPerFrame;
      continue;
    }
    auto [i, block] = to_pack[k++];
    w.frame.insert(w.frame.end(), pages + i * 4096, pages + (i + 1) * 4096);
    w.frame_blocks.push_back(block);
    if (w.frame_blocks.size() == kPagesPerFrame) RETURN_IF_ERROR(FlushFrame(w));
  }
  return absl::OkStatus();
}

absl::Status PageStore::FinishWorker(int worker) {
  Worker& w = *workers_[worker];
  if (w.finished) return absl::OkStatus();
  RETURN_IF_ERROR(FlushFrame(w));
  for (int lane = 0; lane < 2; lane++) {
    if (!w.blob[lane]) continue;
    ASSIGN_OR_RETURN(image::Descriptor d, w.blob[lane]->Finish(kPackMediaType));
    w.pack[lane] = std::move(d);
  }
  auto by_addr = [](const Entry& a, const Entry& b) { return a.addr < b.addr; };
  std::sort(w.entries.begin(), w.entries.end(), by_addr);
  std::sort(w.provisional.begin(), w.provisional.end(), by_addr);
  w.finished = true;
  return absl::OkStatus();
}

absl::StatusOr<PageIndex> PageStore::Finish(const std::vector<Run>& inherit,
                                            std::vector<image::Descriptor>* packs,
                                            const std::vector<uint64_t>& keep) {
  std::vector<uint16_t> worker_pack(2 * workers_.size(), 0);
  for (size_t wi = 0; wi < workers_.size(); wi++) {
    RETURN_IF_ERROR(FinishWorker(static_cast<int>(wi)));
    Worker& w = *workers_[wi];
    for (int lane = 0; lane < 2; lane++) {
      const std::optional<image::Descriptor>& pack = w.pack[lane];
      if (!pack) continue;
      Sha256 digest;
      if (!ParseDigest(pack->digest, &digest)) return absl::InternalError("pack digest " + pack->digest);
      worker_pack[2 * wi + lane] = PackNumber(digest);
      packs->push_back(*pack);
    }
  }
  PageIndex idx;
  idx.packs = packs_;
  // Resolve worker packs, then sort blocks by hash and renumber.
  for (Block& b : blocks_)
    if (b.pack >= kWorkerPack) b.pack = worker_pack[b.pack - kWorkerPack];
  std::vector<uint32_t> renum;
  SortBlocks(blocks_, &idx.blocks, &renum);
  // Each worker's entries are sorted (FinishWorker): merge them, with the kept provisional ones.
  auto by_addr = [](const Entry& a, const Entry& b) { return a.addr < b.addr; };
  std::vector<Entry> all, merged;
  auto merge_in = [&](auto first, auto last) {
    merged.resize(all.size() + static_cast<size_t>(last - first));
    std::merge(all.begin(), all.end(), first, last, merged.begin(), by_addr);
    all.swap(merged);
  };
  for (auto& w : workers_) merge_in(w->entries.begin(), w->entries.end());
  if (!keep.empty()) {
    std::vector<Entry> kept;
    for (auto& w : workers_) {
      size_t k = 0;  // cursor into |keep|
      for (const Entry& e : w->provisional) {
        while (k < keep.size() && keep[k] < e.addr) k++;
        if (k < keep.size() && keep[k] == e.addr && !std::binary_search(all.begin(), all.end(), e, by_addr))
          kept.push_back(e);
      }
    }
    std::sort(kept.begin(), kept.end(), by_addr);
    merge_in(kept.begin(), kept.end());
  }
  // kData runs of consecutive addresses, merged in address order with the kInherit runs.
  std::vector<Run> data;
  for (size_t i = 0; i < all.size(); i++) {
    if (i > 0 && all[i].addr == all[i - 1].addr)
      return absl::InternalError(absl::StrFormat("page 0x%x stored twice", all[i].addr));
    if (!data.empty() && data.back().end() == all[i].addr && data.back().npages < UINT32_MAX) {
      data.back().npages++;
    } else {
      data.push_back({all[i].addr, 1, RunKind::kData, idx.refs.size()});
    }
    idx.refs.push_back(renum[all[i].block]);
  }
  idx.runs.reserve(data.size() + inherit.size());
  std::merge(data.begin(), data.end(), inherit.begin(), inherit.end(), std::back_inserter(idx.runs),
             [](const Run& a, const Run& b) { return a.start < b.start; });
  for (size_t i = 1; i < idx.runs.size(); i++)
    if (idx.runs[i].start < idx.runs[i - 1].end())
      return absl::InternalError(absl::StrFormat("runs overlap at 0x%x", idx.runs[i].start));
  return idx;
}

StoreStats PageStore::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace clonebot::snapshot
