// Decode dispatch: capture (against a fake tracee) + decode must give strace 6.1's text.
// Expected strings are lines of real `strace -f` output (Debian 12, strace 6.1), with
// addresses replaced by the fake tracee's where strace prints an address.
#include <linux/futex.h>
#include <sys/syscall.h>

#include <cinttypes>
#include <cstdio>

#include "gtest/gtest.h"
#include "fake_tracee.h"
#include "trace/decode/decode.h"

namespace clonebot::trace::decode {
namespace {

using fake::Call;
using fake::CaptureAndDecode;
using fake::FakeMemory;
using fake::Strace;

constexpr uint64_t kAtFdcwd = static_cast<uint64_t>(-100);
uint64_t Neg(int64_t v) { return static_cast<uint64_t>(v); }

std::string Hex(uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "%#" PRIx64, v);
  return b;
}

TEST(DecodeFiles, OpenatReadOnly) {
  FakeMemory m;
  uint64_t path = m.PutStr("/etc/ld.so.cache");
  EXPECT_EQ(Strace(m, {SYS_openat, {kAtFdcwd, path, 02000000, 0}, 3}),
            "openat(AT_FDCWD, \"/etc/ld.so.cache\", O_RDONLY|O_CLOEXEC) = 3");
}

TEST(DecodeFiles, OpenatCreatPrintsMode) {
  FakeMemory m;
  uint64_t path = m.PutStr("/tmp/h1/x/lk");
  EXPECT_EQ(Strace(m, {SYS_openat, {kAtFdcwd, path, 0102, 0600}, 8}),
            "openat(AT_FDCWD, \"/tmp/h1/x/lk\", O_RDWR|O_CREAT, 0600) = 8");
}

TEST(DecodeFiles, OpenatEnoent) {
  FakeMemory m;
  uint64_t path = m.PutStr("/usr/lib/locale/locale-archive");
  EXPECT_EQ(Strace(m, {SYS_openat, {kAtFdcwd, path, 02000000, 0}, -2}),
            "openat(AT_FDCWD, \"/usr/lib/locale/locale-archive\", O_RDONLY|O_CLOEXEC) = -1 "
            "ENOENT (No such file or directory)");
}

TEST(DecodeFiles, ReadElfHeaderTruncatedAtStrsize) {
  FakeMemory m;
  uint8_t elf[832] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  elf[16] = 3;
  elf[18] = '>';
  elf[20] = 1;
  uint64_t buf = m.Put(elf, sizeof elf);
  Decoded d = CaptureAndDecode(m, {SYS_read, {3, buf, 832}, 832});
  EXPECT_EQ(fake::Line(abi::Arch::kX86_64, SYS_read, d),
            "read(3, \"\\177ELF\\2\\1\\1\\0\\0\\0\\0\\0\\0\\0\\0\\0\\3\\0>\\0\\1\\0\\0\\0\\0\\0\\0\\0"
            "\\0\\0\\0\\0\"..., 832) = 832");
  EXPECT_EQ(d.entry_args, 1u);
}

TEST(DecodeFiles, PreadEofPrintsEmptyString) {
  FakeMemory m;
  uint64_t buf = m.Put("xxxxxxxxxx", 10);
  EXPECT_EQ(Strace(m, {SYS_pread64, {8, buf, 10, 0}, 0}), "pread64(8, \"\", 10, 0) = 0");
}

TEST(DecodeFiles, ReadUnfinishedPrintsOnlyFd) {
  FakeMemory m;
  uint64_t buf = m.Put("xxxx", 4);
  Call c{SYS_read, {0, buf, 4}};
  c.has_exit = false;
  Decoded d = CaptureAndDecode(m, c);
  EXPECT_EQ(d.entry_args, 1u);
  EXPECT_EQ(d.args[0], "0");
  EXPECT_EQ(d.ret, "?");
}

TEST(DecodeFiles, WriteBuffer) {
  FakeMemory m;
  uint64_t buf = m.Put("/usr/bin/readlink\n", 18);
  EXPECT_EQ(Strace(m, {SYS_write, {1, buf, 18}, 18}), "write(1, \"/usr/bin/readlink\\n\", 18) = 18");
}

TEST(DecodeFiles, FailedOutStructPrintsAddress) {
  FakeMemory m;
  uint64_t path = m.PutStr("/root/.cargo/bin/bash");
  EXPECT_EQ(Strace(m, {SYS_newfstatat, {kAtFdcwd, path, 0x7fff32d519f0, 0}, -2}),
            "newfstatat(AT_FDCWD, \"/root/.cargo/bin/bash\", 0x7fff32d519f0, 0) = -1 ENOENT (No "
            "such file or directory)");
}

TEST(DecodeFiles, Readlink) {
  FakeMemory m;
  uint64_t path = m.PutStr("/sbin");
  uint64_t buf = m.Put("usr/sbin\0", 9);
  EXPECT_EQ(Strace(m, {SYS_readlink, {path, buf, 9}, 8}), "readlink(\"/sbin\", \"usr/sbin\", 9) = 8");
}

TEST(DecodeFiles, AccessAndFaccessat2) {
  FakeMemory m;
  uint64_t p1 = m.PutStr("/etc/ld.so.preload");
  EXPECT_EQ(Strace(m, {SYS_access, {p1, 4}, -2}),
            "access(\"/etc/ld.so.preload\", R_OK) = -1 ENOENT (No such file or directory)");
  uint64_t p2 = m.PutStr("/etc/selinux/config");
  EXPECT_EQ(Strace(m, {SYS_access, {p2, 0}, -2}),
            "access(\"/etc/selinux/config\", F_OK) = -1 ENOENT (No such file or directory)");
  uint64_t p3 = m.PutStr("/usr/bin/python3");
  EXPECT_EQ(Strace(m, {439, {kAtFdcwd, p3, 1, 0x200}, 0}),
            "faccessat2(AT_FDCWD, \"/usr/bin/python3\", X_OK, AT_EACCESS) = 0");
}

TEST(DecodeFiles, LseekWhence) {
  FakeMemory m;
  EXPECT_EQ(Strace(m, {SYS_lseek, {3, Neg(-60), 1}, 54}), "lseek(3, -60, SEEK_CUR) = 54");
}

TEST(DecodeFiles, Getcwd) {
  FakeMemory m;
  uint64_t buf = m.Put("/tmp/h1/x\0zzzz", 14);
  EXPECT_EQ(Strace(m, {SYS_getcwd, {buf, 256}, 10}), "getcwd(\"/tmp/h1/x\", 256) = 10");
}

TEST(DecodeFiles, Getdents64CountsEntries) {
  FakeMemory m;
  // Three records of 24 bytes: d_ino(8) d_off(8) d_reclen(2) d_type(1) name.
  uint8_t buf[72] = {};
  for (int i = 0; i < 3; ++i) {
    buf[i * 24 + 16] = 24;
    buf[i * 24 + 19] = 'a';
  }
  uint64_t addr = m.Put(buf, sizeof buf);
  EXPECT_EQ(Strace(m, {SYS_getdents64, {3, addr, 32768}, 72}),
            "getdents64(3, " + Hex(addr) + " /* 3 entries */, 32768) = 72");
  EXPECT_EQ(Strace(m, {SYS_getdents64, {3, addr, 32768}, 0}),
            "getdents64(3, " + Hex(addr) + " /* 0 entries */, 32768) = 0");
}

TEST(DecodeFiles, Umask) {
  FakeMemory m;
  EXPECT_EQ(Strace(m, {SYS_umask, {022}, 022}), "umask(022) = 022");
  EXPECT_EQ(Strace(m, {SYS_umask, {0}, 022}), "umask(000) = 022");
}

TEST(DecodeFiles, Pipe2AndDup) {
  FakeMemory m;
  int32_t fds[2] = {0, 0};
  uint64_t p = m.PutObj(fds);
  Call c{SYS_pipe2, {p, 0}, 0};
  c.kernel = [p](FakeMemory& mem) { mem.Write(p, uint64_t{3} | (uint64_t{4} << 32)); };
  Decoded d = CaptureAndDecode(m, c);
  EXPECT_EQ(fake::Line(abi::Arch::kX86_64, SYS_pipe2, d), "pipe2([3, 4], 0) = 0");
  EXPECT_EQ(d.entry_args, 0u);
  EXPECT_EQ(Strace(m, {SYS_dup2, {3, 255}, 255}), "dup2(3, 255) = 255");
  EXPECT_EQ(Strace(m, {SYS_dup3, {8, 20, 02000000}, 20}), "dup3(8, 20, O_CLOEXEC) = 20");
}

TEST(DecodeFiles, FcntlShapes) {
  FakeMemory m;
  EXPECT_EQ(Strace(m, {SYS_fcntl, {255, 1}, -9}), "fcntl(255, F_GETFD) = -1 EBADF (Bad file descriptor)");
  EXPECT_EQ(Strace(m, {SYS_fcntl, {255, 2, 1}, 0}), "fcntl(255, F_SETFD, FD_CLOEXEC) = 0");
  EXPECT_EQ(Strace(m, {SYS_fcntl, {255, 3}, 0x8000}), "fcntl(255, F_GETFL) = 0x8000 (flags O_RDONLY|O_LARGEFILE)");
  EXPECT_EQ(Strace(m, {SYS_fcntl, {6, 1}, 1}), "fcntl(6, F_GETFD) = 0x1 (flags FD_CLOEXEC)");
  EXPECT_EQ(Strace(m, {SYS_fcntl, {6, 1030, 10}, 11}), "fcntl(6, F_DUPFD_CLOEXEC, 10) = 11");
  EXPECT_EQ(Strace(m, {SYS_fcntl, {6, 4, 04002}, 0}), "fcntl(6, F_SETFL, O_RDWR|O_NONBLOCK) = 0");
  struct {
    int16_t type, whence;
    int32_t pad;
    int64_t start, len;
    int32_t pid, pad2;
  } fl = {0, 0, 0, 0, 0, 0, 0};
  uint64_t p = m.PutObj(fl);
  EXPECT_EQ(Strace(m, {SYS_fcntl, {8, 6, p}, 0}),
            "fcntl(8, F_SETLK, {l_type=F_RDLCK, l_whence=SEEK_SET, l_start=0, l_len=0}) = 0");
  Call g{SYS_fcntl, {8, 5, p}, 0};
  g.kernel = [p](FakeMemory& mem) { mem.Write(p, int16_t{2}); };
  EXPECT_EQ(Strace(m, g),
            "fcntl(8, F_GETLK, {l_type=F_UNLCK, l_whence=SEEK_SET, l_start=0, l_len=0, "
            "l_pid=0}) = 0");
}

TEST(DecodeFiles, IoctlShapes) {
  FakeMemory m;
  EXPECT_EQ(Strace(m, {SYS_ioctl, {1, 0x5401, 0x7ffdc4180b70}, -25}),
            "ioctl(1, TCGETS, 0x7ffdc4180b70) = -1 ENOTTY (Inappropriate ioctl for device)");
  int32_t n = 0;
  uint64_t p = m.PutObj(n);
  Call c{SYS_ioctl, {3, 0x541B, p}, 0};
  c.kernel = [p](FakeMemory& mem) { mem.Write(p, int32_t{1}); };
  EXPECT_EQ(Strace(m, c), "ioctl(3, FIONREAD, [1]) = 0");
  EXPECT_EQ(Strace(m, {SYS_ioctl, {3, 0x12345678, 0}, -25}),
            "ioctl(3, _IOC(_IOC_NONE, 0x56, 0x78, 0x1234), 0) = -1 ENOTTY (Inappropriate ioctl "
            "for device)");
  EXPECT_EQ(Strace(m, {SYS_ioctl, {3, 0x5451}, 0}), "ioctl(3, FIOCLEX) = 0");
  EXPECT_EQ(Strace(m, {SYS_ioctl, {4, 0x5402, 0x7ffd0000}, -14}),
            "ioctl(4, SNDCTL_TMR_START or TCSETS, 0x7ffd0000) = -1 EFAULT (Bad address)");
}

TEST(DecodeMemory, MmapBrkMunmap) {
  FakeMemory m;
  EXPECT_EQ(Strace(m, {SYS_mmap, {0, 8192, 3, 0x22, Neg(-1), 0}, 0x7fec3f074000}),
            "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = "
            "0x7fec3f074000");
  EXPECT_EQ(Strace(m, {SYS_mmap, {0, 186064, 1, 0x802, 3, 0}, 0x7fec3f03b000}),
            "mmap(NULL, 186064, PROT_READ, MAP_PRIVATE|MAP_DENYWRITE, 3, 0) = 0x7fec3f03b000");
  EXPECT_EQ(Strace(m, {SYS_brk, {0}, 0x55e873cb9000}), "brk(NULL) = 0x55e873cb9000");
  EXPECT_EQ(Strace(m, {SYS_munmap, {0x7fec3f069000, 41491}, 0}), "munmap(0x7fec3f069000, 41491) = 0");
  EXPECT_EQ(Strace(m, {SYS_mprotect, {0x7fec3f028000, 16384, 1}, 0}),
            "mprotect(0x7fec3f028000, 16384, PROT_READ) = 0");
}

TEST(DecodeProcess, ExecveArgvAndEnvCount) {
  FakeMemory m;
  uint64_t path = m.PutStr("/usr/bin/ls");
  uint64_t s0 = m.PutStr("ls"), s1 = m.PutStr("-l"), s2 = m.PutStr("/");
  uint64_t argv[] = {s0, s1, s2, 0};
  uint64_t av = m.PutObj(argv);
  uint64_t envp[38] = {};
  for (int i = 0; i < 37; ++i) envp[i] = s0;
  uint64_t ev = m.PutObj(envp);
  Decoded d = CaptureAndDecode(m, {SYS_execve, {path, av, ev}, 0});
  EXPECT_EQ(fake::Line(abi::Arch::kX86_64, SYS_execve, d),
            "execve(\"/usr/bin/ls\", [\"ls\", \"-l\", \"/\"], " + Hex(ev) + " /* 37 vars */) = 0");
  EXPECT_EQ(d.entry_args, 3u);
}

TEST(DecodeProcess, ExecveArgvAbbreviatedAfterStrsizeItems) {
  FakeMemory m;
  uint64_t path = m.PutStr("/bin/true");
  uint64_t a = m.PutStr("a");
  uint64_t argv[36];
  for (int i = 0; i < 35; ++i) argv[i] = a;
  argv[0] = path;
  argv[35] = 0;
  uint64_t av = m.PutObj(argv);
  uint64_t envp[1] = {0};
  uint64_t ev = m.PutObj(envp);
  std::string expect = "execve(\"/bin/true\", [\"/bin/true\"";
  for (int i = 1; i < 32; ++i) expect += ", \"a\"";
  expect += ", ...], " + Hex(ev) + " /* 0 vars */) = 0";
  EXPECT_EQ(Strace(m, {SYS_execve, {path, av, ev}, 0}), expect);
}

TEST(DecodeProcess, CloneForkLike) {
  FakeMemory m;
  Decoded d = CaptureAndDecode(m, {SYS_clone, {0x01200011, 0, 0, 0x7fefaa58ea10, 0}, 4299});
  EXPECT_EQ(fake::Line(abi::Arch::kX86_64, SYS_clone, d),
            "clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, "
            "child_tidptr=0x7fefaa58ea10) = 4299");
  EXPECT_EQ(d.entry_args, 2u);
  EXPECT_TRUE(d.sep_on_resume);
}

TEST(DecodeProcess, Wait4Statuses) {
  FakeMemory m;
  int32_t st = 0;
  uint64_t p = m.PutObj(st);
  Call c{SYS_wait4, {Neg(-1), p, 1, 0}, 4299};
  EXPECT_EQ(Strace(m, c), "wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], WNOHANG, NULL) = 4299");
  Call k{SYS_wait4, {6214, p, 0, 0}, 6214};
  k.kernel = [p](FakeMemory& mem) { mem.Write(p, int32_t{9}); };
  EXPECT_EQ(Strace(m, k),
            "wait4(6214, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}], 0, NULL) = 6214");
  EXPECT_EQ(Strace(m, {SYS_wait4, {Neg(-1), 0x7fff3b0481d0, 1, 0}, -10}),
            "wait4(-1, 0x7fff3b0481d0, WNOHANG, NULL) = -1 ECHILD (No child processes)");
}

TEST(DecodeProcess, ExitGroupNeverReturns) {
  FakeMemory m;
  Call c{SYS_exit_group, {0}};
  c.has_exit = false;
  EXPECT_EQ(Strace(m, c), "exit_group(0) = ?");
}

TEST(DecodeProcess, SmallOnes) {
  FakeMemory m;
  EXPECT_EQ(Strace(m, {SYS_set_robust_list, {0x7fec3edbcae0, 24}, 0}),
            "set_robust_list(0x7fec3edbcae0, 24) = 0");
  EXPECT_EQ(Strace(m, {SYS_rseq, {0x7fec3edbd120, 0x20, 0, 0x53053053}, 0}),
            "rseq(0x7fec3edbd120, 0x20, 0, 0x53053053) = 0");
  EXPECT_EQ(Strace(m, {SYS_arch_prctl, {0x1002, 0x7fec3edbc800}, 0}),
            "arch_prctl(ARCH_SET_FS, 0x7fec3edbc800) = 0");
  EXPECT_EQ(Strace(m, {SYS_arch_prctl, {0x3001, 0x7ffc1b9f3340}, -22}),
            "arch_prctl(0x3001 /* ARCH_??? */, 0x7ffc1b9f3340) = -1 EINVAL (Invalid argument)");
  EXPECT_EQ(Strace(m, {SYS_set_tid_address, {0x7fec3edbcad0}, 4294}),
            "set_tid_address(0x7fec3edbcad0) = 4294");
  EXPECT_EQ(Strace(m, {SYS_getpid, {}, 6213}), "getpid() = 6213");
  EXPECT_EQ(Strace(m, {SYS_tgkill, {6213, 6213, 10}, 0}), "tgkill(6213, 6213, SIGUSR1) = 0");
  EXPECT_EQ(Strace(m, {SYS_kill, {6214, 9}, 0}), "kill(6214, SIGKILL) = 0");
  EXPECT_EQ(Strace(m, {SYS_alarm, {0}, 0}), "alarm(0) = 0");
  EXPECT_EQ(Strace(m, {SYS_sched_yield, {}, 0}), "sched_yield() = 0");
}

TEST(DecodeProcess, FutexShapes) {
  FakeMemory m;
  EXPECT_EQ(Strace(m, {SYS_futex, {0x7fec3f02da4c, 129, 2147483647}, 0}),
            "futex(0x7fec3f02da4c, FUTEX_WAKE_PRIVATE, 2147483647) = 0");
  EXPECT_EQ(Strace(m, {SYS_futex, {0x7ffe7d67475c, 138, 1, 0, 0, 0xffffffff}, 0}),
            "futex(0x7ffe7d67475c, FUTEX_WAKE_BITSET_PRIVATE, 1, FUTEX_BITSET_MATCH_ANY) = 0");
  int64_t ts[2] = {0, 0};
  uint64_t t = m.PutObj(ts);
  EXPECT_EQ(Strace(m, {SYS_futex, {0x7ffe7d67475c, 0x109, 0, t, 0, 0xffffffff}, -110}),
            "futex(0x7ffe7d67475c, FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME, 0, {tv_sec=0, "
            "tv_nsec=0}, FUTEX_BITSET_MATCH_ANY) = -1 ETIMEDOUT (Connection timed out)");
  EXPECT_EQ(Strace(m, {SYS_futex, {0x7ffe7d67475c, 0, 1, t}, -11}),
            "futex(0x7ffe7d67475c, FUTEX_WAIT, 1, {tv_sec=0, tv_nsec=0}) = -1 EAGAIN (Resource "
            "temporarily unavailable)");
}

TEST(DecodeProcess, GetrandomIsHex) {
  FakeMemory m;
  uint8_t b[8] = {0xd1, 0x0d, 0xc9, 0x7f, 0xd3, 0x51, 0x26, 0x28};
  uint64_t p = m.PutObj(b);
  EXPECT_EQ(Strace(m, {SYS_getrandom, {p, 8, 1}, 8}),
            "getrandom(\"\\xd1\\x0d\\xc9\\x7f\\xd3\\x51\\x26\\x28\", 8, GRND_NONBLOCK) = 8");
}

TEST(DecodeProcess, SchedGetaffinityAndPrctl) {
  FakeMemory m;
  uint8_t mask[128] = {3};
  uint64_t p = m.PutObj(mask);
  EXPECT_EQ(Strace(m, {SYS_sched_getaffinity, {0, 128, p}, 32}),
            "sched_getaffinity(0, 128, [0 1]) = 32");
  uint64_t name = m.PutStr("hello");
  EXPECT_EQ(Strace(m, {SYS_prctl, {15, name}, 0}), "prctl(PR_SET_NAME, \"hello\") = 0");
  EXPECT_EQ(Strace(m, {SYS_prctl, {3}, 1}), "prctl(PR_GET_DUMPABLE) = 1 (SUID_DUMP_USER)");
}

TEST(DecodeProcess, Times) {
  FakeMemory m;
  uint64_t t[4] = {0, 0, 0, 0};
  uint64_t p = m.PutObj(t);
  EXPECT_EQ(Strace(m, {SYS_times, {p}, 1718018565}),
            "times({tms_utime=0, tms_stime=0, tms_cutime=0, tms_cstime=0}) = 1718018565");
}

TEST(DecodeSignals, Sigprocmask) {
  FakeMemory m;
  uint64_t set = uint64_t{1} << (15 - 1);  // SIGTERM
  uint64_t p = m.PutObj(set);
  EXPECT_EQ(Strace(m, {SYS_rt_sigprocmask, {0, p, 0, 8}, 0}),
            "rt_sigprocmask(SIG_BLOCK, [TERM], NULL, 8) = 0");
  uint64_t empty = 0;
  uint64_t q = m.PutObj(empty);
  EXPECT_EQ(Strace(m, {SYS_rt_sigprocmask, {0, 0, q, 8}, 0}),
            "rt_sigprocmask(SIG_BLOCK, NULL, [], 8) = 0");
}

TEST(DecodeSignals, SigreturnReadsMaskFromFrame) {
  FakeMemory m;
  uint8_t frame[512] = {};
  frame[0x128] = 2;  // SIGINT
  uint64_t sp = m.Put(frame, sizeof frame);
  Call c{SYS_rt_sigreturn, {}, 0};
  c.sp = sp;
  EXPECT_EQ(Strace(m, c), "rt_sigreturn({mask=[INT]}) = 0");
}

TEST(DecodePolling, Poll) {
  FakeMemory m;
  struct PollFd {
    int32_t fd;
    int16_t events, revents;
  } p[2] = {{3, 1, 0}, {4, 4, 0}};
  uint64_t a = m.PutObj(p);
  Call c{SYS_poll, {a, 2, 0}, 1};
  c.kernel = [a](FakeMemory& mem) { mem.Write(a + 8 + 6, int16_t{4}); };
  EXPECT_EQ(Strace(m, c),
            "poll([{fd=3, events=POLLIN}, {fd=4, events=POLLOUT}], 2, 0) = 1 ([{fd=4, "
            "revents=POLLOUT}])");
  EXPECT_EQ(Strace(m, {SYS_poll, {a, 1, 0}, 0}), "poll([{fd=3, events=POLLIN}], 1, 0) = 0 (Timeout)");
}

TEST(DecodePolling, Pselect6) {
  FakeMemory m;
  uint64_t set = (1u << 3) | (1u << 4);
  uint64_t r = m.PutObj(set);
  int64_t ts[2] = {0, 0};
  uint64_t t = m.PutObj(ts);
  Call c{SYS_pselect6, {5, r, 0, 0, t, 0}, 0};
  EXPECT_EQ(Strace(m, c), "pselect6(5, [3 4], NULL, NULL, {tv_sec=0, tv_nsec=0}, NULL) = 0 (Timeout)");
}

TEST(DecodePolling, Epoll) {
  FakeMemory m;
  EXPECT_EQ(Strace(m, {SYS_epoll_create1, {02000000}, 9}), "epoll_create1(EPOLL_CLOEXEC) = 9");
  uint8_t ev[12] = {0x01, 0, 0, 0x80, 7};
  uint64_t e = m.PutObj(ev);
  EXPECT_EQ(Strace(m, {SYS_epoll_ctl, {9, 1, 3, e}, 0}),
            "epoll_ctl(9, EPOLL_CTL_ADD, 3, {events=EPOLLIN|EPOLLET, data={u32=7, u64=7}}) = 0");
  uint8_t out[48] = {0x01, 0, 0, 0, 7};
  uint64_t o = m.PutObj(out);
  EXPECT_EQ(Strace(m, {SYS_epoll_wait, {9, o, 4, 0}, 1}),
            "epoll_wait(9, [{events=EPOLLIN, data={u32=7, u64=7}}], 4, 0) = 1");
  EXPECT_EQ(Strace(m, {SYS_epoll_pwait, {9, o, 4, 0, 0, 8}, 0}),
            "epoll_pwait(9, [], 4, 0, NULL, 8) = 0");
  EXPECT_EQ(Strace(m, {SYS_eventfd2, {3, 02004000}, 12}), "eventfd2(3, EFD_CLOEXEC|EFD_NONBLOCK) = 12");
  EXPECT_EQ(Strace(m, {SYS_timerfd_create, {1, 02000000}, 13}),
            "timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC) = 13");
}

TEST(DecodeNet, SocketConnectBind) {
  FakeMemory m;
  EXPECT_EQ(Strace(m, {SYS_socket, {1, 0x80801, 0}, 3}),
            "socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = 3");
  EXPECT_EQ(Strace(m, {SYS_socket, {2, 1, 0}, 5}), "socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 5");
  EXPECT_EQ(Strace(m, {SYS_socket, {2, 0x80001, 6}, 6}),
            "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP) = 6");
  uint8_t sun[110] = {1, 0};
  std::memcpy(sun + 2, "/var/run/nscd/socket", 21);
  uint64_t a = m.PutObj(sun);
  EXPECT_EQ(Strace(m, {SYS_connect, {3, a, 110}, -2}),
            "connect(3, {sa_family=AF_UNIX, sun_path=\"/var/run/nscd/socket\"}, 110) = -1 ENOENT "
            "(No such file or directory)");
  EXPECT_EQ(Strace(m, {SYS_listen, {5, 5}, 0}), "listen(5, 5) = 0");
  EXPECT_EQ(Strace(m, {SYS_shutdown, {6, 1}, 0}), "shutdown(6, SHUT_WR) = 0");
}

TEST(DecodeNet, GetsocknameLenInOut) {
  FakeMemory m;
  uint8_t sin[128] = {2, 0, 0xa0, 0x4b, 127, 0, 0, 1};
  uint64_t a = m.PutObj(sin);
  uint32_t len = 128;
  uint64_t l = m.PutObj(len);
  Call c{SYS_getsockname, {5, a, l}, 0};
  c.kernel = [l](FakeMemory& mem) { mem.Write(l, uint32_t{16}); };
  Decoded d = CaptureAndDecode(m, c);
  EXPECT_EQ(fake::Line(abi::Arch::kX86_64, SYS_getsockname, d),
            "getsockname(5, {sa_family=AF_INET, sin_port=htons(41035), "
            "sin_addr=inet_addr(\"127.0.0.1\")}, [128 => 16]) = 0");
  EXPECT_EQ(d.entry_args, 1u);
}

TEST(DecodeNet, SendtoRecvfromSockopt) {
  FakeMemory m;
  uint64_t b = m.Put("ping", 4);
  EXPECT_EQ(Strace(m, {SYS_sendto, {6, b, 4, 0x4000, 0, 0}, 4}),
            "sendto(6, \"ping\", 4, MSG_NOSIGNAL, NULL, 0) = 4");
  EXPECT_EQ(Strace(m, {SYS_recvfrom, {7, b, 64, 0, 0, 0}, 4}),
            "recvfrom(7, \"ping\", 64, 0, NULL, NULL) = 4");
  int32_t one = 1;
  uint64_t o = m.PutObj(one);
  EXPECT_EQ(Strace(m, {SYS_setsockopt, {5, 1, 2, o, 4}, 0}),
            "setsockopt(5, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0");
  uint32_t four = 4;
  uint64_t l = m.PutObj(four);
  EXPECT_EQ(Strace(m, {SYS_getsockopt, {5, 1, 3, o, l}, 0}),
            "getsockopt(5, SOL_SOCKET, SO_TYPE, [1], [4]) = 0");
  uint32_t len256 = 256;
  uint64_t l2 = m.PutObj(len256);
  Call g{SYS_getsockopt, {4, 1, 7, o, l2}, 0};
  g.kernel = [l2](FakeMemory& mem) { mem.Write(l2, uint32_t{4}); };
  EXPECT_EQ(Strace(m, g), "getsockopt(4, SOL_SOCKET, SO_SNDBUF, [1], [256 => 4]) = 0");
}

TEST(DecodeNet, SendmsgRecvmsg) {
  FakeMemory m;
  uint64_t data = m.Put("msg", 3);
  uint64_t iov[2] = {data, 3};
  uint64_t iv = m.PutObj(iov);
  uint64_t hdr[7] = {0, 0, iv, 1, 0, 0, 0};
  uint64_t h = m.PutObj(hdr);
  EXPECT_EQ(Strace(m, {SYS_sendmsg, {6, h, 0}, 3}),
            "sendmsg(6, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=\"msg\", iov_len=3}], "
            "msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 3");
  uint8_t big[64] = {'m', 's', 'g'};
  uint64_t rb = m.PutObj(big);
  uint64_t riov[2] = {rb, 64};
  uint64_t riv = m.PutObj(riov);
  uint64_t rhdr[7] = {0, 0, riv, 1, 0, 0, 0};
  uint64_t rh = m.PutObj(rhdr);
  Decoded d = CaptureAndDecode(m, {SYS_recvmsg, {7, rh, 0}, 3});
  EXPECT_EQ(fake::Line(abi::Arch::kX86_64, SYS_recvmsg, d),
            "recvmsg(7, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=\"msg\", iov_len=64}], "
            "msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 3");
  EXPECT_EQ(d.entry_args, 1u);
}

TEST(DecodeFiles, WritevReadv) {
  FakeMemory m;
  uint64_t h = m.Put("hello", 5), n = m.Put("\n", 1);
  uint64_t iov[4] = {h, 5, n, 1};
  uint64_t iv = m.PutObj(iov);
  EXPECT_EQ(Strace(m, {SYS_writev, {4, iv, 2}, 6}),
            "writev(4, [{iov_base=\"hello\", iov_len=5}, {iov_base=\"\\n\", iov_len=1}], 2) = 6");
  uint64_t a = m.Put("hel", 3), b = m.Put("lo\nxxxxxxx", 10);
  uint64_t riov[4] = {a, 3, b, 10};
  uint64_t rv = m.PutObj(riov);
  EXPECT_EQ(Strace(m, {SYS_readv, {3, rv, 2}, 6}),
            "readv(3, [{iov_base=\"hel\", iov_len=3}, {iov_base=\"lo\\n\", iov_len=10}], 2) = 6");
}

TEST(DecodeTime, ClockNanosleepAndUtimensat) {
  FakeMemory m;
  int64_t ts[2] = {0, 1000};
  uint64_t t = m.PutObj(ts);
  EXPECT_EQ(Strace(m, {SYS_clock_nanosleep, {1, 0, t, 0}, 0}),
            "clock_nanosleep(CLOCK_MONOTONIC, 0, {tv_sec=0, tv_nsec=1000}, NULL) = 0");
  int64_t left[2] = {0, 0};
  uint64_t lp = m.PutObj(left);
  Call c{SYS_clock_nanosleep, {0, 0, t, lp}, -516};
  c.kernel = [lp](FakeMemory& mem) { mem.Write(lp + 8, int64_t{999}); };
  Decoded d = CaptureAndDecode(m, c);
  EXPECT_EQ(d.entry_args, 3u);
  EXPECT_EQ(d.args[3], "{tv_sec=0, tv_nsec=999}");
  EXPECT_EQ(Strace(m, {SYS_nanosleep, {t, lp}, 0}),
            "nanosleep({tv_sec=0, tv_nsec=1000}, " + Hex(lp) + ") = 0");
  uint64_t path = m.PutStr("/tmp/h1/x/lk");
  EXPECT_EQ(Strace(m, {SYS_utimensat, {kAtFdcwd, path, 0, 0}, 0}),
            "utimensat(AT_FDCWD, \"/tmp/h1/x/lk\", NULL, 0) = 0");
  int64_t tt[4] = {0, (1 << 30) - 1, 1, (1 << 30) - 2};
  uint64_t tp = m.PutObj(tt);
  EXPECT_EQ(Strace(m, {SYS_utimensat, {kAtFdcwd, path, tp, 0x100}, 0}),
            "utimensat(AT_FDCWD, \"/tmp/h1/x/lk\", [UTIME_NOW, UTIME_OMIT], AT_SYMLINK_NOFOLLOW) = 0");
}

TEST(DecodeRaw, UnknownToStraceIsRawHex) {
  FakeMemory m;
  EXPECT_EQ(SyscallName(abi::Arch::kX86_64, 462), "syscall_0x1ce");
  EXPECT_EQ(Strace(m, {462, {1, 2, 3, 0, 8, 0x7f50554762e0}, -22}),
            "syscall_0x1ce(0x1, 0x2, 0x3, 0, 0x8, 0x7f50554762e0) = -1 EINVAL (Invalid argument)");
  EXPECT_EQ(Strace(m, {500, {1, 2, 0xffffffffffffff80, 8, 0x7f50554762e0, 0x7f50554762e0}, -38}),
            "syscall_0x1f4(0x1, 0x2, 0xffffffffffffff80, 0x8, 0x7f50554762e0, 0x7f50554762e0) = "
            "-1 ENOSYS (Function not implemented)");
}

TEST(DecodeRaw, Aarch64NumbersUseTheSameDecoders) {
  FakeMemory m;
  uint64_t path = m.PutStr("/etc/ld.so.cache");
  Decoded d = CaptureAndDecode(m, {56, {kAtFdcwd, path, 02000000, 0}, 3}, abi::Arch::kAarch64);
  EXPECT_EQ(fake::Line(abi::Arch::kAarch64, 56, d),
            "openat(AT_FDCWD, \"/etc/ld.so.cache\", O_RDONLY|O_CLOEXEC) = 3");
}

TEST(DecodeRobustness, FaultsPrintAddresses) {
  FakeMemory m;
  // Unmapped path pointer: strace prints the address.
  EXPECT_EQ(Strace(m, {SYS_openat, {kAtFdcwd, 0x1234, 0, 0}, -14}),
            "openat(AT_FDCWD, 0x1234, O_RDONLY) = -1 EFAULT (Bad address)");
  EXPECT_EQ(Strace(m, {SYS_execve, {0x1234, 0x5678, 0}, -14}),
            "execve(0x1234, 0x5678, NULL) = -1 EFAULT (Bad address)");
  // Garbage numbers must not crash anything.
  for (uint32_t nr = 0; nr < 520; ++nr) {
    Decoded d = CaptureAndDecode(m, {nr, {~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull}, -1});
    EXPECT_FALSE(d.ret.empty());
  }
}


TEST(DecodeProcess, Clone3Thread) {
  FakeMemory m;
  int32_t tid = 0;
  uint64_t ptid = m.PutObj(tid);
  uint64_t args[11] = {0x3d0f00, 0, 0x7fe05743e990, ptid, 0, 0x7fe056c3e000, 0x7fff80,
                       0x7fe05743e6c0, 0, 0, 0};
  uint64_t ca = m.PutObj(args);
  Call c{435, {ca, 88}, 28676};
  c.kernel = [ptid](FakeMemory& mem) { mem.Write(ptid, int32_t{28676}); };
  EXPECT_EQ(Strace(m, c),
            "clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|"
            "CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, "
            "child_tid=0x7fe05743e990, parent_tid=" + Hex(ptid) + ", exit_signal=0, "
            "stack=0x7fe056c3e000, stack_size=0x7fff80, tls=0x7fe05743e6c0} => "
            "{parent_tid=[28676]}, 88) = 28676");
  Decoded d = CaptureAndDecode(m, c);
  EXPECT_EQ(d.entry_args, 1u);
  EXPECT_TRUE(d.sep_on_resume);
  EXPECT_EQ(d.entry_tail, std::string(" => {parent_tid=[28676]}").size());
}

TEST(DecodeProcess, PersonalityAndCreds) {
  FakeMemory m;
  EXPECT_EQ(Strace(m, {SYS_personality, {0xffffffff}, 0x40000}),
            "personality(0xffffffff) = 0x40000 (PER_LINUX|ADDR_NO_RANDOMIZE)");
  EXPECT_EQ(Strace(m, {SYS_personality, {0x40000}, 0}),
            "personality(PER_LINUX|ADDR_NO_RANDOMIZE) = 0 (PER_LINUX)");
  uint32_t z = 0;
  uint64_t r = m.PutObj(z), e = m.PutObj(z), s = m.PutObj(z);
  EXPECT_EQ(Strace(m, {SYS_getresuid, {r, e, s}, 0}), "getresuid([0], [0], [0]) = 0");
  uint32_t g[8] = {};
  uint64_t gp = m.PutObj(g);
  EXPECT_EQ(Strace(m, {SYS_getgroups, {8, gp}, 0}), "getgroups(8, []) = 0");
  EXPECT_EQ(Strace(m, {SYS_getgroups, {0, 0}, 0}), "getgroups(0, NULL) = 0");
  EXPECT_EQ(Strace(m, {SYS_chown, {m.PutStr("/tmp/h1/x/lk"), 0xffffffff, 0}, 0}),
            "chown(\"/tmp/h1/x/lk\", -1, 0) = 0");
  EXPECT_EQ(Strace(m, {SYS_prctl, {38, 1, 0, 0, 0}, 0}), "prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0");
}

TEST(DecodeFiles, MoreFileShapes) {
  FakeMemory m;
  int64_t off = 0;
  uint64_t op = m.PutObj(off);
  Call c{SYS_sendfile, {6, 5, op, 100}, 100};
  c.kernel = [op](FakeMemory& mem) { mem.Write(op, int64_t{100}); };
  EXPECT_EQ(Strace(m, c), "sendfile(6, 5, [0] => [100], 100) = 100");
  Decoded d = CaptureAndDecode(m, c);
  EXPECT_EQ(d.entry_args, 3u);
  EXPECT_EQ(d.entry_tail, std::string(" => [100]").size());
  EXPECT_EQ(Strace(m, {SYS_sendfile, {6, 5, 0, 10}, 10}), "sendfile(6, 5, NULL, 10) = 10");
  EXPECT_EQ(Strace(m, {SYS_splice, {5, op, 8, 0, 10, 1}, 10}),
            "splice(5, [100], 8, NULL, 10, SPLICE_F_MOVE) = 10");
  EXPECT_EQ(Strace(m, {SYS_fcntl, {9, 1034}, 1}), "fcntl(9, F_GET_SEALS) = 0x1 (seals F_SEAL_SEAL)");
  EXPECT_EQ(Strace(m, {SYS_fcntl, {9, 1033, 1}, 0}), "fcntl(9, F_ADD_SEALS, F_SEAL_SEAL) = 0");
  EXPECT_EQ(Strace(m, {SYS_inotify_init1, {04000 | 02000000}, 11}),
            "inotify_init1(IN_NONBLOCK|IN_CLOEXEC) = 11");
  uint64_t how[3] = {02000000, 0, 4};
  uint64_t hp = m.PutObj(how);
  EXPECT_EQ(Strace(m, {437, {kAtFdcwd, m.PutStr("/etc/passwd"), hp, 24}, 14}),
            "openat2(AT_FDCWD, \"/etc/passwd\", {flags=O_RDONLY|O_CLOEXEC, "
            "resolve=RESOLVE_NO_SYMLINKS}, 24) = 14");
  EXPECT_EQ(Strace(m, {SYS_mknodat, {kAtFdcwd, m.PutStr("/tmp/h1/x/nod"), 020600, 0x103}, 0}),
            "mknodat(AT_FDCWD, \"/tmp/h1/x/nod\", S_IFCHR|0600, makedev(0x1, 0x3)) = 0");
  EXPECT_EQ(Strace(m, {SYS_mknodat, {kAtFdcwd, m.PutStr("/tmp/h1/x/fifo"), 010600, 0}, 0}),
            "mknodat(AT_FDCWD, \"/tmp/h1/x/fifo\", S_IFIFO|0600) = 0");
  EXPECT_EQ(Strace(m, {SYS_statx, {3, m.PutStr(""), 0x1000, 0x7ff, 0x7ffd8463fba0}, -9}),
            "statx(3, \"\", AT_STATX_SYNC_AS_STAT|AT_EMPTY_PATH, STATX_BASIC_STATS, "
            "0x7ffd8463fba0) = -1 EBADF (Bad file descriptor)");
  EXPECT_EQ(Strace(m, {SYS_statx, {kAtFdcwd, m.PutStr("/"), 0x2000, 0xfff, 0x7ffd8463fba0}, -1}),
            "statx(AT_FDCWD, \"/\", AT_STATX_FORCE_SYNC, STATX_ALL, 0x7ffd8463fba0) = -1 EPERM "
            "(Operation not permitted)");
  EXPECT_EQ(Strace(m, {SYS_flock, {5, 6}, 0}), "flock(5, LOCK_EX|LOCK_NB) = 0");
  EXPECT_EQ(Strace(m, {SYS_fadvise64, {5, 0, 0, 2}, 0}),
            "fadvise64(5, 0, 0, POSIX_FADV_SEQUENTIAL) = 0");
  EXPECT_EQ(Strace(m, {SYS_unlinkat, {kAtFdcwd, m.PutStr("/tmp/h1/x/dd"), 0x200}, 0}),
            "unlinkat(AT_FDCWD, \"/tmp/h1/x/dd\", AT_REMOVEDIR) = 0");
  EXPECT_EQ(Strace(m, {SYS_close_range, {100, 200, 0}, 0}), "close_range(100, 200, 0) = 0");
}

TEST(DecodeNet, Socketpair) {
  FakeMemory m;
  int32_t fds[2] = {3, 4};
  uint64_t p = m.PutObj(fds);
  EXPECT_EQ(Strace(m, {SYS_socketpair, {1, 2, 0, p}, 0}),
            "socketpair(AF_UNIX, SOCK_DGRAM, 0, [3, 4]) = 0");
}

TEST(DecodeProcess, ArgvStringOneLongerThanStrsizeIsTruncated) {
  FakeMemory m;
  uint64_t path = m.PutStr("/root/.cargo/bin/bash");
  uint64_t s0 = m.PutStr("bash");
  uint64_t s1 = m.PutStr("/root/.pyenv/libexec/pyenv-latest");  // 33 bytes
  uint64_t s2 = m.PutStr("/root/.pyenv/libexec/pyenv-lates");   // exactly 32
  uint64_t argv[] = {s0, s1, s2, 0};
  uint64_t av = m.PutObj(argv);
  EXPECT_EQ(Strace(m, {SYS_execve, {path, av, 0}, -2}),
            "execve(\"/root/.cargo/bin/bash\", [\"bash\", \"/root/.pyenv/libexec/pyenv-lates\"..., "
            "\"/root/.pyenv/libexec/pyenv-lates\"], NULL) = -1 ENOENT (No such file or "
            "directory)");
}

TEST(DecodeRobustness, RandomTraceeMemoryNeverCrashes) {
  // Arguments point into regions of random bytes (or nowhere): every decoder must cope.
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  auto rnd = [&seed]() {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
  };
  FakeMemory m;
  std::vector<uint64_t> addrs;
  for (int r = 0; r < 64; ++r) {
    std::vector<uint8_t> bytes(rnd() % 600 + 1);
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(rnd());
    addrs.push_back(m.Put(bytes.data(), bytes.size()));
  }
  for (uint32_t nr = 0; nr < 470; ++nr) {
    for (int iter = 0; iter < 8; ++iter) {
      Call c{nr, {}, 0};
      for (int i = 0; i < 6; ++i) {
        switch (rnd() % 4) {
          case 0: c.args.push_back(rnd() % 8); break;
          case 1: c.args.push_back(addrs[rnd() % addrs.size()] + rnd() % 64); break;
          case 2: c.args.push_back(rnd()); break;
          default: c.args.push_back(0); break;
        }
      }
      c.ret = (rnd() % 3 == 0) ? -static_cast<int64_t>(rnd() % 600) : static_cast<int64_t>(rnd() % 700);
      c.has_exit = rnd() % 5 != 0;
      c.strsize = static_cast<uint32_t>(rnd() % 64);
      Decoded d = CaptureAndDecode(m, c);
      EXPECT_LE(d.entry_args, d.args.size());
      EXPECT_FALSE(d.ret.empty());
    }
  }
}

TEST(DecodeMemory, Mempolicy) {
  FakeMemory m;
  uint64_t mask[16] = {1};
  uint64_t mp = m.PutObj(mask);
  std::string zeros;
  for (int i = 0; i < 15; ++i) zeros += ", 0000000000000000";
  Call c{SYS_set_mempolicy, {5, mp, 1024}, 0};
  c.strsize = 32;
  EXPECT_EQ(Strace(m, c), "set_mempolicy(MPOL_PREFERRED_MANY, [0x00000000000001" + zeros + "], 1024) = 0");
  int32_t pol = 0;
  uint64_t pp = m.PutObj(pol);
  uint64_t zmask[16] = {};
  uint64_t zp = m.PutObj(zmask);
  EXPECT_EQ(Strace(m, {SYS_get_mempolicy, {pp, zp, 1025, 0, 0}, 0}),
            "get_mempolicy([MPOL_DEFAULT], [0000000000000000" + zeros + "], 1025, NULL, 0) = 0");
  EXPECT_EQ(Strace(m, {SYS_prctl, {23, 32}, 1}), "prctl(PR_CAPBSET_READ, CAP_MAC_OVERRIDE) = 1");
  EXPECT_EQ(Strace(m, {SYS_prctl, {23, 41}, -22}),
            "prctl(PR_CAPBSET_READ, 0x29 /* CAP_??? */) = -1 EINVAL (Invalid argument)");
  EXPECT_EQ(Strace(m, {SYS_mremap, {0x7fe05762d000, 8192, 16384, 1, 0}, 0x7fe057629000}),
            "mremap(0x7fe05762d000, 8192, 16384, MREMAP_MAYMOVE) = 0x7fe057629000");
}

TEST(DecodeSandbox, NamespacesMountsSeccomp) {
  FakeMemory m;
  EXPECT_EQ(Strace(m, {SYS_unshare, {0x1E060080}, 0}),
            "unshare(CLONE_NEWTIME|CLONE_NEWNS|CLONE_SYSVSEM|CLONE_NEWCGROUP|CLONE_NEWUTS|"
            "CLONE_NEWIPC|CLONE_NEWUSER) = 0");
  uint64_t none = m.PutStr("none"), root = m.PutStr("/");
  EXPECT_EQ(Strace(m, {SYS_mount, {none, root, 0, 0x4000 | 0x40000, 0}, 0}),
            "mount(\"none\", \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0");
  uint64_t proc = m.PutStr("proc"), pp = m.PutStr("/proc");
  EXPECT_EQ(Strace(m, {SYS_mount, {proc, pp, proc, 2 | 4 | 8, 0}, 0}),
            "mount(\"proc\", \"/proc\", \"proc\", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL) = 0");
  uint64_t tmpfs = m.PutStr("tmpfs"), mnt = m.PutStr("/mnt"), opt = m.PutStr("size=1m");
  EXPECT_EQ(Strace(m, {SYS_mount, {tmpfs, mnt, tmpfs, 1 | 2 | 4 | 4096 | 16384, opt}, -2}),
            "mount(\"tmpfs\", \"/mnt\", " + Hex(tmpfs) + ", MS_RDONLY|MS_NOSUID|MS_NODEV|MS_BIND|"
            "MS_REC, " + Hex(opt) + ") = -1 ENOENT (No such file or directory)");
  uint64_t x = m.PutStr("x"), y = m.PutStr("/y"), ext4 = m.PutStr("ext4"), ab = m.PutStr("a=b");
  EXPECT_EQ(Strace(m, {SYS_mount, {x, y, ext4, 0xC0ED0001, ab}, -2}),
            "mount(\"x\", \"/y\", \"ext4\", MS_MGC_VAL|MS_RDONLY, \"a=b\") = -1 ENOENT (No such "
            "file or directory)");
  EXPECT_EQ(Strace(m, {SYS_umount2, {mnt, 2}, -22}),
            "umount2(\"/mnt\", MNT_DETACH) = -1 EINVAL (Invalid argument)");
  EXPECT_EQ(Strace(m, {SYS_setns, {3, 0x04000000}, 0}), "setns(3, CLONE_NEWUTS) = 0");
  EXPECT_EQ(Strace(m, {SYS_setns, {3, 0}, 0}), "setns(3, 0) = 0");
  EXPECT_EQ(Strace(m, {SYS_inotify_add_watch, {4, m.PutStr("/tmp"), 0x1000302}, 1}),
            "inotify_add_watch(4, \"/tmp\", IN_MODIFY|IN_CREATE|IN_DELETE|IN_ONLYDIR) = 1");
  uint64_t prog[2] = {1, 0x7ffd78f72ee0};
  uint64_t pg = m.PutObj(prog);
  EXPECT_EQ(Strace(m, {SYS_seccomp, {1, 1, pg}, 0}),
            "seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, {len=1, "
            "filter=0x7ffd78f72ee0}) = 0");
  EXPECT_EQ(Strace(m, {SYS_prctl, {22, 2, pg}, 0}),
            "prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, {len=1, filter=0x7ffd78f72ee0}) = 0");
}

TEST(DecodeProcess, SchedAndCaps) {
  FakeMemory m;
  EXPECT_EQ(Strace(m, {SYS_sched_get_priority_max, {1}, 99}), "sched_get_priority_max(SCHED_FIFO) = 99");
  EXPECT_EQ(Strace(m, {SYS_sched_getscheduler, {0}, 0}), "sched_getscheduler(0) = 0 (SCHED_OTHER)");
  int32_t prio = 0;
  uint64_t pp = m.PutObj(prio);
  EXPECT_EQ(Strace(m, {SYS_sched_getparam, {0, pp}, 0}), "sched_getparam(0, [0]) = 0");
  uint32_t hdr[2] = {0x20080522, 0};
  uint64_t h = m.PutObj(hdr);
  uint32_t data[6] = {0x21, 0x21, 0, 0x100, 0x100, 0};
  uint64_t d = m.PutObj(data);
  EXPECT_EQ(Strace(m, {SYS_capget, {h, d}, 0}),
            "capget({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_CHOWN|"
            "1<<CAP_KILL|1<<CAP_CHECKPOINT_RESTORE, permitted=1<<CAP_CHOWN|1<<CAP_KILL|"
            "1<<CAP_CHECKPOINT_RESTORE, inheritable=0}) = 0");
  EXPECT_EQ(Strace(m, {SYS_wait4, {Neg(-1), 0, 0x40000002, 0}, -10}),
            "wait4(-1, NULL, WSTOPPED|__WALL, NULL) = -1 ECHILD (No child processes)");
  char buf[8] = {};
  uint64_t b = m.PutObj(buf);
  EXPECT_EQ(Strace(m, {SYS_listxattr, {m.PutStr("/tmp"), b, 64}, 0}), "listxattr(\"/tmp\", \"\", 64) = 0");
}

TEST(DecodeNet, SendmmsgPrintsVectorAtExit) {
  FakeMemory m;
  uint64_t d1 = m.Put("hello", 5), d2 = m.Put("world!", 6);
  uint64_t v1[2] = {d1, 5}, v2[2] = {d2, 6};
  uint64_t i1 = m.PutObj(v1), i2 = m.PutObj(v2);
  uint64_t vec[16] = {0, 0, i1, 1, 0, 0, 0, 0, 0, 0, i2, 1, 0, 0, 0, 0};
  uint64_t vp = m.PutObj(vec);
  Call c{SYS_sendmmsg, {3, vp, 2, 0x4000}, 2};
  c.kernel = [vp](FakeMemory& mem) {
    mem.Write(vp + 56, uint32_t{5});
    mem.Write(vp + 64 + 56, uint32_t{6});
  };
  Decoded d = CaptureAndDecode(m, c);
  EXPECT_EQ(fake::Line(abi::Arch::kX86_64, SYS_sendmmsg, d),
            "sendmmsg(3, [{msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=\"hello\", "
            "iov_len=5}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=5}, "
            "{msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=\"world!\", iov_len=6}], "
            "msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=6}], 2, MSG_NOSIGNAL) = 2");
  EXPECT_EQ(d.entry_args, 1u);
  EXPECT_EQ(Strace(m, {SYS_recvmmsg, {3, vp, 2, 0x40, 0}, -11}),
            "recvmmsg(3, " + Hex(vp) + ", 2, MSG_DONTWAIT, NULL) = -1 EAGAIN (Resource "
            "temporarily unavailable)");
}

}  // namespace
}  // namespace clonebot::trace::decode
