// GET /metrics on chatnode: Prometheus' text format that promtool accepts without a lint
// finding, every family documented in docs/metrics.md, and values that move with what clients
// do (connections by transport, sockets and rooms per namespace, CONNECT results, events, bytes,
// refusals by reason, the event-handling histogram, the Redis bus and the cluster's
// broadcasts), read by a real Prometheus server scraping two nodes. Exercises chatnode/metrics.c
// and the counters it reads.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { startChatnode, startRedis, stopAll, eventually, httpRequest, wsHandshakeStatus, busUp, WAIT_MS } from "./lib/harness.mjs";
import { parseMetrics, sample, promtoolCheck, startPrometheus } from "./lib/prometheus.mjs";

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../docs/metrics.md");

let redis, n1, n2, prom;
const clients = [];

async function scrape(node) {
  const r = await httpRequest(`${node.url}/metrics`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return { text: r.body, m: parseMetrics(r.body) };
}

function connect(node, user, opts = {}) {
  const s = io(node.url, { forceNew: true, reconnection: false, auth: { user }, ...opts });
  clients.push(s);
  return new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}
/** Waits until node has no socket left (the clients a case closed are gone). */
const noSockets = (node) => eventually(async () => (sample((await scrape(node)).m, "chatnode_sockets", { namespace: "/" }) ?? 0) === 0,
  WAIT_MS, "the sockets to go");
const call = (s, ev, arg) => s.timeout(WAIT_MS).emitWithAck(ev, arg);

describe("GET /metrics", { timeout: 120_000 }, () => {
  before(async () => {
    redis = await startRedis();
    const flags = ["--app", "chat", "--allow-anonymous", "--redis", redis.url, "--ping-interval", "5000",
      "--ping-timeout", "5000"];
    [n1, n2] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
    await busUp(n1, n2);
  });
  after(async () => {
    for (const s of clients) s.close();
    await prom?.stop();
    await stopAll(n1, n2);
    await redis?.stop();
  });

  it("is Prometheus' text format with no lint finding, and every family is documented", async () => {
    const { text } = await scrape(n1);
    const lint = await promtoolCheck(text);
    assert.equal(lint.code, 0, lint.output);
    assert.equal(lint.output.trim(), "", "promtool's findings");
    const doc = readFileSync(DOC, "utf8");
    const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]);
    assert.ok(families.length >= 30, `${families.length} families`);
    for (const f of families) assert.ok(doc.includes("`" + f + "`"), `${f} is not in docs/metrics.md`);
    const { m } = await scrape(n1);
    assert.equal(sample(m, "chatnode_info", {}), 1);
    assert.equal(m.get("chatnode_info")[0].labels.app, "chat");
    assert.match(m.get("chatnode_info")[0].labels.node, /^[A-Za-z0-9_-]{6}$/);
    assert.equal(sample(m, "chatnode_redis_state", { connection: "command", state: "connected" }), 1);
    assert.equal(sample(m, "chatnode_redis_state", { connection: "subscriber", state: "connected" }), 1);
    assert.equal(sample(m, "chatnode_redis_state", { connection: "command", state: "disconnected" }), 0);
  });

  it("counts connections, sockets, rooms, CONNECTs, events and bytes as clients act", async () => {
    const before1 = (await scrape(n1)).m;
    const v = (m, name, labels) => sample(m, name, labels) ?? 0;
    const ws = await connect(n1, "metrics-ws", { transports: ["websocket"] });
    const poll = await connect(n1, "metrics-poll", { transports: ["polling"] });
    await call(ws, "join", { room: "metrics-room" });
    await call(poll, "join", { room: "metrics-room" });
    const got = new Promise((resolve) => poll.once("message", resolve));
    await call(ws, "message", { room: "metrics-room", text: "counted" });
    await got;

    const m = (await scrape(n1)).m;
    assert.equal(v(m, "chatnode_connections", { transport: "websocket" }), v(before1, "chatnode_connections", { transport: "websocket" }) + 1);
    assert.equal(v(m, "chatnode_connections", { transport: "polling" }), v(before1, "chatnode_connections", { transport: "polling" }) + 1);
    assert.equal(v(m, "chatnode_sockets", { namespace: "/" }), v(before1, "chatnode_sockets", { namespace: "/" }) + 2);
    // metrics-room, and the room of each user (the chat puts every socket in its user's)
    assert.equal(v(m, "chatnode_rooms", { namespace: "/" }), v(before1, "chatnode_rooms", { namespace: "/" }) + 3);
    assert.equal(v(m, "chatnode_sessions_opened_total"), v(before1, "chatnode_sessions_opened_total") + 2);
    assert.equal(v(m, "chatnode_connects_total", { result: "admitted" }), v(before1, "chatnode_connects_total", { result: "admitted" }) + 2);
    assert.equal(v(m, "chatnode_events_received_total"), v(before1, "chatnode_events_received_total") + 3);
    assert.equal(v(m, "chatnode_event_handling_seconds_count"), v(before1, "chatnode_event_handling_seconds_count") + 3);
    assert.equal(v(m, "chatnode_event_handling_seconds_bucket", { le: "+Inf" }), v(m, "chatnode_event_handling_seconds_count"));
    assert.ok(v(m, "chatnode_event_handling_seconds_sum") > v(before1, "chatnode_event_handling_seconds_sum"));
    // cumulative buckets never go down as le grows
    const buckets = m.get("chatnode_event_handling_seconds_bucket").map((s) => s.value);
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i] >= buckets[i - 1], buckets.join(","));
    assert.ok(v(m, "chatnode_packets_sent_total") > v(before1, "chatnode_packets_sent_total"));
    assert.ok(v(m, "chatnode_received_bytes_total") > v(before1, "chatnode_received_bytes_total"));
    assert.ok(v(m, "chatnode_sent_bytes_total") > v(before1, "chatnode_sent_bytes_total"));
    assert.ok(v(m, "chatnode_websocket_frames_sent_total") > v(before1, "chatnode_websocket_frames_sent_total"));
    assert.ok(v(m, "chatnode_redis_published_total") > v(before1, "chatnode_redis_published_total"));
    assert.ok(v(m, "process_resident_memory_bytes") > 1 << 20);
    assert.ok(v(m, "process_max_fds") >= 1024);

    ws.close();
    poll.close();
    await noSockets(n1);

    // a CONNECT to a namespace the chat does not serve
    const bad = io(`${n1.url}/nope`, { forceNew: true, reconnection: false, transports: ["websocket"] });
    clients.push(bad);
    await new Promise((resolve) => bad.once("connect_error", resolve));
    const after = (await scrape(n1)).m;
    assert.equal(v(after, "chatnode_connects_total", { result: "bad_namespace" }), v(m, "chatnode_connects_total", { result: "bad_namespace" }) + 1);
    assert.equal(v(after, "chatnode_connects_total", { result: "admitted" }), v(m, "chatnode_connects_total", { result: "admitted" }));
    assert.equal(v(after, "chatnode_sockets", { namespace: "/" }), 0);
    bad.close();
  });

  it("counts refusals by reason", async () => {
    const before1 = (await scrape(n1)).m;
    const refusals = (m, reason) => sample(m, "chatnode_refusals_total", { reason }) ?? 0;
    // an Engine.IO v3 handshake (not allowed here), twice
    for (let i = 0; i < 2; i++)
      assert.equal((await httpRequest(`${n1.url}/socket.io/?EIO=3&transport=polling`)).status, 400);
    // a POST without a session, a poll for a session that does not exist, an unknown transport
    assert.equal((await httpRequest(`${n1.url}/socket.io/?EIO=4&transport=polling`, { method: "POST", body: "4x" })).status, 400);
    assert.equal((await httpRequest(`${n1.url}/socket.io/?EIO=4&transport=polling&sid=nosuchsession`)).status, 400);
    assert.equal((await httpRequest(`${n1.url}/socket.io/?EIO=4&transport=carrier-pigeon`)).status, 400);
    // a WebSocket from a page of another site
    assert.equal(await wsHandshakeStatus(`${n1.wsUrl}/socket.io/?EIO=4&transport=websocket`, "http://elsewhere.example"), 403);
    const m = (await scrape(n1)).m;
    const moved = (reason) => refusals(m, reason) - refusals(before1, reason);
    assert.deepEqual(
      Object.fromEntries(["protocol_version", "bad_handshake_method", "unknown_sid", "transport_unknown", "origin", "draining",
        "sessions_per_ip", "handshake_rate", "bad_request", "payload_too_large"].map((r) => [r, moved(r)])),
      { protocol_version: 2, bad_handshake_method: 1, unknown_sid: 1, transport_unknown: 1, origin: 1, draining: 0,
        sessions_per_ip: 0, handshake_rate: 0, bad_request: 0, payload_too_large: 0 });
  });

  it("counts the cluster's broadcasts on both nodes", async () => {
    const v = (m, name, labels) => sample(m, name, labels) ?? 0;
    const [b1, b2] = [(await scrape(n1)).m, (await scrape(n2)).m];
    const a = await connect(n1, "metrics-a", { transports: ["websocket"] });
    const b = await connect(n2, "metrics-b", { transports: ["websocket"] });
    await call(a, "join", { room: "metrics-across" });
    await call(b, "join", { room: "metrics-across" });
    const got = new Promise((resolve) => b.once("message", resolve));
    await call(a, "message", { room: "metrics-across", text: "across" });
    await got;
    const [m1, m2] = [(await scrape(n1)).m, (await scrape(n2)).m];
    assert.ok(v(m1, "chatnode_cluster_broadcasts_total", { direction: "out" }) > v(b1, "chatnode_cluster_broadcasts_total", { direction: "out" }));
    assert.ok(v(m2, "chatnode_cluster_broadcasts_total", { direction: "in" }) > v(b2, "chatnode_cluster_broadcasts_total", { direction: "in" }));
    assert.ok(v(m2, "chatnode_redis_received_total") > v(b2, "chatnode_redis_received_total"));
    a.close();
    b.close();
    await noSockets(n1);
    await noSockets(n2);
  });

  it("is scraped by Prometheus from both nodes", async () => {
    prom = await startPrometheus([`127.0.0.1:${n1.port}`, `127.0.0.1:${n2.port}`]);
    await eventually(async () => {
      const up = await prom.query('up{job="chatnode"}');
      return up.length === 2 && up.every((s) => s.value === 1);
    }, 30_000, "both targets up");
    const held = await Promise.all([0, 1, 2].map((i) => connect(i === 1 ? n2 : n1, `metrics-p${i}`, { transports: ["websocket"] })));
    let last;
    await eventually(async () => {
      last = await prom.query("sum(chatnode_sockets)");
      return last.length === 1 && last[0].value === 3;
    }, 30_000, "Prometheus to see the three sockets");
    const perNode = await prom.query("sum by (instance) (chatnode_connections)");
    assert.deepEqual(perNode.map((s) => s.value).sort(), [1, 2]);
    const ids = await prom.query("chatnode_info");
    assert.equal(new Set(ids.map((s) => s.metric.node)).size, 2, "two node ids");
    for (const s of held) s.close();
  });

  it("shows the bus down while Redis is", async () => {
    await redis.stop();
    await eventually(async () => {
      const m = (await scrape(n1)).m;
      return sample(m, "chatnode_redis_state", { connection: "command", state: "connected" }) === 0;
    }, WAIT_MS, "the command connection to be seen down");
    redis = null;
  });
});
