#!/usr/bin/env python3
"""Tracer lifecycle tests for `clonebot trace` (DESIGN.md, failure contract).

Cases (one per ctest entry):
  sigkill-attach  attach to a running program with -p, SIGKILL clonebot mid-run: the program
                  keeps running, is not stopped (/proc/PID/stat state not t/T), has no tracer,
                  and `clonebot show` reads the complete chunks and says on stderr that the
                  rest was cut.
  sigint-attach   SIGINT to an attached clonebot: it detaches and exits; the program runs on.
  sigterm-attach  the same with SIGTERM.
  exit-status     clonebot mirrors the command's status: exit 3 -> 3, SIGKILL -> 137,
                  SIGSEGV -> 139, success -> 0.
  spawn-exitkill  SIGKILL clonebot while it traces a command it spawned under a partial
                  -e filter (seccomp prefilter): the command dies with it (EXITKILL).
  spawn-kill      the same without a filter: the command dies or runs on, but is never
                  left stopped or traced.
  truncated-show  the spawned case's .cbt: `clonebot show` prints what the complete chunks
                  hold and says on stderr that the rest was cut.
Exit 0 pass, 1 fail, 77 skip (ptrace not permitted here).
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
CUT_RE = re.compile(r"trunc|cut|incomplete|partial|torn|unfinished|end of|killed", re.I)


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def proc_state(pid):
    """(state letter, TracerPid) or None if the process is gone (or a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        state = st[st.rfind(")") + 2:].split()[0]
        with open("/proc/%d/status" % pid) as f:
            tracer = int(re.search(r"^TracerPid:\s*(\d+)", f.read(), re.M).group(1))
    except (OSError, AttributeError):
        return None
    if state in ("Z", "X"):
        return None
    return state, tracer


def ctxt_switches(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^voluntary_ctxt_switches:\s*(\d+)", f.read(), re.M).group(1))


def wait_for(pred, timeout, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def assert_running_untraced(pid, what):
    """The target must be alive, not stopped, without a tracer, and making progress."""
    wait_for(lambda: (proc_state(pid) or (0, 0))[1] == 0, 3)   # the kernel detaches
    st = proc_state(pid)
    check(st is not None, "%s: target %d died" % (what, pid))
    check(st[1] == 0, "%s: target %d still has TracerPid %d" % (what, pid, st[1]))
    check(st[0] not in "tT", "%s: target %d left stopped (state %s)" % (what, pid, st[0]))
    before = ctxt_switches(pid)
    progressed = wait_for(lambda: ctxt_switches(pid) > before + 5, 3)
    st = proc_state(pid)
    check(st is not None and st[0] not in "tT",
          "%s: target %d stopped after detach (state %s)" % (what, pid, st and st[0]))
    check(progressed, "%s: target %d makes no progress after detach" % (what, pid))


def attached(pid):
    st = proc_state(pid)
    return st is not None and st[1] != 0


class Env:
    def __init__(self, args):
        self.clonebot = os.path.abspath(args.clonebot)
        self.progs = os.path.abspath(args.progs)
        self.dir = tempfile.mkdtemp(prefix="cbk-life-")
        self.children = []
        self.orphans = []     # pids of commands clonebot spawned for us

    def prog(self, name):
        p = os.path.join(self.progs, name)
        check(os.access(p, os.X_OK), "missing test program %s" % p)
        return p

    def spawn(self, cmd, **kw):
        p = subprocess.Popen(cmd, cwd=self.dir, stdin=subprocess.DEVNULL, **kw)
        self.children.append(p)
        return p

    def errfile(self):
        """clonebot's stderr goes to a file (a pipe nobody reads could block it)."""
        return open(os.path.join(self.dir, "clonebot.stderr"), "wb")

    def errtext(self):
        with open(os.path.join(self.dir, "clonebot.stderr"), errors="replace") as f:
            return f.read().strip()

    def show(self, cbt):
        r = subprocess.run([self.clonebot, "show", cbt], capture_output=True, timeout=30)
        return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

    def cleanup(self):
        for p in self.children:     # only processes this script started
            if p.poll() is None:
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
                p.wait()
        for pid in self.orphans:     # a spawned command that outlived clonebot
            if proc_state(pid) is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:                     # we are its subreaper: reap it
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def start_target(env):
    t = env.spawn([env.prog("long_running")], stdout=subprocess.DEVNULL)
    wait_for(lambda: os.path.exists(os.path.join(env.dir, "heartbeat")), 5)
    return t


def attach(env, target, cbt):
    tr = env.spawn([env.clonebot, "trace", "-p", str(target.pid), "-o", cbt],
                   stdout=subprocess.DEVNULL, stderr=env.errfile())
    ok = wait_for(lambda: attached(target.pid) or tr.poll() is not None, 10)
    if tr.poll() is not None:
        raise Fail("clonebot trace -p exited %d before attaching: %s" % (
            tr.returncode, env.errtext()[-300:]))
    check(ok, "clonebot never attached to %d" % target.pid)
    # Let it record for a while, so that chunks get written.
    time.sleep(1.0)
    return tr


def syscall_lines(text):
    return [l for l in text.splitlines() if re.match(r"^\d+\s+[a-z_0-9]+\(", l)]


def case_sigkill_attach(env):
    target = start_target(env)
    cbt = os.path.join(env.dir, "x.cbt")
    tr = attach(env, target, cbt)
    tr.send_signal(signal.SIGKILL)
    tr.wait()
    assert_running_untraced(target.pid, "after SIGKILL to clonebot")
    rc, out, err = env.show(cbt)
    lines = syscall_lines(out)
    check(len(lines) > 0, "show printed no syscalls from the killed trace (rc %d): %s" % (
        rc, err.strip()[-300:]))
    check(any(re.search(r"\b(getppid|nanosleep|clock_nanosleep|pwrite64)\(", l) for l in lines),
          "show output lacks the target's syscalls: %r" % lines[:5])
    check(CUT_RE.search(err), "show did not say on stderr that the trace was cut: %r" % err)
    print("sigkill-attach: %d syscall lines readable; stderr: %s" % (
        len(lines), err.strip().splitlines()[-1] if err.strip() else ""))


def case_signal_attach(env, sig, name):
    target = start_target(env)
    cbt = os.path.join(env.dir, "x.cbt")
    tr = attach(env, target, cbt)
    tr.send_signal(sig)
    try:
        tr.wait(timeout=10)
    except subprocess.TimeoutExpired:
        raise Fail("clonebot did not exit within 10s of %s" % name)
    assert_running_untraced(target.pid, "after %s to clonebot" % name)
    rc, out, err = env.show(cbt)
    check(rc == 0, "show of a cleanly detached trace exited %d: %s" % (rc, err.strip()[-300:]))
    check(len(syscall_lines(out)) > 0, "show printed no syscalls")
    print("%s-attach: clonebot exited %d; target still running untraced" % (
        name.lower(), tr.returncode))


def case_exit_status(env):
    for prog, want in (("exit_status", 3), ("killed_by_signal", 137), ("segv", 139),
                       ("futex", 0)):
        cbt = os.path.join(env.dir, prog + ".cbt")
        r = subprocess.run([env.clonebot, "trace", "-o", cbt, "--", env.prog(prog)],
                           cwd=env.dir, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=30)
        check(r.returncode == want, "%s under clonebot exited %d, want %d (stderr %r)" % (
            prog, r.returncode, want, r.stderr.decode(errors="replace")[-300:]))
        print("exit-status: %s -> %d" % (prog, r.returncode))


def traced_children(pid):
    kids = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def spawn_and_kill(env, cbt, extra=()):
    tr = env.spawn([env.clonebot, "trace", "-o", cbt] + list(extra) +
                   ["--", env.prog("long_running")],
                   stdout=subprocess.DEVNULL, stderr=env.errfile())
    kids = wait_for(lambda: traced_children(tr.pid), 10)
    check(kids, "clonebot trace started no child")
    wait_for(lambda: os.path.exists(os.path.join(env.dir, "heartbeat")), 10)
    time.sleep(1.0)
    tr.send_signal(signal.SIGKILL)
    tr.wait()
    env.orphans += kids
    return kids


def case_spawn_exitkill(env):
    """Under a partial filter (seccomp RET_TRACE prefilter) the command cannot run on
    without its tracer, so it must die with clonebot (PTRACE_O_EXITKILL)."""
    kids = spawn_and_kill(env, os.path.join(env.dir, "x.cbt"),
                          ["-e", "trace=nanosleep,clock_nanosleep"])
    for k in kids:
        gone = wait_for(lambda: proc_state(k) is None, 5)
        st = proc_state(k)
        check(gone, "spawned command %d survived clonebot's SIGKILL (state %s)" % (
            k, st and st[0]))
    print("spawn-exitkill: %d spawned process(es) died with clonebot" % len(kids))


def case_spawn_kill(env):
    """Without a filter, a spawned command may die with clonebot or run on, but it must
    never be left stopped or still traced."""
    kids = spawn_and_kill(env, os.path.join(env.dir, "x.cbt"))
    for k in kids:
        wait_for(lambda: proc_state(k) is None or proc_state(k)[1] == 0, 5)
        if proc_state(k) is None:
            print("spawn-kill: spawned command %d died with clonebot" % k)
        else:
            assert_running_untraced(k, "spawned command after SIGKILL to clonebot")
            print("spawn-kill: spawned command %d runs on, untraced, not stopped" % k)


def case_truncated_show(env):
    cbt = os.path.join(env.dir, "x.cbt")
    spawn_and_kill(env, cbt)
    check(os.path.exists(cbt), "no trace file after SIGKILL")
    rc, out, err = env.show(cbt)
    lines = syscall_lines(out)
    check(len(lines) > 0, "show printed no syscalls from the killed trace (rc %d): %s" % (
        rc, err.strip()[-300:]))
    check(any(l.split(None, 1)[1].startswith("execve(") for l in lines),
          "killed trace lacks the execve: %r" % lines[:3])
    check(CUT_RE.search(err), "show did not say on stderr that the trace was cut: %r" % err)
    print("truncated-show: %d syscall lines; stderr: %s" % (
        len(lines), err.strip().splitlines()[-1] if err.strip() else ""))


def case_attach_restart(env):
    """Seized inside clock_nanosleep: the sleep resumes as restart_syscall, which show names."""
    target = env.spawn(["sleep", "1.5"])
    time.sleep(0.4)   # well inside the sleep
    cbt = os.path.join(env.dir, "restart.cbt")
    tr = env.spawn([env.clonebot, "trace", "-p", str(target.pid), "-o", cbt],
                   stdout=subprocess.DEVNULL, stderr=env.errfile())
    check(tr.wait(timeout=20) == 0, "clonebot trace -p exited %s: %s" % (tr.returncode, env.errtext()[-300:]))
    check(target.wait(timeout=5) == 0, "sleep exited %s under trace" % target.returncode)
    rc, out, err = env.show(cbt)
    check(rc == 0, "show failed: %s" % err[-300:])
    first = syscall_lines(out)[0] if syscall_lines(out) else ""
    check("restart_syscall(<... resuming interrupted clock_nanosleep ...>) = 0" in first,
          "first syscall line %r does not name the interrupted clock_nanosleep" % first)
    print("attach-restart: %s" % first)


CASES = {
    "sigkill-attach": case_sigkill_attach,
    "sigint-attach": lambda e: case_signal_attach(e, signal.SIGINT, "SIGINT"),
    "sigterm-attach": lambda e: case_signal_attach(e, signal.SIGTERM, "SIGTERM"),
    "exit-status": case_exit_status,
    "spawn-exitkill": case_spawn_exitkill,
    "spawn-kill": case_spawn_kill,
    "truncated-show": case_truncated_show,
    "attach-restart": case_attach_restart,
}


def ptrace_allowed():
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            scope = int(f.read())
    except OSError:
        return True
    return scope < 3 and (scope < 2 or os.geteuid() == 0)


def become_subreaper():
    """Orphans of a killed clonebot get reparented to us, not to pid 1, so that we can
    reap them (a container's pid 1 may not)."""
    import ctypes
    PR_SET_CHILD_SUBREAPER = 36
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clonebot", required=True)
    ap.add_argument("--progs", required=True, help="directory of the built test programs")
    ap.add_argument("case", nargs="+", choices=sorted(CASES))
    args = ap.parse_args()
    if not ptrace_allowed():
        print("SKIP: ptrace attach not permitted (yama ptrace_scope)")
        return SKIP
    if not os.access(args.clonebot, os.X_OK):
        print("FAIL: no clonebot binary at %s" % args.clonebot)
        return 1
    become_subreaper()
    failed = 0
    for c in args.case:
        env = Env(args)
        try:
            CASES[c](env)
            print("%s: PASS" % c)
        except Fail as e:
            print("%s: FAIL: %s" % (c, e))
            failed = 1
        except subprocess.TimeoutExpired as e:
            print("%s: FAIL: timed out: %s" % (c, e))
            failed = 1
        finally:
            env.cleanup()
    return failed


if __name__ == "__main__":
    sys.exit(main())
