// chatnode on Redis Sentinel and Redis Cluster against a single Redis: failover times, how bus
// traffic spreads over a cluster's shards and reaches only the nodes that host a room, the
// cross-node latency under load, and what --store-replicas 1 adds to a chat message's ack.
// Every Redis runs on this machine on free ports (tests/integration/lib/redis_topology.mjs).
// Prints a Markdown section for docs/benchmarks.md on stdout, progress on stderr.
//
//   node tests/bench/redis_topologies.mjs [--chatnode PATH] [--loadgen PATH] [--phases a,b,c,d,e]
//
// Phases (see the section it prints): a failover, b spread over shards, c one node's share in
// sharded dynamic mode, d cross-node latency, e the cost of --store-replicas 1.
// tests/bench/redis_topologies.sh builds what this needs and runs it.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { startChatnode, startRedis, stopAll, eventually, httpRequest } from "../integration/lib/harness.mjs";
import { redisCli, startRedisCluster, startSentinelGroup } from "../integration/lib/redis_topology.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const BIN = arg("chatnode", path.join(here, "../../build-release/chatnode/chatnode"));
const LOADGEN = arg("loadgen", path.join(here, "../../build-release/tests/bench/loadgen/loadgen"));
const PHASES = arg("phases", "a,b,c,d,e").split(",");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error("#", ...a);
const fmt = (n, d = 0) => (n === undefined || Number.isNaN(n) ? "-" : n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d }));
const quantile = (xs, q) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] : NaN;
};

const CHAT = ["--app", "chat", "--allow-anonymous", "--rate", "100000", "--burst", "100000", "--max-rooms", "1000",
  "--handshake-rate", "0"];
const node = (args) => startChatnode(args, {}, { bin: BIN });
const bus = async (n) => JSON.parse((await httpRequest(`${n.url}/healthz`)).body).bus;
const busUp = async (...nodes) => {
  for (const n of nodes) {
    const b = await bus(n);
    if (b?.command !== "connected" || b?.subscriber !== "connected") return false;
  }
  return true;
};

async function online(n, user, rooms = []) {
  const s = io(n.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user } });
  await new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
  });
  for (const room of rooms) {
    const ack = await s.timeout(10_000).emitWithAck("join", room);
    if (ack && ack.ok === false) throw new Error(`join ${room}: ${JSON.stringify(ack)}`);
  }
  return s;
}
const chatJoin = async (s, room) => {
  const ack = await s.timeout(10_000).emitWithAck("join", { room });
  if (!ack.ok) throw new Error(`join ${room}: ${JSON.stringify(ack)}`);
};

const out = [];
const say = (line = "") => out.push(line);

// ---- a: failover ----------------------------------------------------------------------------

/**
 * Two chatnodes on url, a sender and a receiver on each in one room; the senders send RATE
 * messages/s together (new client ids, no retries) while kill() kills the primary. Returns the
 * times from the kill to the replica's promotion and to its announcement (as promoted() and
 * announced(), polled every 50 ms, see them),
 * to the first cross-node delivery and to the first ok ack of a message sent after the kill,
 * and the acks that were errors meanwhile.
 */
