// tenant.js - the tenant's views: offers and renting, my rentals, a rental's detail, billing.
import {
  api, listAll, micros, money, fmtMoney, fmtTime, fmtDuration, mib, h, table, badge, simBadge,
  stat, toast, confirmDialog, download, errorBox, showError, newIdempotencyKey, monthOf, session, ApiError,
} from "./lib.js";
import { lineChart } from "./charts.js";

function fmtShort(s) {
  return s ? new Date(s).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "–";
}

const TERMS = [
  ["on_demand", "On demand (per second)"],
  ["spot", "Spot (interruptible, your bid)"],
  ["day", "Day package"],
  ["week", "Week package"],
  ["month", "Month package"],
];

function pageHead(title, sub, ...right) {
  return h("div", { class: "page-head" }, h("div", {}, h("h1", {}, title), sub ? h("p", { class: "muted" }, sub) : null), h("div", { class: "actions" }, right));
}

// ---- Offers and renting -------------------------------------------------------------------

export async function offersView(main, route) {
  const offers = (await api("GET", "/v1/offers")).data;
  const pre = new URLSearchParams(route.query).get("model") || (offers[0] && offers[0].gpu_model) || "";
  const form = rentForm(offers, pre);
  const rows = offers.map((o) => h("tr", {},
    h("th", { scope: "row" }, o.gpu_model),
    h("td", { class: "num" }, o.memory_mib ? mib(o.memory_mib) : "–"),
    h("td", { class: "num", "data-available": o.gpu_model }, String(o.available_gpus), o.max_gpus_per_host ? h("span", { class: "muted" }, " (≤ " + o.max_gpus_per_host + "/host)") : null),
    // prices as set, to the micro-unit (a 0.355 price is not 0.36)
    h("td", { class: "num", "data-price": o.gpu_model }, fmtMoney(o.on_demand_hourly, 6)),
    h("td", { class: "num" }, fmtMoney(o.spot_floor_hourly, 6)),
    h("td", { class: "num" }, fmtMoney(o.packages && o.packages.day, 6)),
    h("td", { class: "num" }, fmtMoney(o.packages && o.packages.week, 6)),
    h("td", { class: "num" }, fmtMoney(o.packages && o.packages.month, 6)),
    h("td", { class: "act" }, h("button", { class: "small secondary", onclick: () => form.choose(o.gpu_model), "aria-label": "Rent " + o.gpu_model }, "Rent"))));
  main.append(
    pageHead("Offers", "What can be rented now. Prices per GPU-hour (" + session.currency + "); packages per GPU for the whole term."),
    h("section", { class: "card", "aria-labelledby": "offers-h" }, h("h2", { id: "offers-h" }, "GPU models"),
      table(["Model", ["Memory", "num"], ["Available now", "num"], ["On demand /h", "num"], ["Spot from /h", "num"], ["Day", "num"], ["Week", "num"], ["Month", "num"], ["", "act"]], rows, { label: "Offers", empty: "No GPU model is priced yet." })),
    form.el);
}

