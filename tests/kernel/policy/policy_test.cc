// Compiled policies in the kernel: the same program the unit tests run through the interpreter,
// installed in a forked "victim" (gVisor's TestRealDeal), with the interpreter's prediction
// checked against what each call really returned.
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "policy/bpf_interp.h"
#include "policy/policy.h"

namespace clonebot::policy {
namespace {

struct Call {
  long nr;
  uint64_t args[6] = {};
};

struct Outcome {
  long ret;
  int err;  // errno when ret == -1
};

struct ChildResult {
  std::vector<Outcome> outcomes;  // one per call made before the child exited or died
  int status = 0;                 // wait status
};

// Forks; the child loads |prog| and makes |calls|, reporting each result through a pipe.
// Between fork and _exit the child only makes raw syscalls.
ChildResult RunUnderFilter(const std::vector<sock_filter>& prog, const std::vector<Call>& calls) {
  ChildResult r;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << strerror(errno);
    return r;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    sock_fprog fprog{static_cast<unsigned short>(prog.size()), const_cast<sock_filter*>(prog.data())};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(100);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) _exit(101);
    for (const Call& c : calls) {
      Outcome o;
      o.ret = syscall(c.nr, c.args[0], c.args[1], c.args[2], c.args[3], c.args[4], c.args[5]);
      o.err = o.ret == -1 ? errno : 0;
      if (write(fds[1], &o, sizeof o) != sizeof o) _exit(102);
    }
    _exit(0);
  }
  close(fds[1]);
  Outcome o;
  while (read(fds[0], &o, sizeof o) == sizeof o) r.outcomes.push_back(o);
  close(fds[0]);
  waitpid(pid, &r.status, 0);
  EXPECT_FALSE(WIFEXITED(r.status) && WEXITSTATUS(r.status) >= 100) << "child setup failed: " << WEXITSTATUS(r.status);
  return r;
}

std::vector<sock_filter> MustCompile(const std::string& yaml) {
  auto p = ParseClonePolicy(yaml, "k.yaml");
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return {};
  auto c = Compile(*p);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? c->program : std::vector<sock_filter>{};
}

// What the interpreter says |c| does under |prog|.
std::string Predict(const std::vector<sock_filter>& prog, const Call& c) {
  auto ret = RunSeccompBpf(prog, MakeSeccompData(static_cast<int>(c.nr), c.args));
  return ret.ok() ? DescribeSeccompRet(*ret) : "bpf error";
}

// What the kernel did, in the same words (only for allow and errno actions).
std::string Observed(const Outcome& o) {
  if (o.ret == -1) return FormatAction(Action{ActionKind::kErrno, o.err});
  return "allow";
}

TEST(PolicyKernel, SocketFamilyDenied) {
  auto prog = MustCompile("clonepolicy: 1\ndefault: allow\nrules:\n"
                          "  - {syscall: socket, when: \"arg0 == AF_INET\", action: errno(EACCES)}\n");
  ChildResult r = RunUnderFilter(prog, {{SYS_socket, {AF_INET, SOCK_STREAM, 0}},
                                        {SYS_socket, {AF_UNIX, SOCK_STREAM, 0}},
                                        {SYS_socket, {AF_INET6, SOCK_DGRAM, 0}}});
  ASSERT_EQ(r.outcomes.size(), 3u);
  EXPECT_EQ(r.outcomes[0].ret, -1);
  EXPECT_EQ(r.outcomes[0].err, EACCES);
  EXPECT_GE(r.outcomes[1].ret, 0);
  EXPECT_TRUE(r.outcomes[2].ret >= 0 || r.outcomes[2].err == EAFNOSUPPORT);  // no IPv6 is fine
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
}

TEST(PolicyKernel, KillProcess) {
  auto prog = MustCompile("clonepolicy: 1\ndefault: allow\nrules:\n"
                          "  - {syscall: getppid, when: \"arg0 == 7\", action: kill-process}\n");
  ChildResult r = RunUnderFilter(prog, {{SYS_getppid, {0}}, {SYS_getppid, {7}}, {SYS_getppid, {0}}});
  ASSERT_EQ(r.outcomes.size(), 1u);  // the second call never returned
  EXPECT_GT(r.outcomes[0].ret, 0);
  EXPECT_TRUE(WIFSIGNALED(r.status));
  EXPECT_EQ(WTERMSIG(r.status), SIGSYS);
}

TEST(PolicyKernel, MaskedOpenFlags) {
  auto prog = MustCompile("clonepolicy: 1\ndefault: allow\nrules:\n"
                          "  - {syscall: openat, when: \"arg2 & O_ACCMODE == O_WRONLY\", action: errno(EROFS)}\n");
  static const char kPath[] = "/dev/null";
  const uint64_t path = reinterpret_cast<uintptr_t>(kPath);
  const uint64_t fdcwd = static_cast<uint64_t>(static_cast<int64_t>(AT_FDCWD));
  ChildResult r = RunUnderFilter(prog, {{SYS_openat, {fdcwd, path, O_WRONLY | O_CLOEXEC}},
                                        {SYS_openat, {fdcwd, path, O_RDONLY | O_CLOEXEC}},
                                        {SYS_openat, {fdcwd, path, O_RDWR | O_CLOEXEC}}});
  ASSERT_EQ(r.outcomes.size(), 3u);
  EXPECT_EQ(r.outcomes[0].err, EROFS);
  EXPECT_GE(r.outcomes[1].ret, 0);
  EXPECT_GE(r.outcomes[2].ret, 0);
}