async function failover({ url, room, kill, promoted, announced = promoted, rate = 50 }) {
  const flags = [...CHAT, "--redis", url, "--store-replicas", "1"];
  const [a, b] = await Promise.all([node(flags), node(flags)]);
  const sockets = [];
  try {
    await eventually(() => busUp(a, b), 30_000, "both buses up");
    const sa = await online(a, "ann"), sb = await online(b, "bob"), ra = await online(a, "amy"), rb = await online(b, "bea");
    sockets.push(sa, sb, ra, rb);
    for (const s of sockets) await chatJoin(s, room);
    const sent = new Map(); // text -> send time
    let killedAt = Infinity, firstCross = Infinity, firstOk = Infinity, refused = 0, okAfter = 0, sentAfter = 0;
    const crossFrom = (r, from) => r.on("message", (m) => {
      if (m.from.id !== `guest:${from}`) return;
      const at = Date.now();
      if (sent.get(m.text) > killedAt && at < firstCross) firstCross = at;
    });
    crossFrom(ra, "bob");
    crossFrom(rb, "ann");
    let k = 0, stop = false;
    const pending = [];
    const tick = setInterval(() => {
      if (stop) return;
      const s = k % 2 ? sb : sa, text = `m ${k++}`, at = Date.now();
      sent.set(text, at);
      if (at > killedAt) sentAfter++;
      pending.push(s.timeout(30_000).emitWithAck("message", { room, text, id: `m-${k}` }).then((ack) => {
        if (at <= killedAt) return;
        if (ack.ok) {
          okAfter++;
          if (Date.now() < firstOk) firstOk = Date.now();
        } else refused++;
      }, () => at > killedAt && refused++));
    }, 1000 / rate);
    await sleep(2000);
    await kill();
    killedAt = Date.now();
    let promotedAt = Infinity;
    let announcedAt = Infinity;
    await Promise.all([
      eventually(async () => (await promoted()) && (promotedAt = Date.now()), 120_000, "the promotion", 50),
      eventually(async () => (await announced()) && (announcedAt = Date.now()), 120_000, "the announcement", 50),
    ]);
    await eventually(() => firstCross < Infinity && firstOk < Infinity && okAfter >= rate, 120_000, "delivery and storage after the kill", 50);
    stop = true;
    clearInterval(tick);
    await Promise.all(pending);
    return { toPromotion: promotedAt - killedAt, toAnnounced: announcedAt - killedAt, toCross: firstCross - killedAt, toOk: firstOk - killedAt, refused, sentAfter };
  } finally {
    for (const s of sockets) s.close();
    await stopAll(a, b);
  }
}

async function phaseFailover() {
  const rows = [];
  {
    log("a: failover on a Redis Cluster");
    const cluster = await startRedisCluster({ nodeTimeoutMs: 1000 });
    try {
      let room, victim;
      for (let i = 0; !room; i++) {
        const s = await cluster.primaryOfSlot(await cluster.keySlot(`socket.io:chat:{room:fo-${i}}`));
        if (s === await cluster.primaryOfSlot(await cluster.keySlot(`socket.io#/#fo-${i}#`))) [room, victim] = [`fo-${i}`, s];
      }
      await cluster.addReplica(victim);
      const slot = await cluster.keySlot(`socket.io:chat:{room:${room}}`);
      const r = await failover({ url: cluster.url, room, kill: () => cluster.servers.find((s) => s.port === victim).kill(),
        promoted: async () => (await cluster.primaryOfSlot(slot)) !== victim });
      rows.push(["Redis Cluster, 3 primaries, cluster-node-timeout 1000 ms", r]);
    } finally {
      await cluster.stop();
    }
  }
  {
    log("a: failover behind Sentinel");
    const group = await startSentinelGroup({ downAfterMs: 1000 });
    try {
      const old = await group.primaryPort();
      const r = await failover({ url: group.url, room: "fo", kill: () => group.servers.find((s) => s.port === old).kill(),
        promoted: async () => {
          for (const s of group.servers) {
            if (s.port !== old && /^role:master/m.test(await redisCli(s.port, "INFO", "replication"))) return true;
          }
          return false;
        },
        announced: async () => (await group.primaryPort()) !== old });
      rows.push(["Sentinel, 2 replicas, 3 sentinels, down-after-milliseconds 1000", r]);
    } finally {
      await group.stop();
    }
  }
  say("### Failover: primary SIGKILL under chat traffic");
  say();
  say("Two chatnodes (`--app chat --store-replicas 1`), a sender and a receiver on each, in one room; the senders send " +
    "50 messages/s together, each under a new client id, none retried. The primary that holds the room's stream (on the " +
    "cluster also its shard channel, and it has two replicas so that WAIT 1 can be met after the failover) is killed " +
    "with SIGKILL. Times are from the kill to the first message sent after it that reached the other node, and to " +
    "the first ok ack (promotion: when a replica's `INFO replication` says `role:master`, on the cluster when `CLUSTER NODES` names it the slot's primary; polled every 50 ms; announced: when the sentinels name it the primary, on the cluster the same as promoted); refused are the error acks (all the chat's retryable error) of the messages sent after the kill.");
  say();
  say("| topology | kill to promotion (ms) | kill to announced (ms) | kill to first cross-node delivery (ms) | kill to first ok ack (ms) | refused / sent after the kill |");
  say("|---|---|---|---|---|---|");
  for (const [what, r] of rows) say(`| ${what} | ${fmt(r.toPromotion)} | ${fmt(r.toAnnounced)} | ${fmt(r.toCross)} | ${fmt(r.toOk)} | ${r.refused} / ${r.sentAfter} |`);
  say();
}

