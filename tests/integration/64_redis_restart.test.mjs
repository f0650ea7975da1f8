// Fault tests. Redis dies (SIGKILL) under a running cluster behind nginx and comes back empty
// (no persistence) on the same port: clients stay connected; while Redis is away (every node
// and the adminnode have noticed) a message gets a clear error instead of hanging; afterwards,
// with nobody touching anything, once the nodes say their bus is up again a message crosses
// nodes and is stored, room presence lists every member again (the nodes write their entries
// anew), the adminnode lists both nodes up, and new clients join. And Redis run as
// deploy/cluster.sh runs it (the append-only file on) and restarted cleanly (SIGTERM, same
// directory, same port) under two chatnodes keeps every acknowledged message, once, under its
// id: the history afterwards is exactly what was acknowledged, a message sent again under its
// client id is recognised, and new messages follow the old ones.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startCluster, connectMany, closeAll, tagOf, waitUntil } from "./lib/cluster.mjs";
import { startChatnode, startRedis, stopAll, eventually, httpRequest, waitFor, withTimeout, WAIT_MS, busConnected } from "./lib/harness.mjs";

let cluster;
let recs = [];

/** A node's /healthz, parsed. */
const health = async (node) => JSON.parse((await httpRequest(`${node.url}/healthz`)).body);
/** Both of a chatnode's Redis connections are up (the subscriber once every channel it wants is subscribed again). */
/** Redis connections of a chatnode made again since: reconnects counts each of the two. */
const reconnects = async (node) => (await health(node)).bus.reconnects;
/** Both of a node's connections up again, made anew after it had `before` reconnects. */
const busBack = async (node, before) => (await reconnects(node)) >= before + 2 && (await busConnected(node));
const busDown = async (node) => {
  const { bus } = await health(node);
  return bus?.command !== "connected" && bus?.subscriber !== "connected";
};

const members = async (r) => {
  const ack = await r.s.timeout(WAIT_MS).emitWithAck("members", { room: r.room });
  return ack.ok ? ack.users.map((u) => u.id).sort() : ack;
};

describe("Redis restarted under the cluster", { timeout: 240_000 }, () => {
  before(async () => {
    cluster = await startCluster({ chatFlags: ["--heartbeat-interval", "500"] });
  });

  after(async () => {
    closeAll(recs);
    await cluster?.stop();
  });

  it("recovers by itself", async () => {
    recs = await connectMany(cluster.url, 20, { rooms: 1 });
    const onA = recs.filter((r) => tagOf(r.s.io.engine.id) === "a");
    const onB = recs.filter((r) => tagOf(r.s.io.engine.id) === "b");
    assert.ok(onA.length && onB.length, `clients on both nodes: a=${onA.length} b=${onB.length}`);
    const everyone = recs.map((r) => `guest:${r.user}`).sort(); // guests' ids
    assert.deepEqual(await members(onA[0]), everyone);

    const { a, b } = cluster.nodes;
    const before = [await reconnects(a), await reconnects(b)];
    await cluster.redis.kill();
    // Redis away, and everyone has noticed: both nodes' connections and the adminnode's are down
    await eventually(async () => (await busDown(a)) && (await busDown(b)) &&
      (await health(cluster.admin)).redis !== "connected", WAIT_MS, "the nodes and the adminnode to notice Redis is gone");
    // a message is refused with a clear error, not left hanging
    const t0 = Date.now();
    const refused = await onA[0].s.timeout(WAIT_MS).emitWithAck("message", { room: "r0", text: "into the void" });
    assert.equal(refused.error?.code, "internal", JSON.stringify(refused));
    assert.match(refused.error.message, /send it again/);
    console.log(`# with Redis down a message is refused in ${Date.now() - t0} ms`);

    await cluster.redis.restart(); // same port, no data
    const restartedAt = Date.now();

    // the nodes reconnect by themselves; then a message from a to b goes through, the first one
    await eventually(async () => (await busBack(a, before[0])) && (await busBack(b, before[1])), 30_000,
      "both nodes' bus to be up again");
    const recoveredMs = Date.now() - restartedAt;
    const text = "after the restart";
    const got = new Promise((resolve) => {
      const on = (m) => m.text === text && (onB[0].s.off("message", on), resolve(m));
      onB[0].s.on("message", on);
    });
    const sent = await onA[0].s.timeout(WAIT_MS).emitWithAck("message", { room: "r0", text });
    assert.ok(sent.ok, JSON.stringify(sent));
    assert.equal((await withTimeout(got, WAIT_MS, "the message at node b")).id, sent.id);

    // the adminnode: connected again, both nodes up
    await waitUntil(async () => {
      const h = JSON.parse((await httpRequest(`${cluster.admin.url}/healthz`)).body);
      const nodes = (await cluster.api("GET", "/nodes")).json?.nodes ?? [];
      return h.redis === "connected" && ["a", "b"].every((t) => nodes.find((n) => n.tag === t)?.state === "up");
    }, 15_000, "the adminnode to list both nodes up");

    // the message is in the (new) history, read through the adminnode
    const history = await cluster.history("r0");
    assert.ok(history.some((m) => m.text === text), "the message is stored");

    // presence: every member again, seen from either node
    let seen;
    await waitUntil(async () => JSON.stringify(seen = await members(onB[0])) === JSON.stringify(everyone), 15_000,
      "presence of every member", recs).catch((err) => {
      throw new Error(`${err.message}; members: ${JSON.stringify(seen)}; node a: ${cluster.nodes.a.stderr().split("\n").filter((l) => /bus|presence/.test(l)).join("\n")}`);
    });
    assert.deepEqual(await members(onA[0]), everyone);

    // nobody was disconnected, and a new client joins and chats
    for (const r of recs) assert.deepEqual([r.disconnects, r.connectErrors], [[], []], r.user);
    const [late] = await connectMany(cluster.url, 1, { rooms: 1, prefix: "late" });
    recs.push(late);
    const ack = await late.s.timeout(WAIT_MS).emitWithAck("message", { room: "r0", text: "hello again" });
    assert.ok(ack.ok, JSON.stringify(ack));
    console.log(`# both nodes' bus up again ${recoveredMs} ms after Redis came back`);
  });
});