TEST(PolicyKernel, DefaultSandboxPolicy) {
  auto c = Compile(DefaultSandboxPolicy());
  ASSERT_TRUE(c.ok()) << c.status();
  ChildResult r = RunUnderFilter(c->program, {{SYS_io_uring_setup, {1, 0}},
                                              {SYS_kexec_load, {}},
                                              {SYS_bpf, {}},
                                              {SYS_getpid, {}},
                                              {SYS_keyctl, {}}});
  ASSERT_EQ(r.outcomes.size(), 5u);
  EXPECT_EQ(r.outcomes[0].err, EPERM);
  EXPECT_EQ(r.outcomes[1].err, EPERM);
  EXPECT_EQ(r.outcomes[2].err, EPERM);
  EXPECT_GT(r.outcomes[3].ret, 0);
  EXPECT_EQ(r.outcomes[4].err, EPERM);
}

TEST(PolicyKernel, DockerDefaultProfile) {
  std::string here = __FILE__;
  std::ifstream in(here.substr(0, here.rfind("/kernel/")) + "/fixtures/seccomp/docker-default.json");
  std::stringstream ss;
  ss << in.rdbuf();
  auto p = ParseDockerProfile(ss.str(), "docker-default.json");
  ASSERT_TRUE(p.ok()) << p.status();
  auto c = Compile(*p);
  ASSERT_TRUE(c.ok()) << c.status();
  ChildResult r = RunUnderFilter(c->program, {{SYS_unshare, {CLONE_NEWUSER}},
                                              {SYS_clone3, {0, 0}},
                                              {SYS_getpid, {}},
                                              {SYS_personality, {0xffffffff}},
                                              {SYS_personality, {READ_IMPLIES_EXEC}},
                                              {SYS_socket, {40 /* AF_VSOCK */, SOCK_STREAM, 0}}});
  ASSERT_EQ(r.outcomes.size(), 6u);
  EXPECT_EQ(r.outcomes[0].err, EPERM);
  EXPECT_EQ(r.outcomes[1].err, ENOSYS);
  EXPECT_GT(r.outcomes[2].ret, 0);
  EXPECT_GE(r.outcomes[3].ret, 0);
  EXPECT_EQ(r.outcomes[4].err, EPERM);
  EXPECT_EQ(r.outcomes[5].err, EPERM);
}

// The interpreter and the kernel agree on every call: getppid ignores its arguments, so each
// rule can test them freely and the call is harmless when allowed.
TEST(PolicyKernel, InterpreterAgreesWithKernel) {
  auto prog = MustCompile(
      "clonepolicy: 1\ndefault: allow\nrules:\n"
      "  - {syscall: getppid, when: [\"arg0 == 1\", \"arg1 != 2\"], action: errno(EPERM)}\n"
      "  - {syscall: getppid, when: [\"arg0 >= 0x100000000\", \"arg0 <= 0x1ffffffff\"], action: errno(ENOENT)}\n"
      "  - {syscall: getppid, when: \"arg2 & 0xf0 == 0x30\", action: errno(ESRCH)}\n"
      "  - {syscall: getppid, when: [\"arg3 > 5\", \"arg3 < 10\"], action: errno(EINTR)}\n"
      "  - {syscall: getppid, when: \"arg4 != 0\", action: errno(EIO)}\n"
      "  - {syscall: getppid, when: \"arg5 == -1\", action: errno(ENXIO)}\n");
  ASSERT_FALSE(prog.empty());
  std::vector<Call> calls;
  const uint64_t vals[] = {0, 1, 2, 5, 6, 9, 10, 0x30, 0x3f, 0x40, 0xffffffff, 0x100000000, 0x1ffffffff,
                           0x200000000, ~uint64_t{0}};
  for (int a = 0; a < 6; a++)
    for (uint64_t v : vals) {
      Call c{SYS_getppid};
      c.args[a] = v;
      if (a == 1) c.args[0] = 1;  // exercise arg1 under the first rule
      calls.push_back(c);
    }
  ChildResult r = RunUnderFilter(prog, calls);
  ASSERT_EQ(r.outcomes.size(), calls.size());
  int errnos = 0;
  for (size_t i = 0; i < calls.size(); i++) {
    EXPECT_EQ(Observed(r.outcomes[i]), Predict(prog, calls[i]))
        << "getppid(" << calls[i].args[0] << ", " << calls[i].args[1] << ", " << calls[i].args[2] << ", "
        << calls[i].args[3] << ", " << calls[i].args[4] << ", " << calls[i].args[5] << ")";
    errnos += r.outcomes[i].ret == -1;
  }
  EXPECT_GT(errnos, 20);  // the rules did fire
}

}  // namespace
}  // namespace clonebot::policy