// ---- b: spread over shards ------------------------------------------------------------------

const ECHO = ["--app", "echo", "--echo-test-events", "--handshake-rate", "0"];
const commandCalls = async (port, cmd) =>
  Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(await redisCli(port, "INFO", "commandstats"))?.[1] ?? 0);

async function phaseSpread(ROOMS = 300) {
  log(`b: ${ROOMS} rooms on a three-primary cluster`);
  const cluster = await startRedisCluster({ nodeTimeoutMs: 5000 });
  let a, b;
  const sockets = [];
  try {
    [a, b] = await Promise.all([node([...ECHO, "--redis", cluster.url]), node([...ECHO, "--redis", cluster.url])]);
    await eventually(() => busUp(a, b), 30_000, "both buses up");
    const rooms = Array.from({ length: ROOMS }, (_, i) => `room-${i}`);
    const ma = await online(a, "ma", rooms), mb = await online(b, "mb", rooms), sender = await online(a, "s");
    sockets.push(ma, mb, sender);
    let delivered = 0;
    for (const s of [ma, mb]) s.on("room-msg", () => delivered++);
    const primaries = [];
    for (const p of cluster.ports) if (/role:master/.test(await redisCli(p, "INFO", "replication"))) primaries.push(p);
    // every room channel has both nodes on it
    await eventually(async () => {
      for (const p of primaries) {
        const chans = (await redisCli(p, "PUBSUB", "SHARDCHANNELS", "socket.io#/#room-*")).split("\n").filter(Boolean);
        for (const c of chans) if (Number((await redisCli(p, "PUBSUB", "SHARDNUMSUB", c)).split("\n")[1]) !== 2) return false;
      }
      let n = 0;
      for (const p of primaries) n += (await redisCli(p, "PUBSUB", "SHARDCHANNELS", "socket.io#/#room-*")).split("\n").filter(Boolean).length;
      return n === ROOMS;
    }, 30_000, "every room channel with both nodes");
    const before = await Promise.all(primaries.map((p) => commandCalls(p, "spublish")));
    for (const r of rooms) await sender.emitWithAck("broadcast", r, "room-msg", r);
    await eventually(() => delivered >= 2 * ROOMS, 30_000, "every room message at both members");
    const after = await Promise.all(primaries.map((p) => commandCalls(p, "spublish")));
    const per = after.map((x, i) => x - before[i]);
    const slots = [];
    for (const p of primaries) {
      const nodes = await redisCli(p, "CLUSTER", "NODES");
      const mine = nodes.split("\n").find((l) => l.includes("myself"));
      slots.push(mine.split(" ").slice(8).reduce((n, r) => {
        const [lo, hi = lo] = r.split("-").map(Number);
        return n + hi - lo + 1;
      }, 0));
    }
    const mean = per.reduce((x, y) => x + y, 0) / per.length;
    const sd = Math.sqrt(per.reduce((x, y) => x + (y - mean) ** 2, 0) / per.length);
    say(`### Bus messages per shard: ${ROOMS} rooms on three primaries`);
    say();
    say(`Two chatnodes (echo app, sharded format, dynamic mode) on a three-primary cluster; a client on each node in all ` +
      `${ROOMS} rooms \`room-0\` .. \`room-${ROOMS - 1}\`, one broadcast to each room from a third client. Counted: ` +
      "`cmdstat_spublish` calls on each primary (`INFO commandstats`) before and after. Each room message is published " +
      `once, on the shard that owns its room channel; ${fmt(delivered)} deliveries.`);
    say();
    say("| shard | slots | SPUBLISH calls | share |");
    say("|---|---|---|---|");
    per.forEach((n, i) => say(`| ${i + 1} | ${fmt(slots[i])} | ${n} | ${fmt((100 * n) / ROOMS, 1)}% |`));
    say();
    say(`Mean ${fmt(mean, 1)} per shard, standard deviation ${fmt(sd, 1)} (${fmt((100 * sd) / mean, 1)}%), ` +
      `max/min ${fmt(Math.max(...per) / Math.min(...per), 2)}; a binomial spread of ${ROOMS} channels over 3 shards has ` +
      `a standard deviation of ${fmt(Math.sqrt((ROOMS * 2) / 9), 1)}.`);
    say();
  } finally {
    for (const s of sockets) s.close();
    await stopAll(a, b);
    await cluster.stop();
  }
}

// ---- c: what one node receives ----------------------------------------------------------------

