// Cluster settings of README.md's tables, through Redis: a non-default --redis-key and
// --control-prefix given to both binaries (a broadcast crosses nodes, adminnode lists the
// nodes, reaches their sockets, reads and adds to a room's history, everything lives under
// those prefixes and nothing under the defaults, where an adminnode with the defaults sees no
// node); --advertise (the address in
// the heartbeat and in adminnode's registry); the pair's stream of private messages
// (P:chat:{dm:<a>:<b>}, one stream for both directions, see proto/chat_store.h); --history-size
// (the room's stream capped near it) and --history-page with the messages in Redis.
// Exercises chatnode/cluster.c, control.c, chat.c, chat_storage_redis.c, proto/chat_store.c,
// adminnode/registry.c and api_cluster.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { io } from "socket.io-client";
import { startChatnode, startAdminnode, startRedis, stopAll, eventually, httpRequest, waitFor, WAIT_MS, busUp } from "./lib/harness.mjs";
import { withoutOffset } from "./lib/clients.mjs";

const KEY = "settings-admin-key-0123456789";
const REDIS_KEY = "chatA";
const PREFIX = "ctlA";
const ADVERTISED = "chat-1.internal.example:4443";
const PREFIXES = ["--redis-key", REDIS_KEY, "--control-prefix", PREFIX];
const ADMIN_KEYS = { ADMINNODE_API_KEYS: `${KEY}:admin` };

let redis, rc, n1, n2, n3, admin, plainAdmin;
const opened = new Set();

async function user(node, name) {
  const s = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user: name } });
  opened.add(s);
  await waitFor(s, "connect");
  return s;
}

const call = (s, ev, arg) => s.timeout(WAIT_MS).emitWithAck(ev, arg);

