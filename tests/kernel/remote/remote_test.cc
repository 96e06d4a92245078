// remote::Injector against real processes. Each target is a child forked by the test that serves
// one-byte commands from a pipe and answers with a fixed-size Reply on another pipe; the test
// (its parent) seizes and stops it, injects, and asks it afterwards what it saw.
#include "remote/remote.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace clonebot::remote {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr int64_t kERestartSys = -512;
constexpr int64_t kERestartRestartBlock = -516;
constexpr int64_t kSleepMs = 400;

// ------------------------------------------------------------------------------- target side

struct Reply {
  int64_t kind;  // the command, or 'E' when reading the command failed (e.g. EINTR)
  int64_t v[4];
};

// Shared (MAP_SHARED) between the test and a target.
struct Shared {
  uint32_t futex_word;
  uint64_t arg;  // size for 'm'
};

int g_cmd_fd = -1, g_rep_fd = -1;
Shared* g_shared = nullptr;
pid_t g_test_pid = 0;
volatile sig_atomic_t g_usr1 = 0, g_chld = 0, g_rt_count = 0, g_rt_bad = 0;
std::atomic<uint64_t> g_rt_mask{0};
uint8_t* g_region = nullptr;
size_t g_region_size = 0;
std::atomic<pid_t> g_thread_tid{0};
int g_thread_pipe[2];

void OnUsr1(int) { g_usr1 = g_usr1 + 1; }
void OnChld(int) { g_chld = g_chld + 1; }
void OnRt(int, siginfo_t* si, void*) {
  g_rt_count = g_rt_count + 1;
  if (si->si_code != SI_QUEUE || si->si_pid != g_test_pid || si->si_value.sival_int < 0 ||
      si->si_value.sival_int >= 64)
    g_rt_bad = g_rt_bad + 1;
  else
    g_rt_mask |= uint64_t{1} << si->si_value.sival_int;
}

int RtSig() { return SIGRTMIN + 1; }

void Answer(const Reply& r) {
  if (write(g_rep_fd, &r, sizeof r) != sizeof r) _exit(3);
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void* BlockedThread(void*) {
  g_thread_tid = static_cast<pid_t>(syscall(SYS_gettid));
  char c;
  for (;;)
    if (read(g_thread_pipe[0], &c, 1) <= 0 && errno != EINTR) break;
  return nullptr;
}

[[noreturn]] void TargetMain() {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  struct sigaction sa {};
  sa.sa_flags = SA_RESTART;
  sa.sa_handler = OnUsr1;
  sigaction(SIGUSR1, &sa, nullptr);
  sa.sa_handler = OnChld;
  sigaction(SIGCHLD, &sa, nullptr);
  sa.sa_flags = SA_RESTART | SA_SIGINFO;
  sa.sa_sigaction = OnRt;
  sigaction(RtSig(), &sa, nullptr);
  Answer({'R', {getpid()}});  // ready
  for (;;) {
    char c = 0;
    ssize_t n = read(g_cmd_fd, &c, 1);
    if (n == 0) _exit(0);
    if (n != 1) {
      Answer({'E', {n, errno}});
      continue;
    }
    Reply r{c, {}};
    switch (c) {
      case 'p':
        r.v[0] = getpid();
        break;
      case 's': {
        timespec ts{kSleepMs / 1000, (kSleepMs % 1000) * 1000000};
        int64_t t0 = NowNs();
        r.v[0] = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, nullptr);
        r.v[2] = r.v[0] == 0 ? 0 : errno;
        r.v[1] = NowNs() - t0;
        break;
      }
      case 'f': {
        while (__atomic_load_n(&g_shared->futex_word, __ATOMIC_SEQ_CST) == 0) {
          long ret = syscall(SYS_futex, &g_shared->futex_word, FUTEX_WAIT, 0, nullptr, nullptr, 0);
          r.v[0]++;
          r.v[1] = ret == 0 ? 0 : -errno;
          if (ret != 0 && errno == EINTR) r.v[2]++;
        }
        break;
      }
      case 'c': {
        r.v[0] = g_chld;
        int st = 0;
        r.v[1] = waitpid(-1, &st, WNOHANG | __WALL);
        r.v[2] = r.v[1] < 0 ? errno : 0;
        break;
      }
      case 'g':
        r.v[0] = g_usr1;
        r.v[1] = g_rt_count;
        r.v[2] = static_cast<int64_t>(g_rt_mask.load());
        r.v[3] = g_rt_bad;
        break;
      case 'm': {
        g_region_size = g_shared->arg;
        void* p = mmap(nullptr, g_region_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) _exit(4);
        g_region = static_cast<uint8_t*>(p);
        memset(g_region, 0x11, g_region_size);
        r.v[0] = reinterpret_cast<int64_t>(g_region);
        break;
      }
      case 'w':
        memset(g_region, 0x22, g_region_size);
        break;
      case 't': {
        if (pipe(g_thread_pipe) != 0) _exit(5);
        pthread_t th;
        if (pthread_create(&th, nullptr, BlockedThread, nullptr) != 0) _exit(6);
        while (g_thread_tid.load() == 0) sched_yield();
        r.v[0] = g_thread_tid.load();
        break;
      }
      case 'b': {  // answer, then spin in user space forever
        Answer(r);
        volatile uint64_t spin = 0;
        for (;;) spin = spin + 1;
      }
      case 'x':
        _exit(0);
      default:
        r.kind = '?';
    }
    Answer(r);
  }
}

