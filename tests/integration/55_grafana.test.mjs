// deploy/grafana/chatcluster.json, the Grafana dashboard over chatnode's and adminnode's
// metrics: its structure (unique ids, a grid without overlaps, the datasource variable every
// panel and target uses, the node variable), every metric its queries name documented in
// docs/metrics.md, and every query run by a real Prometheus server scraping two chatnodes and
// an adminnode (with a webhook endpoint) while clients chat: each answers, each has series
// unless listed below with a reason, the core figures are the ones the clients made, and
// choosing one node in $node narrows the queries to it.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { startChatnode, startAdminnode, startRedis, stopAll, eventually, busUp, WAIT_MS } from "./lib/harness.mjs";
import { startPrometheus } from "./lib/prometheus.mjs";

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const DASHBOARD = path.join(TOP, "deploy/grafana/chatcluster.json");
const read = (p) => readFileSync(path.join(TOP, p), "utf8");

/** Targets ("<panel title> <refId>") whose query may have no series here, and why. */
const ALLOWED_EMPTY = {
  "Connections against the open-files limit B": "process_max_fds is absent when the open-files limit is unlimited",
};
/** Grafana's own variables, with the values the queries are run with. */
const BUILTINS = { __rate_interval: "1m", __interval: "15s", __range: "5m", __range_s: "300", __range_ms: "300000" };
const METRIC_PREFIX = /^(chatnode_|process_|adminnode_|chatcluster_|up$)/;

const dash = JSON.parse(readFileSync(DASHBOARD, "utf8"));
const vars = dash.templating?.list ?? [];
const dsVar = vars.find((v) => v.type === "datasource");
const nodeVar = vars.find((v) => v.name === "node");
const rows = dash.panels.filter((p) => p.type === "row");
const panels = dash.panels.filter((p) => p.type !== "row");
const targets = panels.flatMap((p) => p.targets.map((t) => ({ panel: p, t, key: `${p.title} ${t.refId}` })));

/** expr with each string literal's content blanked (same length), so positions still match. */
const blankStrings = (expr) => expr.replace(/"(?:[^"\\]|\\.)*"/g, (s) => `"${"_".repeat(s.length - 2)}"`);

/** The selectors of expr that name one of our metrics: [{name, matchers (text inside {}), or ""}]. */
function selectors(expr) {
  const blank = blankStrings(expr);
  const out = [];
  for (const m of blank.matchAll(/(?<![A-Za-z0-9_:$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\{[^}]*\})?/g)) {
    if (!METRIC_PREFIX.test(m[1])) continue;
    // "by (instance)", "on (x)": a label list, not a metric
    if (/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*$/.test(blank.slice(0, m.index))) continue;
    const at = m.index + m[1].length;
    out.push({ name: m[1], matchers: m[2] ? expr.slice(at, at + m[2].length).trim().slice(1, -1) : "" });
  }
  return out;
}

/** expr with the template variables replaced as Grafana would for a Prometheus query. */
function substitute(expr, node) {
  const vals = { ...BUILTINS, node };
  const out = expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (all, a, b) => {
    const v = vals[a ?? b];
    if (v === undefined) throw new Error(`unknown variable ${all} in ${expr}`);
    return v;
  });
  return out;
}

/** The documented metric names: name -> type ("" when the doc gives none). */
function documented() {
  const doc = read("docs/metrics.md");
  const names = new Map();
  for (const m of doc.matchAll(/`([a-zA-Z_:][a-zA-Z0-9_:]*)`/g)) names.set(m[1], "");
  // tables: | `a`, `b` | type | ...
  for (const line of doc.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 4 || !cells[1].startsWith("`")) continue;
    for (const m of cells[1].matchAll(/`([a-zA-Z_:][a-zA-Z0-9_:]*)`/g)) names.set(m[1], cells[2]);
  }
  // `chatcluster_webhook_*`: the README's webhooks section, which the doc points to, names them
  const wildcards = [...doc.matchAll(/`([a-zA-Z_:][a-zA-Z0-9_:]*)\*`/g)].map((m) => m[1]);
  const readme = read("README.md").replace(/^```[^]*?^```$/gm, "");
  const start = readme.indexOf("\n### Webhooks\n");
  const end = readme.slice(start + 1).search(/\n#{1,3} /);
  const section = readme.slice(start, end < 0 ? undefined : start + 1 + end);
  for (const w of wildcards) {
    for (const m of section.matchAll(/`([a-zA-Z_:][a-zA-Z0-9_:]*)`/g)) if (m[1].startsWith(w)) names.set(m[1], "");
    for (const m of section.matchAll(/summary `([a-zA-Z_:][a-zA-Z0-9_:]*)`/g)) if (m[1].startsWith(w)) names.set(m[1], "summary");
  }
  return names;
}

