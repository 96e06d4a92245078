// PageStore → image → Chain round trip on synthetic pages: zero pages dropped, duplicates stored
// once, compressible pages in zstd frames, random pages in raw frames, every byte read back.
#include "snapshot/page_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "image/oci.h"
#include "snapshot/chain.h"

namespace clonebot::snapshot {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/cb-pagestore-XXXXXX";
  return mkdtemp(tmpl);
}

// Writes a minimal snapshot image whose pages are |pages| at |addrs|; |cfg| is the config blob,
// |ann| the manifest annotations, |manifest| (if not null) gets the manifest's digest.
void WriteImage(const std::string& dir, const std::vector<uint64_t>& addrs, const std::vector<uint8_t>& pages,
                StoreStats* stats, std::string cfg = "", const std::map<std::string, std::string>& ann = {},
                std::string* manifest = nullptr) {
  auto w = image::LayoutWriter::Create(dir);
  ASSERT_TRUE(w.ok()) << w.status();
  PageStore store(w->get(), nullptr, 2);
  size_t half = addrs.size() / 2;
  ASSERT_TRUE(store.AddBatch(0, addrs.data(), pages.data(), half).ok());
  ASSERT_TRUE(store.AddBatch(1, addrs.data() + half, pages.data() + half * 4096, addrs.size() - half).ok());
  std::vector<image::Descriptor> layers, packs;
  auto idx = store.Finish({}, &packs);
  ASSERT_TRUE(idx.ok()) << idx.status();
  std::vector<uint8_t> bytes = idx->Serialize();
  auto d = (*w)->PutBlob(kIndexMediaType, bytes);
  ASSERT_TRUE(d.ok());
  layers.push_back(*d);
  layers.insert(layers.end(), packs.begin(), packs.end());
  if (cfg.empty()) {
    cfg = R"({"architecture":"amd64","os":"linux","clonebot":{"format_version":1,"pid":1,
    "mappings":[{"start":"0x100000","end":"0x200000","perms":"rw-p","path":""}]}})";
  }
  auto c = (*w)->PutBlob(image::kConfigMediaType, {reinterpret_cast<const uint8_t*>(cfg.data()), cfg.size()});
  ASSERT_TRUE(c.ok());
  auto m = (*w)->Commit(*c, layers, ann);
  ASSERT_TRUE(m.ok()) << m.status();
  if (manifest) *manifest = m->digest;
  *stats = store.stats();
}

// A config for WriteImage: method, created, and a parent link when |parent_manifest| is set.
std::string Config(const std::string& method, const std::string& created, const std::string& parent_path = "",
                   const std::string& parent_manifest = "") {
  std::string parent = parent_manifest.empty()
                           ? "null"
                           : R"({"path":")" + parent_path + R"(","manifest":")" + parent_manifest + R"("})";
  return R"({"architecture":"amd64","os":"linux","clonebot":{"format_version":1,"pid":1,"method":")" + method +
         R"(","created":")" + created + R"(","parent":)" + parent +
         R"(,"mappings":[{"start":"0x100000","end":"0x200000","perms":"rw-p","path":""}]}})";
}

