#include "image/oci.h"

#include <signal.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "image/sha256.h"

namespace clonebot::image {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(n);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x = rng();
    memcpy(v.data() + i, &x, 8);
  }
  for (; i < n; ++i) v[i] = static_cast<uint8_t>(rng());
  return v;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}

// Names in |dir| that are partial directories or temporary blobs.
std::vector<std::string> Leftovers(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename();
    if (n.find(".partial-") != std::string::npos) out.push_back(n);
  }
  return out;
}

class OciTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* t = getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/oci_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override {
    fs::remove_all(root_);
    if (!shm_root_.empty()) fs::remove_all(shm_root_);
  }

  // A directory on tmpfs (a memory filesystem: buffered writes, made inline), removed at
  // TearDown; empty if /dev/shm is not tmpfs.
  fs::path ShmDir() {
    if (!shm_root_.empty()) return shm_root_;
    std::string tmpl = "/dev/shm/oci_test.XXXXXX";
    struct statfs sfs;
    if (statfs("/dev/shm", &sfs) == 0 && sfs.f_type == TMPFS_MAGIC && mkdtemp(tmpl.data()) != nullptr)
      shm_root_ = tmpl;
    return shm_root_;
  }

  // Writes a complete layout at |dir| with one config and |layer| as the only layer.
  absl::StatusOr<Descriptor> MakeLayout(const fs::path& dir, const std::string& config,
                                        const std::vector<uint8_t>& layer, bool replace = false) {
    auto w = LayoutWriter::Create(dir, replace);
    if (!w.ok()) return w.status();
    auto c = (*w)->PutBlob(kConfigMediaType, Bytes(config));
    if (!c.ok()) return c.status();
    auto b = (*w)->NewBlob();
    if (!b.ok()) return b.status();
    if (absl::Status s = (*b)->Append(layer); !s.ok()) return s;
    auto l = (*b)->Finish("application/vnd.clonebot.test");
    if (!l.ok()) return l.status();
    b->reset();
    return (*w)->Commit(*c, {*l}, {{"org.example.k", "v"}});
  }

  fs::path root_;
  fs::path shm_root_;
};

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(Sha256Digest({}),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Digest(Bytes("abc")),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Digest(Bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  EXPECT_EQ(Sha256Digest(Bytes(million)),
            "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// UpdateTwo gives each stream the digest of its bytes hashed alone, whatever the lengths
// (partial blocks, one stream empty or far longer) and mixed with Update calls.
TEST(Sha256, UpdateTwoMatchesOneStreamAtATime) {
  std::vector<uint8_t> a = RandomBytes(3 << 20, 1), b = RandomBytes(3 << 20, 2);
  std::mt19937_64 rng(3);
  for (int round = 0; round < 20; round++) {
    Sha256 ha, hb;
    size_t ia = 0, ib = 0;
    int step = 0;
    while (ia < a.size() || ib < b.size()) {
      auto take = [&](size_t left) -> size_t {
        size_t n;
        switch (rng() % 5) {
          case 0: n = rng() % 64; break;
          case 1: n = 64 * (rng() % 64); break;
          case 2: n = rng() % 200000; break;
          case 3: n = 0; break;
          default: n = 65536 + 12; break;
        }
        return std::min(n, left);
      };
      size_t na = take(a.size() - ia), nb = take(b.size() - ib);
      if (++step % 7 == 0) {
        ha.Update(a.data() + ia, na);
      } else if (step % 2 == 0) {
        Sha256::UpdateTwo(ha, a.data() + ia, na, hb, b.data() + ib, nb);
        ib += nb;
      } else {
        Sha256::UpdateTwo(hb, b.data() + ib, nb, ha, a.data() + ia, na);
        ib += nb;
      }
      ia += na;
    }
    ASSERT_EQ(ha.Final(), Sha256Digest(a)) << "round " << round;
    ASSERT_EQ(hb.Final(), Sha256Digest(b)) << "round " << round;
  }
  RecordProperty("two_lanes", Sha256::HasTwoLanes() ? "yes" : "no");
}

// UpdateTwoV gives each stream the digest of its bytes hashed alone, however they are split into
// spans (a frame head then pages, empty spans, blocks straddling spans, uneven totals) and
// wherever a stream stands in its current block.
TEST(Sha256, UpdateTwoVMatchesOneStreamAtATime) {
  std::vector<uint8_t> src = RandomBytes(1 << 20, 4);
  std::mt19937_64 rng(5);
  for (int round = 0; round < 200; round++) {
    Sha256 h[2];
    std::vector<uint8_t> want[2];
    for (int call = 0; call < 8; call++) {
      std::vector<iovec> v[2];
      for (int side = 0; side < 2; side++) {
        if (rng() % 4 == 0) {  // leaves the stream inside a block
          size_t n = rng() % 64, off = rng() % (src.size() - n);
          h[side].Update(src.data() + off, n);
          want[side].insert(want[side].end(), src.begin() + off, src.begin() + off + n);
        }
        size_t pieces = rng() % 30;
        for (size_t k = 0; k < pieces; k++) {
          size_t n;
          switch (rng() % 4) {
            case 0: n = 12; break;
            case 1: n = rng() % 3 == 0 ? 0 : rng() % 130; break;
            default: n = 4096; break;
          }
          size_t off = rng() % (src.size() - n);
          v[side].push_back({src.data() + off, n});
          want[side].insert(want[side].end(), src.begin() + off, src.begin() + off + n);
        }
      }
      Sha256::UpdateTwoV(h[0], v[0], h[1], v[1]);
    }
    ASSERT_EQ(h[0].Final(), Sha256Digest(want[0])) << "round " << round;
    ASSERT_EQ(h[1].Final(), Sha256Digest(want[1])) << "round " << round;
  }
}

// Paired blobs (PairWith) hash their bytes late, together: each blob's digest and contents are
// still those of its own bytes, however the appends interleave, whichever finishes first, and
// when a pairing is broken by a third blob or by a blob dropped unfinished.
TEST_F(OciTest, PairedBlobsKeepTheirOwnDigests) {
  // O_DIRECT, buffered with a write-behind thread, and on tmpfs (buffered, written inline).
  for (const char* direct : {"1", "0", "shm"}) {
    const bool on_shm = std::string(direct) == "shm";
    if (on_shm && ShmDir().empty()) continue;
    setenv("CLONEBOT_IMAGE_NO_DIRECT", on_shm ? "1" : direct, 1);
    const fs::path img = (on_shm ? ShmDir() : root_) / (std::string("img") + direct);
    auto w = LayoutWriter::Create(img);
    ASSERT_TRUE(w.ok()) << w.status();
    if (on_shm) EXPECT_TRUE((*w)->on_memory_fs());
    std::mt19937_64 rng(7);
    // Page-aligned, so that large appends at page offsets take the unstaged path.
    const size_t kSrc = 24 << 20;
    std::unique_ptr<uint8_t, decltype(&free)> src_buf(static_cast<uint8_t*>(aligned_alloc(4096, kSrc)), free);
    std::vector<uint8_t> random = RandomBytes(kSrc, 9);
    memcpy(src_buf.get(), random.data(), kSrc);
    std::span<const uint8_t> src(src_buf.get(), kSrc);
    std::unique_ptr<BlobWriter> blobs[3];
    std::vector<uint8_t> want[3];
    for (int i = 0; i < 3; i++) {
      auto b = (*w)->NewBlob();
      ASSERT_TRUE(b.ok()) << b.status();
      blobs[i] = std::move(*b);
    }
    auto append = [&](int i, size_t n) {
      size_t off = rng() % (src.size() - n);
      if (n >= (256 << 10)) off &= ~size_t{4095};
      ASSERT_TRUE(blobs[i]->Append({src.data() + off, n}).ok());
      want[i].insert(want[i].end(), src.begin() + off, src.begin() + off + n);
    };
    // AppendTwo: a frame head, then pages from anywhere, some empty spans; uneven lengths.
    auto append_two = [&](int i, int j) {
      std::vector<iovec> v[2];
      for (int side = 0; side < 2; side++) {
        const int who = side == 0 ? i : j;
        size_t pieces = rng() % 40;
        for (size_t k = 0; k < pieces; k++) {
          size_t n = k == 0 ? 12 : (rng() % 9 == 0 ? rng() % 100 : 4096);
          size_t off = rng() % (src.size() - n);
          v[side].push_back({const_cast<uint8_t*>(src.data() + off), n});
          want[who].insert(want[who].end(), src.begin() + off, src.begin() + off + n);
        }
      }
      ASSERT_TRUE(blobs[i]->AppendTwo(v[0], *blobs[j], v[1]).ok());
    };
    append(0, 100);
    blobs[0]->PairWith(*blobs[1]);
    append(0, 100);
    append(1, 9 << 20);  // nothing staged yet: written without staging, hashed first
    for (int k = 0; k < 400; k++) {
      size_t n = rng() % 3 == 0 ? rng() % 5000 : 65536 + 12;
      append(k % 2, n);
      if (k % 50 == 49) append(k % 2, 9 << 20);  // larger than a staging buffer
      if (k % 7 == 3) append_two(k % 2, 1 - k % 2);  // staged bytes of both go first
    }
    blobs[1]->PairWith(*blobs[2]);  // ends 0-1
    for (int k = 0; k < 100; k++) {
      append(1 + k % 2, 65536 + 12 + rng() % 7);
      if (k % 9 == 0) append_two(0, 1 + k % 2);  // also between blobs that are not partners
    }
    append(0, 333);
    blobs[2].reset();  // dropped unfinished: 1 goes on alone
    want[2].clear();
    blobs[0]->PairWith(*blobs[1]);
    for (int k = 0; k < 60; k++) append(k % 3 == 0 ? 0 : 1, 40000 + rng() % 100000);
    auto d1 = blobs[1]->Finish("application/vnd.clonebot.test");  // 1 first; 0 goes on alone
    ASSERT_TRUE(d1.ok()) << d1.status();
    for (int k = 0; k < 10; k++) append(0, 70000);
    auto d0 = blobs[0]->Finish("application/vnd.clonebot.test");
    ASSERT_TRUE(d0.ok()) << d0.status();
    EXPECT_EQ(d0->digest, Sha256Digest(want[0])) << "direct=" << direct;
    EXPECT_EQ(d1->digest, Sha256Digest(want[1])) << "direct=" << direct;
    EXPECT_EQ(d0->size, want[0].size());
    EXPECT_EQ(d1->size, want[1].size());
    auto c = (*w)->PutBlob(kConfigMediaType, Bytes("{}"));
    ASSERT_TRUE(c.ok());
    auto m = (*w)->Commit(*c, {*d0, *d1}, {});
    ASSERT_TRUE(m.ok()) << m.status();
    auto l = Layout::Open(img);
    ASSERT_TRUE(l.ok()) << l.status();
    for (int i = 0; i < 2; i++) {
      auto got = (*l)->ReadBlob(i == 0 ? *d0 : *d1);  // verifies the digest
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(*got == want[i]) << "blob " << i << " direct=" << direct;
    }
  }
  unsetenv("CLONEBOT_IMAGE_NO_DIRECT");
}

TEST_F(OciTest, RoundTrip) {
  fs::path dir = root_ / "img";
  auto w = LayoutWriter::Create(dir);
  ASSERT_TRUE(w.ok()) << w.status();
  std::string config = R"({"architecture":"amd64","os":"linux"})";
  auto c = (*w)->PutBlob(kConfigMediaType, Bytes(config));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->digest, Sha256Digest(Bytes(config)));
  EXPECT_EQ(c->size, config.size());

  std::vector<uint8_t> data = RandomBytes(3 * 1024 * 1024 + 17, 1);
  auto b = (*w)->NewBlob();
  ASSERT_TRUE(b.ok()) << b.status();
  for (size_t off = 0; off < data.size(); off += 100000) {
    size_t n = std::min<size_t>(100000, data.size() - off);
    ASSERT_TRUE((*b)->Append(std::span(data).subspan(off, n)).ok());
  }
  EXPECT_EQ((*b)->size(), data.size());
  auto l = (*b)->Finish("application/vnd.clonebot.snapshot.pages.v1");
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->digest, Sha256Digest(data));
  EXPECT_EQ(l->size, data.size());
  EXPECT_FALSE((*b)->Finish("x").ok());  // twice
  EXPECT_FALSE((*b)->Append(data).ok());
  b->reset();

  Descriptor layer = *l;
  layer.annotations["org.example.layer"] = "pages";
  auto m = (*w)->Commit(*c, {layer}, {{"org.example.b", "2"}, {"org.example.a", "1"}});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->media_type, kManifestMediaType);
  EXPECT_FALSE((*w)->NewBlob().ok());  // committed
  EXPECT_FALSE((*w)->PutBlob("x", Bytes("y")).ok());
  w->reset();

  EXPECT_TRUE(Leftovers(root_).empty());
  EXPECT_EQ(ReadFile(dir / "oci-layout"), R"({"imageLayoutVersion":"1.0.0"})");
  EXPECT_EQ(ReadFile(dir / "index.json"),
            R"({"manifests":[{"annotations":{"org.opencontainers.image.ref.name":"latest"},)"
            R"("digest":")" + m->digest + R"(","mediaType":")" + kManifestMediaType +
                R"(","size":)" + std::to_string(m->size) +
                R"(}],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2})");
  std::string manifest = ReadFile(dir / "blobs/sha256" / m->digest.substr(7));
  EXPECT_EQ(Sha256Digest(Bytes(manifest)), m->digest);
  EXPECT_EQ(manifest.size(), m->size);
  EXPECT_THAT(manifest, HasSubstr(R"("annotations":{"org.example.a":"1","org.example.b":"2"})"));
  EXPECT_THAT(manifest, HasSubstr(R"("schemaVersion":2)"));
  // Only the three blobs, no temporaries.
  int nblobs = 0;
  for (const auto& e : fs::directory_iterator(dir / "blobs/sha256")) {
    EXPECT_EQ(e.path().filename().string().size(), 64u) << e.path();
    ++nblobs;
  }
  EXPECT_EQ(nblobs, 3);

  auto lay = Layout::Open(dir);
  ASSERT_TRUE(lay.ok()) << lay.status();
  EXPECT_EQ((*lay)->dir(), dir.string());
  EXPECT_EQ((*lay)->manifest_descriptor().digest, m->digest);
  EXPECT_EQ((*lay)->config().digest, c->digest);
  EXPECT_EQ((*lay)->config().media_type, kConfigMediaType);
  ASSERT_EQ((*lay)->layers().size(), 1u);
  EXPECT_EQ((*lay)->layers()[0].digest, l->digest);
  EXPECT_EQ((*lay)->layers()[0].media_type, "application/vnd.clonebot.snapshot.pages.v1");
  EXPECT_EQ((*lay)->layers()[0].annotations.at("org.example.layer"), "pages");
  EXPECT_EQ((*lay)->annotations().size(), 2u);
  EXPECT_EQ((*lay)->annotations().at("org.example.a"), "1");
  EXPECT_TRUE((*lay)->HasBlob(l->digest));
  EXPECT_FALSE((*lay)->HasBlob(Sha256Digest(Bytes("nope"))));
  EXPECT_FALSE((*lay)->HasBlob("sha256:../../etc/passwd"));
  EXPECT_EQ((*lay)->BlobPath(l->digest), (dir / "blobs/sha256" / l->digest.substr(7)).string());

  auto cfg = (*lay)->ReadBlob((*lay)->config());
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(std::string(cfg->begin(), cfg->end()), config);
  auto rd = (*lay)->ReadBlob((*lay)->layers()[0]);
  ASSERT_TRUE(rd.ok()) << rd.status();
  EXPECT_EQ(*rd, data);
  auto mp = (*lay)->MapBlob((*lay)->layers()[0]);
  ASSERT_TRUE(mp.ok()) << mp.status();
  ASSERT_EQ((*mp)->bytes().size(), data.size());
  EXPECT_EQ(memcmp((*mp)->bytes().data(), data.data(), data.size()), 0);
}

