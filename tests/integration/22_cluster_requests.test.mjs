// Requests a chatnode makes across the cluster (fetch sockets, all rooms, server-side emit with
// answers, broadcast with acks, remote join/leave/disconnect), answered by another chatnode and
// by a Node.js socket.io server, each bounded by --requests-timeout with a partial result that
// says what is missing. Driven through the echo app's cluster-* events.
// Exercises chatnode/cluster.c (issued requests) and app_echo.c.
import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { startChatnode, startRedis, stopAll, eventually, httpRequest, waitFor, WAIT_MS, busUp } from "./lib/harness.mjs";
import { client, closeAllClients, connected, emitAck, withoutOffset } from "./lib/clients.mjs";
import { startNodePeer } from "./lib/node_peer.mjs";

const FLAGS = ["--app", "echo", "--echo-test-events", "--ping-interval", "5000", "--ping-timeout", "5000", "--requests-timeout", "1500"];
let redis, n1, n2, peer;

describe("cluster-wide requests made by a chatnode", { timeout: 120_000 }, () => {
  before(async () => {
    redis = await startRedis();
    [n1, n2] = await Promise.all([startChatnode([...FLAGS, "--redis", redis.url]), startChatnode([...FLAGS, "--redis", redis.url])]);
    peer = await startNodePeer({ redisUrl: redis.url, requestsTimeout: 3000 });
    peer.io.on("hello", (x, cb) => cb(`node:${x}`));
    await busUp(n1);
    await busUp(n2);
  });
  after(async () => {
    closeAllClients();
    await peer?.close();
    await stopAll(n1, n2);
    await redis.stop();
  });
  afterEach(closeAllClients);

  it("fetch sockets and all rooms cover both chatnodes and the Node server", async () => {
    const [a, b, p] = await Promise.all([n1, n2, peer].map((n) => connected(client(n, "/", { transports: ["websocket"] }))));
    for (const s of [a, b, p]) assert.deepEqual(await emitAck(s, "join", "everywhere"), []);
    await emitAck(b, "join", "b-only");
    const [fetched] = await emitAck(a, "cluster-fetch", "everywhere");
    assert.equal(fetched.complete, true, JSON.stringify(fetched));
    assert.equal(fetched.servers, 2);
    assert.equal(fetched.answered, 2);
    assert.deepEqual(fetched.items, [a.id, b.id, p.id].sort());
    const [except] = await emitAck(a, "cluster-fetch", { rooms: ["everywhere"], except: ["b-only"] });
    assert.deepEqual(except.items, [a.id, p.id].sort());

    const [rooms] = await emitAck(a, "cluster-rooms");
    assert.equal(rooms.complete, true);
    for (const r of ["everywhere", "b-only", a.id, b.id, p.id]) assert.ok(rooms.items.includes(r), r);
    assert.equal(rooms.items.filter((r) => r === "everywhere").length, 1, "rooms are listed once");
  });

  it("server-side emit collects the other servers' answers", async () => {
    const a = await connected(client(n1, "/", { transports: ["websocket"] }));
    const b = await connected(client(n2, "/", { transports: ["websocket"] }));
    const seen = waitFor(b, "server-event");
    const [res] = await emitAck(a, "cluster-server-emit", "hello", 42);
    assert.equal(res.complete, true, JSON.stringify(res));
    assert.deepEqual(res.items.sort(), [["hello", 42], "node:42"].sort());
    // recovery is on (the default): b's event ends with its offset
    assert.deepEqual(withoutOffset(await seen), ["hello", 42]);
  });

  it("broadcast with acks gathers every client's ack, local and remote", async () => {
    const [a, a2, b, p] = await Promise.all([n1, n1, n2, peer].map((n) => connected(client(n, "/", { transports: ["websocket"] }))));
    for (const [s, name] of [[a, "a"], [a2, "a2"], [b, "b"], [p, "p"]]) s.on("question", (x, ack) => ack(`${name}:${x}`));
    for (const s of [a2, b, p]) await emitAck(s, "join", "asked");
    const [res] = await emitAck(a, "cluster-emit-ack", "asked", "question", 1);
    assert.equal(res.complete, true, JSON.stringify(res));
    assert.deepEqual(res.items.sort(), ["a2:1", "b:1", "p:1"]);
  });

  it("remote join, leave and disconnect reach the other chatnode and the Node server", async () => {
    const [a, b, p] = await Promise.all([n1, n2, peer].map((n) => connected(client(n, "/", { transports: ["websocket"] }))));
    await emitAck(b, "join", "src2");
    await emitAck(p, "join", "src2");
    assert.deepEqual(await emitAck(a, "cluster-join", "src2", "dst2"), []);
    await eventually(async () => (await emitAck(a, "cluster-fetch", "dst2"))[0].items.length === 2, WAIT_MS, "both in dst2");
    assert.deepEqual(await emitAck(a, "cluster-leave", b.id, "dst2"), []);
    await eventually(async () => {
      const [r] = await emitAck(a, "cluster-fetch", "dst2");
      return r.items.length === 1 && r.items[0] === p.id;
    }, WAIT_MS, "b out of dst2");
    const goneB = waitFor(b, "disconnect");
    const goneP = waitFor(p, "disconnect");
    await emitAck(a, "cluster-disconnect", "src2", false);
    assert.equal((await goneB)[0], "io server disconnect");
    assert.equal((await goneP)[0], "io server disconnect");
    assert.ok(a.connected);
  });

  it("a server that does not answer gives a partial result, not a hang", async () => {
    const a = await connected(client(n1, "/", { transports: ["websocket"] }));
    n2.pause();
    try {
      const started = Date.now();
      const [res] = await emitAck(a, "cluster-fetch", null);
      assert.equal(res.complete, false);
      assert.equal(res.servers, 2);
      assert.equal(res.answered, 1, "the Node server answered, the stopped chatnode did not");
      assert.match(res.error, /timed out/);
      assert.ok(res.items.includes(a.id));
      assert.ok(Date.now() - started < WAIT_MS);
    } finally {
      n2.resume();
    }
  });

  it("a node running alone answers from its own sockets", async () => {
    const alone = await startChatnode(FLAGS);
    try {
      const a = await connected(client(alone, "/", { transports: ["websocket"] }));
      const [res] = await emitAck(a, "cluster-fetch", null);
      assert.deepEqual(res, { complete: true, servers: 0, answered: 0, items: [a.id] });
    } finally {
      closeAllClients();
      await alone.stop();
    }
  });
});
