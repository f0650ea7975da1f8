// Connection-state recovery across two chatnodes on the other Redis topologies: a six-node
// Redis Cluster (the log, the sessions and the markers of a namespace live on the shard of its
// hash tag) and a primary with a replica behind three
// sentinels. A client leaves one node while its room carries messages and comes back on the
// other with its session and every missed message once, in order; on the cluster with both
// bus formats (in the sharded one, logged packets travel on the log's own shard channel).
// Exercises chatnode/cluster_recovery.c and proto/rec_store.c's scripts on both topologies.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startChatnode, stopAll, eventually, withTimeout, sleep, WAIT_MS } from "./lib/harness.mjs";
import { emitAck } from "./lib/clients.mjs";
import { startRedisCluster, startSentinelGroup } from "./lib/redis_topology.mjs";

const OFFSET = /^\d+-\d+$/;

function connect(url, opts = {}) {
  const s = io(url, { forceNew: true, transports: ["websocket"], reconnection: false, ...opts });
  return withTimeout(new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", (e) => reject(new Error(`connect_error: ${e.message}`)));
  }), WAIT_MS, "connect");
}

async function health(node) {
  return (await (await fetch(`${node.url}/healthz`)).json()).recovery;
}

/** A client on `from` in room r leaves; `during` runs; it comes back on `to` with the pid and
 *  offset socket.io-client keeps (a new client object given them, as a page reload would not:
 *  this is the reconnect socket.io-client makes, aimed at another node). */
async function moveClient(from, to, during) {
  const a = await connect(from.url);
  const got = [];
  a.on("news", (...args) => got.push(args));
  await emitAck(a, "join", "r");
  const b = await connect(to.url);
  await emitAck(b, "broadcast", "r", "news", 0);
  await eventually(() => got.length === 1, WAIT_MS, "the first message");
  const { id, _pid: pid, _lastOffset: offset } = a;
  assert.match(offset, OFFSET);
  const kept = (await health(from)).kept_total;
  a.io.engine.close();
  await eventually(async () => (await health(from)).kept_total > kept, WAIT_MS, "kept");
  await during(b);
  const back = io(to.url, { forceNew: true, transports: ["websocket"], reconnection: false, autoConnect: false });
  back._pid = pid;
  back._lastOffset = offset;
  back.on("news", (...args) => got.push(args));
  back.connect();
  await withTimeout(new Promise((resolve) => back.once("connect", resolve)), WAIT_MS, "back");
  await emitAck(b, "broadcast", "r", "news", "after");
  await eventually(() => got.length >= 5, WAIT_MS, "5 events");
  await sleep(200);
  const result = { id, backId: back.id, recovered: back.recovered, got };
  b.close();
  back.close();
  return result;
}

/** A client moves from a to b while 3 messages go to its room: it gets its session back with
 *  them, once each, in order, and a lets its kept copy go. */
async function movesAcross(a, b) {
  await eventually(async () => (await health(a)).store === "redis" && (await health(b)).store === "redis",
    WAIT_MS, "both nodes on the Redis store");
  const { id, backId, recovered, got } = await moveClient(a, b, async (sender) => {
    for (let i = 1; i <= 3; i++) await emitAck(sender, "broadcast", "r", "news", i);
  });
  assert.equal(recovered, true);
  assert.equal(backId, id);
  assert.deepEqual(got.map((e) => e[0]), [0, 1, 2, 3, "after"]);
  for (const e of got) assert.match(e[1], OFFSET);
  assert.equal((await health(b)).restored, 1);
  assert.equal((await health(a)).moved, 1, "the old node let its kept copy go");
}

for (const topology of ["cluster", "sentinel"]) {
  describe(`connection-state recovery on Redis ${topology === "cluster" ? "Cluster (classic bus)" : "behind Sentinel"}`,
    { timeout: 180_000 }, () => {
      let redis, a, b;
      before(async () => {
        redis = topology === "cluster" ? await startRedisCluster() : await startSentinelGroup();
        const flags = ["--app", "echo", "--echo-test-events", "--redis", redis.url,
          ...(topology === "cluster" ? ["--bus-format", "classic"] : [])];
        [a, b] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
      });
      after(async () => {
        await stopAll(a, b);
        await redis?.stop();
      });

      it("a client leaves one node and comes back on the other with every missed message", () => movesAcross(a, b));
    });
}

describe("connection-state recovery on Redis Cluster with the sharded bus format", { timeout: 180_000 }, () => {
  let redis, a, b;
  before(async () => {
    redis = await startRedisCluster();
    const flags = ["--app", "echo", "--echo-test-events", "--redis", redis.url]; // sharded: the default
    [a, b] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
  });
  after(async () => {
    await stopAll(a, b);
    await redis?.stop();
  });

  it("a client leaves one node and comes back on the other with every missed message", () => movesAcross(a, b));
});