TEST_F(OciTest, OutputIsDeterministic) {
  std::vector<uint8_t> layer = RandomBytes(10000, 2);
  auto a = MakeLayout(root_ / "a", "{}", layer);
  auto b = MakeLayout(root_ / "b", "{}", layer);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->digest, b->digest);
  EXPECT_EQ(ReadFile(root_ / "a/index.json"), ReadFile(root_ / "b/index.json"));
}

// Blob sizes around the O_DIRECT alignment and the staging buffer, appended in uneven pieces,
// and from a page-aligned buffer (the path that skips the staging copy).
class BlobSizeTest : public OciTest, public ::testing::WithParamInterface<size_t> {};

TEST_P(BlobSizeTest, TailHandling) {
  size_t n = GetParam();
  std::vector<uint8_t> data = RandomBytes(n, static_cast<uint32_t>(n));
  // O_DIRECT where the filesystem has it, the buffered fallback (forced), and a layout on tmpfs
  // (taken as buffered, with small staging buffers, though tmpfs accepts O_DIRECT since 6.6).
  for (int way = 0; way < 3; ++way) {
    const bool buffered = way == 1;
    if (way == 2 && ShmDir().empty()) continue;
    if (buffered) setenv("CLONEBOT_IMAGE_NO_DIRECT", "1", 1);
    absl::Cleanup unset = [] { unsetenv("CLONEBOT_IMAGE_NO_DIRECT"); };
    const fs::path base = way == 2 ? ShmDir() : root_;
    for (int mode = 0; mode < 3; ++mode) {
      fs::path dir = base / ("tail-" + std::to_string(way) + "-" + std::to_string(mode));
      auto w = LayoutWriter::Create(dir);
      ASSERT_TRUE(w.ok()) << w.status();
      auto b = (*w)->NewBlob();
      ASSERT_TRUE(b.ok()) << b.status();
      if (mode == 0) {  // one Append
        ASSERT_TRUE((*b)->Append(data).ok());
      } else if (mode == 1) {  // odd-sized pieces
        for (size_t off = 0; off < n; off += 777777) {
          size_t k = std::min<size_t>(777777, n - off);
          ASSERT_TRUE((*b)->Append(std::span(data).subspan(off, k)).ok());
        }
      } else {  // page-aligned source
        void* p = nullptr;
        ASSERT_EQ(posix_memalign(&p, 4096, n + 1), 0);
        if (n > 0) memcpy(p, data.data(), n);
        ASSERT_TRUE((*b)->Append(std::span(static_cast<const uint8_t*>(p), n)).ok());
        free(p);
      }
      auto d = (*b)->Finish("application/octet-stream");
      ASSERT_TRUE(d.ok()) << d.status();
      EXPECT_EQ(d->size, n);
      EXPECT_EQ(d->digest, Sha256Digest(data));
      auto c = (*w)->PutBlob(kConfigMediaType, Bytes("{}"));
      ASSERT_TRUE(c.ok());
      ASSERT_TRUE((*w)->Commit(*c, {*d}, {}).ok());
      EXPECT_EQ(fs::file_size(dir / "blobs/sha256" / d->digest.substr(7)), n);
      auto lay = Layout::Open(dir);
      ASSERT_TRUE(lay.ok()) << lay.status();
      auto rd = (*lay)->ReadBlob(*d);
      ASSERT_TRUE(rd.ok()) << rd.status();
      EXPECT_TRUE(*rd == data) << "way " << way << " mode " << mode;
      auto mp = (*lay)->MapBlob(*d);
      ASSERT_TRUE(mp.ok()) << mp.status();
      EXPECT_EQ((*mp)->bytes().size(), n);
      fs::remove_all(dir);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, BlobSizeTest,
                         // 1, 3, 7 MiB: where O_DIRECT submissions of 1, 2, 4 MiB end.
                         ::testing::Values(0, 1, 4095, 4096, 4097, 1u << 20, (1u << 20) + 1, 3u << 20,
                                           (7u << 20) + 4095, 4u << 20, (4u << 20) + 1,
                                           (5u << 20) + 3, 8u << 20, (8u << 20) + 1,
                                           (9u << 20) + 4096, (17u << 20) + 3, (25u << 20) + 4096));

// A write that fails on the write-behind thread (here EFBIG past RLIMIT_FSIZE) fails the next
// Append or the Finish, and the blob never lands.
TEST_F(OciTest, BackgroundWriteErrorSurfaces) {
  struct sigaction ign {}, old_sa {};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ign, &old_sa), 0);
  rlimit old_lim{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
  rlimit lim = old_lim;
  lim.rlim_cur = 12u << 20;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
  absl::Cleanup restore = [&] {
    setrlimit(RLIMIT_FSIZE, &old_lim);
    sigaction(SIGXFSZ, &old_sa, nullptr);
  };
  auto w = LayoutWriter::Create(root_ / "efbig");
  ASSERT_TRUE(w.ok()) << w.status();
  auto b = (*w)->NewBlob();
  ASSERT_TRUE(b.ok()) << b.status();
  std::vector<uint8_t> data = RandomBytes(1u << 20, 7);
  absl::Status st;
  for (int i = 0; i < 64 && st.ok(); i++) st = (*b)->Append(data);
  if (st.ok()) st = (*b)->Finish("application/octet-stream").status();
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr("write("));
  EXPECT_FALSE((*b)->Finish("application/octet-stream").ok());  // sticky
  b->reset();
  w->reset();
  EXPECT_FALSE(fs::exists(root_ / "efbig"));
  EXPECT_TRUE(fs::is_empty(root_));  // the partial directory is gone too
}

