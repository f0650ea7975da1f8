// The admin dashboard: asks for an API key (kept in sessionStorage), then shows the cluster's
// nodes, rooms and online users from the REST API every 2 s, charts each node's clients and
// event rates over the last minutes of those polls, and offers its actions. API errors
// ({error: {code, message}}) are shown as they come. Everything from the API reaches the page
// as text (textContent, attributes), never as markup: node ids and tags come from Redis.
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

// A table's rows after a refresh: one per item, in order, made by build(item) and keyed by
// key(item). A row already shown for the key stays the same element, and so does each of its
// cells that looks the same: a button being clicked while the table refreshes is still there
// when the mouse is released (a click is a press and a release on one element), and it still
// acts on the same row. empty (a cell) is the one row shown when there are no items.
function syncRows(tbody, items, key, build, empty) {
  if (!items.length) {
    const tr = document.createElement("tr");
    tr.append(empty);
    tbody.replaceChildren(tr);
    return;
  }
  const shown = new Map();
  for (const tr of tbody.rows) if (tr.dataset.key !== undefined) shown.set(tr.dataset.key, tr);
  const rows = items.map((item) => {
    const fresh = build(item);
    fresh.dataset.key = String(key(item));
    const tr = shown.get(fresh.dataset.key);
    if (!tr || tr.cells.length !== fresh.cells.length) return fresh;
    tr.className = fresh.className;
    [...fresh.cells].forEach((td, i) => {
      if (tr.cells[i].outerHTML !== td.outerHTML) tr.cells[i].replaceWith(td);
    });
    return tr;
  });
  rows.forEach((tr, i) => {
    if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] || null);
  });
  while (tbody.rows.length > rows.length) tbody.lastElementChild.remove();
}