async function share(label, url, extra, ROOMS = 100, HOSTED = 10, MESSAGES = 1000) {
  const [a, b] = await Promise.all([node([...ECHO, "--redis", url, ...extra]), node([...ECHO, "--redis", url, ...extra])]);
  const sockets = [];
  try {
    await eventually(() => busUp(a, b), 30_000, "both buses up");
    const rooms = Array.from({ length: ROOMS }, (_, i) => `room-${i}`);
    const ma = await online(a, "ma", rooms), mb = await online(b, "mb", rooms.slice(0, HOSTED)), sender = await online(a, "s");
    sockets.push(ma, mb, sender);
    let atA = 0, atB = 0;
    ma.on("room-msg", () => atA++);
    mb.on("room-msg", () => atB++);
    // b's subscriptions are in place once a message to each of its rooms reaches it
    let warm = 0;
    mb.on("warm", () => warm++);
    await eventually(async () => {
      warm = 0;
      for (const r of rooms.slice(0, HOSTED)) await sender.emitWithAck("broadcast", r, "warm", r);
      await sleep(200);
      return warm === HOSTED;
    }, 30_000, "node b on its rooms");
    await sleep(300);
    const [ba, bb] = [await bus(a), await bus(b)];
    for (let i = 0; i < MESSAGES; i++) await sender.emitWithAck("broadcast", rooms[i % ROOMS], "room-msg", i);
    await eventually(() => atA === MESSAGES && atB === (MESSAGES / ROOMS) * HOSTED, 30_000, "every delivery");
    await sleep(300);
    const [aa, ab] = [await bus(a), await bus(b)];
    return { label, a: aa.received - ba.received, b: ab.received - bb.received, atB, mode: ab.subscribe, format: ab.format };
  } finally {
    for (const s of sockets) s.close();
    await stopAll(a, b);
  }
}

async function phaseShare() {
  const rows = [];
  log("c: one node's share, sharded dynamic on a cluster");
  const cluster = await startRedisCluster({ nodeTimeoutMs: 5000 });
  try {
    rows.push(await share("Redis Cluster, sharded format, `--subscription-mode dynamic` (default)", cluster.url, []));
  } finally {
    await cluster.stop();
  }
  log("c: classic on a single Redis");
  const redis = await startRedis();
  try {
    rows.push(await share("single Redis, classic format, `--bus-subscribe interest` (default)", redis.url, []));
    rows.push(await share("single Redis, classic format, `--bus-subscribe pattern` (as Node's adapter)", redis.url, ["--bus-subscribe", "pattern"]));
  } finally {
    await redis.stop();
  }
  say("### What one node receives: 1,000 room messages over 100 rooms, the node hosting 10");
  say();
  say("Two chatnodes (echo app); a client on node A in all 100 rooms, a client on node B in 10 of them; a third client " +
    "on A sends 1,000 broadcasts spread evenly over the 100 rooms. Bus messages each node received (`/healthz` " +
    "`bus.received` before and after):");
  say();
  say("| bus | node A (all rooms, the sender's) | node B (10 of 100 rooms) | delivered at B |");
  say("|---|---|---|---|");
  for (const r of rows) say(`| ${r.label} | ${fmt(r.a)} | ${fmt(r.b)} | ${fmt(r.atB)} |`);
  say();
}

// ---- d: cross-node latency ------------------------------------------------------------------

function loadgen(ports, rate, seconds) {
  return new Promise((resolve, reject) => {
    const child = spawn(LOADGEN, ["--connect-to", ports.map((p) => `127.0.0.1:${p}`).join(","), "--scenario", "chat",
      "--transport", "websocket", "--clients", "1000", "--rooms", "100", "--rate", String(rate), "--duration", String(seconds)],
    { stdio: ["ignore", "pipe", "ignore"] });
    let text = "";
    child.stdout.on("data", (d) => (text += d));
    child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(text)) : reject(new Error(`loadgen exited ${code}`))));
  });
}

async function crossLatency(label, url, rate, seconds) {
  const flags = [...CHAT, "--redis", url];
  const [a, b] = await Promise.all([node(flags), node(flags)]);
  try {
    await eventually(() => busUp(a, b), 30_000, "both buses up");
    return { label, ...(await loadgen([a.port, b.port], rate, seconds)) };
  } finally {
    await stopAll(a, b);
  }
}