TEST_F(OciTest, ConcurrentBlobWriters) {
  fs::path dir = root_ / "img";
  auto w = LayoutWriter::Create(dir);
  ASSERT_TRUE(w.ok());
  constexpr int kThreads = 4, kPerThread = 3;
  std::vector<std::vector<uint8_t>> inputs(kThreads * kPerThread);
  std::vector<absl::StatusOr<Descriptor>> outs(kThreads * kPerThread, absl::UnknownError(""));
  for (size_t i = 0; i < inputs.size(); ++i)
    inputs[i] = RandomBytes((1 << 20) * (1 + i % 3) + i * 13, static_cast<uint32_t>(100 + i));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kPerThread; ++k) {
        size_t i = t * kPerThread + k;
        auto b = (*w)->NewBlob();
        if (!b.ok()) {
          outs[i] = b.status();
          continue;
        }
        for (size_t off = 0; off < inputs[i].size(); off += 65536) {
          size_t n = std::min<size_t>(65536, inputs[i].size() - off);
          if (absl::Status s = (*b)->Append(std::span(inputs[i]).subspan(off, n)); !s.ok()) {
            outs[i] = s;
            break;
          }
        }
        outs[i] = (*b)->Finish("application/vnd.clonebot.snapshot.pages.v1");
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<Descriptor> layers;
  for (size_t i = 0; i < outs.size(); ++i) {
    ASSERT_TRUE(outs[i].ok()) << outs[i].status();
    EXPECT_EQ(outs[i]->digest, Sha256Digest(inputs[i]));
    layers.push_back(*outs[i]);
  }
  auto c = (*w)->PutBlob(kConfigMediaType, Bytes("{}"));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*w)->Commit(*c, layers, {}).ok());
  auto lay = Layout::Open(dir);
  ASSERT_TRUE(lay.ok()) << lay.status();
  ASSERT_EQ((*lay)->layers().size(), layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    auto rd = (*lay)->ReadBlob((*lay)->layers()[i]);
    ASSERT_TRUE(rd.ok()) << rd.status();
    EXPECT_TRUE(*rd == inputs[i]);
  }
}

