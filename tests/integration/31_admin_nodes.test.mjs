// adminnode's node registry and nodes endpoints against two chatnodes and Redis: the nodes
// listed with their figures, one node, 404, scopes, a restarted adminnode that knows the
// cluster on its first request, drain and undrain through the API (a real socket.io-client
// is moved off with a transport close and comes back), a node that does not answer (504), a
// killed node going down and then forgotten, and the metrics gauges. Exercises
// adminnode/registry.c and api_nodes.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startChatnode, startAdminnode, startRedis, stopAll, eventually, httpRequest, waitFor, WAIT_MS } from "./lib/harness.mjs";

const ADMIN = "admin-key-0123456789abcdef";
const READ = "read-key-0123456789abcdef";
const KEYS_ENV = { ADMINNODE_API_KEYS: `${ADMIN}:admin,${READ}:read` };
const INTERVAL = 200;
const FORGET = 3000;
const ADMIN_FLAGS = ["--heartbeat-interval", String(INTERVAL), "--forget-after", String(FORGET), "--requests-timeout", "1500"];

let redis, n1, n2, admin;
let n2killed = false;
const opened = new Set();

async function api(method, path, { key = ADMIN } = {}) {
  const res = await httpRequest(`${admin.url}${path}`, { method, headers: key ? { authorization: `Bearer ${key}` } : {} });
  assert.match(res.headers.get("content-type") || "", /^application\/json/, `${method} ${path}: ${res.body}`);
  return { status: res.status, body: JSON.parse(res.body) };
}

async function nodes() {
  const res = await api("GET", "/api/v1/nodes", { key: READ });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.nodes;
}

const byTag = (list, node) => list.find((n) => n.tag === `n${node.port}`);

function assertError(res, status, code) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error.code, code);
  assert.equal(typeof res.body.error.message, "string");
}

