#include <fcntl.h>

#include <string>

#include "base/crc32c.h"
#include "base/json.h"
#include "base/status.h"
#include "base/unique_fd.h"
#include "gtest/gtest.h"

namespace clonebot::base {
namespace {

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(Crc32c(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32c(0, "", 0), 0u);
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(0, zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720 B.4
}

TEST(Crc32c, Incremental) {
  std::string s = "The quick brown fox jumps over the lazy dog, twice over and then some.";
  uint32_t whole = Crc32c(0, s.data(), s.size());
  for (size_t cut = 0; cut <= s.size(); cut += 7) {
    uint32_t a = Crc32c(0, s.data(), cut);
    EXPECT_EQ(Crc32c(a, s.data() + cut, s.size() - cut), whole) << cut;
  }
}

TEST(Json, EscapesControlAndInvalidUtf8) {
  std::string out;
  AppendJsonString(&out, std::string("a\"b\\c\n\x01\xff", 8));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\\u00ff\"");
  out.clear();
  AppendJsonString(&out, "h\xc3\xa9llo \xe2\x82\xac");  // valid UTF-8 passes through
  EXPECT_EQ(out, "\"h\xc3\xa9llo \xe2\x82\xac\"");
}

TEST(UniqueFd, ClosesAndReleases) {
  int raw;
  {
    UniqueFd fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    raw = fd.get();
  }
  EXPECT_EQ(fcntl(raw, F_GETFD), -1);  // closed by the destructor
  UniqueFd fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
  int r = fd.release();
  EXPECT_FALSE(fd.valid());
  EXPECT_NE(fcntl(r, F_GETFD), -1);
  close(r);
}

TEST(Status, ErrnoErrorNamesContext) {
  errno = ENOENT;
  absl::Status st = ErrnoError("openat(%s)", "/nope");
  EXPECT_TRUE(absl::IsNotFound(st));
  EXPECT_NE(std::string(st.message()).find("openat(/nope)"), std::string::npos);
}

}  // namespace
}  // namespace clonebot::base