// Chain::Open walks the ancestors by their manifest annotations without reading their configs,
// and falls back to the config for an image whose annotations lack the parent's path (written
// before it was added); either way the leaf's config is read, and every level has its method
// and creation time.
TEST(Chain, AncestorsOpenFromAnnotations) {
  for (bool with_path : {true, false}) {
    std::string root = TempDir();
    std::vector<uint8_t> page(4096, 0x11);
    std::vector<uint64_t> addr = {0x100000};
    StoreStats st;
    std::string base_m, mid_m;
    WriteImage(root + "/base", addr, page, &st, Config("full", "2026-01-01T00:00:00Z"),
               {{kMethodAnnotation, "full"}, {kCreatedAnnotation, "2026-01-01T00:00:00Z"}}, &base_m);
    std::map<std::string, std::string> mid_ann = {{kMethodAnnotation, "uffd-wp"}, {kParentAnnotation, base_m}};
    if (with_path) {
      mid_ann[kParentPathAnnotation] = "../base";
      mid_ann[kCreatedAnnotation] = "2026-01-01T00:00:01Z";
    }
    page.assign(4096, 0x22);
    WriteImage(root + "/mid", addr, page, &st, Config("uffd-wp", "2026-01-01T00:00:01Z", "../base", base_m), mid_ann,
               &mid_m);
    page.assign(4096, 0x33);
    WriteImage(root + "/leaf", addr, page, &st, Config("hash", "2026-01-01T00:00:02Z", "../mid", mid_m),
               {{kMethodAnnotation, "hash"}, {kParentAnnotation, mid_m}, {kParentPathAnnotation, "../mid"}});
    auto chain = Chain::Open(root + "/leaf");
    ASSERT_TRUE(chain.ok()) << chain.status();
    const auto& lv = (*chain)->levels();
    ASSERT_EQ(lv.size(), 3u);
    EXPECT_EQ(lv[2]->meta().value("method", ""), "hash");  // the leaf: config read
    EXPECT_EQ(lv[2]->mappings.size(), 1u);
    EXPECT_EQ(lv[1]->method, "uffd-wp");
    EXPECT_EQ(lv[1]->created, "2026-01-01T00:00:01Z");
    EXPECT_EQ(lv[1]->parent_manifest, base_m);
    // With the path in the annotations the config is not read; without it, it is.
    EXPECT_EQ(lv[1]->config.is_null(), with_path) << with_path;
    EXPECT_EQ(lv[1]->mappings.empty(), with_path) << with_path;
    EXPECT_TRUE(lv[1]->meta().is_object());
    EXPECT_EQ(lv[0]->method, "full");
    EXPECT_EQ(lv[0]->created, "2026-01-01T00:00:00Z");
    EXPECT_TRUE(lv[0]->parent_path.empty());
    auto bytes = (*chain)->Extract(0x100000, 4096);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ((*bytes)[0], 0x33);
    system(("rm -rf " + root).c_str());
  }
}

TEST(PageStore, RoundTripThroughAnImage) {
  std::mt19937_64 rng(42);
  std::vector<uint64_t> addrs;
  std::vector<uint8_t> pages;
  for (int i = 0; i < 200; i++) {
    std::vector<uint8_t> p(4096, 0);
    if (i % 5 == 0) {
      // zero
    } else if (i % 5 == 1) {
      for (int k = 0; k < 4096; k++) p[k] = static_cast<uint8_t>("compressible text "[k % 18]);
      p[0] = static_cast<uint8_t>(i);  // distinct, but compresses well
    } else if (i % 5 == 2) {
      memset(p.data(), 0x5a, 4096);  // the same page every time: deduplicated
    } else {
      for (auto& b : p) b = static_cast<uint8_t>(rng());
    }
    addrs.push_back(0x100000 + uint64_t(i) * 4096);
    pages.insert(pages.end(), p.begin(), p.end());
  }
  std::string dir = TempDir() + "/img";
  StoreStats st;
  WriteImage(dir, addrs, pages, &st);
  EXPECT_EQ(st.pages_in, 200u);
  EXPECT_EQ(st.zero_pages, 40u);
  EXPECT_EQ(st.unique_pages, 40u + 1 + 80u);
  EXPECT_EQ(st.dedup_pages, 39u);

  auto chain = Chain::Open(dir);
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ((*chain)->Flatten().size(), 160u);
  auto bytes = (*chain)->Extract(0x100000, 200 * 4096);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(*bytes == pages);
  // Unaligned slice.
  auto slice = (*chain)->Extract(0x100000 + 4096 * 7 + 100, 5000);
  ASSERT_TRUE(slice.ok());
  EXPECT_EQ(0, memcmp(slice->data(), pages.data() + 4096 * 7 + 100, 5000));
  // Outside the mapping: one clear error.
  EXPECT_FALSE((*chain)->Extract(0x300000, 10).ok());
  system(("rm -rf " + dir.substr(0, dir.rfind('/'))).c_str());
}

