#!/usr/bin/env python3
"""Snapshot benchmark: clonebot snapshot against gdb's gcore on the same process, in one run.

Workload (issue 3): bench/progs/snap_bench_target touches 1 GiB of anonymous memory (a quarter
zero pages, a quarter 16 repeated page patterns, half random) and measures with a ticker thread
how long it was stopped. Per rep, on one target: `gcore -o PREFIX PID`; a full `clonebot
snapshot`; `W1` (1% of pages rewritten at random) then an incremental snapshot (--parent, default
method); `W1` again then an incremental with --method hash. Before each timed command the
page cache is synced, outside the timing. For each: wall time, clonebot's stopped_ns, the stall
the target measured itself, and the bytes on disk (du -sb). Medians of --reps; ratios
clonebot/gcore. The target's idle stall (its ticker noise with nothing stopping it, over a
comparable interval) is printed as the floor of the stall column. --workdir /dev/shm measures
both tools without the disk.
"""
import argparse
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


class Target:
    def __init__(self, exe, mib, spin):
        cmd = [exe, str(mib)] + (["--spin"] if spin else [])
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.line(120).split()
        if not line or line[0] != "READY":
            sys.exit("bench: target said %r" % line)
        self.pid = self.p.pid

    def line(self, timeout=30):
        r, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not r:
            sys.exit("bench: target did not answer in %ss" % timeout)
        return self.p.stdout.readline().decode().strip()

    def cmd(self, c, timeout=30):
        self.p.stdin.write((c + "\n").encode())
        self.p.stdin.flush()
        return self.line(timeout)

    def stall_ns(self):
        return int(self.cmd("S").split()[1])

    def close(self):
        if self.p.poll() is None:
            try:
                self.cmd("Q", 5)
            except (OSError, SystemExit):
                pass
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def du(path):
    out = subprocess.run(["du", "-sb", path], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def timed(cmd):
    # Each tool starts on a quiet disk: the dirty pages a previous run left (gcore writes 1 GiB
    # into the page cache and returns; an image removed at the end of a rep is discarded) are
    # written back first, outside the timing, so no tool pays for another's writeback.
    os.sync()
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode,
                                                   p.stderr.strip()[:400]))
    return dt, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clonebot", default="build/clonebot")
    ap.add_argument("--target", default="build/bench/snap_bench_target")
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--spin", action="store_true",
                    help="target's ticker spins (exact stall, costs a CPU)")
    ap.add_argument("--no-gcore", action="store_true")
    ap.add_argument("--workdir", default=None, help="where images and cores go (default: a tmp dir)")
    a = ap.parse_args()

    have_gcore = shutil.which("gcore") and not a.no_gcore
    have_cb = subprocess.run([a.clonebot, "snapshot", "--help"], capture_output=True).returncode == 0
    if not have_cb:
        print("bench: %s has no snapshot command; measuring gcore only" % a.clonebot)
    base = tempfile.mkdtemp(prefix="clonebot-snapbench-", dir=a.workdir)
    rows = {k: [] for k in ("gcore", "gcore_sync", "full", "incr", "hash")}
    idle = []
    last_json = {}
    target = Target(a.target, a.mib, a.spin)
    try:
        for rep in range(a.reps):
            d = os.path.join(base, "rep%d" % rep)
            os.mkdir(d)

            def clonebot(name, parent=None, method=None):
                img = os.path.join(d, name)
                cmd = [a.clonebot, "snapshot", str(target.pid), "-o", img, "--format", "json"]
                if parent:
                    cmd += ["--parent", os.path.join(d, parent)]
                if method:
                    cmd += ["--method", method]
                target.stall_ns()
                wall, out = timed(cmd)
                stall = target.stall_ns()
                s = json.loads(out)
                return {"wall": wall, "stopped": s["stopped_ns"] / 1e9, "stall": stall / 1e9,
                        "bytes": du(img), "json": s}

            # idle floor: the ticker's own noise over ~1 s with nothing stopping the target
            target.stall_ns()
            time.sleep(1.0)
            idle.append(target.stall_ns() / 1e9)

            if have_gcore:
                prefix = os.path.join(d, "core")
                target.stall_ns()
                wall, _ = timed(["gcore", "-o", prefix, str(target.pid)])
                stall = target.stall_ns() / 1e9
                # gcore returns with its core in the page cache; clonebot returns with its
                # image fsynced. The time to make the core as durable is reported beside it.
                t0 = time.perf_counter()
                os.sync()
                synced = wall + time.perf_counter() - t0
                core = "%s.%d" % (prefix, target.pid)
                rows["gcore"].append({"wall": wall, "stopped": wall, "stall": stall,
                                      "bytes": os.path.getsize(core)})
                rows["gcore_sync"].append({"wall": synced, "stopped": wall, "stall": stall,
                                           "bytes": os.path.getsize(core)})
                os.unlink(core)
            if have_cb:
                rows["full"].append(clonebot("full"))
                target.cmd("W1")
                rows["incr"].append(clonebot("incr", parent="full"))
                target.cmd("W1")
                rows["hash"].append(clonebot("hash", parent="incr", method="hash"))
                last_json = {k: rows[k][-1]["json"] for k in ("full", "incr", "hash")}
            shutil.rmtree(d)
    except RuntimeError as e:
        sys.exit("bench: %s" % e)
    finally:
        target.close()
        shutil.rmtree(base, ignore_errors=True)

    def med(k, f):
        xs = [r[f] for r in rows[k]]
        return statistics.median(xs) if xs else float("nan")

    gib = a.mib * 1024 * 1024
    print("snapshot of %d MiB (1/4 zero, 1/4 16 repeated pages, 1/2 random), median of %d, "
          "seconds; target idle stall floor %.4f s (ticker %s)" %
          (a.mib, a.reps, statistics.median(idle), "spinning" if a.spin else "100 us sleeps"))
    print("%-34s %8s %10s %12s %14s %8s" % ("", "wall", "stopped", "target stall", "bytes on disk",
                                            "/ memory"))
    names = [("gcore", "gcore -o PREFIX PID"), ("gcore_sync", "  same, then sync (durable)"),
             ("full", "clonebot snapshot (full)"),
             ("incr", "clonebot snapshot --parent (1% W)"),
             ("hash", "  same, --method hash")]
    for k, label in names:
        if not rows[k]:
            continue
        stopped = med(k, "stopped")
        print("%-34s %8.3f %10s %12.4f %14d %8.3f" % (
            label, med(k, "wall"), "(gcore)" if k.startswith("gcore") else "%.4f" % stopped,
            med(k, "stall"), med(k, "bytes"), med(k, "bytes") / gib))
    if rows["gcore"] and rows["full"]:
        print("ratio clonebot/gcore: full wall %.3f, full stall %.4f, incremental wall %.3f, "
              "incremental stall %.4f, full bytes %.3f" % (
                  med("full", "wall") / med("gcore", "wall"),
                  med("full", "stall") / med("gcore", "stall"),
                  med("incr", "wall") / med("gcore", "wall"),
                  med("incr", "stall") / med("gcore", "stall"),
                  med("full", "bytes") / med("gcore", "bytes")))
        print("ratio clonebot/(gcore, then sync): full wall %.3f" % (
            med("full", "wall") / med("gcore_sync", "wall")))
    for k in last_json:
        j = last_json[k]
        print("  %-5s last summary: method=%s pages scanned=%d present=%d written=%d "
              "dedup=%.2f compression=%.2f total_ns=%d" % (
                  k, j.get("method"), j.get("pages_scanned", 0), j.get("pages_present", 0),
                  j.get("pages_written", 0), j.get("dedup_ratio", 0),
                  j.get("compression_ratio", 0), j.get("total_ns", 0)))


if __name__ == "__main__":
    main()