function rentForm(offers, preselect) {
  const model = h("select", { id: "rent-model", name: "gpu_model" }, offers.map((o) => h("option", { value: o.gpu_model }, o.gpu_model)));
  model.value = preselect;
  const count = h("input", { id: "rent-count", name: "gpu_count", type: "number", min: 1, max: 32, value: 1, required: true });
  const term = h("select", { id: "rent-term", name: "term" }, TERMS.map(([v, l]) => h("option", { value: v }, l)));
  const bid = h("input", { id: "rent-bid", name: "max_hourly", inputmode: "decimal", placeholder: "e.g. 7.00", autocomplete: "off" });
  const bidLabel = h("label", { for: "rent-bid", hidden: true }, "Spot bid per GPU-hour", bid);
  const coupon = h("input", { id: "rent-coupon", name: "coupon", autocomplete: "off", placeholder: "optional" });
  const queue = h("input", { id: "rent-queue", name: "queue", type: "checkbox" });
  const command = h("input", { id: "rent-command", name: "command", autocomplete: "off", placeholder: "optional, e.g. python train.py --epochs 3" });
  const q = { price: h("b", { id: "q-price" }, "–"), total: h("b", { id: "q-hourly" }, "–"), pay: h("b", { id: "q-total" }, "–"), discount: h("b", { id: "q-discount" }, "–") };
  const quoteErr = errorBox();
  const err = errorBox();
  const alt = h("div", { class: "notice", id: "rent-alternatives" });
  const submit = h("button", { type: "submit", id: "rent-submit" }, "Rent");
  let seq = 0, timer = null;

  function body() {
    const b = { gpu_model: model.value, gpu_count: Number(count.value), term: term.value };
    if (term.value === "spot" && bid.value.trim()) b.max_hourly = bid.value.trim();
    if (coupon.value.trim()) b.coupon = coupon.value.trim();
    return b;
  }
  async function quote() {
    const mine = ++seq;
    bidLabel.hidden = term.value !== "spot";
    try {
      const b = body();
      const r = await api("POST", "/v1/quotes", b);
      if (mine !== seq) return;
      quoteErr.textContent = "";
      q.price.textContent = fmtMoney(r.hourly_price, 6);
      q.total.textContent = fmtMoney(r.hourly_total, 6);
      q.pay.textContent = ["day", "week", "month"].includes(r.term) ? fmtMoney(r.total) + " prepaid" : fmtMoney(r.total) + " per hour run";
      q.discount.textContent = fmtMoney(r.discount);
    } catch (e) {
      if (mine !== seq) return;
      for (const k in q) q[k].textContent = "–";
      showError(quoteErr, e);
    }
  }
  function requote() {
    clearTimeout(timer);
    timer = setTimeout(quote, 150);
  }
  for (const el of [model, count, term, bid, coupon]) el.addEventListener("input", requote);

  const form = h("form", { class: "stack", id: "rent-form", "aria-labelledby": "rent-h" },
    h("div", { class: "fields" },
      h("label", { for: "rent-model" }, "GPU model", model),
      h("label", { for: "rent-count" }, "GPUs", count),
      h("label", { for: "rent-term" }, "Term", term),
      bidLabel,
      h("label", { for: "rent-coupon" }, "Coupon", coupon)),
    h("label", { for: "rent-command" }, "Workload command (run on the GPUs; leave empty to hold them)", command),
    h("label", { for: "rent-queue", class: "inline" }, h("span", {}, queue, " wait in the queue when no GPUs are free now (it starts when they free up)")),
    h("div", { class: "quote", "aria-live": "polite", id: "quote" },
      h("div", {}, h("span", {}, "Price /GPU-h"), q.price),
      h("div", {}, h("span", {}, "Rate /h"), q.total),
      h("div", {}, h("span", {}, "Total"), q.pay),
      h("div", {}, h("span", {}, "Discount"), q.discount)),
    quoteErr, err, alt,
    h("div", { class: "actions" }, submit));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    alt.textContent = "";
    const b = body();
    const argv = splitCommand(command.value);
    if (argv === null) {
      err.textContent = "Workload command: a quote is not closed.";
      return;
    }
    if (argv.length) b.workload = { command: argv };
    if (queue.checked) b.queue = true;
    submit.disabled = true;
    try {
      const r = await api("POST", "/v1/rentals", b, { idempotencyKey: newIdempotencyKey() });
      toast("Rental " + r.id + " is " + r.state);
      location.hash = "#/rentals/" + r.id;
    } catch (e) {
      showError(err, e);
      if (e instanceof ApiError && e.status === 409) await alternatives(alt, b);
      if (e instanceof ApiError && e.status === 402) {
        const bal = await api("GET", "/v1/balance").catch(() => null);
        if (bal) alt.append("Your balance is " + fmtMoney(bal.balance) + " " + session.currency + " (credit limit " + fmtMoney(bal.credit_limit) + "). ", h("a", { href: "#/billing" }, "See billing"), ".");
      }
    } finally {
      submit.disabled = false;
    }
  });

  const el = h("section", { class: "card", "aria-labelledby": "rent-h" }, h("h2", { id: "rent-h" }, "Rent GPUs"), form);
  quote();
  return {
    el,
    choose(m) {
      model.value = m;
      quote();
      model.focus();
      el.scrollIntoView({ behavior: "smooth", block: "start" });
    },
  };
}

