#!/usr/bin/env python3
"""Kernel tests for `clonebot snapshot/diff/extract/inspect` (label "kernel").

Each case is one ctest entry (kernel.snapshot.<case>), run as
    snapshot_test.py --clonebot BUILD/clonebot --progs BUILD/tests/kernel/snapshot/progs --case NAME
The target is progs/snap_target (see its header): its memory is known byte for byte
(pattern.py), so every extract is compared with the exact expected bytes.

Cases:
  selfcheck        (no clonebot) snap_target against pattern.py through /proc/PID/mem and
                   /proc/PID/pagemap: contents, which pages are present, W/Z/N/U, threads alive
  full             full snapshot: JSON summary, whole region extracts exactly (zero pages and
                   never-touched pages as zeros), unmapped address -> error, inspect names the
                   method, `skopeo inspect oci:DIR` accepts it
  incremental_uffd / incremental_hash
                   base, W a chosen set (pages 3,4,5,100, last, a zero page, a never-touched
                   page, and one page rewritten with identical bytes), t1 --parent base:
                   diff's `changed` is exactly that set minus the identical page; both extract
                   exactly
  incremental_large
                   84 MiB written after a uffd-wp base (more than the stop window copies):
                   diff names every written page; t1 extracts the same bytes as a fresh full
                   snapshot
  dontneed         Z pages -> diff shows them changed (not a Z of an already-zero page),
                   extract gives zeros
  mapping          N -> diff shows the new mapping added, it extracts exactly; U -> removed,
                   extract there fails
  chain5           five incremental snapshots after different W/Z sets; every one (and the base)
                   extracts exactly at the end; consecutive diffs exact
  chain_deep       twenty incremental snapshots in directories with 230-character names (the
                   parent paths, resolved naively, would exceed PATH_MAX): the last one and the
                   base extract exactly, and diff base..last names exactly the written pages
  threads          --threads 4: snapshots leave every thread running (counters advance), no
                   SIGCHLD, no zombie or child; stall measured by the target vs stopped_ns
  killed_mid       SIGKILL the 256 MiB target 20 ms after clonebot starts, and (a new target)
                   20 ms after clonebot is seen attached: clonebot fails with one
                   stderr line and leaves no DIR and no .partial dir (or, if it finished from
                   a copy, the image is complete and correct); no copy of the target left
  clonebot_killed  SIGKILL clonebot 5 and 15 ms, and 20-95% of an uninterrupted snapshot's time,
                   into --method hash snapshots of a 256 MiB target (at least 3 kills must land
                   inside one; an image published before its kill must be whole):
                   the target runs on (answers, not stopped, no tracer, no child left), no DIR,
                   the parent image still opens and extracts; the next snapshot works and
                   removes stale .partial dirs
  not_permitted    clonebot as uid 65534 against a root-owned target: one clear error
  no_such_pid      PID 999999: one clear error
  corrupt_image    truncated / modified / missing blobs, bad index.json: inspect and extract
                   fail with one clear error (never a crash, never silently wrong bytes)
  foreign_parent   --parent image of a different PID: one clear error, no DIR
  tmpfs            incremental_uffd and fork with the images on /dev/shm (packs written inline,
                   paired from the first frame): exact extracts, every blob's digest checked
Exit 0 pass, 1 fail, 77 skip (clonebot has no snapshot command yet, or the feature is missing).
"""

import argparse
import hashlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pattern  # noqa: E402

SKIP = 77
PAGE = os.sysconf("SC_PAGE_SIZE")
NPAGES = 1024
BIG_PAGES = 65536            # 256 MiB
CRASH_RE = re.compile(r"Traceback|terminate called|Assertion|Sanitizer|core dumped|Segmentation|"
                      r"Aborted|CHECK failed|panic", re.I)
SUMMARY_KEYS = {"image": str, "pid": int, "method": str, "pages_scanned": int,
                "pages_present": int, "pages_written": int, "bytes_stored": int,
                "dedup_ratio": (int, float), "compression_ratio": (int, float),
                "stopped_ns": int, "total_ns": int}
METHODS = {"full", "uffd-wp", "soft-dirty", "hash"}


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


T0 = time.monotonic()