// ------------------------------------------------------------------------------- test side

class Target {
 public:
  Target() {
    void* sh = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) abort();
    shared_ = static_cast<Shared*>(sh);
    int cmd[2], rep[2];
    if (pipe2(cmd, O_CLOEXEC) != 0 || pipe2(rep, O_CLOEXEC) != 0) abort();
    g_test_pid = getpid();
    pid_ = fork();
    if (pid_ < 0) abort();
    if (pid_ == 0) {
      close(cmd[1]);
      close(rep[0]);
      g_cmd_fd = cmd[0];
      g_rep_fd = rep[1];
      g_shared = shared_;
      TargetMain();
    }
    close(cmd[0]);
    close(rep[1]);
    cmd_ = cmd[1];
    rep_ = rep[0];
    Reply ready = Receive();
    if (ready.kind != 'R') ADD_FAILURE() << "target did not start";
  }
  ~Target() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, __WALL);
    close(cmd_);
    close(rep_);
    munmap(shared_, 4096);
  }

  pid_t pid() const { return pid_; }
  Shared* shared() { return shared_; }

  void Send(char c) {
    if (write(cmd_, &c, 1) != 1) ADD_FAILURE() << "write command: " << strerror(errno);
  }
  Reply Receive() {
    Reply r{};
    char* p = reinterpret_cast<char*>(&r);
    size_t got = 0;
    while (got < sizeof r) {
      pollfd pfd{rep_, POLLIN, 0};
      if (poll(&pfd, 1, 20000) != 1) {
        ADD_FAILURE() << "no answer from target " << pid_;
        return {'T', {}};
      }
      ssize_t n = read(rep_, p + got, sizeof r - got);
      if (n <= 0) {
        ADD_FAILURE() << "target " << pid_ << " closed its answer pipe";
        return {'X', {}};
      }
      got += static_cast<size_t>(n);
    }
    return r;
  }
  Reply Call(char c) {
    Send(c);
    return Receive();
  }

 private:
  pid_t pid_ = -1;
  int cmd_ = -1, rep_ = -1;
  Shared* shared_ = nullptr;
};

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// Waits (polling /proc, up to 20 s) until |tid| is blocked in syscall |nr|.
bool WaitInSyscall(pid_t tid, long nr) {
  auto deadline = steady_clock::now() + std::chrono::seconds(20);
  std::string path = "/proc/" + std::to_string(tid) + "/syscall";
  while (steady_clock::now() < deadline) {
    std::string s = ReadFile(path);
    if (!s.empty() && s != "running\n" && std::strtol(s.c_str(), nullptr, 10) == nr) return true;
    sched_yield();
  }
  return false;
}

// Field |n| (1-based, as in proc(5)) of /proc/PID/stat.
std::string StatField(pid_t pid, int n) {
  std::string s = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t close = s.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(s.substr(close + 2));
  std::string f;
  for (int i = 3; i <= n; i++) rest >> f;
  return f;
}

void Interrupt(pid_t tid) {
  ASSERT_EQ(ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr), 0) << strerror(errno);
  int st = 0;
  ASSERT_EQ(waitpid(tid, &st, __WALL), tid);
  ASSERT_TRUE(WIFSTOPPED(st)) << std::hex << st;
  ASSERT_EQ(st >> 16, PTRACE_EVENT_STOP) << std::hex << st;
}

void SeizeAndInterrupt(pid_t tid, long options = 0) {
  ASSERT_EQ(ptrace(PTRACE_SEIZE, tid, nullptr, reinterpret_cast<void*>(options)), 0)
      << strerror(errno);
  Interrupt(tid);
}

