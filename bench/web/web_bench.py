#!/usr/bin/env python3
"""Peer benchmark for `clonebot web`: clonebot vs puppeteer-core vs playwright-core.

Every contender does the same session work (see bench/web/README.md) N times
concurrently on one browser, on the same Debian Chromium binary. While a run is
going a sampler thread reads, every 100 ms, the driver process's RSS and the
total PSS of the driver plus all its descendants (the browser and its helpers),
keeping the peaks.

    python3 bench/web/web_bench.py [--sessions 1,10,50,100]
        [--browsers headless-shell,chromium] [--only puppeteer,playwright,clonebot]
        [--rounds 3] [--clonebot build/clonebot] [--json FILE]

Figures are medians over the rounds. clonebot's row degrades to an error line
if its `web` command is missing or fails; the peers still run.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "web"))
from server import start_server  # noqa: E402

BROWSERS = {
    "headless-shell": "/usr/lib/chromium/chromium-headless-shell",
    "chromium": "/usr/lib/chromium/chromium",
}
CONTENDERS = ("puppeteer", "playwright", "clonebot")
PEERS = ("puppeteer", "playwright")
SAMPLE_INTERVAL = 0.1  # seconds
PSS_DUTY = 0.1         # max share of one core the tree-PSS sampling may use (--pss-duty)
GOALS = {  # clonebot / best peer
    "rss": 0.2,   # driver peak RSS vs the smaller node driver
    "pss": 1.0,   # peak PSS of driver + browser tree vs the lower peer
    "p50": 0.8,   # session latency vs the faster peer
    "p99": 0.8,
}


# ---------------------------------------------------------------- /proc sampling

def _read_status_kib(pid, keys):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in keys:
                    out[k] = int(v.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


def _pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _proc_table():
    """(ppid -> [pid], sid -> [pid]) for every process, from /proc/*/stat."""
    kids, sess = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                s = f.read()
        except OSError:
            continue
        try:
            fields = s[s.rindex(")") + 2:].split()
            ppid, sid = int(fields[1]), int(fields[3])
        except (ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(name))
        sess.setdefault(sid, []).append(int(name))
    return kids, sess


def descendants(pid):
    """pid, all of its descendants, and every other process of the session that
    pid leads (the drivers are started with start_new_session): chromium's
    crashpad handlers double-fork and are reparented to init, so only the
    session id still ties them to the run."""
    kids, sess = _proc_table()
    seen, todo = set(), [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(kids.get(p, ()))
    seen.update(sess.get(pid, ()))
    return sorted(seen)


def _start_time(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        return None if fields[0] in ("Z", "X") else int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


class Sampler(threading.Thread):
    """Samples the driver's VmRSS/VmHWM every `interval` and the tree's total PSS.

    Reading smaps_rollup makes the kernel walk every page table of every
    process: on the full chromium binary at N=10 one tree-wide PSS sample costs
    ~170 ms of CPU (and takes each target's mmap lock), so sampling it every
    100 ms would eat most of a core of this 2-core machine and slow the run
    being measured by ~25%. The tree PSS is therefore sampled every `interval`
    only while that keeps the sampler's CPU under `pss_duty` of one core: after
    a PSS sample that cost c seconds of CPU, the next one waits
    max(interval, c / pss_duty). The achieved count is reported.
    """

    def __init__(self, pid, interval=0.1, pss_duty=0.1):
        super().__init__(daemon=True)
        self.pid, self.interval, self.pss_duty = pid, interval, pss_duty
        self.stop_evt = threading.Event()
        self.peak_rss_kib = 0
        self.hwm_kib = 0
        self.peak_pss_kib = 0
        self.peak_procs = 0
        self.samples = 0
        self.pss_samples = 0
        self.pss_cpu_s = []
        self.seen = {}  # pid -> start time, every process seen in the tree
        self._next_pss = 0.0

    def sample(self, force_pss=False):
        st = _read_status_kib(self.pid, ("VmRSS", "VmHWM"))
        if "VmRSS" not in st:
            return False  # gone (or a zombie without an mm)
        self.peak_rss_kib = max(self.peak_rss_kib, st["VmRSS"])
        self.hwm_kib = max(self.hwm_kib, st.get("VmHWM", 0))
        self.samples += 1
        now = time.monotonic()
        if self.pss_duty > 0 and (force_pss or now >= self._next_pss):
            c0 = time.thread_time()
            pids = descendants(self.pid)
            for q in pids:
                if q not in self.seen:
                    self.seen[q] = _start_time(q)
            self.peak_procs = max(self.peak_procs, len(pids))
            self.peak_pss_kib = max(self.peak_pss_kib, sum(_pss_kib(p) for p in pids))
            cost = time.thread_time() - c0
            self.pss_samples += 1
            self.pss_cpu_s.append(cost)
            self._next_pss = now + max(self.interval, cost / self.pss_duty)
        return True

    def run(self):
        while not self.stop_evt.is_set():
            t = time.monotonic()
            if not self.sample():
                break
            self.stop_evt.wait(max(0.0, self.interval - (time.monotonic() - t)))

    def stop(self):
        self.stop_evt.set()
        self.join()


# ---------------------------------------------------------------- running contenders

def run_measured(cmd, timeout, cwd=None, env=None):
    """Run cmd with a sampler; returns (rc, stdout, stderr, sampler, elapsed_s)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                         env=env, start_new_session=True, text=True)
    s = Sampler(p.pid, interval=SAMPLE_INTERVAL, pss_duty=PSS_DUTY)
    s.start()
    timed_out = False
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        # puppeteer starts the browser detached (its own session), so killing
        # our child's process group is not enough: kill the whole tree.
        for q in descendants(p.pid):
            try:
                os.kill(q, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        out, err = p.communicate()
        err = (err or "") + f"\n[web_bench] killed after {timeout}s timeout"
    except BaseException:
        # Ctrl-C (or any error) here: the driver runs in its own session and would outlive us
        # with its browser; take the whole tree down first.
        for q in [p.pid] + descendants(p.pid):
            try:
                os.kill(q, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        p.wait()
        s.stop()
        raise
    s.stop()
    # Anything of the tree that outlived its driver (a browser orphaned by a
    # crashed driver) is killed, so runs do not pile up; the same start time
    # guards against a reused pid.
    left = 0
    for q, start in s.seen.items():
        if q != p.pid and _start_time(q) == start:
            try:
                os.kill(q, signal.SIGKILL)
                left += 1
            except (ProcessLookupError, PermissionError):
                pass
    if left and not timed_out:
        err = (err or "") + f"\n[web_bench] killed {left} leftover process(es) of the run"
    return p.returncode, out or "", err or "", s, time.monotonic() - t0


def _tail(text, n=3):
    lines = [l for l in (text or "").strip().splitlines() if l.strip()]
    return " | ".join(lines[-n:])[:400]


def run_peer(driver, browser_path, url, n, timeout, node):
    cmd = [node, os.path.join(HERE, "peer.js"), "--driver", driver, "--browser", browser_path,
           "--url", url, "--sessions", str(n)]
    rc, out, err, s, el = run_measured(cmd, timeout, cwd=HERE)
    res = {"cmd": cmd, "rc": rc}
    line = next((l for l in reversed(out.strip().splitlines()) if l.startswith("{")), None)
    if line:
        try:
            res.update(json.loads(line))
        except ValueError:
            res["error"] = f"bad JSON from peer.js: {line[:200]}"
    else:
        res["error"] = f"no result from peer.js (rc={rc}): {_tail(err)}"
    if not res.get("error") and (res.get("failed") or res.get("errors")):
        res["error"] = "; ".join(res.get("errors") or [])[:400] or f"{res.get('failed')} failed"
    _attach_mem(res, s, el)
    return res


def run_clonebot(clonebot, browser_name, browser_path, base, n, timeout):
    res = {}
    if not os.path.exists(clonebot):
        res["error"] = f"{clonebot} not found (build it first)"
        return res
    tmp = tempfile.mkdtemp(prefix="web-bench-clonebot-")
    runs = os.path.join(tmp, "runs")
    bflag = browser_name if browser_name in BROWSERS else browser_path
    cmd = [clonebot, "web", "replay", os.path.join(HERE, "journey.json"), "--url-base", base,
           "--sessions", str(n), "--speed", "max", "--extract", "button",
           "--browser", bflag, "-o", runs]
    res["cmd"] = cmd
    try:
        rc, out, err, s, el = run_measured(cmd, timeout, cwd=ROOT)
        res["rc"] = rc
        summ = os.path.join(runs, "summary.json")
        if os.path.exists(summ):
            try:
                with open(summ) as f:
                    res.update(json.load(f))
            except ValueError as e:
                res["error"] = f"bad summary.json: {e}"
        if rc != 0 and "error" not in res:
            res["error"] = f"clonebot exited {rc}: {_tail(err or out)}"
        elif not os.path.exists(summ) and "error" not in res:
            res["error"] = f"no {summ} written: {_tail(err or out)}"
        elif not res.get("error") and res.get("ok") != n:
            res["error"] = f"ok={res.get('ok')} failed={res.get('failed')} of {n}"
        _attach_mem(res, s, el)
    except OSError as e:
        res["error"] = f"cannot run {clonebot}: {e}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def _attach_mem(res, s, elapsed):
    res["driver_peak_rss_kib"] = s.peak_rss_kib
    res["driver_vmhwm_kib"] = s.hwm_kib
    res["tree_peak_pss_kib"] = s.peak_pss_kib
    res["tree_peak_procs"] = s.peak_procs
    res["samples"] = s.samples
    res["pss_samples"] = s.pss_samples
    res["pss_sample_cpu_ms_max"] = round(max(s.pss_cpu_s) * 1000, 1) if s.pss_cpu_s else None
    res["process_s"] = round(elapsed, 3)


# ---------------------------------------------------------------- summarising

def _med(vals):
    vals = [v for v in vals if isinstance(v, (int, float))]
    return statistics.median(vals) if vals else None


def summarise(rounds):
    """Median figures over the rounds that produced numbers."""
    good = [r for r in rounds if r.get("latency_ms", {}).get("p50") is not None]
    errs = [r["error"] for r in rounds if r.get("error")]
    out = {
        "rounds": len(rounds), "rounds_with_numbers": len(good),
        "ok": _med([r.get("ok") for r in good]), "failed": _med([r.get("failed") for r in good]),
        # driver RSS: the larger of the sampled peak and VmHWM (which catches
        # peaks between samples); node also reports its own maxRSS.
        "rss_kib": _med([max(r.get("driver_peak_rss_kib") or 0, r.get("driver_vmhwm_kib") or 0,
                             r.get("node_max_rss_kib") or 0) for r in good]),
        "pss_kib": _med([r.get("tree_peak_pss_kib") for r in good]),
        "procs": _med([r.get("tree_peak_procs") for r in good]),
        "p50": _med([r["latency_ms"].get("p50") for r in good]),
        "p99": _med([r["latency_ms"].get("p99") for r in good]),
        "max": _med([r["latency_ms"].get("max") for r in good]),
        "wall": _med([r.get("wall_ms") for r in good]),
        "phases": {},
        "errors": errs,
    }
    phases = set()
    for r in good:
        phases.update((r.get("phases_ms") or {}).keys())
    for ph in sorted(phases):
        out["phases"][ph] = {k: _med([((r.get("phases_ms") or {}).get(ph) or {}).get(k) for r in good])
                             for k in ("p50", "p99")}
    return out


def _fmt(v, scale=1.0, nd=0):
    if v is None:
        return "-"
    return f"{v / scale:.{nd}f}"


def ratios(summ):
    cb = summ.get("clonebot")
    peers = [summ[p] for p in PEERS if p in summ and summ[p]["rounds_with_numbers"]]
    out = {}
    if not cb or not cb["rounds_with_numbers"] or not peers:
        return out
    for key, field in (("rss", "rss_kib"), ("pss", "pss_kib"), ("p50", "p50"), ("p99", "p99")):
        best = min((p[field] for p in peers if p[field]), default=None)
        if best and cb[field] is not None:
            r = cb[field] / best
            out[key] = {"ratio": round(r, 3), "goal": GOALS[key], "met": r <= GOALS[key]}
    return out


def print_table(n, bname, summ, f=sys.stdout):
    print(f"\n### N = {n}, {bname}\n", file=f)
    print("| contender | ok/N | driver peak RSS MiB | tree peak PSS MiB | procs | "
          "p50 ms | p99 ms | wall ms |", file=f)
    print("|---|---:|---:|---:|---:|---:|---:|---:|", file=f)
    for c in CONTENDERS:
        s = summ.get(c)
        if s is None:
            continue
        if not s["rounds_with_numbers"]:
            print(f"| {c} | error: {(s['errors'] or ['no result'])[0][:160]} |||||||", file=f)
            continue
        okn = f"{_fmt(s['ok'])}/{n}"
        print(f"| {c} | {okn} | {_fmt(s['rss_kib'], 1024, 1)} | {_fmt(s['pss_kib'], 1024, 1)} | "
              f"{_fmt(s['procs'])} | {_fmt(s['p50'])} | {_fmt(s['p99'])} | {_fmt(s['wall'])} |", file=f)
        if s["errors"]:
            print(f"|  ↳ {c} errors: {s['errors'][0][:160]} |||||||", file=f)
    rs = ratios(summ)
    if "clonebot" in summ:
        if rs:
            names = {"rss": "driver RSS vs smaller node driver", "pss": "tree PSS vs lower peer",
                     "p50": "p50 vs faster peer", "p99": "p99 vs faster peer"}
            print("", file=f)
            for k, v in rs.items():
                print(f"- clonebot {names[k]}: {v['ratio']:.2f} (goal ≤ {v['goal']}) "
                      f"**{'met' if v['met'] else 'missed'}**", file=f)
        else:
            print("\n- clonebot ratios: n/a (no clonebot or peer figures)", file=f)
    f.flush()


def print_phases(n, bname, summ, f=sys.stdout):
    cols = ["context_page", "navigate", "screenshot", "extract", "clicks", "type", "close"]
    rows = [(c, summ[c]) for c in CONTENDERS if c in summ and summ[c]["rounds_with_numbers"]]
    if not rows:
        return
    for _, s in rows:  # phases a contender reports beyond the common ones
        cols += [ph for ph in s["phases"] if ph not in cols]
    print(f"\nphase p50 / p99 ms (N = {n}, {bname}):", file=f)
    print("  " + "contender".ljust(11) + "".join(c.rjust(16) for c in cols), file=f)
    for c, s in rows:
        cells = []
        for ph in cols:
            v = s["phases"].get(ph)
            cells.append((f"{_fmt(v['p50'])}/{_fmt(v['p99'])}" if v else "-").rjust(16))
        print("  " + c.ljust(11) + "".join(cells), file=f)
    f.flush()


# ---------------------------------------------------------------- main

def main(argv=None):
    global PSS_DUTY
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", default="1,10,50,100", help="comma list of N (default 1,10,50,100)")
    ap.add_argument("--browsers", default="headless-shell,chromium",
                    help="comma list: headless-shell, chromium, or paths")
    ap.add_argument("--only", default=",".join(CONTENDERS), help="comma list of contenders")
    ap.add_argument("--rounds", type=int, default=3, help="runs per cell; medians are reported")
    ap.add_argument("--clonebot", default=os.path.join(ROOT, "build", "clonebot"))
    ap.add_argument("--node", default=shutil.which("node") or "node")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per run before it is killed")
    ap.add_argument("--pause", type=float, default=1.0, help="seconds of rest between runs")
    ap.add_argument("--pss-duty", type=float, default=PSS_DUTY,
                    help="cap on the CPU share (of one core) spent reading smaps_rollup; "
                         "0 = no PSS sampling (default 0.1)")
    ap.add_argument("--no-warmup", action="store_true", help="skip the unmeasured warm-up run per browser")
    ap.add_argument("--json", help="write all raw results and medians to FILE")
    a = ap.parse_args(argv)
    PSS_DUTY = a.pss_duty

    ns = [int(x) for x in a.sessions.split(",") if x.strip()]
    only = [x.strip() for x in a.only.split(",") if x.strip()]
    for c in only:
        if c not in CONTENDERS:
            ap.error(f"unknown contender {c!r} (choose from {', '.join(CONTENDERS)})")
    browsers = []
    for b in (x.strip() for x in a.browsers.split(",") if x.strip()):
        path = BROWSERS.get(b, b)
        if not os.path.exists(path):
            ap.error(f"browser {b!r}: {path} does not exist")
        browsers.append((b if b in BROWSERS else os.path.basename(b), path))
    if any(c in PEERS for c in only) and not os.path.isdir(os.path.join(HERE, "node_modules")):
        ap.error(f"run `npm ci` in {HERE} first (node_modules missing)")

    server, port = start_server()
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/counter"
    print(f"# web_bench: server {base}, N={ns}, browsers={[b for b, _ in browsers]}, "
          f"contenders={only}, rounds={a.rounds}", flush=True)

    if not a.no_warmup and any(c in PEERS for c in only):
        for _, path in browsers:  # page-cache the binary; not measured
            run_peer("puppeteer", path, url, 1, a.timeout, a.node)

    raw, results = [], {}
    for n in ns:
        for bname, bpath in browsers:
            cell = {c: [] for c in only}
            for r in range(a.rounds):
                for c in only:  # interleave contenders within each round
                    if c == "clonebot":
                        res = run_clonebot(a.clonebot, bname, bpath, base, n, a.timeout)
                    else:
                        res = run_peer(c, bpath, url, n, a.timeout, a.node)
                    res.update({"contender": c, "n": n, "browser_name": bname, "round": r})
                    cell[c].append(res)
                    raw.append(res)
                    lat = res.get("latency_ms") or {}
                    print(f"  N={n} {bname} {c} round {r + 1}: ok={res.get('ok')} "
                          f"p50={lat.get('p50')} p99={lat.get('p99')} wall={res.get('wall_ms')} "
                          f"rss={_fmt(res.get('driver_peak_rss_kib'), 1024, 1)}MiB "
                          f"pss={_fmt(res.get('tree_peak_pss_kib'), 1024, 1)}MiB"
                          + (f"  ERROR: {res['error'][:200]}" if res.get("error") else ""),
                          file=sys.stderr, flush=True)
                    time.sleep(a.pause)
            summ = {c: summarise(v) for c, v in cell.items()}
            results[f"{n}/{bname}"] = {"n": n, "browser": bname, "path": bpath,
                                       "summary": summ, "ratios": ratios(summ)}
            print_table(n, bname, summ)
            print_phases(n, bname, summ)

    server.shutdown()
    server.server_close()
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"argv": sys.argv, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                       "goals": GOALS, "cells": results, "raw": raw}, f, indent=1)
        print(f"\n# raw results: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
