// Fault test: a chatnode drained through the adminnode's REST API (through nginx) while its
// clients chat. The node refuses new sessions (nginx retries those handshakes on the other
// node) and closes its sessions with a transport close, so socket.io-client reconnects by
// itself: the application sees a "transport close" disconnect and a reconnect, never a
// connect_error, a refused message or a message stored twice.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startCluster, connectMany, send, closeAll, tagOf, waitUntil } from "./lib/cluster.mjs";
import { httpRequest, sleep } from "./lib/harness.mjs";

const ROOMS = 10;

let cluster;
let recs = [];
let stop = false;

describe("draining a chatnode through the adminnode", { timeout: 240_000 }, () => {
  before(async () => {
    cluster = await startCluster({ chatFlags: ["--drain-batch", "10", "--drain-interval", "100"] });
  });

  after(async () => {
    stop = true;
    closeAll(recs);
    await cluster?.stop();
  });

  it("moves the node's clients to the other node with no error reaching the application", async () => {
    // polling-only clients and clients with the defaults (upgraded to WebSocket)
    recs = [
      ...(await connectMany(cluster.url, 40, { rooms: ROOMS, prefix: "p", opts: { transports: ["polling"] } })),
      ...(await connectMany(cluster.url, 60, { rooms: ROOMS, prefix: "w" })),
    ];
    await waitUntil(() => recs.filter((r) => r.user[0] === "w").every((r) => r.s.io.engine.transport.name === "websocket"),
      WAIT_UPGRADE, "the upgrades", recs);
    const onA = recs.filter((r) => tagOf(r.s.io.engine.id) === "a");
    const onB = recs.filter((r) => tagOf(r.s.io.engine.id) === "b");
    assert.ok(onA.some((r) => r.user[0] === "p") && onA.some((r) => r.user[0] === "w"), "both transports on node a");

    const acked = []; // { id, room }
    const chatting = Promise.all(recs.map(async (r, i) => {
      await sleep(i * 10);
      for (let k = 0; !stop; k++) {
        const id = await send(r, `${r.user} says ${k}`, `${r.user}-${k}`, { until: () => stop });
        if (id) acked.push({ id, room: r.room });
        await sleep(300 + Math.random() * 300);
      }
    }));
    await sleep(2000);

    const a = await cluster.nodeInfo("a");
    const res = await cluster.api("POST", `/nodes/${encodeURIComponent(a.id)}/drain`);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual(res.json, { ok: true, node: a.id, draining: true });

    await waitUntil(() => recs.every((r) => r.s.connected && tagOf(r.s.io.engine.id) === "b" && r.joined === r.connects),
      30_000, "every client on node b and back in its room", recs);
    const health = JSON.parse((await httpRequest(`${cluster.nodes.a.url}/healthz`)).body);
    assert.equal(health.draining, true);
    assert.equal(health.connections, 0);

    // new clients during the drain: nginx retries the refused handshake on b, for both
    // transports, without the client noticing
    const late = [
      ...(await connectMany(cluster.url, 10, { rooms: ROOMS, prefix: "lp", opts: { transports: ["polling"] } })),
      ...(await connectMany(cluster.url, 10, { rooms: ROOMS, prefix: "lw", opts: { transports: ["websocket"] } })),
    ];
    recs.push(...late);
    for (const r of late) assert.equal(tagOf(r.s.io.engine.id), "b", `${r.user} reached the draining node`);
    assert.equal((await cluster.nodeInfo("a")).state, "draining");

    await sleep(1000);
    stop = true;
    await chatting;

    for (const r of recs) {
      assert.deepEqual(r.connectErrors, [], `${r.user} saw errors`);
      assert.ok(r.disconnects.every((d) => d === "transport close"), `${r.user}: ${r.disconnects}`);
    }
    for (const r of onA) assert.deepEqual([r.connects, r.disconnects], [2, ["transport close"]], r.user);
    for (const r of onB) assert.deepEqual([r.connects, r.disconnects], [1, []], r.user);

    // every message stored once: a resend after the move (its ack lost with the connection)
    // carries the same client id and returns the same stored message
    let n = 0;
    for (let i = 0; i < ROOMS; i++) {
      const history = await cluster.history(`r${i}`);
      const ids = history.map((m) => m.id);
      assert.equal(new Set(ids).size, ids.length, `r${i}: a message stored twice`);
      const texts = history.map((m) => m.text);
      assert.equal(new Set(texts).size, texts.length, `r${i}: a text stored twice`);
      const want = acked.filter((m) => m.room === `r${i}`).map((m) => m.id);
      assert.deepEqual(want.filter((id) => !ids.includes(id)), [], `r${i}: acknowledged messages missing`);
      n += want.length;
    }
    assert.equal(n, acked.length);
    const resent = recs.reduce((s, r) => s + r.resent, 0);
    console.log(`# ${onA.length} clients moved by the drain; ${acked.length} messages, ${resent} sent a second time`);
  });
});

const WAIT_UPGRADE = 20_000;
