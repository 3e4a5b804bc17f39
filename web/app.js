// app.js - the console's shell: sign-in with an API key (kept in sessionStorage only), the
// role's navigation, and a hash router (#/offers, #/rentals/rnt_...) over the views.
import { api, session, h, errorBox, showError, ApiError } from "./lib.js";
import { destroyCharts } from "./charts.js";
import { offersView, rentalsView, rentalView, billingView } from "./tenant.js";
import { fleetView, businessView, catalogueView, tenantsView } from "./operator.js";

const VIEWS = {
  tenant: [
    ["offers", "Offers", offersView],
    ["rentals", "My rentals", rentalsView],
    ["billing", "Billing", billingView],
  ],
  admin: [
    ["fleet", "Fleet", fleetView],
    ["business", "Business", businessView],
    ["catalogue", "Prices & coupons", catalogueView],
    ["tenants", "Tenants", tenantsView],
  ],
};

const main = document.getElementById("main");
let cleanup = null;

// Which role does this key have? GET /v1/platform says (401: unknown key).
async function identify(key) {
  const p = await api("GET", "/v1/platform", undefined, { key });
  if (p.role !== "tenant" && p.role !== "admin") throw new Error("This is an agent's key: sign in with a tenant or admin key.");
  return { role: p.role, tenant: p.tenant_id, currency: p.currency };
}

function parseRoute() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  return { parts: path.split("/").filter(Boolean), query };
}

function renderChrome() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  if (!session.role) {
    nav.replaceChildren();
    who.replaceChildren();
    return;
  }
  const current = parseRoute().parts[0];
  nav.replaceChildren(...VIEWS[session.role].map(([id, label]) =>
    h("a", { href: "#/" + id, "aria-current": id === current ? "page" : null, "data-view": id }, label)));
  who.replaceChildren(...[h("span", { class: "role" }, session.role === "admin" ? "operator" : "tenant"),
    session.tenant ? h("span", { class: "mono" }, session.tenant) : null,
    h("button", { class: "small secondary", id: "sign-out", onclick: signOut }, "Sign out")].filter(Boolean));
}

let signInNote = "";

function signOut() {
  session.key = null;
  session.currency = "";
  session.role = null;
  session.tenant = null;
  location.hash = "#/";
  route();
}

function signInView(main) {
  const key = h("input", { id: "api-key", name: "api_key", type: "password", autocomplete: "off", required: true, placeholder: "gpr_…", spellcheck: "false" });
  const err = errorBox();
  err.textContent = signInNote; // kept until the next sign-in: signing out routes twice
  const btn = h("button", { type: "submit", id: "sign-in" }, "Sign in");
  const form = h("form", { class: "stack" },
    h("label", { for: "api-key" }, "API key", key),
    h("p", { class: "hint" }, "A tenant key opens the tenant view, the operator's admin key the operator view. The key is kept in this tab only (sessionStorage) and sent to this server only."),
    err, h("div", { class: "actions" }, btn));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    signInNote = "";
    try {
      const who = await identify(key.value.trim());
      session.key = key.value.trim();
      Object.assign(session, who);
      const next = "#/" + VIEWS[who.role][0][0];
      if (location.hash === next) await route();
      else location.hash = next; // hashchange routes
    } catch (e) {
      showError(err, e instanceof ApiError && e.status === 401 ? new Error("This key is unknown or revoked.") : e);
    } finally {
      btn.disabled = false;
    }
  });
  main.append(h("div", { class: "signin" }, h("div", { class: "card" },
    h("h1", {}, h("img", { src: "/favicon.svg", alt: "", width: 28, height: 28 }), "gpurent console"),
    h("p", { class: "muted" }, "Rent GPUs by the second, by the package or on spot — or run the business behind them."),
    form)));
  key.focus();
}

let routing = 0;
async function route() {
  const mine = ++routing;
  if (cleanup) cleanup();
  cleanup = null;
  destroyCharts();
  // each rendering gets its own container: a rendering overtaken by a newer one (a second
  // hashchange while it waits for the API) fills a detached container, never the page
  const view = h("div", { class: "view" });
  main.replaceChildren(view);
  if (session.key && !session.role) {
    try {
      Object.assign(session, await identify(session.key));
    } catch (e) {
      session.key = null;
    }
  }
  if (mine !== routing) return;
  renderChrome();
  if (mine !== routing) return;
  if (!session.role) {
    signInView(view);
    return;
  }
  const r = parseRoute();
  const views = VIEWS[session.role];
  let target = views.find(([id]) => id === r.parts[0]);
  if (session.role === "tenant" && r.parts[0] === "rentals" && r.parts[1]) target = ["rental", "", rentalView];
  if (!target) {
    location.replace("#/" + views[0][0]);
    return;
  }
  try {
    const c = await target[2](view, r);
    if (mine === routing) cleanup = c || null;
    else if (c) c();
  } catch (e) {
    if (mine !== routing) return;
    const box = errorBox();
    showError(box, e);
    view.append(box);
  }
  if (mine === routing) {
    document.title = (target[1] || "Rental") + " · gpurent";
    main.focus({ preventScroll: true });
  }
}

async function start() {
  try {
    const p = await fetch("/healthz");
    if (!p.ok) throw new Error();
  } catch (e) {
    main.append(h("p", { class: "error" }, "The gpurent server does not answer."));
    return;
  }
  window.addEventListener("hashchange", route);
  window.addEventListener("gpurent:unauthorized", () => {
    if (!session.key) return;
    signInNote = "Your key is no longer accepted (revoked or rotated): sign in with a current key.";
    signOut();
  });
  await route();
}

start();
