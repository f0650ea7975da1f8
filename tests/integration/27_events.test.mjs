// The cluster's events (docs/protocols.md, section 6) as chatnodes and adminnodes record them in
// P:events: a room's first member anywhere and its last one gone (also when two nodes change
// the room at the same moment), each user's first socket in a room and its last one, a user's
// first socket in the cluster and its last one, stored room and private messages under the ids
// their senders got; node_up, node_draining and node_down once however many adminnodes watch,
// and the departures a SIGKILLed node's users owe, recorded once when adminnode prunes its
// presence. Each entry has the contract's fields. Read straight from Redis with XRANGE.
// Exercises chatnode/events.c, chat.c, chat_presence.c, adminnode/node_events.c and
// proto/cluster_event.c's and proto/chat_store.c's contracts.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { io } from "socket.io-client";
import { startAdminnode, startChatnode, startRedis, stopAll, eventually, sleep, withTimeout, WAIT_MS } from "./lib/harness.mjs";

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
    // a CONNECT is answered before its presence is written: the two nodes' user_online may
    // come in either order, and before what follows once both are in
    await eventually(async () => (await events()).filter((e) => e.type === "user_online").length === 2, WAIT_MS, "both online");
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
    await eventually(async () => (got = await events()).some((e) => e.type === "user_offline"), WAIT_MS, "user_offline");

    const summary = got.map((e) => [e.type, e.data.user?.id ?? e.data.to ?? e.data.room]);
    summary.splice(0, 2, ...summary.slice(0, 2).sort((a, b) => a[1].localeCompare(b[1])));
    assert.deepEqual(summary, [
      ["user_online", "guest:alice"],
      ["user_online", "guest:bob"],
      ["room_occupied", "lobby"],
      ["member_joined", "guest:alice"],
      ["member_joined", "guest:bob"],
      ["message", "lobby"],
      ["private_message", "guest:bob"],
      ["member_left", "guest:bob"],
      ["member_left", "guest:alice"],
      ["room_vacated", "lobby"],
      ["user_offline", "guest:alice"],
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

  it("two nodes changing a room at once: occupied and vacated once per change, whoever comes last", async () => {
    // each round: two users on two nodes join one room at the same moment, then leave it at the
    // same moment; the room's first entry and its last departure are decided in one Redis step
    const ROUNDS = 12;
    const a = await connect(n1, "racer-a");
    const b = await connect(n2, "racer-b");
    for (let i = 0; i < ROUNDS; i++) {
      const room = `race-${i}`;
      const joins = await Promise.all([ask(a, "join", { room }), ask(b, "join", { room })]);
      assert.ok(joins.every((j) => j.ok), JSON.stringify(joins));
      const leaves = await Promise.all([ask(a, "leave", { room }), ask(b, "leave", { room })]);
      assert.ok(leaves.every((j) => j.ok), JSON.stringify(leaves));
    }
    let got;
    await eventually(async () => {
      got = (await events()).filter((e) => e.data.room?.startsWith("race-"));
      return got.filter((e) => e.type === "member_left").length === 2 * ROUNDS &&
        got.filter((e) => e.type === "room_vacated").length >= ROUNDS;
    }, WAIT_MS, "every round's departures");
    await sleep(300); // a second room_vacated would have been recorded by now
    got = (await events()).filter((e) => e.data.room?.startsWith("race-"));
    for (let i = 0; i < ROUNDS; i++) {
      const mine = got.filter((e) => e.data.room === `race-${i}`).map((e) => e.type);
      assert.equal(mine.filter((t) => t === "room_occupied").length, 1, `race-${i}: ${mine}`);
      assert.equal(mine.filter((t) => t === "room_vacated").length, 1, `race-${i}: ${mine}`);
      // (the stream orders events as they were recorded: two nodes' events of one moment may
      // come in either order)
      assert.equal(mine.filter((t) => t === "member_joined").length, 2, `race-${i}: ${mine}`);
    }
    a.disconnect();
    b.disconnect();
  });

  it("a user online on two nodes: online with the first socket, offline after the last", async () => {
    const count = async (type) => (await events()).filter((e) => e.type === type && e.data.user.id === "guest:dora").length;
    const s1 = await connect(n1, "dora");
    const s2 = await connect(n2, "dora");
    const s3 = await connect(n2, "dora");
    await eventually(async () => (await count("user_online")) === 1, WAIT_MS, "dora online");
    s1.disconnect();
    s2.disconnect();
    // a marker after both departures: dora's third socket keeps her online
    const m = await connect(n1, "dora-marker");
    await eventually(async () => (await events()).some((e) => e.type === "user_online" && e.data.user.id === "guest:dora-marker"),
      WAIT_MS, "the marker");
    await sleep(200);
    assert.equal(await count("user_offline"), 0);
    s3.disconnect();
    await eventually(async () => (await count("user_offline")) === 1, WAIT_MS, "dora offline");
    assert.equal(await count("user_online"), 1);
    const dora = (await events()).find((e) => e.type === "user_online" && e.data.user.id === "guest:dora");
    assert.deepEqual(dora.data, { user: { id: "guest:dora", name: "dora" } });
    m.disconnect();
  });
});