TEST_F(OciTest, DuplicateBlobIsKeptOnce) {
  fs::path dir = root_ / "img";
  auto w = LayoutWriter::Create(dir);
  ASSERT_TRUE(w.ok());
  std::vector<uint8_t> data = RandomBytes(50000, 7);
  auto b1 = (*w)->NewBlob();
  auto b2 = (*w)->NewBlob();
  ASSERT_TRUE(b1.ok() && b2.ok());
  ASSERT_TRUE((*b1)->Append(data).ok());
  ASSERT_TRUE((*b2)->Append(data).ok());
  auto d1 = (*b1)->Finish("a");
  auto d2 = (*b2)->Finish("a");
  ASSERT_TRUE(d1.ok() && d2.ok());
  EXPECT_EQ(d1->digest, d2->digest);
  auto p1 = (*w)->PutBlob("c", Bytes("{}"));
  auto p2 = (*w)->PutBlob("c", Bytes("{}"));
  ASSERT_TRUE(p1.ok() && p2.ok());
  EXPECT_EQ(p1->digest, p2->digest);
  b1->reset();
  b2->reset();
  ASSERT_TRUE((*w)->Commit(*p1, {*d1, *d2}, {}).ok());
  int nblobs = 0;
  for (const auto& e : fs::directory_iterator(dir / "blobs/sha256")) {
    (void)e;
    ++nblobs;
  }
  EXPECT_EQ(nblobs, 3);  // config, layer, manifest
  auto lay = Layout::Open(dir);
  ASSERT_TRUE(lay.ok()) << lay.status();
  EXPECT_EQ((*lay)->layers().size(), 2u);
}

