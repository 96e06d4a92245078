// Incremental SHA-256, one stream or two at once.
//
// Built on OpenSSL's SHA256_* functions. They are deprecated in OpenSSL 3 in favour of EVP, but
// EVP's first digest of a process fetches the default provider and loads openssl.cnf: 1.0-1.7 ms
// here, more than hashing a 1 MiB blob. SHA256_Update runs the same assembly (SHA-NI where the
// CPU has it), without that set-up.
//
// Two streams at once: SHA-NI's round instructions have a latency that one stream cannot hide;
// OpenSSL's multi-buffer SHA-256 (sha256_multi_block, crypto/sha/asm/sha256-mb-x86_64.pl) runs
// two streams interleaved and doubles the throughput (1.6 -> 3.1 GB/s here). It is internal to
// libcrypto (OpenSSL's AES-CBC-HMAC-SHA256 ciphers use it) and global only in the static
// archive, so the build looks for it (CLONEBOT_HAVE_SHA256_MB); without it UpdateTwo hashes the
// two streams one after the other, with the same results.
#pragma once

#include <openssl/sha.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace clonebot::image {

class Sha256 {
 public:
  Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* p, size_t n);
  // "sha256:<64 lowercase hex>". The object must not be used afterwards.
  std::string Final();

  // a.Update(pa, na) and b.Update(pb, nb), the whole 64-byte blocks they have in common hashed
  // together. |a| and |b| must be different objects.
  static void UpdateTwo(Sha256& a, const uint8_t* pa, size_t na, Sha256& b, const uint8_t* pb,
                        size_t nb);
  // The same for scattered bytes: every byte of |va| into |a|, of |vb| into |b|. Blocks that
  // straddle two spans are gathered, so that spans of any length and alignment (a 12-byte frame
  // head, then pages) are hashed two streams at once but for the last partial blocks.
  static void UpdateTwoV(Sha256& a, std::span<const iovec> va, Sha256& b, std::span<const iovec> vb);
  // Whether UpdateTwo really hashes two streams at once in this build.
  static bool HasTwoLanes();

 private:
  SHA256_CTX ctx_;
};

}  // namespace clonebot::image