def log(msg):
    print("[%5.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


def proc_state(pid):
    """(state letter, TracerPid) or None if gone or a zombie."""
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


def describe_task(pid):
    """What a process is doing, for a failure message: its command, and per thread the state,
    the syscall it is in and its kernel stack (root only)."""
    out = []
    try:
        out.append("cmdline %r" % open("/proc/%d/cmdline" % pid, "rb").read().replace(b"\0", b" ")[:200])
        for task in sorted(os.listdir("/proc/%d/task" % pid)):
            base = "/proc/%d/task/%s/" % (pid, task)
            parts = [task]
            for name in ("stat", "syscall", "wchan", "stack"):
                try:
                    v = open(base + name).read().strip()
                except OSError:
                    continue
                if name == "stat":
                    v = "state " + v[v.rfind(")") + 2:].split()[0]
                parts.append(v.replace("\n", " | ")[:300])
            out.append("; ".join(parts))
    except OSError as e:
        out.append(str(e))
    return " // ".join(out)


def wait_for(pred, timeout, step=0.005):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def where(pid):
    """Kernel wait channel of each thread of pid (diagnostics for a hang)."""
    out = []
    try:
        for tid in sorted(os.listdir("/proc/%d/task" % pid)):
            with open("/proc/%d/task/%s/wchan" % (pid, tid)) as f:
                out.append("%s:%s" % (tid, f.read().strip() or "running"))
    except OSError:
        pass
    return " ".join(out) or "?"


def pids_with_cmdline(argv):
    """Pids whose /proc/PID/cmdline is exactly argv (finds copies of a tagged target)."""
    want = ("\0".join(argv) + "\0").encode()
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if f.read() == want:
                    out.append(int(d))
        except OSError:
            pass
    return out


class Target:
    """A running snap_target, spoken to line by line with timeouts."""

    def __init__(self, env, npages, threads=0, extra=(), model=True):
        self.env = env
        self.npages = npages
        self.argv = [env.prog("snap_target"), str(npages), "--tag", "snaptest-%d" % os.getpid()]
        if threads:
            self.argv += ["--threads", str(threads)]
        self.argv += list(extra)
        self.errpath = os.path.join(env.dir, "target-%d.stderr" % len(env.targets))
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(self.errpath, "wb"), cwd=env.dir)
        env.targets.append(self)
        self.pid = self.proc.pid
        self.buf = b""
        ready = self.readline(30).split()
        check(len(ready) == 3 and ready[0] == "READY", "target said %r, not READY" % ready)
        self.addr = int(ready[1], 16)
        check(int(ready[2]) == npages, "target READY with %s pages" % ready[2])
        # (a 256 MiB target's model would take 13 s of Python: big targets go without)
        self.model = pattern.Model(npages, PAGE) if model else None

    def readline(self, timeout=10):
        fd = self.proc.stdout.fileno()
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            st = proc_state(self.pid)
            check(left > 0, "target %d did not answer within %ss (state %s)" %
                  (self.pid, timeout, st and st[0]))
            r, _, _ = select.select([fd], [], [], min(left, 0.5))
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    try:
                        rc = self.proc.wait(2)
                    except subprocess.TimeoutExpired:
                        rc = None
                    sig = (" = %s" % signal.Signals(-rc).name) if rc and rc < 0 else ""
                    raise Fail("target %d closed stdout (exit status %s%s): %r" %
                               (self.pid, rc, sig, self.stderr()))
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def stderr(self):
        try:
            with open(self.errpath, errors="replace") as f:
                return f.read().strip()[-300:]
        except OSError:
            return ""

    def cmd(self, line, timeout=10):
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise Fail("target %d gone (exit %s) before %r" % (self.pid, self.proc.poll(), line))
        ans = self.readline(timeout)
        check(not ans.startswith("ERR"), "target: %r -> %r" % (line, ans))
        return ans

    def write(self, seed, idxs):
        idxs = list(idxs)
        self.cmd("W %d %s" % (seed, " ".join(map(str, idxs))))
        if self.model:
            self.model.write(seed, idxs)

    def zero(self, idxs):
        idxs = list(idxs)
        self.cmd("Z %s" % " ".join(map(str, idxs)))
        if self.model:
            self.model.zero(idxs)

    def stall(self):
        return int(self.cmd("S").split()[1])

    def children(self):
        f = self.cmd("C").split()
        return {f[i]: int(f[i + 1]) for i in range(0, len(f) - 1, 2)}

    def thread_iters(self):
        return [int(x) for x in self.cmd("T").split()[1:]]

    def assert_alive(self, what, settle=3):
        """Alive, not stopped, not traced (within |settle| seconds), answering."""
        wait_for(lambda: (proc_state(self.pid) or ("?", 0))[1] == 0, settle)
        st = proc_state(self.pid)
        if st is None:
            try:
                rc = self.proc.wait(2)
            except subprocess.TimeoutExpired:
                rc = "unknown (not reaped)"
            sig = (" = %s" % signal.Signals(-rc).name) if isinstance(rc, int) and rc < 0 else ""
            raise Fail("%s: target %d died: exit status %s%s; its stderr: %r" %
                       (what, self.pid, rc, sig, self.stderr()))
        check(st[0] not in "tT", "%s: target %d left stopped (state %s)" % (what, self.pid, st[0]))
        check(st[1] == 0, "%s: target %d still traced by %d (%s)" %
              (what, self.pid, st[1], describe_task(st[1]) if st[1] else ""))
        self.stall()   # answers