// A command line as its words, like a shell without expansions: spaces separate words,
// '...' and "..." quote (a backslash escapes in "..." and outside quotes). null: unclosed.
export function splitCommand(text) {
  const out = [];
  let word = null, quote = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = null; else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && i + 1 < text.length) word += text[++i];
      else word += c;
    } else if (/\s/.test(c)) {
      if (word !== null) out.push(word);
      word = null;
    } else {
      word = word ?? "";
      if (c === "'" || c === '"') quote = c;
      else if (c === "\\" && i + 1 < text.length) word += text[++i];
      else word += c;
    }
  }
  if (quote) return null;
  if (word !== null) out.push(word);
  return out;
}

// What could be rented instead, after a 409 for lack of capacity.
async function alternatives(box, wanted) {
  const offers = (await api("GET", "/v1/offers").catch(() => ({ data: [] }))).data;
  const items = offers.filter((o) => o.max_gpus_per_host > 0)
    .map((o) => o.gpu_model + ": " + o.available_gpus + " free, up to " + o.max_gpus_per_host + " on one host");
  box.append(h("b", {}, "Available now instead: "), items.length ? items.join(" · ") : "nothing is free right now.");
  const same = offers.find((o) => o.gpu_model === wanted.gpu_model);
  if (same && same.max_gpus_per_host > 0 && same.max_gpus_per_host < wanted.gpu_count) {
    box.append(h("br"), "Try " + same.max_gpus_per_host + " × " + same.gpu_model + ".");
  }
  box.append(h("br"), "Or tick “wait in the queue” to have it start when GPUs free up.");
}

// ---- My rentals ---------------------------------------------------------------------------

// The running cost now: what the server said (accrued_cost, billed up to the host's last
// heartbeat) plus the rental's rate since then. The server can be a heartbeat behind this
// estimate, so what is shown never goes back while the rental bills.
const shown = new Map();
const PACKAGES = ["day", "week", "month"];
function ticking(r, fetchedAt) {
  // a package is prepaid: its cost is what was paid, nothing accrues by the hour
  if (!r.billing || PACKAGES.includes(r.term)) {
    shown.delete(r.id);
    return micros(r.accrued_cost);
  }
  const rate = micros(r.hourly_price) * BigInt(r.gpu_count);
  const us = BigInt(Math.max(0, Math.floor((Date.now() - fetchedAt) * 1000)));
  let v = micros(r.accrued_cost) + rate * us / 3600000000n;
  const before = shown.get(r.id);
  if (before !== undefined && before > v) v = before;
  shown.set(r.id, v);
  return v;
}

