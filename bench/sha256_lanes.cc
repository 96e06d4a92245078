// SHA-256 throughput of clonebot's hashing (src/image/sha256.h): one stream with Update, and two
// streams at once with UpdateTwo (OpenSSL's multi-buffer SHA-256 where the build has it).
// Prints GB/s for each, over 512 MiB of random bytes hashed in 256 KiB steps.
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "image/sha256.h"

using clonebot::image::Sha256;

int main() {
  constexpr size_t kStep = 256 << 10, kTotal = 512ull << 20;
  std::vector<uint8_t> buf(2 * kStep);
  std::mt19937_64 rng(1);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  auto seconds = [](auto f) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  Sha256 one;
  double t1 = seconds([&] {
    for (size_t done = 0; done < kTotal; done += kStep) one.Update(buf.data(), kStep);
  });
  Sha256 a, b;
  double t2 = seconds([&] {
    for (size_t done = 0; done < kTotal; done += 2 * kStep)
      Sha256::UpdateTwo(a, buf.data(), kStep, b, buf.data() + kStep, kStep);
  });
  printf("one stream:  %.2f GB/s\n", kTotal / t1 / 1e9);
  printf("two streams: %.2f GB/s (%s)\n", kTotal / t2 / 1e9,
         Sha256::HasTwoLanes() ? "multi-buffer" : "one after the other: not in this build");
  (void)one.Final();
  (void)a.Final();
  (void)b.Final();
  return 0;
}
