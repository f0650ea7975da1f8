// The admin dashboard: asks for an API key (kept in sessionStorage), then shows the cluster's
// nodes, rooms and online users from the REST API every 2 s, and offers its actions. API
// errors ({error: {code, message}}) are shown as they come.
"use strict";

const KEY_ITEM = "chatcluster.adminKey";
const REFRESH_MS = 2000;
const $ = (sel) => document.querySelector(sel);

let timer = null;

function apiKey() {
  return sessionStorage.getItem(KEY_ITEM);
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(`${message} (HTTP ${status}${code ? ", " + code : ""})`);
    this.status = status;
    this.code = code;
  }
}

// `path` is relative to the page ("api/v1/nodes"), so the dashboard works where adminnode
// serves it (/) and behind a proxy that publishes it under a prefix (/admin/).
async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${apiKey()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, "network", `adminnode is unreachable: ${err.message}`);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    const e = data && data.error;
    throw new ApiError(res.status, e && e.code, (e && e.message) || text || res.statusText);
  }
  return data;
}

function showError(where, err) {
  const el = $(where);
  el.textContent = err ? err.message : "";
  el.hidden = !err;
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function fill(tableSel, rows, columns, action) {
  const tbody = $(`${tableSel} tbody`);
  tbody.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell("none", "empty");
    td.colSpan = columns.length + (action ? 1 : 0);
    tr.append(td);
    tbody.append(tr);
    return;
  }
  for (const row of rows) {
    const tr = document.createElement("tr");
    for (const col of columns) tr.append(cell(typeof col === "function" ? col(row) : row[col]));
    if (action) {
      const td = document.createElement("td");
      const b = document.createElement("button");
      b.textContent = action.label;
      b.addEventListener("click", () => action.run(row));
      td.append(b);
      tr.append(td);
    }
    tbody.append(tr);
  }
}

function list(data, field) {
  if (Array.isArray(data)) return data;
  return (data && Array.isArray(data[field]) && data[field]) || [];
}

// ---- the nodes view ----