// Incompressible pages are stored as raw-block zstd frames in exactly the documented layout
// (docs/formats/image.md, "Page packs"): 12 bytes of head, then the 16 pages as they are.
TEST(PageStore, RandomPagesGoToRawFrames) {
  std::mt19937_64 rng(7);
  const int n = 64;  // 32 per worker: two full frames each
  std::vector<uint64_t> addrs;
  std::vector<uint8_t> pages(n * 4096);
  for (auto& b : pages) b = static_cast<uint8_t>(rng());
  for (int i = 0; i < n; i++) addrs.push_back(0x100000 + uint64_t(i) * 4096);
  std::string dir = TempDir() + "/img";
  StoreStats st;
  WriteImage(dir, addrs, pages, &st);
  EXPECT_EQ(st.unique_pages, uint64_t(n));
  EXPECT_EQ(st.packed_bytes, uint64_t(n) * 4096 + (n / 16) * 12);
  auto lay = image::Layout::Open(dir);
  ASSERT_TRUE(lay.ok()) << lay.status();
  const uint8_t head[] = {0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x08};
  int packs = 0;
  for (const auto& l : (*lay)->layers()) {
    if (l.media_type != kPackMediaType) continue;
    packs++;
    auto b = (*lay)->ReadBlob(l);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_EQ(b->size(), 2 * (12 + 16 * 4096u));
    for (size_t off : {size_t{0}, size_t{12 + 16 * 4096}})
      EXPECT_EQ(0, memcmp(b->data() + off, head, sizeof head)) << "frame at " << off;
  }
  EXPECT_EQ(packs, 2);
  auto chain = Chain::Open(dir);
  ASSERT_TRUE(chain.ok()) << chain.status();
  auto bytes = (*chain)->Extract(0x100000, n * 4096);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(*bytes == pages);
  system(("rm -rf " + dir.substr(0, dir.rfind('/'))).c_str());
}

// On a memory filesystem incompressible pages go from the caller's buffer to both packs of a
// worker at once (raw frames, the last of a batch short); a frame begun by one batch ends in the
// next; a compressible stretch after a random one is still compressed. Batches of any size,
// from two workers: every byte reads back.
TEST(PageStore, MemoryFsBatchesOfAnySize) {
  char tmpl[] = "/dev/shm/cb-pagestore-XXXXXX";
  if (!mkdtemp(tmpl)) GTEST_SKIP() << "no /dev/shm";
  const std::string root = tmpl, dir = root + "/img";
  std::mt19937_64 rng(11);
  const int n = 3000;
  std::vector<uint64_t> addrs;
  std::vector<uint8_t> pages(size_t{n} * 4096);
  uint64_t zero = 0, compressible = 0;
  for (int i = 0; i < n; i++) {
    uint8_t* p = pages.data() + size_t{i} * 4096;
    const bool text = (i >= 700 && i < 1900) || (i >= 2300 && i < 2400);
    if (text) {
      for (int k = 0; k < 4096; k++) p[k] = static_cast<uint8_t>("compressible text "[k % 18]);
      memcpy(p, &i, sizeof i);
      compressible++;
    } else if (i % 10 == 3) {
      zero++;  // left zero
    } else if (i % 10 == 7) {
      memset(p, 0x77, 4096);  // one page, stored once
    } else {
      for (int k = 0; k < 4096; k++) p[k] = static_cast<uint8_t>(rng());
    }
    addrs.push_back(0x100000 + uint64_t(i) * 4096);
  }
  {
    auto w = image::LayoutWriter::Create(dir);
    ASSERT_TRUE(w.ok()) << w.status();
    ASSERT_TRUE((*w)->on_memory_fs());
    PageStore store(w->get(), nullptr, 2);
    for (size_t at = 0, batch = 0; at < addrs.size(); batch++) {
      size_t len = std::min<size_t>(addrs.size() - at, 1 + rng() % 300);
      ASSERT_TRUE(store.AddBatch(batch % 2, addrs.data() + at, pages.data() + at * 4096, len, false).ok());
      at += len;
    }
    std::vector<image::Descriptor> layers, packs;
    auto idx = store.Finish({}, &packs);
    ASSERT_TRUE(idx.ok()) << idx.status();
    StoreStats st = store.stats();
    EXPECT_EQ(st.zero_pages, zero);
    const uint64_t random = n - zero - compressible - st.dedup_pages - 1;
    EXPECT_EQ(st.unique_pages, random + compressible + 1);
    // Random pages cost their size and a frame head per 16 or fewer; text is compressed once a
    // worker tries again (at most kSkipAfterMiss + 1 frames after a miss): half of it at least.
    EXPECT_LT(st.packed_bytes, (random + 1) * (4096 + 12) + compressible * 2048);
    EXPECT_GE(st.packed_bytes, random * 4096);
    std::vector<uint8_t> bytes = idx->Serialize();
    auto d = (*w)->PutBlob(kIndexMediaType, bytes);
    ASSERT_TRUE(d.ok());
    layers.push_back(*d);
    layers.insert(layers.end(), packs.begin(), packs.end());
    std::string cfg = R"({"architecture":"amd64","os":"linux","clonebot":{"format_version":1,"pid":1,
    "mappings":[{"start":"0x100000","end":"0x1000000","perms":"rw-p","path":""}]}})";
    auto c = (*w)->PutBlob(image::kConfigMediaType, {reinterpret_cast<const uint8_t*>(cfg.data()), cfg.size()});
    ASSERT_TRUE(c.ok());
    auto m = (*w)->Commit(*c, layers, {});
    ASSERT_TRUE(m.ok()) << m.status();
  }
  auto lay = image::Layout::Open(dir);
  ASSERT_TRUE(lay.ok()) << lay.status();
  for (const auto& l : (*lay)->layers()) EXPECT_TRUE((*lay)->ReadBlob(l).ok()) << l.digest;  // digests
  auto chain = Chain::Open(dir);
  ASSERT_TRUE(chain.ok()) << chain.status();
  auto got = (*chain)->Extract(0x100000, size_t{n} * 4096);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == pages);
  system(("rm -rf " + root).c_str());
}

