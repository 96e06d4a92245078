// Waiting for one ptrace-traced thread without the kernel's exit-order deadlock.
#pragma once

#include <sys/types.h>

namespace clonebot::remote {

// waitpid(tid, status, __WALL), except that it cannot hang on a dying process: the exit of a
// thread-group leader is reported only after every other thread of the group has been reaped,
// and those threads, traced by us too, are reaped by nobody else. While |tid| is a zombie, this
// reaps the group's other threads (their statuses are dropped: they are gone) until |tid|'s own
// exit can be reported. EINTR is retried. Returns what waitpid returns.
//
// With |lone|, the caller knows that |tid|'s process has no other thread and cannot get one (a
// held copy made by ForkHeld): then the deadlock cannot happen, and this blocks in waitpid
// instead of polling, which a long injected syscall (the copy pump's writes, milliseconds each)
// would pay for in wake-ups.
pid_t WaitTraced(pid_t tid, int* status, bool lone = false);

}  // namespace clonebot::remote
