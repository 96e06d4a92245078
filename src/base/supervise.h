// RunSupervised: do work that holds other processes stopped (ptrace) in a child process, so that
// killing clonebot, even with SIGKILL, never leaves them stopped, half-injected or killed.
//
// The child runs |work|. It gets SIGTERM when the parent dies (PR_SET_PDEATHSIG), and SIGINT,
// SIGTERM and SIGHUP in the child only raise the flag that Interrupted() reads: the work checks
// it between critical sections (never inside one: an injected syscall always completes and the
// registers are always restored), undoes what it did and exits. The parent forwards SIGINT,
// SIGTERM and SIGHUP to the child and returns its exit code (128+N if a signal N ended it).
// Must be called while the process is single-threaded (it forks without exec).
#pragma once

#include <functional>

namespace clonebot::base {

int RunSupervised(const std::function<int()>& work);

// True once the work has been asked to stop (in the child of RunSupervised; otherwise set by
// SIGINT/SIGTERM/SIGHUP only if InstallInterruptFlag() was called).
bool Interrupted();
void InstallInterruptFlag();

}  // namespace clonebot::base
