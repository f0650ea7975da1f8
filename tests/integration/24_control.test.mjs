// A chatnode's control traffic on Redis: heartbeats with the node's figures, the expiring
// registry entry, drain and undrain commands (new sessions refused, clients moved off with a
// transport close so that they reconnect), and the user each chat socket carries in
// fetch-sockets answers; WebSocket frames queued for one client in one loop turn going out in
// one write, and a sender's burst to a big room reaching each member in a few writes, as the
// heartbeat's counters show. Exercises chatnode/control.c and the batching in eio_session.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { startChatnode, startRedis, stopAll, eventually, httpRequest, waitFor, WAIT_MS } from "./lib/harness.mjs";

let redis, node, rc, sub;
const heartbeats = [];
const replies = [];

describe("heartbeats, the registry and drain", { timeout: 120_000 }, () => {
  before(async () => {
    redis = await startRedis();
    node = await startChatnode(["--allow-anonymous", "--redis", redis.url, "--heartbeat-interval", "200",
      "--ping-interval", "5000", "--ping-timeout", "5000", "--drain-batch", "2", "--drain-interval", "50"]);
    rc = createClient({ url: redis.url });
    rc.on("error", () => {});
    await rc.connect();
    sub = rc.duplicate();
    sub.on("error", () => {});
    await sub.connect();
    // this node's only: another test starts a node of its own on the same Redis
    await sub.subscribe("chatcluster:heartbeat", (m) => {
      const h = JSON.parse(m);
      if (h.pid === node.pid) heartbeats.push(h);
    });
    await sub.subscribe("chatcluster:reply", (m) => replies.push(JSON.parse(m)));
  });
  after(async () => {
    await sub?.quit().catch(() => {});
    await rc?.quit().catch(() => {});
    await stopAll(node);
    await redis.stop();
  });

  it("publishes heartbeats with the node's figures and keeps an expiring registry entry", async () => {
    const s = io(node.url, { forceNew: true, transports: ["websocket"], auth: { user: "hb" } });
    await waitFor(s, "connect");
    await s.emitWithAck("join", { room: "hb-room" });
    await eventually(() => heartbeats.some((h) => h.connections?.websocket === 1), WAIT_MS, "a heartbeat with the client");
    const h = heartbeats.at(-1);
    assert.equal(h.v, 1);
    assert.equal(h.type, "heartbeat");
    assert.match(h.id, /^[A-Za-z0-9_-]{6}$/);
    assert.equal(h.tag, `n${node.port}`);
    assert.equal(h.pid, node.pid);
    assert.match(h.version, /^\d+\.\d+\.\d+$/);
    assert.ok(Math.abs(h.started - Date.now()) < 120_000);
    assert.deepEqual(h.sockets, { "/": 1 });
    assert.ok(h.rooms >= 2, "the socket's own room and hb-room");
    assert.ok(h.rss > 1 << 20);
    assert.ok(h.bytes_in > 0 && h.bytes_out > 0);
    assert.equal(h.draining, false);
    assert.equal(h.bus.command, "connected");
    const entry = JSON.parse(await rc.get(`chatcluster:node:${h.id}`));
    assert.equal(entry.id, h.id);
    const ttl = await rc.ttl(`chatcluster:node:${h.id}`);
    assert.ok(ttl > 0 && ttl <= 5, `ttl ${ttl}`);

    // fetch-sockets answers carry the chat user
    const answers = [];
    const sub2 = rc.duplicate();
    await sub2.connect();
    await sub2.subscribe("socket.io-response#/#", (m) => answers.push(JSON.parse(m)));
    await rc.publish("socket.io-request#/#", JSON.stringify({ uid: "tester", requestId: "f1", type: 5, opts: { rooms: ["hb-room"], except: [] } }));
    await eventually(() => answers.length > 0, WAIT_MS);
    assert.deepEqual(answers[0].sockets.map((x) => x.data), [{ user: { id: "guest:hb", name: "hb" } }]);
    await sub2.quit();
    s.close();
  });

  it("counts WebSocket frames and writes: the frames one loop turn sends a client go in one write", async () => {
    // the echo app answers an event with three attachments at once: four frames, one write
    const echo = await echoNode();
    let s;
    try {
      s = io(echo.node.url, { forceNew: true, transports: ["websocket"] });
      await waitFor(s, "auth");
      // a heartbeat taken after the connect's frames were counted
      await eventually(() => echo.beats.some((h) => h.ws_frames_out >= 2), WAIT_MS, "the connect's frames counted");
      const before = await echo.nextBeat();
      const back = new Promise((resolve) => s.once("message-back", (...args) => resolve(args)));
      s.emit("message", Buffer.from([1]), Buffer.from([2, 2]), Buffer.from([3, 3, 3]));
      const args = await back;
      // (the last argument is the recovery offset the node adds with Redis)
      assert.deepEqual(args.slice(0, 3).map((b) => [...b]), [[1], [2, 2], [3, 3, 3]]);
      await eventually(() => echo.beats.at(-1).ws_frames_out >= before.ws_frames_out + 4, WAIT_MS, "the answer's frames counted");
      const after = echo.beats.at(-1);
      assert.equal(after.ws_frames_out - before.ws_frames_out, 4, "the event and its three attachments");
      assert.equal(after.ws_writes - before.ws_writes, 1, "all four in one write");
    } finally {
      s?.close();
      await echo.stop();
    }
  });

  it("a sender's burst to 1,100 clients goes to each in a few writes, not one per message", async () => {
    // libwebsockets reads a socket 128 bytes or so per loop turn: a burst of 30 messages of
    // 240 bytes, sent in one TCP write, takes some 50 turns to read. Written at the end of
    // each turn, each member would get 1 to 2 frames per write; the node holds a batch this
    // big while the sender's socket still has input, so each write carries many.
    const echo = await echoNode(["--handshake-rate", "0", "--echo-test-events"]);
    const url = `${echo.node.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`;
    const members = [];
    let got = 0;
    const connect = () => new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      ws.on("message", (data) => {
        const m = data.toString();
        if (m[0] === "0") ws.send("40");
        else if (m.startsWith("40")) resolve(ws);
        else if (m.startsWith('42["m",')) got++;
      });
      ws.once("error", reject);
      members.push(ws);
    });
    try {
      for (let i = 0; i < 1100; i += 100) await Promise.all(Array.from({ length: 100 }, connect));
      const sender = await connect();
      const burst = [];
      for (let i = 0; i < 30; i++) {
        // a masked client text frame (mask 0: the payload as it is), 126: a 16-bit length
        const p = Buffer.from(`42["broadcast",null,"m",${i},"${"x".repeat(200)}"]`);
        burst.push(Buffer.from([0x81, 0x80 | 126, p.length >> 8, p.length & 255, 0, 0, 0, 0]), p);
      }
      const before = await echo.nextBeat();
      sender._socket.write(Buffer.concat(burst));
      const expected = 30 * members.length;
      await eventually(() => got === expected, WAIT_MS * 3, `${expected} deliveries (${got})`);
      await eventually(() => echo.beats.at(-1).ws_frames_out - before.ws_frames_out >= expected, WAIT_MS, "the frames counted");
      const after = echo.beats.at(-1);
      const frames = after.ws_frames_out - before.ws_frames_out;
      const perWrite = frames / (after.ws_writes - before.ws_writes);
      // written at each turn's end: 1.5 to 3 frames per write; held while the sender has more: 10
      assert.ok(perWrite >= 6, `frames per write: ${perWrite.toFixed(2)} (${frames} frames)`);
    } finally {
      members.forEach((ws) => ws.terminate());
      await echo.stop();
    }
  });

  it("drain moves clients off with a transport close and refuses new sessions; undrain ends it", async () => {
    const id = heartbeats.at(-1).id;
    const clients = [];
    for (let i = 0; i < 5; i++) {
      const c = io(node.url, { forceNew: true, transports: ["websocket"], auth: { user: `d${i}` }, reconnectionDelay: 100, reconnectionDelayMax: 200 });
      clients.push(c);
    }
    try {
      await drainAndUndrain(id, clients);
    } finally {
      clients.forEach((c) => c.close()); // a failure above leaves none reconnecting for ever
    }
  });
});

