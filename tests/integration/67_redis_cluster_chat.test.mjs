// The whole product on a six-node Redis Cluster with a password: two chatnodes with the chat
// app and adminnode, all on a redis+cluster:// URL with their defaults (the sharded bus
// format). Rooms, private messages, history with retries under one client id, presence and
// acks across the two nodes; every adminnode endpoint, each checked by its effect on the
// clients, the nodes or the stored messages; the chat's keys spread over the primaries by
// their slots, and no command anywhere refused as CROSSSLOT. Whether something did not arrive
// is checked once a later event on the same path has arrived. Exercises the cluster bus
// (proto/runtime/bus_cluster.c), chatnode/cluster.c and chat_storage_redis.c, and adminnode's
// requester, registry and emits.
import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createClient } from "redis";
import { io } from "socket.io-client";
import { startChatnode, startAdminnode, stopAll, eventually, httpRequest, waitFor, WAIT_MS } from "./lib/harness.mjs";
import { startRedisCluster } from "./lib/redis_topology.mjs";
import { withoutOffset } from "./lib/clients.mjs";
import { signToken } from "./lib/jwt.mjs";

const PASSWORD = "cluster-pass-0123";
const SECRET = "secret-of-the-cluster-chat";
const ADMIN = "admin-key-0123456789abcdef";
const READ = "read-key-0123456789abcdef";
const K = "socket.io"; // the chat's key prefix, --redis-key's default

// every route of adminnode; the last test checks that the OpenAPI document has no other
const ENDPOINTS = [
  "GET /healthz", "GET /metrics", "GET /api/v1/openapi.json", "POST /api/v1/emit",
  "GET /api/v1/nodes", "GET /api/v1/nodes/{id}", "POST /api/v1/nodes/{id}/drain", "POST /api/v1/nodes/{id}/undrain",
  "GET /api/v1/sockets", "DELETE /api/v1/sockets/{sid}", "GET /api/v1/rooms", "GET /api/v1/rooms/{room}/members",
  "POST /api/v1/rooms/{room}/join", "POST /api/v1/rooms/{room}/leave", "GET /api/v1/rooms/{room}/history",
  "POST /api/v1/rooms/{room}/messages", "GET /api/v1/users", "POST /api/v1/users/{user}/emit",
  "POST /api/v1/users/{user}/disconnect",
  "GET /api/v1/webhooks", "POST /api/v1/webhooks", "DELETE /api/v1/webhooks/{id}", "POST /api/v1/webhooks/{id}/test",
  "GET /api/v1/webhooks/dead", "POST /api/v1/webhooks/dead/{entry}/replay",
];

const token = (claims) => signToken(claims, SECRET);

let cluster, dir, n1, n2, admin;
const opened = new Set();
const nodeClients = new Map(); // port -> node-redis client of that one server

/** A node-redis client of the one server on port (no cluster routing: it sees its own keys). */
async function nodeClient(port) {
  if (!nodeClients.has(port)) {
    const c = createClient({ url: `redis://127.0.0.1:${port}`, password: PASSWORD });
    c.on("error", () => {});
    nodeClients.set(port, c.connect().then(() => c));
  }
  return nodeClients.get(port);
}

/** The ports of the cluster's primaries (those serving slots), sorted, from CLUSTER NODES. */
async function primaryPorts() {
  const text = await cluster.cli(cluster.ports[0], "CLUSTER", "NODES");
  return text.split("\n").map((l) => l.split(" ")).filter((f) => /master/.test(f[2]) && f.length > 8)
    .map((f) => Number(/:(\d+)@/.exec(f[1])[1])).sort((a, b) => a - b);
}

/** A command on the primary that owns key's slot, sent to that server alone. */
async function onOwner(key, ...args) {
  const port = await cluster.primaryOfSlot(await cluster.keySlot(key));
  return (await nodeClient(port)).sendCommand(args.map(String));
}

/** A chat key part escaped as the chat escapes it. */
const esc = (s) => s.replace(/%/g, "%25").replace(/:/g, "%3A").replace(/\{/g, "%7B").replace(/\}/g, "%7D");
const roomKey = (room) => `${K}:chat:{room:${esc(room)}}`;
const dmKey = (a, b) => (a < b ? `${K}:chat:{dm:${esc(a)}:${esc(b)}}` : `${K}:chat:{dm:${esc(b)}:${esc(a)}}`);

async function online(node, auth) {
  const s = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth });
  opened.add(s);
  await new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", (err) => reject(new Error(`connect to ${node.url}: ${err.message}`)));
  });
  return s;
}
const guest = (node, name) => online(node, { user: name });

