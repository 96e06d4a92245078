#!/usr/bin/env python3
"""Tracer benchmark: clonebot trace against strace -f on the same work, in one run.

Workloads (issue 2): a loop of 1,000,000 getppid() and `tar cf /dev/null /usr/include`, traced in
full; the getppid loop traced with -e trace=openat against native. Each configuration runs
--reps times; the median wall time is reported with the ratio to the peer. Also: records per
second the writer sustained, tracer peak RSS, and .cbt bytes per syscall against strace's text.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time


def run(cmd, **kw):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[:300]}")
    return dt, p.stderr


def median_time(cmd, reps):
    times, last_err = [], ""
    for _ in range(reps):
        dt, last_err = run(cmd)
        times.append(dt)
    return statistics.median(times), last_err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clonebot", default="build/clonebot")
    ap.add_argument("--getppid", default="build/bench/getppid_loop")
    ap.add_argument("--iterations", type=int, default=1000000)
    ap.add_argument("--tar-dir", default="/usr/include")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="clonebot-bench-")
    cbt = os.path.join(tmp, "t.cbt")
    strace_txt = os.path.join(tmp, "s.txt")
    loop = [a.getppid, str(a.iterations)]
    tar = ["tar", "cf", "/dev/null", a.tar_dir]
    rows = []

    def full_trace(name, work):
        native, _ = median_time(work, a.reps)
        st, _ = median_time(["strace", "-f", "-o", "/dev/null"] + work, a.reps)
        cb, err = median_time([a.clonebot, "trace", "--stats", "-o", cbt, "--"] + work, a.reps)
        nopin, _ = median_time([a.clonebot, "trace", "--no-pin", "-o", cbt, "--"] + work, a.reps)
        m = re.search(r"(\d+) syscalls.*?(\d+) records, (\d+) bytes raw, (\d+) bytes in .*?peak RSS (\d+) KiB", err)
        syscalls, records, raw, fbytes, rss = (int(x) for x in m.groups()) if m else (0, 0, 0, 0, 0)
        run(["strace", "-f", "-o", strace_txt] + work)
        st_bytes = os.path.getsize(strace_txt)
        st_lines = sum(1 for _ in open(strace_txt, errors="replace"))
        rows.append((name, native, st, cb, cb / st, syscalls, records / cb if cb else 0, rss,
                     fbytes / max(syscalls, 1), st_bytes / max(st_lines, 1), nopin, nopin / st))

    full_trace(f"getppid x{a.iterations}", loop)
    full_trace(f"tar cf /dev/null {a.tar_dir}", tar)

    print(f"{'workload (full trace)':34} {'native':>8} {'strace':>8} {'clonebot':>9} {'ratio':>6} "
          f"{'syscalls':>9} {'rec/s':>9} {'RSS KiB':>8} {'B/sc cbt':>9} {'B/sc strace':>11} "
          f"{'--no-pin':>8} {'ratio':>6}")
    for r in rows:
        print(f"{r[0]:34} {r[1]:8.3f} {r[2]:8.3f} {r[3]:9.3f} {r[4]:6.2f} {r[5]:9d} {r[6]:9.0f} "
              f"{r[7]:8d} {r[8]:9.1f} {r[9]:11.1f} {r[10]:8.3f} {r[11]:6.2f}")

    # A 0.2 s run is noisy here: 9 runs, median and best of each.
    def med_min(cmd):
        xs = [run(cmd)[0] for _ in range(max(9, a.reps))]
        return statistics.median(xs), min(xs)
    native = med_min(loop)
    filt = med_min([a.clonebot, "trace", "-e", "trace=openat", "-o", cbt, "--"] + loop)
    sfilt = med_min(["strace", "-f", "--seccomp-bpf", "-e", "trace=openat", "-o", "/dev/null"] + loop)
    print(f"\nfiltered (-e trace=openat) getppid x{a.iterations}, median / best of 9:")
    print(f"  native               {native[0]:.3f} / {native[1]:.3f} s")
    print(f"  clonebot             {filt[0]:.3f} / {filt[1]:.3f} s  "
          f"({filt[0] / native[0]:.2f}x / {filt[1] / native[1]:.2f}x native)")
    print(f"  strace --seccomp-bpf {sfilt[0]:.3f} / {sfilt[1]:.3f} s  "
          f"({sfilt[0] / native[0]:.2f}x / {sfilt[1] / native[1]:.2f}x native)")
    print("targets: full trace ratio <= 0.70 x strace; filtered <= 1.30 x native")
    print("(clonebot pins a spawned command and itself to one CPU by default; --no-pin is the "
          "configuration attach mode gets)")


if __name__ == "__main__":
    main()
