#!/usr/bin/env node
// Peer contender for bench/web/web_bench.py: runs the benchmark session with
// puppeteer-core or playwright-core on a given Chromium binary.
//
//   node peer.js --driver puppeteer|playwright --browser PATH --url URL --sessions N
//               [--pipe 1|0] [--keep-profile] [--verbose]
//
// One session = new browser context + page (viewport 1280x720), navigate to URL
// (waits for "load"), PNG screenshot of the viewport, extract the innerText of
// every <button>, click #b1 #b2 #b3 once each, type "abcdefghij" into #name,
// close the context. All N sessions are started at once (Promise.all) on one
// browser. A session's latency runs from the moment the run starts issuing
// sessions to the end of its "close" phase, minus the time spent on its own
// verification read (see "verify" below), so it covers exactly the work.
//
// Before closing, every session reads back the page ("verify" phase, timed
// separately and not part of latency): the three counters must read "1" and
// #name's value must be "abcdefghij"; otherwise the session counts as failed.
//
// Prints ONE JSON line on stdout:
//   {driver, browser, sessions, ok, failed, wall_ms, latency_ms:{p50,p99,max},
//    phases_ms:{<phase>:{p50,p99}}, errors:[...], launch_ms, browser_close_ms, ...}
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { performance } = require('perf_hooks');

const PHASES = ['context_page', 'navigate', 'screenshot', 'extract', 'clicks', 'type', 'close'];
const TYPED = 'abcdefghij';
const CLICKS = ['#b1', '#b2', '#b3'];
const EXPECTED_BUTTONS = ['One', 'Two', 'Three', 'Plus', 'Anonymous'];
const VIEWPORT = { width: 1280, height: 720 };

function parseArgs(argv) {
  const a = { driver: null, browser: null, url: null, sessions: 1, pipe: true,
              keepProfile: false, verbose: false, timeout: 120000 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${k}`);
      return argv[++i];
    };
    switch (k) {
      case '--driver': a.driver = next(); break;
      case '--browser': a.browser = next(); break;
      case '--url': a.url = next(); break;
      case '--sessions': a.sessions = parseInt(next(), 10); break;
      case '--pipe': a.pipe = next() !== '0'; break;
      case '--timeout': a.timeout = parseInt(next(), 10); break;
      case '--keep-profile': a.keepProfile = true; break;
      case '--verbose': a.verbose = true; break;
      case '-h': case '--help':
        process.stdout.write('usage: node peer.js --driver puppeteer|playwright --browser PATH ' +
                             '--url URL --sessions N [--pipe 1|0] [--timeout MS]\n');
        process.exit(0);
      default: throw new Error(`unknown argument ${k}`);
    }
  }
  if (!['puppeteer', 'playwright'].includes(a.driver)) throw new Error('--driver must be puppeteer or playwright');
  if (!a.browser) throw new Error('--browser PATH is required');
  if (!a.url) throw new Error('--url URL is required');
  if (!(a.sessions >= 1)) throw new Error('--sessions must be >= 1');
  return a;
}

// Nearest-rank percentile over a sorted copy.
function pct(values, p) {
  if (values.length === 0) return null;
  const s = [...values].sort((x, y) => x - y);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return round(s[Math.min(rank, s.length) - 1]);
}
const round = (x) => Math.round(x * 100) / 100;

function isHeadlessShell(p) {
  return path.basename(p).includes('headless-shell') || path.basename(p).includes('headless_shell');
}

// Flags asked for by the benchmark brief. Both libraries already add most of
// them to their own defaults; repeating a switch is harmless.
function commonArgs() {
  const args = ['--disable-gpu', '--disable-background-networking', '--disable-component-update',
                '--disable-sync', '--no-first-run'];
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--no-sandbox');
  return args;
}

// ---- driver adapters: each returns {browser, newSession, closeBrowser} ----

async function launchPuppeteer(opt, userDataDir) {
  const puppeteer = require('puppeteer-core');
  const browser = await puppeteer.launch({
    executablePath: opt.browser,
    // 'shell' = plain --headless (what chromium-headless-shell implements);
    // true = --headless=new for the full chromium binary.
    headless: isHeadlessShell(opt.browser) ? 'shell' : true,
    pipe: opt.pipe,
    userDataDir,
    args: commonArgs(),
    defaultViewport: VIEWPORT,
    protocolTimeout: opt.timeout,
    timeout: 60000,
  });
  return {
    browser,
    version: await browser.version(),
    async newContextAndPage() {
      const ctx = await browser.createBrowserContext();
      const page = await ctx.newPage(); // puppeteer applies defaultViewport here
      page.setDefaultTimeout(opt.timeout);
      return { ctx, page };
    },
    async navigate(page, url) { await page.goto(url, { waitUntil: 'load' }); },
    async screenshot(page) { return page.screenshot({ type: 'png' }); },
    async extract(page) { return page.$$eval('button', (els) => els.map((e) => e.innerText)); },
    async click(page, sel) { await page.click(sel); },
    async type(page, sel, text) { await page.type(sel, text); },
    async readBack(page) { return page.evaluate(readBackFn); },
    async closeContext(ctx) { await ctx.close(); },
    async closeBrowser() { await browser.close(); },
  };
}

async function launchPlaywright(opt, userDataDir) {
  const { chromium } = require('playwright-core');
  // Playwright always talks over a pipe (--remote-debugging-pipe) for
  // chromium.launch(); it picks its own temporary profile (userDataDir is only
  // for launchPersistentContext), so `userDataDir` is unused here.
  void userDataDir;
  const browser = await chromium.launch({
    executablePath: opt.browser,
    headless: true,
    args: commonArgs(),
    timeout: 60000,
  });
  return {
    browser,
    version: browser.version(),
    async newContextAndPage() {
      const ctx = await browser.newContext({ viewport: VIEWPORT });
      const page = await ctx.newPage();
      page.setDefaultTimeout(opt.timeout);
      return { ctx, page };
    },
    async navigate(page, url) { await page.goto(url, { waitUntil: 'load' }); },
    async screenshot(page) { return page.screenshot({ type: 'png' }); },
    async extract(page) { return page.$$eval('button', (els) => els.map((e) => e.innerText)); },
    async click(page, sel) { await page.click(sel); },
    async type(page, sel, text) { await page.locator(sel).pressSequentially(text); },
    async readBack(page) { return page.evaluate(readBackFn); },
    async closeContext(ctx) { await ctx.close(); },
    async closeBrowser() { await browser.close(); },
  };
}

// Runs in the page.
function readBackFn() {
  const counts = {};
  document.querySelectorAll('span.count').forEach((s) => { counts[s.dataset.for] = s.innerText; });
  return { counts, name: document.querySelector('#name').value };
}

// ---- one session ----

async function runSession(d, opt, runStart) {
  const phases = {};
  const r = { ok: false, phases, latency_ms: null, error: null };
  let ctx = null;
  let t = performance.now();
  const lap = (name) => { const now = performance.now(); phases[name] = now - t; t = now; };
  let verifyMs = 0;
  try {
    const cp = await d.newContextAndPage();
    ctx = cp.ctx;
    const page = cp.page;
    lap('context_page');
    await d.navigate(page, opt.url);
    lap('navigate');
    const png = await d.screenshot(page);
    lap('screenshot');
    const texts = await d.extract(page);
    lap('extract');
    for (const sel of CLICKS) await d.click(page, sel);
    lap('clicks');
    await d.type(page, '#name', TYPED);
    lap('type');

    // verification: not part of the measured work
    const back = await d.readBack(page);
    verifyMs = performance.now() - t;
    phases.verify = verifyMs;
    t = performance.now();
    const problems = [];
    if (!png || png.length < 1000 || png[0] !== 0x89 || png[1] !== 0x50) problems.push('screenshot is not a PNG');
    if (JSON.stringify(texts) !== JSON.stringify(EXPECTED_BUTTONS)) problems.push(`button texts ${JSON.stringify(texts)}`);
    for (const sel of CLICKS) {
      const id = sel.slice(1);
      if (back.counts[id] !== '1') problems.push(`counter ${id} = ${JSON.stringify(back.counts[id])}`);
    }
    if (back.name !== TYPED) problems.push(`#name = ${JSON.stringify(back.name)}`);

    const c = ctx; ctx = null;
    await d.closeContext(c);
    lap('close');
    if (problems.length) throw new Error('check failed: ' + problems.join('; '));
    r.ok = true;
  } catch (e) {
    r.error = String((e && e.message) || e).split('\n')[0].slice(0, 300);
    if (ctx) { try { await d.closeContext(ctx); } catch (_) { /* already broken */ } }
  }
  r.latency_ms = performance.now() - runStart - verifyMs;
  return r;
}