async function phaseLatency(RATE = 5000, SECONDS = 5, REPS = 2) {
  const rows = [];
  log(`d: cross-node latency at ${RATE * 10} deliveries/s`);
  const redis = await startRedis();
  const cluster = await startRedisCluster({ nodeTimeoutMs: 5000 });
  try {
    for (let i = 0; i < REPS; i++) {
      rows.push(await crossLatency("single Redis (classic format)", redis.url, RATE, SECONDS));
      rows.push(await crossLatency("Redis Cluster, 3 primaries + 3 replicas (sharded format)", cluster.url, RATE, SECONDS));
    }
  } finally {
    await redis.stop();
    await cluster.stop();
  }
  say(`### Cross-node latency at ${fmt(RATE * 10)} deliveries/s: cluster against a single Redis`);
  say();
  say(`The load generator's chat scenario, as in the cross-node table above: 1,000 WebSocket clients in 100 rooms of 10, ` +
    `alternately on two chatnodes (\`--app chat\`), ${fmt(RATE)} messages/s for ${SECONDS} s, each stored and delivered to ` +
    `10 members, half of them across the bus. Latency is from send to each delivery. ${REPS} runs of each, alternating.`);
  say();
  say("| Redis | deliveries/s | p50 (ms) | p99 (ms) | p999 (ms) | backlog |");
  say("|---|---|---|---|---|---|");
  for (const r of rows) say(`| ${r.label} | ${fmt(r.delivered_per_s)} | ${fmt(r.latency_us.p50 / 1000, 2)} | ` +
    `${fmt(r.latency_us.p99 / 1000, 2)} | ${fmt(r.latency_us.p999 / 1000, 2)} | ${fmt(r.backlog)} |`);
  say();
}

// ---- e: --store-replicas ---------------------------------------------------------------------

async function ackLatency(url, replicas, { clients = 20, rate = 500, seconds = 4 } = {}) {
  const n = await node([...CHAT, "--redis", url, "--store-replicas", String(replicas)]);
  const sockets = [];
  try {
    await eventually(() => busUp(n), 30_000, "the bus up");
    for (let i = 0; i < clients; i++) {
      const s = await online(n, `u${i}`);
      await chatJoin(s, "acks");
      sockets.push(s);
    }
    const times = [];
    let errors = 0, k = 0;
    const pending = [];
    const end = Date.now() + seconds * 1000;
    while (Date.now() < end) {
      const s = sockets[k % clients], t0 = process.hrtime.bigint();
      pending.push(s.timeout(10_000).emitWithAck("message", { room: "acks", text: `m ${k}`, id: `m-${k}` }).then((ack) => {
        if (!ack.ok) errors++;
        else times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }, () => errors++));
      k++;
      await sleep(1000 / rate);
    }
    await Promise.all(pending);
    return { replicas, n: times.length, errors, p50: quantile(times, 0.5), p99: quantile(times, 0.99) };
  } finally {
    for (const s of sockets) s.close();
    await stopAll(n);
  }
}

async function phaseReplicas() {
  log("e: the ack with --store-replicas 0 and 1");
  const primary = await startRedis();
  const replica = await startRedis(["--replicaof", "127.0.0.1", String(primary.port)]);
  const rows = [];
  try {
    await eventually(async () => /^slave0:.*state=online/m.test(await redisCli(primary.port, "INFO", "replication")),
      30_000, "the replica online");
    for (const r of [0, 1, 0, 1]) rows.push(await ackLatency(primary.url, r));
  } finally {
    await replica.stop();
    await primary.stop();
  }
  say("### The cost of `--store-replicas 1`");
  say();
  say("One chatnode (`--app chat`) on a Redis primary with one replica (asynchronous replication on loopback); 20 " +
    "socket.io-client sockets in one room send up to 500 messages/s together (one every 2 ms) for 4 s; latency is from the emit to its ack, " +
    "measured in the client (Node.js), so it includes the client's own cost. Two runs of each, alternating.");
  say();
  say("| `--store-replicas` | acks ok | errors | ack p50 (ms) | ack p99 (ms) |");
  say("|---|---|---|---|---|");
  for (const r of rows) say(`| ${r.replicas} | ${fmt(r.n)} | ${r.errors} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} |`);
  say();
}

const phases = { a: phaseFailover, b: phaseSpread, c: phaseShare, d: phaseLatency, e: phaseReplicas };
for (const p of PHASES) await phases[p]();
console.log(out.join("\n"));
process.exit(0);
