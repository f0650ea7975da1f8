// A chatnode and a Node.js socket.io 4.8 server with @socket.io/redis-adapter 8.x's
// createShardedAdapter (node-redis 4.7's cluster client, subscription mode "dynamic") on a
// six-node Redis Cluster: broadcasts flow both ways with rooms, except and binary, a one-room
// broadcast travels once, on that room's shard channel, and each server is subscribed to a
// room's channel exactly while it has members there; the Node side's fetchSockets,
// serverSideEmitWithAck, emitWithAck, socketsJoin/socketsLeave and disconnectSockets reach the
// chatnode's sockets, and the chatnode's requests are answered by the Node server, every one
// with all the answers (docs/protocols.md, "The sharded adapter"). The chatnode runs with its
// defaults on a redis+cluster:// URL: the sharded format, mode dynamic, prefix "socket.io".
// Exercises chatnode/cluster.c and the cluster bus end to end.
import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import notepack from "notepack.io";
import { createClient, createCluster } from "redis";
import { startChatnode, stopAll, eventually, waitFor, WAIT_MS } from "./lib/harness.mjs";
import { client, closeAllClients, connected, emitAck, record, echo, withoutOffset, withoutOffsets } from "./lib/clients.mjs";
import { startNodePeer } from "./lib/node_peer.mjs";
import { startRedisCluster } from "./lib/redis_topology.mjs";

const FLAGS = ["--app", "echo", "--echo-test-events", "--ping-interval", "5000", "--ping-timeout", "5000"];
const NS = "socket.io#/#"; // the namespace channel of "/"
const roomChannel = (room) => `${NS}${room}#`;
const only = (got, ev) => got.filter((e) => e[0] === ev);
// The chatnode runs with recovery on (its default): what its clients receive ends with an
// offset, checked and taken off by withoutOffset(); the Node server's clients, and the
// packets on the bus, carry none.

let cluster, cn, peer, peerChannel, cnChannel;
const nodeClients = new Map(); // port -> node-redis client of that one server
const owners = new Map(); // channel -> port of the primary owning its slot

async function nodeClient(port) {
  if (!nodeClients.has(port)) {
    const c = createClient({ url: `redis://127.0.0.1:${port}` });
    c.on("error", () => {});
    nodeClients.set(port, c.connect().then(() => c));
  }
  return nodeClients.get(port);
}

/** PUBSUB SHARDNUMSUB of channel on the primary that owns its slot: who listens there. */
async function shardNumSub(channel) {
  if (!owners.has(channel)) owners.set(channel, await cluster.primaryOfSlot(await cluster.keySlot(channel)));
  const reply = await (await nodeClient(owners.get(channel))).sendCommand(["PUBSUB", "SHARDNUMSUB", channel]);
  return Number(reply[1]);
}

/** Every shard channel of "/" that has a subscriber on some node of the cluster, sorted. */
async function shardChannels() {
  const lists = await Promise.all(cluster.ports.map(async (p) =>
    (await nodeClient(p)).sendCommand(["PUBSUB", "SHARDCHANNELS", `${NS}*`])));
  return [...new Set(lists.flat())].sort();
}

/**
 * A cluster client SSUBSCRIBEd to channels; seen holds [channel, message] as they come, the
 * message decoded as the adapter does ('{' first: JSON, else msgpack) with its format.
 */
async function watch(...channels) {
  const w = createCluster({ rootNodes: cluster.ports.map((p) => ({ url: `redis://127.0.0.1:${p}` })) });
  w.on("error", () => {});
  await w.connect();
  const seen = [];
  for (const ch of channels) {
    await w.sSubscribe(ch, (payload, channel) => {
      const json = payload[0] === 0x7b;
      seen.push([channel.toString(), json ? JSON.parse(payload.toString()) : notepack.decode(payload), json ? "json" : "msgpack"]);
    }, true);
  }
  return { seen, close: () => w.quit() };
}

/** The broadcasts (type 3) a watcher saw on channel, as [event name, message, format]. */
const broadcastsOn = (w, channel) => w.seen.filter(([ch, m]) => ch === channel && m.type === 3)
  .map(([, m, format]) => [m.data.packet.data[0], m, format]);

