#!/usr/bin/env python3
"""End-to-end tests for `clonebot web` (label "web"): snapshot, record and replay against the
pages of tests/web/server.py (started in-process on 127.0.0.1), in real headless Chromium.

    web_test.py --clonebot BUILD/clonebot --case NAME

Every case runs clonebot with TMPDIR set to a fresh private directory, so the browsers it
starts (--user-data-dir=$TMPDIR/clonebot-web.<pid>.<random>, each leading its own process
group) are exactly the processes found through that prefix. A monitor thread samples /proc
while the case runs; after the case no process of those browsers may be left and no profile
directory may remain.
Exit 0 pass, 1 fail, 77 skip (the browser is not installed).
"""

import argparse
import glob
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import start_server  # noqa: E402

HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"
CHROMIUM = "/usr/lib/chromium/chromium"

ARGS = None
FAILS = []
TMP = None        # this case's TMPDIR for clonebot
WORK = None       # this case's scratch directory (outputs, journeys)
BASE = None       # http://127.0.0.1:PORT
MON = None        # the process monitor


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, flush=True)
    else:
        print("ok:", what, flush=True)
    return cond


def info(*a):
    print("   ", *a, flush=True)


# ---- processes ----

def _proc_stat(pid):
    """(state, ppid, pgrp, utime+stime) of pid, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return rest[0], int(rest[1]), int(rest[2]), int(rest[11]) + int(rest[12])
    except (OSError, IndexError, ValueError):
        return None


def _proc_args(pid):
    # Chromium's child processes rewrite their argv into one space-separated string.
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").split()
    except OSError:
        return []


class Monitor:
    """Samples /proc: the browsers whose --user-data-dir is under TMP, and every process of
    their process groups. Remembers every group it has seen, so processes that outlive their
    browser are still found."""

    def __init__(self, tmp):
        self.prefix = f"--user-data-dir={tmp}/clonebot-web."
        self.groups = set()          # pgrps of browsers seen (= browser main pids)
        self.profiles = {}           # browser pid -> profile dir
        self.exes = set()            # executables of the browsers seen
        self.max_browsers = 0
        self.max_renderers = 0
        self.top_chrome_webui = 0    # renderers of the full browser's own WebUI seen at once
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def scan(self):
        """Returns {pid: (args, stat)} of the live (non-zombie) processes of our browsers."""
        procs = {}
        mains = set()
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            pid = int(d)
            st = _proc_stat(pid)
            if st is None or st[0] in ("Z", "X"):
                continue
            args = None
            with self.lock:
                known = st[2] in self.groups
            if not known:
                args = _proc_args(pid)
                if any(a.startswith(self.prefix) for a in args):
                    mains.add(pid)
                    with self.lock:
                        self.groups.add(st[2])
                        self.groups.add(pid)
                        self.exes.add(args[0])
                        for a in args:
                            if a.startswith(self.prefix):
                                self.profiles[pid] = a.split("=", 1)[1]
                    known = True
            if known:
                procs[pid] = (args if args is not None else _proc_args(pid), st)
        # Distinct profiles, not processes: a child between Chromium's fork and exec still
        # shows the browser's command line.
        browsers = {x for a, _ in procs.values() if not any(y.startswith("--type=") for y in a)
                    for x in a if x.startswith(self.prefix)}
        renderers = [p for p, (a, _) in procs.items() if "--type=renderer" in a]
        webui = [p for p, (a, _) in procs.items() if "--top-chrome-webui" in a]
        with self.lock:
            self.max_browsers = max(self.max_browsers, len(browsers))
            self.max_renderers = max(self.max_renderers, len(renderers))
            self.top_chrome_webui = max(self.top_chrome_webui, len(webui))
        return procs

    def _loop(self):
        while not self.stop_ev.is_set():
            try:
                self.scan()
            except Exception as e:  # never let the monitor die silently
                print("monitor:", e, flush=True)
            self.stop_ev.wait(0.1)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stop_ev.set()
        self.thread.join(2)

    def reset_max(self):
        with self.lock:
            self.max_browsers = 0
            self.max_renderers = 0
            self.top_chrome_webui = 0

    def renderers(self):
        """[(pid, cpu_ticks, client_id)] of our browsers' live renderer processes."""
        out = []
        for pid, (args, st) in self.scan().items():
            if "--type=renderer" in args:
                cid = -1
                for a in args:
                    if a.startswith("--renderer-client-id="):
                        cid = int(a.split("=", 1)[1])
                out.append((pid, st[3], cid))
        return out

    def wait_gone(self, secs):
        """Waits up to secs for no process of our browsers; returns the ones left."""
        end = time.monotonic() + secs
        while True:
            left = self.scan()
            if not left or time.monotonic() >= end:
                return left
            time.sleep(0.05)


def profile_dirs():
    return sorted(glob.glob(os.path.join(TMP, "clonebot-web.*")))


# ---- running clonebot ----

def env():
    return dict(os.environ, TMPDIR=TMP, LC_ALL="C.UTF-8")


def cb(args, timeout=60):
    """clonebot web ARGS; returns CompletedProcess with text out/err."""
    p = subprocess.run([ARGS.clonebot, "web"] + args, capture_output=True, timeout=timeout, env=env(),
                       cwd=WORK)
    p.stdout = p.stdout.decode("utf-8", "replace")
    p.stderr = p.stderr.decode("utf-8", "replace")
    return p