void Detach(pid_t tid, int sig = 0) {
  ASSERT_EQ(ptrace(PTRACE_DETACH, tid, nullptr, reinterpret_cast<void*>(long{sig})), 0)
      << strerror(errno);
}

user_regs_struct Regs(pid_t tid) {
  user_regs_struct r{};
  EXPECT_EQ(ptrace(PTRACE_GETREGS, tid, nullptr, &r), 0) << strerror(errno);
  return r;
}

std::unique_ptr<Injector> MustAttach(pid_t tid, int options = 0) {
  absl::StatusOr<std::unique_ptr<Injector>> inj = Injector::Attach(tid, options);
  EXPECT_TRUE(inj.ok()) << inj.status();
  return inj.ok() ? std::move(*inj) : nullptr;
}

// Waits until |pid| blocks in its read, seizes and interrupts it, and attaches an Injector: how
// most tests start. Null, with the failure recorded, if a step fails.
std::unique_ptr<Injector> AttachInRead(pid_t pid, int options = 0) {
  if (!WaitInSyscall(pid, SYS_read)) {
    ADD_FAILURE() << "process " << pid << " never blocked in read";
    return nullptr;
  }
  SeizeAndInterrupt(pid, options);
  if (::testing::Test::HasFatalFailure()) return nullptr;
  return MustAttach(pid, options);
}

int64_t MustSyscall(Injector& inj, int nr, SyscallArgs args = {}) {
  absl::StatusOr<int64_t> r = inj.Syscall(nr, args);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : INT64_MIN;
}

// Processes (not threads) whose tracer is the calling thread.
std::vector<pid_t> OurTracees() {
  std::vector<pid_t> out;
  std::string me = "TracerPid:\t" + std::to_string(syscall(SYS_gettid)) + "\n";
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    if (ReadFile("/proc/" + std::to_string(pid) + "/status").find(me) != std::string::npos)
      out.push_back(pid);
  }
  closedir(d);
  return out;
}

bool AllBytes(pid_t pid, uint64_t addr, size_t len, uint8_t want) {
  std::vector<uint8_t> buf(len);
  iovec local{buf.data(), len}, remote{reinterpret_cast<void*>(addr), len};
  if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != static_cast<ssize_t>(len)) {
    ADD_FAILURE() << "process_vm_readv(" << pid << "): " << strerror(errno);
    return false;
  }
  for (uint8_t b : buf)
    if (b != want) return false;
  return true;
}

// ------------------------------------------------------------------------------------ tests

TEST(Injector, GetpidReturnsTargetPid) {
  Target t;
  auto inj = AttachInRead(t.pid());
  ASSERT_NE(inj, nullptr);
  EXPECT_EQ(inj->tid(), t.pid());
  EXPECT_EQ(MustSyscall(*inj, SYS_getpid), t.pid());
  EXPECT_EQ(MustSyscall(*inj, SYS_gettid), t.pid());
  EXPECT_EQ(MustSyscall(*inj, SYS_getppid), getpid());
  ASSERT_TRUE(inj->Restore().ok());
  EXPECT_EQ(inj->ResumeSignal(), 0);
  Detach(t.pid());
  Reply r = t.Call('p');
  EXPECT_EQ(r.kind, 'p');
  EXPECT_EQ(r.v[0], t.pid());
}

TEST(Injector, FailingSyscallReturnsNegativeErrno) {
  Target t;
  auto inj = AttachInRead(t.pid());
  ASSERT_NE(inj, nullptr);
  EXPECT_EQ(MustSyscall(*inj, SYS_close, {0x7fffffff}), -EBADF);
  EXPECT_EQ(MustSyscall(*inj, SYS_openat, {static_cast<uint64_t>(AT_FDCWD), 8, O_RDONLY}),
            -EFAULT);
  EXPECT_EQ(MustSyscall(*inj, SYS_kill, {static_cast<uint64_t>(t.pid()), 12345}), -EINVAL);
  ASSERT_TRUE(inj->Restore().ok());
  Detach(t.pid());
  EXPECT_EQ(t.Call('p').kind, 'p');
}

TEST(Injector, AttachRefusesAThreadThatIsNotStopped) {
  Target t;
  absl::StatusOr<std::unique_ptr<Injector>> inj = Injector::Attach(t.pid());
  EXPECT_FALSE(inj.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(inj.status())) << inj.status();
}

