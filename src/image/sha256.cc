#include "image/sha256.h"

#include <algorithm>
#include <cstring>

#include "base/status.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#ifdef CLONEBOT_HAVE_SHA256_MB
// OpenSSL's declarations (crypto/evp/e_aes_cbc_hmac_sha256.c). The context holds 8 lanes,
// transposed: A[lane] is word 0 of lane |lane|'s state. |n4x| = 1 hashes lanes 0-3 (a lane with
// blocks = 0 is left alone). With SHA-NI it runs the lanes two by two, interleaved.
extern "C" {
struct SHA256_MB_CTX {
  unsigned int A[8], B[8], C[8], D[8], E[8], F[8], G[8], H[8];
};
struct HASH_DESC {
  const unsigned char* ptr;
  int blocks;
};
void sha256_multi_block(SHA256_MB_CTX* ctx, const HASH_DESC* desc, int n4x);
}
#endif

namespace clonebot::image {

namespace {

#ifdef CLONEBOT_HAVE_SHA256_MB
// Hashes |blocks| whole blocks of each stream; both contexts hold no partial block.
void TwoLanes(SHA256_CTX* a, const uint8_t* pa, SHA256_CTX* b, const uint8_t* pb, size_t blocks) {
  SHA256_MB_CTX mb;
  memset(&mb, 0, sizeof mb);
  unsigned int* words[8] = {mb.A, mb.B, mb.C, mb.D, mb.E, mb.F, mb.G, mb.H};
  for (int i = 0; i < 8; i++) {
    words[i][0] = a->h[i];
    words[i][1] = b->h[i];
  }
  constexpr size_t kMaxCall = 1 << 16;  // blocks per call (HASH_DESC::blocks is an int)
  for (size_t done = 0; done < blocks;) {
    size_t n = std::min(kMaxCall, blocks - done);
    HASH_DESC desc[4] = {{pa + done * 64, static_cast<int>(n)},
                         {pb + done * 64, static_cast<int>(n)},
                         {pa, 0},
                         {pa, 0}};
    sha256_multi_block(&mb, desc, 1);
    done += n;
  }
  for (int i = 0; i < 8; i++) {
    a->h[i] = words[i][0];
    b->h[i] = words[i][1];
  }
  // The message length in bits, as SHA256_Update keeps it: Nh:Nl.
  for (SHA256_CTX* c : {a, b}) {
    uint64_t bits = (static_cast<uint64_t>(c->Nh) << 32 | c->Nl) + static_cast<uint64_t>(blocks) * 512;
    c->Nl = static_cast<SHA_LONG>(bits);
    c->Nh = static_cast<SHA_LONG>(bits >> 32);
  }
}
#endif

}  // namespace

Sha256::Sha256() { CB_CHECK(SHA256_Init(&ctx_) == 1, "SHA256_Init"); }

void Sha256::Update(const void* p, size_t n) {
  if (n > 0) CB_CHECK(SHA256_Update(&ctx_, p, n) == 1, "SHA256_Update");
}

std::string Sha256::Final() {
  static constexpr char kHex[] = "0123456789abcdef";
  unsigned char md[SHA256_DIGEST_LENGTH];
  CB_CHECK(SHA256_Final(md, &ctx_) == 1, "SHA256_Final");
  std::string out = "sha256:";
  for (unsigned char c : md) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

bool Sha256::HasTwoLanes() {
#ifdef CLONEBOT_HAVE_SHA256_MB
  return true;
#else
  return false;
#endif
}

void Sha256::UpdateTwo(Sha256& a, const uint8_t* pa, size_t na, Sha256& b, const uint8_t* pb,
                       size_t nb) {
  CB_CHECK(&a != &b, "Sha256::UpdateTwo of one stream");
#ifdef CLONEBOT_HAVE_SHA256_MB
  // Complete a partial block first, one stream at a time.
  auto align = [](Sha256& s, const uint8_t*& p, size_t& n) {
    if (s.ctx_.num == 0) return;
    size_t take = std::min(n, static_cast<size_t>(SHA256_CBLOCK - s.ctx_.num));
    s.Update(p, take);
    p += take;
    n -= take;
  };
  align(a, pa, na);
  align(b, pb, nb);
  if (a.ctx_.num == 0 && b.ctx_.num == 0) {
    size_t blocks = std::min(na, nb) / SHA256_CBLOCK;
    if (blocks > 0) {
      TwoLanes(&a.ctx_, pa, &b.ctx_, pb, blocks);
      pa += blocks * SHA256_CBLOCK;
      pb += blocks * SHA256_CBLOCK;
      na -= blocks * SHA256_CBLOCK;
      nb -= blocks * SHA256_CBLOCK;
    }
  }
#endif
  a.Update(pa, na);
  b.Update(pb, nb);
}

namespace {

// A read position in a list of spans.
struct Cursor {
  std::span<const iovec> v;
  size_t i = 0, off = 0;
  size_t left = 0;  // bytes from here to the end

  explicit Cursor(std::span<const iovec> spans) : v(spans) {
    for (const iovec& x : v) left += x.iov_len;
    Skip();
  }
  void Skip() {
    while (i < v.size() && off == v[i].iov_len) i++, off = 0;
  }
  const uint8_t* here() const { return static_cast<const uint8_t*>(v[i].iov_base) + off; }
  size_t contiguous() const { return left == 0 ? 0 : v[i].iov_len - off; }
  void Advance(size_t n) {
    left -= n;
    while (n > 0) {
      size_t t = std::min(n, v[i].iov_len - off);
      off += t;
      n -= t;
      Skip();
    }
    Skip();
  }
  // Copies the next |n| bytes (at most |left|) to |out| and moves past them.
  void Gather(uint8_t* out, size_t n) {
    left -= n;
    while (n > 0) {
      size_t t = std::min(n, v[i].iov_len - off);
      memcpy(out, here(), t);
      out += t;
      off += t;
      n -= t;
      Skip();
    }
  }
};

}  // namespace

void Sha256::UpdateTwoV(Sha256& a, std::span<const iovec> va, Sha256& b, std::span<const iovec> vb) {
  CB_CHECK(&a != &b, "Sha256::UpdateTwoV of one stream");
  Cursor ca(va), cb(vb);
#ifdef CLONEBOT_HAVE_SHA256_MB
  // Partial blocks first, one stream at a time.
  for (auto [s, c] : {std::pair<Sha256*, Cursor*>{&a, &ca}, {&b, &cb}}) {
    while (s->ctx_.num != 0 && c->left > 0) {
      size_t take = std::min(c->contiguous(), static_cast<size_t>(SHA256_CBLOCK - s->ctx_.num));
      s->Update(c->here(), take);
      c->Advance(take);
    }
  }
  if (a.ctx_.num == 0 && b.ctx_.num == 0) {
    uint8_t tmp[2][SHA256_CBLOCK];
    while (ca.left >= SHA256_CBLOCK && cb.left >= SHA256_CBLOCK) {
      // As many whole blocks as both have contiguous; a stream with none gathers one.
      size_t na = ca.contiguous() / SHA256_CBLOCK, nb = cb.contiguous() / SHA256_CBLOCK;
      size_t n = (na > 0 && nb > 0) ? std::min(na, nb) : 1;
      const uint8_t* pa = ca.here();
      const uint8_t* pb = cb.here();
      if (na == 0) {
        ca.Gather(tmp[0], SHA256_CBLOCK);
        pa = tmp[0];
      } else {
        ca.Advance(n * SHA256_CBLOCK);
      }
      if (nb == 0) {
        cb.Gather(tmp[1], SHA256_CBLOCK);
        pb = tmp[1];
      } else {
        cb.Advance(n * SHA256_CBLOCK);
      }
      TwoLanes(&a.ctx_, pa, &b.ctx_, pb, n);
    }
  }
#endif
  for (auto [s, c] : {std::pair<Sha256*, Cursor*>{&a, &ca}, {&b, &cb}}) {
    while (c->left > 0) {
      size_t take = c->contiguous();
      s->Update(c->here(), take);
      c->Advance(take);
    }
  }
}

}  // namespace clonebot::image

#pragma GCC diagnostic pop
