#include "snapshot/page_index.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "base/crc32c.h"
#include "xxhash.h"

namespace clonebot::snapshot {
namespace {

constexpr char kMagic[8] = {'C', 'B', 'P', 'G', 'I', 'D', 'X', '\n'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 64;
constexpr size_t kBlockSize = 32;
constexpr size_t kRunSize = 24;

template <typename T>
void Put(std::vector<uint8_t>& out, T v) {
  size_t at = out.size();
  out.resize(at + sizeof(T));
  memcpy(out.data() + at, &v, sizeof(T));
}
template <typename T>
T Get(const uint8_t* p) {
  T v;
  memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

PageHash HashPage(const uint8_t* page) {
  XXH128_hash_t h = XXH3_128bits(page, 4096);
  return PageHash{h.high64, h.low64};
}

bool IsZeroPage(const uint8_t* page) {
  const uint64_t* w = reinterpret_cast<const uint64_t*>(page);
  uint64_t acc = 0;
  for (int i = 0; i < 512; i += 8)
    acc |= w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7];
  return acc == 0;
}

std::vector<uint8_t> PageIndex::Serialize() const {
  std::vector<uint8_t> out;
  out.reserve(kHeaderSize + packs.size() * 32 + blocks.size() * kBlockSize + runs.size() * kRunSize +
              refs.size() * 4);
  out.resize(8);
  memcpy(out.data(), kMagic, 8);
  Put<uint32_t>(out, kVersion);
  Put<uint32_t>(out, page_size);
  Put<uint32_t>(out, static_cast<uint32_t>(packs.size()));
  Put<uint32_t>(out, 0);
  Put<uint64_t>(out, blocks.size());
  Put<uint64_t>(out, runs.size());
  Put<uint64_t>(out, refs.size());
  Put<uint32_t>(out, 0);  // CRC32C, filled below
  Put<uint32_t>(out, 0);
  Put<uint64_t>(out, 0);
  for (const Sha256& d : packs) {
    size_t at = out.size();
    out.resize(at + d.size());
    memcpy(out.data() + at, d.data(), d.size());
  }
  for (const Block& b : blocks) {
    Put<uint64_t>(out, b.hash.hi);
    Put<uint64_t>(out, b.hash.lo);
    Put<uint64_t>(out, b.frame_off);
    Put<uint32_t>(out, b.frame_clen);
    Put<uint16_t>(out, b.pack);
    Put<uint16_t>(out, b.slot);
  }
  for (const Run& r : runs) {
    Put<uint64_t>(out, r.start);
    Put<uint32_t>(out, r.npages);
    Put<uint32_t>(out, static_cast<uint32_t>(r.kind));
    Put<uint64_t>(out, r.first_ref);
  }
  size_t refs_at = out.size();
  out.resize(refs_at + refs.size() * 4);
  if (!refs.empty()) memcpy(out.data() + refs_at, refs.data(), refs.size() * 4);
  uint32_t crc = base::Crc32c(0, out.data() + kHeaderSize, out.size() - kHeaderSize);
  memcpy(out.data() + 48, &crc, 4);
  return out;
}

absl::StatusOr<PageIndex> PageIndex::Parse(std::span<const uint8_t> bytes) {
  auto bad = [](const std::string& why) {
    return absl::DataLossError("page index: " + why);
  };
  if (bytes.size() < kHeaderSize || memcmp(bytes.data(), kMagic, 8) != 0)
    return bad("not a clonebot page index (bad magic)");
  const uint8_t* p = bytes.data();
  uint32_t version = Get<uint32_t>(p + 8);
  if (version != kVersion) return bad(absl::StrFormat("unsupported version %u", version));
  PageIndex idx;
  idx.page_size = Get<uint32_t>(p + 12);
  if (idx.page_size != 4096) return bad(absl::StrFormat("unsupported page size %u", idx.page_size));
  uint64_t npacks = Get<uint32_t>(p + 16), nblocks = Get<uint64_t>(p + 24), nruns = Get<uint64_t>(p + 32),
           nrefs = Get<uint64_t>(p + 40);
  uint32_t crc = Get<uint32_t>(p + 48);
  // Bound every count before multiplying, so the size check cannot overflow.
  if (npacks > (1u << 16) || nblocks > (1ull << 40) || nruns > (1ull << 40) || nrefs > (1ull << 40))
    return bad("counts out of range");
  uint64_t need = kHeaderSize + npacks * 32 + nblocks * kBlockSize + nruns * kRunSize + nrefs * 4;
  if (need != bytes.size())
    return bad(absl::StrFormat("size %u does not match its counts (%u)", bytes.size(), need));
  if (base::Crc32c(0, p + kHeaderSize, bytes.size() - kHeaderSize) != crc) return bad("CRC32C mismatch");
  const uint8_t* q = p + kHeaderSize;
  idx.packs.resize(npacks);
  for (auto& d : idx.packs) {
    memcpy(d.data(), q, 32);
    q += 32;
  }
  idx.blocks.resize(nblocks);
  for (uint64_t i = 0; i < nblocks; i++, q += kBlockSize) {
    Block& b = idx.blocks[i];
    b.hash.hi = Get<uint64_t>(q);
    b.hash.lo = Get<uint64_t>(q + 8);
    b.frame_off = Get<uint64_t>(q + 16);
    b.frame_clen = Get<uint32_t>(q + 24);
    b.pack = Get<uint16_t>(q + 28);
    b.slot = Get<uint16_t>(q + 30);
    if (b.pack >= npacks) return bad(absl::StrFormat("block %u names pack %u of %u", i, b.pack, npacks));
    if (i > 0 && !(idx.blocks[i - 1].hash < b.hash)) return bad("blocks not sorted by hash");
  }
  idx.runs.resize(nruns);
  uint64_t prev_end = 0;
  for (uint64_t i = 0; i < nruns; i++, q += kRunSize) {
    Run& r = idx.runs[i];
    r.start = Get<uint64_t>(q);
    r.npages = Get<uint32_t>(q + 8);
    uint32_t kind = Get<uint32_t>(q + 12);
    r.first_ref = Get<uint64_t>(q + 16);
    if (kind != 1 && kind != 2) return bad(absl::StrFormat("run %u has unknown kind %u", i, kind));
    r.kind = static_cast<RunKind>(kind);
    if (r.start % 4096 || r.npages == 0 || r.start < prev_end || r.end() < r.start)
      return bad(absl::StrFormat("run %u at 0x%x is misplaced", i, r.start));
    if (r.kind == RunKind::kData && (r.first_ref > nrefs || nrefs - r.first_ref < r.npages))
      return bad(absl::StrFormat("run %u refers past the page table", i));
    prev_end = r.end();
  }
  idx.refs.resize(nrefs);
  if (nrefs) memcpy(idx.refs.data(), q, nrefs * 4);
  for (uint32_t ref : idx.refs)
    if (ref >= nblocks) return bad(absl::StrFormat("page refers to block %u of %u", ref, nblocks));
  return idx;
}

int64_t PageIndex::FindBlock(const PageHash& hash) const {
  auto it = std::lower_bound(blocks.begin(), blocks.end(), hash,
                             [](const Block& b, const PageHash& h) { return b.hash < h; });
  if (it == blocks.end() || !(it->hash == hash)) return -1;
  return it - blocks.begin();
}

uint64_t PageIndex::DataPages() const {
  uint64_t n = 0;
  for (const Run& r : runs)
    if (r.kind == RunKind::kData) n += r.npages;
  return n;
}

}  // namespace clonebot::snapshot