// Stopped inside read() on a pipe: the registers come back byte for byte, and so does an
// injector that is destroyed without Restore().
TEST(Injector, RegistersIdenticalAfterRestore) {
  Target t;
  ASSERT_TRUE(WaitInSyscall(t.pid(), SYS_read));
  ASSERT_NO_FATAL_FAILURE(SeizeAndInterrupt(t.pid()));
  user_regs_struct before = Regs(t.pid());
  {
    auto inj = MustAttach(t.pid());
    ASSERT_NE(inj, nullptr);
    for (int i = 0; i < 50; i++) MustSyscall(*inj, SYS_getpid);
    user_regs_struct during = Regs(t.pid());
    EXPECT_NE(memcmp(&before, &during, sizeof before), 0);
    ASSERT_TRUE(inj->Restore().ok());
    user_regs_struct after = Regs(t.pid());
    EXPECT_EQ(memcmp(&before, &after, sizeof before), 0);
    MustSyscall(*inj, SYS_getpid);  // and again, then restored by the destructor
  }
  user_regs_struct after = Regs(t.pid());
  EXPECT_EQ(memcmp(&before, &after, sizeof before), 0);
  Detach(t.pid());
  EXPECT_EQ(t.Call('p').kind, 'p');
}

// Stopped in user space (not after a syscall): the syscall instruction comes from the vDSO.
TEST(Injector, UserSpaceStopUsesVdsoInstruction) {
  Target t;
  EXPECT_EQ(t.Call('b').kind, 'b');
  ASSERT_NO_FATAL_FAILURE(SeizeAndInterrupt(t.pid()));
  // The answer's write() may still be under way: stop it again until it is in the spin loop.
  user_regs_struct before = Regs(t.pid());
  for (int i = 0; i < 1000 && static_cast<int64_t>(before.orig_rax) != -1; i++) {
    ASSERT_EQ(ptrace(PTRACE_CONT, t.pid(), nullptr, nullptr), 0);
    sched_yield();
    ASSERT_NO_FATAL_FAILURE(Interrupt(t.pid()));
    before = Regs(t.pid());
  }
  ASSERT_EQ(static_cast<int64_t>(before.orig_rax), -1);  // not in a syscall
  auto inj = MustAttach(t.pid());
  ASSERT_NE(inj, nullptr);
  EXPECT_EQ(MustSyscall(*inj, SYS_getpid), t.pid());
  user_regs_struct during = Regs(t.pid());
  // The instruction used is in the [vdso] mapping.
  std::istringstream maps(ReadFile("/proc/" + std::to_string(t.pid()) + "/maps"));
  bool in_vdso = false;
  for (std::string line; std::getline(maps, line);) {
    if (line.find("[vdso]") == std::string::npos) continue;
    uint64_t lo = std::stoull(line.substr(0, line.find('-')), nullptr, 16);
    uint64_t hi = std::stoull(line.substr(line.find('-') + 1), nullptr, 16);
    in_vdso = during.rip - 2 >= lo && during.rip <= hi;
  }
  EXPECT_TRUE(in_vdso) << std::hex << during.rip;
  ASSERT_TRUE(inj->Restore().ok());
  user_regs_struct after = Regs(t.pid());
  EXPECT_EQ(memcmp(&before, &after, sizeof before), 0);
  Detach(t.pid());
}

TEST(Injector, InterruptedPipeReadRestarts) {
  Target t;
  ASSERT_TRUE(WaitInSyscall(t.pid(), SYS_read));
  ASSERT_NO_FATAL_FAILURE(SeizeAndInterrupt(t.pid()));
  user_regs_struct saved = Regs(t.pid());
  ASSERT_EQ(saved.orig_rax, SYS_read);
  ASSERT_EQ(static_cast<int64_t>(saved.rax), kERestartSys);
  auto inj = MustAttach(t.pid());
  ASSERT_NE(inj, nullptr);
  for (int i = 0; i < 100; i++) MustSyscall(*inj, SYS_getppid);
  ASSERT_TRUE(inj->Restore().ok());
  Detach(t.pid());
  // Back in read(), not returned from it (EINTR or a stray value would answer 'E' at once).
  ASSERT_TRUE(WaitInSyscall(t.pid(), SYS_read));
  Reply r = t.Call('p');
  EXPECT_EQ(r.kind, 'p') << "read returned " << r.v[0] << " errno " << r.v[1];
  EXPECT_EQ(r.v[0], t.pid());
}