const call = (s, ev, arg) => s.timeout(WAIT_MS).emitWithAck(ev, arg);

/** join, asserted ok. */
async function join(s, room) {
  const r = await call(s, "join", { room });
  assert.equal(r.ok, true, `join ${room}: ${JSON.stringify(r)}`);
  return r;
}

/** A room message, whose ack must be ok with a stream id and a time. */
async function say(s, room, text, id) {
  const r = await call(s, "message", { room, text, ...(id ? { id } : {}) });
  assert.equal(r.ok, true, `message ${text}: ${JSON.stringify(r)}`);
  assert.match(r.id, /^\d+-\d+$/);
  assert.equal(typeof r.ts, "number");
  return r;
}

/** A private message, whose ack must be ok as say's. */
async function whisper(s, to, text, id) {
  const r = await call(s, "private", { to, text, ...(id ? { id } : {}) });
  assert.equal(r.ok, true, `private ${text}: ${JSON.stringify(r)}`);
  assert.match(r.id, /^\d+-\d+$/);
  return r;
}

function record(s, ...events) {
  const got = [];
  for (const ev of events) s.on(ev, (...x) => got.push([ev, ...x]));
  return got;
}
const texts = (got, ev = "message") => got.filter(([e]) => e === ev).map(([, m]) => m.text);