export async function rentalsView(main) {
  let rentals = [], fetchedAt = Date.now();
  const err = errorBox();
  const body = h("div");
  const showEnded = h("input", { type: "checkbox", id: "show-ended" });
  main.append(pageHead("My rentals", "Costs tick up while a rental bills; stop it when you are done.",
    h("label", { for: "show-ended", class: "inline" }, h("span", {}, showEnded, " show ended")),
    h("a", { class: "button", href: "#/offers" }, "Rent GPUs")), err, h("section", { class: "card" }, body));

  function draw() {
    const list = rentals.filter((r) => showEnded.checked || r.state !== "ended");
    const rows = list.map((r) => {
      const cost = h("td", { class: "num mono", "data-cost": r.id }, money(ticking(r, fetchedAt)));
      return h("tr", { "data-rental": r.id },
        h("td", {}, h("a", { href: "#/rentals/" + r.id, class: "mono" }, r.id)),
        h("td", {}, badge(r.state), r.end_reason ? h("span", { class: "muted", title: endedText(r) }, " " + r.end_reason) : null),
        h("td", {}, r.gpu_count + " × " + r.gpu_model),
        h("td", {}, r.term.replace("_", "-")),
        h("td", {}, r.host_id ? h("span", { class: "mono" }, r.host_id) : h("span", { class: "muted" }, "–"), " ", r.simulated ? simBadge() : null),
        h("td", { class: "num" }, fmtMoney(r.hourly_price, 6)),
        h("td", {}, fmtTime(r.started_at)),
        cost,
        h("td", {}, r.ends_at ? fmtTime(r.ends_at) : h("span", { class: "muted" }, "–")),
        h("td", { class: "act" }, r.state !== "ended" ? h("button", { class: "small danger", onclick: () => stop(r), "aria-label": "Stop " + r.id }, "Stop") : null));
    });
    body.replaceChildren(table(["Rental", "State", "GPUs", "Term", "Host", ["Price /GPU-h", "num"], "Started", ["Cost so far", "num"], "Ends", ["", "act"]], rows,
      { label: "My rentals", empty: "No rentals. Rent GPUs from the offers." }));
  }
  async function stop(r) {
    if (!(await confirmDialog("Stop " + r.id + "?", "Its workload is stopped and billing ends now. " + r.gpu_count + " × " + r.gpu_model + ", cost so far " + money(ticking(r, fetchedAt)) + ".", "Stop rental"))) return;
    try {
      const s = await api("POST", "/v1/rentals/" + r.id + "/stop", {});
      toast("Stopped " + s.id + ": cost " + fmtMoney(s.cost, 6));
      await refresh();
    } catch (e) {
      showError(err, e);
    }
  }
  async function refresh() {
    try {
      rentals = await listAll("/v1/rentals");
      fetchedAt = Date.now();
      err.textContent = "";
      draw();
    } catch (e) {
      showError(err, e);
    }
  }
  showEnded.addEventListener("change", draw);
  await refresh();
  const tick = setInterval(() => {
    for (const r of rentals) {
      const td = body.querySelector('[data-cost="' + r.id + '"]');
      if (td) td.textContent = money(ticking(r, fetchedAt));
    }
  }, 1000);
  const poll = setInterval(refresh, 2000);
  return () => { clearInterval(tick); clearInterval(poll); };
}

// ---- One rental ---------------------------------------------------------------------------