/** An echo node on the suite's Redis and the heartbeats it publishes (every 100 ms). */
async function echoNode(extra = []) {
  const node = await startChatnode(["--app", "echo", "--redis", redis.url, "--heartbeat-interval", "100",
    "--ping-interval", "60000", "--ping-timeout", "60000", ...extra]);
  const beats = [];
  const s = rc.duplicate();
  s.on("error", () => {});
  try {
    await s.connect();
    await s.subscribe("chatcluster:heartbeat", (m) => {
      const h = JSON.parse(m);
      if (h.pid === node.pid) beats.push(h);
    });
  } catch (err) {
    await stopAll(node);
    throw err;
  }
  return {
    node,
    beats,
    /** A heartbeat published after this call. */
    async nextBeat() {
      const n = beats.length;
      await eventually(() => beats.length > n, WAIT_MS, "a heartbeat");
      return beats.at(-1);
    },
    async stop() {
      await s.quit().catch(() => {});
      await stopAll(node);
    },
  };
}

/** Drains the node, checks the clients were moved off and new sessions refused, undrains. */
async function drainAndUndrain(id, clients) {
  await Promise.all(clients.map((c) => waitFor(c, "connect")));
  const reasons = clients.map((c) => waitFor(c, "disconnect"));
  await rc.publish(`chatcluster:command:${id}`, JSON.stringify({ v: 1, type: "drain", id: "cmd-1" }));
  await eventually(() => replies.some((r) => r.id === "cmd-1"), WAIT_MS, "the reply");
  assert.deepEqual(replies.find((r) => r.id === "cmd-1"), { v: 1, type: "reply", id: "cmd-1", node: id, ok: true, draining: true });
  for (const r of await Promise.all(reasons)) assert.equal(r[0], "transport close", "a close that makes the client reconnect");
  const health = JSON.parse((await httpRequest(`${node.url}/healthz`)).body);
  assert.equal(health.draining, true);
  const refused = await httpRequest(`${node.url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(refused.status, 503);
  await eventually(() => heartbeats.at(-1).draining === true, WAIT_MS);

  await rc.publish("chatcluster:command:all", JSON.stringify({ v: 1, type: "undrain", id: "cmd-2" }));
  await eventually(() => clients.every((c) => c.connected), WAIT_MS, "the clients to reconnect once undrained");
  assert.equal(JSON.parse((await httpRequest(`${node.url}/healthz`)).body).draining, false);
}