TEST_F(OciTest, CommitChecks) {
  fs::path dir = root_ / "img";
  auto w = LayoutWriter::Create(dir);
  ASSERT_TRUE(w.ok());
  auto c = (*w)->PutBlob(kConfigMediaType, Bytes("{}"));
  ASSERT_TRUE(c.ok());
  Descriptor ghost{"x", Sha256Digest(Bytes("never written")), 13, {}};
  auto r = (*w)->Commit(*c, {ghost}, {});
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("not written"));
  Descriptor bad_size = *c;
  bad_size.size = 99;
  EXPECT_FALSE((*w)->Commit(bad_size, {}, {}).ok());
  Descriptor bad_digest = *c;
  bad_digest.digest = "sha256:XYZ";
  EXPECT_FALSE((*w)->Commit(bad_digest, {}, {}).ok());
  auto open = (*w)->NewBlob();
  ASSERT_TRUE(open.ok());
  r = (*w)->Commit(*c, {}, {});
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("still open"));
  open->reset();  // an unfinished blob writer is dropped
  EXPECT_FALSE(fs::exists(dir));
  ASSERT_TRUE((*w)->Commit(*c, {}, {}).ok());  // retry after errors works
  EXPECT_FALSE((*w)->Commit(*c, {}, {}).ok());
  ASSERT_TRUE(Layout::Open(dir).ok());
  for (const auto& e : fs::directory_iterator(dir / "blobs/sha256"))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos);
}

