// The dashboard's activity charts and warning colours in Chromium (playwright-core) against
// adminnode, two chatnodes and Redis: the clients chart has one line per node and the events
// chart two (in, out), each with a legend naming the nodes by tag and id; a line's last point is
// its node's client count; a node drained from its row turns amber (row, line, legend, summary)
// with a "draining" marker, and a killed node red with "down" once its heartbeats stop.
// Screenshots go to tests/artifacts/. Exercises web/admin/app.js and style.css.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";
import { startChatnode, startAdminnode, startRedis, stopAll, busUp, eventually, httpRequest, waitFor, WAIT_MS } from "./lib/harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = path.resolve(here, "../artifacts");
const KEY = "dashboard-charts-admin-key-0123456789";
const INTERVAL = 200; // heartbeats: a killed node is down after 3 of them
// the states' colours in style.css
const AMBER = "rgb(180, 83, 9)";
const RED = "rgb(185, 28, 28)";

let redis, n1, n2, admin, browser, page;
let n1killed = false;
const clients = [];
const clientsOf = new Map(); // node -> its clients
let id1, id2, tag1, tag2;

async function apiNodes() {
  const res = await httpRequest(`${admin.url}/api/v1/nodes`, { headers: { authorization: `Bearer ${KEY}` } });
  assert.equal(res.status, 200, res.body);
  return JSON.parse(res.body).nodes;
}

async function connect(node, user, room = "lobby") {
  const c = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user } });
  clients.push(c);
  clientsOf.set(node, [...(clientsOf.get(node) || []), c]);
  await waitFor(c, "connect");
  await c.emitWithAck("join", { room });
  return c;
}

// What the page shows of one chart: per node, its series (group class, figures, line count and
// the first line's colour as drawn) and its legend entry.
function chart(which) {
  return page.evaluate((sel) => {
    const fig = document.querySelector(sel);
    const svg = fig.querySelector("svg[role=img]");
    return {
      title: svg?.querySelector("title")?.textContent ?? null,
      labelledBy: svg?.getAttribute("aria-labelledby") ?? null,
      lines: svg ? svg.querySelectorAll("g.series path.line").length : 0,
      series: [...(svg?.querySelectorAll("g.series") ?? [])].map((g) => ({
        node: g.dataset.node, tag: g.dataset.tag, cls: g.getAttribute("class"), lines: g.querySelectorAll("path.line").length,
        clients: g.dataset.clients, clientsPoints: Number(g.dataset.clientsPoints ?? 0), in: g.dataset.in, out: g.dataset.out,
        stroke: getComputedStyle(g.querySelector("path.line")).stroke,
        labels: [...g.querySelectorAll("text.value")].map((t) => t.textContent),
      })),
      legend: [...fig.querySelectorAll("ul.legend li")].map((li) => ({
        node: li.dataset.node, cls: li.className, text: li.textContent,
        tag: li.querySelector(".tag")?.textContent, id: li.querySelector(".id")?.textContent,
        marker: li.querySelector(".marker")?.textContent ?? null,
      })),
    };
  }, which);
}

function nodeRow(id) {
  return page.evaluate((nodeId) => {
    const tr = [...document.querySelectorAll("#nodes tbody tr")].find((r) => r.dataset.node === nodeId);
    if (!tr) return null;
    const badge = tr.querySelector(".state");
    return {
      cls: tr.className, tag: tr.querySelector("td.node .tag")?.textContent, id: tr.querySelector("td.node .id")?.textContent,
      state: badge?.textContent, badgeColour: badge && getComputedStyle(badge).backgroundColor,
    };
  }, id);
}

const summary = () => page.evaluate(() => [...document.querySelectorAll("#nodes-summary .count")].map((s) => ({
  cls: s.className, text: s.textContent, colour: getComputedStyle(s).color,
})));

const byNode = (list, id) => list.find((x) => x.node === id);

// polls the page until `check` stops throwing; the timeout names the last failed assertion
const until = (check, what) => eventually(async () => (await check()) ?? true, WAIT_MS, what, 100);

