// JavaScript that clonebot evaluates in pages. Each is a function expression; the caller
// appends the call with its arguments as JSON.
#pragma once

namespace clonebot::web::js {

// (selectors: string[]) => {items: Item[]} | {error: string}
// Item: {selector, index, text, attrs, box: {x, y, width, height}, visible, [value], [checked]}
// box is in CSS pixels relative to the document's top-left corner (scroll-independent).
// text is innerText trimmed (textContent for elements that are not rendered). value and checked
// are the live properties of form controls (what the user typed), not their attributes.
inline constexpr const char* kExtract = R"JS((sels) => {
  const out = [];
  for (const sel of sels) {
    let list;
    try { list = document.querySelectorAll(sel); }
    catch (e) { return {error: 'bad selector ' + JSON.stringify(sel) + ': ' + e.message}; }
    let i = 0;
    for (const el of list) {
      const r = el.getBoundingClientRect();
      const attrs = {};
      for (const a of el.attributes) attrs[a.name] = a.value;
      const cs = getComputedStyle(el);
      const visible = r.width > 0 && r.height > 0 && cs.visibility !== 'hidden' &&
                      cs.display !== 'none' && parseFloat(cs.opacity || '1') > 0;
      const raw = (typeof el.innerText === 'string') ? el.innerText : (el.textContent || '');
      const item = {selector: sel, index: i++, text: raw.trim(), attrs,
                    box: {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height},
                    visible};
      if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement ||
          el instanceof HTMLSelectElement) {
        item.value = el.value;
        if (el instanceof HTMLInputElement && (el.type === 'checkbox' || el.type === 'radio'))
          item.checked = el.checked;
      }
      out.push(item);
    }
  }
  return {items: out};
})JS";

// The element a selector candidate names: CSS, or "text:TAG=TEXT" for the first TAG whose
// trimmed innerText is TEXT. Shared by the functions below (string-literal concatenation).
#define CB_JS_FIND_ONE                                                              \
  "const __cbFind = (c) => {"                                                       \
  "  if (c.startsWith('text:')) {"                                                  \
  "    const eq = c.indexOf('='); const tag = c.slice(5, eq), text = c.slice(eq + 1);" \
  "    for (const el of document.getElementsByTagName(tag || '*'))"                 \
  "      if ((el.innerText || '').trim() === text) return el;"                      \
  "    return null;"                                                                \
  "  }"                                                                             \
  "  return document.querySelector(c);"                                             \
  "};"

// (candidates: string[], timeoutMs: number) => Promise<{x, y, width, height, used, scrolled} |
// {error}>. Waits until one candidate matches an element with a non-empty box, scrolls it into
// view if it is not wholly inside the viewport, and returns its box in viewport CSS pixels.
inline constexpr const char* kFind = "((cands, timeoutMs) => { " CB_JS_FIND_ONE R"JS(
  return new Promise((resolve) => {
  const start = performance.now();
  const attempt = () => {
    for (const c of cands) {
      let el;
      try { el = __cbFind(c); } catch (e) { resolve({error: 'bad selector ' + JSON.stringify(c)}); return; }
      if (!el) continue;
      let r = el.getBoundingClientRect();
      if (r.width <= 0 || r.height <= 0) continue;
      let scrolled = false;
      if (r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth) {
        el.scrollIntoView({block: 'center', inline: 'center', behavior: 'instant'});
        r = el.getBoundingClientRect();
        scrolled = true;
      }
      resolve({x: r.left, y: r.top, width: r.width, height: r.height, used: c, scrolled});
      return;
    }
    if (performance.now() - start > timeoutMs) {
      resolve({error: 'no element matches ' + JSON.stringify(cands[0])}); return;
    }
    setTimeout(attempt, 10);
  };
  attempt();
}); }))JS";

