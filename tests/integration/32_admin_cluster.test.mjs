// adminnode's cluster endpoints against two chatnodes (the chat app) and Redis, driven with
// real socket.io-clients: sockets, rooms with counts, room members, online users, history,
// system messages, join/leave, emit to a user, kick, delete a socket; scopes; bad input; a
// stopped node giving a partial answer. Exercises adminnode/api_cluster.c,
// api_cluster_routes.c and requester.c.
import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startNodePeer } from "./lib/node_peer.mjs";
import { startChatnode, startAdminnode, startRedis, stopAll, eventually, httpRequest, waitFor, WAIT_MS, busUp } from "./lib/harness.mjs";
import { withoutOffset } from "./lib/clients.mjs";

const ADMIN = "admin-key-0123456789abcdef";
const READ = "read-key-0123456789abcdef";
let redis, n1, n2, admin;
const opened = new Set();

async function api(method, path, { key = ADMIN, body } = {}) {
  const res = await httpRequest(`${admin.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: res.body ? JSON.parse(res.body) : null };
}

async function user(node, name) {
  const s = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user: name } });
  opened.add(s);
  await waitFor(s, "connect");
  return s;
}

/** Sessions a node has kept for connection-state recovery so far (its /healthz). */
async function keptTotal(node) {
  return JSON.parse((await httpRequest(`${node.url}/healthz`)).body).recovery.kept_total;
}

// The chatnodes run with connection-state recovery on (the default): every event their clients
// receive ends with its offset, which withoutOffset() checks and takes off; the Node.js
// server's clients get none.
describe("adminnode's cluster endpoints", { timeout: 120_000 }, () => {
  before(async () => {
    redis = await startRedis();
    const flags = ["--allow-anonymous", "--redis", redis.url, "--ping-interval", "5000", "--ping-timeout", "5000"];
    [n1, n2] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
    admin = await startAdminnode(["--redis", redis.url, "--requests-timeout", "1500", "--heartbeat-interval", "1000"], { ADMINNODE_API_KEYS: `${ADMIN}:admin,${READ}:read` });
    await busUp(n1);
    await busUp(n2);
    await eventually(async () => JSON.parse((await httpRequest(`${admin.url}/healthz`)).body).redis === "connected", WAIT_MS);
  });
  after(async () => {
    for (const s of opened) s.close();
    await stopAll(n1, n2, admin);
    await redis.stop();
  });
  afterEach(() => {
    for (const s of opened) s.close();
    opened.clear();
  });

  it("lists sockets, rooms, members and users across both nodes, never tokens", async () => {
    const alice = await user(n1, "alice");
    const bob = await user(n2, "bob");
    await alice.emitWithAck("join", { room: "lobby" });
    await bob.emitWithAck("join", { room: "lobby" });
    await bob.emitWithAck("join", { room: "side" });

    const socks = await api("GET", "/api/v1/sockets", { key: READ });
    assert.equal(socks.status, 200);
    assert.equal(socks.body.complete, true);
    assert.equal(socks.body.servers, 2);
    const byId = Object.fromEntries(socks.body.sockets.map((s) => [s.id, s]));
    assert.deepEqual(byId[alice.id].user, { id: "guest:alice", name: "alice" });
    assert.deepEqual(byId[bob.id].rooms.sort(), ["lobby", "side", "user:guest:bob"]);
    assert.notEqual(byId[alice.id].node, byId[bob.id].node, "each socket says which node holds it");
    assert.match(byId[alice.id].address, /127\.0\.0\.1/);
    assert.ok(!JSON.stringify(socks.body).includes("token"));
    const inSide = await api("GET", "/api/v1/sockets?room=side", { key: READ });
    assert.deepEqual(inSide.body.sockets.map((s) => s.id), [bob.id]);

    const rooms = await api("GET", "/api/v1/rooms", { key: READ });
    const counts = Object.fromEntries(rooms.body.rooms.map((r) => [r.room, r.members]));
    assert.equal(counts.lobby, 2);
    assert.equal(counts.side, 1);
    assert.equal(counts[alice.id], undefined, "socket-id rooms left out");

    const members = await api("GET", "/api/v1/rooms/lobby/members", { key: READ });
    assert.deepEqual(members.body.users.map((u) => u.id), ["guest:alice", "guest:bob"]);
    const page = await api("GET", "/api/v1/users?limit=1&offset=1", { key: READ });
    assert.deepEqual(page.body.users.map((u) => u.id), ["guest:bob"]);
    assert.equal(page.body.total, 2);
  });

  it("system messages are stored and delivered; history reads them back", async () => {
    const carol = await user(n1, "carol");
    const dave = await user(n2, "dave");
    await carol.emitWithAck("join", { room: "news" });
    await dave.emitWithAck("join", { room: "news" });
    const got = [];
    dave.on("message", (m) => got.push(m));
    await carol.emitWithAck("message", { room: "news", text: "from carol" });
    const posted = await api("POST", "/api/v1/rooms/news/messages", { body: { text: "maintenance at 5", from: "ops" } });
    assert.equal(posted.status, 201);
    await eventually(() => got.some((x) => x.from.id === "system"), WAIT_MS, "the system message");
    const m = got.find((x) => x.from.id === "system");
    assert.deepEqual(m, { room: "news", id: posted.body.id, from: { id: "system", name: "ops" }, text: "maintenance at 5", ts: posted.body.ts });
    const hist = await api("GET", "/api/v1/rooms/news/history?limit=10", { key: READ });
    assert.deepEqual(hist.body.messages.map((x) => x.text), ["from carol", "maintenance at 5"]);
    const older = await api("GET", `/api/v1/rooms/news/history?before=${posted.body.id}`, { key: READ });
    assert.deepEqual(older.body.messages.map((x) => x.text), ["from carol"]);
    const joined = await carol.emitWithAck("history", { room: "news", limit: 10 });
    assert.deepEqual(joined.messages.map((x) => x.text), ["from carol", "maintenance at 5"]);
  });

  it("join, leave and emit to a user reach every socket of the user", async () => {
    const erin = await user(n1, "erin");
    const erin2 = await user(n2, "erin");
    const notes = [erin, erin2].map((s) => waitFor(s, "note"));
    assert.equal((await api("POST", "/api/v1/users/guest:erin/emit", { body: { event: "note", args: [1, { x: 2 }] } })).status, 202);
    for (const n of await Promise.all(notes)) assert.deepEqual(withoutOffset(n), [1, { x: 2 }]);
    assert.equal((await api("POST", "/api/v1/rooms/vip/join", { body: { user: "guest:erin" } })).status, 202);
    await eventually(async () => (await api("GET", "/api/v1/sockets?room=vip", { key: READ })).body.sockets.length === 2, WAIT_MS);
    assert.equal((await api("POST", "/api/v1/rooms/vip/leave", { body: { user: "guest:erin" } })).status, 202);
    await eventually(async () => (await api("GET", "/api/v1/sockets?room=vip", { key: READ })).body.sockets.length === 0, WAIT_MS);
  });

  it("kick: every socket of the user gets kicked {reason} and is disconnected; the answer counts them", async () => {
    const fay = await user(n1, "fay");
    const fay2 = await user(n2, "fay");
    const other = await user(n1, "gus");
    const kicked = [fay, fay2].map((s) => waitFor(s, "kicked"));
    const gone = [fay, fay2].map((s) => waitFor(s, "disconnect"));
    const keptBefore = [await keptTotal(n1), await keptTotal(n2)];
    const res = await api("POST", "/api/v1/users/guest:fay/disconnect", { body: { reason: "spam" } });
    assert.equal(res.status, 200);
    assert.equal(res.body.disconnected, 2);
    for (const k of await Promise.all(kicked)) assert.deepEqual(withoutOffset(k), [{ reason: "spam" }]);
    for (const g of await Promise.all(gone)) assert.equal(g[0], "io server disconnect");
    assert.ok(other.connected);

    const hal = await user(n2, "hal");
    const bye = waitFor(hal, "disconnect");
    const deleted = await api("DELETE", `/api/v1/sockets/${hal.id}`);
    assert.deepEqual([deleted.status, deleted.body], [200, { ok: true, id: hal.id }]);
    // the socket's whole connection is closed (Socket.IO's disconnect(true)), not only its namespace
    assert.equal((await bye)[0], "transport close");
    // a kick and a delete are final: neither node kept a session to be recovered
    assert.deepEqual([await keptTotal(n1), await keptTotal(n2)], keptBefore, "sessions kept for recovery");
    // an unknown socket: 404 with the API's error body, naming the socket
    const unknown = await api("DELETE", "/api/v1/sockets/no-such-socket");
    assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
    assert.deepEqual(Object.keys(unknown.body), ["error"]);
    assert.deepEqual(Object.keys(unknown.body.error).sort(), ["code", "message"]);
    assert.equal(unknown.body.error.code, "not_found");
    assert.match(unknown.body.error.message, /\bno-such-socket\b/);
  });

  it("broadcast and kick reach the clients of a Node.js socket.io server on the same Redis", async () => {
    const peer = await startNodePeer({ redisUrl: redis.url, requestsTimeout: 1000 });
    try {
      const zed = io(peer.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
      opened.add(zed);
      await waitFor(zed, "connect");
      await zed.emitWithAck("join", "user:guest:zed"); // the Node side's idea of a user room
      const zedOnChat = await user(n1, "zed");
      const news = [zed, zedOnChat].map((s) => waitFor(s, "news"));
      assert.equal((await api("POST", "/api/v1/emit", { body: { event: "news", args: ["to all"] } })).status, 202);
      const [nodeNews, chatNews] = await Promise.all(news);
      assert.deepEqual(nodeNews, ["to all"]);
      assert.deepEqual(withoutOffset(chatNews), ["to all"]);
      const kicked = [zed, zedOnChat].map((s) => waitFor(s, "kicked"));
      const gone = waitFor(zed, "disconnect");
      const res = await api("POST", "/api/v1/users/guest:zed/disconnect", { body: { reason: "bye" } });
      assert.equal(res.status, 200);
      assert.equal(res.body.disconnected, 2, "one socket on the chatnode, one on the Node server");
      const [nodeKicked, chatKicked] = await Promise.all(kicked);
      assert.deepEqual(nodeKicked, [{ reason: "bye" }]);
      assert.deepEqual(withoutOffset(chatKicked), [{ reason: "bye" }]);
      assert.equal((await gone)[0], "io server disconnect");
    } finally {
      await peer.close();
    }
  });

  it("scopes, bad input and a node that does not answer", async () => {
    assert.equal((await api("POST", "/api/v1/users/x/emit", { key: READ, body: { event: "e" } })).status, 403);
    assert.equal((await api("GET", "/api/v1/rooms", { key: "wrong-key-0123456789abcdef" })).status, 401);
    for (const [method, path, body] of [
      ["POST", "/api/v1/rooms/r/messages", { text: "" }],
      ["POST", "/api/v1/rooms/r/messages", { text: 5 }],
      ["POST", "/api/v1/rooms/r/join", {}],
      ["POST", "/api/v1/users/u/emit", { args: [] }],
      ["POST", "/api/v1/users/u/disconnect", { reason: 5 }],
      ["GET", "/api/v1/users?limit=0", undefined],
      ["GET", "/api/v1/rooms/r/history?limit=1000", undefined],
      ["GET", "/api/v1/sockets?namespace=nope", undefined],
    ]) {
      const r = await api(method, path, { body });
      assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)}`);
      assert.equal(r.body.error.code, "bad_request");
    }
    const ivy = await user(n1, "ivy");
    await eventually(async () => (await api("GET", "/api/v1/nodes", { key: READ })).body.nodes.length === 2, WAIT_MS, "both nodes in the registry");
    n2.pause();
    try {
      const r = await api("GET", "/api/v1/sockets", { key: READ });
      assert.equal(r.status, 200);
      assert.equal(r.body.complete, false);
      assert.equal(r.body.servers, 2);
      assert.equal(r.body.answered, 1);
      assert.ok(r.body.sockets.some((s) => s.id === ivy.id));
      const listed = (await api("GET", "/api/v1/nodes", { key: READ })).body;
      const stopped = listed.nodes?.find((n) => n.tag === `n${n2.port}`);
      assert.ok(stopped, JSON.stringify(listed).slice(0, 300));
      assert.deepEqual(r.body.missing, [stopped.id], "the answer names the node that did not answer");
    } finally {
      n2.resume();
    }
  });
});
