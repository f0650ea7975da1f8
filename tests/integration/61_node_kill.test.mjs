// Fault test: one of two chatnodes behind nginx is killed (SIGKILL) while 500 clients with
// socket.io-client's defaults (polling, then the upgrade to WebSocket; reconnection on) chat.
// Every client of the dead node reconnects by itself to the survivor, the survivor's clients
// never notice, and every message acknowledged before the kill is in the history afterwards
// (a message is acknowledged once Redis has stored it).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startCluster, connectMany, send, closeAll, tagOf, killNode, waitUntil } from "./lib/cluster.mjs";
import { sleep } from "./lib/harness.mjs";

const CLIENTS = 500;
const ROOMS = 50;

let cluster;
let recs = [];
let stop = false;

describe("SIGKILL of a chatnode with 500 clients", { timeout: 240_000 }, () => {
  before(async () => {
    cluster = await startCluster({ chatFlags: ["--history-size", "100000"] });
  });

  after(async () => {
    stop = true;
    closeAll(recs);
    await cluster?.stop();
  });

  it("moves every client to the survivor and loses no acknowledged message", async () => {
    recs = await connectMany(cluster.url, CLIENTS, { rooms: ROOMS });
    const onA = recs.filter((r) => tagOf(r.s.io.engine.id) === "a");
    const onB = recs.filter((r) => tagOf(r.s.io.engine.id) === "b");
    assert.ok(onA.length >= CLIENTS / 4 && onB.length >= CLIENTS / 4, `sessions per node: a=${onA.length} b=${onB.length}`);
    await waitUntil(() => recs.every((r) => r.s.io.engine.transport.name === "websocket"), 30_000, "every upgrade", recs);

    // everyone chats; the kill comes in the middle of it
    const acked = []; // { id, room, at }
    let killedAt = Infinity;
    const chatting = Promise.all(recs.map(async (r, i) => {
      await sleep((i * 2000) / CLIENTS);
      for (let k = 0; !stop; k++) {
        const id = await send(r, `${r.user} says ${k}`, `${r.user}-${k}`, { timeoutMs: 5000, until: () => stop });
        if (id) acked.push({ id, room: r.room, at: Date.now() });
        await sleep(1500 + Math.random() * 1000);
      }
    }));
    await sleep(5000);
    const ackedBefore = acked.length;
    killedAt = Date.now();
    await killNode(cluster.nodes.a);

    await waitUntil(() => recs.every((r) => r.s.connected && tagOf(r.s.io.engine.id) === "b" && r.joined === r.connects),
      60_000, "every client connected to the survivor and back in its room", recs);
    const movedMs = Date.now() - killedAt;
    await sleep(3000); // a little chat on the survivor alone
    stop = true;
    await chatting;

    for (const r of onA) {
      assert.ok(r.connects >= 2, `${r.user} of the dead node did not reconnect`);
      assert.ok(r.disconnects.every((d) => d === "transport close" || d === "transport error"),
        `${r.user}: ${r.disconnects}`);
    }
    for (const r of onB) {
      assert.deepEqual(r.disconnects, [], `${r.user} of the survivor disconnected`);
      assert.equal(r.connects, 1);
    }
    assert.ok(acked.some((m) => m.at > killedAt + movedMs), "messages were acknowledged after the move");

    // every acknowledged message is in its room's history, exactly once
    const acks = acked.slice(0, ackedBefore); // in the order of their acks
    assert.ok(acks.length > CLIENTS, `only ${acks.length} messages acknowledged before the kill`);
    const byRoom = new Map();
    for (const m of acked) {
      if (!byRoom.has(m.room)) byRoom.set(m.room, []);
      byRoom.get(m.room).push(m.id);
    }
    let checked = 0;
    for (const [room, ids] of byRoom) {
      const history = await cluster.history(room);
      const inHistory = new Set(history.map((m) => m.id));
      assert.equal(inHistory.size, history.length, `${room}: a message stored twice`);
      const missing = ids.filter((id) => !inHistory.has(id));
      assert.deepEqual(missing, [], `${room}: acknowledged messages missing from the history`);
      checked += ids.length;
    }
    assert.equal(checked, acked.length);

    // the adminnode notices the dead node
    await waitUntil(async () => (await cluster.nodeInfo("a"))?.state === "down", 30_000, "the adminnode to list node a as down");
    console.log(`# ${onA.length} clients moved from the killed node in ${movedMs} ms; ${acked.length} acknowledged messages (${acks.length} before the kill) all in the history`);
  });
});