describe("node events and a down node's presence, recorded by adminnode", { timeout: 90_000 }, () => {
  const INTERVAL = 200;
  let r2, rc2, admins = [], live, doomed;
  const P = "evt"; // a control prefix of this test's own
  const ADMIN = "admin-key-0123456789abcdef";
  const evs = async () => (await rc2.xRange(`${P}:events`, "-", "+"))
    .map((e) => ({ id: e.id, ...e.message, data: JSON.parse(e.message.data) }));

  before(async () => {
    r2 = await startRedis();
    rc2 = createClient({ url: r2.url });
    await rc2.connect();
    const flags = ["--app", "chat", "--allow-anonymous", "--redis", r2.url, "--control-prefix", P,
      "--heartbeat-interval", String(INTERVAL)];
    [live, doomed] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
    // two adminnodes: every node event and every departure owed by the dead node is recorded once
    admins = await Promise.all([0, 1].map(() => startAdminnode(["--redis", r2.url, "--control-prefix", P,
      "--heartbeat-interval", String(INTERVAL), "--forget-after", "5000"], { ADMINNODE_API_KEYS: `${ADMIN}:admin` })));
  });
  after(async () => {
    for (const s of open) s.close();
    await rc2?.quit();
    await stopAll(live, doomed, ...admins);
    await r2?.stop();
  });

  it("node_up once, then node_down and the dead node's users' departures once each", async () => {
    const uidOf = async (n) => (await (await fetch(`${n.url}/healthz`)).json()).bus?.uid;
    const [liveId, doomedId] = [await uidOf(live), await uidOf(doomed)];
    assert.ok(liveId && doomedId, "both nodes name their uid in /healthz");
    await eventually(async () => {
      const ups = (await evs()).filter((e) => e.type === "node_up").map((e) => e.data.node.id).sort();
      return ups.length === 2 && ups.includes(liveId) && ups.includes(doomedId);
    }, WAIT_MS, "two node_up");
    const up = (await evs()).find((e) => e.type === "node_up" && e.data.node.id === doomedId);
    assert.equal(up.data.node.tag, `n${doomed.port}`);
    assert.match(up.node, /^adminnode-[0-9a-f]{16}$/);

    // erin only on the doomed node, in a room with frank (live node) and one of her own
    const erin = io(doomed.url, { forceNew: true, transports: ["websocket"], reconnection: false, auth: { user: "erin" } });
    open.push(erin);
    await withTimeout(new Promise((res, rej) => { erin.once("connect", res); erin.once("connect_error", rej); }), WAIT_MS, "erin");
    const frank = io(live.url, { forceNew: true, transports: ["websocket"], reconnection: false, auth: { user: "frank" } });
    open.push(frank);
    await withTimeout(new Promise((res, rej) => { frank.once("connect", res); frank.once("connect_error", rej); }), WAIT_MS, "frank");
    for (const [s, room] of [[erin, "shared"], [frank, "shared"], [erin, "erins"]])
      assert.equal((await ask(s, "join", { room })).ok, true);
    await eventually(async () => (await evs()).filter((e) => e.type === "member_joined").length === 3, WAIT_MS, "three joins");

    process.kill(doomed.pid, "SIGKILL");
    const erinDone = (e) => e.data.user?.id === "guest:erin" || e.data.room === "erins";
    await eventually(async () => {
      const got = await evs();
      return got.some((e) => e.type === "node_down" && e.data.node.id === doomedId) &&
        got.some((e) => e.type === "user_offline" && e.data.user.id === "guest:erin");
    }, WAIT_MS, "node_down and erin offline");
    await sleep(500); // both adminnodes have pruned by now
    const got = await evs();
    assert.equal(got.filter((e) => e.type === "node_down").length, 1);
    assert.equal(got.filter((e) => e.type === "node_up").length, 2);
    const after = got.slice(got.findIndex((e) => e.type === "node_down")).filter(erinDone)
      .map((e) => [e.type, e.data.room ?? ""]).sort();
    assert.deepEqual(after, [
      ["member_left", "erins"],
      ["member_left", "shared"],
      ["room_vacated", "erins"],
      ["user_offline", ""],
    ]);
    // frank is still in "shared": it stays occupied
    assert.equal(got.filter((e) => e.type === "room_vacated" && e.data.room === "shared").length, 0);
    // the dead node's set of rooms is gone once pruned
    assert.equal(await rc2.exists(`socket.io:chat:rooms-of:${doomedId}`), 0);
    assert.equal(await rc2.exists(`socket.io:chat:rooms-of:${liveId}`), 1);
    doomed = undefined;
  });

  it("a drained node: node_draining once, node_up again once undrained", async () => {
    const id = (await (await fetch(`${live.url}/healthz`)).json()).bus.uid;
    const api = (path) => fetch(`${admins[1].url}${path}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` } });
    const states = async () => (await evs()).filter((e) => e.type.startsWith("node_") && e.data.node.id === id).map((e) => e.type);
    assert.deepEqual(await states(), ["node_up"]);
    assert.equal((await api(`/api/v1/nodes/${id}/drain`)).status, 200);
    await eventually(async () => (await states()).length === 2, WAIT_MS, "node_draining");
    assert.equal((await api(`/api/v1/nodes/${id}/undrain`)).status, 200);
    await eventually(async () => (await states()).length === 3, WAIT_MS, "node_up again");
    await sleep(600); // three heartbeats: a second adminnode's record would be in
    assert.deepEqual(await states(), ["node_up", "node_draining", "node_up"]);
  });
});