describe("adminnode's node registry and nodes endpoints", { timeout: 120_000 }, () => {
  before(async () => {
    redis = await startRedis();
    const flags = ["--allow-anonymous", "--redis", redis.url, "--heartbeat-interval", String(INTERVAL),
      "--ping-interval", "5000", "--ping-timeout", "5000", "--drain-batch", "10", "--drain-interval", "50"];
    [n1, n2] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
    admin = await startAdminnode(["--redis", redis.url, ...ADMIN_FLAGS], KEYS_ENV);
  });
  after(async () => {
    for (const s of opened) s.close();
    await stopAll(n1, n2killed ? undefined : n2, admin);
    await redis?.stop();
  });

  it("lists both nodes up with their figures, sorted by id", async () => {
    const s = io(n1.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user: "counted" } });
    opened.add(s);
    await waitFor(s, "connect");
    await s.emitWithAck("join", { room: "registry-room" });
    const list = await eventually(async () => {
      const l = await nodes();
      // a heartbeat between the client's handshake and its CONNECT's answer counts the
      // connection and not yet the socket: wait for one that counts both
      return l.length === 2 && byTag(l, n1)?.connections?.websocket === 1 && byTag(l, n1)?.sockets?.["/"] === 1 && l;
    }, WAIT_MS, "both nodes, with n1's client counted");
    assert.deepEqual(list.map((n) => n.id), list.map((n) => n.id).slice().sort());
    const a = byTag(list, n1);
    const b = byTag(list, n2);
    for (const [n, node] of [[a, n1], [b, n2]]) {
      assert.match(n.id, /^[A-Za-z0-9_-]{6}$/);
      assert.equal(n.state, "up");
      assert.equal(n.draining, false);
      assert.equal(n.pid, node.pid);
      assert.equal(n.address, `127.0.0.1:${node.port}`);
      assert.match(n.version, /^\d+\.\d+\.\d+$/);
      assert.ok(Math.abs(n.last_seen - Date.now()) < 3000, `last_seen ${n.last_seen}`);
      assert.ok(n.started <= n.last_seen && Date.now() - n.started < 120_000);
      assert.ok(n.rss > 1 << 20);
      for (const k of ["rooms", "bytes_in", "bytes_out", "events_in_per_s", "events_out_per_s"]) {
        assert.equal(typeof n[k], "number", k);
      }
      assert.deepEqual(Object.keys(n.connections).sort(), ["polling", "websocket"]);
      assert.equal(n.bus, undefined);
    }
    assert.deepEqual(a.connections, { polling: 0, websocket: 1 });
    assert.deepEqual(a.sockets, { "/": 1 });
    assert.ok(a.rooms >= 2, "the socket's own room and registry-room");
    assert.ok(a.bytes_in > 0 && a.bytes_out > 0);
    assert.deepEqual(b.connections, { polling: 0, websocket: 0 });
    s.close();
    await eventually(async () => byTag(await nodes(), n1).connections.websocket === 0, WAIT_MS, "the client to leave the count");
  });

  it("answers one node, and 404 for an unknown id", async () => {
    const id = byTag(await nodes(), n2).id;
    const res = await api("GET", `/api/v1/nodes/${id}`, { key: READ });
    assert.equal(res.status, 200);
    assert.equal(res.body.id, id);
    assert.equal(res.body.tag, `n${n2.port}`);
    assert.equal(res.body.state, "up");
    assertError(await api("GET", "/api/v1/nodes/nosuch", { key: READ }), 404, "not_found");
    assertError(await api("GET", "/api/v1/nodes/a%20b", { key: READ }), 404, "not_found");
    assertError(await api("POST", "/api/v1/nodes/nosuch/drain"), 404, "not_found");
    assertError(await api("POST", "/api/v1/nodes/nosuch/undrain"), 404, "not_found");
  });

  it("needs a key: 401 without one, 403 for read on drain and undrain", async () => {
    const id = byTag(await nodes(), n1).id;
    for (const [method, p] of [["GET", "/api/v1/nodes"], ["GET", `/api/v1/nodes/${id}`], ["POST", `/api/v1/nodes/${id}/drain`], ["POST", `/api/v1/nodes/${id}/undrain`]]) {
      assertError(await api(method, p, { key: null }), 401, "unauthorized");
      assertError(await api(method, p, { key: "unknown-key-0123456789abcdef" }), 401, "unauthorized");
    }
    assertError(await api("POST", `/api/v1/nodes/${id}/drain`, { key: READ }), 403, "forbidden");
    assertError(await api("POST", `/api/v1/nodes/${id}/undrain`, { key: READ }), 403, "forbidden");
    assert.equal(byTag(await nodes(), n1).state, "up", "a refused drain did nothing");
  });

  it("shows the nodes by state in /metrics", async () => {
    const m = (await httpRequest(`${admin.url}/metrics`)).body;
    assert.match(m, /# TYPE adminnode_nodes gauge/);
    assert.match(m, /adminnode_nodes\{state="up"\} 2\n/);
    assert.match(m, /adminnode_nodes\{state="draining"\} 0\n/);
    assert.match(m, /adminnode_nodes\{state="down"\} 0\n/);
  });

  it("knows the cluster on the first request after a restart", async () => {
    await admin.stop();
    admin = await startAdminnode(["--redis", redis.url, ...ADMIN_FLAGS], KEYS_ENV);
    const list = await nodes(); // no wait: the answer waits for the registry's load
    assert.equal(list.length, 2);
    assert.ok(byTag(list, n1) && byTag(list, n2));
    assert.ok(list.every((n) => n.state === "up"), JSON.stringify(list.map((n) => n.state)));
    assert.ok(list.every((n) => Date.now() - n.last_seen < 3000));
  });

  it("drains a node through the API: its client is moved off with a transport close; undrain ends it", async () => {
    const id = byTag(await nodes(), n1).id;
    const c = io(n1.url, { forceNew: true, transports: ["websocket"], auth: { user: "drained" }, reconnectionDelay: 100, reconnectionDelayMax: 200 });
    opened.add(c);
    await waitFor(c, "connect");
    const gone = waitFor(c, "disconnect");
    let res = await api("POST", `/api/v1/nodes/${id}/drain`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { ok: true, node: id, draining: true });
    const [reason] = await gone;
    assert.equal(reason, "transport close", "a close that makes the client reconnect");
    // the node told the cluster before it replied
    res = await api("GET", `/api/v1/nodes/${id}`, { key: READ });
    assert.equal(res.body.state, "draining");
    assert.equal(res.body.draining, true);
    assert.equal(byTag(await nodes(), n1).state, "draining");
    assert.match((await httpRequest(`${admin.url}/metrics`)).body, /adminnode_nodes\{state="draining"\} 1\n/);
    // new sessions are refused meanwhile: the client keeps trying
    assert.equal((await httpRequest(`${n1.url}/socket.io/?EIO=4&transport=polling`)).status, 503);
    assert.equal(c.connected, false);
    // draining twice is fine
    res = await api("POST", `/api/v1/nodes/${id}/drain`);
    assert.deepEqual(res.body, { ok: true, node: id, draining: true });

    res = await api("POST", `/api/v1/nodes/${id}/undrain`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { ok: true, node: id, draining: false });
    await eventually(() => c.connected, WAIT_MS, "the client to reconnect once undrained");
    res = await api("GET", `/api/v1/nodes/${id}`, { key: READ });
    assert.equal(res.body.state, "up");
    assert.equal(res.body.draining, false);
    c.close();
  });

  it("answers 504 when the node does not reply in time", async () => {
    const id = byTag(await nodes(), n2).id;
    n2.pause();
    try {
      const t0 = Date.now();
      const res = await api("POST", `/api/v1/nodes/${id}/drain`);
      const took = Date.now() - t0;
      assertError(res, 504, "timeout");
      assert.match(res.body.error.message, new RegExp(id));
      assert.ok(took >= 1400 && took < 4000, `answered after ${took} ms`);
    } finally {
      n2.resume();
    }
    // it got the command after all once resumed; undo it
    await eventually(async () => (await api("GET", `/api/v1/nodes/${id}`, { key: READ })).body.state !== "down", WAIT_MS, "n2 back");
    const res = await api("POST", `/api/v1/nodes/${id}/undrain`);
    assert.deepEqual(res.body, { ok: true, node: id, draining: false });
  });

  it("answers 503 while Redis is down, and lists the nodes up again once it is back", async () => {
    const loads = () => (admin.stderr().match(/msg="node registry loaded"/g) || []).length;
    const loadsBefore = loads();
    await redis.kill();
    await eventually(async () => (await api("GET", "/api/v1/nodes", { key: READ })).status === 503, WAIT_MS, "503 without Redis");
    assertError(await api("GET", "/api/v1/nodes", { key: READ }), 503, "unavailable");
    assertError(await api("POST", "/api/v1/nodes/nosuch/drain"), 503, "unavailable");
    // no heartbeat comes through: seen from adminnode, the nodes are down
    await eventually(async () => /adminnode_nodes\{state="down"\} 2\n/.test((await httpRequest(`${admin.url}/metrics`)).body), WAIT_MS, "nodes down in /metrics");
    await redis.restart(); // a fresh, empty redis-server on the same port
    await eventually(async () => {
      const res = await api("GET", "/api/v1/nodes", { key: READ });
      if (res.status === 503) assert.equal(res.body.error.code, "unavailable");
      return res.status === 200 && res.body.nodes.length === 2 && res.body.nodes.every((n) => n.state === "up");
    }, 20_000, "both nodes up after Redis came back", 50);
    // the heartbeats may list the nodes up before the reload's reply has come
    await eventually(() => loads() > loadsBefore, WAIT_MS, "the registry loaded again after the reconnect");
  });

  it("marks a killed node down after 3 missed heartbeats, then forgets it", async () => {
    // How long each step takes under load is the unit test's business (test_registry drives
    // the same rules with a fake clock); here the order and the lower bounds are checked, which
    // hold however slowly this machine runs: never down before 3 intervals without a heartbeat,
    // never forgotten before FORGET more, and no heartbeat from a killed process.
    const id = (await eventually(async () => byTag(await nodes(), n2), WAIT_MS, "n2 listed by adminnode")).id;
    // last_seen is adminnode's loop clock turned into epoch time when it answers, so two
    // answers about the same heartbeat may differ by a few ms; heartbeats are INTERVAL apart
    const JITTER = INTERVAL / 4;
    const seen = async () => (await api("GET", `/api/v1/nodes/${id}`, { key: READ })).body;
    // the node heartbeats now: two fresh heartbeats in a row while it is up
    const first = await seen();
    let second;
    await eventually(async () => (second = await seen()).state === "up" && second.last_seen > first.last_seen + JITTER, WAIT_MS, "n2 heartbeating");
    let third;
    await eventually(async () => (third = await seen()).last_seen > second.last_seen + JITTER, WAIT_MS, "n2 heartbeating again");
    process.kill(n2.pid, "SIGKILL");
    n2killed = true;
    await n2.exited;
    let last;
    await eventually(async () => (last = await seen()).state === "down", WAIT_MS, "n2 down", 20);
    const down = Date.now();
    // the last heartbeat it had is the one the dead process sent last; down comes 3 intervals
    // after it at the earliest (100 ms of slack: adminnode turns its loop clock, cached per
    // loop turn, into epoch time when it answers)
    assert.ok(last.last_seen >= third.last_seen - JITTER);
    assert.ok(down - last.last_seen >= 3 * INTERVAL - 100, `down ${down - last.last_seen} ms after the last heartbeat`);
    const list = await nodes();
    assert.equal(byTag(list, n2).state, "down");
    assert.equal(byTag(list, n1).state, "up");
    assert.ok(Math.abs(byTag(list, n2).last_seen - last.last_seen) <= JITTER, "no heartbeat from a killed node");
    assert.match((await httpRequest(`${admin.url}/metrics`)).body, /adminnode_nodes\{state="down"\} 1\n/);
    // a down node still takes commands, and does not answer
    assertError(await api("POST", `/api/v1/nodes/${id}/drain`), 504, "timeout");

    await eventually(async () => (await api("GET", `/api/v1/nodes/${id}`, { key: READ })).status === 404, FORGET + WAIT_MS, "n2 forgotten", 50);
    const forgotten = Date.now();
    assert.ok(forgotten - last.last_seen >= 3 * INTERVAL + FORGET - 100, `forgotten ${forgotten - last.last_seen} ms after the last heartbeat`);
    const after = await nodes();
    assert.deepEqual(after.map((n) => n.tag), [`n${n1.port}`]);
    assert.match((await httpRequest(`${admin.url}/metrics`)).body, /adminnode_nodes\{state="down"\} 0\n/);
  });

  it("stops cleanly", async () => {
    await admin.stop();
    admin = undefined;
  });
});