describe("chatnode with a Node.js sharded-adapter server on Redis Cluster", { timeout: 120_000 }, () => {
  before(async () => {
    cluster = await startRedisCluster();
    cn = await startChatnode([...FLAGS, "--redis", cluster.url]);
    peer = await startNodePeer({ redisUrl: cluster.url, adapter: "sharded", subscriptionMode: "dynamic" });
    peer.io.on("hello", (x, cb) => cb(`node:${x}`));
    peerChannel = roomChannel(peer.io.of("/").adapter.uid);
    // each server listens on the namespace channel and on its own response channel, and a
    // server without clients on nothing else
    await eventually(async () => (await shardNumSub(NS)) === 2, WAIT_MS, "both servers on the namespace channel");
    let channels;
    await eventually(async () => {
      channels = await shardChannels();
      return channels.includes(peerChannel) && channels.length >= 3;
    }, WAIT_MS, "both servers' response channels");
    assert.equal(channels.length, 3, channels.join(" "));
    cnChannel = channels.find((c) => c !== NS && c !== peerChannel);
  });
  after(async () => {
    closeAllClients();
    await peer?.close();
    for (const c of nodeClients.values()) await (await c).quit().catch(() => {});
    try {
      await stopAll(cn);
    } finally {
      await cluster?.stop();
    }
  });
  afterEach(closeAllClients);

  it("room broadcasts both ways, with except and binary, each once on the room's shard channel", async () => {
    const [c1, c2, p1] = await Promise.all([
      connected(client(cn, "/", { transports: ["websocket"] })),
      connected(client(cn, "/", { transports: ["polling"] })),
      connected(client(peer, "/", { transports: ["websocket"] })),
    ]);
    // Node's dynamic mode takes a room of 20 characters for a socket id, sent on the namespace channel
    assert.equal(c1.id.length, 20, c1.id);
    const got = [c1, c2, p1].map(record);
    for (const s of [c1, c2, p1]) assert.deepEqual(await emitAck(s, "join", "mixed"), []);
    await eventually(async () => (await shardNumSub(roomChannel("mixed"))) === 2, WAIT_MS, "both servers on mixed's channel");
    const w = await watch(roomChannel("mixed"), NS);
    try {
      await emitAck(c1, "broadcast", { rooms: ["mixed"], except: [c1.id] }, "from-chatnode", { n: 1 }, Buffer.from([9, 8]));
      await eventually(() => only(got[2], "from-chatnode").length && only(got[1], "from-chatnode").length, WAIT_MS);
      assert.deepEqual(only(got[2], "from-chatnode"), [["from-chatnode", { n: 1 }, Buffer.from([9, 8])]]);
      assert.deepEqual(withoutOffsets(only(got[1], "from-chatnode")), [["from-chatnode", { n: 1 }, Buffer.from([9, 8])]]);
      await echo(c1, "sync");
      assert.deepEqual(only(got[0], "from-chatnode"), []);

      await emitAck(c2, "broadcast", "mixed", "plain", "text", 2.5);
      await eventually(() => only(got[2], "plain").length, WAIT_MS);
      assert.deepEqual(only(got[2], "plain"), [["plain", "text", 2.5]]);

      peer.io.to("mixed").except(c2.id).emit("from-node", "hi", 2.5, Buffer.from([1]));
      await eventually(() => only(got[0], "from-node").length && only(got[2], "from-node").length, WAIT_MS);
      assert.deepEqual(withoutOffsets(only(got[0], "from-node")), [["from-node", "hi", 2.5, Buffer.from([1])]]);
      await echo(c2, "sync");
      assert.deepEqual(only(got[1], "from-node"), []);

      // to one socket id: on the namespace channel; a Date arrives as JSON would have it
      const when = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));
      peer.io.to(c2.id).emit("to-one", "c2", when, { big: 2 ** 53, neg: -1.25, none: null });
      await eventually(() => only(got[1], "to-one").length, WAIT_MS);
      assert.deepEqual(withoutOffsets(only(got[1], "to-one")), [["to-one", "c2", "2024-01-02T03:04:05.678Z", { big: 2 ** 53, neg: -1.25, none: null }]]);

      // to everyone: on the namespace channel, where anything the chatnode sent before it would
      // have come first; the room broadcasts reached their clients, so the watcher has them too
      await emitAck(c1, "broadcast", null, "to-all");
      await eventually(() => only(got[2], "to-all").length, WAIT_MS);
      await eventually(() => broadcastsOn(w, NS).some(([ev]) => ev === "to-all") &&
        broadcastsOn(w, NS).length + broadcastsOn(w, roomChannel("mixed")).length >= 5, WAIT_MS, "the watcher to see the broadcasts");
      assert.deepEqual(broadcastsOn(w, NS).map(([ev]) => ev).sort(), ["to-all", "to-one"]);
      const onRoom = broadcastsOn(w, roomChannel("mixed"));
      assert.deepEqual(onRoom.map(([ev]) => ev).sort(), ["from-chatnode", "from-node", "plain"]);
      const [, bin, binFormat] = onRoom.find(([ev]) => ev === "from-chatnode");
      assert.equal(binFormat, "msgpack");
      assert.deepEqual(Object.keys(bin), ["type", "data", "uid", "nsp"]);
      assert.deepEqual(bin.data.packet, { type: 2, data: ["from-chatnode", { n: 1 }, Buffer.from([9, 8])] });
      assert.deepEqual([bin.data.opts.rooms, bin.data.opts.except], [["mixed"], [c1.id]]);
      assert.equal(bin.nsp, "/");
      assert.equal(roomChannel(bin.uid), cnChannel, "the chatnode's uid names its response channel");
      const [, plain, plainFormat] = onRoom.find(([ev]) => ev === "plain");
      assert.equal(plainFormat, "json");
      assert.deepEqual(plain.data.packet, { type: 2, data: ["plain", "text", 2.5] });
      assert.deepEqual([plain.data.opts.rooms, plain.data.opts.except], [["mixed"], []]);
      assert.equal(plain.uid, bin.uid);
    } finally {
      await w.close();
    }
    await eventually(async () => (await shardNumSub(NS)) === 2, WAIT_MS, "the watcher to be gone");
  });

  it("a room's shard channel has each server on it exactly while it has members in the room", async () => {
    const [c1, c2, p1] = await Promise.all([cn, cn, peer].map((n) => connected(client(n, "/", { transports: ["websocket"] }))));
    const life = roomChannel("life");
    await emitAck(c1, "join", "life");
    await eventually(async () => (await shardNumSub(life)) === 1, WAIT_MS, "the chatnode on life's channel");
    await emitAck(c2, "join", "life"); // a second local member: still one subscription
    await emitAck(p1, "join", "life");
    await eventually(async () => (await shardNumSub(life)) === 2, WAIT_MS, "both servers on life's channel");
    await emitAck(c1, "leave", "life");
    await emitAck(p1, "leave", "life");
    await eventually(async () => (await shardNumSub(life)) === 1, WAIT_MS, "the Node server off life's channel");
    assert.equal((await emitAck(c2, "broadcast", "life", "still-here"))[0], 1, "c2 is still in life");
    assert.equal(await shardNumSub(life), 1, "the chatnode stays while c2 is in life");
    c2.disconnect();
    await eventually(async () => (await shardNumSub(life)) === 0, WAIT_MS, "the chatnode off life's channel");
    // no channel for a socket's own room in dynamic mode
    assert.equal(await shardNumSub(roomChannel(c1.id)), 0);
    assert.equal(await shardNumSub(roomChannel(p1.id)), 0);
    assert.deepEqual(await shardChannels(), [NS, cnChannel, peerChannel].sort());
  });

  it("the Node server's fetchSockets includes the chatnode's sockets with their rooms", async () => {
    const c1 = await connected(client(cn, "/", { transports: ["websocket"] }));
    const p1 = await connected(client(peer, "/", { transports: ["websocket"] }));
    await emitAck(c1, "join", "fetch-room");
    await emitAck(p1, "join", "fetch-room");
    await emitAck(c1, "join", "c1-only");
    const sockets = await peer.io.in("fetch-room").fetchSockets();
    assert.deepEqual(sockets.map((s) => s.id).sort(), [c1.id, p1.id].sort());
    const remote = sockets.find((s) => s.id === c1.id);
    assert.deepEqual([...remote.rooms].sort(), [c1.id, "c1-only", "fetch-room"].sort());
    const hs = remote.handshake;
    assert.match(hs.address, /127\.0\.0\.1/);
    assert.ok(Math.abs(hs.issued - Date.now()) < 60_000, `issued ${hs.issued}`);
    assert.ok(!Number.isNaN(Date.parse(hs.time)), `time ${hs.time}`);
    assert.equal(hs.query.EIO, "4");
    assert.equal(hs.query.transport, "websocket");
    assert.deepEqual(hs.auth, {});
    const all = await peer.io.fetchSockets();
    assert.deepEqual(all.map((s) => s.id).sort(), [c1.id, p1.id].sort());
    assert.deepEqual((await peer.io.in("c1-only").fetchSockets()).map((s) => s.id), [c1.id]);
  });

  it("serverSideEmitWithAck and emitWithAck from the Node server, and the chatnode's requests, get every answer", async () => {
    const c1 = await connected(client(cn, "/", { transports: ["websocket"] }));
    const c2 = await connected(client(cn, "/", { transports: ["polling"] }));
    const p1 = await connected(client(peer, "/", { transports: ["websocket"] }));
    const seen = waitFor(c1, "server-event");
    assert.deepEqual(await peer.io.serverSideEmitWithAck("hello", 1, { two: 2 }), [["hello", 1, { two: 2 }]]);
    assert.deepEqual(withoutOffset(await seen), ["hello", 1, { two: 2 }]);

    for (const [s, name] of [[c1, "c1"], [c2, "c2"], [p1, "p1"]]) s.on("question", (x, ack) => ack(`${name}:${x}`, "ignored"));
    // Node keeps each ack request's timer to its end: its default bound, not a longer one
    const answers = await peer.io.timeout(5000).emitWithAck("question", 7);
    assert.deepEqual(answers.sort(), ["c1:7", "c2:7", "p1:7"]);
    const binary = await peer.io.to(c1.id).timeout(5000).emitWithAck("question", Buffer.from([1]));
    assert.deepEqual(binary, ["c1:\u0001"]);

    await emitAck(c2, "join", "asked");
    await emitAck(p1, "join", "asked");
    const [acks] = await emitAck(c1, "cluster-emit-ack", "asked", "question", 1);
    assert.deepEqual([acks.complete, acks.servers, acks.answered], [true, 1, 1], JSON.stringify(acks));
    assert.deepEqual(acks.items.sort(), ["c2:1", "p1:1"]);
    const [emitted] = await emitAck(c1, "cluster-server-emit", "hello", 42);
    assert.deepEqual([emitted.complete, emitted.servers, emitted.answered], [true, 1, 1], JSON.stringify(emitted));
    assert.deepEqual(emitted.items, ["node:42"]);
    const [fetched] = await emitAck(c1, "cluster-fetch", "asked");
    assert.deepEqual([fetched.complete, fetched.servers, fetched.answered], [true, 1, 1], JSON.stringify(fetched));
    assert.deepEqual(fetched.items, [c2.id, p1.id].sort());
  });

  it("socketsJoin, socketsLeave and disconnectSockets from the Node server reach chatnode sockets", async () => {
    const c1 = await connected(client(cn, "/", { transports: ["websocket"] }));
    const c2 = await connected(client(cn, "/", { transports: ["websocket"] }));
    const got = [c1, c2].map(record);
    await emitAck(c1, "join", "src");
    peer.io.in("src").socketsJoin("dst");
    // the chatnode alone has members in dst, so it alone listens on dst's channel
    await eventually(async () => (await shardNumSub(roomChannel("dst"))) === 1, WAIT_MS, "c1 to be in dst");
    peer.io.to("dst").emit("dst-news", 1);
    await eventually(() => only(got[0], "dst-news").length, WAIT_MS);
    assert.deepEqual(withoutOffsets(only(got[0], "dst-news")), [["dst-news", 1]]);
    await echo(c2, "sync");
    assert.deepEqual(only(got[1], "dst-news"), []);
    peer.io.in("src").socketsLeave("dst");
    await eventually(async () => (await shardNumSub(roomChannel("dst"))) === 0, WAIT_MS, "c1 to leave dst");
    assert.equal((await emitAck(c2, "broadcast", "dst", "dst-gone"))[0], 0);

    const gone = waitFor(c1, "disconnect");
    peer.io.in(c1.id).disconnectSockets();
    assert.equal((await gone)[0], "io server disconnect");
    const closed = waitFor(c2, "disconnect");
    peer.io.in(c2.id).disconnectSockets(true);
    assert.equal((await closed)[0], "transport close");
  });
});
