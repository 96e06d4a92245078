#include "base/file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace clonebot::base {
namespace {

TEST(ReadWholeFile, ReadsPastOneBufferExactly) {
  char path[] = "/tmp/cb-file-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string want;
  for (int i = 0; i < 200000; i++) want += static_cast<char>('a' + i % 26);
  ASSERT_EQ(write(fd, want.data(), want.size()), static_cast<ssize_t>(want.size()));
  close(fd);
  auto got = ReadWholeFile(path);
  unlink(path);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, want);
}

TEST(ReadWholeFile, ProcfsFileWithZeroSize) {
  auto got = ReadWholeFile("/proc/self/status");
  ASSERT_TRUE(got.has_value());
  EXPECT_NE(got->find("\nPid:\t"), std::string::npos);
}

TEST(ReadWholeFile, MissingFileOrDirectoryIsNullopt) {
  EXPECT_FALSE(ReadWholeFile("/nonexistent/clonebot/file").has_value());
  EXPECT_FALSE(ReadWholeFile("/tmp").has_value());  // open succeeds, read fails with EISDIR
}

}  // namespace
}  // namespace clonebot::base