async function main() {
  let opt;
  try { opt = parseArgs(process.argv.slice(2)); } catch (e) {
    process.stderr.write(`peer.js: ${e.message}\n`);
    process.exit(2);
  }
  const out = { driver: opt.driver, browser: opt.browser, sessions: opt.sessions, ok: 0,
                failed: opt.sessions, wall_ms: null, latency_ms: { p50: null, p99: null, max: null },
                phases_ms: {}, errors: [] };
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), `peer-${opt.driver}-`));
  let d = null;
  const t0 = performance.now();
  try {
    d = opt.driver === 'puppeteer' ? await launchPuppeteer(opt, userDataDir)
                                   : await launchPlaywright(opt, userDataDir);
    out.browser_version = d.version;
    out.launch_ms = round(performance.now() - t0);

    const runStart = performance.now();
    const results = await Promise.all(
      Array.from({ length: opt.sessions }, () => runSession(d, opt, runStart)));
    out.wall_ms = round(performance.now() - runStart);

    const ok = results.filter((r) => r.ok);
    out.ok = ok.length;
    out.failed = results.length - ok.length;
    const lat = ok.map((r) => r.latency_ms);
    out.latency_ms = { p50: pct(lat, 50), p99: pct(lat, 99), max: lat.length ? round(Math.max(...lat)) : null };
    for (const ph of [...PHASES, 'verify']) {
      const v = ok.map((r) => r.phases[ph]).filter((x) => typeof x === 'number');
      out.phases_ms[ph] = { p50: pct(v, 50), p99: pct(v, 99) };
    }
    const errCount = new Map();
    for (const r of results) if (r.error) errCount.set(r.error, (errCount.get(r.error) || 0) + 1);
    out.errors = [...errCount].map(([msg, n]) => (n > 1 ? `${msg} (x${n})` : msg)).slice(0, 20);
  } catch (e) {
    out.errors.push('launch/run: ' + String((e && e.message) || e).split('\n').slice(0, 3).join(' | ').slice(0, 500));
  } finally {
    if (d) {
      const tc = performance.now();
      try { await d.closeBrowser(); } catch (e) { out.errors.push('browser close: ' + String(e.message || e)); }
      out.browser_close_ms = round(performance.now() - tc);
    }
    out.total_ms = round(performance.now() - t0);
    if (!opt.keepProfile) { try { fs.rmSync(userDataDir, { recursive: true, force: true }); } catch (_) { /* ignore */ } }
  }
  out.node_max_rss_kib = process.resourceUsage().maxRSS; // self-reported peak RSS of this node process
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exitCode = out.ok === opt.sessions && out.errors.length === 0 ? 0 : 1;
}

main();
