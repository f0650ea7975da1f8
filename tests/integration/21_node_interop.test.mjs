// A chatnode and a Node.js socket.io 4.8 server with @socket.io/redis-adapter 8.x on one Redis,
// plus @socket.io/redis-emitter 5.x: broadcasts flow both ways with rooms and except, and the
// Node side's fetchSockets, allRooms, socketsJoin/socketsLeave and disconnectSockets, and the
// emitter's calls, reach the chatnode's sockets. Exercises chatnode/cluster.c end to end.
import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";
import { startChatnode, startRedis, stopAll, eventually, httpRequest, waitFor, WAIT_MS, busUp } from "./lib/harness.mjs";
import { client, closeAllClients, connected, emitAck, record, echo, withoutOffset, withoutOffsets } from "./lib/clients.mjs";
import { startNodePeer } from "./lib/node_peer.mjs";

let redis, cn, peer, emitterClient, emitter;

const only = (got, ev) => got.filter((e) => e[0] === ev);

// The chatnode runs with recovery on (the default): what its clients receive ends with an
// offset, checked and taken off by withoutOffset(); the Node server's clients get none.

describe("chatnode with a Node.js socket.io server and the emitter", { timeout: 120_000 }, () => {
  before(async () => {
    redis = await startRedis();
    cn = await startChatnode(["--app", "echo", "--echo-test-events", "--ping-interval", "5000", "--ping-timeout", "5000", "--redis", redis.url]);
    peer = await startNodePeer({ redisUrl: redis.url, requestsTimeout: 3000 });
    emitterClient = createClient({ url: redis.url });
    emitterClient.on("error", () => {});
    await emitterClient.connect();
    emitter = new Emitter(emitterClient);
    await busUp(cn);
  });
  after(async () => {
    closeAllClients();
    await peer?.close();
    await emitterClient?.quit().catch(() => {});
    await stopAll(cn);
    await redis.stop();
  });
  afterEach(closeAllClients);

  it("a chatnode room broadcast reaches the Node server's clients, and back, with except", async () => {
    const [c1, c2, p1] = await Promise.all([
      connected(client(cn, "/", { transports: ["websocket"] })),
      connected(client(cn, "/", { transports: ["websocket"] })),
      connected(client(peer, "/", { transports: ["websocket"] })),
    ]);
    const got = [c1, c2, p1].map(record);
    for (const s of [c1, c2, p1]) assert.deepEqual(await emitAck(s, "join", "mixed"), []);
    await eventually(async () => {
      await emitAck(c1, "broadcast", "mixed", "probe");
      return only(got[2], "probe").length > 0;
    }, WAIT_MS, "chatnode -> Node delivery");
    await emitAck(c1, "broadcast", { rooms: ["mixed"], except: [c1.id] }, "from-chatnode", { n: 1 }, Buffer.from([9, 8]));
    await eventually(() => only(got[2], "from-chatnode").length && only(got[1], "from-chatnode").length, WAIT_MS);
    assert.deepEqual(only(got[2], "from-chatnode"), [["from-chatnode", { n: 1 }, Buffer.from([9, 8])]]);
    await echo(c1, "sync");
    assert.deepEqual(only(got[0], "from-chatnode"), []);

    peer.io.to("mixed").except(c2.id).emit("from-node", "hi", 2.5, Buffer.from([1]));
    await eventually(() => only(got[0], "from-node").length && only(got[2], "from-node").length, WAIT_MS);
    assert.deepEqual(withoutOffsets(only(got[0], "from-node")), [["from-node", "hi", 2.5, Buffer.from([1])]]);
    await echo(c2, "sync");
    assert.deepEqual(only(got[1], "from-node"), []);

    const when = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));
    peer.io.to(c2.id).emit("to-one", "c2", when, { big: 2 ** 53, neg: -1.25, none: null });
    await eventually(() => only(got[1], "to-one").length, WAIT_MS);
    // a Date travels as the msgpack Timestamp extension and reaches the client as JSON would
    assert.deepEqual(withoutOffsets(only(got[1], "to-one")), [["to-one", "c2", "2024-01-02T03:04:05.678Z", { big: 2 ** 53, neg: -1.25, none: null }]]);

    peer.io.to("mixed").volatile.emit("volatile-news", 1);
    await eventually(() => only(got[0], "volatile-news").length, WAIT_MS, "a volatile broadcast to an idle client");
  });

  it("the Node server's fetchSockets and allRooms include the chatnode's sockets", async () => {
    const c1 = await connected(client(cn, "/", { transports: ["websocket"] }));
    const p1 = await connected(client(peer, "/", { transports: ["websocket"] }));
    await emitAck(c1, "join", "fetch-room");
    await emitAck(p1, "join", "fetch-room");
    const sockets = await peer.io.in("fetch-room").fetchSockets();
    const ids = sockets.map((s) => s.id).sort();
    assert.deepEqual(ids, [c1.id, p1.id].sort());
    const remote = sockets.find((s) => s.id === c1.id);
    assert.ok(remote.rooms.has("fetch-room") && remote.rooms.has(c1.id));
    const hs = remote.handshake;
    assert.match(hs.address, /127\.0\.0\.1/);
    assert.ok(Math.abs(hs.issued - Date.now()) < 60_000, `issued ${hs.issued}`);
    assert.ok(!Number.isNaN(Date.parse(hs.time)), `time ${hs.time}`);
    assert.equal(hs.query.EIO, "4");
    assert.equal(hs.query.transport, "websocket");
    assert.deepEqual(hs.auth, {});
    const rooms = await peer.io.of("/").adapter.allRooms();
    assert.ok(rooms.has("fetch-room") && rooms.has(c1.id) && rooms.has(p1.id));
  });

  it("the Node server's serverSideEmit with ack and timeout().emit with acks include the chatnode", async () => {
    const c1 = await connected(client(cn, "/", { transports: ["websocket"] }));
    const c2 = await connected(client(cn, "/", { transports: ["polling"] }));
    const p1 = await connected(client(peer, "/", { transports: ["websocket"] }));
    const seen = waitFor(c1, "server-event");
    const responses = await peer.io.serverSideEmitWithAck("hello", 1, { two: 2 });
    assert.deepEqual(responses, [["hello", 1, { two: 2 }]]);
    assert.deepEqual(withoutOffset(await seen), ["hello", 1, { two: 2 }]);

    for (const [s, name] of [[c1, "c1"], [c2, "c2"], [p1, "p1"]]) s.on("question", (x, ack) => ack(`${name}:${x}`, "ignored"));
    const answers = await peer.io.timeout(3000).emitWithAck("question", 7);
    assert.deepEqual(answers.sort(), ["c1:7", "c2:7", "p1:7"]);
    const binary = await peer.io.to(c1.id).timeout(3000).emitWithAck("question", Buffer.from([1]));
    assert.deepEqual(binary, ["c1:\u0001"]);
  });

  it("answers the 7.x SOCKETS request with the ids in the rooms", async () => {
    const c1 = await connected(client(cn, "/", { transports: ["websocket"] }));
    await emitAck(c1, "join", "old-style");
    const sub = emitterClient.duplicate();
    sub.on("error", () => {});
    await sub.connect();
    try {
      // both servers answer: the chatnode with its socket, the Node server with none
      const answers = [];
      await sub.subscribe("socket.io-response#/#", (msg) => answers.push(JSON.parse(msg)));
      await eventually(async () => (await emitterClient.sendCommand(["PUBSUB", "NUMSUB", "socket.io-response#/#"]))[1] >= 2, WAIT_MS);
      await emitterClient.publish("socket.io-request#/#", JSON.stringify({ uid: "legacy", requestId: "old-1", type: 0, rooms: ["old-style"] }));
      await eventually(() => answers.length === 2, WAIT_MS, "two answers");
      const sorted = answers.sort((x, y) => y.sockets.length - x.sockets.length);
      assert.match(sorted[0].uid, /^[A-Za-z0-9_-]{6}$/, "the chatnode says who answered");
      delete sorted[0].uid;
      assert.deepEqual(sorted, [{ requestId: "old-1", sockets: [c1.id] }, { requestId: "old-1", sockets: [] }]);
    } finally {
      await sub.quit();
    }
  });

  it("socketsJoin, socketsLeave and disconnectSockets from the Node server reach chatnode sockets", async () => {
    const c1 = await connected(client(cn, "/", { transports: ["websocket"] }));
    const c2 = await connected(client(cn, "/", { transports: ["websocket"] }));
    const got = [c1, c2].map(record);
    await emitAck(c1, "join", "src");
    peer.io.in("src").socketsJoin("dst");
    await eventually(async () => {
      await emitAck(c2, "broadcast", "dst", "dst-news");
      return only(got[0], "dst-news").length > 0;
    }, WAIT_MS, "c1 to be in dst");
    peer.io.in("src").socketsLeave("dst");
    await eventually(async () => {
      const n = await emitAck(c2, "broadcast", "dst", "dst-gone");
      return n[0] === 0;
    }, WAIT_MS, "c1 to leave dst");
    const gone = waitFor(c1, "disconnect");
    peer.io.in(c1.id).disconnectSockets();
    assert.equal((await gone)[0], "io server disconnect");
    assert.ok(c2.connected);
  });

  it("the emitter's emit, to, except, of, socketsJoin, socketsLeave and disconnectSockets", async () => {
    const c1 = await connected(client(cn, "/", { transports: ["websocket"] }));
    const c2 = await connected(client(cn, "/", { transports: ["polling"] }));
    const k1 = await connected(client(cn, "/custom", { transports: ["websocket"] }));
    const got = [c1, c2, k1].map(record);
    await emitAck(c1, "join", "em");
    await emitAck(c2, "join", "em");
    emitter.emit("em-all", 1);
    emitter.to("em").except(c2.id).emit("em-room", { x: [1, 2] });
    emitter.of("/custom").emit("em-custom", "k");
    await eventually(() => only(got[0], "em-room").length && only(got[2], "em-custom").length && only(got[1], "em-all").length, WAIT_MS);
    assert.deepEqual(withoutOffsets(only(got[0], "em-all")), [["em-all", 1]]);
    assert.deepEqual(withoutOffsets(only(got[0], "em-room")), [["em-room", { x: [1, 2] }]]);
    assert.deepEqual(withoutOffsets(only(got[2], "em-custom")), [["em-custom", "k"]]);
    await echo(c2, "sync");
    assert.deepEqual(only(got[1], "em-room"), []);
    assert.deepEqual(only(got[2], "em-all"), []); // another namespace
    emitter.serverSideEmit("from-emitter", "e");
    assert.deepEqual(withoutOffset(await waitFor(c1, "server-event")), ["from-emitter", "e"]);

    emitter.in("em").socketsJoin("em2");
    await eventually(async () => {
      const n = await emitAck(c1, "broadcast", "em2", "em2-news");
      return n[0] === 2;
    }, WAIT_MS, "both to join em2");
    emitter.in(c2.id).socketsLeave("em2");
    await eventually(async () => (await emitAck(c1, "broadcast", "em2", "em2-news"))[0] === 1, WAIT_MS, "c2 to leave em2");
    const gone = waitFor(c2, "disconnect");
    emitter.in(c2.id).disconnectSockets(true);
    assert.equal((await gone)[0], "transport close");
    assert.ok(c1.connected);
  });
});