describe("the Grafana dashboard's JSON", () => {
  it("is a Grafana 9/10 dashboard with its uid, rows and panels in order", () => {
    assert.equal(dash.uid, "chatcluster");
    assert.equal(typeof dash.title, "string");
    assert.ok(dash.schemaVersion >= 37, `schemaVersion ${dash.schemaVersion}`);
    assert.equal(dash.panels[0].type, "row", "the first panel is a row");
    assert.deepEqual(rows.map((r) => r.title),
      ["Overview", "Connections", "Traffic", "Latency", "Memory", "Redis bus", "Recovery", "adminnode"]);
    const known = new Set(["stat", "timeseries", "heatmap", "state-timeline", "bargauge"]);
    for (const p of panels) assert.ok(known.has(p.type), `${p.title}: panel type ${p.type}`);
    // the JSON lists panels as they are laid out, top to bottom, left to right
    const order = dash.panels.map((p) => p.gridPos.y * 100 + p.gridPos.x);
    assert.deepEqual(order, [...order].sort((a, b) => a - b), "panels sorted by their position");
    assert.equal(readFileSync(DASHBOARD, "utf8"), JSON.stringify(dash, null, 2) + "\n", "2-space indent, a final newline");
  });

  it("has unique ids and a grid of 24 columns with no two panels overlapping", () => {
    const ids = dash.panels.map((p) => p.id);
    assert.ok(ids.every((id) => Number.isInteger(id) && id > 0), "integer ids");
    assert.equal(new Set(ids).size, ids.length, `duplicate ids in ${ids}`);
    for (const p of dash.panels) {
      const { x, y, w, h } = p.gridPos;
      assert.ok([x, y, w, h].every(Number.isInteger), `${p.title}: gridPos ${JSON.stringify(p.gridPos)}`);
      assert.ok(x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= 24, `${p.title}: gridPos ${JSON.stringify(p.gridPos)}`);
    }
    for (const r of rows) assert.deepEqual([r.gridPos.x, r.gridPos.w, r.gridPos.h], [0, 24, 1], `row ${r.title}`);
    for (let i = 0; i < dash.panels.length; i++) {
      for (let j = i + 1; j < dash.panels.length; j++) {
        const a = dash.panels[i].gridPos, b = dash.panels[j].gridPos;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        assert.ok(!overlap, `${dash.panels[i].title} and ${dash.panels[j].title} overlap`);
      }
    }
  });

  it("loads its datasource through a datasource variable of type prometheus that every panel and target uses", () => {
    assert.ok(dsVar, "a template variable of type datasource");
    assert.equal(dsVar.type, "datasource");
    assert.equal(dsVar.query, "prometheus");
    assert.equal(dsVar.multi, false);
    assert.equal(dsVar.includeAll, false);
    const ref = { type: "prometheus", uid: "${" + dsVar.name + "}" };
    assert.equal(dash.__inputs, undefined, "no import inputs: the variable chooses the datasource");
    for (const p of panels) {
      assert.deepEqual(p.datasource, ref, `${p.title}: datasource`);
      assert.ok(Array.isArray(p.targets) && p.targets.length > 0, `${p.title}: targets`);
      for (const t of p.targets) assert.deepEqual(t.datasource, ref, `${p.title} ${t.refId}: datasource`);
    }
    assert.deepEqual(nodeVar.datasource, ref, "the node variable's datasource");
  });

  it("has a node variable over the chatnodes' instances, multi-valued with All", () => {
    assert.ok(nodeVar, "a template variable named node");
    assert.equal(nodeVar.type, "query");
    assert.equal(nodeVar.multi, true);
    assert.equal(nodeVar.includeAll, true);
    assert.equal(nodeVar.allValue, ".*");
    assert.match(nodeVar.definition, /^label_values\(chatnode_info\{job="chatnode"\}, instance\)$/);
    const q = typeof nodeVar.query === "string" ? nodeVar.query : nodeVar.query.query;
    assert.equal(q, nodeVar.definition);
    assert.equal(new Set(vars.map((v) => v.name)).size, vars.length, "unique variable names");
  });

  it("gives every panel a description and every target a refId and an expr", () => {
    for (const p of panels) {
      assert.ok(typeof p.description === "string" && p.description.length > 20, `${p.title}: description`);
      assert.equal(new Set(p.targets.map((t) => t.refId)).size, p.targets.length, `${p.title}: refIds`);
      for (const t of p.targets) {
        assert.match(t.refId ?? "", /^[A-Z]$/, `${p.title}: refId`);
        assert.ok(typeof t.expr === "string" && t.expr.trim(), `${p.title} ${t.refId}: expr`);
        assert.equal(typeof substitute(t.expr, ".*"), "string"); // no variable that does not exist
      }
    }
    assert.equal(new Set(panels.map((p) => p.title)).size, panels.length, "unique panel titles");
  });

  it("names only metrics documented in docs/metrics.md, each selected by its job (and chatnode's by $node)", () => {
    const doc = documented();
    const used = new Set();
    for (const { key, t } of targets) {
      const sels = selectors(t.expr);
      assert.ok(sels.length > 0, `${key}: no metric in ${t.expr}`);
      for (const { name, matchers } of sels) {
        used.add(name);
        const base = name.replace(/_(bucket|sum|count)$/, "");
        const suffix = name.slice(base.length + 1);
        const ok = name === "up" || (doc.has(name) && !/^(histogram|summary)$/.test(doc.get(name))) ||
          (suffix && doc.get(base) === "histogram") || (/^(sum|count)$/.test(suffix) && doc.get(base) === "summary");
        assert.ok(ok, `${key}: ${name} is not a family of docs/metrics.md`);
        if (/^(chatnode_|process_|up$)/.test(name)) {
          assert.match(matchers, /(^|,\s*)job="chatnode"/, `${key}: ${name} without job="chatnode"`);
          assert.match(matchers, /(^|,\s*)instance=~"\$node"/, `${key}: ${name} without instance=~"$node"`);
        } else {
          assert.match(matchers, /(^|,\s*)job="adminnode"/, `${key}: ${name} without job="adminnode"`);
        }
      }
    }
    assert.ok(used.size >= 50, `${used.size} metrics used`);
  });

  it("lists as allowed-empty only targets that exist", () => {
    for (const k of Object.keys(ALLOWED_EMPTY)) assert.ok(targets.some((x) => x.key === k), `${k} is not a target`);
  });
});

