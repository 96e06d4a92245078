// PagemapPresent on this process: holes, adjacent VMAs kept apart, and agreement with the
// plain pagemap entries.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vector>

#include "base/unique_fd.h"
#include "snapshot/tracking.h"

namespace clonebot::snapshot {
namespace {

TEST(PagemapPresent, HolesAndAdjacentMappings) {
  base::UniqueFd pm(open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(pm.valid());
  const size_t page = 4096, n = 64;
  // Two adjacent VMAs (different protections), all of the first present, every third page of
  // the second.
  auto* p = static_cast<uint8_t*>(mmap(nullptr, 2 * n * page, PROT_READ | PROT_WRITE,
                                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_EQ(mprotect(p + n * page, n * page, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
  for (size_t i = 0; i < n; i++) p[i * page] = 1;
  for (size_t i = 0; i < n; i += 3) p[(n + i) * page] = 1;
  const uint64_t a = reinterpret_cast<uint64_t>(p), mid = a + n * page, end = a + 2 * n * page;

  std::vector<Region> got;
  absl::Status st = PagemapPresent(pm.get(), a, mid, &got);
  if (absl::IsInvalidArgument(st) || absl::IsUnimplemented(st)) GTEST_SKIP() << "no PAGEMAP_SCAN: " << st;
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_TRUE(PagemapPresent(pm.get(), mid, end, &got).ok());
  // The first mapping's region is not merged with the second's first page.
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got[0].start, a);
  EXPECT_EQ(got[0].end, mid);
  EXPECT_EQ(got[1].start, mid);
  EXPECT_EQ(got[1].end, mid + page);

  std::vector<Region> plain;
  ASSERT_TRUE(PagemapRead(pm.get(), a, mid, &plain).ok());
  ASSERT_TRUE(PagemapRead(pm.get(), mid, end, &plain).ok());
  auto pages = [](const std::vector<Region>& rs) {
    std::vector<uint64_t> out;
    for (const Region& r : rs)
      for (uint64_t x = r.start; x < r.end; x += 4096) out.push_back(x);
    return out;
  };
  EXPECT_EQ(pages(got), pages(plain));
  for (const Region& r : got) EXPECT_EQ(r.categories & PAGE_IS_PRESENT, uint64_t{PAGE_IS_PRESENT});
  munmap(p, 2 * n * page);
}

}  // namespace
}  // namespace clonebot::snapshot