class Env:
    def __init__(self, args):
        self.clonebot = os.path.abspath(args.clonebot)
        self.progs = os.path.abspath(args.progs)
        self.dir = tempfile.mkdtemp(prefix="cbk-snap-")
        os.chmod(self.dir, 0o755)
        self.targets = []
        self.procs = []
        self.keep = args.keep

    def prog(self, name):
        p = os.path.join(self.progs, name)
        check(os.access(p, os.X_OK), "missing test program %s" % p)
        return p

    def path(self, name):
        return os.path.join(self.dir, name)

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        for t in self.targets:
            if t.proc.poll() is None:
                try:
                    os.kill(t.pid, signal.SIGCONT)
                except OSError:
                    pass
                t.proc.kill()
            try:
                t.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            # Copies of a target that a snapshot made and left behind (same tagged cmdline):
            # reported by the cases that check for them, removed here.
            for pid in pids_with_cmdline(t.argv):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- clonebot ---
    def run(self, args, timeout=60, user=None):
        cmd = [self.clonebot] + args
        if user is not None:
            cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.dir)
        self.procs.append(p)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise Fail("clonebot %s: no exit within %ss" % (" ".join(args), timeout))
        return p.returncode, out.decode(errors="replace"), err.decode(errors="replace"), \
            time.monotonic() - t0

    def ok(self, args, timeout=60):
        rc, out, err, _ = self.run(args, timeout)
        check(rc == 0, "clonebot %s -> exit %d: %s" % (" ".join(args), rc, err.strip()[:500]))
        check(not CRASH_RE.search(err), "clonebot %s: stderr %r" % (" ".join(args), err[:300]))
        return out

    def json(self, args, timeout=60):
        out = self.ok(args + ["--format", "json"], timeout)
        try:
            return json.loads(out)
        except ValueError as e:
            raise Fail("clonebot %s --format json: not JSON (%s): %r" %
                       (" ".join(args), e, out[:300]))

    def snapshot(self, target, name, parent=None, method=None, extra=()):
        """Snapshot; checks the JSON summary and the stall the target measured."""
        d = self.path(name)
        args = ["snapshot", str(target.pid), "-o", d]
        if parent:
            args += ["--parent", self.path(parent)]
        if method:
            args += ["--method", method]
        args += list(extra)
        target.stall()
        s = self.json(args)
        stall = target.stall()
        check(isinstance(s, dict), "snapshot summary is not an object: %r" % s)
        for k, ty in SUMMARY_KEYS.items():
            check(k in s, "snapshot summary lacks %r: %r" % (k, s))
            check(isinstance(s[k], ty) and not isinstance(s[k], bool),
                  "snapshot summary %r has type %s: %r" % (k, type(s[k]).__name__, s[k]))
        check(s["pid"] == target.pid, "summary pid %r != %d" % (s["pid"], target.pid))
        check(os.path.realpath(s["image"]) == os.path.realpath(d),
              "summary image %r != %r" % (s["image"], d))
        check(s["method"] in METHODS, "summary method %r" % s["method"])
        if parent is None:
            check(s["method"] == "full", "full snapshot reports method %r" % s["method"])
        else:
            check(s["method"] != "full", "incremental snapshot reports method 'full'")
            want = {"uffd": "uffd-wp", "hash": "hash"}.get(method)
            if want:
                check(s["method"] == want, "--method %s reports method %r" % (method, s["method"]))
        # (pages_written may exceed pages_present: pages of file mappings that are not mapped
        # in yet still have contents)
        check(s["pages_present"] <= s["pages_scanned"] and s["pages_written"] <= s["pages_scanned"],
              "summary needs pages_present, pages_written <= pages_scanned: %r" % s)
        check(0 <= s["stopped_ns"] <= s["total_ns"], "summary needs stopped_ns <= total_ns: %r" % s)
        check(os.path.isdir(d), "snapshot exit 0 but no %s" % d)
        s["_stall_ns"] = stall
        log("  snapshot %-8s method=%-8s scanned=%d present=%d written=%d stored=%d "
            "stopped=%.2fms total=%.1fms target-stall=%.2fms" %
            (name, s["method"], s["pages_scanned"], s["pages_present"], s["pages_written"],
             s["bytes_stored"], s["stopped_ns"] / 1e6, s["total_ns"] / 1e6, stall / 1e6))
        return s

    def extract(self, name, addr, length):
        out = self.path("extract.bin")
        if os.path.exists(out):
            os.unlink(out)
        self.ok(["extract", self.path(name), "--addr", "0x%x" % addr, "--len", str(length),
                 "-o", out])
        with open(out, "rb") as f:
            return f.read()

    def check_extract(self, name, target, model):
        got = self.extract(name, target.addr, target.npages * PAGE)
        want = model.bytes()
        if got != want:
            check(len(got) == len(want), "extract %s: %d bytes, expected %d" %
                  (name, len(got), len(want)))
            bad = [i for i in range(target.npages)
                   if got[i * PAGE:(i + 1) * PAGE] != model.pages[i]]
            desc = []
            for i in bad[:8]:
                g = got[i * PAGE:(i + 1) * PAGE]
                what = ("got zeros" if g == pattern.ZERO_PAGE else
                        "expected zeros" if model.pages[i] == pattern.ZERO_PAGE else "differs")
                desc.append("%d(%s)" % (i, what))
            raise Fail("extract %s: %d of %d pages wrong: %s" %
                       (name, len(bad), target.npages, ", ".join(desc)))

    def diff(self, a, b):
        d = self.json(["diff", self.path(a), self.path(b)])
        check(isinstance(d.get("mappings"), list) and isinstance(d.get("changed"), list),
              "diff JSON lacks mappings/changed lists: %r" % str(d)[:300])
        for m in d["mappings"]:
            for k in ("start", "end", "perms", "name", "status", "changed_pages"):
                check(k in m, "diff mapping lacks %r: %r" % (k, m))
            check(m["status"] in ("added", "removed", "changed", "unchanged"),
                  "diff mapping status %r" % m["status"])
        prev = None
        for r in d["changed"]:
            for k in ("start", "end", "pages", "mapping"):
                check(k in r, "diff changed run lacks %r: %r" % (k, r))
            s, e = int(r["start"], 16), int(r["end"], 16)
            check(s < e and s % PAGE == 0 and e % PAGE == 0,
                  "diff changed run not page-aligned or empty: %r" % r)
            check(r["pages"] == (e - s) // PAGE, "diff run pages %r != size: %r" % (r["pages"], r))
            if prev is not None:
                check(s >= prev[1], "diff changed runs overlap or unsorted: %r" % r)
                check(not (s == prev[1] and r["mapping"] == prev[2]),
                      "diff changed runs not maximal: two adjacent runs at 0x%x" % s)
            prev = (s, e, r["mapping"])
        return d

    def check_diff_region(self, d, target, want_pages, what):
        """diff's changed runs inside target's region must be exactly want_pages."""
        lo, hi = target.addr, target.addr + target.npages * PAGE
        got = set()
        for r in d["changed"]:
            s, e = int(r["start"], 16), int(r["end"], 16)
            for a in range(max(s, lo), min(e, hi), PAGE):
                got.add((a - lo) // PAGE)
        want = set(want_pages)
        check(got == want, "%s: diff changed pages in region: missing %s, extra %s" %
              (what, sorted(want - got)[:20], sorted(got - want)[:20]))
        m = self.region_mapping(d, lo, hi)
        check(m is not None, "%s: diff has no mapping 0x%x-0x%x (region)" % (what, lo, hi))
        check(m["changed_pages"] == len(want), "%s: region mapping changed_pages %r, expected %d"
              % (what, m["changed_pages"], len(want)))
        check(m["status"] == ("changed" if want else "unchanged"),
              "%s: region mapping status %r" % (what, m["status"]))
        check(m["perms"].startswith("rw"), "%s: region perms %r" % (what, m["perms"]))

    @staticmethod
    def region_mapping(d, lo, hi):
        for m in d["mappings"]:
            if int(m["start"], 16) == lo and int(m["end"], 16) == hi:
                return m
        return None

    def clean_error(self, args, what, expect_re=None, user=None, timeout=60):
        """clonebot must fail with exactly one clear stderr line and no crash."""
        rc, out, err, _ = self.run(args, timeout, user)
        lines = [l for l in err.splitlines() if l.strip()]
        check(rc != 0, "%s: clonebot %s exited 0 (stdout %r)" % (what, " ".join(args), out[:200]))
        check(0 < rc < 128, "%s: clonebot exit status %d (crash or signal): %r" %
              (what, rc, err[-300:]))
        check(len(lines) == 1, "%s: expected one stderr line, got %d: %r" %
              (what, len(lines), err[:500]))
        check(not CRASH_RE.search(err), "%s: stderr looks like a crash: %r" % (what, err))
        if expect_re:
            check(re.search(expect_re, lines[0], re.I),
                  "%s: error %r does not match /%s/" % (what, lines[0], expect_re))
        log("  %s: exit %d: %s" % (what, rc, lines[0]))
        return lines[0]

    def no_leftovers(self, name, what):
        d = self.path(name)
        check(not os.path.exists(d), "%s: %s exists after a failed snapshot" % (what, d))
        partial = [n for n in os.listdir(self.dir) if ".partial" in n and name in n]
        check(not partial, "%s: partial directories left: %s" % (what, partial))


# ---------------------------------------------------------------- cases

def case_selfcheck(env):
    """snap_target vs pattern.py, natively through /proc/PID/mem and pagemap."""
    t = Target(env, 256, threads=4)

    def mem(addr, n):
        with open("/proc/%d/mem" % t.pid, "rb") as f:
            f.seek(addr)
            return f.read(n)

    def present(idx_base, n):
        with open("/proc/%d/pagemap" % t.pid, "rb") as f:
            f.seek((idx_base // PAGE) * 8)
            raw = f.read(8 * n)
        return [bool(int.from_bytes(raw[8 * i:8 * i + 8], "little") >> 63) for i in range(n)]

    def compare(what):
        got = mem(t.addr, t.npages * PAGE)
        bad = [i for i in range(t.npages) if got[i * PAGE:(i + 1) * PAGE] != t.model.pages[i]]
        check(not bad, "%s: /proc/PID/mem differs from pattern.py at pages %s" % (what, bad[:10]))

    # presence first: reading /proc/PID/mem maps the zero page into never-touched pages
    pres = present(t.addr, t.npages)
    check(not any(pres[i] for i in range(0, t.npages, 8)),
          "never-touched pages are present: %s" % [i for i in range(0, t.npages, 8) if pres[i]][:10])
    check(all(pres[i] for i in range(t.npages) if i % 8), "written pages not present")
    compare("initial")
    with open("/proc/%d/maps" % t.pid) as f:
        maps = f.read()
    check(re.search(r"^%x-%x rw-p " % (t.addr, t.addr + t.npages * PAGE), maps, re.M),
          "region is not exactly one rw-p mapping:\n" + maps)
    t.write(5, [0, 1, 2, 255])
    t.zero([3, 9, 16])
    pres = present(t.addr, t.npages)
    check(pres[0] and pres[255] and not pres[3] and not pres[9], "W/Z presence wrong")
    compare("after W/Z")
    naddr = int(t.cmd("N 16").split()[1], 16)
    got = mem(naddr, 16 * PAGE)
    check(got == b"".join(pattern.pattern(77, i) for i in range(16)), "N region differs")
    check(re.search(r"^%x-%x rw-p " % (naddr, naddr + 16 * PAGE),
                    open("/proc/%d/maps" % t.pid).read(), re.M), "N region not one mapping")
    t.cmd("U")
    check("%x-" % naddr not in open("/proc/%d/maps" % t.pid).read(), "U left the mapping")
    a = t.thread_iters()
    time.sleep(0.05)
    b = t.thread_iters()
    check(len(a) == 4 and all(y > x for x, y in zip(a, b)), "threads not advancing: %s %s" % (a, b))
    t.stall()
    time.sleep(0.05)
    st = t.stall()
    check(0 < st < 500_000_000, "idle stall %d ns" % st)
    os.kill(t.pid, signal.SIGSTOP)
    time.sleep(0.1)
    os.kill(t.pid, signal.SIGCONT)
    st = t.stall()
    check(st >= 90_000_000, "SIGSTOP for 100 ms measured as a %d ns stall" % st)
    c = t.children()
    check(c == {"SIGCHLD": 0, "ZOMBIES": 0, "CHILDREN": 0}, "children %r" % c)
    log("  target matches pattern.py (contents, presence, W/Z/N/U, threads, stall %.1f ms "
        "for a 100 ms SIGSTOP)" % (st / 1e6))


def case_full(env):
    t = Target(env, NPAGES)
    s = env.snapshot(t, "full")
    check(s["pages_present"] >= NPAGES * 7 // 8,
          "pages_present %d < the region's %d present pages" % (s["pages_present"], NPAGES * 7 // 8))
    env.check_extract("full", t, t.model)
    # a part of the region, unaligned
    got = env.extract("full", t.addr + 3 * PAGE + 100, 2 * PAGE)
    check(got == t.model.bytes()[3 * PAGE + 100:5 * PAGE + 100], "unaligned extract differs")
    env.clean_error(["extract", env.path("full"), "--addr", "0x1000", "--len", "4096", "-o",
                     env.path("x.bin")], "extract of an unmapped address")
    env.clean_error(["extract", env.path("full"), "--addr", "0x%x" % (t.addr + (NPAGES - 1) * PAGE),
                     "--len", str(2 * PAGE + PAGE), "-o", env.path("x.bin")],
                    "extract running past the end of a mapping into the guard and beyond")
    info = env.json(["inspect", env.path("full")])
    check(info.get("method") == "full", "inspect method %r" % info.get("method"))
    check(not info.get("parent"), "full image has parent %r" % info.get("parent"))
    text = env.ok(["inspect", env.path("full")])
    check("full" in text, "inspect text does not name the method: %r" % text[:300])
    if shutil.which("skopeo"):
        p = subprocess.run(["skopeo", "inspect", "oci:" + env.path("full")],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, "skopeo inspect oci:DIR -> %d: %s" % (p.returncode, p.stderr[:300]))
        log("  skopeo inspect: ok")
    else:
        log("  skopeo missing: not checked")
    t.assert_alive("after full snapshot")


def write_set(npages):
    """Pages 3,4,5,100, last, a zero page (9), a never-touched page (16)."""
    return [3, 4, 5, 100, npages - 1, 9, 16]


def case_incremental(env, method):
    if method == "uffd":
        info = env.json(["check"])
        dt = json.dumps(info.get("backends", {}).get("dirty_tracking", ""))
        if "uffd" not in dt:
            raise Skip("uffd-wp dirty tracking not available here (check: %s)" % dt)
    t = Target(env, NPAGES)
    base_model = t.model.copy()
    base = env.snapshot(t, "base", method=method)
    ws = write_set(NPAGES)
    t.write(1, ws)
    t.write(0, [10])                 # same bytes as before: written, but content unchanged
    inc = env.snapshot(t, "t1", parent="base", method=method)
    check(inc["bytes_stored"] < base["bytes_stored"] // 4,
          "incremental stored %d bytes, base %d" % (inc["bytes_stored"], base["bytes_stored"]))
    if method == "uffd":
        # Only what was written is read: the region's 8 pages, plus what the target's own stack,
        # heap and libc wrote meanwhile; unwritten tracked pages are inherited, not read again.
        check(inc["pages_written"] < len(ws) + 1 + NPAGES // 4,
              "uffd-wp incremental read %d pages for %d written (%d present)" %
              (inc["pages_written"], len(ws) + 1, inc["pages_present"]))
    d = env.diff("base", "t1")
    env.check_diff_region(d, t, ws, "diff base t1")
    env.check_extract("t1", t, t.model)
    env.check_extract("base", t, base_model)
    info = env.json(["inspect", env.path("t1")])
    check(info.get("method") == inc["method"], "inspect method %r, snapshot said %r" %
          (info.get("method"), inc["method"]))
    check(info.get("parent"), "inspect of an incremental image names no parent: %r" %
          {k: info[k] for k in list(info)[:10]})
    # The reverse diff is the same set.
    env.check_diff_region(env.diff("t1", "base"), t, ws, "diff t1 base")
    # Nothing written: an empty region diff.
    env.snapshot(t, "t2", parent="t1", method=method)
    env.check_diff_region(env.diff("t1", "t2"), t, [], "diff t1 t2 (nothing written)")
    env.check_extract("t2", t, t.model)
    t.assert_alive("after incremental snapshots")


def case_incremental_large(env):
    """More written since the parent than the stop window may copy (64 MiB): every written page
    must still reach the image (the pre-copy re-protects what it scans, so it must copy all of
    it; it once stopped at 64 MiB and the image silently kept the parent's bytes)."""
    info = env.json(["check"])
    if "uffd" not in json.dumps(info.get("backends", {}).get("dirty_tracking", "")):
        raise Skip("uffd-wp dirty tracking not available here")
    n = 24576                                   # 96 MiB region, 84 MiB of it present
    t = Target(env, n, model=False)
    env.snapshot(t, "base", method="uffd")
    ws = [i for i in range(n) if i % 8 != 0]    # 21504 pages, 84 MiB: all but the untouched
    for k in range(0, len(ws), 4000):           # the target reads lines of up to 64 KiB
        t.write(1, ws[k:k + 4000])
    inc = env.snapshot(t, "t1", parent="base", method="uffd")
    check(inc["pages_written"] >= len(ws),
          "incremental read %d pages, %d were written" % (inc["pages_written"], len(ws)))
    env.check_diff_region(env.diff("base", "t1"), t, ws, "diff base t1 (84 MiB written)")
    # Nothing writes the region now: a fresh full snapshot must hold the same bytes there.
    env.snapshot(t, "full2", extra=["--no-track"])
    a = env.extract("t1", t.addr, n * PAGE)
    b = env.extract("full2", t.addr, n * PAGE)
    if a != b:
        bad = [i for i in range(n) if a[i * PAGE:(i + 1) * PAGE] != b[i * PAGE:(i + 1) * PAGE]]
        raise Fail("extract t1 differs from a full snapshot in %d pages, first %s" % (len(bad), bad[:8]))
    check(b[PAGE:2 * PAGE] == pattern.pattern(1, 1), "page 1 is not pattern(1, 1)")
    t.assert_alive("after a large incremental snapshot")


def case_dontneed(env):
    t = Target(env, NPAGES)
    base_model = t.model.copy()
    env.snapshot(t, "base")
    zs = [2, 3, 50, 51, 52, NPAGES - 1]
    t.zero(zs + [17])               # 17 is a zero page already: content unchanged
    env.snapshot(t, "t1", parent="base")
    env.check_diff_region(env.diff("base", "t1"), t, zs, "diff after MADV_DONTNEED")
    env.check_extract("t1", t, t.model)
    env.check_extract("base", t, base_model)
    # A page zeroed and then written again with its old bytes: unchanged against base.
    t.write(0, [50])
    env.snapshot(t, "t2", parent="t1")
    env.check_diff_region(env.diff("t1", "t2"), t, [50], "diff t1 t2 (page 50 back)")
    env.check_diff_region(env.diff("base", "t2"), t, [z for z in zs if z != 50], "diff base t2")
    env.check_extract("t2", t, t.model)
    t.assert_alive("after dontneed")


def case_mapping(env):
    t = Target(env, 64)
    env.snapshot(t, "base")
    n = 24
    naddr = int(t.cmd("N %d" % n).split()[1], 16)
    env.snapshot(t, "t1", parent="base")
    d = env.diff("base", "t1")
    m = env.region_mapping(d, naddr, naddr + n * PAGE)
    check(m is not None, "diff base t1: no mapping 0x%x-0x%x for the new region" %
          (naddr, naddr + n * PAGE))
    check(m["status"] == "added", "new region status %r" % m["status"])
    env.check_diff_region(d, t, [], "diff base t1 (old region untouched)")
    got = env.extract("t1", naddr, n * PAGE)
    check(got == b"".join(pattern.pattern(77, i) for i in range(n)), "new region extract differs")
    t.cmd("U")
    env.snapshot(t, "t2", parent="t1")
    d = env.diff("t1", "t2")
    m = env.region_mapping(d, naddr, naddr + n * PAGE)
    check(m is not None and m["status"] == "removed",
          "diff t1 t2: unmapped region should be 'removed', is %r" % m)
    env.clean_error(["extract", env.path("t2"), "--addr", "0x%x" % naddr, "--len", str(PAGE),
                     "-o", env.path("x.bin")], "extract of an unmapped region")
    d = env.diff("base", "t2")
    check(env.region_mapping(d, naddr, naddr + n * PAGE) is None,
          "diff base t2 lists the region that came and went")
    env.check_extract("t2", t, t.model)
    t.assert_alive("after mapping changes")


def case_chain5(env):
    t = Target(env, NPAGES)
    models = {"base": t.model.copy()}
    env.snapshot(t, "base")
    steps = [
        ("W", 11, [0, 1, 2, 3]),                     # never-touched, zero, two data pages
        ("W", 12, list(range(200, 264))),            # a 64-page run
        ("Z", None, [201, 202, 500, 9]),             # 9: already zero
        ("W", 13, [NPAGES - 1, 0, 513, 515, 517]),   # page 0 again, scattered pages
        ("W", 0, [201, 202]),                        # back to seed-0 content (but 201 % 8 == 1)
    ]
    prev = "base"
    for k, (op, seed, pages) in enumerate(steps, 1):
        before = t.model.copy()
        if op == "W":
            t.write(seed, pages)
        else:
            t.zero(pages)
        name = "t%d" % k
        env.snapshot(t, name, parent=prev)
        models[name] = t.model.copy()
        env.check_diff_region(env.diff(prev, name), t, t.model.differing(before),
                              "diff %s %s" % (prev, name))
        prev = name
    for name, model in models.items():
        env.check_extract(name, t, model)
    env.check_diff_region(env.diff("base", "t5"), t, models["t5"].differing(models["base"]),
                          "diff base t5")
    t.assert_alive("after chain5")


def case_chain_deep(env):
    t = Target(env, NPAGES)
    base_model = t.model.copy()
    name = lambda k: ("%03d" % k) + "c" * 227   # NAME_MAX is 255, and ".NAME.partial-PID" must fit
    env.snapshot(t, name(0))
    for k in range(1, 21):
        t.write(20 + k, [k, 3 * k + 100, NPAGES - k])
        env.snapshot(t, name(k), parent=name(k - 1))
    env.check_extract(name(20), t, t.model)
    env.check_extract(name(0), t, base_model)
    env.check_diff_region(env.diff(name(0), name(20)), t, t.model.differing(base_model),
                          "diff base and the 20th")
    t.assert_alive("after chain_deep")


def case_threads(env):
    t = Target(env, NPAGES, threads=4)
    time.sleep(0.05)
    a = t.thread_iters()
    base_model = t.model.copy()
    s0 = env.snapshot(t, "base")
    t.write(3, [5, 6, 7, 300])
    s1 = env.snapshot(t, "t1", parent="base")
    s2 = env.snapshot(t, "t2", parent="t1", method="hash")
    time.sleep(0.1)
    b = t.thread_iters()
    check(all(y > x for x, y in zip(a, b)), "threads stopped advancing: %s -> %s" % (a, b))
    time.sleep(0.1)
    c = t.thread_iters()
    check(all(y > x for x, y in zip(b, c)), "threads not advancing after snapshots: %s -> %s" % (b, c))
    ch = t.children()
    check(ch.get("SIGCHLD") == 0, "target got %d SIGCHLD" % ch.get("SIGCHLD"))
    check(ch.get("ZOMBIES") == 0 and ch.get("CHILDREN") == 0, "target has children: %r" % ch)
    env.check_extract("base", t, base_model)
    env.check_extract("t1", t, t.model)
    env.check_extract("t2", t, t.model)
    for name, s in (("base", s0), ("t1", s1), ("t2", s2)):
        # The target's ticker is stopped at least as long as clonebot held it (minus the time
        # between clonebot's stop and the ticker's own stop); it must not be stopped for long.
        check(s["_stall_ns"] < 5e9, "%s: target stalled %.0f ms" % (name, s["_stall_ns"] / 1e6))
    log("  threads %s -> %s -> %s; stall/stopped_ns (ms): %s" % (
        a, b, c, ", ".join("%s %.2f/%.2f" % (n, s["_stall_ns"] / 1e6, s["stopped_ns"] / 1e6)
                          for n, s in (("base", s0), ("t1", s1), ("t2", s2)))))
    t.assert_alive("after snapshots with threads")


def case_fork(env):
    """Full and incremental snapshots read through the copy-on-write fork (--fork), both ways
    the copy can be read: the copy writing its own memory into clonebot's memfd (fork+pump),
    and /proc/COPY/mem (CLONEBOT_SNAPSHOT_NO_PUMP=1). Every page extracts exactly; the target
    keeps its threads, gets no SIGCHLD and no child."""
    t = Target(env, NPAGES, threads=2)
    for way, want in (("pump", "fork+pump"), ("mem", "fork")):
        if way == "mem":
            os.environ["CLONEBOT_SNAPSHOT_NO_PUMP"] = "1"
        try:
            base_model = t.model.copy()
            s0 = env.snapshot(t, way + "-base", extra=["--fork"])
            t.write(21, [0, 1, 2, 3, 100, NPAGES - 1])
            t.zero([5, 6])
            s1 = env.snapshot(t, way + "-t1", parent=way + "-base", extra=["--fork"])
        finally:
            os.environ.pop("CLONEBOT_SNAPSHOT_NO_PUMP", None)
        for name, s in ((way + "-base", s0), (way + "-t1", s1)):
            check(s["copy"] == want, "%s: copy %r, expected %r" % (name, s["copy"], want))
        env.check_extract(way + "-base", t, base_model)
        env.check_extract(way + "-t1", t, t.model)
        info = env.json(["inspect", env.path(way + "-t1")])
        check(info.get("copy") == want, "inspect copy %r, expected %r" % (info.get("copy"), want))
    ch = t.children()
    check(ch == {"SIGCHLD": 0, "ZOMBIES": 0, "CHILDREN": 0}, "target's children: %r" % ch)
    a = t.thread_iters()
    time.sleep(0.05)
    b = t.thread_iters()
    check(all(y > x for x, y in zip(a, b)), "threads not advancing after snapshots: %s -> %s" % (a, b))
    t.assert_alive("after fork snapshots")


def case_tmpfs(env):
    """The images on tmpfs (/dev/shm), where packs are written inline by the workers and in
    pairs from the first frame (BlobWriter's memory-filesystem path; the other cases write to
    the disk): the uffd-wp incremental case and the fork case (full and incremental through
    the copy, pumped and through /proc/COPY/mem) extract exactly, and every blob's name is the
    SHA-256 of its bytes."""
    shm = "/dev/shm"
    if not os.path.isdir(shm) or subprocess.run(["stat", "-f", "-c", "%T", shm], capture_output=True,
                                                 text=True).stdout.strip() != "tmpfs":
        raise Skip("/dev/shm is not a tmpfs here")
    shutil.rmtree(env.dir, ignore_errors=True)
    env.dir = tempfile.mkdtemp(prefix="cbk-snap-", dir=shm)
    os.chmod(env.dir, 0o755)
    case_incremental(env, "uffd")
    case_fork(env)
    images = [n for n in sorted(os.listdir(env.dir)) if os.path.isfile(os.path.join(env.dir, n, "oci-layout"))]
    check(len(images) >= 7, "expected the images of both cases in %s, found %r" % (env.dir, images))
    for name in images:
        for _, path in blobs(env.path(name)):
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            check(h.hexdigest() == os.path.basename(path), "%s: blob %s has SHA-256 %s" %
                  (name, os.path.basename(path), h.hexdigest()))


def case_fork_unsafe(env):
    """Mappings a fork does not copy (MADV_DONTFORK) or copies empty (MADV_WIPEONFORK) are read
    from the target in the stop window, not from the copy: a full snapshot through the fork
    extracts them exactly."""
    t = Target(env, NPAGES)
    n = 16
    want = b"".join(pattern.pattern(77, i) for i in range(n))
    for advice in ("dontfork", "wipeonfork"):
        naddr = int(t.cmd("N %d %s" % (n, advice)).split()[1], 16)
        s = env.snapshot(t, advice, extra=["--fork"])
        check(s["copy"].startswith("fork"), "%s: copy %r" % (advice, s["copy"]))
        got = env.extract(advice, naddr, n * PAGE)
        check(got == want, "%s region: extract differs from the target's memory" % advice)
        env.check_extract(advice, t, t.model)
        t.cmd("U")
    ch = t.children()
    check(ch == {"SIGCHLD": 0, "ZOMBIES": 0, "CHILDREN": 0}, "target's children: %r" % ch)
    t.assert_alive("after fork-unsafe snapshots")


def case_killed_mid(env):
    # Round 1 kills the target 20 ms after clonebot starts (often before it attaches under
    # load); round 2 kills it 20 ms after clonebot is seen attached (TracerPid), mid-snapshot.
    for rnd, after_attach in ((1, False), (2, True)):
        killed_mid_round(env, rnd, after_attach)


def killed_mid_round(env, rnd, after_attach):
    t = Target(env, BIG_PAGES, model=False)
    name = "big%d" % rnd
    d = env.path(name)
    errf = env.path(name + ".stderr")
    p = subprocess.Popen([env.clonebot, "snapshot", str(t.pid), "-o", d],
                         stdout=subprocess.PIPE, stderr=open(errf, "wb"), cwd=env.dir)
    env.procs.append(p)
    if after_attach:
        check(wait_for(lambda: (proc_state(t.pid) or ("?", 0))[1] != 0 or p.poll() is not None,
                       10, 0.001), "clonebot never attached to the target")
    time.sleep(0.02)
    attached = (proc_state(t.pid) or ("?", 0))[1] != 0
    t.proc.kill()
    try:
        p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        raise Fail("round %d: clonebot did not exit within 20 s after its target was killed "
                   "(clonebot in %s, target state %s; stderr so far %r)" %
                   (rnd, where(p.pid), proc_state(t.pid) or "gone/zombie",
                    open(errf, errors="replace").read()[-300:]))
    try:
        t.proc.wait(10)
    except subprocess.TimeoutExpired:
        raise Fail("round %d: killed target %d not reaped 10 s after clonebot exited (state %s)"
                   % (rnd, t.pid, proc_state(t.pid)))
    err = open(errf, errors="replace").read()
    lines = [l for l in err.splitlines() if l.strip()]
    log("  round %d: killed the target %s; clonebot exit %d, stderr %r" %
        (rnd, "while traced" if attached else "while not traced", p.returncode, err[:300]))
    leaked = pids_with_cmdline(t.argv)
    check(not leaked, "round %d: copies of the killed target left running: %s" % (rnd, leaked))
    if p.returncode == 0:
        # Finished from a copy taken before the kill: then the image must be whole and right.
        check(os.path.isdir(d), "round %d: exit 0 but no image" % rnd)
        got = env.extract(name, t.addr, 64 * PAGE)
        check(got == pattern.Model(64).bytes(), "round %d: exit 0 after the target died, "
              "image wrong" % rnd)
        log("  round %d: clonebot completed the snapshot from its copy (image checked)" % rnd)
        return
    check(0 < p.returncode < 128, "round %d: clonebot died with status %d" % (rnd, p.returncode))
    check(len(lines) == 1, "round %d: expected one stderr line, got %r" % (rnd, err[:500]))
    check(not CRASH_RE.search(err), "round %d: stderr looks like a crash: %r" % (rnd, err))
    env.no_leftovers(name, "round %d: target killed mid-snapshot" % rnd)


def case_clonebot_killed(env):
    t = Target(env, BIG_PAGES, model=False)
    first = pattern.Model(256)          # the first 256 pages of the region
    env.snapshot(t, "base")
    # The kills land at fixed early times and at fractions of what an uninterrupted snapshot
    # takes here, so that they fall inside it however fast clonebot gets.
    t0 = time.monotonic()
    env.snapshot(t, "whole", parent="base", method="hash")
    whole = time.monotonic() - t0
    delays = sorted({0.005, 0.015} | {round(whole * f, 3) for f in (0.2, 0.4, 0.6, 0.8, 0.95)})
    killed_mid = 0
    for delay in delays:
        name = "k%d" % int(delay * 1000)
        errf = env.path(name + ".stderr")
        p = subprocess.Popen([env.clonebot, "snapshot", str(t.pid), "-o", env.path(name),
                              "--parent", env.path("base"), "--method", "hash"],
                             stdout=subprocess.DEVNULL, stderr=open(errf, "wb"), cwd=env.dir)
        env.procs.append(p)
        time.sleep(delay)
        st = proc_state(t.pid)
        p.kill()
        p.wait(10)
        log("  SIGKILL clonebot at %d ms (target state then %s, traced %s)" %
            (delay * 1000, st and st[0], st and st[1] != 0))
        # The work runs in a child of the killed process (base::RunSupervised), which winds
        # down on its own: ends its stop, kills and reaps the copy. Under a loaded CI machine
        # that can take a while; it must happen, not at once.
        t.assert_alive("clonebot killed at %d ms" % (delay * 1000), settle=15)
        wait_for(lambda: t.children().get("CHILDREN") == 0, 15, step=0.05)
        ch = t.children()
        check(ch.get("CHILDREN") == 0, "clonebot killed at %d ms: target has live children %r"
              % (delay * 1000, ch))
        if ch.get("ZOMBIES") or ch.get("SIGCHLD"):
            log("  note: target has %r after clonebot was killed" % ch)
        check(not pids_with_cmdline(t.argv)[1:] and pids_with_cmdline(t.argv) == [t.pid],
              "copies of the target left running: %s" % pids_with_cmdline(t.argv))
        # The image is published by one rename: it is either absent or whole. It may exist only
        # when clonebot got that far before the kill.
        if p.returncode == 0 or os.path.exists(env.path(name)):
            check(os.path.exists(env.path(name)), "%s: exit 0 but no image" % name)
            info = env.json(["inspect", env.path(name)])
            check(info.get("method") == "hash", "%s does not inspect: %r" % (name, str(info)[:200]))
            check(env.extract(name, t.addr, 256 * PAGE) == first.bytes(),
                  "%s, published before the kill, has wrong pages" % name)
            log("  (%s finished before the kill, exit %d; its image is whole)" %
                (name, p.returncode))
        else:
            killed_mid += 1
    check(killed_mid >= 3, "only %d of %d kills landed inside a snapshot (one takes %.0f ms)" %
          (killed_mid, len(delays), whole * 1000))
    info = env.json(["inspect", env.path("base")])
    check(info.get("method") == "full", "base no longer inspects: %r" % str(info)[:200])
    got = env.extract("base", t.addr, 256 * PAGE)
    check(got == first.bytes(), "base image's first 256 pages wrong after the kills")
    stale = [n for n in os.listdir(env.dir) if ".partial" in n]
    env.snapshot(t, "after", parent="base")
    left = [n for n in os.listdir(env.dir) if ".partial" in n]
    check(not left, "stale partial dirs not removed by the next snapshot: %s (before: %s)" %
          (left, stale))
    got = env.extract("after", t.addr, 256 * PAGE)
    check(got == first.bytes(), "snapshot after the kills: first 256 pages wrong")
    t.assert_alive("end")


def case_not_permitted(env):
    t = Target(env, 64)
    out = env.path("unpriv")
    os.mkdir(out)
    os.chmod(out, 0o777)
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        env.clonebot, "--help"], capture_output=True)
    if p.returncode != 0:
        raise Skip("clonebot not runnable as uid 65534: %r" % p.stderr[:200])
    env.clean_error(["snapshot", str(t.pid), "-o", os.path.join(out, "img")],
                    "unprivileged snapshot of a root process",
                    expect_re=r"permi|EPERM|ptrace|denied|access", user=65534)
    check(not os.listdir(out), "files left: %s" % os.listdir(out))
    t.assert_alive("after refused snapshot")


def case_no_such_pid(env):
    check(not os.path.exists("/proc/999999"), "pid 999999 exists here")
    env.clean_error(["snapshot", "999999", "-o", env.path("nopid")], "snapshot of pid 999999",
                    expect_re=r"999999|no such|not found|ESRCH")
    env.no_leftovers("nopid", "no such pid")
    env.clean_error(["inspect", env.path("does-not-exist")], "inspect of a missing directory")
    env.clean_error(["extract", env.path("does-not-exist"), "--addr", "0x1000", "--len", "1",
                     "-o", env.path("x.bin")], "extract from a missing directory")


def blobs(d):
    bd = os.path.join(d, "blobs", "sha256")
    return sorted((os.path.getsize(os.path.join(bd, n)), os.path.join(bd, n))
                  for n in os.listdir(bd))


def case_corrupt_image(env):
    t = Target(env, 256)
    env.snapshot(t, "good")
    good = env.path("good")
    region = ["--addr", "0x%x" % t.addr, "--len", str(t.npages * PAGE)]
    want = t.model.bytes()
    results = []

    def variant(name, mutate, inspect_must_fail):
        d = env.path(name)
        shutil.copytree(good, d)
        what = mutate(d)
        # inspect: a clear error, or (for damage inspect needs not read) success; never a crash
        rc, out, err, _ = env.run(["inspect", d])
        if inspect_must_fail or rc != 0:
            env.clean_error(["inspect", d], "%s (%s): inspect" % (name, what))
        # extract: a clear error, or exactly the right bytes, never silently wrong bytes
        xo = env.path(name + ".bin")
        rc, out, err, _ = env.run(["extract", d] + region + ["-o", xo])
        if rc == 0:
            got = open(xo, "rb").read()
            check(got == want, "%s (%s): extract exited 0 with wrong bytes" % (name, what))
            results.append("%s: extract still right" % name)
        else:
            env.clean_error(["extract", d] + region + ["-o", xo], "%s (%s): extract" % (name, what))
        shutil.rmtree(d)

    def truncate_largest(d):
        size, path = blobs(d)[-1]
        os.truncate(path, size // 2)
        return "largest blob truncated %d -> %d" % (size, size // 2)

    def flip_largest(d):
        size, path = blobs(d)[-1]
        with open(path, "r+b") as f:
            f.seek(size // 2)
            b = f.read(1)
            f.seek(size // 2)
            f.write(bytes([b[0] ^ 0x40]))
        return "one byte flipped in the largest blob"

    def delete_largest(d):
        size, path = blobs(d)[-1]
        os.unlink(path)
        return "largest blob deleted"

    def bad_config(d):
        idx = json.load(open(os.path.join(d, "index.json")))
        man_digest = idx["manifests"][0]["digest"].split(":")[1]
        man = json.load(open(os.path.join(d, "blobs", "sha256", man_digest)))
        cfg = os.path.join(d, "blobs", "sha256", man["config"]["digest"].split(":")[1])
        data = bytearray(open(cfg, "rb").read())
        i = next(k for k in range(len(data)) if chr(data[k]).isdigit())
        data[i] = ord("7") if data[i] != ord("7") else ord("3")
        open(cfg, "wb").write(bytes(data))
        return "one digit changed in the config blob"

    def bad_index(d):
        with open(os.path.join(d, "index.json"), "w") as f:
            f.write('{"schemaVersion": 2, "manifests": [')
        return "index.json cut"

    def no_layout(d):
        os.unlink(os.path.join(d, "oci-layout"))
        return "oci-layout missing"

    variant("trunc", truncate_largest, False)
    variant("flip", flip_largest, False)
    variant("missing", delete_largest, False)
    variant("config", bad_config, True)
    variant("index", bad_index, True)
    variant("layout", no_layout, True)
    for r in results:
        log("  note: " + r)
    env.check_extract("good", t, t.model)


def case_foreign_parent(env):
    a = Target(env, 64)
    b = Target(env, 64)
    env.snapshot(a, "base_a")
    env.clean_error(["snapshot", str(b.pid), "-o", env.path("b1"), "--parent", env.path("base_a")],
                    "--parent image of another process", expect_re=r"parent|pid|process|%d" % a.pid)
    env.no_leftovers("b1", "foreign parent")
    env.clean_error(["snapshot", str(b.pid), "-o", env.path("b2"), "--parent",
                     env.path("no-such-image")], "--parent that does not exist")
    env.no_leftovers("b2", "missing parent")
    env.clean_error(["snapshot", str(a.pid), "-o", env.path("base_a")],
                    "-o onto an existing image")
    env.check_extract("base_a", a, a.model)
    a.assert_alive("a")
    b.assert_alive("b")


CASES = {
    "selfcheck": case_selfcheck,
    "full": case_full,
    "incremental_uffd": lambda e: case_incremental(e, "uffd"),
    "incremental_hash": lambda e: case_incremental(e, "hash"),
    "incremental_large": case_incremental_large,
    "dontneed": case_dontneed,
    "mapping": case_mapping,
    "chain5": case_chain5,
    "chain_deep": case_chain_deep,
    "threads": case_threads,
    "killed_mid": case_killed_mid,
    "clonebot_killed": case_clonebot_killed,
    "not_permitted": case_not_permitted,
    "no_such_pid": case_no_such_pid,
    "corrupt_image": case_corrupt_image,
    "fork": case_fork,
    "fork_unsafe": case_fork_unsafe,
    "tmpfs": case_tmpfs,
    "foreign_parent": case_foreign_parent,
}


def clonebot_has_snapshot(clonebot):
    missing = []
    for sub in ("snapshot", "diff", "extract", "inspect"):
        try:
            p = subprocess.run([clonebot, sub, "--help"], capture_output=True, timeout=20)
            if p.returncode != 0:
                missing.append(sub)
        except OSError:
            missing.append(sub)
    return missing


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clonebot", required=True)
    ap.add_argument("--progs", required=True)
    ap.add_argument("--case", required=True, choices=sorted(CASES) + ["all"])
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    a = ap.parse_args()
    names = sorted(CASES) if a.case == "all" else [a.case]
    if a.case != "selfcheck":
        missing = clonebot_has_snapshot(a.clonebot)
        if missing:
            print("SKIP: %s has no %s command" % (a.clonebot, "/".join(missing)))
            if a.case != "all":
                return SKIP
            names = ["selfcheck"]
    status = 0
    for name in names:
        env = Env(a)
        t0 = time.monotonic()
        try:
            CASES[name](env)
            log("PASS %s (%.1f s)" % (name, time.monotonic() - t0))
        except Skip as e:
            log("SKIP %s: %s" % (name, e))
            if len(names) == 1:
                status = SKIP
        except Fail as e:
            log("FAIL %s: %s" % (name, e))
            if env.keep:
                log("  scratch kept in %s" % env.dir)
            status = 1
        except Exception:   # a bug here or an unexpected answer: still a plain failure
            log("FAIL %s: unexpected error in the test:\n%s" % (name, traceback.format_exc()))
            status = 1
        finally:
            env.cleanup()
    return status


if __name__ == "__main__":
    sys.exit(main())