TEST(Injector, InterruptedNanosleepKeepsItsTotalTime) {
  Target t;
  t.Send('s');
  ASSERT_TRUE(WaitInSyscall(t.pid(), SYS_clock_nanosleep));
  ASSERT_NO_FATAL_FAILURE(SeizeAndInterrupt(t.pid()));
  user_regs_struct saved = Regs(t.pid());
  ASSERT_EQ(saved.orig_rax, SYS_clock_nanosleep);
  ASSERT_EQ(static_cast<int64_t>(saved.rax), kERestartRestartBlock);
  auto inj = MustAttach(t.pid());
  ASSERT_NE(inj, nullptr);
  // Hold it for half the sleep while injecting: a restart from scratch would then take >= 1.5x.
  auto until = steady_clock::now() + milliseconds(kSleepMs / 2);
  int n = 0;
  while (steady_clock::now() < until) {
    MustSyscall(*inj, SYS_getpid);
    n++;
  }
  ASSERT_TRUE(inj->Restore().ok());
  Detach(t.pid());
  Reply r = t.Receive();
  ASSERT_EQ(r.kind, 's');
  EXPECT_EQ(r.v[0], 0) << "errno " << r.v[2];
  EXPECT_GE(r.v[1], kSleepMs * 1000000);
  EXPECT_LT(r.v[1], kSleepMs * 1000000 * 3 / 2) << n << " injections";
}

TEST(Injector, InterruptedFutexWaitRestarts) {
  Target t;
  t.Send('f');
  ASSERT_TRUE(WaitInSyscall(t.pid(), SYS_futex));
  ASSERT_NO_FATAL_FAILURE(SeizeAndInterrupt(t.pid()));
  user_regs_struct saved = Regs(t.pid());
  ASSERT_EQ(saved.orig_rax, SYS_futex);
  ASSERT_EQ(static_cast<int64_t>(saved.rax), kERestartSys);
  auto inj = MustAttach(t.pid());
  ASSERT_NE(inj, nullptr);
  for (int i = 0; i < 100; i++) MustSyscall(*inj, SYS_getpid);
  ASSERT_TRUE(inj->Restore().ok());
  Detach(t.pid());
  // It goes back to sleep in the same FUTEX_WAIT: the wake finds exactly one waiter.
  ASSERT_TRUE(WaitInSyscall(t.pid(), SYS_futex));
  __atomic_store_n(&t.shared()->futex_word, 1, __ATOMIC_SEQ_CST);
  EXPECT_EQ(syscall(SYS_futex, &t.shared()->futex_word, FUTEX_WAKE, 1, nullptr, nullptr, 0), 1);
  Reply r = t.Receive();
  ASSERT_EQ(r.kind, 'f');
  EXPECT_EQ(r.v[0], 1) << "FUTEX_WAIT returned more than once";
  EXPECT_EQ(r.v[1], 0);
  EXPECT_EQ(r.v[2], 0) << "EINTR seen";
}

TEST(Injector, SignalDuringInjectionIsDeliveredAfterDetach) {
  Target t;
  auto inj = AttachInRead(t.pid());
  ASSERT_NE(inj, nullptr);
  MustSyscall(*inj, SYS_getpid);
  ASSERT_EQ(kill(t.pid(), SIGUSR1), 0);
  EXPECT_EQ(MustSyscall(*inj, SYS_getpid), t.pid());
  EXPECT_EQ(MustSyscall(*inj, SYS_getpid), t.pid());
  ASSERT_TRUE(inj->Restore().ok());
  EXPECT_EQ(inj->ResumeSignal(), SIGUSR1);
  Detach(t.pid(), inj->ResumeSignal());
  Reply r = t.Call('g');
  ASSERT_EQ(r.kind, 'g');
  EXPECT_EQ(r.v[0], 1);  // SIGUSR1 handled exactly once
}

// Queued realtime signals sent from another thread at random moments of many injections: each
// arrives exactly once, with its siginfo, after the detach.
TEST(Injector, SignalStormDuringInjections) {
  Target t;
  auto inj = AttachInRead(t.pid());
  ASSERT_NE(inj, nullptr);
  constexpr int kRt = 16;
  std::atomic<int> injections{0};
  std::atomic<bool> done{false};
  std::thread sender([&] {
    for (int i = 0; i < kRt; i++) {
      int at = injections.load() + 20;
      while (injections.load() < at) sched_yield();
      sigval v{};
      v.sival_int = i;
      sigqueue(t.pid(), RtSig(), v);
      if (i % 4 == 0) kill(t.pid(), SIGUSR1);
    }
    done = true;
  });
  while (!done.load()) {
    if (MustSyscall(*inj, SYS_getpid) != t.pid()) break;
    injections++;
  }
  sender.join();
  EXPECT_EQ(MustSyscall(*inj, SYS_getpid), t.pid());  // collects any still pending
  ASSERT_TRUE(inj->Restore().ok());
  EXPECT_NE(inj->ResumeSignal(), 0);
  Detach(t.pid(), inj->ResumeSignal());
  Reply r = t.Call('g');
  ASSERT_EQ(r.kind, 'g');
  EXPECT_GE(r.v[0], 1);
  EXPECT_EQ(r.v[1], kRt);
  EXPECT_EQ(static_cast<uint64_t>(r.v[2]), (uint64_t{1} << kRt) - 1);
  EXPECT_EQ(r.v[3], 0) << "realtime signals with a wrong siginfo";
}

