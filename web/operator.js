// operator.js - the operator's views: the fleet grid, the business (economics, what-if),
// prices and coupons, tenants and credits.
import {
  api, listAll, micros, money, fmtMoney, fmtTime, pct, mib, h, table, badge, simBadge, stat, toast,
  confirmDialog, errorBox, showError, newIdempotencyKey, session,
} from "./lib.js";
import { lineChart } from "./charts.js";

function pageHead(title, sub, ...right) {
  return h("div", { class: "page-head" }, h("div", {}, h("h1", {}, title), sub ? h("p", { class: "muted" }, sub) : null), h("div", { class: "actions" }, right));
}

// ---- Fleet --------------------------------------------------------------------------------

const STATES = [
  ["free", "free"], ["starting", "starting"], ["running", "running"], ["spot", "spot"], ["down", "down"], ["draining", "draining"],
];

// The colour of a GPU: its host's state first, then its rental's state and term.
function gpuState(host, g) {
  if (host.state === "down" || g.state === "unavailable") return "down";
  if (g.rental_id) {
    if (g.rental_state === "starting") return "starting";
    return g.rental_term === "spot" ? "spot" : "running";
  }
  return host.state === "draining" ? "draining" : "free";
}

function showTip(el, lines) {
  const tip = document.getElementById("tip");
  tip.replaceChildren(...lines.map((l, i) => (i === 0 ? h("b", {}, l) : h("div", {}, l))));
  tip.hidden = false;
  const r = el.getBoundingClientRect();
  const x = Math.min(window.innerWidth - 290, Math.max(8, r.left));
  tip.style.left = x + "px";
  tip.style.top = r.bottom + 8 + "px";
}

function hideTip() {
  document.getElementById("tip").hidden = true;
}

function tipLines(host, g, state) {
  const t = g.telemetry;
  const out = ["GPU " + g.index + " · " + g.model + (g.simulated ? " (simulated)" : ""), "state: " + state + (g.rental_id ? " · " + g.rental_id : "")];
  if (t) {
    out.push("utilization " + (t.util_pct ?? "–") + " % · memory " + (t.mem_used_mib === null ? "–" : mib(t.mem_used_mib)) + " of " + mib(g.memory_mib));
    out.push("power " + (t.power_w ?? "–") + " W · " + (t.temp_c ?? "–") + " °C");
    out.push("reported " + fmtTime(t.at));
  } else {
    out.push("no telemetry yet");
  }
  return out;
}

