#include "snapshot/page_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <vector>

#include "xxhash.h"

namespace clonebot::snapshot {
namespace {

PageIndex Sample() {
  PageIndex idx;
  Sha256 d{};
  d[0] = 0xab;
  idx.packs.push_back(d);
  d[0] = 0xcd;
  idx.packs.push_back(d);
  for (int i = 0; i < 3; i++) {
    Block b;
    b.hash = {static_cast<uint64_t>(i + 1), 7};
    b.frame_off = 1000u * i;
    b.frame_clen = 500;
    b.pack = static_cast<uint16_t>(i % 2);
    b.slot = static_cast<uint16_t>(i);
    idx.blocks.push_back(b);
  }
  idx.runs.push_back({0x1000, 2, RunKind::kData, 0});
  idx.runs.push_back({0x5000, 3, RunKind::kInherit, 0});
  idx.runs.push_back({0x9000, 1, RunKind::kData, 2});
  idx.refs = {2, 0, 1};
  return idx;
}

// SortBlocks orders by the whole hash and says where each block went: uniform hashes, hashes
// crowded into one bucket of the counting sort (top bits equal: the comparison-sort path), a few
// per bucket (the insertion-sort path), ties in |hi| broken by |lo|, and the empty case.
TEST(PageIndex, SortBlocksOrdersByHashAndRenumbers) {
  std::mt19937_64 rng(5);
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{17}, size_t{5000}}) {
    for (int shape = 0; shape < 4; shape++) {
      std::vector<Block> in;
      for (size_t i = 0; i < n; i++) {
        Block b;
        uint64_t hi = rng();
        if (shape == 1) hi >>= 30;                // every block in bucket 0
        if (shape == 2) hi = (hi >> 60) << 60;    // 16 distinct his, ties broken by lo
        if (shape == 3) hi = (rng() % 8) << 61 | (hi >> 50);  // a few crowded buckets
        b.hash = {hi, rng()};
        b.frame_off = i;  // identifies the block
        in.push_back(b);
      }
      std::vector<Block> out;
      std::vector<uint32_t> renum;
      SortBlocks(in, &out, &renum);
      ASSERT_EQ(out.size(), n);
      ASSERT_EQ(renum.size(), n);
      for (size_t k = 1; k < n; k++) ASSERT_TRUE(out[k - 1].hash < out[k].hash) << "n=" << n << " shape=" << shape << " k=" << k;
      for (size_t i = 0; i < n; i++) {
        ASSERT_LT(renum[i], n);
        EXPECT_EQ(out[renum[i]].frame_off, i);
        EXPECT_EQ(out[renum[i]].hash, in[i].hash);
      }
    }
  }
}

// SerializedParts, concatenated, are Serialize's bytes, and they parse.
TEST(PageIndex, SerializedPartsConcatenateToSerialize) {
  PageIndex idx = Sample();
  std::array<uint8_t, PageIndex::kHeaderBytes> header;
  std::vector<uint8_t> joined;
  for (std::span<const uint8_t> part : idx.SerializedParts(header)) joined.insert(joined.end(), part.begin(), part.end());
  EXPECT_EQ(joined, idx.Serialize());
  auto back = PageIndex::Parse(joined);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->refs, idx.refs);
  EXPECT_EQ(back->blocks.size(), idx.blocks.size());
}