async function api(method, p, { key = ADMIN, body } = {}) {
  const res = await httpRequest(`${admin.url}${p}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: res.body && /json/.test(res.headers.get("content-type") || "") ? JSON.parse(res.body) : res.body };
}
const health = async (server) => JSON.parse((await httpRequest(`${server.url}/healthz`)).body);

/** The registry's entries of n1 and n2 (by address), once both are listed up. */
async function registryIds() {
  const list = await eventually(async () => {
    const r = await api("GET", "/api/v1/nodes", { key: READ });
    return r.status === 200 && r.body.nodes.length === 2 && r.body.nodes.every((n) => n.state === "up") && r.body.nodes;
  }, WAIT_MS, "both chatnodes up in the registry");
  const id = (node) => list.find((n) => n.address === `127.0.0.1:${node.port}`)?.id;
  return { [n1.port]: id(n1), [n2.port]: id(n2) };
}

describe("the chat and adminnode on a six-node Redis Cluster", { timeout: 120_000 }, () => {
  before(async () => {
    cluster = await startRedisCluster({ password: PASSWORD });
    dir = mkdtempSync(path.join(os.tmpdir(), "cluster-chat-"));
    writeFileSync(path.join(dir, "secret"), `${SECRET}\n`);
    const flags = ["--app", "chat", "--redis", cluster.url, "--allow-anonymous", "--jwt-secret-file",
      path.join(dir, "secret"), "--ping-interval", "5000", "--ping-timeout", "5000", "--heartbeat-interval", "500",
      "--drain-batch", "10", "--drain-interval", "50"];
    [n1, n2] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
    admin = await startAdminnode(["--redis", cluster.url, "--heartbeat-interval", "500", "--requests-timeout", "3000"],
      { ADMINNODE_API_KEYS: `${ADMIN}:admin,${READ}:read` });
    for (const node of [n1, n2])
      await eventually(async () => {
        const { bus } = await health(node);
        return bus?.command === "connected" && bus?.subscriber === "connected";
      }, WAIT_MS, "the bus to connect");
    await eventually(async () => (await health(admin)).redis === "connected", WAIT_MS, "adminnode's Redis");
    // "connected" includes its subscriber: its answers channel is subscribed on its shard, so
    // the very first cluster-wide request gets every server's answer
    const first = await api("GET", "/api/v1/sockets", { key: READ });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual([first.body.complete, first.body.servers, first.body.answered], [true, 2, 2],
      JSON.stringify(first.body));
  });
  after(async () => {
    for (const s of opened) s.close();
    for (const c of nodeClients.values()) await (await c).quit().catch(() => {});
    try {
      await stopAll(n1, n2, admin);
    } finally {
      await cluster?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
  afterEach(() => {
    for (const s of opened) s.close();
    opened.clear();
  });

  it("each chatnode's /healthz: topology cluster, the sharded format, both connections up, the three primaries", async () => {
    const primaries = (await primaryPorts()).map((p) => `127.0.0.1:${p}`);
    assert.equal(primaries.length, 3);
    for (const node of [n1, n2]) {
      const { bus } = await health(node);
      assert.equal(bus.topology, "cluster");
      assert.equal(bus.format, "sharded");
      assert.equal(bus.subscribe, "dynamic");
      assert.equal(bus.command, "connected");
      assert.equal(bus.subscriber, "connected");
      assert.deepEqual([...bus.primaries].sort(), primaries);
    }
  });

  it("rooms: messages cross both ways, each delivered once; leave stops delivery", async () => {
    const alice = await guest(n1, "alice");
    const bob = await guest(n2, "bob");
    const carl = await guest(n2, "carl"); // stays in the room on bob's node: the witness
    const got = [alice, bob, carl].map((s) => record(s, "message", "joined", "left"));
    await join(alice, "lobby");
    await join(bob, "lobby");
    const j = await join(carl, "lobby");
    assert.deepEqual(j.members.map((u) => u.id).sort(), ["guest:alice", "guest:bob", "guest:carl"]);
    await eventually(() => got[0].some(([e, x]) => e === "joined" && x.user.id === "guest:carl"), WAIT_MS, "carl's joined at alice");
    assert.deepEqual(got[0].filter(([e]) => e === "joined").map(([, x]) => x.user.id), ["guest:alice", "guest:bob", "guest:carl"]);

    const a1 = await say(alice, "lobby", "a1");
    const b1 = await say(bob, "lobby", "b1");
    await say(alice, "lobby", "a2");
    await say(bob, "lobby", "b2");
    const last = ["a2", "b2"];
    await eventually(() => got.every((g) => last.every((t) => texts(g).includes(t))), WAIT_MS, "every message everywhere");
    for (const g of got) {
      const t = texts(g);
      assert.deepEqual(t.filter((x) => x[0] === "a"), ["a1", "a2"], "alice's messages once each, in order");
      assert.deepEqual(t.filter((x) => x[0] === "b"), ["b1", "b2"], "bob's messages once each, in order");
    }
    assert.deepEqual(got[1].find(([e, m]) => e === "message" && m.text === "a1")[1],
      { id: a1.id, room: "lobby", from: { id: "guest:alice", name: "alice" }, text: "a1", ts: a1.ts });
    assert.deepEqual(got[0].find(([e, m]) => e === "message" && m.text === "b1")[1],
      { id: b1.id, room: "lobby", from: { id: "guest:bob", name: "bob" }, text: "b1", ts: b1.ts });

    assert.deepEqual(await call(bob, "leave", { room: "lobby" }), { ok: true });
    await eventually(() => got[0].some(([e, x]) => e === "left" && x.user.id === "guest:bob"), WAIT_MS, "bob's left at alice");
    await say(alice, "lobby", "after leave");
    await eventually(() => texts(got[2]).includes("after leave"), WAIT_MS, "the message at carl");
    assert.ok(!texts(got[1]).includes("after leave"), "bob, gone from the room, got it");
    assert.equal(texts(got[1]).length, 4);
  });

  it("private messages both ways, a retried one stored and delivered once, kept in the pair's stream", async () => {
    const frank = await online(n1, { token: token({ sub: "u-frank", name: "Frank", exp: Math.floor(Date.now() / 1000) + 600 }) });
    const frank2 = await online(n2, { token: token({ sub: "u-frank", name: "Frank", exp: Math.floor(Date.now() / 1000) + 600 }) });
    const gina = await guest(n2, "gina");
    const got = [frank, frank2, gina].map((s) => record(s, "private"));
    const p1 = await whisper(frank, "guest:gina", "hello gina", "p-1");
    const again = await whisper(frank, "guest:gina", "hello gina", "p-1");
    assert.deepEqual(again, p1, "the retry gets the first answer");
    const g1 = await whisper(gina, "u-frank", "hello frank");
    await whisper(frank, "guest:gina", "sync");
    await eventually(() => texts(got[2], "private").includes("sync") && texts(got[0], "private").includes("hello frank") &&
      texts(got[1], "private").includes("sync"), WAIT_MS, "the private messages");
    assert.deepEqual(texts(got[2], "private"), ["hello gina", "sync"], "at gina, once each");
    assert.deepEqual(got[2][0][1], { id: p1.id, from: { id: "u-frank", name: "Frank" }, to: "guest:gina", text: "hello gina", ts: p1.ts });
    assert.deepEqual(texts(got[0], "private"), ["hello frank"], "at frank's sending socket, gina's answer only");
    assert.deepEqual(got[0][0][1], { id: g1.id, from: { id: "guest:gina", name: "gina" }, to: "u-frank", text: "hello frank", ts: g1.ts });
    // frank's other socket, on gina's node: his messages and hers, once each
    assert.deepEqual(texts(got[1], "private"), ["hello gina", "hello frank", "sync"]);

    const stream = await onOwner(dmKey("u-frank", "guest:gina"), "XRANGE", dmKey("u-frank", "guest:gina"), "-", "+");
    assert.deepEqual(stream.map(([id, f]) => [id, Object.fromEntries(f.reduce((a, v, i) => (i % 2 ? a : [...a, [v, f[i + 1]]]), []))]), [
      [p1.id, { from: "u-frank", name: "Frank", text: "hello gina", to: "guest:gina" }],
      [g1.id, { from: "guest:gina", name: "gina", text: "hello frank", to: "u-frank" }],
      [stream[2][0], { from: "u-frank", name: "Frank", text: "sync", to: "guest:gina" }],
    ]);
  });

  it("history: the stored messages of both nodes once each, in order; a retry under one client id is one copy", async () => {
    const hana = await guest(n1, "hana");
    const ivan = await guest(n2, "ivan");
    await join(hana, "hist");
    await join(ivan, "hist");
    const gotI = record(ivan, "message");
    const sent = [];
    for (let i = 0; i < 6; i++) {
      const [s, who] = i % 2 ? [ivan, "ivan"] : [hana, "hana"];
      sent.push({ ...(await say(s, "hist", `h${i}`, `${who}-${i}`)), text: `h${i}`, from: `guest:${who}` });
    }
    // the same client ids again, from both nodes: the first answers, nothing new stored or sent
    assert.deepEqual(await say(hana, "hist", "h0", "hana-0"), { ok: true, id: sent[0].id, ts: sent[0].ts });
    assert.deepEqual(await say(ivan, "hist", "h3", "ivan-3"), { ok: true, id: sent[3].id, ts: sent[3].ts });
    await say(hana, "hist", "h6");
    await eventually(() => texts(gotI).includes("h6"), WAIT_MS, "h6 at ivan");
    // once each; hana's own in order (those of two nodes meet at ivan in either order)
    assert.deepEqual(texts(gotI).sort(), ["h0", "h1", "h2", "h3", "h4", "h5", "h6"]);
    assert.deepEqual(texts(gotI).filter((t) => Number(t[1]) % 2 === 0), ["h0", "h2", "h4", "h6"]);

    const want = ["h0", "h1", "h2", "h3", "h4", "h5", "h6"];
    for (const s of [hana, ivan]) {
      const h = await call(s, "history", { room: "hist", limit: 50 });
      assert.deepEqual(h.messages.map((m) => m.text), want);
      assert.deepEqual(h.messages.slice(0, 6).map((m) => [m.id, m.from.id]), sent.map((m) => [m.id, m.from]));
    }
    const page = await call(ivan, "history", { room: "hist", before: sent[4].id, limit: 2 });
    assert.deepEqual(page.messages.map((m) => m.text), ["h2", "h3"]);
    assert.equal(Number(await onOwner(roomKey("hist"), "XLEN", roomKey("hist"))), 7, "stored once each");
    const api1 = await api("GET", "/api/v1/rooms/hist/history?limit=50", { key: READ });
    assert.equal(api1.status, 200);
    assert.deepEqual(api1.body.messages.map((m) => m.text), want);
    const api2 = await api("GET", `/api/v1/rooms/hist/history?before=${sent[2].id}&limit=10`, { key: READ });
    assert.deepEqual(api2.body.messages.map((m) => m.text), ["h0", "h1"]);
  });

  it("presence: the room's users of both nodes, as either node and adminnode see them", async () => {
    const kai = await guest(n1, "kai");
    const lin = await guest(n1, "lin");
    const max = await guest(n2, "max");
    const kai2 = await guest(n2, "kai"); // kai on both nodes: listed once
    for (const s of [kai, lin, max, kai2]) await join(s, "pres");
    const want = [{ id: "guest:kai", name: "kai" }, { id: "guest:lin", name: "lin" }, { id: "guest:max", name: "max" }];
    for (const s of [kai, max]) {
      const m = await call(s, "members", { room: "pres" });
      assert.deepEqual(m.users.sort((a, b) => (a.id < b.id ? -1 : 1)), want);
    }
    const viaApi = await api("GET", "/api/v1/rooms/pres/members", { key: READ });
    assert.equal(viaApi.status, 200);
    assert.deepEqual(viaApi.body.users.map((u) => ({ id: u.id, name: u.name })), want);
    await call(lin, "leave", { room: "pres" });
    await call(kai2, "leave", { room: "pres" }); // kai is still there on n1
    const m = await call(max, "members", { room: "pres" });
    assert.deepEqual(m.users.map((u) => u.id).sort(), ["guest:kai", "guest:max"]);
  });

  it("acks and keys: messages in many rooms from both nodes are all acked, delivered once, stored on the primary of their slot, spread over the primaries", async () => {
    const rooms = Array.from({ length: 12 }, (_, i) => `spread-${i}`);
    const nia = await guest(n1, "nia");
    const oto = await guest(n2, "oto");
    const got = [nia, oto].map((s) => record(s, "message"));
    for (const r of rooms) {
      await join(nia, r);
      await join(oto, r);
    }
    const acks = await Promise.all(rooms.flatMap((r) => [
      call(nia, "message", { room: r, text: `${r} from nia` }),
      call(oto, "message", { room: r, text: `${r} from oto` }),
    ]));
    assert.equal(acks.length, 24);
    for (const a of acks) assert.equal(a.ok, true, JSON.stringify(a));
    const want = rooms.flatMap((r) => [`${r} from nia`, `${r} from oto`]).sort();
    await eventually(() => got.every((g) => texts(g).length >= want.length), WAIT_MS, "every message at both users");
    for (const g of got) assert.deepEqual(texts(g).sort(), want, "each once");

    const primaries = await primaryPorts();
    const keysOf = new Map();
    for (const port of primaries) {
      const keys = [];
      let cursor = "0";
      do {
        const [next, batch] = await (await nodeClient(port)).sendCommand(["SCAN", cursor, "MATCH", `${K}:chat:*`, "COUNT", "1000"]);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== "0");
      keysOf.set(port, new Set(keys));
    }
    for (const r of rooms) {
      const owner = await cluster.primaryOfSlot(await cluster.keySlot(roomKey(r)));
      assert.ok(keysOf.get(owner)?.has(roomKey(r)), `${roomKey(r)} on ${owner}, the primary of its slot`);
      for (const [port, keys] of keysOf) if (port !== owner) assert.ok(!keys.has(roomKey(r)), `${roomKey(r)} on ${port} too`);
    }
    const holding = primaries.filter((p) => [...keysOf.get(p)].some((k) => k.startsWith(`${K}:chat:{room:spread-`)));
    assert.equal(holding.length, 3, `room streams on ${holding.join(",")} only`);
  });

  it("adminnode: nodes and one node, both chatnodes up with their addresses", async () => {
    const ids = await registryIds();
    for (const node of [n1, n2]) {
      const one = await api("GET", `/api/v1/nodes/${ids[node.port]}`, { key: READ });
      assert.equal(one.status, 200);
      assert.equal(one.body.id, ids[node.port]);
      assert.equal(one.body.state, "up");
      assert.equal(one.body.pid, node.pid);
      assert.equal(one.body.address, `127.0.0.1:${node.port}`);
    }
    assert.notEqual(ids[n1.port], ids[n2.port]);
  });

  it("adminnode: sockets, rooms, users, and deleting a socket on either node", async () => {
    const ids = await registryIds();
    const pia = await guest(n1, "pia");
    const quin = await guest(n2, "quin");
    const pia2 = await guest(n2, "pia");
    await join(pia, "admin-room");
    await join(quin, "admin-room");
    await join(pia2, "other-room");
    const socks = await api("GET", "/api/v1/sockets", { key: READ });
    assert.equal(socks.status, 200);
    assert.equal(socks.body.complete, true);
    assert.equal(socks.body.servers, 2);
    const byId = Object.fromEntries(socks.body.sockets.map((s) => [s.id, s]));
    assert.equal(byId[pia.id].node, ids[n1.port]);
    assert.equal(byId[quin.id].node, ids[n2.port]);
    assert.equal(byId[pia2.id].node, ids[n2.port]);
    assert.deepEqual(byId[quin.id].rooms.sort(), ["admin-room", "user:guest:quin"]);
    const inRoom = await api("GET", "/api/v1/sockets?room=admin-room", { key: READ });
    assert.deepEqual(inRoom.body.sockets.map((s) => s.id).sort(), [pia.id, quin.id].sort());

    const rooms = await api("GET", "/api/v1/rooms", { key: READ });
    assert.equal(rooms.status, 200);
    const counts = Object.fromEntries(rooms.body.rooms.map((r) => [r.room, r.members]));
    assert.equal(counts["admin-room"], 2);
    assert.equal(counts["other-room"], 1);
    assert.equal(counts["user:guest:pia"], 2, "pia's room holds her sockets of both nodes");

    const users = await api("GET", "/api/v1/users", { key: READ });
    assert.equal(users.status, 200);
    assert.deepEqual(users.body.users.map((u) => [u.id, u.sockets]), [["guest:pia", 2], ["guest:quin", 1]]);
    assert.equal(users.body.total, 2);

    for (const s of [pia, quin]) {
      const bye = waitFor(s, "disconnect");
      const sid = s.id; // gone from the client once it is disconnected
      const del = await api("DELETE", `/api/v1/sockets/${sid}`);
      assert.deepEqual([del.status, del.body], [200, { ok: true, id: sid }]);
      assert.equal((await bye)[0], "transport close");
    }
    const left = await api("GET", "/api/v1/sockets", { key: READ });
    assert.deepEqual(left.body.sockets.map((s) => s.id), [pia2.id]);
  });

  it("adminnode: system messages are stored and delivered once on both nodes", async () => {
    const rita = await guest(n1, "rita");
    const sam = await guest(n2, "sam");
    await join(rita, "news");
    await join(sam, "news");
    const got = [rita, sam].map((s) => record(s, "message"));
    const posted = [];
    for (const text of ["maintenance at 5", "back at 6"]) {
      const r = await api("POST", "/api/v1/rooms/news/messages", { body: { text, from: "ops" } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      posted.push(r.body);
    }
    // the second comes after the first on every node: the first came once, or not at all
    await eventually(() => got.every((g) => texts(g).includes("back at 6")), WAIT_MS, "the system messages on both nodes");
    for (const g of got) {
      assert.deepEqual(texts(g), ["maintenance at 5", "back at 6"]);
      assert.deepEqual(g[0][1], { room: "news", id: posted[0].id, from: { id: "system", name: "ops" }, text: "maintenance at 5", ts: posted[0].ts });
    }
    await say(rita, "news", "thanks");
    const hist = await api("GET", "/api/v1/rooms/news/history", { key: READ });
    assert.deepEqual(hist.body.messages.map((m) => [m.id, m.from.id, m.text]),
      [[posted[0].id, "system", "maintenance at 5"], [posted[1].id, "system", "back at 6"], [hist.body.messages[2]?.id, "guest:rita", "thanks"]]);
    const h = await call(sam, "history", { room: "news" });
    assert.deepEqual(h.messages.map((m) => m.text), ["maintenance at 5", "back at 6", "thanks"]);
    assert.equal(Number(await onOwner(roomKey("news"), "XLEN", roomKey("news"))), 3);
  });

  it("adminnode: emit to a user on the other node, join and leave a room for a user's sockets, broadcasts", async () => {
    const tom = await guest(n2, "tom"); // only on n2
    const uma = await guest(n1, "uma");
    const uma2 = await guest(n2, "uma");
    const vic = await guest(n1, "vic");
    const got = [tom, uma, uma2, vic].map((s) => record(s, "note", "news"));
    // each event's arguments, without the offset that ends them (recovery is on, the default)
    const only = (g, ev) => g.filter(([e]) => e === ev).map(([, ...a]) => withoutOffset(a));

    assert.equal((await api("POST", "/api/v1/users/guest:tom/emit", { body: { event: "note", args: ["for tom", { n: 1 }] } })).status, 202);
    assert.equal((await api("POST", "/api/v1/users/guest:uma/emit", { body: { event: "note", args: ["for uma"] } })).status, 202);
    await eventually(() => only(got[0], "note").length && only(got[1], "note").length && only(got[2], "note").length, WAIT_MS, "the notes");
    assert.deepEqual(only(got[0], "note"), [["for tom", { n: 1 }]]);
    assert.deepEqual(only(got[1], "note"), [["for uma"]]);
    assert.deepEqual(only(got[2], "note"), [["for uma"]]);

    // every socket of uma, on both nodes, joins "vip"; a broadcast to it reaches them, and not
    // vic, on uma's first node
    assert.equal((await api("POST", "/api/v1/rooms/vip/join", { body: { user: "guest:uma" } })).status, 202);
    await eventually(async () => (await api("GET", "/api/v1/sockets?room=vip", { key: READ })).body.sockets.length === 2, WAIT_MS, "uma's sockets in vip");
    assert.deepEqual((await api("GET", "/api/v1/sockets?room=vip", { key: READ })).body.sockets.map((s) => s.id).sort(), [uma.id, uma2.id].sort());
    assert.equal((await api("POST", "/api/v1/emit", { body: { event: "news", args: ["vip only"], rooms: ["vip"] } })).status, 202);
    await eventually(() => only(got[1], "news").length && only(got[2], "news").length, WAIT_MS, "the vip news at uma");
    assert.deepEqual(only(got[1], "news"), [["vip only"]]);
    assert.deepEqual(only(got[2], "news"), [["vip only"]]);
    assert.deepEqual(only(got[3], "news"), [], "vic is not in vip");
    assert.deepEqual(only(got[0], "news"), [], "tom is not in vip");
    assert.equal((await api("POST", "/api/v1/rooms/vip/leave", { body: { user: "guest:uma" } })).status, 202);
    await eventually(async () => (await api("GET", "/api/v1/sockets?room=vip", { key: READ })).body.sockets.length === 0, WAIT_MS, "uma out of vip");

    // to everyone: every socket of both nodes, once
    assert.equal((await api("POST", "/api/v1/emit", { body: { event: "news", args: ["to all", 2] } })).status, 202);
    await eventually(() => got.every((g) => only(g, "news").some(([t]) => t === "to all")), WAIT_MS, "the news everywhere");
    assert.deepEqual(got.map((g) => only(g, "news").filter(([t]) => t === "to all")), got.map(() => [["to all", 2]]));
    // uma has left vip on both nodes: vic (beside uma on n1) and tom (beside uma2 on n2) join
    // it, and the next broadcast to vip reaches them, not uma
    for (const u of ["guest:vic", "guest:tom"])
      assert.equal((await api("POST", "/api/v1/rooms/vip/join", { body: { user: u } })).status, 202);
    await eventually(async () => (await api("GET", "/api/v1/sockets?room=vip", { key: READ })).body.sockets.length === 2, WAIT_MS, "vic and tom in vip");
    assert.equal((await api("POST", "/api/v1/emit", { body: { event: "news", args: ["vip again"], rooms: ["vip"] } })).status, 202);
    await eventually(() => only(got[0], "news").length === 2 && only(got[3], "news").length === 2, WAIT_MS, "vip again at vic and tom");
    assert.deepEqual(only(got[0], "news"), [["to all", 2], ["vip again"]]);
    assert.deepEqual(only(got[3], "news"), [["to all", 2], ["vip again"]]);
    assert.deepEqual(only(got[1], "news"), [["vip only"], ["to all", 2]]);
    assert.deepEqual(only(got[2], "news"), [["vip only"], ["to all", 2]]);
  });

  it("adminnode: a kick tells, then disconnects, a user's sockets on both nodes", async () => {
    const xia = await guest(n2, "xia");
    // the users' own rooms are of different shards: each kick's "kicked" must still come first
    for (const name of ["wes", "wil", "wyn", "wan", "wu"]) {
      const socks = [await guest(n1, name), await guest(n2, name)];
      const seen = socks.map((s) => {
        const events = [];
        s.on("kicked", (x) => events.push(["kicked", x]));
        s.on("disconnect", (reason) => events.push(["disconnect", reason]));
        return events;
      });
      const res = await api("POST", `/api/v1/users/guest:${name}/disconnect`, { body: { reason: `spam ${name}` } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.disconnected, 2);
      await eventually(() => seen.every((e) => e.some(([ev]) => ev === "disconnect")), WAIT_MS, `${name} disconnected`);
      for (const e of seen) assert.deepEqual(e, [["kicked", { reason: `spam ${name}` }], ["disconnect", "io server disconnect"]], name);
    }
    assert.ok(xia.connected);
    const users = await api("GET", "/api/v1/users", { key: READ });
    assert.deepEqual(users.body.users.map((u) => u.id), ["guest:xia"]);
  });

  it("adminnode: drain and undrain a chatnode through the cluster's control channels", async () => {
    const ids = await registryIds();
    const id = ids[n2.port];
    const yan = await guest(n2, "yan");
    const gone = waitFor(yan, "disconnect");
    // a node's heartbeat tells the cluster before its reply does, on any topology: the
    // registry has the new state once the answer came (a few times, as either order could
    // happen to come right)
    for (let i = 0; i < 5; i++) {
      let res = await api("POST", `/api/v1/nodes/${id}/drain`);
      assert.deepEqual([res.status, res.body], [200, { ok: true, node: id, draining: true }]);
      assert.equal((await api("GET", `/api/v1/nodes/${id}`, { key: READ })).body.state, "draining", `drain ${i}`);
      if (i === 0) {
        assert.equal((await gone)[0], "transport close");
        assert.equal((await httpRequest(`${n2.url}/socket.io/?EIO=4&transport=polling`)).status, 503);
      }
      res = await api("POST", `/api/v1/nodes/${id}/undrain`);
      assert.deepEqual([res.status, res.body], [200, { ok: true, node: id, draining: false }]);
      assert.equal((await api("GET", `/api/v1/nodes/${id}`, { key: READ })).body.state, "up", `undrain ${i}`);
    }
    await guest(n2, "yan");
  });

  it("webhooks on Redis Cluster: events of both nodes delivered signed; test, list, dead letters, delete", async () => {
    const HOOK_SECRET = "cluster-webhook-secret";
    const got = [];
    const rx = http.createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const ts = req.headers["x-chatcluster-timestamp"];
        const want = "v1=" + crypto.createHmac("sha256", HOOK_SECRET).update(`${ts}.${body}`).digest("hex");
        got.push({ valid: req.headers["x-chatcluster-signature"] === want, doc: JSON.parse(body) });
        res.writeHead(200);
        res.end();
      });
    });
    await new Promise((r) => rx.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${rx.address().port}/hook`;
      const add = await api("POST", "/api/v1/webhooks", { body: { id: "rc", url, events: ["*"], secret: HOOK_SECRET } });
      assert.equal(add.status, 201, JSON.stringify(add.body));
      const test = await api("POST", "/api/v1/webhooks/rc/test");
      assert.equal(test.status, 200, JSON.stringify(test.body));
      const pia = await guest(n1, "pia");
      const quin = await guest(n2, "quin");
      await join(pia, "hooked");
      await join(quin, "hooked");
      const sent = await call(quin, "message", { room: "hooked", text: "to the webhook" });
      assert.equal(sent.ok, true);
      const events = () => got.filter((g) => g.doc.webhook === "rc").flatMap((g) => g.doc.events);
      await eventually(() => events().some((e) => e.type === "message" && e.data.message.id === sent.id) &&
        events().filter((e) => e.type === "member_joined" && e.data.room === "hooked").length === 2 &&
        ["guest:pia", "guest:quin"].every((u) => events().some((e) => e.type === "user_online" && e.data.user.id === u)),
      WAIT_MS, "both nodes' events");
      assert.ok(got.every((g) => g.valid), "every delivery signed");
      const list = await api("GET", "/api/v1/webhooks", { key: ADMIN });
      assert.equal(list.status, 200);
      const mine = list.body.webhooks.find((w) => w.id === "rc");
      assert.equal(mine.secret, undefined);
      assert.ok(mine.stats.delivered >= 4, JSON.stringify(mine.stats));
      const dead = await api("GET", "/api/v1/webhooks/dead", { key: ADMIN });
      assert.equal(dead.status, 200, JSON.stringify(dead.body));
      assert.equal((await api("POST", "/api/v1/webhooks/dead/1-1/replay")).status, 404);
      assert.equal((await api("DELETE", "/api/v1/webhooks/rc")).status, 200);
      assert.equal((await api("GET", "/api/v1/webhooks")).body.webhooks.some((w) => w.id === "rc"), false);
      pia.close();
      quin.close();
    } finally {
      rx.closeAllConnections?.();
      await new Promise((r) => rx.close(r));
    }
  });

  it("adminnode: /healthz, /metrics and the OpenAPI document", async () => {
    const h = await health(admin);
    assert.equal(h.status, "ok");
    assert.equal(h.redis, "connected");
    assert.equal(typeof h.redis_latency_ms, "number");
    const m = (await httpRequest(`${admin.url}/metrics`)).body;
    assert.match(m, /\nadminnode_redis_state\{state="connected"\} 1\n/);
    assert.match(m, /\nadminnode_redis_topology\{topology="cluster"\} 1\n/);
    assert.match(m, /\nadminnode_nodes\{state="up"\} 2\n/);
    const doc = await api("GET", "/api/v1/openapi.json", { key: null });
    assert.equal(doc.status, 200);
    const routes = Object.entries(doc.body.paths).flatMap(([p, ops]) =>
      Object.keys(ops).filter((k) => k !== "parameters").map((op) => `${op.toUpperCase()} ${p}`));
    assert.deepEqual(routes.sort(), [...ENDPOINTS].sort(), "the endpoints this test covers are adminnode's");
  });

  it("no command was refused as CROSSSLOT, by any Redis node, in any node's log", async () => {
    for (const port of cluster.ports) {
      const info = await (await nodeClient(port)).sendCommand(["INFO", "errorstats"]);
      assert.doesNotMatch(info, /CROSSSLOT/, `redis-server ${port}: ${info}`);
    }
    for (const [name, node] of [["n1", n1], ["n2", n2], ["adminnode", admin]])
      assert.doesNotMatch(node.stderr(), /CROSSSLOT/, name);
  });
});