function bytes(n) {
  if (typeof n !== "number") return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

function duration(ms) {
  if (typeof ms !== "number" || ms < 0) return "";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function ago(ms) {
  if (typeof ms !== "number") return "";
  const d = Math.max(0, Date.now() - ms);
  return d < 1000 ? "just now" : `${duration(d)} ago`;
}

const rate = (x) => (typeof x === "number" ? x.toFixed(x < 10 ? 1 : 0) : "");
const sum = (o) => Object.values(o || {}).reduce((a, b) => a + (typeof b === "number" ? b : 0), 0);

function nodeAction(n) {
  const id = encodeURIComponent(n.id);
  const b = document.createElement("button");
  if (n.state === "down") {
    b.textContent = "Drain";
    b.disabled = true;
    b.title = "the node does not answer";
  } else if (n.draining) {
    b.textContent = "Undrain";
    b.title = "accept new sessions again";
    b.addEventListener("click", () => act(() => api("POST", `api/v1/nodes/${id}/undrain`), `${n.id} accepts sessions again`));
  } else {
    b.textContent = "Drain";
    b.title = "refuse new sessions and move the clients off";
    b.addEventListener("click", () => act(() => api("POST", `api/v1/nodes/${id}/drain`), `${n.id} is draining`));
  }
  return b;
}

function showNodes(nodes) {
  const counts = { up: 0, draining: 0, down: 0 };
  for (const n of nodes) counts[n.state] = (counts[n.state] || 0) + 1;
  $("#nodes-summary").textContent = nodes.length
    ? `${counts.up} up · ${counts.draining} draining · ${counts.down} down`
    : "";
  const tbody = $("#nodes tbody");
  tbody.replaceChildren();
  if (!nodes.length) {
    const tr = document.createElement("tr");
    const td = cell("no node has sent a heartbeat", "empty");
    td.colSpan = 12;
    tr.append(td);
    tbody.append(tr);
    return;
  }
  for (const n of nodes) {
    const tr = document.createElement("tr");
    tr.className = n.state || "";
    const c = n.connections || {};
    const clients = cell(sum(c), "num");
    clients.title = `WebSocket ${c.websocket ?? 0}, polling ${c.polling ?? 0}`;
    const sockets = cell(sum(n.sockets), "num");
    sockets.title = Object.entries(n.sockets || {}).map(([k, v]) => `${k}: ${v}`).join("\n");
    const state = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = `state ${n.state}`;
    badge.textContent = n.state;
    state.append(badge);
    const address = cell(n.address);
    if (n.tag) address.title = `session ids start with ${n.tag}.`;
    const id = cell(n.id, "id");
    if (n.pid) id.title = `pid ${n.pid}, version ${n.version || "?"}`;
    const seen = cell(ago(n.last_seen), "num");
    if (n.last_seen) seen.title = new Date(n.last_seen).toLocaleString();
    const action = document.createElement("td");
    action.append(nodeAction(n));
    tr.append(
      id, address, state, clients, sockets, cell(n.rooms, "num"),
      cell(`${rate(n.events_in_per_s)} · ${rate(n.events_out_per_s)}`, "num"),
      cell(`${bytes(n.bytes_in)} · ${bytes(n.bytes_out)}`, "num"),
      cell(bytes(n.rss), "num"),
      cell(n.state === "down" ? "" : duration(n.last_seen - n.started), "num"),
      seen, action,
    );
    tbody.append(tr);
  }
}

// ---- the webhooks view (admin keys only) ----

async function showWebhooks() {
  let hooks;
  try {
    hooks = list(await api("GET", "api/v1/webhooks"), "webhooks");
  } catch (err) {
    $("#webhooks-summary").textContent = err.status === 403 ? "(an admin key shows them)" : "(unavailable)";
    $("#webhooks tbody").replaceChildren();
    return;
  }
  const st = (w) => w.stats || {};
  $("#webhooks-summary").textContent = `${hooks.length} endpoint${hooks.length === 1 ? "" : "s"}, figures of this adminnode`;
  fill("#webhooks", hooks, ["id", "url", (w) => (w.events || []).join(", "), "source",
    (w) => st(w).delivered ?? 0, (w) => st(w).failed ?? 0, (w) => (st(w).retrying ? "yes" : "no"),
    (w) => `${st(w).oldest_pending_s ?? 0} s`, (w) => st(w).dead ?? 0, (w) => st(w).last_error ?? ""]);
}

async function refresh() {
  try {
    const h = await fetch("healthz").then((r) => r.json());
    const badge = $("#health");
    badge.textContent = `redis: ${h.redis}`;
    badge.className = "badge " + (h.redis === "connected" ? "ok" : h.redis === "none" ? "" : "bad");
  } catch {
    $("#health").textContent = "adminnode unreachable";
    $("#health").className = "badge bad";
  }
  const results = await Promise.allSettled([
    api("GET", "api/v1/nodes"),
    api("GET", "api/v1/rooms"),
    api("GET", "api/v1/users"),
  ]);
  const [nodes, rooms, users] = results;
  if (nodes.status === "fulfilled") showNodes(list(nodes.value, "nodes"));
  if (rooms.status === "fulfilled") {
    fill("#rooms", list(rooms.value, "rooms"), ["room", (r) => r.members ?? ""]);
  }
  if (users.status === "fulfilled") {
    fill("#users", list(users.value, "users"), ["id", (u) => u.sockets ?? ""], {
      label: "Disconnect",
      run: (u) => act(() => api("POST", `api/v1/users/${encodeURIComponent(u.id)}/disconnect`, {}), `${u.id} disconnected`),
    });
  }
  await showWebhooks();
  const failed = results.find((r) => r.status === "rejected");
  showError("#error", failed ? failed.reason : null);
  if (failed && failed.reason.status === 401) signOut("That key was refused.");
}

async function act(run, done) {
  $("#result").textContent = "…";
  try {
    await run();
    $("#result").textContent = done;
    refresh();
  } catch (err) {
    $("#result").textContent = `Failed: ${err.message}`;
  }
}

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

function signIn() {
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#signout").hidden = false;
  refresh();
  timer = setInterval(refresh, REFRESH_MS);
}

function signOut(why) {
  sessionStorage.removeItem(KEY_ITEM);
  clearInterval(timer);
  timer = null;
  $("#app").hidden = true;
  $("#signout").hidden = true;
  $("#login").hidden = false;
  $("#result").textContent = "";
  if (why) alert(why);
}

$("#login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY_ITEM, $("#key").value.trim());
  $("#key").value = "";
  signIn();
});
$("#signout").addEventListener("click", () => signOut());

$("#broadcast").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const v = formValues(ev.target);
  act(() => api("POST", "api/v1/emit", { event: v.event, args: [v.text] }), "broadcast sent");
});
$("#room-message").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const v = formValues(ev.target);
  act(() => api("POST", `api/v1/rooms/${encodeURIComponent(v.room)}/messages`, { text: v.text }), `message sent to ${v.room}`);
});
$("#kick").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const v = formValues(ev.target);
  act(() => api("POST", `api/v1/users/${encodeURIComponent(v.user)}/disconnect`, {}), `${v.user} disconnected`);
});
$("#drain").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const v = formValues(ev.target);
  const what = ev.submitter && ev.submitter.value === "undrain" ? "undrain" : "drain";
  act(() => api("POST", `api/v1/nodes/${encodeURIComponent(v.id)}/${what}`), what === "drain" ? `${v.id} is draining` : `${v.id} accepts sessions again`);
});

if (apiKey()) signIn();
else $("#login").hidden = false;
