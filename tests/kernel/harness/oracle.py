#!/usr/bin/env python3
"""Kernel-test oracle for `clonebot trace`: strace is the reference.

For one command it runs
  1. the command natively                      (stdout + exit status),
  2. `strace -f -o S.txt -- CMD`                (the reference trace),
  3. `clonebot trace -o X.cbt -- CMD`           (stdout + exit status + trace),
     then `clonebot show --format jsonl X.cbt` and `clonebot show X.cbt`,
and checks:
  * stdout and exit status are identical natively and under clonebot (128+N for signal N);
  * per process (strace pids mapped onto clonebot pids through the fork tree), in order:
      names    % of calls whose syscall name lines up (difflib alignment over the sequences),
      returns  % of aligned calls whose return value and errno agree after normalisation,
      args     % of aligned calls whose decoded argument texts (jsonl "args") all agree,
      text     % of aligned calls whose whole `clonebot show` line agrees with strace's,
      events   % of `--- SIG ---` / `+++ exit +++` lines that agree (per process, in order).
The jsonl records are also checked against their schema (keys, types, plausible ts_ns that
never goes backwards per tid). Exits 1 if names < --min-names, returns < --min-returns, args < --min-args (or text/events
below their flags, 0 by default), 77 if strace or ptrace is unusable here, 0 otherwise.

Normalisation (applied identically to both sides; everything else must match byte for byte):
  * pids/tids: each traced process gets a label from the fork tree ("P", "P.1", "P.1.2":
    the k-th successful clone/fork/vfork/clone3 of its parent); numbers equal to a traced pid
    are replaced by the label in the args of pid-taking syscalls, in si_pid=, parent_tid=[..],
    inside strings ("/proc/1234/stat") and in the returns of pid-returning syscalls. Pids outside the trace (the tracer itself,
    as seen by getppid) become "EXT".
  * addresses: hex numbers of 6+ digits become 0xADDR; the returns of mmap/mremap/brk/shmat
    become ADDR (errors stay exact).
  * times: tv_sec/tv_nsec/tv_usec in clock_gettime-like outputs (not in inputs such as a
    nanosleep request), ppoll/select "left {...}", si_utime/si_stime, st_*time, the
    returns of time() and times().
  * free-space counts in statfs (f_bfree, f_bavail, f_ffree), sysinfo's load and memory,
  * inode numbers (st_ino, stx_ino, d_ino, ino=), ephemeral ports (htons(N), N >= 1024),
    the bytes getrandom() returned, the strace column padding before " = ".
Syscalls listed with --ignore (e.g. futex, whose presence in pthread_join depends on timing)
are dropped from both sides before alignment.

strace quirks handled: with -f -o every line starts with the tid; a call interrupted by
another thread's line is split into `name(a,  <unfinished ...>` and `<... name resumed>b) = r`
(merged here); `exit_group(0) = ?`; `= ? ERESTARTSYS (...)` (ret -512); annotations after
the return (`= 0x8002 (flags O_RDWR|O_LARGEFILE)`, `= 0 (Timeout)`); `--- SIG {...} ---`,
`+++ exited with N +++`, `+++ killed by SIG +++`, `+++ superseded by execve +++` lines;
strace hides everything its child does before the first execve.

Other modes:
  --self-check   compare two strace runs (the program's own noise floor; no clonebot needed)
  --strace-only  run strace and print the parsed per-process sequences (parser debugging)
  --tools        run a list of real tools and print a match-rate table
"""

import argparse
import difflib
import errno as errno_mod
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77

KERNEL_ERRNOS = {
    "ERESTARTSYS": 512, "ERESTARTNOINTR": 513, "ERESTARTNOHAND": 514, "ENOIOCTLCMD": 515,
    "ERESTART_RESTARTBLOCK": 516, "EPROBE_DEFER": 517, "EOPENSTALE": 518, "ENOPARAM": 519,
    "EBADHANDLE": 521, "ENOTSYNC": 522, "EBADCOOKIE": 523, "ENOTSUPP": 524, "ETOOSMALL": 525,
    "ESERVERFAULT": 526, "EBADTYPE": 527, "EJUKEBOX": 528, "EIOCBQUEUED": 529,
    "ERECALLCONFLICT": 530,
}

FORK_SYSCALLS = {"clone", "clone3", "fork", "vfork"}
PID_RET_SYSCALLS = FORK_SYSCALLS | {
    "wait4", "waitpid", "getpid", "getppid", "gettid", "set_tid_address", "getpgid",
    "getpgrp", "getsid", "setsid", "pidfd_getpid"}
PID_ARG_SYSCALLS = FORK_SYSCALLS | {
    "kill", "tkill", "tgkill", "wait4", "waitid", "waitpid", "rt_sigqueueinfo",
    "rt_tgsigqueueinfo", "pidfd_open", "process_vm_readv", "process_vm_writev", "ptrace",
    "setpgid", "getpgid", "getsid", "prlimit64", "sched_setaffinity", "sched_getaffinity",
    "sched_getparam", "sched_setscheduler", "sched_getscheduler", "get_robust_list",
    "kcmp", "ioprio_get", "ioprio_set", "getpriority", "setpriority", "move_pages",
    "migrate_pages", "perf_event_open", "sched_getattr", "sched_setattr", "fcntl",
    "fcntl64", "futex"}
