#include "trace/filter.h"

#include <sys/syscall.h>

#include "gtest/gtest.h"

namespace clonebot::trace {
namespace {

TEST(SyscallFilter, DefaultIsAll) {
  SyscallFilter f;
  EXPECT_TRUE(f.all());
  EXPECT_TRUE(f.Selected(SYS_getppid));
}

TEST(SyscallFilter, Names) {
  auto f = SyscallFilter::Parse({"trace=openat,close"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_FALSE(f->all());
  EXPECT_TRUE(f->Selected(SYS_openat));
  EXPECT_TRUE(f->Selected(SYS_close));
  EXPECT_FALSE(f->Selected(SYS_read));
  EXPECT_EQ(f->count(), 2u);
}

TEST(SyscallFilter, NegationAndClasses) {
  auto f = SyscallFilter::Parse({"!getppid"});
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->Selected(SYS_getppid));
  EXPECT_TRUE(f->Selected(SYS_read));

  auto file = SyscallFilter::Parse({"trace=%file"});
  ASSERT_TRUE(file.ok());
  EXPECT_TRUE(file->Selected(SYS_openat));
  EXPECT_TRUE(file->Selected(SYS_execve));
  EXPECT_FALSE(file->Selected(SYS_read));  // %desc, not %file

  auto net = SyscallFilter::Parse({"trace=%net"});
  ASSERT_TRUE(net.ok());
  EXPECT_TRUE(net->Selected(SYS_connect));
  EXPECT_FALSE(net->Selected(SYS_openat));

  auto mix = SyscallFilter::Parse({"trace=%process,%memory"});
  ASSERT_TRUE(mix.ok());
  EXPECT_TRUE(mix->Selected(SYS_clone));
  EXPECT_TRUE(mix->Selected(SYS_mmap));
  EXPECT_FALSE(mix->Selected(SYS_write));
}

TEST(SyscallFilter, Regex) {
  auto f = SyscallFilter::Parse({"trace=/^get.*pid$"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->Selected(SYS_getpid));
  EXPECT_TRUE(f->Selected(SYS_getppid));
  EXPECT_FALSE(f->Selected(SYS_getuid));
}

TEST(SyscallFilter, Errors) {
  EXPECT_FALSE(SyscallFilter::Parse({"trace=nosuchcall"}).ok());
  EXPECT_FALSE(SyscallFilter::Parse({"trace=%nosuchclass"}).ok());
  EXPECT_FALSE(SyscallFilter::Parse({"signal=all"}).ok());
  EXPECT_FALSE(SyscallFilter::Parse({"trace=/[unclosed"}).ok());
  auto opt = SyscallFilter::Parse({"trace=?nosuchcall,read"});
  ASSERT_TRUE(opt.ok());
  EXPECT_TRUE(opt->Selected(SYS_read));
}

TEST(SyscallFilter, SeccompPrefilterBuilds) {
  auto f = SyscallFilter::Parse({"trace=openat"});
  ASSERT_TRUE(f.ok());
  auto prog = f->BuildSeccompPrefilter();
  ASSERT_TRUE(prog.ok()) << prog.status();
  EXPECT_GT(prog->size(), 3u);   // arch check, nr load, compare, returns
  EXPECT_LT(prog->size(), 64u);
}

}  // namespace
}  // namespace clonebot::trace
