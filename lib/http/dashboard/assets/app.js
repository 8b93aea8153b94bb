// comqtt dashboard: one page, no framework. Every figure comes from the HTTP API's own
// routes and every action goes through them, with the session cookie and its CSRF header;
// the API decides what the user may do. Text from clients (ids, topics, payloads) only
// ever reaches the page as text nodes.
"use strict";

const state = { me: null, page: null, timer: null, history: [], last: null,
  clientsPage: 1, clientsQuery: "", retainedPage: 1 };
const PAGE_SIZE = 20;
const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "onclick") e.addEventListener("click", v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return e;
}

function toast(text, bad) {
  const t = $("toast");
  t.textContent = text;
  t.className = bad ? "bad" : "";
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

/** A request to this node's API; throws an Error with the API's message. */
async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (state.me && state.me.csrf) headers["X-Comqtt-Csrf"] = state.me.csrf;
  const r = await fetch(path, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body) });
  let data = null;
  try { data = await r.json(); } catch (_) { data = null; }
  if (!r.ok) {
    const e = new Error((data && data.error) || `${r.status} ${r.statusText}`);
    e.status = r.status;
    throw e;
  }
  return data;
}

// ---- login ----------------------------------------------------------------------------

function showLogin(message) {
  clearInterval(state.timer);
  // Nothing of the last user's view is kept for the next.
  Object.assign(state, { me: null, history: [], last: null, clientsPage: 1, clientsQuery: "", retainedPage: 1 });
  $("clients-query").value = "";
  $("client-detail").hidden = true;
  $("app").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message || "";
  $("login-user").focus();
}

function showApp(me) {
  state.me = me;
  document.body.classList.toggle("viewer", me.role !== "admin");
  $("who").textContent = `${me.username} (${me.role})`;
  $("node-name").textContent = me.node ? `node ${me.node}` : "";
  $("login-view").hidden = true;
  $("app").hidden = false;
  route();
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    const me = await api("POST", "/dashboard/login",
      { username: $("login-user").value, password: $("login-password").value });
    $("login-password").value = "";
    showApp(me);
  } catch (e) {
    $("login-error").textContent = e.message;
  }
});

$("logout").addEventListener("click", async () => {
  try { await api("POST", "/dashboard/logout"); } catch (_) { /* gone either way */ }
  location.hash = "";
  showLogin("Logged out.");
});

$("menu-toggle").addEventListener("click", () => $("nav").classList.toggle("open"));

// ---- pages ----------------------------------------------------------------------------

const pages = { overview, clients, subscriptions, retained, cluster, publish, blacklist, profile };

function route() {
  if (!state.me) return;
  let page = (location.hash || "#overview").slice(1);
  if (state.me.must_change) page = "profile";
  if (!pages[page]) page = "overview";
  state.page = page;
  clearInterval(state.timer);
  $("nav").classList.remove("open");
  for (const s of document.querySelectorAll(".page")) s.hidden = s.id !== `page-${page}`;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === page);
  $("must-change").hidden = !state.me.must_change;
  run(pages[page]);
}
window.addEventListener("hashchange", route);

/** Runs a page's loader; a lost session goes back to the login. */
async function run(loader) {
  try {
    await loader();
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      // Refused: if the session itself has ended, back to the login.
      try { await api("GET", "/dashboard/me"); } catch (_) { showLogin("Your session has ended; log in again."); return; }
    }
    toast(e.message, true);
  }
}

/** Refreshes the page every `ms` while it is shown. */
function every(ms, f) {
  const page = state.page;
  state.timer = setInterval(() => { if (state.page === page) run(f); }, ms);
}

function fill(tbody, rows, empty) {
  tbody.replaceChildren(...rows);
  if (!rows.length) tbody.append(el("tr", {}, el("td", { colspan: "9", class: "muted" }, empty)));
}

