// Fault test: one of two chatnodes behind nginx is killed (SIGKILL) while 500 clients with
// socket.io-client's defaults (polling, then the upgrade to WebSocket; reconnection on) chat.
// Every client of the dead node reconnects by itself to the survivor, the survivor's clients
// never notice, and every acknowledged message, before the kill and after it, is in the
// history afterwards exactly once, its text under the id its ack gave (a message is
// acknowledged once Redis has stored it).
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
    const acked = []; // { id, room, text }
    const ackedBy = new Map(recs.map((r) => [r, 0])); // acknowledged messages per client
    const chatting = Promise.all(recs.map(async (r, i) => {
      await sleep((i * 2000) / CLIENTS); // spread out, one message every 1.5 to 2.5 s each
      for (let k = 0; !stop; k++) {
        const text = `${r.user} says ${k}`;
        const id = await send(r, text, `${r.user}-${k}`, { timeoutMs: 5000, until: () => stop });
        if (id) {
          acked.push({ id, room: r.room, text });
          ackedBy.set(r, ackedBy.get(r) + 1);
        }
        await sleep(1500 + Math.random() * 1000);
      }
    }));
    await waitUntil(() => recs.every((r) => ackedBy.get(r) >= 2), 60_000, "two acknowledged messages from every client", recs);
    const ackedBefore = acked.length;
    const killedAt = Date.now();
    await killNode(cluster.nodes.a);

    await waitUntil(() => recs.every((r) => r.s.connected && tagOf(r.s.io.engine.id) === "b" && r.joined === r.connects),
      60_000, "every client connected to the survivor and back in its room", recs);
    const movedMs = Date.now() - killedAt;
    // a little chat on the survivor alone: a message from every client acknowledged after the move
    const atMove = new Map(ackedBy);
    await waitUntil(() => recs.every((r) => ackedBy.get(r) > atMove.get(r)), 60_000,
      "a message acknowledged after the move from every client", recs);
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

    // every acknowledged message is in its room's history, exactly once: its text once (a
    // message stored a second time gets a stream id of its own, so the ids alone would not
    // tell), under the id its ack gave
    assert.ok(ackedBefore >= 2 * CLIENTS, `only ${ackedBefore} messages acknowledged before the kill`);
    const byRoom = new Map();
    for (const m of acked) {
      if (!byRoom.has(m.room)) byRoom.set(m.room, []);
      byRoom.get(m.room).push(m);
    }
    let checked = 0;
    for (const [room, msgs] of byRoom) {
      const history = await cluster.history(room);
      const ids = new Set(history.map((m) => m.id));
      assert.equal(ids.size, history.length, `${room}: two messages under one id`);
      const times = new Map();
      for (const m of history) times.set(m.text, (times.get(m.text) ?? 0) + 1);
      assert.deepEqual([...times].filter(([, n]) => n > 1), [], `${room}: texts stored more than once`);
      const textOf = new Map(history.map((m) => [m.id, m.text]));
      const missing = msgs.filter((m) => textOf.get(m.id) !== m.text).map((m) => `${m.id} ${m.text}`);
      assert.deepEqual(missing, [], `${room}: acknowledged messages missing from the history (or another text under their id)`);
      checked += msgs.length;
    }
    assert.equal(checked, acked.length);
    assert.equal(new Set(acked.map((m) => m.text)).size, acked.length, "each text acknowledged once");

    // the adminnode notices the dead node
    await waitUntil(async () => (await cluster.nodeInfo("a"))?.state === "down", 30_000, "the adminnode to list node a as down");
    console.log(`# ${onA.length} clients moved from the killed node in ${movedMs} ms; ${acked.length} acknowledged messages (${ackedBefore} before the kill) all in the history once`);
  });
});
