// Fault test. A six-node Redis Cluster (cluster-node-timeout 1000 ms) with two chatnodes
// `--app chat --store-replicas 1` on it and clients on both in a busy room, chosen so that one
// primary owns both the room's stream and its shard channel; that primary gets a second
// replica, so that its shard still has a replica after a failover. The primary is killed (SIGKILL)
// while a client on each node keeps sending; its replica takes over. Meanwhile delivery inside
// each node never stops (typing notices in the busy room, and chat in a room stored on another
// primary); a message to the busy room is answered ok or with the chat's retryable error, and
// its sender sends it again under the same client id until it is ok; without anyone touching
// the nodes, messages cross between them and are stored again. Afterwards every acknowledged
// message is in the room's history exactly once, and both nodes' /healthz list the promoted
// replica among the primaries, not the killed one.
// Exercises proto/runtime/bus_cluster.c, chatnode/cluster.c and chat_storage_redis.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { redisCli, startRedisCluster } from "./lib/redis_topology.mjs";
import { startChatnode, stopAll, eventually, httpRequest, waitFor, WAIT_MS, busConnected } from "./lib/harness.mjs";

const PREFIX = "socket.io";
const streamKey = (room) => `${PREFIX}:chat:{room:${room}}`;
const roomChannel = (room) => `${PREFIX}#/#${room}#`; // the sharded adapter's dynamic channel
const RETRYABLE = /^(the message could not be stored|storage is unavailable); send it again$/;
const ACK_MS = 30_000; // an ack not back by then counts as never answered
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const health = async (node) => JSON.parse((await httpRequest(`${node.url}/healthz`)).body);

/** A room's whole history through the chat's "history" event, oldest first. */
async function historyOf(s, room) {
  const all = [];
  let before = null;
  for (;;) {
    const ack = await s.timeout(WAIT_MS).emitWithAck("history", { room, limit: 100, ...(before ? { before } : {}) });
    assert.ok(ack.ok, JSON.stringify(ack));
    all.unshift(...ack.messages);
    if (ack.messages.length < 100) return all;
    before = ack.messages[0].id;
  }
}

/**
 * Sends `${user} k` for k = 1, 2, ... to room, each under client id `${user}-k` until it is
 * acknowledged ok, until stop() is called. Each ack is kept as { k, at, ack } in log (a
 * client-side timeout as { error: { code: "no_ack" } }); acked holds the texts acknowledged ok.
 */
function sender(s, user, room, everyMs) {
  const log = [], acked = [];
  let stopping = false, aborting = false;
  const done = (async () => {
    for (let k = 1; !stopping; k++) {
      while (!aborting) {
        const ack = await s.timeout(ACK_MS).emitWithAck("message", { room, text: `${user} ${k}`, id: `${user}-${k}` })
          .catch((err) => ({ error: { code: "no_ack", message: err.message } }));
        log.push({ k, at: Date.now(), ack });
        if (ack.ok) {
          acked.push(`${user} ${k}`);
          break;
        }
        if (ack.error?.code === "no_ack") break; // the assertions below name it
        await sleep(100);
      }
      await sleep(everyMs);
    }
  })();
  // stop: after the message under way is acknowledged; abort: at once
  return { log, acked, stop: (abort) => ((stopping = true), (aborting = abort), done) };
}

