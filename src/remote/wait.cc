#include "remote/wait.h"

#include <dirent.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace clonebot::remote {
namespace {

// 'Z'/'X' (or gone): the thread has exited and waits to be reaped.
bool Exited(pid_t tid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", tid);
  FILE* f = fopen(path, "re");
  if (!f) return true;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char* rp = strrchr(buf, ')');
  return !rp || rp[1] == 0 || rp[2] == 'Z' || rp[2] == 'X';
}

void ReapSiblings(pid_t tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", tid);
  DIR* d = opendir(path);
  if (!d) return;
  while (dirent* e = readdir(d)) {
    pid_t t = static_cast<pid_t>(strtol(e->d_name, nullptr, 10));
    if (t <= 0 || t == tid) continue;
    int st;
    while (waitpid(t, &st, __WALL | WNOHANG) > 0) {
    }
  }
  closedir(d);
}

}  // namespace

pid_t WaitTraced(pid_t tid, int* status, bool lone) {
  if (lone) {
    for (;;) {
      pid_t r = waitpid(tid, status, __WALL);
      if (r >= 0 || errno != EINTR) return r;
    }
  }
  for (unsigned spins = 0;; spins++) {
    pid_t r = waitpid(tid, status, __WALL | WNOHANG);
    if (r > 0 || (r < 0 && errno != EINTR)) return r;
    if (r < 0) continue;
    // Most waits end within microseconds (a single-step, a syscall): yield first, then sleep.
    if (spins < 64) {
      sched_yield();
      continue;
    }
    if (Exited(tid)) ReapSiblings(tid);
    usleep(spins < 2000 ? 50 : 1000);
  }
}

}  // namespace clonebot::remote