TEST(Injector, TargetKilledMidwayGivesNotFound) {
  Target t;
  auto inj = AttachInRead(t.pid());
  ASSERT_NE(inj, nullptr);
  std::atomic<int> injections{0};
  std::thread killer([&] {
    while (injections.load() < 300) sched_yield();
    kill(t.pid(), SIGKILL);
  });
  absl::Status end;
  for (int i = 0; i < 10000000; i++) {
    absl::StatusOr<int64_t> r = inj->Syscall(SYS_getpid, {});
    if (!r.ok()) {
      end = r.status();
      break;
    }
    EXPECT_EQ(*r, t.pid());
    injections++;
  }
  killer.join();
  EXPECT_TRUE(absl::IsNotFound(end)) << end;
  EXPECT_TRUE(absl::IsNotFound(inj->Syscall(SYS_getpid, {}).status()));
  EXPECT_TRUE(absl::IsNotFound(inj->ForkHeld().status()));
  EXPECT_TRUE(absl::IsNotFound(inj->Restore()));
  inj.reset();
  EXPECT_TRUE(OurTracees().empty());
}

// Killed while forking copies again and again: no copy stays behind, traced or running.
TEST(Injector, TargetKilledDuringForkHeldLeavesNoCopy) {
  Target t;
  auto inj = AttachInRead(t.pid());
  ASSERT_NE(inj, nullptr);
  std::atomic<int> forks{0};
  std::thread killer([&] {
    while (forks.load() < 20) sched_yield();
    for (int i = 0; i < 1000; i++) sched_yield();
    kill(t.pid(), SIGKILL);
  });
  absl::Status end;
  std::vector<pid_t> copies;
  for (int i = 0; i < 100000; i++) {
    absl::StatusOr<pid_t> copy = inj->ForkHeld();
    if (!copy.ok()) {
      end = copy.status();
      break;
    }
    copies.push_back(*copy);
    forks++;
    absl::Status st = KillHeldFork(*copy, inj.get());
    if (!st.ok()) {
      end = st;
      break;
    }
  }
  killer.join();
  EXPECT_TRUE(absl::IsNotFound(end)) << end;
  inj.reset();
  EXPECT_TRUE(OurTracees().empty());
  for (pid_t c : copies) EXPECT_NE(StatField(c, 3), "t") << c;
}

TEST(Injector, ForkHeldCopiesMemoryAndNeverRuns) {
  Target t;
  constexpr size_t kSize = 16 << 20;
  t.shared()->arg = kSize;
  Reply m = t.Call('m');
  ASSERT_EQ(m.kind, 'm');
  uint64_t addr = static_cast<uint64_t>(m.v[0]);
  auto inj = AttachInRead(t.pid());
  ASSERT_NE(inj, nullptr);
  absl::StatusOr<pid_t> copy = inj->ForkHeld();
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(MustSyscall(*inj, SYS_getpid), t.pid());  // the tracee goes on being injectable
  ASSERT_TRUE(inj->Restore().ok());
  EXPECT_EQ(inj->ResumeSignal(), 0);
  Detach(t.pid());

  // The copy: held in a ptrace-stop before its first instruction, sp 0, clone's child return.
  EXPECT_EQ(StatField(*copy, 3), "t");
  EXPECT_EQ(StatField(*copy, 4), std::to_string(t.pid()));  // ppid: the tracee
  user_regs_struct cr = Regs(*copy);
  EXPECT_EQ(cr.rsp, 0u);
  EXPECT_EQ(cr.rax, 0u);
  std::string status = ReadFile("/proc/" + std::to_string(*copy) + "/status");
  EXPECT_NE(status.find("Threads:\t1\n"), std::string::npos);

  // The tracee rewrites its memory; the copy keeps what was there at the fork.
  ASSERT_EQ(t.Call('w').kind, 'w');
  EXPECT_TRUE(AllBytes(t.pid(), addr, kSize, 0x22));
  EXPECT_TRUE(AllBytes(*copy, addr, kSize, 0x11));
  EXPECT_EQ(StatField(*copy, 3), "t");
  EXPECT_EQ(StatField(*copy, 14), "0");  // utime: never ran in user space
  user_regs_struct cr_later = Regs(*copy);
  EXPECT_EQ(memcmp(&cr, &cr_later, sizeof cr), 0);

  // Disposed of through the tracee: no zombie, no SIGCHLD.
  inj = AttachInRead(t.pid());
  ASSERT_NE(inj, nullptr);
  absl::Status st = KillHeldFork(*copy, inj.get());
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_FALSE(Exists("/proc/" + std::to_string(*copy)));
  ASSERT_TRUE(inj->Restore().ok());
  Detach(t.pid());
  Reply c = t.Call('c');
  ASSERT_EQ(c.kind, 'c');
  EXPECT_EQ(c.v[0], 0) << "SIGCHLDs";
  EXPECT_EQ(c.v[1], -1);
  EXPECT_EQ(c.v[2], ECHILD);
}