export async function fleetView(main) {
  const err = errorBox();
  const summary = h("div", { class: "stats" });
  const grid = h("div", { class: "hosts", id: "fleet" });
  main.append(pageHead("Fleet", "Every host and GPU. Hover or focus a GPU for its telemetry."),
    summary,
    h("div", { class: "legend", "aria-label": "Legend" }, STATES.map(([s, l]) => h("span", {}, h("i", { class: "swatch s-" + s }), l))),
    err, grid);

  async function refresh() {
    let hosts;
    try {
      hosts = await listAll("/v1/hosts"); // each with its GPUs and their last telemetry
    } catch (e) {
      showError(err, e);
      return;
    }
    err.textContent = "";
    const counts = Object.fromEntries(STATES.map(([s]) => [s, 0]));
    let total = 0, sim = 0;
    const cards = hosts.map((host) => {
      const cells = host.gpus.map((g) => {
        const st = gpuState(host, g);
        counts[st]++;
        total++;
        if (g.simulated) sim++;
        const lines = tipLines(host, g, st);
        const cell = h("button", {
          type: "button", class: "gpu s-" + st, "data-state": st, "data-gpu": g.uuid,
          "aria-label": host.hostname + " " + lines.join(", "),
          onmouseenter: (ev) => showTip(ev.currentTarget, lines), onmouseleave: hideTip,
          onfocus: (ev) => showTip(ev.currentTarget, lines), onblur: hideTip,
        }, String(g.index));
        return cell;
      });
      const action = host.state === "draining"
        ? h("button", { class: "small secondary", "data-undrain": host.id, onclick: () => setDrain(host, false) }, "Undrain")
        : h("button", { class: "small secondary", "data-drain": host.id, disabled: host.state === "down", onclick: () => setDrain(host, true) }, "Drain");
      return h("article", { class: "host", "data-host": host.id, "aria-label": "Host " + host.hostname },
        h("header", {}, h("div", {}, h("h3", {}, host.hostname), h("div", { class: "muted mono" }, host.id)),
          h("div", {}, badge(host.state, host.state), " ", host.simulated ? simBadge() : null)),
        h("div", { class: "gpus" }, cells),
        h("footer", {}, h("span", {}, host.gpu_count + " × " + host.gpu_model + " · " + host.free_gpus + " free · heartbeat " + (host.last_heartbeat_at ? new Date(host.last_heartbeat_at).toLocaleTimeString() : "never")), action));
    });
    summary.replaceChildren(
      stat("Hosts", String(hosts.length), sim ? sim + " simulated GPUs" : "all real"),
      stat("GPUs", String(total), counts.free + " free"),
      stat("Rented", String(counts.running + counts.spot + counts.starting), counts.spot + " on spot, " + counts.starting + " starting"),
      stat("Utilization now", total ? pct((counts.running + counts.spot) / total) : "–", "GPUs billing or placed"),
      stat("Unavailable", String(counts.down + counts.draining), counts.draining + " draining, " + counts.down + " down"));
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.gpu : null;
    grid.replaceChildren(...(cards.length ? cards : [h("p", { class: "card muted" }, "No host has registered. Make a join token (gpurent hosts join-token) and start gpurent agent on a GPU server.")]));
    if (focused) {
      const el = grid.querySelector('[data-gpu="' + CSS.escape(focused) + '"]');
      if (el) el.focus();
    }
  }
  async function setDrain(host, on) {
    if (on && !(await confirmDialog("Drain " + host.hostname + "?", "No new rental is placed on it; running rentals continue.", "Drain"))) return;
    try {
      await api("POST", "/v1/hosts/" + host.id + (on ? "/drain" : "/undrain"), {});
      toast((on ? "Draining " : "Undrained ") + host.hostname);
      await refresh();
    } catch (e) {
      showError(err, e);
    }
  }
  await refresh();
  const poll = setInterval(refresh, 3000);
  return () => { clearInterval(poll); hideTip(); };
}

// ---- Business -----------------------------------------------------------------------------

function iso(d) {
  return d.toISOString().replace(/\.\d+Z$/, "Z");
}