/** Stream ids ("ms-seq") in order. */
const byId = (x, y) => {
  const [xm, xs] = x.id.split("-").map(BigInt), [ym, ys] = y.id.split("-").map(BigInt);
  return xm !== ym ? (xm < ym ? -1 : 1) : xs < ys ? -1 : xs > ys ? 1 : 0;
};

/** A room's whole history through the chat's "history" event, oldest first, page by page. */
async function historyOf(s, room) {
  const all = [];
  for (let before;;) {
    const ack = await s.timeout(WAIT_MS).emitWithAck("history", { room, limit: 100, ...(before ? { before } : {}) });
    assert.ok(ack.ok, JSON.stringify(ack));
    all.unshift(...ack.messages);
    if (ack.messages.length < 100) return all;
    before = ack.messages[0].id;
  }
}

describe("Redis with the append-only file, restarted cleanly", { timeout: 120_000 }, () => {
  let redis, a, b;
  const sockets = [];
  before(async () => {
    redis = await startRedis([], { persist: true }); // as deploy/cluster.sh runs it
    [a, b] = await Promise.all([0, 1].map(() => startChatnode(["--app", "chat", "--allow-anonymous", "--redis", redis.url])));
    await eventually(async () => (await busConnected(a)) && (await busConnected(b)), WAIT_MS, "both nodes' bus to connect");
  });
  after(async () => {
    for (const s of sockets) s.close();
    await stopAll(a, b);
    await redis?.stop();
  });

  it("keeps every acknowledged message once, under its id", async () => {
    const ROOM = "kept";
    const online = async (node, user) => {
      const s = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user } });
      sockets.push(s);
      await waitFor(s, "connect");
      const joined = await s.timeout(WAIT_MS).emitWithAck("join", { room: ROOM });
      assert.ok(joined.ok, JSON.stringify(joined));
      return s;
    };
    const users = await Promise.all([[a, "ann"], [a, "abe"], [b, "bea"], [b, "bob"]].map(([n, u]) => online(n, u)));

    // 4 clients on two nodes, 25 messages each, each acknowledged (stored) before the next
    const acked = []; // { id, text, cid, s }
    await Promise.all(users.map(async (s, i) => {
      for (let k = 0; k < 25; k++) {
        const text = `user ${i} message ${k}`, cid = `c${i}-${k}`;
        const ack = await s.timeout(WAIT_MS).emitWithAck("message", { room: ROOM, text, id: cid });
        assert.ok(ack.ok, JSON.stringify(ack));
        acked.push({ id: ack.id, text, cid, s });
      }
    }));
    acked.sort(byId);
    const want = acked.map((m) => [m.id, m.text]);
    assert.deepEqual((await historyOf(users[0], ROOM)).map((m) => [m.id, m.text]), want, "the history before the restart");

    const before = [await reconnects(a), await reconnects(b)];
    await redis.restart("SIGTERM"); // a clean shutdown, then the same directory and port
    await eventually(async () => (await busBack(a, before[0])) && (await busBack(b, before[1])), 30_000,
      "both nodes' bus to be up again");

    // read from both nodes: every acknowledged message, once, under its id, and nothing else
    for (const s of [users[0], users[2]]) {
      const history = await historyOf(s, ROOM);
      const texts = history.map((m) => m.text);
      assert.deepEqual(texts.filter((t, i) => texts.indexOf(t) !== i), [], "texts stored more than once");
      const kept = new Set(texts);
      assert.deepEqual(acked.filter((m) => !kept.has(m.text)).map((m) => m.text), [], "acknowledged messages lost in the restart");
      assert.deepEqual(history.map((m) => [m.id, m.text]), want, "the history after the restart");
    }

    // a message sent again under its client id (its ack lost, say) is the stored one, not a new one
    const again = acked[0];
    const resent = await again.s.timeout(WAIT_MS).emitWithAck("message", { room: ROOM, text: again.text, id: again.cid });
    assert.deepEqual([resent.ok, resent.id], [true, again.id], JSON.stringify(resent));

    // and a new message comes after all of them
    const late = await users[3].timeout(WAIT_MS).emitWithAck("message", { room: ROOM, text: "after the restart", id: "late" });
    assert.ok(late.ok, JSON.stringify(late));
    const after = (await historyOf(users[1], ROOM)).map((m) => [m.id, m.text]);
    assert.deepEqual(after, [...want, [late.id, "after the restart"]]);
  });
});
