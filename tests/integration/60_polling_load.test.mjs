// Fault test: 200 long-polling-only clients, all from one source address (127.0.0.1), chat for
// 30 s through nginx in front of two chatnodes. Session stickiness by the sid's node tag must
// hold for every request: no "Session ID unknown", no HTTP 400, no disconnect; and least_conn
// must put sessions on both nodes although they share one address (ip_hash would not).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startCluster, connectMany, send, closeAll, tagOf, waitUntil } from "./lib/cluster.mjs";
import { httpRequest, sleep } from "./lib/harness.mjs";

const CLIENTS = 200;
const ROOMS = 20;
const CHAT_MS = 30_000;

let cluster;
let recs = [];

describe("200 polling-only clients through nginx", { timeout: 240_000 }, () => {
  before(async () => {
    cluster = await startCluster({ chatFlags: ["--ping-interval", "5000", "--ping-timeout", "5000"] });
  });

  after(async () => {
    closeAll(recs);
    await cluster?.stop();
  });

  it("spreads 200 clients from one address over both nodes", async () => {
    recs = await connectMany(cluster.url, CLIENTS, { rooms: ROOMS, opts: { transports: ["polling"] } });
    const perTag = { a: 0, b: 0 };
    for (const r of recs) perTag[tagOf(r.s.io.engine.id)]++;
    // least connections with a shared zone: close to half each; not all on one
    assert.ok(perTag.a >= CLIENTS / 4 && perTag.b >= CLIENTS / 4, `sessions per node: ${JSON.stringify(perTag)}`);
    const health = await Promise.all(["a", "b"].map(async (t) =>
      JSON.parse((await httpRequest(`${cluster.nodes[t].url}/healthz`)).body)));
    assert.deepEqual(health.map((h) => h.polling), [perTag.a, perTag.b]);
  });

  it("chats for 30 s with no Session ID unknown, no 400 and no disconnect", async () => {
    const acked = []; // { id, room } (stream ids are per room: two rooms can have the same one)
    const lost = [];
    let sent = 0;
    const until = Date.now() + CHAT_MS;
    // every client sends about every 3 s, spread so that the load is even
    await Promise.all(recs.map(async (r, i) => {
      await sleep((i * 3000) / CLIENTS);
      for (let k = 0; Date.now() < until; k++) {
        sent++;
        const t0 = Date.now();
        const resent = r.resent;
        acked.push({ id: await send(r, `${r.user} says ${k}`, `${r.user}-${k}`), room: r.room });
        if (r.resent !== resent) lost.push({ user: r.user, k, engine: r.s.io.engine.id, sentAt: new Date(t0).toISOString() });
        await sleep(2500 + Math.random() * 1000);
      }
    }));
    assert.ok(acked.every((m) => typeof m.id === "string"), "every message stored");
    assert.deepEqual(lost.slice(0, 5), [], `${lost.length} of ${sent} messages needed a second try; disconnects: ${
      JSON.stringify(recs.filter((r) => r.disconnects.length).slice(0, 5).map((r) => [r.user, r.disconnects]))}`);

    // every member of a room received every message sent to it
    const perRoom = new Map();
    for (const { id, room } of acked) {
      if (!perRoom.has(room)) perRoom.set(room, []);
      perRoom.get(room).push(id);
    }
    await waitUntil(() => recs.every((r) => perRoom.get(r.room).every((id) => r.received.has(id))),
      15_000, "every message at every member of its room", recs);

    for (const r of recs) {
      assert.deepEqual(r.disconnects, [], `${r.user} disconnected`);
      assert.deepEqual(r.connectErrors, [], `${r.user} saw errors`);
      assert.equal(r.connects, 1, `${r.user} connected ${r.connects} times`);
      assert.equal(r.s.io.engine.transport.name, "polling");
    }

    // nginx's view: every engine request answered 200 (a sid routed to another node would be
    // a 400 "Session ID unknown"), by the node its sid names
    const reqs = cluster.accessLog();
    const port = { a: cluster.nodes.a.port, b: cluster.nodes.b.port };
    assert.ok(reqs.length > sent, `only ${reqs.length} engine requests logged for ${sent} messages`);
    const bad = reqs.filter((q) => q.status !== 200);
    assert.deepEqual(bad.slice(0, 5), [], `${bad.length} engine requests not answered 200`);
    const misrouted = reqs.filter((q) => q.sid && q.upstream !== `127.0.0.1:${port[tagOf(q.sid)]}`);
    assert.deepEqual(misrouted.slice(0, 5), [], `${misrouted.length} requests went to the wrong node`);
    console.log(`# ${sent} messages, ${reqs.length} engine requests through nginx, all 200`);
  });
});
