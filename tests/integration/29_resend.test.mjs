// A chat message whose node dies between storing it and publishing it. Node A reaches Redis
// through a TCP relay that SIGKILLs A the moment A sends its first command about the message
// after storing it (recording its event, or logging and publishing it; never forwarded), so
// the message is in the history and reached no one. Its sender was not told it was stored
// (the answer waits for the log), comes back on node B and sends it again under the same
// client id: B finds it stored, sees that the log never got it, and delivers it as stored,
// exactly once, to the room or to a private conversation, recording its event. A
// message that did go out and is sent again is not delivered a second time, from either node;
// one sent again after the log's retention is not delivered (the log can no longer tell).
// Exercises chatnode/chat.c (on_stored), sio_broadcast_once, cluster_recovery.c and the LOG
// script of proto/rec_store.c.
import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { createClient } from "redis";
import { client, connected, closeAllClients } from "./lib/clients.mjs";
import { startChatnode, startRedis, stopAll, eventually, httpRequest, WAIT_MS, busUp } from "./lib/harness.mjs";

let redis, relay, a, b;

/** A TCP relay to Redis that calls trip(chunk) on every chunk a client sends; when trip returns
 *  true the chunk is not forwarded and every connection through the relay is cut. */
async function startRelay(port, trip) {
  const pairs = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    const pair = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("data", (chunk) => {
      if (trip(chunk)) {
        for (const [c, u] of [...pairs]) c.destroy(), u.destroy();
        pairs.clear();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk) => client.write(chunk));
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `redis://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => {
      for (const [c, u] of pairs) c.destroy(), u.destroy();
      server.close(resolve);
    }),
  };
}

// Set by a test: the text whose logging kills node A.
let doomed = null;
const flags = (url, extra = []) => ["--app", "chat", "--redis", url, "--allow-anonymous", ...extra];

const online = (node, user) => connected(client(node, "/", { transports: ["websocket"], auth: { user } }));

const call = (s, ev, arg) => s.timeout(WAIT_MS).emitWithAck(ev, arg);

function record(s, ev) {
  const got = [];
  s.on(ev, (x) => got.push(x));
  return got;
}

async function recovery(node) {
  const r = await httpRequest(`${node.url}/healthz`);
  return JSON.parse(r.body).recovery;
}

/** Starts node A behind the relay; the relay SIGKILLs it when a command about doomed other
 *  than the one storing it passes. */
async function startA(extra = []) {
  doomed = null;
  relay = await startRelay(redis.port, (chunk) => {
    const text = chunk.toString("latin1");
    // the store script's body: A waits for its answer before anything else about the message
    if (!doomed || !text.includes(doomed) || text.includes("'MAXLEN', '~'")) return false;
    process.kill(a.pid, "SIGKILL");
    a.killed = true;
    return true;
  });
  a = await startChatnode(flags(relay.url, extra));
  await busUp(a);
}

describe("a message whose node died before publishing it is delivered when sent again", { timeout: 120_000 }, () => {
  before(async () => {
    redis = await startRedis();
    b = await startChatnode(flags(redis.url));
    await busUp(b);
  });
  after(async () => {
    closeAllClients();
    await stopAll(b, ...(a && !a.killed ? [a] : []));
    await relay?.close();
    await redis.stop();
  });
  afterEach(async () => {
    closeAllClients();
    if (a && !a.killed) await a.stop();
    await relay?.close();
    relay = null;
  });

  it("to a room: stored, not published, sent again from the other node, delivered once as stored", async () => {
    await startA();
    const ada = await online(a, "ada");
    const bob = await online(b, "bob");
    await call(ada, "join", { room: "lost" });
    await call(bob, "join", { room: "lost" });
    const got = record(bob, "message");
    const before = (await recovery(b)).resent;

    doomed = "kill-on-log-1";
    const first = await call(ada, "message", { room: "lost", text: doomed, id: "ada-1" }).catch((err) => err);
    assert.ok(first instanceof Error, `the first send was not answered: ${JSON.stringify(first)}`);
    await a.exited;
    const h = await call(bob, "history", { room: "lost", limit: 10 });
    assert.deepEqual(h.messages.map((m) => m.text), [doomed], "stored before the node died");
    const id = h.messages[0].id;

    const ada2 = await online(b, "ada");
    await call(ada2, "join", { room: "lost" });
    // sent again with other text: delivered as the history has it
    const again = await call(ada2, "message", { room: "lost", text: "edited", id: "ada-1" });
    assert.deepEqual(again, { ok: true, id, ts: h.messages[0].ts }, "the retry gets the stored id");
    await eventually(() => got.some((m) => m.text === doomed), WAIT_MS, "the message at bob");
    assert.equal((await recovery(b)).resent, before + 1, "counted as sent again");

    // sent once more: the log has it now
    const third = await call(ada2, "message", { room: "lost", text: doomed, id: "ada-1" });
    assert.equal(third.id, id);
    await call(ada2, "message", { room: "lost", text: "after" });
    await eventually(() => got.some((m) => m.text === "after"), WAIT_MS, "the later message at bob");
    assert.deepEqual(got.map((m) => m.text), [doomed, "after"], "each delivered once, in order");
    assert.deepEqual(got[0], { id, room: "lost", from: { id: "guest:ada", name: "ada" }, text: doomed, ts: h.messages[0].ts });

    // its event, which A never recorded, recorded once by B (the third send found it logged)
    const rc = createClient({ url: redis.url });
    await rc.connect();
    try {
      const recorded = (await rc.xRange("chatcluster:events", "-", "+"))
        .map((e) => ({ type: e.message.type, data: JSON.parse(e.message.data) }))
        .filter((e) => e.type === "message" && e.data.message.id === id);
      assert.deepEqual(recorded.map((e) => e.data), [{ room: "lost", message: { id, from: { id: "guest:ada", name: "ada" }, text: doomed, ts: h.messages[0].ts } }]);
    } finally {
      await rc.quit();
    }
  });

  it("private: the recipient and the sender's other sockets get it once", async () => {
    await startA();
    const cy = await online(a, "cy");
    const di = await online(b, "di");
    const cyElsewhere = await online(b, "cy");
    const atDi = record(di, "private");
    const atCy = record(cyElsewhere, "private");

    doomed = "kill-on-log-2";
    const first = await call(cy, "private", { to: "guest:di", text: doomed, id: "cy-1" }).catch((err) => err);
    assert.ok(first instanceof Error, `the first send was not answered: ${JSON.stringify(first)}`);
    await a.exited;

    const cy2 = await online(b, "cy");
    const atCy2 = record(cy2, "private");
    const again = await call(cy2, "private", { to: "guest:di", text: doomed, id: "cy-1" });
    assert.equal(again.ok, true, JSON.stringify(again));
    await eventually(() => atDi.length && atCy.length, WAIT_MS, "the message at di and at cy's other socket");
    await call(cy2, "private", { to: "guest:di", text: "after" });
    await eventually(() => atDi.length >= 2 && atCy.length >= 2, WAIT_MS, "the later message");
    assert.deepEqual(atDi.map((m) => m.text), [doomed, "after"], "di: once each, in order");
    assert.deepEqual(atCy.map((m) => m.text), [doomed, "after"], "cy elsewhere: once each, in order");
    assert.deepEqual(atCy2, [], "not to the socket that sent it");
    assert.equal(atDi[0].id, again.id);
  });

  it("a message that went out is not delivered again, whichever node it is sent again to", async () => {
    await startA();
    const eve = await online(a, "eve");
    const fay = await online(b, "fay");
    const eveOnB = await online(b, "eve");
    await call(eve, "join", { room: "twice" });
    await call(eveOnB, "join", { room: "twice" });
    await call(fay, "join", { room: "twice" });
    const got = record(fay, "message");
    const skippedA = (await recovery(a)).resend_skipped;
    const skippedB = (await recovery(b)).resend_skipped;

    const sent = await call(eve, "message", { room: "twice", text: "went out", id: "eve-1" });
    assert.equal(sent.ok, true);
    await eventually(() => got.length === 1, WAIT_MS, "the message at fay");
    const onA = await call(eve, "message", { room: "twice", text: "went out", id: "eve-1" });
    const onB = await call(eveOnB, "message", { room: "twice", text: "went out", id: "eve-1" });
    assert.deepEqual([onA, onB], [sent, sent], "both get the first answer");
    await call(eve, "message", { room: "twice", text: "after" });
    await eventually(() => got.some((m) => m.text === "after"), WAIT_MS, "the later message at fay");
    assert.deepEqual(got.map((m) => m.text), ["went out", "after"], "delivered once");
    assert.equal((await recovery(a)).resend_skipped, skippedA + 1);
    assert.equal((await recovery(b)).resend_skipped, skippedB + 1);
  });

  it("sent again after the log let it go: not delivered, in the history", async () => {
    // the log keeps a packet for the window plus the heartbeat's interval and timeout: 2 s
    const WINDOW = ["--recovery-window", "1000", "--ping-interval", "500", "--ping-timeout", "500"];
    await startA(WINDOW);
    const b2 = await startChatnode(flags(redis.url, WINDOW));
    try {
      await busUp(b2);
      const gil = await online(a, "gil");
      const hal = await online(b2, "hal");
      await call(gil, "join", { room: "late" });
      await call(hal, "join", { room: "late" });
      const got = record(hal, "message");
      doomed = "kill-on-log-4";
      const first = await call(gil, "message", { room: "late", text: doomed, id: "gil-1" }).catch((err) => err);
      assert.ok(first instanceof Error, `the first send was not answered: ${JSON.stringify(first)}`);
      await a.exited;
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const skipped = (await recovery(b2)).resend_skipped;
      const gil2 = await online(b2, "gil");
      await call(gil2, "join", { room: "late" });
      const again = await call(gil2, "message", { room: "late", text: doomed, id: "gil-1" });
      assert.equal(again.ok, true, JSON.stringify(again));
      await call(gil2, "message", { room: "late", text: "after" });
      await eventually(() => got.some((m) => m.text === "after"), WAIT_MS, "the later message at hal");
      assert.deepEqual(got.map((m) => m.text), ["after"]);
      assert.equal((await recovery(b2)).resend_skipped, skipped + 1);
      const h = await call(hal, "history", { room: "late", limit: 10 });
      assert.deepEqual(h.messages.map((m) => m.text), [doomed, "after"]);
    } finally {
      await b2.stop();
    }
  });
});