TEST_F(OciTest, DroppedWriterLeavesNothing) {
  fs::path dir = root_ / "img";
  {
    auto w = LayoutWriter::Create(dir);
    ASSERT_TRUE(w.ok());
    auto b = (*w)->NewBlob();
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE((*b)->Append(RandomBytes(100000, 3)).ok());
    ASSERT_TRUE((*w)->PutBlob("c", Bytes("{}")).ok());
    EXPECT_EQ(Leftovers(root_).size(), 1u);
    w->reset();  // the writer goes first; the blob writer outlives it
    auto d = (*b)->Finish("x");
    EXPECT_FALSE(d.ok());
  }
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(Leftovers(root_).empty());
}

TEST_F(OciTest, KilledWriterLeavesNoDir) {
  fs::path dir = root_ / "img";
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto w = LayoutWriter::Create(dir);
    if (!w.ok()) _exit(1);
    auto b = (*w)->NewBlob();
    if (!b.ok() || !(*b)->Append(RandomBytes(1 << 20, 5)).ok()) _exit(1);
    kill(getpid(), SIGKILL);  // mid-write, before Commit
    _exit(2);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_FALSE(fs::exists(dir));
  fs::path partial = root_ / (".img.partial-" + std::to_string(child));
  EXPECT_TRUE(fs::exists(partial / "blobs/sha256/.tmp-0"));
  auto w = LayoutWriter::Create(dir);  // the next writer cleans up
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_FALSE(fs::exists(partial));
}

TEST_F(OciTest, StalePartialIsRemoved) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);  // |child| is now a dead pid
  fs::path stale = root_ / (".other.partial-" + std::to_string(child));
  fs::create_directories(stale / "blobs/sha256");
  WriteFile(stale / "blobs/sha256/.tmp-0", "junk");
  fs::path live = root_ / ".busy.partial-1";  // pid 1 is alive
  fs::create_directories(live);
  fs::path unrelated = root_ / ".partial-5";
  fs::create_directories(unrelated);

  auto w = LayoutWriter::Create(root_ / "img");
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(unrelated));
  // Our own live partial is not touched by a second writer in the same directory.
  auto w2 = LayoutWriter::Create(root_ / "img2");
  ASSERT_TRUE(w2.ok());
  EXPECT_TRUE(fs::exists(root_ / (".img.partial-" + std::to_string(getpid()))));
  // Two writers for the same name in one process collide.
  EXPECT_FALSE(LayoutWriter::Create(root_ / "img").ok());
}