// (lists: string[][]) => Promise<({x, y, width, height, used} | null)[]>: once the document has
// loaded, for each list of candidates, the box of the element it names if that element is wholly
// inside the viewport (no scrolling). Replay looks up the steps ahead in one round trip with
// this, sent as the navigation commits.
inline constexpr const char* kLocateAll = "((lists) => { " CB_JS_FIND_ONE R"JS(
  const locate = () => lists.map((cands) => {
    for (const c of cands) {
      let el; try { el = __cbFind(c); } catch (e) { return null; }
      if (!el) continue;
      const r = el.getBoundingClientRect();
      if (r.width <= 0 || r.height <= 0 || r.top < 0 || r.left < 0 || r.bottom > innerHeight ||
          r.right > innerWidth) return null;
      return {x: r.left, y: r.top, width: r.width, height: r.height, used: c};
    }
    return null;
  });
  if (document.readyState === 'complete') return locate();
  return new Promise((resolve) => addEventListener('load', () => resolve(locate()), {once: true}));
  }))JS";

// (candidates: string[], x: number, y: number) => boolean: whether the element at viewport
// point (x, y) is the one the candidates name (or inside it). Sent just before the input events
// of a click whose box was looked up ahead, so that a layout change is caught, not ignored.
inline constexpr const char* kVerifyAt = "((cands, x, y) => { " CB_JS_FIND_ONE R"JS(
  const hit = document.elementFromPoint(x, y);
  for (const c of cands) {
    let el; try { el = __cbFind(c); } catch (e) { continue; }
    if (el) return !!hit && (el === hit || el.contains(hit));
  }
  return false; }))JS";

// (candidates: string[]) => boolean: focuses the element the first matching candidate names
// (if it is not focused already); false if none matches. Used before typing.
inline constexpr const char* kEnsureFocus = "((cands) => { " CB_JS_FIND_ONE R"JS(
  for (const c of cands) {
    let el; try { el = __cbFind(c); } catch (e) { continue; }
    if (!el) continue;
    if (document.activeElement !== el) el.focus();
    return true;
  }
  return false; }))JS";

// (selector: string, timeoutMs: number) => Promise<boolean>: resolves true once the selector
// matches, false at the timeout; rejects on a bad selector.
inline constexpr const char* kWaitSelector = R"JS((sel, timeoutMs) => new Promise((resolve, reject) => {
  try { document.querySelector(sel); } catch (e) { reject(new Error('bad selector ' + JSON.stringify(sel) + ': ' + e.message)); return; }
  const start = performance.now();
  const attempt = () => {
    if (document.querySelector(sel)) { resolve(true); return; }
    if (performance.now() - start > timeoutMs) { resolve(false); return; }
    setTimeout(attempt, 10);
  };
  attempt();
}))JS";

