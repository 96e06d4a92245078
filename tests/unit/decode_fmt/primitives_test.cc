// Text primitive tests. Expected strings are copied from strace 6.1 (/usr/bin/strace) output of
// small C programs that made the same calls (write() of odd buffers, failing syscalls, open()
// flags); struct inputs for structs_test.cc were dumped as hex by those programs next to the
// strace log of the very same call.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "trace/decode/decode.h"
#include "trace/decode/primitives.h"

namespace clonebot::trace::decode {
namespace {

std::string Quote(std::string_view s, bool truncated = false) {
  std::string out;
  AppendQuoted(&out, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()),
               truncated);
  return out;
}

TEST(StraceQuote, EscapesLikeStrace) {
  // write(3, "hello\n\t\v\f\r\"\\x\1\22\177\200\377 end\0\1\2\3\4", 27)
  EXPECT_EQ(Quote(std::string_view("hello\n\t\v\f\r\"\\x\x01\x12\x7f\x80\xff end\0\1\2\3\4", 27)),
            R"("hello\n\t\v\f\r\"\\x\1\22\177\200\377 end\0\1\2\3\4")");
  EXPECT_EQ(Quote(std::string_view("\0\0\0\0x", 5)), R"("\0\0\0\0x")");
  EXPECT_EQ(Quote("\x1b[0m"), R"("\33[0m")");
  EXPECT_EQ(Quote(std::string_view("a\0b", 3)), R"("a\0b")");
  EXPECT_EQ(Quote("\xc3\xa9t\xc3\xa9"), R"("\303\251t\303\251")");
}

TEST(StraceQuote, ThreeOctalDigitsOnlyBeforeAnOctalDigit) {
  EXPECT_EQ(Quote(std::string_view("\0018\0019\0017x", 7)), R"("\18\19\0017x")");
  EXPECT_EQ(Quote(std::string_view("\377\0000", 3)), R"("\377\0000")");
  EXPECT_EQ(Quote("\x7f" "7"), R"("\1777")");
  EXPECT_EQ(Quote("\x1f" "1"), R"("\0371")");
}

TEST(StraceQuote, TruncatedGetsEllipsisAfterTheQuote) {
  // write(3, "abcdefghijklmnopqrstuvwxyz012345"..., 62) with the default -s 32
  EXPECT_EQ(Quote("abcdefghijklmnopqrstuvwxyz012345", true),
            R"("abcdefghijklmnopqrstuvwxyz012345"...)");
  EXPECT_EQ(Quote("", false), R"("")");
}

TEST(StraceErrors, ErrorReturnText) {
  std::string s;
  AppendErrorReturn(&s, -2);
  EXPECT_EQ(s, "-1 ENOENT (No such file or directory)");
  s.clear();
  AppendErrorReturn(&s, -111);
  EXPECT_EQ(s, "-1 ECONNREFUSED (Connection refused)");
  s.clear();
  AppendErrorReturn(&s, -101);
  EXPECT_EQ(s, "-1 ENETUNREACH (Network is unreachable)");
  s.clear();
  AppendErrorReturn(&s, -22);
  EXPECT_EQ(s, "-1 EINVAL (Invalid argument)");
  s.clear();
  AppendErrorReturn(&s, -11);
  EXPECT_EQ(s, "-1 EAGAIN (Resource temporarily unavailable)");
}

TEST(StraceErrors, RestartFamilyPrintsQuestionMark) {
  // Texts as hardcoded in strace 6.1's syscall.c.
  std::string s;
  AppendErrorReturn(&s, -512);
  EXPECT_EQ(s, "? ERESTARTSYS (To be restarted if SA_RESTART is set)");
  s.clear();
  AppendErrorReturn(&s, -513);
  EXPECT_EQ(s, "? ERESTARTNOINTR (To be restarted)");
  s.clear();
  AppendErrorReturn(&s, -514);
  EXPECT_EQ(s, "? ERESTARTNOHAND (To be restarted if no handler)");
  s.clear();
  AppendErrorReturn(&s, -516);
  EXPECT_EQ(s, "? ERESTART_RESTARTBLOCK (Interrupted by signal)");
}

TEST(StraceErrors, KernelInternalAndUnknown) {
  std::string s;
  AppendErrorReturn(&s, -515);
  EXPECT_EQ(s, "-1 ENOIOCTLCMD (Unknown error 515)");
  s.clear();
  AppendErrorReturn(&s, -4000);
  EXPECT_EQ(s, "-1 4000 (Unknown error 4000)");
  EXPECT_STREQ(ErrnoName(1), "EPERM");
  EXPECT_STREQ(ErrnoName(35), "EDEADLK");
  EXPECT_STREQ(ErrnoName(95), "EOPNOTSUPP");
  EXPECT_STREQ(ErrnoName(530), "ERECALLCONFLICT");
  EXPECT_EQ(ErrnoName(41), nullptr);
  EXPECT_EQ(ErrnoName(0), nullptr);
  EXPECT_STREQ(ErrnoMessage(4), "Interrupted system call");
  EXPECT_STREQ(ErrnoMessage(512), "To be restarted if SA_RESTART is set");
}

TEST(StraceSignals, Names) {
  EXPECT_EQ(SignalName(9), "SIGKILL");
  EXPECT_EQ(SignalName(17), "SIGCHLD");
  EXPECT_EQ(SignalName(31), "SIGSYS");
  EXPECT_EQ(SignalName(32), "SIGRTMIN");
  EXPECT_EQ(SignalName(36), "SIGRT_4");   // --- SIGRT_4 ... --- for sigqueue(SIGRTMIN+2)
  EXPECT_EQ(SignalName(64), "SIGRT_32");
  EXPECT_EQ(SignalName(65), "65");
  EXPECT_EQ(SignalName(0), "0");
}

TEST(StraceFlags, FlagsAndEnums) {
  std::string s;
  AppendOpenFlags(&s, 0);
  EXPECT_EQ(s, "O_RDONLY");
  s.clear();
  AppendOpenFlags(&s, 01 | 0100 | 01000);
  EXPECT_EQ(s, "O_WRONLY|O_CREAT|O_TRUNC");  // openat(..., O_WRONLY|O_CREAT|O_TRUNC, 0666)
  s.clear();
  AppendOpenFlags(&s, 0200000);
  EXPECT_EQ(s, "O_RDONLY|O_DIRECTORY");
  s.clear();
  AppendOpenFlags(&s, 02000000 | 02);
  EXPECT_EQ(s, "O_RDWR|O_CLOEXEC");
  s.clear();
  AppendFlags(&s, 0x3, kProtFlags, nullptr);
  EXPECT_EQ(s, "PROT_READ|PROT_WRITE");
  s.clear();
  AppendFlags(&s, 0, kProtFlags, nullptr);
  EXPECT_EQ(s, "PROT_NONE");
  s.clear();
  AppendFlags(&s, 0x20 | 0x40000000, kMsgFlags, nullptr);
  EXPECT_EQ(s, "MSG_TRUNC|MSG_CMSG_CLOEXEC");
  s.clear();
  AppendFlags(&s, 0x100 | 0x400000000, kAtFlags, nullptr);
  EXPECT_EQ(s, "AT_SYMLINK_NOFOLLOW|0x400000000");
  s.clear();
  AppendFlagsDflt(&s, 0x400000000, kAtFlags, "AT_???");
  EXPECT_EQ(s, "0x400000000 /* AT_??? */");
  s.clear();
  AppendEnum(&s, 0x66, kAddressFamilies, "AF_???");
  EXPECT_EQ(s, "0x66 /* AF_??? */");
  s.clear();
  AppendEnum(&s, 10, kAddressFamilies, "AF_???");
  EXPECT_EQ(s, "AF_INET6");
}

TEST(StraceNumbers, HexPtrMode) {
  std::string s;
  AppendHex(&s, 0);
  s += ' ';
  AppendHex(&s, 0x1f);
  s += ' ';
  AppendPtr(&s, 0);
  s += ' ';
  AppendPtr(&s, 0x7ffd12345678);
  s += ' ';
  AppendOctalMode(&s, 0644);
  s += ' ';
  AppendOctalMode(&s, 0);
  EXPECT_EQ(s, "0 0x1f NULL 0x7ffd12345678 0644 000");
}

}  // namespace
}  // namespace clonebot::trace::decode
