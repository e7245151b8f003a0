// Shared helpers: DOM building (text only: user text is never parsed as HTML),
// the API client, timecodes, the selects bin, toasts.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export async function api(path, opts = {}) {
  const init = { headers: { "Accept": "application/json" }, credentials: "same-origin" };
  if (opts.body !== undefined) {
    init.method = opts.method || "POST";
    init.headers["Content-Type"] = "application/json";
    init.headers["X-Requested-With"] = "assetdb";
    init.body = JSON.stringify(opts.body);
  }
  if (opts.signal) init.signal = opts.signal;
  const r = await fetch(path, init);
  if (opts.raw) {
    if (!r.ok) throw new ApiError(r.status, await errorText(r));
    return r;
  }
  if (!r.ok) throw new ApiError(r.status, await errorText(r));
  return r.json();
}

async function errorText(r) {
  try {
    const j = await r.json();
    if (typeof j.error === "string") return j.error;
    if (Array.isArray(j.detail)) return j.detail.map(d => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    return JSON.stringify(j);
  } catch { return `${r.status} ${r.statusText}`; }
}

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === "" || v === false) continue;
    if (Array.isArray(v)) v.forEach(x => x !== "" && u.append(k, x));
    else u.append(k, v);
  }
  return u.toString();
}

export function parseRate(s) {
  if (!s) return 25;
  if (typeof s === "number") return s;
  const [n, d] = String(s).split("/").map(Number);
  return d ? n / d : n || 25;
}

// SMPTE timecode at a rate; drop-frame (";") at 29.97 and 59.94 as editors expect.
// SMPTE timecode of a time in a source, by the one rule (assetdb/timecode.py): the source
// frame plus the source's start timecode (frames), drop-frame only at 29.97/59.94.
export function timecode(seconds, rate, startFrames = 0, dropOk = true) {
  rate = rate || 25;
  const nominal = Math.round(rate);
  const drop = dropOk && Math.abs(rate - nominal * 1000 / 1001) < 0.01 && (nominal === 30 || nominal === 60);
  let frame = (startFrames || 0) + Math.floor(Math.max(0, seconds) * rate + 0.1);  // stored times round: 10% of a frame
  if (drop) {
    const dropN = nominal === 30 ? 2 : 4;
    const per10 = nominal * 600 - dropN * 9;
    const per1 = nominal * 60 - dropN;
    const d = Math.floor(frame / per10), m = frame % per10;
    frame += dropN * 9 * d + (m > dropN ? dropN * Math.floor((m - dropN) / per1) : 0);
  }
  const ff = frame % nominal;
  const totalS = Math.floor(frame / nominal);
  const p = n => String(n).padStart(2, "0");
  return `${p(Math.floor(totalS / 3600))}:${p(Math.floor(totalS / 60) % 60)}:${p(totalS % 60)}${drop ? ";" : ":"}${p(ff)}`;
}

export function clock(seconds) {
  seconds = Math.max(0, seconds || 0);
  const m = Math.floor(seconds / 60), s = seconds - m * 60;
  return `${m}:${s.toFixed(1).padStart(4, "0")}`;
}

export function basename(p) { return String(p || "").split(/[\\/]/).pop(); }

let toastTimer = null;
export function toast(msg, bad = false) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  t.className = bad ? "toast bad" : "toast";
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, bad ? 6000 : 2500);
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = h("textarea", { value: text });
    document.body.append(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }
  toast(`copied ${text}`);
}

export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 4000);
}

export function thumbImg(url, alt) {
  if (!url) return h("div", { class: "noimg", text: "no picture" });
  return h("img", { src: url, alt: alt || "", loading: "lazy", decoding: "async" });
}

// ---- the selects bin (kept in localStorage; shots from several searches)
const BIN_KEY = "assetdb.selects";
export const bin = {
  items() {
    try { return JSON.parse(localStorage.getItem(BIN_KEY)) || []; } catch { return []; }
  },
  save(items) { localStorage.setItem(BIN_KEY, JSON.stringify(items)); window.dispatchEvent(new Event("bin")); },
  add(item) {
    const items = this.items();
    if (items.some(i => i.asset_id === item.asset_id && Math.abs(i.start_s - item.start_s) < 1e-3 && Math.abs(i.end_s - item.end_s) < 1e-3)) {
      toast("already in the selects bin");
      return;
    }
    items.push(item);
    this.save(items);
    toast(`added ${item.name} ${item.tc_in} to selects`);
  },
  remove(i) { const items = this.items(); items.splice(i, 1); this.save(items); },
  clear() { this.save([]); },
};