function fill(tableSel, rows, columns, action) {
  const empty = cell("none", "empty");
  empty.colSpan = columns.length + (action ? 1 : 0);
  const value = (row, col) => (typeof col === "function" ? col(row) : row[col]);
  syncRows($(`${tableSel} tbody`), rows, (row) => value(row, columns[0]), (row) => {
    const tr = document.createElement("tr");
    for (const col of columns) tr.append(cell(value(row, col)));
    if (action) {
      const td = document.createElement("td");
      const b = document.createElement("button");
      b.textContent = action.label;
      b.addEventListener("click", () => action.run(row));
      td.append(b);
      tr.append(td);
    }
    return tr;
  }, empty);
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

// A node named anywhere on the page: its tag (what people call it) beside its id.
function nodeName(n) {
  const frag = document.createDocumentFragment();
  if (n.tag) {
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = n.tag;
    frag.append(tag, " ");
  }
  const id = document.createElement("span");
  id.className = "id";
  id.textContent = n.id;
  frag.append(id);
  return frag;
}

// The state as words, with a sign for the two that need attention, so it never rests on colour.
const STATE_TEXT = { up: "up", draining: "\u26a0 draining", down: "\u2715 down" };
const stateText = (state) => STATE_TEXT[state] || String(state ?? "");

function showSummary(nodes) {
  const el = $("#nodes-summary");
  el.replaceChildren();
  if (!nodes.length) return;
  const counts = { up: 0, draining: 0, down: 0 };
  for (const n of nodes) counts[n.state] = (counts[n.state] || 0) + 1;
  Object.entries(counts).forEach(([state, count], i) => {
    const span = document.createElement("span");
    span.className = `count ${state}${count ? "" : " zero"}`;
    span.textContent = `${count} ${state}`;
    if (i) el.append(" · ");
    el.append(span);
  });
}

// The drain form's suggestions: every node's id, labelled with its tag and state.
function showNodeChoices(nodes) {
  $("#node-ids").replaceChildren(...nodes.map((n) => {
    const o = document.createElement("option");
    o.value = n.id;
    o.label = `${n.tag || "?"} · ${n.state}`;
    return o;
  }));
}

function showNodes(nodes) {
  showSummary(nodes);
  showNodeChoices(nodes);
  const empty = cell("no node has sent a heartbeat", "empty");
  empty.colSpan = 12;
  syncRows($("#nodes tbody"), nodes, (n) => n.id, nodeRow, empty);
}

function nodeRow(n) {
  const tr = document.createElement("tr");
  tr.className = n.state || "";
  tr.dataset.node = n.id;
  const c = n.connections || {};
  const clients = cell(sum(c), "num");
  clients.title = `WebSocket ${c.websocket ?? 0}, polling ${c.polling ?? 0}`;
  const sockets = cell(sum(n.sockets), "num");
  sockets.title = Object.entries(n.sockets || {}).map(([k, v]) => `${k}: ${v}`).join("\n");
  const state = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = `state ${n.state}`;
  badge.textContent = stateText(n.state);
  state.append(badge);
  const address = cell(n.address);
  if (n.tag) address.title = `session ids start with ${n.tag}.`;
  const name = document.createElement("td");
  name.className = "node";
  name.append(nodeName(n));
  if (n.pid) name.title = `pid ${n.pid}, version ${n.version || "?"}`;
  const seen = cell(ago(n.last_seen), "num");
  if (n.last_seen) seen.title = new Date(n.last_seen).toLocaleString();
  const action = document.createElement("td");
  action.append(nodeAction(n));
  tr.append(
    name, address, state, clients, sockets, cell(n.rooms, "num"),
    cell(`${rate(n.events_in_per_s)} · ${rate(n.events_out_per_s)}`, "num"),
    cell(`${bytes(n.bytes_in)} · ${bytes(n.bytes_out)}`, "num"),
    cell(bytes(n.rss), "num"),
    cell(n.state === "down" ? "" : duration(n.last_seen - n.started), "num"),
    seen, action,
  );
  return tr;
}

// ---- the activity charts ----
// Each poll of the nodes is a sample kept in this page for WINDOW_MS; the charts are drawn
// again from them after every poll, as inline SVG. A down node's samples are gaps (its last
// heartbeat's figures are old news), so its line stops where it went down.

const WINDOW_MS = 10 * 60 * 1000;
const GAP_MS = 5 * REFRESH_MS; // no sample for this long (a hidden tab, adminnode away): the line breaks
const MIN_SPAN_MS = 60 * 1000; // the time axis shows at least this much, however young the page
const SVG_NS = "http://www.w3.org/2000/svg";
// node colours; amber and red are kept for draining and down
const PALETTE = ["#2563eb", "#0d9488", "#7c3aed", "#0369a1", "#4d7c0f", "#c026d3", "#475569", "#1e3a8a"];
const STATE_COLOUR = { draining: "#b45309", down: "#b91c1c" };

const samplesOf = new Map(); // node id -> [{t, clients, in, out}], oldest first; null figures: down
const colours = new Map(); // node id -> palette colour, kept while the node is listed
let charted = []; // the nodes of the last poll, for a redraw on resize

function record(nodes, t) {
  const listed = new Set(nodes.map((n) => n.id));
  for (const id of [...samplesOf.keys()]) if (!listed.has(id)) samplesOf.delete(id);
  for (const id of [...colours.keys()]) if (!listed.has(id)) colours.delete(id);
  for (const n of nodes) {
    if (!colours.has(n.id)) {
      const used = new Set(colours.values());
      colours.set(n.id, PALETTE.find((c) => !used.has(c)) || PALETTE[colours.size % PALETTE.length]);
    }
    const up = n.state !== "down";
    const num = (x) => (up && typeof x === "number" && Number.isFinite(x) ? x : null);
    const samples = samplesOf.get(n.id) || [];
    samples.push({ t, clients: up ? sum(n.connections) : null, in: num(n.events_in_per_s), out: num(n.events_out_per_s) });
    while (samples.length && samples[0].t < t - WINDOW_MS) samples.shift();
    samplesOf.set(n.id, samples);
  }
  charted = nodes;
}

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text != null) el.textContent = String(text);
  return el;
}

// 1, 2 or 5 times a power of ten, at least `raw`
function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function yTicks(max, minTop, integer) {
  const top0 = Math.max(max, minTop);
  let step = niceStep(top0 / 4);
  if (integer) step = Math.max(1, step);
  const n = Math.ceil(top0 / step - 1e-9);
  return Array.from({ length: n + 1 }, (_, i) => i * step);
}

// seconds between the time axis's ticks: at most 6 of them, whole minutes once the span passes
// 2 min, so that no label reads "-1.5 min"
const xStep = (span) => [10, 15, 30, 60, 120, 300].find((s) => span / s <= 6 && (s >= 60 || span <= 120)) || 300;

function xTicks(start, now) {
  const step = xStep((now - start) / 1000);
  const ticks = [];
  for (let k = 0; now - k * step * 1000 >= start - 1; k++) ticks.push(k * step);
  return ticks;
}

const agoLabel = (s) => (s === 0 ? "now" : s < 60 ? `\u2212${s} s` : `\u2212${s / 60} min`);

function spanText(ms) {
  const min = Math.round(ms / 60000);
  return min >= 1 ? `last ${min} min` : `last ${Math.max(1, Math.round(ms / 1000))} s`;
}

function tickText(v, step) {
  return step < 1 ? v.toFixed(1) : String(Math.round(v));
}