// FindBlock (interpolation, then a bracketed search) agrees with a plain binary search for
// hashes present and absent, at the ends, in skewed and in tiny indexes.
TEST(PageIndex, FindBlockAgreesWithBinarySearch) {
  std::mt19937_64 rng(11);
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{7}, size_t{1000}, size_t{50000}}) {
    for (bool skewed : {false, true}) {
      PageIndex idx;
      idx.packs.push_back(Sha256{});
      std::vector<PageHash> hs;
      for (size_t i = 0; i < n; i++) {
        uint64_t hi = rng();
        if (skewed) hi >>= 40;  // all near zero: the guess is far off
        hs.push_back({hi, rng()});
      }
      std::sort(hs.begin(), hs.end());
      hs.erase(std::unique(hs.begin(), hs.end()), hs.end());
      for (const PageHash& h : hs) {
        Block b;
        b.hash = h;
        idx.blocks.push_back(b);
      }
      std::vector<uint8_t> bytes = idx.Serialize();
      std::vector<uint64_t> aligned((bytes.size() + 7) / 8);
      memcpy(aligned.data(), bytes.data(), bytes.size());
      auto view = PageIndexView::Parse({reinterpret_cast<const uint8_t*>(aligned.data()), bytes.size()});
      ASSERT_TRUE(view.ok()) << view.status();
      for (size_t i = 0; i < hs.size(); i++) ASSERT_EQ(view->FindBlock(hs[i]), static_cast<int64_t>(i)) << n;
      for (int k = 0; k < 2000; k++) {
        PageHash q{skewed ? rng() >> 40 : rng(), rng()};
        bool present = std::binary_search(hs.begin(), hs.end(), q);
        EXPECT_EQ(view->FindBlock(q) >= 0, present);
      }
      for (PageHash q : {PageHash{0, 0}, PageHash{~0ull, ~0ull}}) {
        bool present = std::binary_search(hs.begin(), hs.end(), q);
        EXPECT_EQ(view->FindBlock(q) >= 0, present);
      }
    }
  }
}

// A BlockFilter holds every block it was built from, and says "maybe" for few others: at ~16
// bits per block the split-block design gives ~0.1% false positives; 1% is the bound here.
TEST(BlockFilter, NoFalseNegativesFewFalsePositives) {
  std::mt19937_64 rng(5);
  EXPECT_FALSE(BlockFilter().MayContain({1, 2}));
  EXPECT_FALSE(BlockFilter(std::span<const Block>()).MayContain({0, 0}));
  for (size_t n : {size_t{1}, size_t{31}, size_t{2621}, size_t{100000}}) {
    std::vector<Block> blocks(n);
    for (Block& b : blocks) b.hash = {rng(), rng()};
    BlockFilter f(blocks);
    for (const Block& b : blocks) ASSERT_TRUE(f.MayContain(b.hash)) << n;
    int hits = 0;
    const int queries = 200000;
    for (int k = 0; k < queries; k++) hits += f.MayContain({rng(), rng()});
    EXPECT_LT(hits, queries / 100) << n << " blocks";
  }
}

TEST(PageIndex, RoundTrip) {
  PageIndex idx = Sample();
  std::vector<uint8_t> bytes = idx.Serialize();
  auto back = PageIndex::Parse(bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->packs, idx.packs);
  ASSERT_EQ(back->blocks.size(), 3u);
  EXPECT_EQ(back->blocks[2].frame_off, 2000u);
  EXPECT_EQ(back->blocks[1].slot, 1u);
  ASSERT_EQ(back->runs.size(), 3u);
  EXPECT_EQ(back->runs[1].kind, RunKind::kInherit);
  EXPECT_EQ(back->refs, idx.refs);
  EXPECT_EQ(back->FindBlock({2, 7}), 1);
  EXPECT_EQ(back->FindBlock({9, 9}), -1);
  EXPECT_EQ(back->DataPages(), 3u);
}

TEST(PageIndex, RejectsCorruption) {
  std::vector<uint8_t> good = Sample().Serialize();
  // Any flipped byte after the header breaks the CRC; in the header, the counts or magic.
  for (size_t i : {size_t{0}, size_t{9}, size_t{25}, size_t{70}, good.size() - 1}) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x40;
    EXPECT_FALSE(PageIndex::Parse(bad).ok()) << "byte " << i;
  }
  std::vector<uint8_t> cut(good.begin(), good.end() - 4);
  EXPECT_FALSE(PageIndex::Parse(cut).ok());
  EXPECT_FALSE(PageIndex::Parse({}).ok());
}