# Returns that are a pid only sometimes (rt_sigreturn gives back the interrupted call's
# result): mapped when the value is a traced pid, kept otherwise.
MAYBE_PID_RET_SYSCALLS = {"rt_sigreturn", "restart_syscall"}
ADDR_RET_SYSCALLS = {"mmap", "mmap2", "mremap", "brk", "shmat"}
TIME_RET_SYSCALLS = {"time", "times"}
TIME_OUT_SYSCALLS = {
    "clock_gettime", "clock_gettime64", "gettimeofday", "time", "times", "timerfd_gettime",
    "timer_gettime", "getrusage", "wait4", "sysinfo", "clock_adjtime", "adjtimex",
    "getitimer", "setitimer", "sched_rr_get_interval", "statx", "stat", "fstat", "lstat",
    "newfstatat", "fstatat64", "timerfd_settime", "timer_settime", "ppoll", "pselect6",
    "select", "io_getevents", "rt_sigtimedwait", "semtimedop", "recvmmsg", "futex_waitv",
    }
RANDOM_DATA_SYSCALLS = {"getrandom"}

# `ls -l /` prints /proc's link count (the number of processes) and /tmp's mtime, so its
# stdout may differ between runs: for it a stdout difference is reported, not failed.
STDOUT_VARIES = {"ls -l /"}
DEFAULT_TOOLS = [
    ["ls", "-l", "/"],
    ["cat", "/etc/passwd"],
    ["tar", "cf", "/dev/null", "/usr/include/linux"],
    ["/usr/bin/python3", "-c", "print(1)"],
    ["sh", "-c", "ls / | wc -l"],
    ["cp", "--reflink=auto", "/etc/services", "services.copy"],
    ["find", "/usr/include/linux", "-name", "*.h"],
    ["id"],
    ["gzip", "-c", "/etc/services"],
]


# ---------------------------------------------------------------------------------------
# The trace model shared by all sources.

class Call:
    __slots__ = ("name", "args", "ret", "err", "text", "ret_text", "complete")

    def __init__(self, name, args, ret, err, text, ret_text="", complete=True):
        self.name = name
        self.args = args          # list of argument texts
        self.ret = ret            # int, or None for "?"
        self.err = err            # errno name or None
        self.text = text          # "name(args) = ret..." as printed
        self.ret_text = ret_text  # everything after " = "
        self.complete = complete  # False if the process died inside the call

    def __repr__(self):
        return self.text


class Trace:
    """Per-tid sequences of Calls and event lines, plus the order tids first appeared."""

    def __init__(self):
        self.calls = {}    # tid -> [Call]
        self.events = {}   # tid -> [str]   ("--- SIGCHLD {...} ---", "+++ exited with 0 +++")
        self.order = []    # tids in order of first appearance

    def touch(self, tid):
        if tid not in self.calls:
            self.calls[tid] = []
            self.events[tid] = []
            self.order.append(tid)

    def add_call(self, tid, call):
        self.touch(tid)
        self.calls[tid].append(call)

    def add_event(self, tid, ev):
        self.touch(tid)
        self.events[tid].append(ev)

    def ncalls(self):
        return sum(len(v) for v in self.calls.values())


# ---------------------------------------------------------------------------------------
# strace text parsing.

LINE_RE = re.compile(r"^(\d+)\s+(.*)$")
RESUMED_RE = re.compile(r"^<\.\.\. ([A-Za-z0-9_?]+) resumed>(.*)$")
UNFINISHED = " <unfinished ...>"
CALL_HEAD_RE = re.compile(r"^([A-Za-z0-9_?]+)\(")
ERR_RE = re.compile(r"^-1 ([A-Z][A-Z0-9_]*)(?: \((.*)\))?$")
RESTART_RE = re.compile(r"^\? ([A-Z][A-Z0-9_]*)(?: \((.*)\))?$")
NUM_RE = re.compile(r"^(-?\d+|0x[0-9a-fA-F]+)(?: (.*))?$")


def errno_value(name):
    if name in KERNEL_ERRNOS:
        return KERNEL_ERRNOS[name]
    v = getattr(errno_mod, name, None)
    if isinstance(v, int):
        return v
    return None


def scan_close(s, start):
    """Index of the ')' closing the '(' just before s[start], aware of strings, brackets
    and /* comments */. Returns -1 if the text ends first."""
    depth = 1
    i = start
    n = len(s)
    while i < n:
        c = s[i]
        if c == '"':
            i += 1
            while i < n and s[i] != '"':
                if s[i] == "\\":
                    i += 1
                i += 1
        elif c == "/" and s.startswith("/*", i):
            j = s.find("*/", i + 2)
            if j < 0:
                return -1
            i = j + 1
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def split_args(s):
    """Split strace's argument list text at top-level commas."""
    out = []
    depth = 0
    cur = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == '"':
            j = i + 1
            while j < n and s[j] != '"':
                if s[j] == "\\":
                    j += 1
                j += 1
            cur.append(s[i:j + 1])
            i = j + 1
            continue
        if c == "/" and s.startswith("/*", i):
            j = s.find("*/", i + 2)
            j = n if j < 0 else j + 2
            cur.append(s[i:j])
            i = j
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    last = "".join(cur).strip()
    if last or out:
        out.append(last)
    return out