TEST_F(OciTest, ExistingDirIsRefusedOrReplaced) {
  fs::path dir = root_ / "img";
  auto first = MakeLayout(dir, R"({"n":1})", RandomBytes(1000, 1));
  ASSERT_TRUE(first.ok()) << first.status();
  auto w = LayoutWriter::Create(dir);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(w.status().message(), dir.string() + " already exists (use --force to replace)");

  // Created between Create and Commit: Commit refuses too.
  fs::path late = root_ / "late";
  auto lw = LayoutWriter::Create(late);
  ASSERT_TRUE(lw.ok());
  auto c = (*lw)->PutBlob(kConfigMediaType, Bytes("{}"));
  fs::create_directory(late);
  auto r = (*lw)->Commit(*c, {}, {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("already exists (use --force"));

  auto second = MakeLayout(dir, R"({"n":2})", RandomBytes(1000, 2), /*replace=*/true);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(first->digest, second->digest);
  auto lay = Layout::Open(dir);
  ASSERT_TRUE(lay.ok());
  EXPECT_EQ((*lay)->manifest_descriptor().digest, second->digest);
  EXPECT_FALSE((*lay)->HasBlob(first->digest));  // the old layout is gone
  lw->reset();
  EXPECT_TRUE(Leftovers(root_).empty());

  // Replace into a path that does not exist yet, and over an empty directory.
  ASSERT_TRUE(MakeLayout(root_ / "fresh", "{}", {}, true).ok());
  fs::create_directory(root_ / "empty");
  ASSERT_TRUE(MakeLayout(root_ / "empty", "{}", {}, true).ok());
  // --force never deletes a directory that is not an OCI layout.
  fs::create_directory(root_ / "home");
  WriteFile(root_ / "home/precious", "x");
  auto bad = LayoutWriter::Create(root_ / "home", true);
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("not an OCI image layout"));
  EXPECT_TRUE(fs::exists(root_ / "home/precious"));
}

TEST_F(OciTest, CreateErrors) {
  EXPECT_FALSE(LayoutWriter::Create(root_ / "no/such/parent/img").ok());
  EXPECT_FALSE(LayoutWriter::Create("").ok());
  EXPECT_FALSE(LayoutWriter::Create("/").ok());
  EXPECT_FALSE(LayoutWriter::Create(root_ / "..").ok());
  auto w = LayoutWriter::Create((root_ / "trailing").string() + "/");
  ASSERT_TRUE(w.ok()) << w.status();
  // A name that fits NAME_MAX but whose ".NAME.partial-PID" does not: the error says so about
  // the name asked for, and nothing is left behind.
  auto long_name = LayoutWriter::Create(root_ / std::string(250, 'x'));
  ASSERT_FALSE(long_name.ok());
  EXPECT_EQ(long_name.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(long_name.status().message().find("250 bytes is too long"), std::string::npos)
      << long_name.status();
  EXPECT_TRUE(LayoutWriter::Create(root_ / std::string(200, 'y')).ok());
}

// Open() on broken layouts: one clear message naming the file, never an exception.
class OpenErrorTest : public OciTest {
 protected:
  void SetUp() override {
    OciTest::SetUp();
    dir_ = root_ / "img";
    auto m = MakeLayout(dir_, R"({"architecture":"amd64"})", RandomBytes(5000, 9));
    ASSERT_TRUE(m.ok());
    manifest_ = *m;
    manifest_path_ = dir_ / "blobs/sha256" / manifest_.digest.substr(7);
  }
  std::string OpenError() {
    auto lay = Layout::Open(dir_);
    EXPECT_FALSE(lay.ok());
    std::string msg(lay.status().message());
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    return msg;
  }
  // Replaces index.json with one pointing at |blob| (written as a blob).
  void PointIndexAt(const std::string& blob) {
    std::string digest = Sha256Digest(Bytes(blob));
    WriteFile(dir_ / "blobs/sha256" / digest.substr(7), blob);
    WriteFile(dir_ / "index.json",
              R"({"schemaVersion":2,"manifests":[{"mediaType":")" + std::string(kManifestMediaType) +
                  R"(","digest":")" + digest + R"(","size":)" + std::to_string(blob.size()) +
                  "}]}");
  }
  fs::path dir_;
  Descriptor manifest_;
  fs::path manifest_path_;
};

TEST_F(OpenErrorTest, Intact) { ASSERT_TRUE(Layout::Open(dir_).ok()); }

TEST_F(OpenErrorTest, MissingDir) {
  dir_ = root_ / "nope";
  std::string msg = OpenError();
  EXPECT_EQ(msg, dir_.string() + ": no such directory");
}

TEST_F(OpenErrorTest, NotALayout) {
  fs::remove(dir_ / "oci-layout");
  EXPECT_EQ(OpenError(), dir_.string() + " is not an OCI image layout (no oci-layout file)");
}

TEST_F(OpenErrorTest, WrongLayoutVersion) {
  WriteFile(dir_ / "oci-layout", R"({"imageLayoutVersion":"2.0.0"})");
  std::string msg = OpenError();
  EXPECT_THAT(msg, HasSubstr((dir_ / "oci-layout").string()));
  EXPECT_THAT(msg, HasSubstr("unsupported imageLayoutVersion \"2.0.0\""));
  WriteFile(dir_ / "oci-layout", "{\"imageLayoutVersion\":1}");
  EXPECT_THAT(OpenError(), HasSubstr("no imageLayoutVersion"));
  WriteFile(dir_ / "oci-layout", "garbage");
  EXPECT_THAT(OpenError(), HasSubstr("oci-layout is not valid JSON"));
}