describe("the Grafana dashboard's queries against a real Prometheus", { timeout: 180_000 }, () => {
  let redis, n1, n2, admin, prom, hooks, tmp;
  const clients = [];
  let delivered = 0;
  const inst = (n) => `127.0.0.1:${n.port}`;

  function connect(node, user, transports = ["websocket"]) {
    const s = io(node.url, { forceNew: true, reconnection: false, auth: { user }, transports });
    clients.push(s);
    return new Promise((resolve, reject) => {
      s.once("connect", () => resolve(s));
      s.once("connect_error", reject);
    });
  }
  const call = (s, ev, arg) => s.timeout(WAIT_MS).emitWithAck(ev, arg);
  /** The instant query's whole answer (status, data or error). */
  const run = (q) => prom.api(`query?query=${encodeURIComponent(q)}`);

  before(async () => {
    redis = await startRedis();
    hooks = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        delivered++;
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
      });
    });
    await new Promise((resolve) => hooks.listen(0, "127.0.0.1", resolve));
    tmp = mkdtempSync(path.join(os.tmpdir(), "cc-grafana-"));
    const file = path.join(tmp, "webhooks.json");
    writeFileSync(file, JSON.stringify([{ id: "grafana", url: `http://127.0.0.1:${hooks.address().port}/hook`,
      events: ["message"], secret: "grafana-secret" }]));
    const flags = ["--app", "chat", "--allow-anonymous", "--redis", redis.url];
    [n1, n2, admin] = await Promise.all([startChatnode(flags), startChatnode(flags),
      startAdminnode(["--redis", redis.url, "--webhooks-file", file, "--webhooks-poll-ms", "50"],
        { ADMINNODE_API_KEYS: "grafana-admin-key-0123456789:admin" })]);
    await busUp(n1, n2);
    prom = await startPrometheus({ chatnode: [inst(n1), inst(n2)], adminnode: [inst(admin)] });
    await eventually(async () => {
      const up = (await run("up")).data.result;
      return up.length === 3 && up.every((s) => s.value[1] === "1");
    }, 30_000, "the three targets up");
    await eventually(async () => (await run('adminnode_nodes{state="up"}')).data.result[0]?.value[1] === "2",
      30_000, "adminnode's registry to hold both chatnodes");

    // three clients on n1 (one polling), one on n2, chatting across the nodes
    const [a, b, c, d] = await Promise.all([connect(n1, "grafana-a"), connect(n1, "grafana-b"),
      connect(n1, "grafana-c", ["polling"]), connect(n2, "grafana-d")]);
    for (const s of [a, b, c, d]) await call(s, "join", { room: "grafana" });
    // until adminnode delivers a message to the endpoint (its group starts at the stream's end)
    await eventually(async () => {
      await call(a, "message", { room: "grafana", text: "hello" });
      await call(d, "message", { room: "grafana", text: "hi" });
      return delivered > 0;
    }, WAIT_MS, "a webhook delivery", 200);
    await eventually(async () => {
      const q = async (e) => Number((await run(e)).data.result[0]?.value[1] ?? 0);
      // a series that appears at a scrape (adminnode's requests by route) has a rate two scrapes later
      return await q("count(count_over_time(up[1m]) >= 4)") === 3 &&
        await q("sum(chatnode_sockets)") === 4 &&
        await q("sum(increase(chatnode_events_received_total[1m]))") > 0 &&
        await q("count(increase(chatnode_cluster_broadcasts_total{direction=\"in\"}[1m]) > 0)") === 2 &&
        await q("sum(increase(chatcluster_webhook_delivered_total[1m]))") > 0;
    }, 30_000, "Prometheus to see the sockets, the events, the broadcasts and the delivery");
  });

  after(async () => {
    for (const s of clients) s.close();
    await prom?.stop();
    await stopAll(n1, n2, admin);
    await redis?.stop();
    hooks?.closeAllConnections?.();
    await new Promise((resolve) => (hooks ? hooks.close(resolve) : resolve()));
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("resolves the node variable to the two chatnodes", async () => {
    const m = /^label_values\((.*), (\w+)\)$/.exec(nodeVar.definition);
    const doc = await prom.api(`label/${m[2]}/values?match[]=${encodeURIComponent(m[1])}`);
    assert.equal(doc.status, "success", JSON.stringify(doc));
    assert.deepEqual(doc.data.sort(), [inst(n1), inst(n2)].sort());
  });

  /** Every target run with $node = node: {key -> result vector}; fails on any error. */
  async function runAll(node) {
    const out = new Map();
    for (const { key, t } of targets) {
      const q = substitute(t.expr, node);
      const doc = await run(q);
      assert.equal(doc.status, "success", `${key}: ${q}\n${JSON.stringify(doc)}`);
      assert.equal(doc.data.resultType, "vector", `${key}: ${q}`);
      out.set(key, doc.data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) })));
    }
    return out;
  }
  const one = (res, key) => {
    assert.equal(res.get(key)?.length, 1, `${key}: ${JSON.stringify(res.get(key))}`);
    return res.get(key)[0].value;
  };

  it("answers every query with All nodes, each with series unless allowed empty, the core ones with the clients' figures", async (t) => {
    const res = await runAll(nodeVar.allValue);
    const empty = [...res].filter(([, r]) => r.length === 0).map(([k]) => k);
    t.diagnostic(`${targets.length} queries, empty: ${empty.length ? empty.join("; ") : "none"}`);
    for (const k of empty) assert.ok(k in ALLOWED_EMPTY, `${k}: no series (${targets.find((x) => x.key === k).t.expr})`);

    assert.equal(one(res, "Nodes up A"), 2, "Nodes up: both chatnodes");
    assert.equal(one(res, "Connections A"), 4, "Connections: the four clients");
    assert.equal(one(res, "Sockets A"), 4, "Sockets: the four clients");
    assert.ok(one(res, "Events in A") > 0, "events/s");
    assert.ok(one(res, "Packets out A") > 0, "packets/s");
    assert.equal(one(res, "Draining nodes A"), 0, "Draining nodes: none");
    const registry = Object.fromEntries(res.get("Registry (adminnode) A").map((s) => [s.metric.state, s.value]));
    assert.deepEqual(registry, { up: 2, draining: 0, down: 0 }, "Registry (adminnode): both chatnodes up");
    const byInstance = (key) => Object.fromEntries(res.get(key).map((s) => [s.metric.instance, s.value]));
    const conns = res.get("Connections by transport A").map((s) => `${s.metric.instance} ${s.metric.transport} ${s.value}`).sort();
    assert.deepEqual(conns, [`${inst(n1)} polling 1`, `${inst(n1)} websocket 2`, `${inst(n2)} polling 0`, `${inst(n2)} websocket 1`].sort(),
      "Connections by transport: the clients' transports");
    const rss = byInstance("Resident memory A");
    assert.deepEqual(Object.keys(rss).sort(), [inst(n1), inst(n2)].sort(), "Resident memory: each node");
    for (const v of Object.values(rss)) assert.ok(v > 1 << 20, `RSS ${v}`);
    const perConn = byInstance("Resident memory per connection A");
    assert.equal(perConn[inst(n1)], rss[inst(n1)] / 3, "Resident memory per connection: over the three of n1");
    const bus = res.get("Redis connections A").map((s) => `${s.metric.instance} ${s.metric.connection} ${s.value}`).sort();
    assert.deepEqual(bus, [inst(n1), inst(n2)].flatMap((i) => [`${i} command 1`, `${i} subscriber 1`]).sort(),
      "Redis connections: both of each node connected");
    for (const v of Object.values(byInstance("Events received A"))) assert.ok(v > 0, "events/s on each node");
    const p = res.get("Event handling time B");
    assert.ok(p[0].value > 0 && p[0].value <= 1, `p99 ${p[0].value}`);
    assert.ok(res.get("Webhook deliveries A").some((s) => s.metric.endpoint === "grafana" && s.value > 0), "webhook deliveries/s");
    assert.ok(res.get("HTTP requests by route A").some((s) => s.metric.route === "/metrics" && s.value > 0), "adminnode's /metrics counted");
  });

  it("narrows every $node query to the node chosen", async () => {
    const res = await runAll(inst(n1));
    assert.equal(one(res, "Nodes up A"), 1, "Nodes up: n1 alone");
    assert.equal(one(res, "Connections A"), 3, "Connections: the three clients of n1");
    assert.equal(one(res, "Sockets A"), 3, "Sockets: the three clients of n1");
    for (const { key, t } of targets) {
      if (!t.expr.includes("$node")) continue;
      for (const s of res.get(key)) {
        if (s.metric.instance !== undefined) assert.equal(s.metric.instance, inst(n1), `${key}: ${JSON.stringify(s.metric)}`);
      }
    }
    assert.deepEqual(res.get("Resident memory A").map((s) => s.metric.instance), [inst(n1)], "Resident memory: n1 alone");
  });
});
