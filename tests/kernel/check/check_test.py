#!/usr/bin/env python3
"""Kernel test for `clonebot check`: runs the real probe on this machine and checks that it
finishes quickly, reports every feature in both formats consistently, exits 0, and leaves no
processes or cgroups behind. Usage: check_test.py PATH/TO/clonebot. Exit 0 pass, 1 fail."""
import ctypes
import json
import os
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
CAPABILITIES = ["trace", "snapshot", "run", "checkpoint"]
BACKENDS = {
    "trace": {"ptrace+seccomp", "ptrace", "none"},
    "dirty_tracking": {"uffd-wp-async", "soft-dirty", "page-hash"},
    "cgroup": {"cgroup-v2", "cgroup-v1", "none"},
}
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def run(argv, **kw):
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=20, **kw)
    return p, time.monotonic() - t0


def leftover_children():
    # With us as subreaper, anything clonebot left running was reparented to us.
    kids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == os.getpid():
            kids.append(int(pid))
    return kids


def leftover_cgroups(doc):
    dirs = [doc["cgroups"]["v2"]["dir"]] + [v["dir"] for v in doc["cgroups"]["v1"].values()]
    left = []
    for d in filter(None, dirs):
        try:
            left += [os.path.join(d, n) for n in os.listdir(d) if n.startswith("clonebot-check.")]
        except OSError:
            pass
    return left


def table_rows(text):
    rows = {}
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("feature"))
    for l in lines[start + 1:]:
        if not l.strip():
            break
        parts = l.split(None, 2)
        rows[parts[0]] = parts[1]
    return rows


def main():
    if len(sys.argv) != 2:
        print("usage: check_test.py CLONEBOT", file=sys.stderr)
        return 2
    clonebot = os.path.abspath(sys.argv[1])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

    # JSON.
    p, _ = run([clonebot, "check", "--format", "json"])
    check(p.returncode == 0, f"check --format json exit {p.returncode}: {p.stderr.strip()}")
    doc = json.loads(p.stdout)
    feats = doc["features"]
    check(len(feats) >= 30, f"only {len(feats)} features")
    for name, f in feats.items():
        check(isinstance(f.get("available"), bool) and isinstance(f.get("detail"), str), f"feature {name} malformed")
    for key, allowed in BACKENDS.items():
        check(doc["backends"].get(key) in allowed, f"backend {key}={doc['backends'].get(key)}")
    check(sorted(doc["capabilities"]) == sorted(CAPABILITIES), f"capabilities {sorted(doc['capabilities'])}")
    check(doc["probe_ms"] < 1000, f"probe_ms {doc['probe_ms']}")
    check(doc["kernel"]["release"] == os.uname().release, "kernel release")

    # Facts this test can see for itself.
    check(feats["bpf.btf"]["available"] == os.path.exists("/sys/kernel/btf/vmlinux"), "bpf.btf vs /sys/kernel/btf/vmlinux")
    check(feats["landlock"]["available"] == (doc["landlock_abi"] > 0), "landlock vs landlock_abi")
    has_v2 = any(l.split(" - ")[1].startswith("cgroup2 ") for l in open("/proc/self/mountinfo") if " - " in l)
    check(feats["cgroup.v2"]["available"] <= has_v2, "cgroup.v2 reported without a cgroup2 mount")
    if doc["backends"]["dirty_tracking"] == "uffd-wp-async":
        check(feats["uffd.wp_async"]["available"] and feats["pagemap.scan"]["available"], "uffd-wp plan without features")
    if doc["backends"]["cgroup"] == "cgroup-v2":
        check({"memory", "pids"} <= set(doc["cgroups"]["v2"]["controllers"]), "v2 backend without memory+pids")

    # Text: same features, same answers, and the backend section.
    p, _ = run([clonebot, "check"])
    check(p.returncode == 0, f"check exit {p.returncode}: {p.stderr.strip()}")
    rows = table_rows(p.stdout)
    check(set(rows) == set(feats), f"text/json feature sets differ: {set(rows) ^ set(feats)}")
    for name, f in feats.items():
        want = "yes" if f["available"] else "no"
        check(rows.get(name) == want, f"{name}: text {rows.get(name)}, json {want}")
    check("capabilities \u2192 backend" in p.stdout, "no 'capabilities -> backend' section")
    for cap in CAPABILITIES:
        check(any(l.strip().startswith(cap + " ") for l in p.stdout.splitlines()), f"no line for capability {cap}")

    # Bad flag: one line on stderr, non-zero exit.
    p, _ = run([clonebot, "check", "--format", "xml"])
    check(p.returncode != 0 and p.stderr.strip().count("\n") == 0, f"bad --format: exit {p.returncode}, {p.stderr!r}")

    # Unprivileged (when root and the binary is reachable by nobody): still exits 0.
    if os.geteuid() == 0 and os.access(clonebot, os.X_OK):
        def drop():
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
        try:
            p, _ = run([clonebot, "check", "--format", "json"], preexec_fn=drop, cwd="/")
            if p.returncode == 126 or "Permission denied" in p.stderr:
                print("SKIP unprivileged run: binary not reachable by uid 65534")
            else:
                check(p.returncode == 0, f"unprivileged check exit {p.returncode}: {p.stderr.strip()}")
        except PermissionError:
            print("SKIP unprivileged run: binary not reachable by uid 65534")

    time.sleep(0.05)
    kids = leftover_children()
    check(not kids, f"processes left behind: {kids}")
    left = leftover_cgroups(doc)
    check(not left, f"cgroups left behind: {left}")

    print("kernel.check:", "FAIL" if failures else "PASS", f"({len(feats)} features)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