describe("chat through a Redis Cluster failover (--store-replicas 1)", { timeout: 240_000 }, () => {
  let cluster, a, b;
  const sockets = [];
  before(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMs: 1000 });
    // a WAIT 1 can be met once every primary's replica is in sync
    await eventually(async () => {
      let online = 0;
      for (const port of cluster.ports) online += /^slave0:.*state=online/m.test(await redisCli(port, "INFO", "replication"));
      return online === 3;
    }, 30_000, "every primary's replica online");
    const flags = ["--app", "chat", "--allow-anonymous", "--redis", cluster.url, "--store-replicas", "1",
      "--rate", "1000", "--burst", "1000"];
    [a, b] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
    await eventually(async () => (await busConnected(a)) && (await busConnected(b)), WAIT_MS, "both nodes' bus to connect");
  });
  after(async () => {
    for (const s of sockets) s.close();
    try {
      await stopAll(a, b);
    } finally {
      await cluster?.stop();
    }
  });

  const online = async (node, user, ...rooms) => {
    const s = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user } });
    sockets.push(s);
    await waitFor(s, "connect");
    for (const room of rooms) {
      const joined = await s.timeout(WAIT_MS).emitWithAck("join", { room });
      assert.ok(joined.ok, JSON.stringify(joined));
    }
    return s;
  };

  it("keeps local delivery, resumes cross-node delivery and storage, and loses no acknowledged message", async () => {
    // busy: its stream and its shard channel on one primary, the one to kill; calm: its stream
    // on another primary
    let busy, calm, victim;
    for (let i = 0; !busy || !calm; i++) {
      const room = `room-${i}`;
      const stream = await cluster.primaryOfSlot(await cluster.keySlot(streamKey(room)));
      const channel = await cluster.primaryOfSlot(await cluster.keySlot(roomChannel(room)));
      if (!busy && stream === channel) [busy, victim] = [room, stream];
      else if (busy && !calm && stream !== victim) calm = room;
    }
    // a second replica for that primary: after the failover the new primary still has one, so
    // WAIT 1 can be met again (a lone promoted replica would refuse every message for good)
    await cluster.addReplica(victim);

    const ann = await online(a, "ann", busy), amy = await online(a, "amy", busy, calm), lou = await online(a, "lou", busy, calm);
    const bob = await online(b, "bob", busy), bea = await online(b, "bea", busy), lee = await online(b, "lee", busy);
    const seen = new Map(); // socket -> [{ text, at }] of "message" events
    for (const s of [amy, bea]) {
      seen.set(s, []);
      s.on("message", (m) => seen.get(s).push({ room: m.room, text: m.text, at: Date.now() }));
    }
    const texts = (s, room) => seen.get(s).filter((m) => m.room === room).map((m) => m.text);
    const first = await ann.timeout(WAIT_MS).emitWithAck("message", { room: busy, text: "hello", id: "hello" });
    assert.ok(first.ok, JSON.stringify(first));
    await eventually(() => texts(bea, busy).includes("hello"), WAIT_MS, "the first message across the nodes");

    // local traffic in lockstep: each typing notice (and each calm message) waits for its
    // arrival at the other client on the same node before the next one goes
    const local = { a: [], b: [], calm: [] };
    let stopLocal = false;
    const typingAt = (from, to, into) => (async () => {
      const n = () => into.length;
      to.on("typing", (t) => t.user?.id === `guest:${from.auth.user}` && into.push(Date.now()));
      while (!stopLocal) {
        const before = n();
        const ack = await from.timeout(WAIT_MS).emitWithAck("typing", { room: busy });
        assert.ok(ack.ok, JSON.stringify(ack));
        await eventually(() => n() > before, WAIT_MS, `${from.auth.user}'s typing notice at ${to.auth.user}`);
        await sleep(20);
      }
    })();
    const calmLoop = (async () => {
      for (let k = 1; !stopLocal; k++) {
        const ack = await lou.timeout(ACK_MS).emitWithAck("message", { room: calm, text: `calm ${k}`, id: `calm-${k}` });
        if (!ack.ok) { // the node keeps its retry promise: the same id again
          assert.match(ack.error?.message ?? "", RETRYABLE, JSON.stringify(ack));
          k--;
          await sleep(100);
          continue;
        }
        await eventually(() => texts(amy, calm).includes(`calm ${k}`), WAIT_MS, `calm ${k} at amy`);
        local.calm.push(Date.now());
        await sleep(20);
      }
    })();
    const localErrors = [];
    const localLoops = [typingAt(lou, amy, local.a), typingAt(lee, bea, local.b), calmLoop]
      .map((p) => p.catch((err) => localErrors.push(err.message)));

    const annSends = sender(ann, "ann", busy, 50), bobSends = sender(bob, "bob", busy, 50);
    let killedAt, promotedAt, promoted, ok = false;
    try {
      await eventually(() => annSends.acked.length >= 5 && bobSends.acked.length >= 5, WAIT_MS, "messages before the kill");
      await cluster.servers.find((s) => s.port === victim).kill();
      killedAt = Date.now();
      await eventually(async () => (promoted = await cluster.primaryOfSlot(await cluster.keySlot(streamKey(busy)))) !== victim,
        60_000, "a replica to take over the busy room's slot", 100);
      promotedAt = Date.now();

      // storage and cross-node delivery come back by themselves, both ways
      const [na, nb] = [annSends.acked.length, bobSends.acked.length];
      await eventually(() => annSends.acked.length >= na + 5 && bobSends.acked.length >= nb + 5, 60_000,
        "messages acknowledged ok after the failover");
      const [lastAnn, lastBob] = [annSends.acked.at(-1), bobSends.acked.at(-1)];
      await eventually(() => texts(bea, busy).includes(lastAnn) && texts(amy, busy).includes(lastBob), WAIT_MS,
        `"${lastAnn}" at bea and "${lastBob}" at amy`);
      ok = true;
    } finally {
      stopLocal = true;
      await Promise.all([annSends.stop(!ok), bobSends.stop(!ok)]);
      await Promise.all(localLoops);
    }
    assert.deepEqual(localErrors, [], "local delivery failed");

    // delivery inside each node went on while the slot had no primary
    const during = (times) => times.filter((t) => t > killedAt && t < promotedAt).length;
    const counts = { typing_a: during(local.a), typing_b: during(local.b), calm_a: during(local.calm) };
    console.log(`# failover: ${promotedAt - killedAt} ms from the kill to the promotion seen; local deliveries ` +
      `meanwhile ${JSON.stringify(counts)}`);
    for (const [what, n] of Object.entries(counts)) assert.ok(n >= 3, `${what}: ${n} deliveries between kill and promotion`);

    // every answer was ok or the retryable error; messages were refused after the kill
    const answers = [...annSends.log, ...bobSends.log];
    const wrong = answers.filter(({ ack }) => !ack.ok && !(ack.error?.code === "internal" && RETRYABLE.test(ack.error.message)));
    assert.deepEqual(wrong, [], "answers other than ok and the retryable error");
    const refused = answers.filter(({ ack, at }) => !ack.ok && at > killedAt).length;
    console.log(`# refused after the kill: ${refused} of ${answers.filter(({ at }) => at > killedAt).length} answers`);

    // every acknowledged message in the history once, nothing twice
    const stored = (await historyOf(bea, busy)).map((m) => m.text);
    assert.deepEqual(stored.filter((t, i) => stored.indexOf(t) !== i), [], "texts stored more than once");
    const acked = ["hello", ...annSends.acked, ...bobSends.acked];
    assert.deepEqual(acked.filter((t) => !stored.includes(t)), [], "acknowledged but not in the history");

    // both nodes route to the promoted replica and no longer to the killed primary, and count
    // the failover they saw
    await eventually(async () => {
      for (const node of [a, b]) {
        const { primaries, failovers } = (await health(node)).bus;
        if (!primaries.includes(`127.0.0.1:${promoted}`) || primaries.includes(`127.0.0.1:${victim}`)) return false;
        if (!(failovers >= 1)) return false;
      }
      return true;
    }, 30_000, `both nodes' primaries to hold 127.0.0.1:${promoted}, not 127.0.0.1:${victim}, and a failover counted`);
  });
});