def parse_ret(rt):
    """(ret, err) from the text after ' = '."""
    rt = rt.strip()
    if rt == "?":
        return None, None
    m = RESTART_RE.match(rt)
    if m:
        v = errno_value(m.group(1))
        return (-v if v is not None else None), m.group(1)
    m = ERR_RE.match(rt)
    if m:
        v = errno_value(m.group(1))
        return (-v if v is not None else -1), m.group(1)
    m = NUM_RE.match(rt)
    if m:
        v = m.group(1)
        if re.match(r"^0[0-7]+$", v):    # umask and friends print octal
            return int(v, 8), None
        return int(v, 0), None
    return None, None


def parse_call(body, complete=True):
    """Parse 'name(args) = ret' (or an incomplete 'name(args' when complete is False)."""
    m = CALL_HEAD_RE.match(body)
    if not m:
        return None
    name = m.group(1)
    open_at = m.end()
    close_at = scan_close(body, open_at)
    if close_at < 0:
        args_text = body[open_at:]
        return Call(name, split_args(args_text.rstrip()), None, None,
                    name + "(" + args_text.rstrip(), "", complete=False)
    args_text = body[open_at:close_at]
    rest = body[close_at + 1:]
    mm = re.match(r"^\s*=\s?(.*)$", rest)
    ret_text = mm.group(1) if mm else ""
    ret, err = parse_ret(ret_text) if mm else (None, None)
    text = "%s(%s) = %s" % (name, args_text, ret_text) if mm else "%s(%s)" % (name, args_text)
    return Call(name, split_args(args_text), ret, err, text, ret_text, complete=bool(mm))


def parse_strace_text(text):
    """Parse `strace -f -o` output (or `clonebot show`, which must produce the same)."""
    tr = Trace()
    pending = {}   # tid -> text before " <unfinished ...>"
    for raw in text.splitlines():
        m = LINE_RE.match(raw)
        if not m:
            continue    # not a trace line (e.g. a stray message)
        tid = int(m.group(1))
        body = m.group(2)
        tr.touch(tid)
        if body.startswith("+++ ") or body.startswith("--- "):
            if tid in pending:   # died inside the call: no resumed line will come
                c = parse_call(pending.pop(tid), complete=False)
                if c:
                    c.complete = False
                    tr.add_call(tid, c)
            tr.add_event(tid, body)
            continue
        if body.startswith("<detached"):
            continue
        mr = RESUMED_RE.match(body)
        if mr:
            head = pending.pop(tid, None)
            if head is None:
                head = mr.group(1) + "("   # the unfinished half was never printed
            body = head + mr.group(2)
        elif body.endswith(UNFINISHED):
            if tid in pending:  # should not happen; keep the old one as incomplete
                c = parse_call(pending.pop(tid), complete=False)
                if c:
                    tr.add_call(tid, c)
            pending[tid] = body[: -len(UNFINISHED)]
            continue
        c = parse_call(body)
        if c:
            tr.add_call(tid, c)
    for tid, head in pending.items():
        c = parse_call(head, complete=False)
        if c:
            tr.add_call(tid, c)
    return tr


def jsonl_schema_problems(objs):
    """Schema checks for the jsonl records: the documented keys with the right types, and
    timestamps that are plausible (below 2^63, non-decreasing per tid, not all equal)."""
    probs = []
    last_ts = {}
    ts_seen = set()
    nsys = 0
    for o in objs:
        if "name" not in o:
            if not isinstance(o.get("type"), str):
                probs.append("event without a string \"type\": %s" % json.dumps(o)[:120])
            continue
        nsys += 1
        for key, types in (("ts_ns", (int,)), ("pid", (int,)), ("tid", (int,)),
                           ("name", (str,)), ("args", (list,)), ("ret", (int, type(None))),
                           ("err", (str, type(None))),
                           # no duration for a call that never returned (exit_group)
                           ("dur_ns", (int,) if o.get("ret") is not None else
                            (int, type(None)))):
            if key not in o:
                probs.append("syscall record lacks \"%s\": %s" % (key, json.dumps(o)[:120]))
            elif not isinstance(o[key], types) or isinstance(o[key], bool):
                probs.append("\"%s\" has type %s: %s" % (key, type(o[key]).__name__,
                                                          json.dumps(o)[:120]))
        ts, dur, tid = o.get("ts_ns"), o.get("dur_ns"), o.get("tid")
        if isinstance(ts, int):
            ts_seen.add(ts)
            if ts >= 1 << 63:
                probs.append("ts_ns %d is not a plausible time (negative wrapped?)" % ts)
            if tid in last_ts and ts < last_ts[tid]:
                probs.append("ts_ns goes backwards for tid %s: %d after %d" % (
                    tid, ts, last_ts[tid]))
            last_ts[tid] = ts
        if isinstance(dur, int) and not 0 <= dur < 1 << 63:
            probs.append("dur_ns %d out of range" % dur)
        if isinstance(o.get("ret"), int) and o.get("err") is not None and o["ret"] >= 0:
            probs.append("err %s with non-negative ret %d" % (o["err"], o["ret"]))
    if nsys >= 10 and len(ts_seen) == 1:
        probs.append("all %d syscall records have the same ts_ns %d" % (nsys, ts_seen.pop()))
    uniq = []
    for p in probs:     # one message per kind of problem
        k = p.split(":")[0][:40]
        if k not in [u.split(":")[0][:40] for u in uniq]:
            uniq.append(p)
    return uniq


