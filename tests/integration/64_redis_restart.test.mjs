// Fault test: Redis dies (SIGKILL) under a running cluster behind nginx and comes back empty
// (no persistence) on the same port. Clients stay connected; while Redis is away a message
// gets a clear error at once instead of hanging; afterwards, with nobody touching anything,
// messages cross nodes again and are stored, room presence lists every member again (the
// nodes write their entries anew), the adminnode lists both nodes up, and new clients join.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startCluster, connectMany, closeAll, tagOf, waitUntil } from "./lib/cluster.mjs";
import { httpRequest, sleep, WAIT_MS } from "./lib/harness.mjs";

let cluster;
let recs = [];

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

    await cluster.redis.kill();
    // Redis away: a message is refused with a clear error, not left hanging
    await sleep(500);
    const t0 = Date.now();
    const refused = await onA[0].s.timeout(WAIT_MS).emitWithAck("message", { room: "r0", text: "into the void" });
    assert.equal(refused.error?.code, "internal", JSON.stringify(refused));
    assert.match(refused.error.message, /send it again/);
    console.log(`# with Redis down a message is refused in ${Date.now() - t0} ms`);
    await sleep(1500);

    await cluster.redis.restart(); // same port, no data
    const restartedAt = Date.now();

    // a message from a to b goes through again, by itself
    let text = "";
    await waitUntil(async () => {
      text = `after the restart ${Date.now()}`;
      const got = new Promise((resolve) => {
        const on = (m) => m.text === text && resolve(true);
        onB[0].s.on("message", on);
        setTimeout(() => { onB[0].s.off("message", on); resolve(false); }, 1000);
      });
      const ack = await onA[0].s.timeout(WAIT_MS).emitWithAck("message", { room: "r0", text });
      return ack.ok && (await got);
    }, 30_000, "a message from node a to node b", recs);
    const recoveredMs = Date.now() - restartedAt;

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
    console.log(`# messages crossed nodes again ${recoveredMs} ms after Redis came back`);
  });
});
