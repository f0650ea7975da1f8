// adminnode's system messages obey the chat limits of the chatnodes, not adminnode's own
// flags: chatnodes run with --max-text 16, --history-size 1 and --history-ttl 100, adminnode
// with none of these flags. A too-long system message gets the error a chatnode gives a
// too-long text, the room's stream is trimmed as the chatnodes trim theirs, and its expiry is
// theirs. Once no live chatnode announces limits, adminnode falls back to its own flags.
// Exercises adminnode/api_cluster.c, adminnode/registry.c and chatnode/control.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { io } from "socket.io-client";
import { startChatnode, startAdminnode, startRedis, stopAll, eventually, httpRequest, waitFor, WAIT_MS } from "./lib/harness.mjs";

const ADMIN = "admin-key-0123456789abcdef";
const IV = "200"; // heartbeat interval of every node, ms
let redis, rc, n1, n2, admin;
const opened = new Set();

async function api(method, path, body) {
  const res = await httpRequest(`${admin.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: res.body ? JSON.parse(res.body) : null };
}

async function user(node, name) {
  const s = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user: name } });
  opened.add(s);
  await waitFor(s, "connect");
  return s;
}

const post = (room, text) => api("POST", `/api/v1/rooms/${room}/messages`, { text });
const upNodes = async () => (await api("GET", "/api/v1/nodes")).body.nodes.filter((n) => n.state !== "down").length;

describe("adminnode's system messages and the chatnodes' chat limits", { timeout: 120_000 }, () => {
  before(async () => {
    redis = await startRedis();
    rc = createClient({ url: redis.url });
    await rc.connect();
    // small stream nodes, so that MAXLEN ~ trims after a few entries
    await rc.sendCommand(["CONFIG", "SET", "stream-node-max-entries", "10"]);
    const flags = ["--allow-anonymous", "--redis", redis.url, "--heartbeat-interval", IV,
      "--max-text", "16", "--history-size", "1", "--history-ttl", "100"];
    [n1, n2] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
    admin = await startAdminnode(["--redis", redis.url, "--heartbeat-interval", IV], { ADMINNODE_API_KEYS: `${ADMIN}:admin` });
    await eventually(async () => (await upNodes()) === 2, WAIT_MS, "both chatnodes in the registry");
  });
  after(async () => {
    for (const s of opened) s.close();
    await stopAll(n1, n2, admin);
    await rc?.quit();
    await redis.stop();
  });

  it("a system message longer than the chatnodes' --max-text gets the chatnodes' error; one at the limit is stored", async () => {
    const alice = await user(n1, "alice");
    await alice.emitWithAck("join", { room: "lobby" });
    const long = "x".repeat(17);
    const fromNode = await alice.emitWithAck("message", { room: "lobby", text: long });
    assert.equal(fromNode.error?.code, "bad_request", "the chatnode refuses 17 bytes");
    assert.match(fromNode.error.message, /\b16 bytes\b/);

    const refused = await post("lobby", long);
    assert.equal(refused.status, 400, `17 bytes refused: ${JSON.stringify(refused.body)}`);
    assert.equal(refused.body.error.code, fromNode.error.code);
    assert.match(refused.body.error.message, /\b16 bytes\b/, "the message names the chatnodes' limit");

    const stored = await post("lobby", "y".repeat(16));
    assert.equal(stored.status, 201);
    const hist = await api("GET", "/api/v1/rooms/lobby/history?limit=5");
    assert.deepEqual(hist.body.messages.map((m) => m.text), ["y".repeat(16)]);
  });

  it("system messages are trimmed to the chatnodes' --history-size and expire after their --history-ttl", async () => {
    // the chatnodes' own messages, as the yardstick
    const bob = await user(n2, "bob");
    await bob.emitWithAck("join", { room: "chat" });
    for (let i = 0; i < 30; i++) assert.ok((await bob.emitWithAck("message", { room: "chat", text: `m${i}` })).id);
    const own = await rc.xLen("socket.io:chat:{room:chat}");
    assert.ok(own < 15, `the chatnodes trim their streams (XLEN ${own})`);

    for (let i = 0; i < 30; i++) assert.equal((await post("news", `s${i}`)).status, 201);
    const sys = await rc.xLen("socket.io:chat:{room:news}");
    assert.ok(sys < 15, `system messages are trimmed as the chatnodes' (XLEN ${sys} after 30)`);
    const ttl = await rc.ttl("socket.io:chat:{room:news}");
    assert.ok(ttl > 0 && ttl <= 100, `the stream expires after the chatnodes' --history-ttl (TTL ${ttl})`);
  });

  it("with no live chatnode, adminnode's own --max-text and --history-size apply", async () => {
    await stopAll(n1, n2);
    await eventually(async () => (await upNodes()) === 0, WAIT_MS, "both chatnodes down");
    assert.equal((await post("later", "z".repeat(17))).status, 201, "adminnode's default --max-text is 4096");
    for (let i = 0; i < 19; i++) assert.equal((await post("later", `t${i}`)).status, 201);
    assert.equal(await rc.xLen("socket.io:chat:{room:later}"), 20, "adminnode's default --history-size is 1000");
  });
});