def parse_jsonl(text):
    """Parse `clonebot show --format jsonl`: objects with "name" are syscalls."""
    tr = Trace()
    bad = 0
    objs = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            o = json.loads(line)
        except ValueError:
            bad += 1
            continue
        objs.append(o)
        tid = o.get("tid", o.get("pid"))
        if tid is None:
            continue
        tid = int(tid)
        if "name" in o:
            args = [str(a) for a in (o.get("args") or [])]
            ret = o.get("ret")
            err = o.get("err")
            name = o["name"]
            ret = ret if isinstance(ret, int) else None
            rt = "?" if ret is None else ("-1 %s" % err if err else str(ret))
            tr.add_call(tid, Call(name, args, ret, err,
                                  "%s(%s) = %s" % (name, ", ".join(args), rt), rt))
        else:
            tr.add_event(tid, json.dumps(o, sort_keys=True))
    tr.bad_lines = bad
    tr.schema_problems = jsonl_schema_problems(objs)
    return tr


# ---------------------------------------------------------------------------------------
# Normalisation.

def label_processes(tr):
    """tid -> label, from the fork tree (k-th successful fork-like call of the parent)."""
    labels = {}
    if not tr.order:
        return labels
    # The root is the lowest pid: pids grow, and with a -e filter that hides clone/execve
    # the first line may well be a child's. Processes not reached through a traced fork
    # are numbered in pid order for the same reason (order of appearance is racy).
    root = min(tr.order)
    labels[root] = "P"
    queue = [root]
    while queue:
        tid = queue.pop(0)
        k = 0
        for c in tr.calls.get(tid, []):
            if c.name in FORK_SYSCALLS and c.ret is not None and c.ret > 0:
                k += 1
                if c.ret not in labels:
                    labels[c.ret] = "%s.%d" % (labels[tid], k)
                    queue.append(c.ret)
    n = 0
    for tid in sorted(tr.order):
        if tid not in labels:
            n += 1
            labels[tid] = "?%d" % n
    return labels


HEX_RE = re.compile(r"0x[0-9a-fA-F]{6,}")
TIME_FIELD_RE = re.compile(r"\b(tv_sec|tv_nsec|tv_usec)=\d+")
LEFT_RE = re.compile(r"left \{[^}]*\}")
SYSINFO_RE = re.compile(r"\b(uptime|loads|freeram|sharedram|bufferram|freeswap|freehigh|procs)="
                        r"(\[[^\]]*\]|\d+)")
STATFS_RE = re.compile(r"\b(f_bfree|f_bavail|f_ffree|f_favail)=\d+")
SIGTIME_RE = re.compile(r"\b(si_utime|si_stime)=\d+")
STTIME_RE = re.compile(r"\b(st_[amc]time(?:_nsec)?|stx_[abcm]time)=(\{[^}]*\}|[^,}]+)")
INO_RE = re.compile(r"\b(st_ino|stx_ino|d_ino|ino|inode)=\d+")
PORT_RE = re.compile(r"htons\((\d+)\)")
SIPID_RE = re.compile(r"\b(si_pid|parent_tid|child_tid|pid)=\[?(\d+)\]?")
WHOLE_PID_RE = re.compile(r"-?\d+")
STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"')
PIDINSTR_RE = re.compile(r"(?<![0-9\\])(\d{3,7})(?![0-9])")


class Normaliser:
    def __init__(self, tr):
        self.labels = label_processes(tr)

    def pid(self, v):
        return self.labels.get(v, "EXT")

    def text(self, name, s):
        s = HEX_RE.sub("0xADDR", s)
        s = SIGTIME_RE.sub(r"\1=T", s)
        s = STTIME_RE.sub(r"\1=T", s)
        s = INO_RE.sub(r"\1=N", s)
        s = PORT_RE.sub(lambda m: "htons(%s)" % ("PORT" if int(m.group(1)) >= 1024
                                                 else m.group(1)), s)
        s = LEFT_RE.sub("left {T}", s)
        if name in TIME_OUT_SYSCALLS:
            s = TIME_FIELD_RE.sub(r"\1=T", s)
        if name in ("statfs", "fstatfs", "statfs64", "fstatfs64"):
            s = STATFS_RE.sub(r"\1=V", s)
        if name == "sysinfo":
            s = SYSINFO_RE.sub(r"\1=V", s)
        if name in RANDOM_DATA_SYSCALLS:
            s = STRING_RE.sub('"RANDOM"', s)
        s = SIPID_RE.sub(lambda m: m.group(0).replace(m.group(2), self.pid(int(m.group(2))))
                         if int(m.group(2)) in self.labels else m.group(0), s)
        # A pid argument is a whole argument ("1234", "-1234" for a group): a number inside a
        # larger one ("8192*1024" of prlimit64) is not a pid even when it equals one.
        if name in PID_ARG_SYSCALLS and WHOLE_PID_RE.fullmatch(s):
            sign, num = s[:len(s) - len(s.lstrip("-"))], s.lstrip("-")
            if int(num) in self.labels:
                s = sign + self.labels[int(num)]
        if '"' in s:    # "/proc/1234/stat", readlink("/proc/self") = "1234"
            s = STRING_RE.sub(lambda m: PIDINSTR_RE.sub(
                lambda n: self.labels.get(int(n.group(1)), n.group(1))
                if int(n.group(1)) >= 100 else n.group(1), m.group(0)), s)
        return s

    def args(self, c):
        return [self.text(c.name, a) for a in c.args]

    def ret(self, c):
        if c.ret is None:
            return ("?", c.err)
        if c.err or c.ret < 0 and c.ret >= -4095 and c.name not in ADDR_RET_SYSCALLS:
            return (c.ret, c.err)
        if c.name in ADDR_RET_SYSCALLS:
            return ("ADDR", None)
        if c.name in TIME_RET_SYSCALLS:
            return ("T", None)
        if c.name in PID_RET_SYSCALLS and c.ret > 0:
            return (self.pid(c.ret), None)
        if c.name in MAYBE_PID_RET_SYSCALLS and c.ret in self.labels:
            return (self.pid(c.ret), None)
        return (c.ret, None)

    def ret_text(self, c):
        rt = re.sub(r"\s+", " ", c.ret_text.strip())
        if c.err is None and c.ret is not None:
            head, _, tail = rt.partition(" ")
            if c.name in ADDR_RET_SYSCALLS:
                head = "ADDR"
            elif c.name in TIME_RET_SYSCALLS:
                head = "T"
            elif c.name in PID_RET_SYSCALLS and c.ret > 0:
                head = self.pid(c.ret)
            elif c.name in MAYBE_PID_RET_SYSCALLS and c.ret in self.labels:
                head = self.pid(c.ret)
            rt = head + (" " + tail if tail else "")
        return self.text(c.name, rt)

    def line(self, c):
        return "%s(%s) = %s" % (c.name, ", ".join(self.args(c)), self.ret_text(c))

    def event(self, ev):
        return self.text("", ev)