describe("the dashboard's activity charts and warning colours", { timeout: 120_000 }, () => {
  before(async () => {
    redis = await startRedis();
    const flags = ["--allow-anonymous", "--redis", redis.url, "--heartbeat-interval", String(INTERVAL),
      "--ping-interval", "5000", "--ping-timeout", "5000", "--drain-batch", "10", "--drain-interval", "50"];
    [n1, n2] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
    admin = await startAdminnode(["--redis", redis.url, "--heartbeat-interval", String(INTERVAL), "--requests-timeout", "1500"],
      { ADMINNODE_API_KEYS: `${KEY}:admin` });
    await busUp(n1, n2);
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    mkdirSync(artifacts, { recursive: true });
  });
  after(async () => {
    clients.forEach((c) => c.close());
    await browser?.close();
    await stopAll(n1killed ? undefined : n1, n2, admin);
    await redis?.stop();
  });

  it("draws each node's clients and event rates, with a legend naming them by tag and id", async () => {
    for (const user of ["ann", "ben", "cat", "dov"]) await connect(n1, user);
    const listener = await connect(n2, "eli");
    const nodes = await eventually(async () => {
      const l = await apiNodes();
      const count = (port) => l.find((x) => x.tag === `n${port}`)?.connections;
      return l.length === 2 && count(n1.port)?.websocket === 4 && count(n2.port)?.websocket === 1 && l;
    }, WAIT_MS, "both nodes listed with their clients");
    ({ id: id1, tag: tag1 } = nodes.find((x) => x.tag === `n${n1.port}`));
    ({ id: id2, tag: tag2 } = nodes.find((x) => x.tag === `n${n2.port}`));

    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(admin.url + "/");
    await page.fill("#key", KEY);
    await page.press("#key", "Enter");

    // one line per node, its last point the node's client count as the API gives it
    await until(async () => {
      const c = await chart("#chart-clients");
      assert.equal(c.series.length, 2, "a series per node");
      assert.equal(c.lines, 2, "a line per node");
      assert.equal(byNode(c.series, id1).clients, "4");
      assert.equal(byNode(c.series, id2).clients, "1");
      assert.deepEqual(byNode(c.series, id1).labels, ["4"]);
    }, "the clients chart with 4 and 1");
    for (const n of await apiNodes()) {
      const c = await chart("#chart-clients");
      assert.equal(Number(byNode(c.series, n.id).clients), n.connections.polling + n.connections.websocket);
    }

    // a client more on n2: its line goes up to 2
    await connect(n2, "fin");
    await until(async () => assert.equal(byNode((await chart("#chart-clients")).series, id2).clients, "2"), "n2's line at 2");

    // messages from n1 to the room: n1 counts them in, n2 (a member there) out
    let sent = 0;
    const sender = clients[0];
    const talk = setInterval(() => sender.emit("message", { room: "lobby", text: `chart ${++sent}` }), 40);
    let heard = 0;
    listener.on("message", () => heard++);
    try {
      await until(async () => {
        const e = await chart("#chart-events");
        assert.equal(e.series.length, 2, "a series per node");
        assert.equal(e.lines, 4, "an in and an out line per node");
        assert.ok(Number(byNode(e.series, id1).in) > 0, `n1's events in: ${byNode(e.series, id1).in}`);
        assert.ok(Number(byNode(e.series, id2).out) > 0, `n2's events out: ${byNode(e.series, id2).out}`);
      }, "event rates above 0 in the events chart");
      // a few polls drawn, for a line rather than a dot
      await until(async () => {
        const c = await chart("#chart-clients");
        assert.ok(c.series.every((s) => s.clientsPoints >= 5), JSON.stringify(c.series.map((s) => s.clientsPoints)));
      }, "5 polls charted");
    } finally {
      clearInterval(talk);
    }
    assert.ok(heard > 0, "n2's member heard n1's messages");

    for (const which of ["#chart-clients", "#chart-events"]) {
      const c = await chart(which);
      // the legend names every node by tag and id, in the series' colours
      assert.deepEqual(c.legend.map((l) => [l.tag, l.id]).sort(), [[tag1, id1], [tag2, id2]].sort());
      for (const l of c.legend) {
        assert.equal(l.marker, null, "no warning while up");
        assert.match(l.cls, /\bup\b/);
      }
      assert.notEqual(byNode(c.series, id1).stroke, byNode(c.series, id2).stroke, "two nodes, two colours");
      for (const s of c.series) assert.ok(![AMBER, RED].includes(s.stroke), `an up node's line in ${s.stroke}`);
      // a chart names itself to assistive technology
      assert.match(c.title, which === "#chart-clients" ? /^Connected clients per node/ : /^Events per second per node/);
      const [titleId, descId] = c.labelledBy.split(" ");
      assert.equal(await page.textContent(`#${titleId}`), c.title);
      const desc = await page.textContent(`#${descId}`);
      assert.ok(desc.includes(tag1) && desc.includes(tag2), desc);
    }
    // the table names nodes by tag beside id too, and the summary counts them by state
    assert.deepEqual(await nodeRow(id1), { cls: "up", tag: tag1, id: id1, state: "up", badgeColour: "rgb(31, 122, 63)" });
    const counts = await summary();
    assert.deepEqual(counts.map((c) => c.text), ["2 up", "0 draining", "0 down"]);
    await page.screenshot({ path: path.join(artifacts, "38_dashboard-charts.png"), fullPage: true });
  });

  it("shows a node drained from its row in amber, with a draining marker", async () => {
    const moved = clientsOf.get(n2).map((c) => waitFor(c, "disconnect"));
    await page.locator(`#nodes tbody tr[data-node="${id2}"] button`, { hasText: "Drain" }).click();
    await page.waitForFunction((t) => document.querySelector("#result")?.textContent === t, `${id2} is draining`, { timeout: WAIT_MS });
    for (const [reason] of await Promise.all(moved)) assert.equal(reason, "transport close");

    await until(async () => {
      const row = await nodeRow(id2);
      assert.equal(row.cls, "draining");
      assert.equal(row.state, "\u26a0 draining");
      assert.equal(row.badgeColour, AMBER);
      for (const which of ["#chart-clients", "#chart-events"]) {
        const c = await chart(which);
        const s = byNode(c.series, id2);
        assert.match(s.cls, /\bdraining\b/);
        assert.equal(s.stroke, AMBER);
        const l = byNode(c.legend, id2);
        assert.match(l.cls, /\bdraining\b/);
        assert.equal(l.marker, "\u26a0 draining");
        assert.ok(l.text.includes(tag2) && l.text.includes(id2), l.text);
        // the other node keeps its own colour
        assert.notEqual(byNode(c.series, id1).stroke, AMBER);
        assert.equal(byNode(c.legend, id1).marker, null);
      }
      // its clients moved off: the line is down to 0
      assert.equal(byNode((await chart("#chart-clients")).series, id2).clients, "0");
      const counts = await summary();
      assert.deepEqual(counts.map((c) => c.text), ["1 up", "1 draining", "0 down"]);
      assert.equal(counts[1].colour, AMBER);
      assert.match(counts[1].cls, /\bdraining\b/);
    }, "n2 drawn as draining");
    // the drain form offers the nodes, named by tag
    const options = await page.$$eval("#node-ids option", (os) => os.map((o) => [o.value, o.label]));
    assert.deepEqual(options.sort(), [[id1, `${tag1} · up`], [id2, `${tag2} · draining`]].sort());
    await page.screenshot({ path: path.join(artifacts, "38_dashboard-draining.png"), fullPage: true });
  });

  it("shows a killed node down in red once its heartbeats stop, its line ending there", async () => {
    process.kill(n1.pid, "SIGKILL");
    n1killed = true;
    await n1.exited;
    await until(async () => {
      const row = await nodeRow(id1);
      assert.equal(row.cls, "down");
      assert.equal(row.state, "\u2715 down");
      assert.equal(row.badgeColour, RED);
      for (const which of ["#chart-clients", "#chart-events"]) {
        const c = await chart(which);
        const s = byNode(c.series, id1);
        assert.match(s.cls, /\bdown\b/);
        assert.equal(s.stroke, RED);
        // no current value: the line ends where the node went down, and says so once
        assert.deepEqual(s.labels, ["\u2715 down"]);
        const l = byNode(c.legend, id1);
        assert.match(l.cls, /\bdown\b/);
        assert.equal(l.marker, "\u2715 down");
        assert.ok(l.text.includes(tag1) && l.text.includes(id1), l.text);
      }
      assert.equal(byNode((await chart("#chart-clients")).series, id1).clients, "");
      const counts = await summary();
      assert.deepEqual(counts.map((c) => c.text), ["0 up", "1 draining", "1 down"]);
      assert.equal(counts[2].colour, RED);
    }, "n1 drawn as down");
    // the line it drew while up is still there
    assert.ok((await chart("#chart-clients")).series.find((s) => s.node === id1).clientsPoints >= 5);
    // a down node cannot be drained from its row
    assert.equal(await page.locator(`#nodes tbody tr[data-node="${id1}"] button`).isDisabled(), true);
    await page.screenshot({ path: path.join(artifacts, "38_dashboard-node-down.png"), fullPage: true });
    await page.close();
  });
});