export async function businessView(main) {
  const period = h("select", { id: "period" }, h("option", { value: "day" }, "Last 24 hours (hourly)"), h("option", { value: "week" }, "Last 7 days (hourly)"), h("option", { value: "month" }, "Last 30 days (daily)"));
  const stats = h("div", { class: "stats" });
  const charts = { util: h("div", { class: "chart", id: "chart-utilization" }), rev: h("div", { class: "chart", id: "chart-revenue" }), price: h("div", { class: "chart", id: "chart-price" }) };
  const econBox = h("div");
  const err = errorBox();
  main.append(pageHead("Business", "Does the fleet pay? Utilization, revenue and the price realized after discounts.", h("label", { for: "period" }, "Period", period)),
    err, stats,
    h("div", { class: "grid three" },
      h("section", { class: "card" }, h("h2", {}, "Utilization"), charts.util),
      h("section", { class: "card" }, h("h2", {}, "Revenue"), charts.rev),
      h("section", { class: "card" }, h("h2", {}, "Realized price /GPU-h"), charts.price)),
    h("section", { class: "card", "aria-labelledby": "econ-h" }, h("h2", { id: "econ-h" }, "Economics per GPU model"), econBox),
    whatIf());

  async function load() {
    const now = new Date();
    const span = { day: 86400e3, week: 7 * 86400e3, month: 30 * 86400e3 }[period.value];
    const step = period.value === "month" ? "day" : "hour";
    const from = iso(new Date(now.getTime() - span));
    try {
      const [series, econ, prices] = await Promise.all([
        api("GET", "/v1/economics/series?step=" + step + "&from=" + from),
        api("GET", "/v1/economics?from=" + from),
        api("GET", "/v1/prices"),
      ]);
      err.textContent = "";
      const pts = series.points;
      const xs = pts.map((p) => Date.parse(p.start) / 1000);
      lineChart(charts.util, { xs, series: [{ label: "utilization", values: pts.map((p) => p.utilization * 100), color: "#4c6ef5" }], yFormat: (v) => Math.round(v) + " %", yMin: 0, yMax: 100, area: true, step: true });
      lineChart(charts.rev, { xs, series: [{ label: "revenue", values: pts.map((p) => Number(p.revenue)), color: "#2b8a3e" }, { label: "list", values: pts.map((p) => Number(p.list_revenue)), color: "#adb5bd" }], yFormat: (v) => v.toFixed(2), step: true });
      lineChart(charts.price, { xs, series: [{ label: "realized", values: pts.map((p) => (p.gpu_hours_rented > 0 ? Number(p.realized_hourly) : null)), color: "#f76707" }], yFormat: (v) => v.toFixed(2), step: true });
      const t = econ.total;
      stats.replaceChildren(
        stat("Utilization", pct(t.utilization), t.gpu_hours_rented.toFixed(1) + " of " + t.gpu_hours_available.toFixed(1) + " GPU-h", { id: "econ-utilization" }),
        stat("Revenue", fmtMoney(t.revenue), "list " + fmtMoney(t.list_revenue) + ", discounts " + fmtMoney(t.discounts)),
        stat("Realized price", fmtMoney(t.realized_hourly) + " /GPU-h", "after discounts"),
        stat("Gross margin", pct(t.gross_margin), "after depreciation, power, hosting"),
        stat("Payback", t.payback_years === null ? "never" : t.payback_years.toFixed(2) + " y", "at this period's cash earnings"));
      const list = Object.fromEntries(prices.data.map((p) => [p.gpu_model, p.on_demand_hourly]));
      econBox.replaceChildren(table(["Model", ["GPUs", "num"], ["Utilization", "num"], ["List /GPU-h", "num"], ["Realized /GPU-h", "num"], ["Revenue", "num"], ["Costs", "num"], ["Margin", "num"], ["Payback", "num"]],
        [...econ.models, t].map((m) => h("tr", { "data-model": m.gpu_model },
          h("th", { scope: "row" }, m.gpu_model),
          h("td", { class: "num" }, String(m.gpus)),
          h("td", { class: "num" }, pct(m.utilization)),
          h("td", { class: "num" }, fmtMoney(list[m.gpu_model], 6)),
          h("td", { class: "num" }, fmtMoney(m.realized_hourly)),
          h("td", { class: "num" }, fmtMoney(m.revenue)),
          h("td", { class: "num" }, money(micros(m.depreciation) + micros(m.power_cost) + micros(m.hosting_cost), 2)),
          h("td", { class: "num" }, pct(m.gross_margin)),
          h("td", { class: "num" }, m.payback_years === null ? "never" : m.payback_years.toFixed(2) + " y"))),
        { label: "Economics per model" }),
      h("p", { class: "hint" }, "From " + fmtTime(econ.from) + " to " + fmtTime(econ.to) + ". Costs: depreciation + power + hosting over the period, from each host's cost basis."));
    } catch (e) {
      showError(err, e);
    }
  }
  period.addEventListener("change", load);
  await load();
  const poll = setInterval(load, 15000);
  return () => clearInterval(poll);
}