function fmtBytes(n) {
  const u = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

function fmtUptime(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
}

/** Draws `values` as a line in an SVG of viewBox 300×100. */
function chart(svg, values) {
  const max = Math.max(1, ...values);
  const step = 300 / Math.max(1, values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(98 - v / max * 94).toFixed(1)}`).join(" ");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points);
  svg.replaceChildren(line);
}

async function overview() {
  const tick = async () => {
    const s = await api("GET", "/api/v1/mqtt/stat/overall");
    const now = Date.now() / 1000;
    if (state.last) {
      const dt = Math.max(0.001, now - state.last.at);
      state.history.push({
        in: Math.max(0, (s.messages_received - state.last.s.messages_received) / dt),
        out: Math.max(0, (s.messages_sent - state.last.s.messages_sent) / dt),
        clients: s.clients_connected,
      });
      if (state.history.length > 60) state.history.shift();
    }
    state.last = { s, at: now };
    const cards = [
      ["Connected clients", s.clients_connected], ["Clients total", s.clients_total],
      ["Messages in", s.messages_received], ["Messages out", s.messages_sent],
      ["Dropped", s.messages_dropped], ["Subscriptions", s.subscriptions],
      ["Retained", s.retained], ["Inflight", s.inflight],
      ["Memory", fmtBytes(s.memory_alloc)], ["Uptime", fmtUptime(s.uptime)],
    ];
    $("cards").replaceChildren(...cards.map(([k, v]) =>
      el("div", { class: "card" }, el("div", { class: "muted" }, k), el("div", { class: "value" }, v))));
    const h = state.history;
    chart($("chart-in"), h.map((p) => p.in));
    chart($("chart-out"), h.map((p) => p.out));
    chart($("chart-clients"), h.map((p) => p.clients));
    const lastPoint = h[h.length - 1];
    $("chart-in-now").textContent = lastPoint ? `${lastPoint.in.toFixed(1)} now` : "";
    $("chart-out-now").textContent = lastPoint ? `${lastPoint.out.toFixed(1)} now` : "";
    $("chart-clients-now").textContent = `${s.clients_connected} now`;
    const nodes = await api("GET", "/api/v1/cluster/stat/overall");
    fill($("cluster-overall").tBodies[0], (nodes || []).map((n) => n.data
      ? el("tr", {}, el("td", {}, n.node), el("td", {}, n.data.clients_connected),
        el("td", {}, n.data.messages_received), el("td", {}, n.data.messages_sent),
        el("td", {}, n.data.subscriptions), el("td", {}, n.data.retained))
      : el("tr", {}, el("td", {}, n.node), el("td", { colspan: "5", class: "error" }, n.err || "no answer"))),
    "no node answered");
  };
  await tick();
  every(2000, tick);
}

async function clients() {
  const q = encodeURIComponent(state.clientsQuery);
  const r = await api("GET", `/api/v1/mqtt/clients?page=${state.clientsPage}&page_size=${PAGE_SIZE}&search=${q}`);
  const pagesTotal = Math.max(1, Math.ceil(r.total / PAGE_SIZE));
  $("clients-page").textContent = `page ${state.clientsPage} of ${pagesTotal} · ${r.total} clients`;
  $("clients-prev").disabled = state.clientsPage <= 1;
  $("clients-next").disabled = state.clientsPage >= pagesTotal;
  fill($("clients-table").tBodies[0], r.items.map((c) => {
    const row = el("tr", { class: "clickable", "data-client": c.id },
      el("td", { class: "wrap" }, c.id), el("td", {}, c.online ? "yes" : "no"), el("td", {}, c.ip),
      el("td", {}, c.username), el("td", {}, c.protocol_version), el("td", {}, c.queued),
      el("td", { class: "admin-only" }, actions(c)));
    row.addEventListener("click", (ev) => { if (ev.target.tagName !== "BUTTON") run(() => detail(c.id)); });
    return row;
  }), "no client");
}

function actions(c) {
  const box = el("span", { class: "row" });
  if (c.online) {
    box.append(el("button", { type: "button", class: "secondary", "data-kick": c.id,
      onclick: () => run(async () => {
        await api("POST", `/api/v1/mqtt/clients/${encodeURIComponent(c.id)}/disconnect`);
        toast(`${c.id} disconnected`);
        await clients();
      }) }, "Kick"));
  }
  box.append(el("button", { type: "button", class: "danger", "data-ban": c.id,
    onclick: () => run(async () => {
      if (!confirm(`Ban ${c.id}? It is disconnected and refused until unbanned.`)) return;
      await api("POST", `/api/v1/mqtt/blacklist/${encodeURIComponent(c.id)}`);
      toast(`${c.id} banned`);
      await clients();
    }) }, "Ban"));
  return box;
}

async function detail(id) {
  const c = await api("GET", `/api/v1/mqtt/clients/${encodeURIComponent(id)}`);
  const box = $("client-detail");
  const fields = [["Client id", c.id], ["Online", c.online ? "yes" : "no"], ["Address", c.ip],
    ["User", c.username], ["Protocol", c.protocol_version], ["Clean session", c.session_clean],
    ["Keep alive", c.keepalive], ["Connected at", new Date(c.connected_at * 1000).toLocaleString()],
    ["Filters", (c.topic_filters || []).join(", ")], ["Queued", c.queued], ["Inflight", c.inflight_count],
    ["Bytes in / out", `${c.bytes_received} / ${c.bytes_sent}`],
    ["Will", c.will_topic_name ? `${c.will_topic_name} (QoS ${c.will_qos})` : "none"]];
  const dl = el("dl");
  for (const [k, v] of fields) dl.append(el("dt", {}, k), el("dd", {}, v));
  box.replaceChildren(el("h3", {}, `Client ${c.id}`), dl,
    el("button", { type: "button", class: "secondary", onclick: () => { box.hidden = true; } }, "Close"));
  box.hidden = false;
}

$("clients-search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.clientsQuery = $("clients-query").value;
  state.clientsPage = 1;
  run(clients);
});
$("clients-prev").addEventListener("click", () => { state.clientsPage--; run(clients); });
$("clients-next").addEventListener("click", () => { state.clientsPage++; run(clients); });

async function subscriptions() {
  const subs = await api("GET", "/api/v1/mqtt/subscriptions");
  fill($("subscriptions-table").tBodies[0],
    subs.map((s) => el("tr", {}, el("td", { class: "wrap" }, s.filter), el("td", {}, s.count))),
    "no subscription");
}

/** A topic as the rest of a path: each level percent-encoded. */
function topicPath(topic) {
  return topic.split("/").map(encodeURIComponent).join("/").replace(/^\//, "%2F");
}

async function retained() {
  const r = await api("GET", `/api/v1/mqtt/retained?page=${state.retainedPage}&page_size=${PAGE_SIZE}`);
  const pagesTotal = Math.max(1, Math.ceil(r.total / PAGE_SIZE));
  $("retained-page").textContent = `page ${state.retainedPage} of ${pagesTotal} · ${r.total} messages`;
  $("retained-prev").disabled = state.retainedPage <= 1;
  $("retained-next").disabled = state.retainedPage >= pagesTotal;
  fill($("retained-table").tBodies[0], r.items.map((m) => el("tr", { "data-topic": m.topic },
    el("td", { class: "wrap" }, m.topic),
    el("td", { class: "wrap" }, m.encoding === "utf8" ? m.payload : `(base64) ${m.payload}`),
    el("td", {}, m.qos), el("td", {}, m.client_id),
    el("td", { class: "admin-only" }, el("button", { type: "button", class: "danger", "data-delete": m.topic,
      onclick: () => run(async () => {
        await api("DELETE", `/api/v1/mqtt/retained/${topicPath(m.topic)}`);
        toast(`retained message on ${m.topic} deleted`);
        await retained();
      }) }, "Delete")))), "no retained message");
}
$("retained-prev").addEventListener("click", () => { state.retainedPage--; run(retained); });
$("retained-next").addEventListener("click", () => { state.retainedPage++; run(retained); });

async function cluster() {
  await clusterTick();
  every(5000, clusterTick);
}

async function clusterTick() {
  const nodes = await api("GET", "/api/v1/cluster/nodes");
  fill($("nodes-table").tBodies[0], nodes.map((n) => el("tr", {},
    el("td", {}, n.self ? `${n.name} (this node)` : n.name), el("td", {}, n.status),
    el("td", {}, n.raft_role || "-"), el("td", {}, n.leader ? "yes" : ""),
    el("td", {}, n.mqtt || "-"), el("td", {}, n.http || "-"))), "no node");
  try {
    const raft = await api("GET", "/api/v1/cluster/raft");
    $("raft").textContent = [
      `state: ${raft.state}`, `leader: ${raft.leader}`, `term: ${raft.term}`,
      `log: last index ${raft.last_log_index}, applied ${raft.last_applied}`,
      `voters: ${(raft.voters || []).join(", ")}`, `routes: ${raft.routes} filters`,
    ].join("\n");
  } catch (e) {
    if (e.status !== 404) throw e;
    $("raft").textContent = "A single node: no raft.";
  }
}

async function publish() { /* the form does the work */ }

$("publish-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  run(async () => {
    const r = await api("POST", "/api/v1/mqtt/message", {
      topic_name: $("publish-topic").value, payload: $("publish-payload").value,
      qos: Number($("publish-qos").value), retain: $("publish-retain").checked,
    });
    toast(`published to ${r.topic_name}: ${r.subscribers} subscribers`);
  });
});

async function blacklist() {
  const ids = await api("GET", "/api/v1/mqtt/blacklist");
  fill($("blacklist-table").tBodies[0], ids.map((id) => el("tr", {},
    el("td", { class: "wrap" }, id),
    el("td", { class: "admin-only" }, el("button", { type: "button", class: "secondary", "data-unban": id,
      onclick: () => run(async () => {
        await api("DELETE", `/api/v1/mqtt/blacklist/${encodeURIComponent(id)}`);
        toast(`${id} unbanned`);
        await blacklist();
      }) }, "Unban")))), "nobody is banned");
}

$("ban-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  run(async () => {
    const id = $("ban-id").value;
    await api("POST", `/api/v1/mqtt/blacklist/${encodeURIComponent(id)}`);
    $("ban-id").value = "";
    toast(`${id} banned`);
    await blacklist();
  });
});

async function profile() { /* the form does the work */ }

$("password-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  run(async () => {
    const me = await api("POST", "/dashboard/profile/password",
      { current: $("password-current").value, new: $("password-new").value });
    $("password-current").value = "";
    $("password-new").value = "";
    toast("password changed");
    const mustHaveChanged = state.me.must_change;
    state.me = me;
    if (mustHaveChanged) location.hash = "#overview";
    route();
  });
});

// ---- start ------------------------------------------------------------------------------

(async () => {
  try {
    showApp(await api("GET", "/dashboard/me"));
  } catch (_) {
    showLogin();
  }
})();
