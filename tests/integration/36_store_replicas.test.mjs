// --store-replicas: "acknowledged" means "on a replica too". A Redis primary with one replica,
// a chatnode and adminnode that both wait for one replica. While the replica answers, messages
// are acked ok and system messages answered 201. With the replica stopped (SIGSTOP) a
// message is stored on the primary but its ack is the chat's retryable storage error (and a
// system message gets 503); once the replica runs again, the retry under the same client id
// is acked ok with the stream id of the first attempt, and the message is in the history, on
// the replica and delivered live exactly once. That something did not arrive is checked once
// a later event on the same path has arrived.
// Exercises chatnode/chat.c, chat_storage_redis.c and adminnode/api_cluster.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { io } from "socket.io-client";
import { startChatnode, startAdminnode, startRedis, stopAll, eventually, httpRequest, WAIT_MS } from "./lib/harness.mjs";

const ADMIN = "admin-key-0123456789abcdef";
const REFUSED = { error: { code: "internal", message: "the message could not be stored; send it again" } };
let primary, replica, pc, rc, node, admin;
const opened = new Set();

async function online(name) {
  const s = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user: name } });
  opened.add(s);
  await new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
  });
  return s;
}

const call = (s, ev, arg) => s.timeout(WAIT_MS).emitWithAck(ev, arg);

async function api(method, path, body) {
  const res = await httpRequest(`${admin.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: res.body ? JSON.parse(res.body) : null };
}

/** Resolves once the replica has acknowledged everything the primary wrote. */
async function caughtUp() {
  await eventually(async () => {
    const info = await pc.info("replication");
    const offset = Number(/^master_repl_offset:(\d+)/m.exec(info)?.[1]);
    const acked = Number(/^slave0:.*offset=(\d+)/m.exec(info)?.[1]);
    return acked === offset;
  }, WAIT_MS, "the replica caught up");
}

/** The texts a socket received as live "message" events, in order. */
function received(s) {
  const got = [];
  s.on("message", (m) => got.push(m.text));
  return got;
}

describe("--store-replicas: a message is acknowledged once a replica has it", { timeout: 120_000 }, () => {
  before(async () => {
    primary = await startRedis();
    replica = await startRedis(["--replicaof", "127.0.0.1", String(primary.port)]);
    pc = createClient({ url: primary.url });
    rc = createClient({ url: replica.url });
    await Promise.all([pc.connect(), rc.connect()]);
    await eventually(async () => /^slave0:.*state=online/m.test(await pc.info("replication")), WAIT_MS, "the replica online");
    // long enough for a replica that keeps up on a loaded machine; short enough to wait out
    const wait = ["--store-replicas", "1", "--store-replicas-timeout", "1500"];
    node = await startChatnode(["--app", "chat", "--allow-anonymous", "--redis", primary.url, ...wait]);
    admin = await startAdminnode(["--redis", primary.url, ...wait], { ADMINNODE_API_KEYS: `${ADMIN}:admin` });
  });
  after(async () => {
    for (const s of opened) s.close();
    replica?.resume();
    await stopAll(node, admin);
    await pc?.quit();
    await rc?.quit();
    await replica?.stop();
    await primary?.stop();
  });

  it("acks ok while the replica keeps up; the retryable error while it does not; the retry is ok, stored once", async () => {
    const alice = await online("alice");
    const bob = await online("bob");
    const live = received(bob);
    assert.equal((await call(alice, "join", { room: "lobby" })).ok, true);
    assert.equal((await call(bob, "join", { room: "lobby" })).ok, true);
    for (const id of ["m-1", "m-2"]) {
      const ack = await call(alice, "message", { room: "lobby", text: id, id });
      assert.equal(ack.ok, true, JSON.stringify(ack));
      assert.ok(ack.id);
    }

    replica.pause();
    const refused = await call(alice, "message", { room: "lobby", text: "during", id: "m-3" });
    assert.deepEqual(refused, REFUSED);
    // stored on the primary all the same, under one stream id
    const onPrimary = (await pc.xRange("socket.io:chat:{room:lobby}", "-", "+")).filter((e) => e.message.text === "during");
    assert.equal(onPrimary.length, 1);
    // a retry while the replica is still behind is refused again, and stores nothing new
    assert.deepEqual(await call(alice, "message", { room: "lobby", text: "during", id: "m-3" }), REFUSED);

    replica.resume();
    // the page's retry: the same client id again, until the replica has caught up
    let retried;
    await eventually(async () => {
      retried = await call(alice, "message", { room: "lobby", text: "during", id: "m-3" });
      if (!retried.ok) assert.deepEqual(retried, REFUSED);
      return retried.ok === true;
    }, WAIT_MS, "the retry acked ok");
    assert.equal(retried.id, onPrimary[0].id, "the retry gets the first attempt's stream id");
    assert.equal((await call(alice, "message", { room: "lobby", text: "after", id: "m-4" })).ok, true);
    await eventually(() => live.includes("after"), WAIT_MS, "bob gets the next message");

    assert.deepEqual(live, ["m-1", "m-2", "during", "after"], "each delivered live once");
    const h = await call(bob, "history", { room: "lobby", limit: 10 });
    assert.deepEqual(h.messages.map((m) => [m.text, m.id]).filter(([t]) => t === "during"), [["during", retried.id]]);
    assert.deepEqual(h.messages.map((m) => m.text), ["m-1", "m-2", "during", "after"]);
    // and the replica has it (WAIT said so)
    const onReplica = await rc.xRange("socket.io:chat:{room:lobby}", retried.id, retried.id);
    assert.equal(onReplica.length, 1);
  });

  it("adminnode: a system message is answered 503 while the replica is behind, 201 once it keeps up", async () => {
    const ok = await api("POST", "/rooms/news/messages", { text: "first" });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    replica.pause();
    const refused = await api("POST", "/rooms/news/messages", { text: "second" });
    replica.resume();
    await caughtUp();
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, "unavailable");
    assert.match(refused.body.error.message, /^stored as \d+-\d+, but fewer than 1 replicas/);
    const again = await api("POST", "/rooms/news/messages", { text: "third" });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    const h = await api("GET", "/rooms/news/history");
    assert.deepEqual(h.body.messages.map((m) => m.text), ["first", "second", "third"]);
  });
});