// The what-if model, prefilled with the founding brief's A100 figures.
function whatIf() {
  const f = (id, label, value, hint) => {
    const input = h("input", { id, name: id, value, inputmode: "decimal", autocomplete: "off" });
    return [h("label", { for: id }, label, input, hint ? h("span", { class: "hint" }, hint) : null), input];
  };
  const [cardL, card] = f("wi-card", "Card price", "100000");
  const [priceL, price] = f("wi-price", "Realized price /GPU-h", "7.60");
  const [utilL, util] = f("wi-util", "Utilization (0–1)", "1");
  const [yearsL, years] = f("wi-years", "Depreciation years", "5");
  const [opexL, opex] = f("wi-opex", "Opex /h", "1.80", "power, hosting, staff");
  const out = {
    rev: h("b", { id: "wi-payback-revenue" }, "–"), cash: h("b", { id: "wi-payback-cash" }, "–"), margin: h("b", { id: "wi-margin" }, "–"),
    be: h("b", { id: "wi-breakeven" }, "–"), profit: h("b", { id: "wi-profit" }, "–"),
  };
  const err = errorBox();
  const form = h("form", { class: "stack", id: "whatif" }, h("div", { class: "fields" }, cardL, priceL, utilL, yearsL, opexL), err,
    h("div", { class: "results", "aria-live": "polite" },
      h("div", {}, h("span", {}, "Payback on revenue"), out.rev),
      h("div", {}, h("span", {}, "Payback on cash"), out.cash),
      h("div", {}, h("span", {}, "Gross margin"), out.margin),
      h("div", {}, h("span", {}, "Gross profit /year"), out.profit),
      h("div", {}, h("span", {}, "Break-even utilization"), out.be)));
  let seq = 0;
  // a ratio or a count as typed: Number("") is 0 and Number("abc") NaN (sent as null), so an
  // empty or mistyped field would be computed as 0 or refused as "required"; say which it is
  const num = (input, label) => {
    const t = input.value.trim();
    if (t === "" || !Number.isFinite(Number(t))) throw new Error(label + ": enter a number" + (t ? ", not \"" + t + "\"" : ""));
    return Number(t);
  };
  async function compute() {
    const mine = ++seq;
    try {
      const r = await api("POST", "/v1/economics/what-if", {
        card_price: card.value.trim(), hourly_price: price.value.trim(), utilization: num(util, "Utilization"),
        depreciation_years: num(years, "Depreciation years"), opex_hourly: opex.value.trim(),
      });
      if (mine !== seq) return;
      err.textContent = "";
      out.rev.textContent = r.payback_years_revenue === null ? "never" : r.payback_years_revenue.toFixed(2) + " y";
      out.cash.textContent = r.payback_years_cash === null ? "never" : r.payback_years_cash.toFixed(2) + " y";
      out.margin.textContent = r.gross_margin === null ? "– (no revenue)" : r.gross_margin.toFixed(3);
      out.profit.textContent = fmtMoney(r.gross_profit_yearly);
      out.be.textContent = r.breakeven_utilization === null ? "never" : pct(r.breakeven_utilization);
    } catch (e) {
      if (mine !== seq) return;
      for (const k in out) out[k].textContent = "–";
      showError(err, e);
    }
  }
  form.addEventListener("input", compute);
  form.addEventListener("submit", (ev) => { ev.preventDefault(); compute(); });
  compute();
  return h("section", { class: "card", "aria-labelledby": "wi-h" }, h("h2", { id: "wi-h" }, "What if: one GPU by hand"),
    h("p", { class: "muted" }, "Prefilled with the founding brief's A100: a 100,000 card at 7.60 an hour, fully rented, over 5 years, with 1.80 an hour of opex."), form);
}

// ---- Prices and coupons -------------------------------------------------------------------