// Draws one chart into `figure`: `lines` are {node, key, dash, label}: the node, the sample's
// field it plots, dashed or not, and how its current value reads at the line's end; `integer`
// says whether the axis counts (clients) or measures (rates), `minTop` is its least top.
function drawChart(figure, { name, lines, integer, minTop, describe }) {
  const now = Date.now();
  const width = Math.max(320, Math.round(figure.clientWidth || 480));
  const height = 210;
  const m = { left: 38, right: 64, top: 12, bottom: 24 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;

  let oldest = now;
  let max = 0;
  for (const l of lines) {
    const samples = samplesOf.get(l.node.id) || [];
    if (samples.length) oldest = Math.min(oldest, samples[0].t);
    for (const s of samples) if (s[l.key] != null) max = Math.max(max, s[l.key]);
  }
  // the time axis begins on a tick: the oldest sample's, rounded out
  const from = Math.max(now - WINDOW_MS, Math.min(oldest, now - MIN_SPAN_MS));
  const tickS = xStep((now - from) / 1000);
  const start = Math.max(now - WINDOW_MS, now - Math.ceil((now - from) / 1000 / tickS) * tickS * 1000);
  const ys = yTicks(max, minTop, integer);
  const top = ys[ys.length - 1];
  const step = ys[1] - ys[0];
  const x = (t) => m.left + ((t - start) / (now - start)) * plotW;
  const y = (v) => m.top + plotH - (v / top) * plotH;

  const id = figure.id;
  const svg = svgEl("svg", {
    viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-labelledby": `${id}-title ${id}-desc`,
  });
  svg.append(
    svgEl("title", { id: `${id}-title` }, `${name}, ${spanText(now - start)}`),
    svgEl("desc", { id: `${id}-desc` }, describe()),
  );

  const axes = svgEl("g", { class: "axes", "aria-hidden": "true" });
  for (const v of ys) {
    axes.append(
      svgEl("line", { class: v ? "gridline" : "base", x1: m.left, x2: m.left + plotW, y1: y(v), y2: y(v) }),
      svgEl("text", { class: "tick", x: m.left - 6, y: y(v), "text-anchor": "end", "dominant-baseline": "middle" }, tickText(v, step)),
    );
  }
  for (const s of xTicks(start, now)) {
    const tx = x(now - s * 1000);
    axes.append(
      svgEl("line", { class: "base", x1: tx, x2: tx, y1: m.top + plotH, y2: m.top + plotH + 4 }),
      svgEl("text", { class: "tick", x: tx, y: height - 6, "text-anchor": s === 0 ? "end" : "middle" }, agoLabel(s)),
    );
  }
  svg.append(axes);

  if (!lines.length) {
    svg.append(svgEl("text", { class: "empty", x: m.left + plotW / 2, y: m.top + plotH / 2, "text-anchor": "middle" }, "no node yet"));
  }

  const labels = [];
  const byNode = new Map();
  const downLabelled = new Set();
  for (const l of lines) {
    const n = l.node;
    const colour = STATE_COLOUR[n.state] || colours.get(n.id);
    let g = byNode.get(n.id);
    if (!g) {
      g = svgEl("g", { class: `series ${n.state}`, "data-node": n.id, "data-tag": n.tag ?? "", "data-state": n.state });
      byNode.set(n.id, g);
      svg.append(g);
    }
    const samples = samplesOf.get(n.id) || [];
    let d = "";
    let prev = null;
    let points = 0;
    for (const s of samples) {
      const v = s[l.key];
      if (v == null || s.t < start) {
        prev = null;
        continue;
      }
      d += `${prev && s.t - prev.t <= GAP_MS ? "L" : "M"}${x(s.t).toFixed(1)} ${y(v).toFixed(1)}`;
      prev = s;
      points++;
    }
    const path = svgEl("path", { class: `line ${l.key}`, d, stroke: colour, fill: "none" });
    if (l.dash) path.setAttribute("stroke-dasharray", "5 3");
    g.append(path);
    const last = samples[samples.length - 1];
    const current = last ? last[l.key] : null;
    g.setAttribute(`data-${l.key}`, current == null ? "" : String(current));
    g.setAttribute(`data-${l.key}-points`, String(points));
    if (current != null) {
      g.append(svgEl("circle", { cx: x(last.t), cy: y(current), r: 3, fill: colour }));
    }
    // where the line ends: its value, or (once per node) the sign that the node went down
    const lastSeen = [...samples].reverse().find((s) => s[l.key] != null && s.t >= start);
    if (current != null) {
      labels.push({ g, colour, want: y(current), text: l.label(current) });
    } else if (n.state === "down" && lastSeen && !downLabelled.has(n.id)) {
      downLabelled.add(n.id);
      labels.push({ g, colour, want: y(lastSeen[l.key]), text: "\u2715 down", down: true });
    }
  }
  // the end labels, in the right margin, pushed apart so none covers another
  labels.sort((a, b) => a.want - b.want);
  const GAP = 13;
  labels.forEach((l, i) => (l.at = Math.max(l.want, i ? labels[i - 1].at + GAP : m.top)));
  for (let i = labels.length - 1, limit = m.top + plotH; i >= 0; i--, limit -= GAP) labels[i].at = Math.min(labels[i].at, limit);
  for (const l of labels) {
    l.g.append(svgEl("text", {
      class: `value${l.down ? " down" : ""}`, x: m.left + plotW + 8, y: l.at, fill: l.colour, "dominant-baseline": "middle",
    }, l.text));
  }
  figure.querySelector(":scope > svg")?.remove();
  figure.querySelector("figcaption").after(svg);
  return svg;
}

// The legend under a chart: a line sample, tag and id, the state when it is not up, and the
// current figures.
function drawLegend(figure, nodes, swatch, figures) {
  let ul = figure.querySelector("ul.legend");
  if (!ul) {
    ul = document.createElement("ul");
    ul.className = "legend";
    figure.append(ul);
  }
  ul.replaceChildren(...nodes.map((n) => {
    const li = document.createElement("li");
    li.className = n.state;
    li.dataset.node = n.id;
    const colour = STATE_COLOUR[n.state] || colours.get(n.id);
    const sw = svgEl("svg", { class: "swatch", viewBox: "0 0 28 10", width: 28, height: 10, "aria-hidden": "true" });
    for (const [i, dash] of swatch.entries()) {
      const line = svgEl("line", { x1: 1, x2: 27, y1: swatch.length > 1 ? 2 + i * 6 : 5, y2: swatch.length > 1 ? 2 + i * 6 : 5, stroke: colour });
      if (dash) line.setAttribute("stroke-dasharray", "5 3");
      sw.append(line);
    }
    li.append(sw, nodeName(n));
    if (n.state !== "up") {
      const marker = document.createElement("span");
      marker.className = `marker ${n.state}`;
      marker.textContent = stateText(n.state);
      li.append(" ", marker);
    }
    const v = document.createElement("span");
    v.className = "figures";
    v.textContent = n.state === "down" ? "no heartbeat" : figures(n);
    li.append(v);
    return li;
  }));
}

const clientsText = (k) => `${k} client${k === 1 ? "" : "s"}`;
const rateText = (x) => (typeof x === "number" ? rate(x) : "?");
const describeNodes = (nodes, figures) =>
  nodes.length
    ? nodes.map((n) => `${n.tag || "?"} (${n.id}): ${n.state === "down" ? "down" : figures(n)}${n.state === "draining" ? ", draining" : ""}`).join("; ")
    : "no node has sent a heartbeat";

function showCharts(nodes) {
  const clientsFig = $("#chart-clients");
  const eventsFig = $("#chart-events");
  const clientsOf = (n) => clientsText(sum(n.connections));
  const ratesOf = (n) => `in ${rateText(n.events_in_per_s)}/s · out ${rateText(n.events_out_per_s)}/s`;
  drawChart(clientsFig, {
    name: "Connected clients per node",
    lines: nodes.map((node) => ({ node, key: "clients", label: String })),
    integer: true,
    minTop: 4,
    describe: () => describeNodes(nodes, clientsOf),
  });
  drawLegend(clientsFig, nodes, [false], clientsOf);
  drawChart(eventsFig, {
    name: "Events per second per node, in (solid) and out (dashed)",
    lines: nodes.flatMap((node) => [
      { node, key: "in", label: rate },
      { node, key: "out", dash: true, label: rate },
    ]),
    integer: false,
    minTop: 1,
    describe: () => describeNodes(nodes, ratesOf),
  });
  drawLegend(eventsFig, nodes, [false, true], ratesOf);
  let oldest = Date.now();
  for (const samples of samplesOf.values()) if (samples.length) oldest = Math.min(oldest, samples[0].t);
  $("#activity-summary").textContent = `${spanText(Math.max(Date.now() - oldest, REFRESH_MS))} of this page's polls (up to ${WINDOW_MS / 60000} min), every ${REFRESH_MS / 1000} s`;
}

let redrawQueued = false;
window.addEventListener("resize", () => {
  if (redrawQueued || !charted.length) return;
  redrawQueued = true;
  requestAnimationFrame(() => {
    redrawQueued = false;
    showCharts(charted);
  });
});

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
  if (nodes.status === "fulfilled") {
    const listed = list(nodes.value, "nodes");
    showNodes(listed);
    record(listed, Date.now());
    showCharts(listed);
  }
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
  samplesOf.clear();
  colours.clear();
  charted = [];
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