# ---------------------------------------------------------------------------------------
# Comparison.

class Stats:
    def __init__(self):
        self.total = 0        # max(len a, len b) summed over processes
        self.names = 0        # aligned calls
        self.rets = 0
        self.args = 0
        self.texts = 0
        self.ev_total = 0
        self.ev_ok = 0
        self.mismatches = []  # (kind, syscall, label, a_text, b_text)
        self.by_syscall = {}  # (kind, syscall) -> count
        self.procs_a = 0
        self.procs_b = 0

    def pct(self, n, d):
        return 100.0 if d == 0 else 100.0 * n / d

    @property
    def names_pct(self):
        return self.pct(self.names, self.total)

    @property
    def rets_pct(self):
        return self.pct(self.rets, self.names)

    @property
    def args_pct(self):
        return self.pct(self.args, self.names)

    @property
    def text_pct(self):
        return self.pct(self.texts, self.names)

    @property
    def events_pct(self):
        return self.pct(self.ev_ok, self.ev_total)

    def miss(self, kind, name, label, a, b):
        self.by_syscall[(kind, name)] = self.by_syscall.get((kind, name), 0) + 1
        self.mismatches.append((kind, name, label, a, b))


def filtered(calls, ignore):
    return [c for c in calls if c.name not in ignore]


def compare(a, b, ignore, what=("rets", "args"), stats=None):
    """Compare trace a (reference) with trace b. what: which per-call checks to run
    ("rets", "args", "text"); names are always aligned. Events are compared if "text"."""
    st = stats or Stats()
    na, nb = Normaliser(a), Normaliser(b)
    by_label_a = {na.labels[t]: t for t in a.order}
    by_label_b = {nb.labels[t]: t for t in b.order}
    st.procs_a, st.procs_b = len(by_label_a), len(by_label_b)
    for label in sorted(set(by_label_a) | set(by_label_b)):
        ca = filtered(a.calls.get(by_label_a.get(label), []), ignore)
        cb = filtered(b.calls.get(by_label_b.get(label), []), ignore)
        st.total += max(len(ca), len(cb))
        sm = difflib.SequenceMatcher(None, [c.name for c in ca], [c.name for c in cb],
                                     autojunk=False)
        for tag, i1, i2, j1, j2 in sm.get_opcodes():
            if tag == "equal":
                for x, y in zip(ca[i1:i2], cb[j1:j2]):
                    st.names += 1
                    if "rets" in what:
                        if na.ret(x) == nb.ret(y):
                            st.rets += 1
                        else:
                            st.miss("ret", x.name, label, na.line(x),
                                    "ret=%s err=%s  [%s]" % (y.ret, y.err, nb.line(y)))
                    if "args" in what:
                        if na.args(x) == nb.args(y):
                            st.args += 1
                        else:
                            ax, ay = na.args(x), nb.args(y)
                            diff = [i for i in range(max(len(ax), len(ay)))
                                    if i >= len(ax) or i >= len(ay) or ax[i] != ay[i]]
                            i = diff[0]
                            st.miss("args", x.name, label,
                                    "%s  [arg %d: %s]" % (x.text, i, ax[i] if i < len(ax) else "-"),
                                    "%s  [arg %d: %s]" % (y.text, i, ay[i] if i < len(ay) else "-"))
                    if "text" in what:
                        if na.line(x) == nb.line(y):
                            st.texts += 1
                        else:
                            st.miss("text", x.name, label, x.text, y.text)
            else:
                ma = ", ".join(c.name for c in ca[i1:i2][:6])
                mb = ", ".join(c.name for c in cb[j1:j2][:6])
                key = ca[i1].name if i2 > i1 else cb[j1].name
                st.miss("name", key, label,
                        "#%d: [%s%s]" % (i1, ma, ", ..." if i2 - i1 > 6 else ""),
                        "#%d: [%s%s]" % (j1, mb, ", ..." if j2 - j1 > 6 else ""))
        if "text" in what:
            ea = [na.event(e) for e in a.events.get(by_label_a.get(label), [])]
            eb = [nb.event(e) for e in b.events.get(by_label_b.get(label), [])]
            st.ev_total += max(len(ea), len(eb))
            for x, y in zip(ea, eb):
                if x == y:
                    st.ev_ok += 1
                else:
                    st.miss("event", "event", label, x, y)
            for x in ea[len(eb):]:
                st.miss("event", "event", label, x, "(missing)")
            for y in eb[len(ea):]:
                st.miss("event", "event", label, "(missing)", y)
    return st