export async function rentalView(main, route) {
  const id = route.parts[1];
  let r = await api("GET", "/v1/rentals/" + id), fetchedAt = Date.now();
  const err = errorBox();
  const head = h("div");
  const stats = h("div", { class: "stats" });
  const charts = { util: h("div", { class: "chart", id: "chart-util" }), mem: h("div", { class: "chart", id: "chart-mem" }), power: h("div", { class: "chart", id: "chart-power" }) };
  const charges = h("div");
  main.append(head, err, stats,
    h("div", { class: "grid two" },
      h("section", { class: "card" }, h("h2", {}, "GPU utilization"), charts.util),
      h("section", { class: "card" }, h("h2", {}, "Memory used"), charts.mem),
      h("section", { class: "card" }, h("h2", {}, "Power draw"), charts.power),
      h("section", { class: "card" }, h("h2", {}, "Charges"), charges)));

  function drawHead() {
    const stopBtn = r.state !== "ended" ? h("button", { class: "danger", id: "stop-rental", onclick: stop }, "Stop rental") : null;
    head.replaceChildren(pageHead(h("span", {}, "Rental ", h("span", { class: "mono" }, r.id)), null, h("a", { class: "button secondary", href: "#/rentals" }, "All rentals"), stopBtn));
    stats.replaceChildren(
      stat("State", badge(r.state), r.end_reason ? endedText(r) : r.billing ? "billing" : "not billing", { id: "rental-state" }),
      stat("GPUs", r.gpu_count + " × " + r.gpu_model, r.host_id ? h("span", {}, "on ", h("span", { class: "mono" }, r.host_id), " ", r.simulated ? simBadge() : null) : "not placed"),
      stat("Price", fmtMoney(r.hourly_price, 6) + " /GPU-h", r.term.replace("_", "-") + (micros(r.discount) > 0n ? ", discount " + fmtMoney(r.discount, 6) : "")),
      stat("Cost so far", money(ticking(r, fetchedAt)), session.currency + (PACKAGES.includes(r.term) ? ", prepaid" : r.billing ? ", ticking" : ""), { id: "rental-cost" }),
      stat(r.ends_at ? "Ends" : "Started", r.ends_at ? fmtShort(r.ends_at) : fmtShort(r.started_at), r.ended_at ? "ended " + fmtTime(r.ended_at) : r.started_at ? "running " + fmtDuration((Date.now() - Date.parse(r.started_at)) / 1000) : r.state === "pending" ? "queued: it starts when GPUs free up" : "starting", { id: "rental-when" }));
  }
  async function stop() {
    if (!(await confirmDialog("Stop " + r.id + "?", "Its workload is stopped and billing ends now.", "Stop rental"))) return;
    try {
      r = await api("POST", "/v1/rentals/" + r.id + "/stop", {});
      fetchedAt = Date.now();
      toast("Stopped: cost " + fmtMoney(r.cost, 6));
      drawHead();
      await drawCharges();
    } catch (e) {
      showError(err, e);
    }
  }
  async function drawCharts() {
    const t = await api("GET", "/v1/rentals/" + id + "/telemetry");
    const gpus = t.gpus;
    const xsSet = new Set();
    for (const g of gpus) for (const s of g.samples) xsSet.add(Date.parse(s.at) / 1000);
    const xs = [...xsSet].sort((a, b) => a - b);
    const col = (field, scale = 1) => gpus.map((g) => {
      const by = new Map(g.samples.map((s) => [Date.parse(s.at) / 1000, s[field] === null ? null : s[field] * scale]));
      return { label: "GPU " + g.index, values: xs.map((x) => (by.has(x) ? by.get(x) : null)) };
    });
    lineChart(charts.util, { xs, series: col("util_pct"), yFormat: (v) => Math.round(v) + " %", yMin: 0, yMax: 100 });
    lineChart(charts.mem, { xs, series: col("mem_used_mib", 1 / 1024), yFormat: (v) => v.toFixed(v >= 10 ? 0 : 1) + " GiB" });
    lineChart(charts.power, { xs, series: col("power_w"), yFormat: (v) => Math.round(v) + " W" });
  }
  async function drawCharges() {
    // the usage since the rental was made (the API reads at most 400 days at once)
    const since = Math.max(Date.parse(r.created_at) - 1000, Date.now() - 365 * 86400e3);
    const from = new Date(since).toISOString().replace(/\.\d+Z$/, "Z");
    let u;
    try {
      u = await api("GET", "/v1/usage?from=" + from);
    } catch (e) {
      const box = errorBox();
      showError(box, e);
      charges.replaceChildren(box);
      return;
    }
    const lines = u.data.filter((l) => l.rental_id === r.id);
    charges.replaceChildren(table(["Kind", ["Seconds", "num"], ["List", "num"], ["Discount", "num"], ["Amount", "num"]],
      lines.map((l) => h("tr", {}, h("td", {}, l.kind), h("td", { class: "num" }, fmtDuration(l.seconds)), h("td", { class: "num" }, fmtMoney(l.list_amount, 6)), h("td", { class: "num" }, fmtMoney(l.discount, 6)), h("td", { class: "num", "data-charge": r.id }, fmtMoney(l.amount, 6)))),
      { label: "Charges", empty: "No charges yet: billing starts when the workload runs, and is settled every minute and at the end." }));
  }
  drawHead();
  await Promise.all([drawCharts(), drawCharges()]);
  const tick = setInterval(() => {
    const el = document.getElementById("rental-cost");
    if (el) el.textContent = money(ticking(r, fetchedAt));
  }, 1000);
  const poll = setInterval(async () => {
    try {
      r = await api("GET", "/v1/rentals/" + id);
      fetchedAt = Date.now();
      drawHead();
      await drawCharts();
    } catch (e) {
      showError(err, e);
    }
  }, 2000);
  return () => { clearInterval(tick); clearInterval(poll); };
}

// ---- Billing ------------------------------------------------------------------------------