// The recorder, injected into every document with Page.addScriptToEvaluateOnNewDocument (and
// evaluated once in the current one). Reports through the Runtime binding __clonebotRecord
// one JSON object per user action, with ts = performance.timeOrigin + the event's timeStamp
// (milliseconds since the epoch, sub-millisecond precision) and sel, a list of selector
// candidates for the target element, most robust first: #id, [data-testid], TAG[name],
// text:TAG=TEXT, then a structural path. Each candidate is kept only if it names exactly that
// element at the time of the action.
inline constexpr const char* kRecorder = R"JS((() => {
  if (window.__clonebotRecorder) return;
  window.__clonebotRecorder = true;
  const send = (o) => { try { window.__clonebotRecord(JSON.stringify(o)); } catch (e) {} };
  const ts = (e) => performance.timeOrigin + e.timeStamp;
  const esc = (s) => (window.CSS && CSS.escape) ? CSS.escape(s) : s.replace(/[^\w-]/g, '\\$&');
  const unique = (sel, el) => { try { const l = document.querySelectorAll(sel); return l.length === 1 && l[0] === el; } catch (e) { return false; } };
  const path = (el) => {
    const parts = [];
    while (el && el.nodeType === 1 && el !== document.documentElement) {
      if (el.id && unique('#' + esc(el.id), el)) { parts.unshift('#' + esc(el.id)); break; }
      let n = 1, s = el;
      while ((s = s.previousElementSibling)) if (s.tagName === el.tagName) n++;
      parts.unshift(el.tagName.toLowerCase() + ':nth-of-type(' + n + ')');
      el = el.parentElement;
    }
    if (parts.length && !parts[0].startsWith('#')) parts.unshift('html');
    return parts.join(' > ');
  };
  const selectors = (el) => {
    const out = [];
    const tag = el.tagName.toLowerCase();
    if (el.id && unique('#' + esc(el.id), el)) out.push('#' + esc(el.id));
    const tid = el.getAttribute('data-testid');
    if (tid !== null) { const s = '[data-testid="' + tid.replace(/"/g, '\\"') + '"]'; if (unique(s, el)) out.push(s); }
    const name = el.getAttribute('name');
    if (name !== null) { const s = tag + '[name="' + name.replace(/"/g, '\\"') + '"]'; if (unique(s, el)) out.push(s); }
    const text = (el.innerText || '').trim();
    if (text && text.length <= 80 && !text.includes('\n') && !['input', 'textarea', 'select'].includes(tag)) {
      let first = null, count = 0;
      for (const o of document.getElementsByTagName(tag)) if ((o.innerText || '').trim() === text) { if (!first) first = o; count++; }
      if (count === 1 && first === el) out.push('text:' + tag + '=' + text);
    }
    out.push(path(el));
    return out;
  };
  // The element a user means: the nearest interactive ancestor of the event target.
  const actionable = (t) => {
    const el = t && t.nodeType === 1 ? t : (t && t.parentElement);
    if (!el) return null;
    return el.closest('a,button,input,textarea,select,label,summary,[role=button],[onclick],[data-testid]') || el;
  };
  addEventListener('mousedown', (e) => {
    if (!e.isTrusted) return;
    const el = actionable(e.target); if (!el) return;
    const r = el.getBoundingClientRect();
    send({kind: 'click', ts: ts(e), sel: selectors(el), button: ['left', 'middle', 'right'][e.button] || 'left',
          count: e.detail || 1,
          x: r.width ? (e.clientX - r.left) / r.width : 0.5, y: r.height ? (e.clientY - r.top) / r.height : 0.5});
  }, true);
  const special = new Set(['Enter', 'Tab', 'Backspace', 'Delete', 'Escape', 'ArrowLeft', 'ArrowRight',
                           'ArrowUp', 'ArrowDown', 'Home', 'End', 'PageUp', 'PageDown']);
  addEventListener('keydown', (e) => {
    if (!e.isTrusted || e.isComposing) return;
    const el = document.activeElement && document.activeElement !== document.body ? document.activeElement : null;
    const sel = el ? selectors(el) : [];
    if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) send({kind: 'type', ts: ts(e), sel, text: e.key});
    else if (special.has(e.key)) send({kind: 'key', ts: ts(e), sel, key: e.key});
  }, true);
  // Text that arrives without a keydown of its own (insertText, paste, an IME).
  addEventListener('beforeinput', (e) => {
    if (!e.isTrusted || !e.data) return;
    if (e.inputType !== 'insertFromPaste' && e.inputType !== 'insertReplacementText' &&
        !(e.inputType === 'insertText' && window.__clonebotLastKey !== e.data)) return;
    const el = document.activeElement;
    send({kind: 'type', ts: ts(e), sel: el ? selectors(el) : [], text: e.data});
  }, true);
  addEventListener('keydown', (e) => { window.__clonebotLastKey = e.key; setTimeout(() => { window.__clonebotLastKey = null; }, 0); }, true);
  addEventListener('wheel', (e) => {
    if (!e.isTrusted) return;
    const el = actionable(e.target);
    send({kind: 'scroll', ts: ts(e), sel: el && el !== document.documentElement && el !== document.body ? selectors(el) : [],
          px: e.clientX, py: e.clientY, dx: e.deltaX, dy: e.deltaY});
  }, {capture: true, passive: true});
  addEventListener('change', (e) => {
    const el = e.target;
    if (!e.isTrusted || !(el instanceof HTMLSelectElement)) return;
    send({kind: 'select', ts: ts(e), sel: selectors(el), value: el.value});
  }, true);
})())JS";

}  // namespace clonebot::web::js