# ---------------------------------------------------------------------------------------
# Running things.

def shell_status(rc):
    """subprocess returncode -> shell-style status (128+N for signal N)."""
    return 128 - rc if rc < 0 else rc


class RunResult:
    def __init__(self, status, stdout, stderr, timed_out, secs):
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.timed_out = timed_out
        self.secs = secs


def run(cmd, cwd, out_prefix, timeout, env=None):
    """Run cmd in cwd with stdin /dev/null, stdout and stderr to files (so that every mode
    sees the same kind of fds). On timeout the whole process group is killed."""
    so = out_prefix + ".stdout"
    se = out_prefix + ".stderr"
    t0 = time.monotonic()
    with open(os.devnull, "rb") as fin, open(so, "wb") as fo, open(se, "wb") as fe:
        p = subprocess.Popen(cmd, cwd=cwd, stdin=fin, stdout=fo, stderr=fe,
                             start_new_session=True, env=env)
        timed_out = False
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            diag = diagnose(p.pid)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
            with open(se, "ab") as fe2:
                fe2.write(("\n[oracle] timed out after %ss; process states:\n%s\n"
                           % (timeout, diag)).encode())
    with open(so, "rb") as f:
        out = f.read()
    with open(se, "rb") as f:
        err = f.read()
    return RunResult(shell_status(p.returncode), out, err, timed_out, time.monotonic() - t0)


def diagnose(pgid):
    """One line per process of the group: pid, state, wchan, cmdline (rr test-monitor-ish)."""
    lines = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            fields = st[st.rfind(")") + 2:].split()
            if int(fields[2]) != pgid:
                continue
            with open("/proc/%s/wchan" % d) as f:
                wchan = f.read()
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            lines.append("  pid %s state %s wchan %s: %s" % (d, fields[0], wchan, cmdline))
        except (OSError, ValueError, IndexError):
            continue
    return "\n".join(lines) or "  (none)"


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def resolve_cmd(cmd):
    """Absolute path for argv[0] so that neither tracer does a PATH search in the trace."""
    if "/" in cmd[0]:
        return [os.path.abspath(cmd[0])] + cmd[1:]
    w = shutil.which(cmd[0])
    if not w:
        raise SystemExit("oracle: %s: not found" % cmd[0])
    return [w] + cmd[1:]


def strace_usable(strace, base):
    if not strace or not os.access(strace, os.X_OK):
        return "strace not found"
    r = run([strace, "-f", "-o", os.path.join(base, "probe.txt"), "--", "/bin/true"], base,
            os.path.join(base, "probe"), 20)
    if r.status != 0:
        return "strace cannot trace here (ptrace unavailable?): %s" % r.stderr.decode(
            errors="replace").strip().splitlines()[-1:]
    return None


class Outcome:
    def __init__(self):
        self.failures = []
        self.notes = []
        self.stats = None
        self.text_stats = None
        self.native = None
        self.traced = None


def tracer_flags(args):
    """Flags given identically to strace and to clonebot trace (-e EXPR, -s N)."""
    f = []
    for e in args.expr:
        f += ["-e", e]
    if args.string_limit is not None:
        f += ["-s", str(args.string_limit)]
    return f


def trace_with_strace(args, cmd, base, tag):
    cwd = fresh_dir(os.path.join(base, "run"))
    out = os.path.join(base, tag + ".txt")
    r = run([args.strace, "-f", "-o", out] + tracer_flags(args) + ["--"] + cmd, cwd,
            os.path.join(base, tag),
            args.timeout)
    with open(out, errors="replace") as f:
        text = f.read()
    return r, parse_strace_text(text)