export async function billingView(main) {
  const b = await api("GET", "/v1/balance");
  const now = new Date();
  const month = h("input", { type: "month", id: "invoice-month", value: monthOf(now), max: monthOf(now) });
  const usageBox = h("div"), invoiceBox = h("div");
  const err = errorBox();
  const runway = b.runway_seconds === null || b.runway_seconds === undefined ? "no burn" : fmtDuration(b.runway_seconds);
  main.append(pageHead("Billing", "Prepaid balance, what runs now, and what you were charged."),
    h("div", { class: "stats" },
      stat("Balance", fmtMoney(b.balance, 6), session.currency, { id: "balance" }),
      stat("Credit limit", fmtMoney(b.credit_limit, 6), "the balance may go this far below zero"),
      stat("Burn", fmtMoney(b.hourly_burn, 6) + " /h", b.live_rentals + " live rental" + (b.live_rentals === 1 ? "" : "s")),
      stat("Runway", runway, "at the current burn", { id: "runway" }),
      stat("This month", fmtMoney(b.month_spent, 6), b.monthly_budget ? "of a budget of " + fmtMoney(b.monthly_budget, 6) : "no monthly budget", { id: "month-spent" })),
    err,
    h("section", { class: "card", "aria-labelledby": "usage-h" },
      h("div", { class: "page-head" }, h("h2", { id: "usage-h" }, "Usage this month"),
        h("button", { class: "secondary", id: "usage-csv", onclick: async () => {
          try { download("gpurent-usage-" + monthOf(now) + ".csv", await api("GET", "/v1/usage?format=csv")); } catch (e) { showError(err, e); }
        } }, "Download CSV")),
      usageBox),
    h("section", { class: "card", "aria-labelledby": "inv-h" },
      h("div", { class: "page-head" }, h("h2", { id: "inv-h" }, "Invoice"),
        h("div", { class: "actions" }, h("label", { for: "invoice-month" }, "Month", month),
          h("button", { class: "secondary", onclick: async () => {
            try { download("gpurent-invoice-" + month.value + ".csv", await api("GET", "/v1/invoices/" + month.value + "?format=csv")); } catch (e) { showError(err, e); }
          } }, "Download CSV"))),
      invoiceBox));

  // an adjustment (the operator's credit or charge) may have no rental, GPUs or term; its
  // note names the closed month it corrects and the operator's reason
  const dash = () => h("span", { class: "muted" }, "–");
  const note = (l) => [l.corrects ? "for " + l.corrects : null, l.reason].filter(Boolean).join(": ");
  const lineRows = (lines) => lines.map((l) => h("tr", { "data-kind": l.kind },
    h("td", {}, l.rental_id ? h("a", { href: "#/rentals/" + l.rental_id, class: "mono" }, l.rental_id) : dash()),
    h("td", {}, l.kind), h("td", {}, l.gpu_model ? l.gpu_count + " × " + l.gpu_model : dash()), h("td", {}, l.term || dash()),
    h("td", { class: "num" }, fmtDuration(l.seconds)), h("td", { class: "num" }, fmtMoney(l.list_amount, 6)),
    h("td", { class: "num" }, fmtMoney(l.discount, 6)), h("td", { class: "num" }, fmtMoney(l.amount, 6)),
    h("td", { class: "note" }, note(l) || dash())));
  const heads = ["Rental", "Kind", "GPUs", "Term", ["Time", "num"], ["List", "num"], ["Discount", "num"], ["Amount", "num"], "Note"];
  const u = await api("GET", "/v1/usage");
  usageBox.replaceChildren(table(heads, lineRows(u.data), { label: "Usage", empty: "Nothing charged this month." }),
    h("p", { class: "num" }, "Total ", h("b", { id: "usage-total" }, fmtMoney(u.total, 6)), " " + session.currency));
  async function invoice() {
    try {
      const inv = await api("GET", "/v1/invoices/" + month.value);
      invoiceBox.replaceChildren(h("p", {}, "Status: ", badge(inv.status, inv.status === "open" ? "pending" : "ended")),
        table(heads, lineRows(inv.lines), { label: "Invoice lines", empty: "No charges in " + month.value + "." }),
        h("p", { class: "num" }, "Credits ", fmtMoney(inv.credits_total), " · Total ", h("b", {}, fmtMoney(inv.total, 6)), " " + session.currency));
    } catch (e) {
      showError(err, e);
    }
  }
  month.addEventListener("change", invoice);
  await invoice();
}

/* "ended: exited (exit code 0)", "ended: failed_to_start: cannot run ...": how a rental ended,
   with the workload's exit code or the host's words for a start that failed */
function endedText(r) {
  let t = "ended: " + r.end_reason;
  if (r.end_detail) t += ": " + r.end_detail;
  else if (r.exit_code !== null && r.exit_code !== undefined) t += " (exit code " + r.exit_code + ")";
  return t;
}
