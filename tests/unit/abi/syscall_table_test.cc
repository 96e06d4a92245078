// The generated syscall table: numbers, names and strace classes.
#include "abi/syscall_table.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace clonebot::abi {
namespace {

TEST(SyscallTable, X86NumbersMatchTheKernel) {
  ASSERT_NE(LookupSyscall(Arch::kX86_64, 0), nullptr);
  EXPECT_STREQ(LookupSyscall(Arch::kX86_64, 0)->name, "read");
  EXPECT_STREQ(LookupSyscall(Arch::kX86_64, 59)->name, "execve");
  EXPECT_STREQ(LookupSyscall(Arch::kX86_64, 257)->name, "openat");
  EXPECT_STREQ(LookupSyscall(Arch::kX86_64, 262)->name, "newfstatat");
  EXPECT_STREQ(LookupSyscall(Arch::kX86_64, 435)->name, "clone3");
  EXPECT_STREQ(LookupSyscall(Arch::kX86_64, 462)->name, "mseal");
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, 400), nullptr);   // reserved gap
  EXPECT_EQ(LookupSyscall(Arch::kX86_64, 100000), nullptr);
}

TEST(SyscallTable, Aarch64UsesGenericNumbers) {
  EXPECT_STREQ(LookupSyscall(Arch::kAarch64, 56)->name, "openat");
  EXPECT_STREQ(LookupSyscall(Arch::kAarch64, 63)->name, "read");
  EXPECT_STREQ(LookupSyscall(Arch::kAarch64, 221)->name, "execve");
  EXPECT_STREQ(LookupSyscall(Arch::kAarch64, 79)->name, "newfstatat");
  const SyscallDesc* open = LookupSyscall("open");
  ASSERT_NE(open, nullptr);
  EXPECT_FALSE(SyscallNumber(Arch::kAarch64, *open).has_value());
  EXPECT_EQ(SyscallNumber(Arch::kX86_64, *open), 2u);
  const SyscallDesc* fork = LookupSyscall("fork");
  ASSERT_NE(fork, nullptr);
  EXPECT_FALSE(SyscallNumber(Arch::kAarch64, *fork).has_value());
}

TEST(SyscallTable, NameLookupRoundTrips) {
  std::set<std::string> names;
  for (const SyscallDesc& d : AllSyscalls()) {
    EXPECT_TRUE(names.insert(d.name).second) << d.name;
    const SyscallDesc* byname = LookupSyscall(d.name);
    ASSERT_NE(byname, nullptr) << d.name;
    EXPECT_EQ(byname->id, d.id);
    EXPECT_LE(d.nargs, 6);
    for (Arch arch : {Arch::kX86_64, Arch::kAarch64}) {
      std::optional<uint32_t> nr = SyscallNumber(arch, d);
      if (nr) {
        EXPECT_LT(*nr, SyscallCount(arch));
        EXPECT_EQ(LookupSyscall(arch, *nr), &d) << d.name;
      }
    }
  }
  EXPECT_GT(names.size(), 370u);
  EXPECT_EQ(LookupSyscall("no_such_syscall"), nullptr);
  EXPECT_EQ(AllSyscalls()[LookupSyscall("openat")->id].name, std::string("openat"));
}

TEST(SyscallTable, StraceClasses) {
  EXPECT_EQ(SyscallClassByName("file"), kClassFile);
  EXPECT_EQ(SyscallClassByName("net"), kClassNetwork);
  EXPECT_EQ(SyscallClassByName("network"), kClassNetwork);
  EXPECT_EQ(SyscallClassByName("%stat"), kClassStatLike);
  EXPECT_EQ(SyscallClassByName("%statfs"), kClassStatfsLike);
  EXPECT_EQ(SyscallClassByName("pure"), kClassPure);
  EXPECT_FALSE(SyscallClassByName("nonsense").has_value());

  auto cls = [](const char* n) { return LookupSyscall(n)->classes; };
  EXPECT_EQ(cls("openat"), kClassFile | kClassDesc);
  EXPECT_EQ(cls("read"), kClassDesc);
  EXPECT_EQ(cls("mmap"), kClassDesc | kClassMemory);
  EXPECT_EQ(cls("execve"), kClassFile | kClassProcess);
  EXPECT_EQ(cls("newfstatat"), kClassDesc | kClassFile | kClassFstat | kClassStatLike);
  EXPECT_EQ(cls("stat"), kClassFile | kClassStat | kClassStatLike);
  EXPECT_EQ(cls("lstat"), kClassFile | kClassLstat | kClassStatLike);
  EXPECT_EQ(cls("statfs"), kClassFile | kClassStatfs | kClassStatfsLike);
  EXPECT_EQ(cls("fstatfs"), kClassDesc | kClassFstatfs | kClassStatfsLike);
  EXPECT_EQ(cls("getuid"), kClassCreds | kClassPure);
  EXPECT_EQ(cls("getpid"), kClassPure);
  EXPECT_EQ(cls("clock_gettime"), kClassClock);
  EXPECT_EQ(cls("kill"), kClassSignal | kClassProcess);
  EXPECT_EQ(cls("shmat"), kClassIpc | kClassMemory);
  EXPECT_EQ(cls("connect"), kClassNetwork);
  EXPECT_EQ(cls("sendfile"), kClassDesc | kClassNetwork);
  EXPECT_EQ(cls("futex"), 0u);
}

}  // namespace
}  // namespace clonebot::abi