def run_oracle(args, cmd, base):
    """The full comparison for one command. Returns an Outcome."""
    o = Outcome()
    cwd = fresh_dir(os.path.join(base, "run"))
    o.native = run(cmd, cwd, os.path.join(base, "native"), args.timeout)
    if o.native.timed_out:
        o.failures.append("native run timed out")
        return o
    sr, strace_tr = trace_with_strace(args, cmd, base, "strace")
    if sr.timed_out:
        o.failures.append("strace run timed out")
        return o

    if args.self_check:
        sr2, other = trace_with_strace(args, cmd, base, "strace2")
        o.traced = sr2
        o.stats = compare(strace_tr, other, set(args.ignore), what=("rets", "args", "text"))
        o.text_stats = o.stats
    else:
        cwd = fresh_dir(os.path.join(base, "run"))
        cbt = os.path.join(base, "x.cbt")
        tcmd = [args.clonebot, "trace", "-o", cbt]
        tcmd += tracer_flags(args)
        o.traced = run(tcmd + ["--"] + cmd, cwd, os.path.join(base, "clonebot"), args.timeout)
        if o.traced.timed_out:
            o.failures.append("clonebot trace timed out")
            return o
        js = run([args.clonebot, "show", "--format", "jsonl", cbt], base,
                 os.path.join(base, "show-jsonl"), args.timeout)
        tx = run([args.clonebot, "show", cbt], base, os.path.join(base, "show-text"),
                 args.timeout)
        for what, r in (("show --format jsonl", js), ("show", tx)):
            if r.status != 0 or r.timed_out:
                o.failures.append("clonebot %s exited %d: %s" % (
                    what, r.status, r.stderr.decode(errors="replace").strip()[-300:]))
        jtr = parse_jsonl(js.stdout.decode(errors="replace"))
        if getattr(jtr, "bad_lines", 0):
            o.failures.append("show --format jsonl: %d lines are not JSON" % jtr.bad_lines)
        for p in jtr.schema_problems[:4]:
            o.failures.append("show --format jsonl: %s" % p)
        ttr = parse_strace_text(tx.stdout.decode(errors="replace"))
        o.stats = compare(strace_tr, jtr, set(args.ignore), what=("rets", "args"))
        o.text_stats = compare(strace_tr, ttr, set(args.ignore), what=("text",))

    # Behaviour must not change under the tracer.
    if o.native.stdout != o.traced.stdout:
        la, lb = o.native.stdout.splitlines(), o.traced.stdout.splitlines()
        i = next((k for k in range(max(len(la), len(lb)))
                  if k >= len(la) or k >= len(lb) or la[k] != lb[k]), 0)
        o.failures.append("stdout differs at line %d: native %r vs traced %r" % (
            i + 1, la[i] if i < len(la) else b"(end)", lb[i] if i < len(lb) else b"(end)"))
    if o.native.status != o.traced.status:
        o.failures.append("exit status differs: native %d vs traced %d" % (
            o.native.status, o.traced.status))
    if sr.status != o.native.status:
        o.failures.append("strace run exit status %d differs from native %d" % (
            sr.status, o.native.status))
    if args.expect_status is not None and o.native.status != args.expect_status:
        o.failures.append("native exit status %d, expected %d" % (
            o.native.status, args.expect_status))
    if args.sentinel and args.sentinel.encode() not in o.native.stdout:
        o.failures.append("native stdout lacks %s: %r" % (args.sentinel, o.native.stdout[-300:]))
    if strace_tr.ncalls() == 0 and not args.expr:
        o.failures.append("strace recorded nothing")

    st, ts = o.stats, o.text_stats
    for label, val, lim in (("names", st.names_pct, args.min_names),
                            ("returns", st.rets_pct, args.min_returns),
                            ("args", st.args_pct, args.min_args),
                            ("text", ts.text_pct, args.min_text),
                            ("events", ts.events_pct, args.min_events)):
        if val + 1e-9 < lim:
            o.failures.append("%s match %.2f%% < %.2f%%" % (label, val, lim))
    return o


def report(args, cmd, o, out=sys.stdout):
    w = out.write
    w("oracle: %s\n" % " ".join(cmd))
    if o.native:
        w("  native:  status %d, %d bytes stdout, %.2fs\n" % (
            o.native.status, len(o.native.stdout), o.native.secs))
    if o.traced:
        w("  %s: status %d, %d bytes stdout, %.2fs\n" % (
            "strace2" if args.self_check else "clonebot", o.traced.status,
            len(o.traced.stdout), o.traced.secs))
    st, ts = o.stats, o.text_stats
    if st:
        w("  processes: strace %d, other %d; calls compared (max of both) %d\n" % (
            st.procs_a, st.procs_b, st.total))
        w("  names %.2f%%  returns %.2f%%  args %.2f%%  text %.2f%%  events %.2f%%\n" % (
            st.names_pct, st.rets_pct, st.args_pct, ts.text_pct, ts.events_pct))
        mism = st.mismatches + ([m for m in ts.mismatches] if ts is not st else [])
        if mism:
            counts = {}
            for k, n in list(st.by_syscall.items()) + (
                    list(ts.by_syscall.items()) if ts is not st else []):
                counts[k] = counts.get(k, 0) + n
            top = sorted(counts.items(), key=lambda kv: -kv[1])[:12]
            w("  mismatches by kind/syscall: %s\n" % ", ".join(
                "%s:%s=%d" % (k[0], k[1], n) for (k, n) in top))
            shown = set()
            nshow = 0
            for kind, name, label, a, b in mism:
                if (kind, name) in shown and not args.verbose:
                    continue
                shown.add((kind, name))
                w("  - %s mismatch in %s (%s)\n      strace:   %s\n      clonebot: %s\n" % (
                    kind, name, label, a[:300], b[:300]))
                nshow += 1
                if nshow >= args.max_mismatches:
                    break
    for f in o.notes:
        w("  note: %s\n" % f)
    for f in o.failures:
        w("  FAIL: %s\n" % f)
    w("  %s\n" % ("PASS" if not o.failures else "FAIL"))


