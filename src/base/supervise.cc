#include "base/supervise.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

namespace clonebot::base {
namespace {

std::atomic<bool> g_interrupted{false};
volatile pid_t g_child = 0;

void OnInterrupt(int) { g_interrupted.store(true, std::memory_order_relaxed); }

void Forward(int sig) {
  if (g_child > 0) kill(g_child, sig);
}

void Handle(int sig, void (*fn)(int)) {
  struct sigaction sa = {};
  sa.sa_handler = fn;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, nullptr);
}

}  // namespace

bool Interrupted() { return g_interrupted.load(std::memory_order_relaxed); }

void InstallInterruptFlag() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) Handle(sig, OnInterrupt);
}

int RunSupervised(const std::function<int()>& work) {
  fflush(nullptr);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) {
    perror("clonebot: fork");
    return 1;
  }
  if (child == 0) {
    InstallInterruptFlag();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) g_interrupted = true;  // the parent died before prctl
    int code = work();
    fflush(nullptr);
    _exit(code);
  }
  g_child = child;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) Handle(sig, Forward);
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return 1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace clonebot::base
