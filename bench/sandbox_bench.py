#!/usr/bin/env python3
"""Sandbox benchmark: `clonebot run` against bubblewrap and firejail on the same work, in one run.

1. Start-up: `clonebot run --memory-max 256M -- /bin/true` (full default isolation: user, pid,
   mount, ipc, uts, net and cgroup namespaces, read-only system binds, /proc, /dev, /tmp,
   landlock, the default seccomp policy, a cgroup with a memory limit) against
   `bwrap --unshare-all --die-with-parent --ro-bind / / true` and `firejail --quiet --noprofile
   true`. The three are interleaved round by round, so that load changes hit them alike; the
   median wall time of each is reported with the ratios (targets: <= 1.0x bwrap, <= 0.5x
   firejail).
2. Policy cost: bench/progs/getppid_timed (5,000,000 getppid, timed inside the process) natively
   and under `clonebot run --policy bench/policies/forty-rules.yaml` (40 rules, none naming
   getppid); also under `clonebot run --no-seccomp` to show the sandbox alone costs nothing,
   and with a one-instruction allow-all seccomp filter and no sandbox: what any seccomp filter
   costs on this kernel and CPU, the floor for every policy. Target: <= 1.3x native.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time


def wall(cmd):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[:300]}")
    return dt


def ns_per_call(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"NS_PER_CALL ([0-9.]+)", p.stdout)
    if p.returncode != 0 or not m:
        sys.exit(f"bench: {' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[:300]}")
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clonebot", default="build/clonebot")
    ap.add_argument("--getppid", default="build/bench/getppid_timed")
    ap.add_argument("--policy", default="bench/policies/forty-rules.yaml")
    ap.add_argument("--rounds", type=int, default=200, help="start-up rounds (firejail runs every 5th)")
    ap.add_argument("--loops", type=int, default=7, help="getppid runs per configuration")
    args = ap.parse_args()
    cb = os.path.abspath(args.clonebot)
    for tool in ("bwrap", "firejail"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is not installed (make deps installs bubblewrap and firejail)")

    configs = {
        "clonebot run --memory-max 256M -- /bin/true": [cb, "run", "--memory-max", "256M", "--", "/bin/true"],
        "clonebot run -- /bin/true": [cb, "run", "--", "/bin/true"],
        "bwrap --unshare-all --die-with-parent --ro-bind / / true":
            ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
        "bwrap ... --proc /proc --dev /dev true":
            ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev",
             "/dev", "true"],
        "firejail --quiet --noprofile true": ["firejail", "--quiet", "--noprofile", "true"],
        "/bin/true": ["/bin/true"],
    }
    times = {k: [] for k in configs}
    for cmd in configs.values():  # warm the page cache
        wall(cmd)
    for r in range(args.rounds):
        for name, cmd in configs.items():
            if name.startswith("firejail") and r % 5:
                continue
            times[name].append(wall(cmd))
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    cbm = med["clonebot run --memory-max 256M -- /bin/true"]
    print(f"start-up, median of {args.rounds} rounds (firejail {len(times['firejail --quiet --noprofile true'])}), ms:")
    for k, v in med.items():
        print(f"  {v:8.2f}  {k}")
    bw = med["bwrap --unshare-all --die-with-parent --ro-bind / / true"]
    fj = med["firejail --quiet --noprofile true"]
    print(f"  clonebot (memory limit) / bwrap    = {cbm / bw:.2f}  (target <= 1.0)")
    print(f"  clonebot (memory limit) / firejail = {cbm / fj:.2f}  (target <= 0.5)")

    bench_dir = os.path.dirname(os.path.abspath(args.getppid))
    g = os.path.abspath(args.getppid)
    loops = {
        "native": [g],
        "allow-all seccomp filter (the kernel's floor)": [g, "--allow-all-filter"],
        "clonebot run --no-seccomp": [cb, "run", "--ro", bench_dir, "--no-seccomp", "--", g],
        "clonebot run --policy forty-rules.yaml": [cb, "run", "--ro", bench_dir, "--policy", args.policy, "--", g],
    }
    ns = {k: [] for k in loops}
    for _ in range(args.loops):
        for k, cmd in loops.items():
            ns[k].append(ns_per_call(cmd))
    print(f"getppid, ns per call, median of {args.loops}:")
    nat = statistics.median(ns["native"])
    for k, v in ns.items():
        m = statistics.median(v)
        print(f"  {m:8.1f}  {m / nat:5.2f}x  {k}")
    pol = statistics.median(ns["clonebot run --policy forty-rules.yaml"])
    floor = statistics.median(ns["allow-all seccomp filter (the kernel's floor)"])
    print(f"  40-rule policy / native = {pol / nat:.2f}  (target <= 1.3)")
    print(f"  40-rule policy / allow-all filter = {pol / floor:.2f}  (what the policy adds to any seccomp filter)")


if __name__ == "__main__":
    main()