def dump_strace(args, cmd, base):
    r, tr = trace_with_strace(args, cmd, base, "strace")
    labels = label_processes(tr)
    n = Normaliser(tr)
    for tid in tr.order:
        print("== tid %d (%s): %d calls, events %s" % (tid, labels[tid], len(tr.calls[tid]),
                                                        tr.events[tid]))
        for c in tr.calls[tid]:
            print("   %-60s ret=%s err=%s nargs=%d%s" % (n.line(c)[:60], c.ret, c.err,
                                                       len(c.args),
                                                       "" if c.complete else " INCOMPLETE"))
    print("status %d" % r.status)
    return 0


def tools_table(args, base):
    rows = []
    worst = 0
    for t in (args.tool or []) and [t.split() for t in args.tool] or DEFAULT_TOOLS:
        cmd = resolve_cmd(t)
        tb = fresh_dir(os.path.join(base, re.sub(r"[^A-Za-z0-9]+", "_", " ".join(t))[:40]))
        o = run_oracle(args, cmd, tb)
        for _ in range(args.retries):
            # Real tools race with themselves (`sh -c 'a | b'`: which child is reaped
            # first); a mismatch that a rerun does not reproduce is the tool's, not ours.
            if not o.failures:
                break
            o2 = run_oracle(args, cmd, tb)
            if len(o2.failures) < len(o.failures):
                o = o2
        if " ".join(t) in STDOUT_VARIES:
            for f in [f for f in o.failures if f.startswith("stdout differs")]:
                o.failures.remove(f)
                o.notes.append(f + " (expected for this tool)")
        report(args, cmd, o, out=sys.stderr)
        rows.append((" ".join(t), o))
        if o.failures:
            worst = 1
    print("| command | calls | names % | returns % | args % | text % | events % | status |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, o in rows:
        st, ts = o.stats, o.text_stats
        if st is None:
            print("| `%s` | - | - | - | - | - | - | %s |" % (name, "; ".join(o.failures)))
            continue
        print("| `%s` | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %s |" % (
            name, st.total, st.names_pct, st.rets_pct, st.args_pct, ts.text_pct,
            ts.events_pct, "ok" if not o.failures else "FAIL"))
    return worst


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__)
    ap.add_argument("--clonebot", default=os.environ.get("CLONEBOT", "clonebot"))
    ap.add_argument("--strace", default=shutil.which("strace"))
    ap.add_argument("--min-names", type=float, default=100.0)
    ap.add_argument("--min-returns", type=float, default=98.0)
    ap.add_argument("--min-args", type=float, default=95.0)
    ap.add_argument("--min-text", type=float, default=0.0)
    ap.add_argument("--min-events", type=float, default=0.0)
    ap.add_argument("--ignore", action="append", default=[],
                    help="syscall to drop from both sides (repeatable, or comma list)")
    ap.add_argument("--expect-status", type=int)
    ap.add_argument("--sentinel", default=None,
                    help="string the native stdout must contain (e.g. EXIT-SUCCESS)")
    ap.add_argument("-s", "--string-limit", type=int, default=None,
                    help="pass -s N to strace and clonebot trace (default: theirs, 32)")
    ap.add_argument("-e", "--expr", action="append", default=[],
                    help="pass -e EXPR (e.g. trace=%%file) to strace and clonebot trace; "
                    "a partial filter exercises clonebot's seccomp prefilter")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per run")
    ap.add_argument("--workdir", help="keep the runs' files here (default: a temp dir, removed)")
    ap.add_argument("--max-mismatches", type=int, default=8)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--self-check", action="store_true",
                    help="compare two strace runs instead of strace and clonebot")
    ap.add_argument("--strace-only", action="store_true")
    ap.add_argument("--tools", action="store_true", help="run the real-tool table")
    ap.add_argument("--tool", action="append", help="a tool command line for --tools")
    ap.add_argument("--retries", type=int, default=2,
                    help="--tools: rerun a failing tool up to N times (inherent races)")
    ap.add_argument("cmd", nargs="*")
    args = ap.parse_args(argv)
    args.ignore = [x for i in args.ignore for x in i.split(",") if x]
    if args.clonebot and "/" in args.clonebot:
        args.clonebot = os.path.abspath(args.clonebot)

    base = args.workdir or tempfile.mkdtemp(prefix="cbk-oracle-")
    os.makedirs(base, exist_ok=True)
    base = os.path.abspath(base)
    try:
        why = strace_usable(args.strace, base)
        if why:
            print("SKIP: %s" % why)
            return SKIP
        if not args.self_check and not args.strace_only:
            cb = args.clonebot if "/" in args.clonebot else shutil.which(args.clonebot)
            if not cb or not os.access(cb, os.X_OK):
                print("oracle: clonebot binary not found: %s" % args.clonebot)
                return 1
        if args.tools:
            return tools_table(args, base)
        if not args.cmd:
            ap.error("no command")
        cmd = resolve_cmd(args.cmd)
        if args.strace_only:
            return dump_strace(args, cmd, base)
        o = run_oracle(args, cmd, base)
        report(args, cmd, o)
        if o.failures and args.workdir:
            print("  files kept in %s" % base)
        return 1 if o.failures else 0
    finally:
        if not args.workdir:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
