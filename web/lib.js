// lib.js - what every view uses: the REST API client (the key lives in sessionStorage only),
// exact money (BigInt micro-units, as the server keeps it), formatting and DOM helpers.

const KEY = "gpurent.key";

export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail || title || "HTTP " + status);
    this.status = status;
    this.title = title;
    this.detail = detail;
  }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(v) { if (v) sessionStorage.setItem(KEY, v); else sessionStorage.removeItem(KEY); },
  role: null,      // "tenant" or "admin", learnt at sign-in
  tenant: null,    // the tenant's id
  currency: "",
};

// One call of the REST API. Returns the parsed JSON (or text for CSV); throws ApiError with
// the problem+json detail.
export async function api(method, path, body, opts = {}) {
  const headers = { Authorization: "Bearer " + (opts.key || session.key) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, "Network error", "the gpurent server cannot be reached");
  }
  const type = res.headers.get("Content-Type") || "";
  if (!res.ok) {
    let p = {};
    if (type.includes("json")) p = await res.json().catch(() => ({}));
    // the signed-in key was revoked (or rotated) meanwhile: the shell signs out and says so
    if (res.status === 401 && !opts.key) window.dispatchEvent(new CustomEvent("gpurent:unauthorized", { detail: p.detail }));
    throw new ApiError(res.status, p.title, p.detail);
  }
  if (type.startsWith("text/csv")) return res.text();
  return res.json();
}

// Every page of a list.
export async function listAll(path) {
  const out = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api("GET", path + sep + "limit=500" + (cursor ? "&cursor=" + cursor : ""));
    out.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}

// ---- money: decimal strings <-> BigInt micro-units ---------------------------------------

export function micros(s) {
  if (s === null || s === undefined) return 0n;
  const neg = s.startsWith("-");
  const [i, f = ""] = (neg ? s.slice(1) : s).split(".");
  const v = BigInt(i || "0") * 1000000n + BigInt((f + "000000").slice(0, 6));
  return neg ? -v : v;
}

// "15.10", "0.041943": at least 2 decimals, at most `max`, trailing zeros dropped.
export function money(us, max = 6) {
  const neg = us < 0n;
  let v = neg ? -us : us;
  if (max < 6) {
    const unit = 10n ** BigInt(6 - max);
    v = (v + unit / 2n) / unit * unit;
  }
  const i = v / 1000000n;
  let f = (v % 1000000n).toString().padStart(6, "0").slice(0, max);
  while (f.length > 2 && f.endsWith("0")) f = f.slice(0, -1);
  const grouped = i.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (neg ? "-" : "") + grouped + (f ? "." + f : "");
}

export function fmtMoney(s, max = 2) {
  if (s === null || s === undefined) return "–";
  return money(micros(s), max);
}

export function pct(x, digits = 1) {
  return x === null || x === undefined ? "–" : (x * 100).toFixed(digits) + " %";
}

// A time in the reader's zone; the year is said when it is not this year's (a coupon valid
// until next January, an invoice of last December).
export function fmtTime(s) {
  if (!s) return "–";
  const d = new Date(s);
  const year = d.getFullYear() !== new Date().getFullYear() ? "numeric" : undefined;
  return d.toLocaleString(undefined, { year, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
}

export function mib(n) {
  return n === null || n === undefined ? "–" : (n / 1024).toFixed(n % 1024 ? 1 : 0) + " GiB";
}

// ---- DOM ----------------------------------------------------------------------------------

// h("div", {class: "x", onclick: f}, "text", child...): text is always text, never HTML.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function table(headers, rows, opts = {}) {
  const thead = h("thead", {}, h("tr", {}, headers.map((x) => {
    const [label, cls] = Array.isArray(x) ? x : [x, ""];
    return h("th", { scope: "col", class: cls }, label);
  })));
  const tbody = h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, opts.empty || "Nothing yet.")));
  return h("div", { class: "table-wrap" }, h("table", { "aria-label": opts.label }, thead, tbody));
}

export function badge(text, cls) {
  return h("span", { class: "badge " + (cls || text) }, text);
}

export function simBadge() {
  return h("span", { class: "badge sim", title: "Simulated GPUs: no real hardware behind them" }, "simulated");
}

export function stat(label, value, sub, attrs = {}) {
  return h("div", { class: "stat" }, h("div", { class: "label" }, label),
    h("div", { class: "value", ...attrs }, value), sub ? h("div", { class: "sub" }, sub) : null);
}

export function toast(text) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove("show"), 2500);
}

// A modal confirmation: resolves true when confirmed.
export function confirmDialog(title, text, okLabel = "Confirm") {
  const d = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
    d.returnValue = "";
    d.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

// Download text as a file (CSV from the API).
export function download(name, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function errorBox() {
  return h("div", { class: "error", role: "alert" });
}

export function showError(box, e) {
  box.textContent = e instanceof ApiError ? (e.detail || e.title || "HTTP " + e.status) : String(e.message || e);
}

export function newIdempotencyKey() {
  return crypto.randomUUID ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function monthOf(d) {
  return d.toISOString().slice(0, 7);
}