export async function catalogueView(main) {
  const err = errorBox();
  const pricesBox = h("div"), couponsBox = h("div");
  main.append(pageHead("Prices and coupons", "What tenants pay. Prices are per GPU-hour; packages per GPU for the whole term."), err,
    h("section", { class: "card", "aria-labelledby": "prices-h" }, h("h2", { id: "prices-h" }, "Prices"), pricesBox, priceForm()),
    h("section", { class: "card", "aria-labelledby": "coupons-h" }, h("h2", { id: "coupons-h" }, "Coupons and promotions"), couponsBox, couponForm()));

  async function load() {
    const [prices, coupons] = await Promise.all([api("GET", "/v1/prices"), listAll("/v1/coupons")]);
    pricesBox.replaceChildren(table(["Model", ["Memory", "num"], ["On demand", "num"], ["Spot floor", "num"], ["Day", "num"], ["Week", "num"], ["Month", "num"]],
      prices.data.map((p) => h("tr", { "data-model": p.gpu_model }, h("th", { scope: "row" }, p.gpu_model), h("td", { class: "num" }, p.memory_mib ? mib(p.memory_mib) : "–"),
        h("td", { class: "num" }, fmtMoney(p.on_demand_hourly, 6)), h("td", { class: "num" }, fmtMoney(p.spot_floor_hourly, 6)),
        h("td", { class: "num" }, fmtMoney(p.packages.day, 6)), h("td", { class: "num" }, fmtMoney(p.packages.week, 6)), h("td", { class: "num" }, fmtMoney(p.packages.month, 6)))),
      { label: "Prices" }));
    couponsBox.replaceChildren(table(["Code", "Off", "Applies to", ["Redeemed", "num"], "Valid until", "Kind"],
      coupons.map((c) => h("tr", {}, h("th", { scope: "row", class: "mono" }, c.code),
        h("td", {}, c.percent_off !== null ? c.percent_off + " %" : fmtMoney(c.amount_off, 6) + " " + session.currency),
        h("td", {}, (c.gpu_model || "any model") + ", " + (c.term ? c.term.replace("_", "-") : "any term")),
        h("td", { class: "num" }, c.redemptions + (c.max_redemptions ? " / " + c.max_redemptions : "")),
        h("td", {}, c.valid_until ? fmtTime(c.valid_until) : "–"),
        h("td", {}, c.automatic ? badge("promotion", "running") : badge(c.once_per_tenant ? "code, once per tenant" : "code", "ended")))),
      { label: "Coupons", empty: "No coupons yet." }));
  }
  function priceForm() {
    const model = h("input", { id: "pf-model", required: true, placeholder: "A100-80G" });
    const od = h("input", { id: "pf-od", required: true, inputmode: "decimal", placeholder: "15.10" });
    const spot = h("input", { id: "pf-spot", inputmode: "decimal" });
    const day = h("input", { id: "pf-day", inputmode: "decimal" }), week = h("input", { id: "pf-week", inputmode: "decimal" }), month = h("input", { id: "pf-month", inputmode: "decimal" });
    const e = errorBox();
    const form = h("form", { class: "stack sub" }, h("h3", {}, "Set a model's prices"),
      h("div", { class: "fields" }, h("label", { for: "pf-model" }, "GPU model", model), h("label", { for: "pf-od" }, "On demand /h", od), h("label", { for: "pf-spot" }, "Spot floor /h", spot),
        h("label", { for: "pf-day" }, "Day", day), h("label", { for: "pf-week" }, "Week", week), h("label", { for: "pf-month" }, "Month", month)),
      e, h("div", { class: "actions" }, h("button", { type: "submit" }, "Save prices")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { on_demand_hourly: od.value.trim() };
      if (spot.value.trim()) body.spot_floor_hourly = spot.value.trim();
      const pk = {};
      for (const [k, el] of [["day", day], ["week", week], ["month", month]]) if (el.value.trim()) pk[k] = el.value.trim();
      if (Object.keys(pk).length) body.packages = pk;
      try {
        await api("PUT", "/v1/prices/" + encodeURIComponent(model.value.trim()), body);
        e.textContent = "";
        toast("Prices of " + model.value + " saved");
        await load();
      } catch (x) { showError(e, x); }
    });
    return form;
  }
  function couponForm() {
    const code = h("input", { id: "cf-code", required: true, autocomplete: "off" });
    const kind = h("select", { id: "cf-kind" }, h("option", { value: "percent" }, "percent off"), h("option", { value: "amount" }, "amount off"));
    const value = h("input", { id: "cf-value", required: true, inputmode: "decimal", placeholder: "10" });
    const model = h("input", { id: "cf-model", placeholder: "any" });
    const max = h("input", { id: "cf-max", type: "number", min: 1, placeholder: "unlimited" });
    const auto = h("input", { id: "cf-auto", type: "checkbox" });
    const e = errorBox();
    const form = h("form", { class: "stack sub" }, h("h3", {}, "New coupon"),
      h("div", { class: "fields" }, h("label", { for: "cf-code" }, "Code", code), h("label", { for: "cf-kind" }, "Kind", kind), h("label", { for: "cf-value" }, "Value", value),
        h("label", { for: "cf-model" }, "Only GPU model", model), h("label", { for: "cf-max" }, "Max redemptions", max),
        h("label", { for: "cf-auto" }, "Automatic promotion", auto)),
      e, h("div", { class: "actions" }, h("button", { type: "submit" }, "Create coupon")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { code: code.value.trim() };
      if (kind.value === "percent") body.percent_off = Number(value.value); else body.amount_off = value.value.trim();
      if (model.value.trim()) body.gpu_model = model.value.trim();
      if (max.value) body.max_redemptions = Number(max.value);
      if (auto.checked) body.automatic = true;
      try {
        await api("POST", "/v1/coupons", body);
        e.textContent = "";
        toast("Coupon " + body.code + " created");
        form.reset();
        await load();
      } catch (x) { showError(e, x); }
    });
    return form;
  }
  await load();
}

