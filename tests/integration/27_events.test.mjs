// The cluster's events (docs/protocols.md, section 6) as two chatnodes record them in P:events:
// a room's first member anywhere and its last one gone, each user's first socket in a room and
// its last one, stored room and private messages under the ids their senders got, each entry
// with the contract's fields and nothing recorded twice for one change. Read straight from
// Redis with XRANGE. Exercises chatnode/events.c, chat.c and proto/cluster_event.c's contract.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { io } from "socket.io-client";
import { startChatnode, startRedis, stopAll, eventually, withTimeout, WAIT_MS } from "./lib/harness.mjs";

const PREFIX = "chatcluster"; // --control-prefix's default
let redis, rc, n1, n2;
const open = [];

async function connect(node, user) {
  const s = io(node.url, { forceNew: true, transports: ["websocket"], reconnection: false, auth: { user } });
  open.push(s);
  await withTimeout(new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
  }), WAIT_MS, `${user} connected`);
  return s;
}

const ask = (s, event, arg) => withTimeout(s.emitWithAck(event, arg), WAIT_MS, event);

/** Every event recorded so far, as { id, type, ts, node, data }. */
async function events() {
  const entries = await rc.xRange(`${PREFIX}:events`, "-", "+");
  return entries.map((e) => ({ id: e.id, ...e.message, ts: Number(e.message.ts), data: JSON.parse(e.message.data) }));
}

describe("cluster events in P:events", { timeout: 60_000 }, () => {
  before(async () => {
    redis = await startRedis();
    rc = createClient({ url: redis.url });
    await rc.connect();
    const flags = ["--app", "chat", "--allow-anonymous", "--redis", redis.url];
    [n1, n2] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
    for (const n of [n1, n2]) {
      await eventually(async () => (await (await fetch(`${n.url}/healthz`)).json()).bus?.subscriber === "connected",
        WAIT_MS, "the bus up");
    }
  });
  after(async () => {
    for (const s of open) s.close();
    await rc?.quit();
    await stopAll(n1, n2);
    await redis?.stop();
  });

  it("occupied, joined, messages, left and vacated, once each, with the contract's fields", async () => {
    const start = Date.now();
    const alice = await connect(n1, "alice");
    const bob = await connect(n2, "bob");
    assert.equal((await ask(alice, "join", { room: "lobby" })).ok, true);
    assert.equal((await ask(bob, "join", { room: "lobby" })).ok, true);
    const sent = await ask(alice, "message", { room: "lobby", text: "héllo 😀" });
    assert.equal(sent.ok, true);
    const dm = await ask(alice, "private", { to: "guest:bob", text: "just you" });
    assert.equal(dm.ok, true);
    assert.equal((await ask(bob, "leave", { room: "lobby" })).ok, true);
    // bob's departure is recorded once its node read the room's presence: then alice goes
    await eventually(async () => (await events()).some((e) => e.type === "member_left"), WAIT_MS, "bob's departure");
    alice.disconnect(); // the client's own disconnect: its session is not kept
    let got;
    await eventually(async () => (got = await events()).some((e) => e.type === "room_vacated"), WAIT_MS, "room_vacated");

    const summary = got.map((e) => [e.type, e.data.user?.id ?? e.data.to ?? e.data.room]);
    assert.deepEqual(summary, [
      ["room_occupied", "lobby"],
      ["member_joined", "guest:alice"],
      ["member_joined", "guest:bob"],
      ["message", "lobby"],
      ["private_message", "guest:bob"],
      ["member_left", "guest:bob"],
      ["member_left", "guest:alice"],
      ["room_vacated", "lobby"],
    ]);
    const message = got.find((e) => e.type === "message");
    assert.deepEqual(message.data.message, {
      id: sent.id, from: { id: "guest:alice", name: "alice" }, text: "héllo 😀", ts: sent.ts,
    });
    assert.equal(got.find((e) => e.type === "private_message").data.message.id, dm.id);
    const uids = new Set(got.map((e) => e.node));
    assert.equal(uids.size, 2, "each node recorded what happened on it");
    for (const e of got) {
      assert.match(e.id, /^\d+-\d+$/);
      assert.ok(e.ts >= start - 1000 && e.ts <= Date.now() + 1000, `${e.type} ts ${e.ts}`);
      assert.deepEqual(Object.keys(e).sort(), ["data", "id", "node", "ts", "type"]);
    }
  });

  it("--events-max-len 0 records nothing", async () => {
    const quiet = await startChatnode(["--app", "chat", "--allow-anonymous", "--redis", redis.url, "--events-max-len", "0"]);
    try {
      const before = (await events()).length;
      const s = await connect(quiet, "carol");
      assert.equal((await ask(s, "join", { room: "silent" })).ok, true);
      assert.equal((await ask(s, "message", { room: "silent", text: "x" })).ok, true);
      // a marker from a recording node, after carol's actions
      const m = await connect(n1, "marker");
      assert.equal((await ask(m, "join", { room: "marker-room" })).ok, true);
      await eventually(async () => (await events()).some((e) => e.data.room === "marker-room"), WAIT_MS, "the marker");
      const after = await events();
      assert.deepEqual(after.slice(before).filter((e) => e.data.room === "silent" || e.data.user?.id === "guest:carol"), []);
    } finally {
      await stopAll(quiet);
    }
  });
});