TEST_F(OpenErrorTest, MalformedIndex) {
  for (const std::string& bad : std::vector<std::string>{"{", "", "[]", "null", R"({"schemaVersion":2})",
                          R"({"schemaVersion":"2","manifests":[]})",
                          R"({"schemaVersion":2,"manifests":{}})",
                          R"({"schemaVersion":2,"manifests":[5]})",
                          R"({"schemaVersion":2,"manifests":[{"digest":5}]})",
                          R"({"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:abc","size":1}]})",
                          R"({"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:)" +
                              manifest_.digest.substr(7) + R"(","size":-1}]})",
                          "\xff\xfe"}) {
    WriteFile(dir_ / "index.json", bad);
    std::string msg = OpenError();
    EXPECT_THAT(msg, HasSubstr((dir_ / "index.json").string())) << bad;
  }
  fs::remove(dir_ / "index.json");
  EXPECT_THAT(OpenError(), HasSubstr("index.json"));
}

TEST_F(OpenErrorTest, NoManifest) {
  WriteFile(dir_ / "index.json", R"({"schemaVersion":2,"manifests":[]})");
  EXPECT_EQ(OpenError(), (dir_ / "index.json").string() + ": no manifest");
}

TEST_F(OpenErrorTest, SeveralManifests) {
  std::string entry = R"({"mediaType":")" + std::string(kManifestMediaType) + R"(","digest":")" +
                      manifest_.digest + R"(","size":)" + std::to_string(manifest_.size);
  std::string other = R"({"mediaType":"x","digest":")" + Sha256Digest(Bytes("x")) +
                      R"(","size":1,"annotations":{"org.opencontainers.image.ref.name":"v0"}})";
  WriteFile(dir_ / "index.json",
            R"({"schemaVersion":2,"manifests":[)" + other + "," + entry +
                R"(,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]})");
  auto lay = Layout::Open(dir_);
  ASSERT_TRUE(lay.ok()) << lay.status();
  EXPECT_EQ((*lay)->manifest_descriptor().digest, manifest_.digest);
  WriteFile(dir_ / "index.json",
            R"({"schemaVersion":2,"manifests":[)" + other + "," + entry + "}]}");
  EXPECT_THAT(OpenError(), HasSubstr("2 manifests and none is named \"latest\""));
  // A single manifest without a ref name (as skopeo copy writes it) is taken.
  WriteFile(dir_ / "index.json", R"({"schemaVersion":2,"manifests":[)" + entry + "}]}");
  EXPECT_TRUE(Layout::Open(dir_).ok());
}

TEST_F(OpenErrorTest, ManifestBlobMissing) {
  fs::remove(manifest_path_);
  EXPECT_EQ(OpenError(), manifest_path_.string() + ": manifest blob missing");
}

TEST_F(OpenErrorTest, ManifestDigestMismatch) {
  std::string m = ReadFile(manifest_path_);
  m[m.size() - 1] = ' ';  // same size, other bytes
  WriteFile(manifest_path_, m);
  std::string msg = OpenError();
  EXPECT_THAT(msg, HasSubstr(manifest_path_.string() + ": manifest digest mismatch"));
  WriteFile(manifest_path_, m + " ");
  EXPECT_THAT(OpenError(), HasSubstr("manifest size mismatch"));
}

TEST_F(OpenErrorTest, ManifestNotJson) {
  PointIndexAt("this is not json");
  EXPECT_THAT(OpenError(), HasSubstr(": manifest is not valid JSON"));
  PointIndexAt("[1,2]");
  EXPECT_THAT(OpenError(), HasSubstr("manifest not an object"));
  PointIndexAt(R"({"schemaVersion":2,"layers":[]})");
  EXPECT_THAT(OpenError(), HasSubstr("manifest has no config"));
  PointIndexAt(R"({"schemaVersion":2,"config":{"mediaType":"a","digest":")" + manifest_.digest +
               R"(","size":1},"layers":"x"})");
  EXPECT_THAT(OpenError(), HasSubstr("no layers array"));
  PointIndexAt(R"({"schemaVersion":1})");
  EXPECT_THAT(OpenError(), HasSubstr("schemaVersion is not 2"));
}

TEST_F(OpenErrorTest, LayerBlobMissingOrCorrupt) {
  auto lay = Layout::Open(dir_);
  ASSERT_TRUE(lay.ok());
  Descriptor layer = (*lay)->layers()[0];
  fs::path p = (*lay)->BlobPath(layer.digest);
  std::string content = ReadFile(p);
  content[0] ^= 1;
  WriteFile(p, content);
  auto rd = (*lay)->ReadBlob(layer);
  EXPECT_EQ(rd.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(rd.status().message()), HasSubstr(p.string() + ": digest mismatch"));
  EXPECT_TRUE((*lay)->MapBlob(layer).ok());  // size only
  WriteFile(p, content + "x");
  EXPECT_THAT(std::string((*lay)->MapBlob(layer).status().message()), HasSubstr("bytes"));
  EXPECT_FALSE((*lay)->ReadBlob(layer).ok());
  EXPECT_THAT(OpenError(), HasSubstr("layer 0 blob has"));
  fs::remove(p);
  EXPECT_EQ(OpenError(), p.string() + ": layer 0 blob missing");
  Descriptor evil = layer;
  evil.digest = "sha256:../../../../etc/passwd";
  EXPECT_FALSE((*lay)->ReadBlob(evil).ok());
}

}  // namespace
}  // namespace clonebot::image
