#include "snapshot/maps.h"

#include <gtest/gtest.h>

namespace clonebot::snapshot {
namespace {

TEST(ParseMaps, EveryKindOfLine) {
  const char* text =
      "55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1234567                    /usr/bin/cat\n"
      "55d0c1e3e000-55d0c1e5f000 rw-p 00000000 00:00 0                          [heap]\n"
      "7f12a0000000-7f12a0021000 rw-s 00000000 00:01 42                         /memfd:buf (deleted)\n"
      "7f12a0021000-7f12a4000000 ---p 00000000 00:00 0 \n"
      "7f12a4000000-7f12a4001000 rw-p 00000000 00:00 0\n"
      "7ffd3c1f0000-7ffd3c211000 rw-p 00000000 00:00 0                          [stack]\n"
      "7ffd3c3f2000-7ffd3c3f6000 r--p 00000000 00:00 0                          [vvar]\n"
      "7ffd3c3f6000-7ffd3c3f8000 r-xp 00000000 00:00 0                          [vdso]\n"
      "7f0000000000-7f0000001000 rw-p 00001000 08:02 99                         /tmp/a file with spaces\n"
      "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";
  auto maps = ParseMaps(text);
  ASSERT_TRUE(maps.ok()) << maps.status();
  ASSERT_EQ(maps->size(), 10u);
  const auto& m = *maps;
  EXPECT_EQ(m[0].start, 0x55d0c0a00000u);
  EXPECT_EQ(m[0].end, 0x55d0c0a02000u);
  EXPECT_EQ(m[0].path, "/usr/bin/cat");
  EXPECT_EQ(m[0].dev_major, 0xfdu);
  EXPECT_EQ(m[0].dev_minor, 1u);
  EXPECT_EQ(m[0].inode, 1234567u);
  EXPECT_EQ(m[1].path, "[heap]");
  EXPECT_TRUE(m[2].shared());
  EXPECT_TRUE(m[2].deleted);
  EXPECT_EQ(m[2].path, "/memfd:buf");
  EXPECT_EQ(m[2].DisplayName(), "/memfd:buf (deleted)");
  EXPECT_EQ(m[3].path, "");
  EXPECT_EQ(m[3].DisplayName(), "[anon]");
  EXPECT_FALSE(m[3].readable());
  EXPECT_EQ(m[4].pages(), 1u);
  EXPECT_EQ(m[8].path, "/tmp/a file with spaces");
  EXPECT_EQ(m[8].offset, 0x1000u);
  EXPECT_EQ(m[9].start, 0xffffffffff600000u);

  EXPECT_EQ(SkipReason(m[0]), "");
  EXPECT_EQ(SkipReason(m[1]), "");
  EXPECT_EQ(SkipReason(m[2]), "");
  EXPECT_NE(SkipReason(m[3]), "");  // guard
  EXPECT_NE(SkipReason(m[6]), "");  // vvar
  EXPECT_NE(SkipReason(m[7]), "");  // vdso
  EXPECT_NE(SkipReason(m[9]), "");  // vsyscall
}

TEST(ParseMaps, RejectsGarbage) {
  EXPECT_FALSE(ParseMaps("hello world\n").ok());
  EXPECT_FALSE(ParseMaps("2000-1000 rw-p 00000000 00:00 0\n").ok());  // end < start
  EXPECT_FALSE(ParseMaps("1000-2000 rw 00000000 00:00 0\n").ok());
  EXPECT_FALSE(ParseMaps("1000-2000 rw-p zz 00:00 0\n").ok());
  EXPECT_TRUE(ParseMaps("").ok());
}

TEST(ReadMaps, OwnProcessHasStackAndHeap) {
  auto maps = ReadMaps(getpid());
  ASSERT_TRUE(maps.ok()) << maps.status();
  bool stack = false;
  for (const auto& m : *maps) stack |= m.path == "[stack]";
  EXPECT_TRUE(stack);
}

}  // namespace
}  // namespace clonebot::snapshot
