// XXH3-128 of a page with AVX2, for HashPage (page_index.cc), which calls it only on a CPU that
// has AVX2. This file alone is compiled with -mavx2 (CMakeLists.txt), and holds nothing but
// xxHash's code, inlined and static (XXH_INLINE_ALL), and one function: no code that the rest of
// the program shares (an inline function of a C++ header, say) is built here for AVX2.
//
// Why: Debian's libxxhash.a is built for the x86-64 baseline (SSE2), and its x86 dispatcher is
// only in the shared library. On a page in cache AVX2 hashes 3x as fast (28 against 9 GB/s here).
#if defined(__x86_64__)
#define XXH_INLINE_ALL
#define XXH_VECTOR XXH_AVX2
#include "xxhash.h"

namespace clonebot::snapshot {

void HashPageAvx2(const unsigned char* page, unsigned long long out[2]) {
  XXH128_hash_t h = XXH3_128bits(page, 4096);
  out[0] = h.high64;
  out[1] = h.low64;
}

}  // namespace clonebot::snapshot
#endif
