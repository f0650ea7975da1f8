// Fault test: a third chatnode joins and nginx is reloaded (SIGHUP, as `nginx -s reload`) with
// the new configuration while clients chat through it. nginx's old workers finish what they
// hold, so no established connection is dropped: no client of the first two nodes disconnects
// or has to send a message twice, every engine request is answered, and new sessions reach
// the new node, whose clients chat with the others through Redis.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { startCluster, connectMany, send, closeAll, tagOf, waitUntil } from "./lib/cluster.mjs";
import { sleep } from "./lib/harness.mjs";

const ROOMS = 6;

let cluster;
let recs = [];
let stop = false;

describe("nginx reloaded with a third chatnode", { timeout: 240_000 }, () => {
  before(async () => {
    cluster = await startCluster({ chatFlags: ["--ping-interval", "2000", "--ping-timeout", "2000"] });
  });

  after(async () => {
    stop = true;
    closeAll(recs);
    await cluster?.stop();
  });

  it("drops no established connection and sends new sessions to the new node", async () => {
    const first = [
      ...(await connectMany(cluster.url, 30, { rooms: ROOMS, prefix: "p", opts: { transports: ["polling"] } })),
      ...(await connectMany(cluster.url, 30, { rooms: ROOMS, prefix: "w" })),
    ];
    recs.push(...first);
    await waitUntil(() => first.filter((r) => r.user[0] === "w").every((r) => r.s.io.engine.transport.name === "websocket"),
      20_000, "the upgrades", first);

    const acked = []; // { id, room } (stream ids are per room: two rooms can have the same one)
    const chat = (list) => Promise.all(list.map(async (r, i) => {
      await sleep(i * 10);
      for (let k = 0; !stop; k++) {
        const id = await send(r, `${r.user} says ${k}`, `${r.user}-${k}`, { until: () => stop });
        if (id) acked.push({ id, room: r.room });
        await sleep(200 + Math.random() * 300);
      }
    }));
    const chatting = [chat(first)];
    await sleep(1500);

    await cluster.addNode("c");
    assert.match(readFileSync(path.join(cluster.dir, "nginx.conf"), "utf8"), /"~\^c\\\." node_c;/);
    await cluster.reload();

    // new sessions: some reach c (it has no connections, least_conn prefers it)
    const late = [];
    await waitUntil(async () => {
      const more = await connectMany(cluster.url, 5, { rooms: ROOMS, prefix: `n${late.length}-` });
      late.push(...more);
      recs.push(...more);
      return late.some((r) => tagOf(r.s.io.engine.id) === "c");
    }, 20_000, "a new session on node c", late);
    chatting.push(chat(late));

    // several heartbeat rounds after the reload: held polls and WebSockets of the old workers
    // end or go on, the pollers' next requests go through the new workers
    await sleep(6000);
    stop = true;
    await Promise.all(chatting);

    for (const r of first) {
      assert.deepEqual(r.disconnects, [], `${r.user} (on ${tagOf(r.s.io.engine.id)}) disconnected`);
      assert.deepEqual(r.connectErrors, [], `${r.user} saw errors`);
      assert.equal(r.resent, 0, `${r.user} had to send a message twice`);
    }
    for (const r of late) assert.deepEqual([r.disconnects, r.connectErrors], [[], []], r.user);

    // every member of each room got every message, across the three nodes
    const perRoom = new Map();
    for (const { id, room } of acked) {
      if (!perRoom.has(room)) perRoom.set(room, []);
      perRoom.get(room).push(id);
    }
    for (const r of first) {
      const missing = perRoom.get(r.room).filter((id) => !r.received.has(id));
      assert.deepEqual(missing.slice(0, 3), [], `${r.user} missed ${missing.length} messages`);
    }

    const reqs = cluster.accessLog();
    const bad = reqs.filter((q) => q.status !== 200 && q.status !== 101);
    assert.deepEqual(bad.slice(0, 5), [], `${bad.length} engine requests failed`);
    const onC = late.filter((r) => tagOf(r.s.io.engine.id) === "c").length;
    console.log(`# reload with 60 clients connected: none dropped; ${acked.length} messages; ${onC} of ${late.length} new sessions on the new node`);
  });
});