// ---- Tenants and credits ------------------------------------------------------------------

export async function tenantsView(main) {
  const err = errorBox();
  const box = h("div");
  const created = h("div", { class: "notice", role: "status" });
  const select = h("select", { id: "cr-tenant" });
  const limitSelect = h("select", { id: "lm-tenant" });
  main.append(pageHead("Tenants", "Customers, their prepaid balances and limits."), err, created,
    h("section", { class: "card" }, box), h("div", { class: "grid two" }, newTenant(), credit(), limits()));
  let tenants = [];

  async function load() {
    tenants = await listAll("/v1/tenants");
    box.replaceChildren(table(["Tenant", "Id", ["Balance", "num"], ["Credit limit", "num"], ["Monthly budget", "num"], ["Burn /h", "num"], ["This month", "num"], ["Live rentals", "num"]],
      tenants.map((t) => h("tr", { "data-tenant": t.id }, h("th", { scope: "row" }, t.name), h("td", { class: "mono" }, t.id),
        h("td", { class: "num", "data-balance": t.id }, fmtMoney(t.balance, 6)), h("td", { class: "num", "data-limit": t.id }, fmtMoney(t.credit_limit, 6)),
        h("td", { class: "num", "data-budget": t.id }, t.monthly_budget ? fmtMoney(t.monthly_budget, 6) : "none"),
        h("td", { class: "num" }, fmtMoney(t.hourly_burn, 6)), h("td", { class: "num" }, fmtMoney(t.month_spent, 6)), h("td", { class: "num" }, String(t.live_rentals)))),
      { label: "Tenants", empty: "No tenants yet." }));
    for (const sel of [select, limitSelect]) {
      const keep = sel.value;
      sel.replaceChildren(...tenants.map((t) => h("option", { value: t.id }, t.name + " (" + t.id + ")")));
      if (keep) sel.value = keep;
    }
  }
  // a tenant's credit limit and monthly budget (PATCH /v1/tenants/{id}); an empty budget
  // removes the cap
  function limits() {
    const limit = h("input", { id: "lm-limit", inputmode: "decimal", placeholder: "unchanged" });
    const budget = h("input", { id: "lm-budget", inputmode: "decimal", placeholder: "unchanged" });
    const noBudget = h("input", { id: "lm-no-budget", type: "checkbox" });
    const e = errorBox();
    const form = h("form", { class: "stack" }, h("div", { class: "fields" }, h("label", { for: "lm-tenant" }, "Tenant", limitSelect),
      h("label", { for: "lm-limit" }, "Credit limit", limit), h("label", { for: "lm-budget" }, "Monthly budget", budget)),
      h("label", { for: "lm-no-budget", class: "inline" }, h("span", {}, noBudget, " no monthly budget (remove the cap)")),
      e, h("div", { class: "actions" }, h("button", { type: "submit" }, "Save limits")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = {};
      if (limit.value.trim()) body.credit_limit = limit.value.trim();
      if (noBudget.checked) body.monthly_budget = null;
      else if (budget.value.trim()) body.monthly_budget = budget.value.trim();
      if (!Object.keys(body).length) {
        e.textContent = "Nothing to change: give a credit limit or a monthly budget.";
        return;
      }
      try {
        const t = await api("PATCH", "/v1/tenants/" + limitSelect.value, body);
        e.textContent = "";
        toast("Limits of " + t.name + ": credit limit " + fmtMoney(t.credit_limit, 6) + ", monthly budget " + (t.monthly_budget ? fmtMoney(t.monthly_budget, 6) : "none"));
        form.reset();
        await load();
      } catch (x) { showError(e, x); }
    });
    return h("section", { class: "card", "aria-labelledby": "lm-h" }, h("h2", { id: "lm-h" }, "Limits"), form);
  }
  function newTenant() {
    const name = h("input", { id: "nt-name", required: true, autocomplete: "off" });
    const limit = h("input", { id: "nt-limit", inputmode: "decimal", placeholder: "0.00" });
    const e = errorBox();
    const form = h("form", { class: "stack" }, h("div", { class: "fields" }, h("label", { for: "nt-name" }, "Name", name), h("label", { for: "nt-limit" }, "Credit limit", limit)),
      e, h("div", { class: "actions" }, h("button", { type: "submit" }, "Create tenant")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { name: name.value.trim() };
      if (limit.value.trim()) body.credit_limit = limit.value.trim();
      try {
        const t = await api("POST", "/v1/tenants", body);
        e.textContent = "";
        created.replaceChildren("Tenant " + t.name + " (" + t.id + ") created. Its API key, shown only now: ", h("code", { class: "secret" }, t.api_key));
        form.reset();
        await load();
      } catch (x) { showError(e, x); }
    });
    return h("section", { class: "card", "aria-labelledby": "nt-h" }, h("h2", { id: "nt-h" }, "New tenant"), form);
  }
  function credit() {
    const amount = h("input", { id: "cr-amount", required: true, inputmode: "decimal", placeholder: "100.00" });
    const ref = h("input", { id: "cr-ref", required: true, placeholder: "bank transfer 2026-11-25" });
    const e = errorBox();
    const form = h("form", { class: "stack" }, h("div", { class: "fields" }, h("label", { for: "cr-tenant" }, "Tenant", select), h("label", { for: "cr-amount" }, "Amount", amount), h("label", { for: "cr-ref" }, "Reference", ref)),
      e, h("div", { class: "actions" }, h("button", { type: "submit" }, "Add credit")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        const c = await api("POST", "/v1/tenants/" + select.value + "/credits", { amount: amount.value.trim(), reference: ref.value.trim() }, { idempotencyKey: newIdempotencyKey() });
        e.textContent = "";
        toast("Credited " + fmtMoney(c.amount, 6) + ": balance " + fmtMoney(c.balance, 6));
        amount.value = "";
        await load();
      } catch (x) { showError(e, x); }
    });
    return h("section", { class: "card", "aria-labelledby": "cr-h" }, h("h2", { id: "cr-h" }, "Add credit"), form);
  }
  await load();
}