def cb_popen(args):
    return subprocess.Popen([ARGS.clonebot, "web"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env(), cwd=WORK)


def stop_with(proc, sig):
    """Sends |sig| to a cb_popen process and waits up to 10 s (then SIGKILL); (seconds, stderr)."""
    t0 = time.monotonic()
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    return time.monotonic() - t0, err.decode("utf-8", "replace")


def url(path):
    return BASE + path


def path(*p):
    return os.path.join(WORK, *p)


def load(p):
    with open(p, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


def write_json(name, obj):
    p = path(name)
    with open(p, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False)
    return p


def one_error_line(p, what, *needles):
    """The error contract: non-zero exit, stderr exactly one line starting 'clonebot: web:'
    (or, for a usage error, 'clonebot:'), containing every needle; no stack trace."""
    lines = p.stderr.strip("\n").split("\n") if p.stderr.strip() else []
    ok = (p.returncode != 0 and len(lines) == 1 and lines[0].startswith("clonebot: web:")
          and all(n in lines[0] for n in needles))
    check(ok, f"{what}: exit non-zero ({p.returncode}), one stderr line 'clonebot: web: ...' naming "
              f"{needles} ({p.stderr.strip()!r})")
    bad = [w for w in ("Traceback", "terminate called", "Aborted", "what():", "#0 ", "Segmentation")
           if w in p.stderr]
    check(not bad, f"{what}: no crash or stack trace ({bad})")


# ---- PNG ----

def decode_png(p):
    """Fully decodes the structure of a PNG: signature, every chunk's CRC, IHDR, the
    concatenated IDAT inflated to exactly height*(1+width*bpp) bytes with valid filter bytes.
    Returns (width, height, problem or None)."""
    try:
        with open(p, "rb") as f:
            data = f.read()
    except OSError as e:
        return 0, 0, str(e)
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return 0, 0, "bad signature"
    pos = 8
    ihdr = None
    idat = []
    seen_iend = False
    while pos < len(data):
        if pos + 8 > len(data):
            return 0, 0, "truncated chunk header"
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            return 0, 0, f"truncated chunk {ctype!r}"
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            return 0, 0, f"bad CRC in {ctype!r}"
        if ctype == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            seen_iend = True
            pos += 12 + length
            break
        pos += 12 + length
    if ihdr is None or not idat or not seen_iend:
        return 0, 0, "missing IHDR, IDAT or IEND"
    if pos != len(data):
        return 0, 0, "bytes after IEND"
    w, h, depth, ctype, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(ctype)
    if channels is None or depth != 8 or interlace != 0:
        return w, h, f"unexpected format depth={depth} color={ctype} interlace={interlace}"
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as e:
        return w, h, f"IDAT does not inflate: {e}"
    stride = 1 + w * channels
    if len(raw) != h * stride:
        return w, h, f"inflated {len(raw)} bytes, want {h}*{stride}"
    if any(raw[i] > 4 for i in range(0, len(raw), stride)):
        return w, h, "bad filter byte"
    return w, h, None


def check_png(p, w, h, what):
    pw, ph, problem = decode_png(p)
    check(problem is None and (pw, ph) == (w, h),
          f"{what}: PNG decodes fully at {w}x{h} ({pw}x{ph}, {problem})")


# ---- snapshot helpers ----

def snapshot(page, out, *flags, timeout=60):
    return cb(["snapshot", url(page), "-o", path(out)] + list(flags), timeout=timeout)


def items_of(ex, sel):
    return [i for i in ex if i["selector"] == sel]


def by_id(items):
    return {i["attrs"].get("id"): i for i in items}


# ---- cases ----

ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")


def check_meta(meta, page, w, h, sels, count, title, full_page=False):
    check(meta.get("format") == "clonebot-web-snapshot" and meta.get("version") == 1,
          f"{page}: meta format/version ({meta.get('format')} {meta.get('version')})")
    check(meta.get("url") == url(page) and meta.get("final_url") == url(page),
          f"{page}: meta url and final_url ({meta.get('url')} {meta.get('final_url')})")
    check(meta.get("title") == title, f"{page}: meta title {title!r} ({meta.get('title')!r})")
    check(meta.get("status") == 200 and meta.get("status_text") == "OK",
          f"{page}: meta status 200 OK ({meta.get('status')} {meta.get('status_text')!r})")
    check(meta.get("viewport") == {"width": w, "height": h}, f"{page}: meta viewport ({meta.get('viewport')})")
    check(meta.get("full_page") is full_page, f"{page}: meta full_page {full_page}")
    shot = meta.get("screenshot", {})
    return shot


def check_snapshot_files(out, page, w, h, sels, count, title):
    d = path(out)
    meta = load(os.path.join(d, "meta.json"))
    shot = check_meta(meta, page, w, h, sels, count, title)
    png = os.path.join(d, "screenshot.png")
    check(shot.get("file") == "screenshot.png" and shot.get("width") == w and shot.get("height") == h
          and shot.get("bytes") == os.path.getsize(png),
          f"{page}: meta screenshot file/size/bytes ({shot}, file {os.path.getsize(png)} bytes)")
    check_png(png, w, h, f"{page} {w}x{h}")
    ex = meta.get("extract", {})
    check(ex == {"file": "extract.json", "selectors": sels, "count": count},
          f"{page}: meta extract {{file, selectors {sels}, count {count}}} ({ex})")
    check(isinstance(meta.get("browser"), str) and "Chrome" in meta["browser"],
          f"{page}: meta browser ({meta.get('browser')})")
    check(isinstance(meta.get("taken_at"), str) and ISO_RE.match(meta["taken_at"]) is not None,
          f"{page}: meta taken_at is an ISO time ({meta.get('taken_at')})")
    tm = meta.get("timings_ms", {})
    keys = ["launch", "open", "navigation", "load", "screenshot", "html", "extract", "total"]
    check(all(isinstance(tm.get(k), (int, float)) and tm[k] >= 0 for k in keys)
          and tm["total"] >= max(tm[k] for k in keys if k != "total"),
          f"{page}: meta timings_ms has {keys}, non-negative, total the largest ({tm})")
    check(meta.get("console_errors") == [], f"{page}: no console errors ({meta.get('console_errors')})")
    return meta, load(os.path.join(d, "extract.json"))


def check_boxes(items, what):
    bad = []
    for i in items:
        b = i.get("box", {})
        if not all(isinstance(b.get(k), (int, float)) for k in ("x", "y", "width", "height")):
            bad.append(i)
            continue
        if min(b["x"], b["y"], b["width"], b["height"]) < 0:
            bad.append(i)
        if i.get("visible") and (b["width"] <= 0 or b["height"] <= 0):
            bad.append(i)
    check(not bad, f"{what}: boxes non-negative, visible ones non-empty ({bad[:2]})")


def case_snapshot_extract():
    # /counter at the default viewport.
    sels = ["button", ".count", "#name"]
    p = snapshot("/counter", "counter", *sum((["--extract", s] for s in sels), []))
    check(p.returncode == 0, f"/counter: exit 0 ({p.returncode} {p.stderr.strip()})")
    if p.returncode == 0:
        meta, ex = check_snapshot_files("counter", "/counter", 1280, 720, sels, 11, "Counter")
        check([i["selector"] for i in ex] == ["button"] * 5 + [".count"] * 5 + ["#name"],
              f"/counter: items grouped per selector in the order given ({[i['selector'] for i in ex]})")
        check([i["index"] for i in ex] == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0], "/counter: index per selector")
        b = items_of(ex, "button")
        check([i["text"] for i in b] == ["One", "Two", "Three", "Plus", "Anonymous"],
              f"/counter: button texts in document order ({[i['text'] for i in b]})")
        check([i["attrs"] for i in b] == [{"id": "b1"}, {"id": "b2"}, {"id": "b3"}, {"data-testid": "plus"}, {}],
              f"/counter: button attrs ({[i['attrs'] for i in b]})")
        c = items_of(ex, ".count")
        check([(i["text"], i["attrs"]) for i in c] ==
              [("0", {"class": "count", "data-for": k}) for k in ("b1", "b2", "b3", "plus", "anonymous")],
              f"/counter: counters 0 with their attrs ({[(i['text'], i['attrs']) for i in c]})")
        n = items_of(ex, "#name")
        check(len(n) == 1 and n[0]["attrs"] == {"id": "name", "name": "name", "autocomplete": "off"}
              and n[0].get("value") == "" and n[0]["text"] == "",
              f"/counter: #name attrs and empty value ({n})")
        check("value" not in b[0] and "checked" not in b[0] and "checked" not in n[0],
              f"/counter: no value on a button, no checked on a text input ({b[0]}, {n})")
        check(all(i["visible"] for i in ex), "/counter: everything visible")
        check_boxes(ex, "/counter")
        ys = [i["box"]["y"] for i in b]
        check(ys == sorted(ys) and len(set(ys)) == 5, f"/counter: buttons stacked downwards ({ys})")
        with open(path("counter", "page.html"), "rb") as f:
            html = f.read().decode("utf-8")
        check("Anonymous" in html and 'data-testid="plus"' in html and "<h1>Counter</h1>" in html,
              "/counter: page.html holds the page")

    # /form: live values of a select and a checkbox.
    sels = ["select", "#agree", "#name"]
    p = snapshot("/form", "form", *sum((["--extract", s] for s in sels), []))
    check(p.returncode == 0, f"/form: exit 0 ({p.returncode} {p.stderr.strip()})")
    if p.returncode == 0:
        ex = load(path("form", "extract.json"))
        s = items_of(ex, "select")
        a = items_of(ex, "#agree")
        check(len(s) == 1 and s[0].get("value") == "red" and s[0]["attrs"] == {"name": "color"},
              f"/form: select value 'red' ({s})")
        check(len(a) == 1 and a[0].get("checked") is False and a[0].get("value") == "on"
              and a[0]["attrs"] == {"type": "checkbox", "name": "agree", "id": "agree"},
              f"/form: checkbox checked false ({a})")

    # /hidden: visibility rules and attributes.
    p = snapshot("/hidden", "hidden", "--extract", ".x", "--extract", "#attrs")
    check(p.returncode == 0, f"/hidden: exit 0 ({p.returncode} {p.stderr.strip()})")
    if p.returncode == 0:
        meta, ex = check_snapshot_files("hidden", "/hidden", 1280, 720, [".x", "#attrs"], 5, "Hidden")
        x = items_of(ex, ".x")
        ids = [i["attrs"].get("id") for i in x]
        check(ids == ["x-none", "x-invisible", "x-zero", "x-visible"], f"/hidden: .x in document order ({ids})")
        if len(x) == 4:
            check([i["visible"] for i in x] == [False, False, False, True],
                  f"/hidden: only #x-visible is visible ({[i['visible'] for i in x]})")
            # innerText: a display:none element is not rendered, so innerText is its text content;
            # a visibility:hidden one is rendered but its text is skipped; a 0x0 overflow:hidden box
            # still has rendered text.
            check([i["text"] for i in x] == ["None text", "", "Zero text", "Visible text"],
                  f"/hidden: innerText of each ({[i['text'] for i in x]})")
            check(x[0]["box"] == {"x": 0, "y": 0, "width": 0, "height": 0},
                  f"/hidden: display:none has an empty box ({x[0]['box']})")
            check(x[1]["box"]["width"] > 0 and x[1]["box"]["height"] == 20,
                  f"/hidden: visibility:hidden keeps its layout box ({x[1]['box']})")
            check(x[2]["box"]["width"] == 0 and x[2]["box"]["height"] == 0,
                  f"/hidden: zero-size box ({x[2]['box']})")
            check(x[3]["box"] == {"x": 16, "y": x[3]["box"]["y"], "width": 1248, "height": 20}
                  and x[3]["box"]["y"] > x[1]["box"]["y"],
                  f"/hidden: visible box 16,y 1248x20 below the invisible one ({x[3]['box']})")
            check(x[1]["attrs"] == {"class": "x", "id": "x-invisible", "style": "visibility:hidden"},
                  f"/hidden: attrs of #x-invisible ({x[1]['attrs']})")
        at = items_of(ex, "#attrs")
        check(len(at) == 1 and at[0]["attrs"] == {"id": "attrs", "data-a": "1", "data-b": "two",
                                                   "aria-label": "lbl"}
              and at[0]["text"] == "Attributes" and at[0]["visible"] is True,
              f"/hidden: #attrs attributes all extracted ({at})")
        check_boxes(ex, "/hidden")
        with open(path("hidden", "page.html"), "rb") as f:
            html = f.read().decode("utf-8")
        check("Visible text" in html and "None text" in html and 'aria-label="lbl"' in html,
              "/hidden: page.html holds the page")

    # /utf8: non-ASCII byte-exact, at 800x600.
    p = snapshot("/utf8", "utf8", "--viewport", "800x600", "--extract", "#p1", "--extract", "button")
    check(p.returncode == 0, f"/utf8: exit 0 ({p.returncode} {p.stderr.strip()})")
    if p.returncode == 0:
        meta, ex = check_snapshot_files("utf8", "/utf8", 800, 600, ["#p1", "button"], 2, "UTF-8 ✓")
        want = "Grüße, 世界 — ñandú 🦀"
        p1 = items_of(ex, "#p1")
        check(len(p1) == 1 and p1[0]["text"] == want and p1[0]["text"].encode("utf-8") == want.encode("utf-8"),
              f"/utf8: 2-, 3- and 4-byte UTF-8 text exact ({p1 and p1[0]['text']!r})")
        bt = items_of(ex, "button")
        check(len(bt) == 1 and bt[0]["text"] == "Café ☕" and bt[0]["attrs"] == {"title": "café"},
              f"/utf8: button text and title attribute ({bt})")
        check(len(p1) == 1 and p1[0]["box"]["width"] == 800 - 32,
              f"/utf8: box follows the 800 px viewport ({p1 and p1[0]['box']})")
        with open(path("utf8", "page.html"), "rb") as f:
            raw = f.read()
        check(want.encode("utf-8") in raw, "/utf8: page.html holds the text as UTF-8")
        with open(path("utf8", "extract.json"), "rb") as f:
            raw = f.read()
        try:
            raw.decode("utf-8", "strict")
            valid = True
        except UnicodeDecodeError:
            valid = False
        check(valid, "/utf8: extract.json is valid UTF-8")


def case_snapshot_full_page():
    p = snapshot("/long", "full", "--full-page", "--extract", "html", "--extract", "#bottom")
    check(p.returncode == 0, f"full page: exit 0 ({p.returncode} {p.stderr.strip()})")
    if p.returncode == 0:
        meta = load(path("full", "meta.json"))
        ex = load(path("full", "extract.json"))
        h = items_of(ex, "html")
        doc_h = h[0]["box"]["height"] if h else -1
        check(doc_h == 5000, f"the document is 5000 px tall ({doc_h})")
        check(meta.get("full_page") is True, "meta full_page true")
        check(meta.get("screenshot", {}).get("width") == 1280 and meta["screenshot"].get("height") == doc_h,
              f"meta screenshot 1280x{doc_h} ({meta.get('screenshot')})")
        check_png(path("full", "screenshot.png"), 1280, 5000, "full page")
        bt = items_of(ex, "#bottom")
        check(len(bt) == 1 and 4900 <= bt[0]["box"]["y"] <= 4910,
              f"#bottom's box is in document coordinates, y ~4904 ({bt and bt[0]['box']})")
    p = snapshot("/long", "view", "--extract", "#bottom")
    check(p.returncode == 0, f"viewport shot: exit 0 ({p.returncode} {p.stderr.strip()})")
    if p.returncode == 0:
        check_png(path("view", "screenshot.png"), 1280, 720, "viewport-only shot of /long")
        check(load(path("view", "meta.json")).get("full_page") is False, "meta full_page false")
        bt = items_of(load(path("view", "extract.json")), "#bottom")
        check(len(bt) == 1 and 4900 <= bt[0]["box"]["y"] <= 4910,
              f"document coordinates also without --full-page ({bt and bt[0]['box']})")
    p = snapshot("/long", "full800", "--full-page", "--viewport", "800x600")
    check(p.returncode == 0, f"full page 800x600: exit 0 ({p.returncode} {p.stderr.strip()})")
    if p.returncode == 0:
        check_png(path("full800", "screenshot.png"), 800, 5000, "full page at 800 wide")


def case_snapshot_wait():
    def late(out):
        return [i["text"] for i in items_of(load(path(out, "extract.json")), "#late")]

    p = snapshot("/delayed", "sel", "--wait", "#late", "--extract", "#late")
    check(p.returncode == 0 and late("sel") == ["Arrived"],
          f"--wait '#late' finds it ({p.returncode} {p.stderr.strip()})")
    p = snapshot("/delayed", "load", "--extract", "#late")
    check(p.returncode == 0 and late("load") == [],
          f"default load wait: #late not there yet ({p.returncode} {p.stderr.strip()})")
    p = snapshot("/delayed", "ms", "--wait", "600ms", "--extract", "#late")
    check(p.returncode == 0 and late("ms") == ["Arrived"], f"--wait 600ms finds it ({p.returncode} {p.stderr.strip()})")
    p = snapshot("/delayed", "idle", "--wait", "networkidle", "--extract", "h1")
    check(p.returncode == 0 and load(path("idle", "meta.json")).get("status") == 200,
          f"--wait networkidle works ({p.returncode} {p.stderr.strip()})")
    p = snapshot("/delayed", "chain", "--wait", "domcontentloaded", "--wait", "load", "--wait", "#late-btn",
                 "--extract", "#late")
    check(p.returncode == 0 and late("chain") == ["Arrived"],
          f"several --wait in order ({p.returncode} {p.stderr.strip()})")
    t0 = time.monotonic()
    p = snapshot("/delayed", "never", "--wait", "#never", "--timeout", "1s")
    dt = time.monotonic() - t0
    one_error_line(p, "--wait for a selector that never appears", "#never")
    check(dt < 6, f"and gives up near the 1 s timeout ({dt:.1f} s)")
    p = snapshot("/slow?ms=300", "slow", "--timeout", "10s", "--extract", "#ms")
    check(p.returncode == 0 and [i["text"] for i in items_of(load(path("slow", "extract.json")), "#ms")] == ["300"],
          f"/slow?ms=300 with --timeout 10s ({p.returncode} {p.stderr.strip()})")
    t0 = time.monotonic()
    p = snapshot("/slow?ms=3000", "slowfail", "--timeout", "100ms")
    dt = time.monotonic() - t0
    one_error_line(p, "/slow?ms=3000 with --timeout 100ms", "100")
    check(re.search(r"time|within", p.stderr) is not None, f"the line says it timed out ({p.stderr.strip()!r})")
    check(dt < 2.5, f"and fails quickly ({dt:.2f} s)")
    check(not os.path.exists(path("slowfail")) or not os.listdir(path("slowfail")),
          "nothing written after a navigation timeout")


def case_snapshot_errors():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed = s.getsockname()[1]
    s.close()
    dead = f"http://127.0.0.1:{closed}/x"
    p = cb(["snapshot", dead, "-o", path("unreach")])
    one_error_line(p, "unreachable URL", dead)
    check(not os.path.exists(path("unreach")), "unreachable: nothing written")

    p = snapshot("/status/404", "s404")
    one_error_line(p, "HTTP 404", "404")
    files = sorted(os.listdir(path("s404"))) if os.path.isdir(path("s404")) else []
    check(files == ["extract.json", "meta.json", "page.html", "screenshot.png"], f"404: all files written ({files})")
    if files:
        m = load(path("s404", "meta.json"))
        check(m.get("status") == 404 and m.get("status_text") == "Not Found",
              f"404: meta status 404 ({m.get('status')} {m.get('status_text')!r})")
        check_png(path("s404", "screenshot.png"), 1280, 720, "404 page")
    p = snapshot("/status/404", "a404", "--allow-http-error")
    check(p.returncode == 0 and load(path("a404", "meta.json")).get("status") == 404,
          f"404 --allow-http-error: exit 0, status 404 ({p.returncode} {p.stderr.strip()})")
    p = snapshot("/status/500", "s500")
    one_error_line(p, "HTTP 500", "500")

    p = snapshot("/counter", "badsel", "--extract", "button", "--extract", "a[[[")
    one_error_line(p, "bad selector", "a[[[")
    check(not os.path.exists(path("badsel")), "bad selector: nothing written")
    p = snapshot("/counter", "nobrowser", "--browser", "/nonexistent/chrome")
    one_error_line(p, "missing browser", "/nonexistent/chrome")
    check(not os.path.exists(path("nobrowser")), "missing browser: nothing written")
    p = snapshot("/counter", "unkbrowser", "--browser", "firefox")
    one_error_line(p, "unknown browser name", "firefox")
    for vp in ("12x", "0x0", "axb", "1280x720x3", "8x8"):
        p = snapshot("/counter", "badvp", "--viewport", vp)
        one_error_line(p, f"--viewport {vp}", vp)
        check(p.returncode == 2, f"--viewport {vp}: usage error exit 2 ({p.returncode})")
    check(not os.path.exists(path("badvp")), "bad viewport: nothing written")
    p = snapshot("/counter", "emptywait", "--wait", "")
    one_error_line(p, "--wait ''", "--wait")
    p = snapshot("/counter", "badtimeout", "--timeout", "soon")
    one_error_line(p, "--timeout soon", "soon")
    check(not os.path.exists(path("emptywait")) and not os.path.exists(path("badtimeout")),
          "usage errors: nothing written")


def case_snapshot_console():
    p = snapshot("/console-error", "con", "--extract", "#msg")
    check(p.returncode == 0, f"a page with console errors still snapshots, exit 0 ({p.returncode} {p.stderr.strip()})")
    if p.returncode == 0:
        errs = load(path("con", "meta.json")).get("console_errors")
        check(isinstance(errs, list) and all(isinstance(e, str) for e in errs), f"console_errors is a list of strings ({errs})")
        text = json.dumps(errs)
        check("boom" in text, f"console.error('boom') captured ({errs})")
        check("kaboom" in text, f"uncaught Error('kaboom') captured ({errs})")
        check(len(items_of(load(path("con", "extract.json")), "#msg")) == 1, "and extraction still works")


# ---- record ----

def journey(start, steps, final=None):
    j = {"format": "clonebot-trajectory", "version": 1, "start_url": start,
         "viewport": {"width": 1280, "height": 720}, "steps": steps}
    if final is not None:
        j["final"] = final
    return j


FORM_DRIVE = [
    {"t": 0, "kind": "navigate", "url": "/form"},
    {"t": 300, "kind": "click", "selector": "#name"},
    {"t": 450, "kind": "type", "text": "J"},
    {"t": 560, "kind": "type", "text": "ö"},
    {"t": 660, "kind": "type", "text": "x"},
    {"t": 800, "kind": "key", "key": "Backspace"},
    {"t": 950, "kind": "click", "selector": '[data-testid="email-field"]'},
    {"t": 1100, "kind": "type", "text": "a"},
    {"t": 1200, "kind": "type", "text": "@"},
    {"t": 1300, "kind": "type", "text": "b"},
    {"t": 1450, "kind": "click", "selector": "#agree"},
    {"t": 1650, "kind": "click", "selector": "#save"},
]
FORM_OUT = {"name": "Jö", "email": "a@b", "note": "", "color": "red", "agree": True}

COUNTER_DRIVE = [
    {"t": 0, "kind": "navigate", "url": "/counter"},
    {"t": 300, "kind": "click", "selector": "#b1"},
    {"t": 450, "kind": "click", "selector": "#b1"},
    {"t": 650, "kind": "click", "selector": '[data-testid="plus"]'},
    {"t": 850, "kind": "click", "selector": "text:button=Anonymous"},
    {"t": 1050, "kind": "click", "selector": "#name"},
    {"t": 1200, "kind": "type", "text": "Z"},
    {"t": 1300, "kind": "type", "text": "é"},
]
COUNTER_COUNTS = {"b1": "2", "b2": "0", "b3": "0", "plus": "1", "anonymous": "1"}


def record(name, drive, extract, timeout=40):
    d = write_json(f"drive-{name}.json", journey(drive[0]["url"], drive))
    out = path(f"rec-{name}.json")
    args = ["record", url(drive[0]["url"]), "-o", out, "--headless", "--drive", d, "--url-base", BASE, "-q"]
    for e in extract:
        args += ["--extract", e]
    t0 = time.monotonic()
    p = cb(args, timeout=timeout)
    dt = time.monotonic() - t0
    check(p.returncode == 0, f"record {name}: exit 0 ({p.returncode} {p.stderr.strip()[-300:]})")
    check(dt < drive[-1]["t"] / 1000 + 6, f"record {name}: stops soon after the drive ends ({dt:.1f} s)")
    if not os.path.exists(out):
        return None, out
    try:
        rec = load(out)
    except ValueError as e:
        check(False, f"record {name}: the trajectory is JSON ({e})")
        return None, out
    return rec, out


def actions(rec):
    return [s for s in rec["steps"] if s["kind"] not in ("navigate", "navigated")]


def check_recording_basics(rec, name, start_path, extract):
    check(rec.get("format") == "clonebot-trajectory" and rec.get("version") == 1,
          f"{name}: format and version ({rec.get('format')} {rec.get('version')})")
    check(rec.get("start_url") == url(start_path), f"{name}: start_url absolute ({rec.get('start_url')})")
    check(rec.get("viewport") == {"width": 1280, "height": 720}, f"{name}: viewport ({rec.get('viewport')})")
    check(isinstance(rec.get("recorded_at"), str) and ISO_RE.match(rec["recorded_at"]) is not None,
          f"{name}: recorded_at ({rec.get('recorded_at')})")
    check("Chrome" in str(rec.get("browser")), f"{name}: browser ({rec.get('browser')})")
    st = rec.get("steps", [])
    check(st and st[0]["kind"] == "navigate" and st[0]["t"] == 0 and st[0].get("url") == url(start_path)
          and st[0].get("load_t", -1) >= 0,
          f"{name}: first step navigate at t=0 with load_t ({st[:1]})")
    ts = [s["t"] for s in st]
    check(all(b > a for a, b in zip(ts, ts[1:])), f"{name}: t strictly increasing ({ts})")
    fin = rec.get("final", {})
    check(fin.get("extract") == extract, f"{name}: final.extract {extract} ({fin.get('extract')})")
    for s in actions(rec):
        if s["kind"] == "click":
            if not (s.get("button") == "left" and s.get("count") == 1 and 0 <= s.get("x", -1) <= 1
                    and 0 <= s.get("y", -1) <= 1):
                check(False, f"{name}: click fields button/count/x/y ({s})")
                break
    alts_ok = all(isinstance(s.get("alternatives", []), list) and s["selector"] not in s.get("alternatives", [])
                  for s in actions(rec))
    check(alts_ok, f"{name}: alternatives do not repeat the selector "
                   f"({[(s['selector'], s.get('alternatives')) for s in actions(rec)][:3]})")


def check_spacing(rec, drive, name):
    ra = actions(rec)
    da = [s for s in drive if s["kind"] != "navigate"]
    if len(ra) != len(da):
        check(False, f"{name}: as many actions recorded as driven ({len(ra)} vs {len(da)})")
        return
    errs = [round((ra[i]["t"] - ra[i - 1]["t"]) - (da[i]["t"] - da[i - 1]["t"]), 1) for i in range(1, len(ra))]
    check(all(abs(e) <= 40 for e in errs), f"{name}: spacing of the actions within ±40 ms of the drive's ({errs})")


def counts_of(items):
    return {i["attrs"].get("data-for"): i["text"] for i in items if i["selector"] == ".count"}


def record_form():
    rec, out = record("form", FORM_DRIVE, ["input", "#out"])
    return rec, out


def record_counter():
    rec, out = record("counter", COUNTER_DRIVE, [".count", "#name"])
    return rec, out


def check_form_items(items, what):
    inp = [i for i in items if i["selector"] == "input"]
    vals = [(i["attrs"].get("name"), i.get("value"), i.get("checked")) for i in inp]
    check(vals == [("name", "Jö", None), ("email", "a@b", None), ("agree", "on", True)],
          f"{what}: input values and checkbox ({vals})")
    out = [i for i in items if i["selector"] == "#out"]
    try:
        got = json.loads(out[0]["text"]) if out else None
    except ValueError:
        got = out[0]["text"]
    check(got == FORM_OUT, f"{what}: #out shows what was typed, ticked and saved ({got})")


def check_counter_items(items, what):
    check(counts_of(items) == COUNTER_COUNTS, f"{what}: counters ({counts_of(items)})")
    n = [i for i in items if i["selector"] == "#name"]
    check(len(n) == 1 and n[0].get("value") == "Zé", f"{what}: #name value 'Zé' ({n and n[0].get('value')})")


def case_record_drive():
    rec, _ = record_form()
    if rec:
        check_recording_basics(rec, "form", "/form", ["input", "#out"])
        a = actions(rec)
        kinds = [s["kind"] for s in a]
        check(kinds == ["click", "type", "type", "type", "key", "click", "type", "type", "type", "click", "click"],
              f"form: kinds in order ({kinds})")
        sels = [s.get("selector") for s in a]
        want = ["#name"] * 5 + ['[data-testid="email-field"]'] * 4 + ["#agree", "#save"]
        check(sels == want, f"form: preferred selectors ({sels})")
        check("".join(s["text"] for s in a if s["kind"] == "type") == "Jöxa@b"
              and all(len(s["text"]) == 1 for s in a if s["kind"] == "type"),
              f"form: one character per type step, 'Jöxa@b' ({[s.get('text') for s in a if s['kind'] == 'type']})")
        check([s.get("key") for s in a if s["kind"] == "key"] == ["Backspace"], "form: the Backspace key")
        email_alts = a[5].get("alternatives", []) if len(a) > 5 else []
        check('input[name="email"]' in email_alts and any(x.startswith("html > body") or " > " in x for x in email_alts),
              f"form: email field alternatives: name and a structural path ({email_alts})")
        check_spacing(rec, FORM_DRIVE, "form")
        check_form_items(rec.get("final", {}).get("items", []), "form final")
    rec, _ = record_counter()
    if rec:
        check_recording_basics(rec, "counter", "/counter", [".count", "#name"])
        a = actions(rec)
        got = [(s["kind"], s.get("selector"), s.get("text")) for s in a]
        want = [("click", "#b1", None), ("click", "#b1", None), ("click", '[data-testid="plus"]', None),
                ("click", "text:button=Anonymous", None), ("click", "#name", None), ("type", "#name", "Z"),
                ("type", "#name", "é")]
        check(got == want, f"counter: steps and preferred selectors ({got})")
        anon = a[3].get("alternatives", []) if len(a) > 3 else []
        check(any(":nth-of-type(" in x for x in anon), f"counter: Anonymous has a structural alternative ({anon})")
        check_spacing(rec, COUNTER_DRIVE, "counter")
        check_counter_items(rec.get("final", {}).get("items", []), "counter final")


def case_record_navigation():
    drive = [{"t": 0, "kind": "navigate", "url": "/nav1"},
             {"t": 300, "kind": "click", "selector": "#go"},
             {"t": 1300, "kind": "click", "selector": "#b2x"}]
    rec, _ = record("nav", drive, [".count", "h1"])
    if rec:
        record_nav_checks(rec)
    record_stop_checks()


def record_nav_checks(rec):
    check_recording_basics(rec, "nav", "/nav1", [".count", "h1"])
    st = rec["steps"]
    got = [(s["kind"], s.get("selector") or s.get("url")) for s in st]
    want = [("navigate", url("/nav1")), ("click", "#go"), ("navigated", url("/nav2")), ("click", "#b2x")]
    check(got == want, f"nav: navigate, click #go, navigated .../nav2, click #b2x ({got})")
    nv = [s for s in st if s["kind"] == "navigated"]
    if nv:
        check(nv[0].get("load_t", -1) >= nv[0]["t"], f"nav: navigated has load_t >= t ({nv[0]})")
    items = rec.get("final", {}).get("items", [])
    check(counts_of(items) == {"b2x": "1"} and [i["text"] for i in items if i["selector"] == "h1"] == ["Second"],
          f"nav: final state on /nav2 with one click counted ({counts_of(items)})")




def record_stop_checks():
    # Ways to stop a recording without a drive: --until, --duration, SIGINT.
    t0 = time.monotonic()
    p = cb(["record", url("/delayed"), "-o", path("until.json"), "--headless", "--until", "#late", "-q",
            "--extract", "#late"], timeout=30)
    dt = time.monotonic() - t0
    check(p.returncode == 0 and dt < 5, f"record --until '#late': exit 0 soon after it appears "
                                        f"({p.returncode} {dt:.1f} s {p.stderr.strip()!r})")
    if p.returncode == 0:
        r = load(path("until.json"))
        check([s["kind"] for s in r["steps"]] == ["navigate"]
              and [i["text"] for i in r.get("final", {}).get("items", [])] == ["Arrived"],
              f"--until: only the navigate, final state has #late ({r['steps']} {r.get('final')})")
    t0 = time.monotonic()
    p = cb(["record", url("/counter"), "-o", path("duration.json"), "--headless", "--duration", "3s", "-q"],
           timeout=30)
    dt = time.monotonic() - t0
    check(p.returncode == 0 and 3.0 <= dt < 6, f"record --duration 3s: exit 0 after about 3 s "
                                               f"({p.returncode} {dt:.1f} s {p.stderr.strip()!r})")
    if p.returncode == 0:
        r = load(path("duration.json"))
        fin = r.get("final", {})
        check(fin.get("extract") == ["input", "textarea", "select"]
              and [i["attrs"].get("id") for i in fin.get("items", [])] == ["name"],
              f"--duration: default final extraction input, textarea, select ({fin})")
    rp = cb_popen(["record", url("/counter"), "-o", path("sigint.json"), "--headless", "-q"])
    end = time.monotonic() + 10
    while time.monotonic() < end and len(MON.renderers()) < 2:
        time.sleep(0.1)
    time.sleep(1.5)
    check(rp.poll() is None, f"record without --duration/--until/--drive still runs after 1.5 s ({rp.returncode})")
    dt, err = stop_with(rp, signal.SIGINT)
    # Ctrl-C is how a recording normally ends: the trajectory is written and the exit is 0.
    check(rp.returncode == 0 and dt < 5,
          f"record stopped by SIGINT: exit 0 within 5 s ({rp.returncode} {dt:.1f} s {err.strip()!r})")
    try:
        r = load(path("sigint.json"))
        check(r.get("format") == "clonebot-trajectory" and r["steps"][0]["kind"] == "navigate",
              "record stopped by SIGINT: the trajectory is written")
    except (OSError, ValueError, KeyError, IndexError) as e:
        check(False, f"record stopped by SIGINT: the trajectory is written ({e})")
    left = MON.wait_gone(1.0)
    check(not left and not profile_dirs(), f"record: no browser or profile left ({sorted(left)} {profile_dirs()})")


# ---- replay ----

def replay(jpath, out, *flags, timeout=90):
    t0 = time.monotonic()
    p = cb(["replay", jpath, "-o", path(out), "-q"] + list(flags), timeout=timeout)
    return p, time.monotonic() - t0


def summary(out):
    try:
        return load(path(out, "summary.json"))
    except (OSError, ValueError) as e:
        check(False, f"{out}/summary.json readable ({e})")
        return {}


def sessions_of(out):
    return sorted(glob.glob(path(out, "session-*")))


def check_replay_ok(p, out, n, what, browsers=1):
    check(p.returncode == 0, f"{what}: exit 0 ({p.returncode} {p.stderr.strip()[-400:]})")
    s = summary(out)
    check(s.get("sessions") == n and s.get("ok") == n and s.get("failed") == 0 and s.get("failures") == [],
          f"{what}: {n} of {n} ok ({s.get('sessions')} {s.get('ok')} {s.get('failed')} {s.get('failures')})")
    check(s.get("browsers") == browsers, f"{what}: browsers {browsers} ({s.get('browsers')})")
    dirs = sessions_of(out)
    check([os.path.basename(d) for d in dirs] == [f"session-{i:04d}" for i in range(1, n + 1)],
          f"{what}: one directory per session ({[os.path.basename(d) for d in dirs]})")
    return s


def check_session_results(out, n, what, extract_check, screenshot=True):
    bad_res, bad_shot = [], []
    for i in range(1, n + 1):
        d = path(out, f"session-{i:04d}")
        try:
            r = load(os.path.join(d, "result.json"))
        except (OSError, ValueError) as e:
            bad_res.append((i, str(e)))
            continue
        if not (r.get("session") == i and r.get("ok") is True and isinstance(r.get("latency_ms"), (int, float))
                and isinstance(r.get("steps"), list) and r["steps"] and "error" not in r):
            bad_res.append((i, r.get("error")))
        extract_check(load(os.path.join(d, "extract.json")), f"{what} session {i}")
        if screenshot:
            pw, ph, problem = decode_png(os.path.join(d, "screenshot.png"))
            if problem or (pw, ph) != (1280, 720):
                bad_shot.append((i, pw, ph, problem))
    check(not bad_res, f"{what}: every result.json ok ({bad_res})")
    if screenshot:
        check(not bad_shot, f"{what}: every session screenshot decodes at 1280x720 ({bad_shot})")


def case_replay_state():
    for name, rec_fn, items_check in (("form", record_form, check_form_items),
                                      ("counter", record_counter, check_counter_items)):
        rec, jp = rec_fn()
        if not rec:
            continue
        p, dt = replay(jp, f"rep-{name}", "--sessions", "5")
        s = check_replay_ok(p, f"rep-{name}", 5, f"replay {name}")
        fs = s.get("final_state")
        check(fs == {"compared": 5, "matching": 5}, f"replay {name}: final state matches in 5 of 5 ({fs})")
        te = s.get("timing_error_ms", {})
        nact = len(actions(rec))
        check(te.get("count", 0) >= 5 * nact, f"replay {name}: timing errors of every action counted "
                                              f"({te.get('count')} >= {5 * nact})")
        check(isinstance(te.get("p99"), (int, float)) and abs(te["p99"]) < 1000,
              f"replay {name}: timing error p99 reported, < 1 s ({te.get('p99')})")
        check(s.get("speed") == 1 and s.get("share_renderers") is False,
              f"replay {name}: speed 1, share_renderers false ({s.get('speed')} {s.get('share_renderers')})")
        lat = s.get("latency_ms", {})
        check(lat.get("count") == 5 and 0 < lat.get("p50", 0) <= lat.get("p99", 0) <= lat.get("max", 0),
              f"replay {name}: latency p50 <= p99 <= max, count 5 ({lat})")
        ph = s.get("phases_ms", {})
        check(all(k in ph for k in ("open", "navigate", "steps", "screenshot", "extract", "close")),
              f"replay {name}: phases_ms ({sorted(ph)})")
        mem = s.get("memory", {})
        check(all(isinstance(mem.get(k), int) and mem[k] > 0
                  for k in ("driver_peak_rss_bytes", "browser_peak_pss_bytes", "total_peak_pss_bytes")),
              f"replay {name}: memory figures ({mem})")
        check_session_results(f"rep-{name}", 5, f"replay {name}", items_check)
        r1 = load(path(f"rep-{name}", "session-0001", "result.json"))
        check(r1.get("final_state_matches") is True and len(r1.get("steps", [])) == len(rec["steps"]),
              f"replay {name}: result.json has final_state_matches and one entry per step "
              f"({r1.get('final_state_matches')} {len(r1.get('steps', []))}/{len(rec['steps'])})")


def case_replay_navigation_delayed():
    j = journey(url("/nav1"), [
        {"t": 0, "kind": "navigate", "url": url("/nav1")},
        {"t": 300, "kind": "click", "selector": "#go"},
        {"t": 350, "kind": "navigated", "url": url("/nav2")},
        {"t": 700, "kind": "click", "selector": "#b2x"},
    ])
    jp = write_json("nav.json", j)
    p, dt = replay(jp, "nav", "--sessions", "3", "--extract", ".count", "--extract", "h1")
    check_replay_ok(p, "nav", 3, "navigation journey")

    def nav_items(items, what):
        check(counts_of(items) == {"b2x": "1"} and [i["text"] for i in items if i["selector"] == "h1"] == ["Second"],
              f"{what}: ends on /nav2 with #b2x clicked once ({counts_of(items)})")
    check_session_results("nav", 3, "navigation journey", nav_items, screenshot=False)
    check("final_state" not in summary("nav"), "no final_state without a recorded final")

    # The same without the "navigated" step (a hand-written journey): the click on #b2x must
    # wait for the new document instead of failing on the old one's destroyed context.
    j = journey(url("/nav1"), [
        {"t": 0, "kind": "navigate", "url": url("/nav1")},
        {"t": 300, "kind": "click", "selector": "#go"},
        {"t": 900, "kind": "click", "selector": "#b2x"},
    ])
    jp = write_json("nav-implicit.json", j)
    p, dt = replay(jp, "nav-implicit", "--sessions", "2", "--extract", ".count", "--extract", "h1")
    check_replay_ok(p, "nav-implicit", 2, "navigation journey without a navigated step")
    if p.returncode == 0:
        check_session_results("nav-implicit", 2, "navigation without navigated step", nav_items, screenshot=False)

    # Relative URLs resolved by --url-base.
    j = journey("/delayed", [
        {"t": 0, "kind": "navigate", "url": "/delayed"},
        {"t": 50, "kind": "click", "selector": "#late-btn"},
    ])
    jp = write_json("delayed.json", j)
    p, dt = replay(jp, "delayed", "--sessions", "2", "--extract", ".count", "--url-base", BASE)
    check_replay_ok(p, "delayed", 2, "click before the element exists")

    def delayed_items(items, what):
        check(counts_of(items) == {"late-btn": "1"}, f"{what}: #late-btn clicked once ({counts_of(items)})")
    check_session_results("delayed", 2, "click before the element exists", delayed_items, screenshot=False)
    r = load(path("delayed", "session-0001", "result.json"))
    st = r.get("steps", [])
    check(len(st) == 2 and st[1].get("actual_ms", 0) >= 300,
          f"the click waited for #late-btn (400 ms after load) ({st[1:] if st else st})")

    j = journey(url("/counter"), [
        {"t": 0, "kind": "navigate", "url": url("/counter")},
        {"t": 50, "kind": "click", "selector": "#b1"},
        {"t": 100, "kind": "click", "selector": "#never-there"},
    ])
    jp = write_json("never.json", j)
    p, dt = replay(jp, "never", "--sessions", "1", "--step-timeout", "100ms", "--extract", ".count")
    check(p.returncode == 1, f"a step whose selector never appears: exit 1 ({p.returncode} {p.stderr.strip()})")
    check(dt < 8, f"and it fails soon ({dt:.1f} s)")
    s = summary("never")
    f = s.get("failures", [])
    check(s.get("ok") == 0 and s.get("failed") == 1 and len(f) == 1 and f[0].get("session") == 1,
          f"summary: 1 failed ({s.get('ok')} {s.get('failed')} {f})")
    err = f[0].get("error", "") if f else ""
    check("#never-there" in err and re.search(r"step[s]?[ \[]2\b", err) is not None,
          f"the failure names the step (2) and the selector ({err!r})")
    r = load(path("never", "session-0001", "result.json")) if os.path.exists(path("never", "session-0001", "result.json")) else {}
    check(r.get("ok") is False and r.get("error") == err, f"result.json: ok false with the same error ({r.get('error')!r})")


def slow_counter_journey(clicks, spacing):
    steps = [{"t": 0, "kind": "navigate", "url": url("/counter")}]
    for i in range(clicks):
        steps.append({"t": 300 + spacing * i, "kind": "click", "selector": "#b1"})
    return journey(url("/counter"), steps)


def case_replay_crash():
    jp = write_json("slow.json", slow_counter_journey(14, 300))   # ~4.2 s
    p = cb_popen(["replay", jp, "-o", path("crash"), "--sessions", "4", "--extract", ".count", "-q"])
    victim = None
    end = time.monotonic() + 15
    # Wait until the sessions are clicking: 4 session renderers (plus the browser's first tab).
    while time.monotonic() < end and p.poll() is None:
        rs = MON.renderers()
        if len(rs) >= 5:
            break
        time.sleep(0.1)
    time.sleep(1.2)
    rs = MON.renderers()
    info("renderers (pid, cpu ticks, client id):", sorted(rs))
    if p.poll() is None and rs:
        # The renderer of the browser's initial about:blank tab is idle; a session's renderer has
        # laid out and run the page: the busiest renderer is a session's.
        victim = max(rs, key=lambda r: (r[1], r[2]))
        info("SIGKILL renderer", victim)
        os.kill(victim[0], signal.SIGKILL)
    check(victim is not None, "a renderer of our browser was found and killed while sessions ran")
    try:
        out, err = p.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        check(False, "replay finished after a renderer crash (hung)")
    err = err.decode("utf-8", "replace")
    check(p.returncode == 1, f"exit 1 after one session failed ({p.returncode} {err.strip()[-300:]})")
    s = summary("crash")
    f = s.get("failures", [])
    check(s.get("ok") == 3 and s.get("failed") == 1 and len(f) == 1,
          f"exactly one session failed, 3 ok ({s.get('ok')} {s.get('failed')} {f})")
    if f:
        check(re.search(r"crash|detach", f[0].get("error", ""), re.I) is not None,
              f"its error says crash/detach ({f[0].get('error')!r})")
        bad = f[0].get("session")
        r = load(path("crash", f"session-{bad:04d}", "result.json"))
        check(r.get("ok") is False and r.get("error") == f[0].get("error"), f"the failed session's result.json ({r.get('error')!r})")
        good = [i for i in range(1, 5) if i != bad]
        cnt = [counts_of(load(path("crash", f"session-{i:04d}", "extract.json"))).get("b1") for i in good]
        check(cnt == ["14"] * 3, f"the other sessions clicked all 14 times ({cnt})")


def case_teardown_signals():
    jp = write_json("long.json", slow_counter_journey(14, 300))
    for sig, name, code in ((signal.SIGINT, "SIGINT", 130), (signal.SIGTERM, "SIGTERM", 143)):
        out = f"sig-{name}"
        p = cb_popen(["replay", jp, "-o", path(out), "--sessions", "2", "--speed", "0.2", "--extract", ".count", "-q"])
        end = time.monotonic() + 10
        while time.monotonic() < end and len(MON.renderers()) < 3:
            time.sleep(0.1)
        time.sleep(1.0)
        check(p.poll() is None and MON.scan(), f"{name}: replay and its browser are running")
        dt, err = stop_with(p, sig)
        check(p.returncode == code, f"{name}: exit {code} ({p.returncode} {err.strip()[-200:]!r})")
        check(dt < 5, f"{name}: exits within 5 s ({dt:.2f} s)")
        left = MON.wait_gone(0.5)
        check(not left, f"{name}: no browser process left ({sorted(left)})")
        check(not profile_dirs(), f"{name}: profile dir removed ({profile_dirs()})")
        check(os.path.exists(path(out, "summary.json")), f"{name}: summary.json written")
        bad = [w for w in ("Traceback", "terminate called", "Aborted") if w in err]
        check(not bad, f"{name}: no crash output ({bad})")

    # SIGKILL: nothing of clonebot runs any more; the browsers must die by themselves.
    p = cb_popen(["replay", jp, "-o", path("sig-KILL"), "--sessions", "2", "--speed", "0.2", "--extract", ".count", "-q"])
    end = time.monotonic() + 10
    while time.monotonic() < end and len(MON.renderers()) < 3:
        time.sleep(0.1)
    time.sleep(1.0)
    procs = MON.scan()
    check(p.poll() is None and procs, f"SIGKILL: replay and its browser are running ({len(procs)} processes)")
    stale = profile_dirs()
    check(len(stale) == 1 and os.path.basename(stale[0]).startswith(f"clonebot-web.{p.pid}."),
          f"SIGKILL: one profile dir named after clonebot's pid {p.pid} ({stale})")
    os.kill(p.pid, signal.SIGKILL)
    p.communicate()
    t0 = time.monotonic()
    left = MON.wait_gone(3.0)
    dt = time.monotonic() - t0
    check(not left, f"SIGKILL: every browser process gone within 3 s ({dt:.2f} s, left {sorted(left)})")
    for pid in left:   # do not leave them to the next case
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    check(profile_dirs() == stale, f"SIGKILL: the stale profile dir is still there ({profile_dirs()})")
    p2 = snapshot("/counter", "after-kill")
    check(p2.returncode == 0, f"the next launch works ({p2.returncode} {p2.stderr.strip()})")
    check(not profile_dirs(), f"the next launch removed the stale profile dir ({profile_dirs()})")


def case_replay_malformed():
    # A fake browser leaves a mark if clonebot ever starts it: no case may start a browser.
    mark = path("browser-started")
    fake = path("fake-chrome")
    with open(fake, "w") as f:
        f.write(f"#!/bin/sh\ntouch '{mark}'\nexit 1\n")
    os.chmod(fake, 0o755)
    nav = {"t": 0, "kind": "navigate", "url": url("/counter")}
    click = {"t": 100, "kind": "click", "selector": "#b1"}
    good = journey(url("/counter"), [nav, click])
    cases = []

    def add(name, content, *needles, extra=()):
        p = path(name)
        with open(p, "w", encoding="utf-8") as f:
            f.write(content if isinstance(content, str) else json.dumps(content))
        cases.append((name, p, needles, list(extra)))

    add("not-json.json", '{"format": "clonebot-trajectory", "version": 1, "steps": [', "JSON")
    add("array.json", "[1, 2]", "object")
    add("format.json", dict(good, format="har"), "format", "har")
    add("version.json", dict(good, version=2), "version", "2")
    add("kind.json", dict(good, steps=[nav, click, {"t": 200, "kind": "hover", "selector": "#b1"}]),
        "steps[2]", "hover")
    add("noselector.json", dict(good, steps=[nav, click, {"t": 200, "kind": "click"}, dict(click, t=300)]),
        "steps[2]", "selector")
    add("order.json", dict(good, steps=[nav, {"t": 500, "kind": "click", "selector": "#b1"},
                                         {"t": 400, "kind": "click", "selector": "#b2"},
                                         {"t": 600, "kind": "click", "selector": "#b3"}]), "steps[2]")
    add("first.json", dict(good, steps=[dict(click, t=0), click]), "navigate")
    add("nosteps.json", {k: v for k, v in good.items() if k != "steps"}, "steps")
    add("badkey.json", dict(good, steps=[nav, {"t": 100, "kind": "key", "key": "F13", "selector": "#name"}]),
        "steps[1]", "F13")
    add("badx.json", dict(good, steps=[nav, {"t": 100, "kind": "click", "selector": "#b1", "x": 1.5}]), "steps[1]")
    add("relative.json", journey("/counter", [{"t": 0, "kind": "navigate", "url": "/counter"}, click]),
        "/counter")
    add("viewport.json", dict(good, viewport={"width": 5, "height": 720}), "viewport")
    for name, p, needles, extra in cases:
        r, dt = replay(p, "out-" + name, "--browser", fake, *extra)
        one_error_line(r, name, p, *needles)
        check(not os.path.exists(path("out-" + name)), f"{name}: no output directory")
    missing = path("does-not-exist.json")
    r, dt = replay(missing, "out-missing", "--browser", fake)
    one_error_line(r, "missing journey file", missing)
    check(not os.path.exists(mark), "no browser was started for any malformed journey")
    check(not profile_dirs(), f"no profile dir was made ({profile_dirs()})")
    goodp = write_json("good.json", good)
    for flags, needle in ((["--sessions", "0"], "--sessions"), (["--browsers", "0"], "--browsers"),
                          (["--speed", "fast"], "fast"), (["--speed", "0"], "--speed"),
                          (["--step-timeout", "x"], "x")):
        r, dt = replay(goodp, "out-opt", "--browser", fake, *flags)
        one_error_line(r, " ".join(flags), needle)
        check(not os.path.exists(mark), f"{' '.join(flags)}: no browser started")
        if os.path.exists(mark):
            os.unlink(mark)
    check(not os.path.exists(path("out-opt")), "bad options: no output directory")
    # Control: the fake browser is really used when the journey is fine (so the check above
    # means something), and a relative start URL with --url-base is accepted.
    r, dt = replay(path("relative.json"), "out-control", "--browser", fake, "--url-base", BASE)
    check(os.path.exists(mark), f"control: a good journey does start the (fake) browser ({r.returncode} {r.stderr.strip()!r})")
    one_error_line(r, "control: a browser that exits at once", fake)


def record_counter_for_pool():
    rec, jp = record_counter()
    return rec, jp


def case_replay_pool_shared():
    rec, jp = record_counter_for_pool()
    if not rec:
        return
    MON.reset_max()
    p, dt = replay(jp, "pool", "--sessions", "6", "--browsers", "2")
    s = check_replay_ok(p, "pool", 6, "--sessions 6 --browsers 2", browsers=2)
    check(MON.max_browsers == 2, f"two browser processes ran ({MON.max_browsers})")
    check(s.get("final_state") == {"compared": 6, "matching": 6}, f"final state 6 of 6 ({s.get('final_state')})")
    check_session_results("pool", 6, "--browsers 2", check_counter_items)
    sep_renderers = MON.max_renderers
    info("renderers at most (separate contexts):", sep_renderers)

    MON.reset_max()
    # 12 sessions: more than the 8 renderers the shared mode allows (the browser's own blank
    # first tab has one more).
    p, dt = replay(jp, "shared", "--sessions", "12", "--share-renderers")
    s = check_replay_ok(p, "shared", 12, "--share-renderers --sessions 12")
    check(s.get("share_renderers") is True, f"summary share_renderers true ({s.get('share_renderers')})")
    check(s.get("final_state") == {"compared": 12, "matching": 12},
          f"shared renderers: final state still 12 of 12 ({s.get('final_state')})")
    check_session_results("shared", 12, "--share-renderers", check_counter_items)
    info("renderers at most (shared):", MON.max_renderers)
    check(MON.max_renderers <= 9, f"--share-renderers: at most 8 renderer processes (+1 blank tab) "
                                  f"for 12 sessions ({MON.max_renderers})")
    check(MON.max_browsers == 1, f"--share-renderers: one browser ({MON.max_browsers})")

    # --extract overrides the recording's: no final-state comparison; --no-screenshot.
    p, dt = replay(jp, "override", "--sessions", "2", "--speed", "max", "--extract", ".count", "--no-screenshot")
    s = check_replay_ok(p, "override", 2, "--extract .count --no-screenshot --speed max")
    check("final_state" not in s, f"--extract given: no final_state in the summary ({s.get('final_state')})")
    shots = glob.glob(path("override", "session-*", "screenshot.png"))
    check(not shots, f"--no-screenshot: no screenshot.png ({shots})")
    check_session_results("override", 2, "--extract .count", lambda items, what: check(
        counts_of(items) == COUNTER_COUNTS and all(i["selector"] == ".count" for i in items),
        f"{what}: only .count extracted, counters right ({counts_of(items)})"), screenshot=False)

    MON.reset_max()
    p, dt = replay(jp, "shared2", "--sessions", "4", "--browsers", "2", "--share-renderers", "--speed", "max")
    s = check_replay_ok(p, "shared2", 4, "--share-renderers --browsers 2 --speed max", browsers=2)
    check(s.get("final_state") == {"compared": 4, "matching": 4}, f"final state 4 of 4 ({s.get('final_state')})")
    check(s.get("speed") in ("max", 0, None) or isinstance(s.get("speed"), (int, float)),
          f"speed reported ({s.get('speed')})")


def case_chromium_full():
    if not os.path.exists(CHROMIUM):
        print(f"SKIP: {CHROMIUM} is not installed")
        sys.exit(77)
    p = snapshot("/utf8", "chromium", "--browser", "chromium", "--extract", "#p1", timeout=90)
    check(p.returncode == 0, f"--browser chromium: exit 0 ({p.returncode} {p.stderr.strip()})")
    if p.returncode == 0:
        meta = load(path("chromium", "meta.json"))
        check(meta.get("status") == 200 and meta.get("title") == "UTF-8 ✓" and "Chrome" in str(meta.get("browser")),
              f"meta status, title and browser ({meta.get('status')} {meta.get('title')!r} {meta.get('browser')})")
        check(CHROMIUM in MON.exes, f"the browser run was {CHROMIUM} ({sorted(MON.exes)})")
        check_png(path("chromium", "screenshot.png"), 1280, 720, "chromium screenshot")
        ex = load(path("chromium", "extract.json"))
        check([i["text"] for i in ex] == ["Grüße, 世界 — ñandú 🦀"], f"extraction ({[i['text'] for i in ex]})")
    jp = write_json("c.json", journey(url("/counter"), [{"t": 0, "kind": "navigate", "url": url("/counter")},
                                                       {"t": 100, "kind": "click", "selector": "#b2"}]))
    p, dt = replay(jp, "crep", "--browser", "chromium", "--sessions", "2", "--extract", ".count", "--speed", "max",
                   timeout=90)
    check_replay_ok(p, "crep", 2, "replay in full chromium")
    check_session_results("crep", 2, "replay in full chromium",
                          lambda items, what: check(counts_of(items).get("b2") == "1", f"{what}: #b2 clicked once"))
    # Each window of the full browser would preload its address bar's WebUI popups into a
    # renderer of its own UI, which then costs CPU for every open window (src/web/browser.cc).
    # If a Chromium update brings them back under another name, the flags need updating.
    check(MON.top_chrome_webui == 0,
          f"no renderer of the browser's own WebUI ran ({MON.top_chrome_webui} seen at once)")


def case_record_visible():
    """record without --headless: the full browser in a window, on an Xvfb display."""
    xvfb = shutil.which("xvfb-run")
    if xvfb is None or not os.path.exists(CHROMIUM):
        print("SKIP: xvfb-run or the full chromium is not installed")
        sys.exit(77)
    probe = subprocess.run([xvfb, "-a", "true"], capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        print(f"SKIP: xvfb-run cannot start a display here ({probe.stderr.strip()[-200:]})")
        sys.exit(77)
    # Without a display, the window cannot open: one clear line, no browser started.
    e = dict(env())
    e.pop("DISPLAY", None)
    e.pop("WAYLAND_DISPLAY", None)
    p = subprocess.run([ARGS.clonebot, "web", "record", url("/form"), "-o", path("nodisplay.json")],
                       capture_output=True, text=True, timeout=30, env=e)
    one_error_line(p, "record without a display", "--headless")
    d = write_json("drive-visible.json", journey("/form", FORM_DRIVE))
    out = path("rec-visible.json")
    p = subprocess.run([xvfb, "-a", ARGS.clonebot, "web", "record", url("/form"), "-o", out, "--drive", d,
                        "--url-base", BASE, "--extract", "input", "--extract", "#out", "-q"],
                       capture_output=True, text=True, timeout=60, env=env())
    check(p.returncode == 0, f"visible record: exit 0 ({p.returncode} {p.stderr.strip()[-300:]})")
    if p.returncode != 0 or not os.path.exists(out):
        return
    rec = load(out)
    check(CHROMIUM in MON.exes, f"the full chromium ran ({sorted(MON.exes)})")
    check("Headless" not in str(rec.get("browser")) and "Chrome" in str(rec.get("browser")),
          f"a windowed browser recorded ({rec.get('browser')})")
    check(len(actions(rec)) == len(FORM_DRIVE) - 1,
          f"every driven action recorded ({len(actions(rec))} of {len(FORM_DRIVE) - 1})")
    check_form_items(rec.get("final", {}).get("items", []), "visible record final state")


def start_own_browser():
    """A headless shell that the test, not clonebot, starts with --remote-debugging-port=0, in
    a process group of its own; returns (Popen, ws URL)."""
    prof = path("own-profile")
    os.mkdir(prof)
    args = [HEADLESS_SHELL, "--remote-debugging-port=0", f"--user-data-dir={prof}", "--disable-gpu",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "about:blank"]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    port_file = os.path.join(prof, "DevToolsActivePort")
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            with open(port_file) as f:
                lines = f.read().split()
            if len(lines) >= 2:
                return proc, f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        except OSError:
            pass
        time.sleep(0.05)
    return proc, None


def devtools_targets(ws):
    port = ws.split("://", 1)[1].split("/", 1)[0]
    with urllib.request.urlopen(f"http://{port}/json/list", timeout=10) as r:
        return sorted(t["id"] for t in json.loads(r.read().decode()))


def case_connect_attached():
    """--connect: snapshot and replay in a browser someone else started; clonebot leaves it
    running with exactly the targets it had, and starts no browser of its own."""
    rec, jp = record_counter()  # recorded the usual way, in a browser clonebot starts
    proc, ws = start_own_browser()
    try:
        check(ws is not None, "the test's own browser wrote DevToolsActivePort")
        if ws is None:
            return
        before = devtools_targets(ws)
        MON.reset_max()
        p = snapshot("/counter", "attached", "--extract", "button", "--connect", ws)
        check(p.returncode == 0, f"snapshot --connect: exit 0 ({p.returncode} {p.stderr.strip()})")
        if p.returncode == 0:
            ex = load(path("attached", "extract.json"))
            texts = [i["text"] for i in ex]
            check(texts == ["One", "Two", "Three", "Plus", "Anonymous"], f"snapshot --connect: buttons ({texts})")
            meta = load(path("attached", "meta.json"))
            check("HeadlessChrome" in str(meta.get("browser")), f"snapshot --connect: meta names the browser "
                                                                f"({meta.get('browser')})")
        if rec:
            p, _ = replay(jp, "rep-attached", "--sessions", "3", "--connect", ws)
            s = check_replay_ok(p, "rep-attached", 3, "replay --connect")
            check(s.get("final_state") == {"compared": 3, "matching": 3},
                  f"replay --connect: final state matches in 3 of 3 ({s.get('final_state')})")
            check_session_results("rep-attached", 3, "replay --connect", check_counter_items)
            p, _ = replay(jp, "rep-attached-shared", "--sessions", "2", "--share-renderers", "--connect", ws)
            check_replay_ok(p, "rep-attached-shared", 2, "replay --share-renderers --connect")
        check(MON.max_browsers == 0, f"clonebot started no browser of its own ({MON.max_browsers})")
        check(proc.poll() is None, "the attached browser still runs")
        after = devtools_targets(ws)
        check(after == before, f"clonebot closed every target it opened ({len(before)} before, {len(after)} after)")
        # A refused port and a wrong path: one clear line each.
        one_error_line(cb(["snapshot", url("/counter"), "-o", path("x1"), "--connect", "ws://127.0.0.1:1/x"]),
                       "--connect to a closed port", "127.0.0.1:1", "refused")
        bad_path = ws.rsplit("/", 1)[0] + "/no-such-id"
        one_error_line(cb(["snapshot", url("/counter"), "-o", path("x2"), "--connect", bad_path]),
                       "--connect to a wrong path", "404")
        check(proc.poll() is None, "the attached browser survived the failed attaches")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()


CASES = {n[5:]: f for n, f in list(globals().items()) if n.startswith("case_")}


def main():
    global ARGS, TMP, WORK, BASE, MON
    ap = argparse.ArgumentParser()
    ap.add_argument("--clonebot", required=True)
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--keep", action="store_true", help="keep the case's scratch directory")
    ARGS = ap.parse_args()
    ARGS.clonebot = os.path.abspath(ARGS.clonebot)
    if not os.path.exists(HEADLESS_SHELL):
        print(f"SKIP: {HEADLESS_SHELL} is not installed (apt-get install chromium-headless-shell)")
        return 77
    if not os.access(ARGS.clonebot, os.X_OK):
        print(f"FAIL: {ARGS.clonebot} is not an executable")
        return 1
    root = tempfile.mkdtemp(prefix=f"web_test.{ARGS.case}.")
    TMP = os.path.join(root, "tmp")
    WORK = os.path.join(root, "work")
    os.mkdir(TMP, 0o700)
    os.mkdir(WORK)
    server, port = start_server()
    BASE = f"http://127.0.0.1:{port}"
    MON = Monitor(TMP)
    MON.start()
    t0 = time.monotonic()
    try:
        CASES[ARGS.case]()
    except Exception as e:  # a harness error is a failure with its cause, not a traceback only
        import traceback
        traceback.print_exc()
        check(False, f"case raised {type(e).__name__}: {e}")
    finally:
        left = MON.wait_gone(3.0)
        check(not left, f"no browser process left ({sorted(left)})")
        check(not profile_dirs(), f"no profile dir left ({profile_dirs()})")
        MON.stop()
        for pid in left:  # processes of browsers clonebot started for us
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        server.shutdown()
        server.server_close()
        if ARGS.keep or FAILS:
            print(f"scratch directory kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(f"case {ARGS.case}: {time.monotonic() - t0:.1f} s")
    if FAILS:
        print(f"{len(FAILS)} check(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