TEST(Injector, KillHeldForkWithoutParentLeavesZombieButNoSigchld) {
  Target t;
  auto inj = AttachInRead(t.pid());
  ASSERT_NE(inj, nullptr);
  absl::StatusOr<pid_t> copy = inj->ForkHeld();
  ASSERT_TRUE(copy.ok()) << copy.status();
  ASSERT_TRUE(KillHeldFork(*copy, nullptr).ok());
  EXPECT_EQ(StatField(*copy, 3), "Z");
  ASSERT_TRUE(inj->Restore().ok());
  Detach(t.pid());
  Reply c = t.Call('c');
  ASSERT_EQ(c.kind, 'c');
  EXPECT_EQ(c.v[0], 0) << "SIGCHLDs";
  EXPECT_EQ(c.v[1], *copy);  // the tracee reaps it itself, with __WALL
  EXPECT_FALSE(Exists("/proc/" + std::to_string(*copy)));
}

// A held copy declared a lone thread (as the snapshot's copy pump does): a long injected syscall
// is waited for in a blocking waitpid and returns its result; the copy killed during one gives
// NotFound, not a hang.
TEST(Injector, LoneCopyLongSyscallAndKill) {
  Target t;
  auto inj = AttachInRead(t.pid());
  ASSERT_NE(inj, nullptr);
  absl::StatusOr<pid_t> copy = inj->ForkHeld();
  ASSERT_TRUE(copy.ok()) << copy.status();
  ASSERT_TRUE(inj->Restore().ok());
  Detach(t.pid());

  auto cinj = Injector::Attach(*copy, PTRACE_O_EXITKILL);
  ASSERT_TRUE(cinj.ok()) << cinj.status();
  (*cinj)->AssumeLoneThread();
  // The wait blocks: a handful of context switches for 100 ms, where polling (sched_yield, then
  // 50 us sleeps) makes well over a thousand.
  auto switches = [] {
    std::string st = ReadFile("/proc/thread-self/status");
    size_t at = st.find("voluntary_ctxt_switches:");
    return at == std::string::npos ? -1L : std::strtol(st.c_str() + at + 24, nullptr, 10);
  };
  long sw0 = switches();
  auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<int64_t> r = (*cinj)->Syscall(SYS_poll, {0, 0, 100});  // 100 ms, no fds
  auto waited = std::chrono::steady_clock::now() - t0;
  long sw1 = switches();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 0);
  EXPECT_GE(waited, std::chrono::milliseconds(90));
  ASSERT_GE(sw0, 0);
  EXPECT_LT(sw1 - sw0, 100) << "voluntary context switches while waiting";
  EXPECT_EQ(MustSyscall(**cinj, SYS_getpid), *copy);

  std::thread killer([pid = *copy] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    kill(pid, SIGKILL);
  });
  t0 = std::chrono::steady_clock::now();
  r = (*cinj)->Syscall(SYS_poll, {0, 0, 20000});
  waited = std::chrono::steady_clock::now() - t0;
  killer.join();
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
  EXPECT_LT(waited, std::chrono::seconds(10));
  cinj->reset();
  EXPECT_TRUE(KillHeldFork(*copy, nullptr).ok());
}

