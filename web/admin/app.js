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

async function refresh() {
  try {
    const h = await fetch("/healthz").then((r) => r.json());
    const badge = $("#health");
    badge.textContent = `redis: ${h.redis}`;
    badge.className = "badge " + (h.redis === "connected" ? "ok" : h.redis === "none" ? "" : "bad");
  } catch {
    $("#health").textContent = "adminnode unreachable";
    $("#health").className = "badge bad";
  }
  const results = await Promise.allSettled([
    api("GET", "/api/v1/nodes"),
    api("GET", "/api/v1/rooms"),
    api("GET", "/api/v1/users"),
  ]);
  const [nodes, rooms, users] = results;
  if (nodes.status === "fulfilled") {
    fill("#nodes", list(nodes.value, "nodes"), ["id", (n) => n.address || `${n.host || ""}:${n.port || ""}`, "clients", (n) => n.state || (n.draining ? "draining" : "up")], {
      label: "Drain",
      run: (n) => act(() => api("POST", `/api/v1/nodes/${encodeURIComponent(n.id)}/drain`), `drain of ${n.id} requested`),
    });
  }
  if (rooms.status === "fulfilled") {
    fill("#rooms", list(rooms.value, "rooms"), ["name", (r) => r.members ?? r.size ?? ""]);
  }
  if (users.status === "fulfilled") {
    fill("#users", list(users.value, "users"), ["id", (u) => u.sockets ?? ""], {
      label: "Disconnect",
      run: (u) => act(() => api("POST", `/api/v1/users/${encodeURIComponent(u.id)}/disconnect`), `${u.id} disconnected`),
    });
  }
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
  act(() => api("POST", "/api/v1/emit", { event: v.event, args: [v.text] }), "broadcast sent");
});
$("#room-message").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const v = formValues(ev.target);
  act(() => api("POST", `/api/v1/rooms/${encodeURIComponent(v.room)}/messages`, { text: v.text }), `message sent to ${v.room}`);
});
$("#kick").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const v = formValues(ev.target);
  act(() => api("POST", `/api/v1/users/${encodeURIComponent(v.user)}/disconnect`), `${v.user} disconnected`);
});
$("#drain").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const v = formValues(ev.target);
  act(() => api("POST", `/api/v1/nodes/${encodeURIComponent(v.id)}/drain`), `drain of ${v.id} requested`);
});

if (apiKey()) signIn();
else $("#login").hidden = false;