async function api(server, method, path, body) {
  const res = await httpRequest(`${server.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: JSON.parse(res.body) };
}

const nodeFlags = (extra = []) => ["--app", "chat", "--allow-anonymous", "--redis", redis.url, ...PREFIXES,
  "--heartbeat-interval", "300", "--ping-interval", "5000", "--ping-timeout", "5000", ...extra];

describe("cluster settings through Redis", { timeout: 120_000 }, () => {
  before(async () => {
    redis = await startRedis();
    [n1, n2] = await Promise.all([startChatnode(nodeFlags(["--advertise", ADVERTISED])), startChatnode(nodeFlags())]);
    admin = await startAdminnode(["--redis", redis.url, ...PREFIXES, "--heartbeat-interval", "300"], ADMIN_KEYS);
    rc = createClient({ url: redis.url });
    rc.on("error", () => {});
    await rc.connect();
    await busUp(n1);
    await busUp(n2);
  });
  after(async () => {
    for (const s of opened) s.close();
    await rc?.quit().catch(() => {});
    await stopAll(n1, n2, n3, admin, plainAdmin);
    await redis?.stop();
  });

  it("--redis-key and --control-prefix on both binaries: the cluster works, under those prefixes only", async () => {
    const alice = await user(n1, "alice");
    const bob = await user(n2, "bob");
    await call(alice, "join", { room: "lobby" });
    await call(bob, "join", { room: "lobby" });

    // a broadcast crosses the nodes
    const got = waitFor(bob, "message");
    const sent = await call(alice, "message", { room: "lobby", text: "across the nodes" });
    assert.equal(sent.ok, true, JSON.stringify(sent));
    assert.equal((await got)[0].text, "across the nodes");

    // adminnode lists both nodes and reaches their sockets
    const nodes = await eventually(async () => {
      const r = await api(admin, "GET", "/nodes");
      return r.body.nodes.length === 2 && r.body.nodes.every((n) => n.state === "up") && r.body.nodes;
    }, WAIT_MS, "both nodes up in adminnode");
    assert.deepEqual(nodes.map((n) => n.tag).sort(), [`n${n1.port}`, `n${n2.port}`].sort());
    const socks = await api(admin, "GET", "/sockets?room=lobby");
    assert.equal(socks.status, 200);
    assert.deepEqual([socks.body.complete, socks.body.servers, socks.body.answered], [true, 2, 2]);
    assert.deepEqual(socks.body.sockets.map((s) => s.user.id).sort(), ["guest:alice", "guest:bob"]);
    const emitted = waitFor(bob, "notice");
    assert.equal((await api(admin, "POST", "/users/guest%3Abob/emit", { event: "notice", args: ["from the API"] })).status, 202);
    assert.deepEqual(withoutOffset(await emitted), ["from the API"]); // recovery is on: an offset ends it
    // a room message from adminnode is stored in the same stream as the nodes' ones
    const announced = waitFor(bob, "message");
    const posted = await api(admin, "POST", "/rooms/lobby/messages", { text: "from adminnode", from: "ops" });
    assert.equal(posted.status, 201, JSON.stringify(posted.body));
    assert.equal((await announced)[0].text, "from adminnode");
    const history = await api(admin, "GET", "/rooms/lobby/history");
    assert.deepEqual(history.body.messages.map((m) => m.id), [sent.id, posted.body.id]);

    // everything is under the given prefixes, nothing under the defaults
    assert.equal((await rc.keys(`${PREFIX}:node:*`)).length, 2);
    assert.deepEqual(await rc.keys("chatcluster:*"), []);
    assert.equal(await rc.xLen(`${REDIS_KEY}:chat:{room:lobby}`), 2);
    assert.deepEqual(await rc.keys("socket.io*"), []);
    const channels = await rc.sendCommand(["PUBSUB", "CHANNELS"]);
    // broadcasts through the namespace's pattern (recovery is on), recovery's own channels
    assert.equal(await rc.sendCommand(["PUBSUB", "NUMPAT"]), 1, "K#/#*, one pattern for both chatnodes");
    assert.ok(channels.includes(`{${REDIS_KEY}:rec:/}:m`), JSON.stringify(channels));
    assert.ok((await rc.keys(`{${REDIS_KEY}:rec:/}:*`)).length > 0, "recovery's keys under the prefix");
    assert.ok(channels.includes(`${REDIS_KEY}-request#/#`), JSON.stringify(channels));
    assert.ok(channels.includes(`${PREFIX}:heartbeat`), JSON.stringify(channels));
    assert.deepEqual(channels.filter((c) => c.startsWith("socket.io") || c.startsWith("chatcluster")), []);
    // so an adminnode with the default prefixes, on the same Redis, sees no node
    plainAdmin = await startAdminnode(["--redis", redis.url, "--heartbeat-interval", "300"], ADMIN_KEYS);
    await eventually(async () => JSON.parse((await httpRequest(`${plainAdmin.url}/healthz`)).body).redis === "connected", WAIT_MS);
    assert.deepEqual((await api(plainAdmin, "GET", "/nodes")).body, { nodes: [] });
  });

  it("--advertise is the address the heartbeat and adminnode's registry show", async () => {
    const list = await eventually(async () => {
      const nodes = (await api(admin, "GET", "/nodes")).body.nodes;
      return nodes.length === 2 && nodes;
    }, WAIT_MS, "both nodes listed by adminnode");
    const one = list.find((n) => n.tag === `n${n1.port}`);
    const two = list.find((n) => n.tag === `n${n2.port}`);
    assert.equal(one.address, ADVERTISED);
    assert.equal(two.address, `127.0.0.1:${n2.port}`, "without --advertise: host:port");
    const entry = JSON.parse(await rc.get(`${PREFIX}:node:${one.id}`));
    assert.equal(entry.address, ADVERTISED);
    const sub = rc.duplicate();
    sub.on("error", () => {});
    await sub.connect();
    try {
      const beats = [];
      await sub.subscribe(`${PREFIX}:heartbeat`, (m) => beats.push(JSON.parse(m)));
      const beat = await eventually(() => beats.find((h) => h.id === one.id), WAIT_MS, "a heartbeat of n1");
      assert.equal(beat.address, ADVERTISED);
      assert.equal(beat.tag, `n${n1.port}`);
    } finally {
      await sub.quit().catch(() => {});
    }
  });

  it("private messages: both directions of a pair's conversation in one stream, P:chat:{dm:<a>:<b>}", async () => {
    const carol = await user(n1, "carol");
    const dave = await user(n2, "dave");
    const toDave = waitFor(dave, "private");
    const one = await call(carol, "private", { to: "guest:dave", text: "hello dave" });
    assert.equal(one.ok, true, JSON.stringify(one));
    assert.equal((await toDave)[0].text, "hello dave");
    const toCarol = waitFor(carol, "private");
    const two = await call(dave, "private", { to: "guest:carol", text: "hello carol" });
    assert.equal(two.ok, true, JSON.stringify(two));
    assert.equal((await toCarol)[0].text, "hello carol");

    // user ids in key order (bytewise), each part escaped (guest:carol -> guest%3Acarol)
    const key = `${REDIS_KEY}:chat:{dm:guest%3Acarol:guest%3Adave}`;
    assert.deepEqual(await rc.keys(`${REDIS_KEY}:chat:{dm:*`), [key], "one stream for the pair");
    const entries = await rc.xRange(key, "-", "+");
    assert.deepEqual(entries.map((e) => e.id), [one.id, two.id]);
    assert.deepEqual(entries.map((e) => [e.message.from, e.message.to, e.message.text]), [
      ["guest:carol", "guest:dave", "hello dave"],
      ["guest:dave", "guest:carol", "hello carol"],
    ]);
    const ttl = await rc.ttl(key);
    assert.ok(ttl > 0 && ttl <= 2592000, `the conversation expires (--history-ttl): ttl ${ttl}`);
  });

  it("--history-size caps the room's stream near it; --history-page is what a join brings", async () => {
    const SIZE = 20;
    const SENT = 400;
    n3 = await startChatnode(nodeFlags(["--history-size", String(SIZE), "--history-page", "7", "--rate", "100000", "--burst", "100000"]));
    await busUp(n3);
    const erin = await user(n3, "erin");
    await call(erin, "join", { room: "capped" });
    const ids = [];
    for (let i = 0; i < SENT; i += 50) {
      const acks = await Promise.all(Array.from({ length: 50 }, (_, k) => call(erin, "message", { room: "capped", text: `c${i + k}` })));
      for (const a of acks) assert.equal(a.ok, true, JSON.stringify(a));
      ids.push(...acks.map((a) => a.id));
    }
    // Redis trims a stream by whole nodes of entries (MAXLEN ~): "near" is at most one node
    // (stream-node-max-entries, 100 by default) over
    const len = await rc.xLen(`${REDIS_KEY}:chat:{room:capped}`);
    assert.ok(len >= SIZE && len <= SIZE + 100, `the stream holds ${len} of ${SENT} messages (--history-size ${SIZE})`);
    const newest = await rc.xRevRange(`${REDIS_KEY}:chat:{room:capped}`, "+", "-", { COUNT: SIZE });
    assert.deepEqual(newest.map((e) => e.id).reverse(), ids.slice(-SIZE), "the newest are kept");

    const fred = await user(n3, "fred");
    const joined = await call(fred, "join", { room: "capped" });
    assert.deepEqual(joined.history.map((m) => m.id), ids.slice(-7));
  });
});