// A parent's index is verified later, on another thread: parsed without verification, the view
// still lies within its bytes and FindBlock stays within it; Verify catches what Parse let
// through.
TEST(PageIndex, DeferredVerification) {
  std::vector<uint8_t> good = Sample().Serialize();
  auto parse = [](const std::vector<uint8_t>& b, bool verify, std::vector<uint64_t>* store) {
    store->assign((b.size() + 7) / 8, 0);
    memcpy(store->data(), b.data(), b.size());
    return PageIndexView::Parse({reinterpret_cast<const uint8_t*>(store->data()), b.size()}, verify);
  };
  std::vector<uint64_t> mem;
  auto v = parse(good, false, &mem);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->Verify({reinterpret_cast<const uint8_t*>(mem.data()), good.size()}).ok());
  EXPECT_EQ(v->FindBlock({2, 7}), 1);
  // A ref past the blocks, a pack digest byte, blocks out of order: Parse(…, false) lets each
  // through, Verify and Parse(…, true) do not.
  std::vector<std::vector<uint8_t>> bad(3, good);
  bad[0].back() ^= 0x40;   // the last ref's high byte
  bad[1][64 + 31] ^= 0x01; // pack 0's digest: only the CRC covers it
  {
    PageIndex idx = Sample();
    std::swap(idx.blocks[0], idx.blocks[1]);
    bad[2] = idx.Serialize();  // a valid CRC over unsorted blocks
  }
  for (size_t i = 0; i < bad.size(); i++) {
    auto shallow = parse(bad[i], false, &mem);
    ASSERT_TRUE(shallow.ok()) << i << ": " << shallow.status();
    EXPECT_FALSE(shallow->Verify({reinterpret_cast<const uint8_t*>(mem.data()), bad[i].size()}).ok()) << i;
    for (int k = 0; k < 3; k++) (void)shallow->FindBlock({uint64_t(k), uint64_t(k)});  // in bounds (ASan)
    EXPECT_FALSE(parse(bad[i], true, &mem).ok()) << i;
  }
  // The header and the size are always checked.
  std::vector<uint8_t> cut(good.begin(), good.end() - 4);
  EXPECT_FALSE(parse(cut, false, &mem).ok());
}

TEST(PageIndex, RejectsOverlapAndBadRefs) {
  PageIndex idx = Sample();
  idx.runs[1].start = 0x1000;  // overlaps run 0
  EXPECT_FALSE(PageIndex::Parse(idx.Serialize()).ok());
  idx = Sample();
  idx.refs[0] = 17;  // no such block
  EXPECT_FALSE(PageIndex::Parse(idx.Serialize()).ok());
  idx = Sample();
  std::swap(idx.blocks[0], idx.blocks[1]);  // unsorted
  EXPECT_FALSE(PageIndex::Parse(idx.Serialize()).ok());
}

TEST(PageHashing, ZeroAndHash) {
  std::vector<uint8_t> page(4096, 0);
  EXPECT_TRUE(IsZeroPage(page.data()));
  for (size_t i = 0; i < page.size(); i++) {  // the first cache line and the rest
    page[i] = 1;
    ASSERT_FALSE(IsZeroPage(page.data())) << "byte " << i;
    page[i] = 0;
  }
  page[4095] = 1;
  EXPECT_FALSE(IsZeroPage(page.data()));
  PageHash a = HashPage(page.data());
  page[0] = 1;
  EXPECT_FALSE(HashPage(page.data()) == a);
  page[0] = 0;
  EXPECT_TRUE(HashPage(page.data()) == a);
}

// HashPage (AVX2 where the CPU has it) is exactly the XXH3-128 of libxxhash's own code: images
// keep their hashes whichever build or CPU wrote them.
TEST(PageHashing, SameAsLibxxhash) {
  std::mt19937_64 rng(3);
  std::vector<uint8_t> page(4096);
  for (int round = 0; round < 200; round++) {
    for (auto& b : page) b = static_cast<uint8_t>(rng());
    if (round % 3 == 0) std::fill(page.begin() + static_cast<long>(rng() % 4096), page.end(), 0);
    XXH128_hash_t want = XXH3_128bits(page.data(), page.size());
    PageHash got = HashPage(page.data());
    ASSERT_EQ(got.hi, want.high64) << "round " << round;
    ASSERT_EQ(got.lo, want.low64) << "round " << round;
  }
  RecordProperty("avx2", __builtin_cpu_supports("avx2") ? "yes" : "no");
}

}  // namespace
}  // namespace clonebot::snapshot