// The caller's ptrace options are put back after ForkHeld: PTRACE_O_TRACEEXIT still reports.
TEST(Injector, ForkHeldRestoresCallerOptions) {
  Target t;
  auto inj = AttachInRead(t.pid(), PTRACE_O_TRACEEXIT);
  ASSERT_NE(inj, nullptr);
  absl::StatusOr<pid_t> copy = inj->ForkHeld();
  ASSERT_TRUE(copy.ok()) << copy.status();
  ASSERT_TRUE(KillHeldFork(*copy, inj.get()).ok());
  ASSERT_TRUE(inj->Restore().ok());
  ASSERT_EQ(ptrace(PTRACE_CONT, t.pid(), nullptr, nullptr), 0);
  t.Send('x');
  int st = 0;
  ASSERT_EQ(waitpid(t.pid(), &st, __WALL), t.pid());
  EXPECT_TRUE(WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_EXIT) << std::hex << st;
  // SIGKILL does not end a PTRACE_EVENT_EXIT stop; the tracer has to let it go.
  if (WIFSTOPPED(st)) ptrace(PTRACE_DETACH, t.pid(), nullptr, nullptr);
}

TEST(Injector, MultiThreadedTargetNonMainThread) {
  Target t;
  Reply th = t.Call('t');
  ASSERT_EQ(th.kind, 't');
  pid_t tid = static_cast<pid_t>(th.v[0]);
  ASSERT_NE(tid, t.pid());
  ASSERT_TRUE(WaitInSyscall(tid, SYS_read));
  ASSERT_NO_FATAL_FAILURE(SeizeAndInterrupt(tid));
  user_regs_struct before = Regs(tid);
  auto inj = MustAttach(tid);
  ASSERT_NE(inj, nullptr);
  EXPECT_EQ(MustSyscall(*inj, SYS_gettid), tid);
  EXPECT_EQ(MustSyscall(*inj, SYS_getpid), t.pid());
  absl::StatusOr<pid_t> copy = inj->ForkHeld();
  ASSERT_TRUE(copy.ok()) << copy.status();
  std::string status = ReadFile("/proc/" + std::to_string(*copy) + "/status");
  EXPECT_NE(status.find("Threads:\t1\n"), std::string::npos);
  EXPECT_EQ(StatField(*copy, 4), std::to_string(t.pid()));
  // The main thread keeps serving commands while its sibling is held.
  EXPECT_EQ(t.Call('p').v[0], t.pid());
  absl::Status st = KillHeldFork(*copy, inj.get());
  EXPECT_TRUE(st.ok()) << st;
  ASSERT_TRUE(inj->Restore().ok());
  user_regs_struct after = Regs(tid);
  EXPECT_EQ(memcmp(&before, &after, sizeof before), 0);
  Detach(tid);
  ASSERT_TRUE(WaitInSyscall(tid, SYS_read));  // the thread went back into its read()
  Reply c = t.Call('c');
  EXPECT_EQ(c.v[0], 0);
  EXPECT_EQ(c.v[2], ECHILD);
}

// Fork time of a process with 1 GiB of touched anonymous memory.
TEST(Injector, ForkHeldOneGiB) {
  Target t;
  constexpr size_t kSize = size_t{1} << 30;
  t.shared()->arg = kSize;
  Reply m = t.Call('m');
  ASSERT_EQ(m.kind, 'm');
  uint64_t addr = static_cast<uint64_t>(m.v[0]);
  auto inj = AttachInRead(t.pid());
  ASSERT_NE(inj, nullptr);
  auto t0 = steady_clock::now();
  absl::StatusOr<pid_t> copy = inj->ForkHeld();
  auto t1 = steady_clock::now();
  ASSERT_TRUE(copy.ok()) << copy.status();
  ASSERT_TRUE(inj->Restore().ok());
  Detach(t.pid());
  ASSERT_EQ(t.Call('w').kind, 'w');
  for (size_t off = 0; off < kSize; off += 64 << 20) {
    EXPECT_TRUE(AllBytes(*copy, addr + off, 4096, 0x11)) << off;
    EXPECT_TRUE(AllBytes(t.pid(), addr + off, 4096, 0x22)) << off;
  }
  inj = AttachInRead(t.pid());
  ASSERT_NE(inj, nullptr);
  auto t2 = steady_clock::now();
  ASSERT_TRUE(KillHeldFork(*copy, inj.get()).ok());
  auto t3 = steady_clock::now();
  ASSERT_TRUE(inj->Restore().ok());
  Detach(t.pid());
  double fork_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  double kill_ms = std::chrono::duration<double, std::milli>(t3 - t2).count();
  printf("ForkHeld of 1 GiB touched: %.2f ms; KillHeldFork: %.2f ms\n", fork_ms, kill_ms);
  ::testing::Test::RecordProperty("fork_ms", std::to_string(fork_ms));
  ::testing::Test::RecordProperty("kill_ms", std::to_string(kill_ms));
}

}  // namespace
}  // namespace clonebot::remote