// Pre-copied (provisional) pages enter the index only when Finish names them, and a page also
// added for real keeps the real bytes.
TEST(PageStore, ProvisionalPagesNeedToBeKept) {
  std::string dir = TempDir() + "/img";
  auto w = image::LayoutWriter::Create(dir);
  ASSERT_TRUE(w.ok()) << w.status();
  PageStore store(w->get(), nullptr, 2);
  auto page = [](uint8_t v) { return std::vector<uint8_t>(4096, v); };
  const uint64_t a = 0x100000, b = 0x101000, c = 0x102000, d = 0x103000;
  std::vector<uint64_t> pre_addrs = {a, b, c};
  std::vector<uint8_t> pre;
  for (uint8_t v : {1, 2, 3}) {
    auto p = page(v);
    pre.insert(pre.end(), p.begin(), p.end());
  }
  ASSERT_TRUE(store.AddBatch(0, pre_addrs.data(), pre.data(), 3, /*provisional=*/true).ok());
  std::vector<uint64_t> real_addrs = {b, d};
  std::vector<uint8_t> real;
  for (uint8_t v : {22, 4}) {
    auto p = page(v);
    real.insert(real.end(), p.begin(), p.end());
  }
  ASSERT_TRUE(store.AddBatch(1, real_addrs.data(), real.data(), 2).ok());
  ASSERT_TRUE(store.FinishWorker(1).ok());
  std::vector<image::Descriptor> packs;
  auto idx = store.Finish({}, &packs, /*keep=*/{a, b});
  ASSERT_TRUE(idx.ok()) << idx.status();
  std::vector<std::pair<uint64_t, PageHash>> got;
  for (const snapshot::Run& r : idx->runs)
    for (uint32_t i = 0; i < r.npages; i++)
      got.push_back({r.start + i * 4096ull, idx->blocks[idx->refs[r.first_ref + i]].hash});
  std::vector<std::pair<uint64_t, PageHash>> want = {
      {a, HashPage(page(1).data())}, {b, HashPage(page(22).data())}, {d, HashPage(page(4).data())}};
  EXPECT_EQ(got, want);
  // Adding to a finished worker is refused.
  EXPECT_FALSE(store.AddBatch(1, real_addrs.data(), real.data(), 1).ok());
  system(("rm -rf " + dir.substr(0, dir.rfind('/'))).c_str());
}

}  // namespace
}  // namespace clonebot::snapshot
