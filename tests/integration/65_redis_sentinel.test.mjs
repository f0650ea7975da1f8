// Fault tests. Redis behind Sentinel (redis+sentinel://): a primary, two replicas and three
// sentinels, with two chatnodes and adminnode on it. Chat crosses the nodes and is stored on
// the primary; the primary is killed (SIGKILL) while a client keeps sending; a replica is
// promoted and, without anyone touching the nodes, messages cross again and are stored, each
// acknowledged message exactly once (the nodes run --store-replicas 1); the nodes say which
// primary they use and that they saw the failover. A sentinel that is down, or that names a replica as the primary, does not
// keep a node from the real primary.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { io } from "socket.io-client";
import { redisCli, startSentinelGroup } from "./lib/redis_topology.mjs";
import { startChatnode, startAdminnode, startRedis, stopAll, eventually, freePort, httpRequest, waitFor, WAIT_MS, busConnected } from "./lib/harness.mjs";

const health = async (node) => JSON.parse((await httpRequest(`${node.url}/healthz`)).body);

/**
 * A sentinel we control: it names `primary.port` (change it at will) as the primary of any
 * master name, accepts SUBSCRIBE, and announce(text) sends a +switch-master message to every
 * connection that subscribed. Used as a sentinel that lies (naming a replica) and as one that
 * announces a failover between two standalone servers.
 */
function fakeSentinel(primaryPort) {
  const subscribers = new Set();
  const server = net.createServer((sock) => {
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      for (;;) { // RESP arrays of bulk strings, as hiredis writes commands
        const m = /^\*(\d+)\r\n/.exec(buf);
        if (!m) return;
        let at = m[0].length;
        const args = [];
        for (let i = 0; i < Number(m[1]); i++) {
          const h = /^\$(\d+)\r\n/.exec(buf.slice(at));
          if (!h || buf.length < at + h[0].length + Number(h[1]) + 2) return;
          args.push(buf.slice(at + h[0].length, at + h[0].length + Number(h[1])));
          at += h[0].length + Number(h[1]) + 2;
        }
        buf = buf.slice(at);
        const cmd = args.map((x) => x.toLowerCase());
        const port = String(fake.primaryPort);
        if (cmd[0] === "sentinel" && cmd[1] === "get-master-addr-by-name")
          sock.write(`*2\r\n$9\r\n127.0.0.1\r\n$${port.length}\r\n${port}\r\n`);
        else if (cmd[0] === "subscribe") {
          subscribers.add(sock);
          sock.write(`*3\r\n$9\r\nsubscribe\r\n$${args[1].length}\r\n${args[1]}\r\n:1\r\n`);
        } else sock.write("-ERR unknown command\r\n");
      }
    });
    sock.on("close", () => subscribers.delete(sock));
    sock.on("error", () => {});
  });
  const fake = {
    primaryPort,
    subscribers,
    announce(text) {
      for (const sock of subscribers)
        sock.write(`*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$${Buffer.byteLength(text)}\r\n${text}\r\n`);
    },
    close: () => server.close(),
  };
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(Object.assign(fake, { port: server.address().port }))));
}

/** Connections to the Redis on port other than redis-cli's own: CLIENT LIST, one per line. */
async function clientsOf(port) {
  const text = await redisCli(port, "CLIENT", "LIST");
  return text.split("\n").filter((l) => l && !/ cmd=client\|list/.test(l)).length;
}

/** A room's whole history through the chat's "history" event, oldest first. */
async function historyOf(s, room) {
  const ack = await s.timeout(WAIT_MS).emitWithAck("history", { room, limit: 100 });
  assert.ok(ack.ok, JSON.stringify(ack));
  return ack.messages;
}

describe("Redis behind Sentinel", { timeout: 180_000 }, () => {
  let group, a, b, admin, killed;
  const sockets = [];
  before(async () => {
    group = await startSentinelGroup();
    // an acknowledged message is on a replica too (WAIT 1): it outlives the primary
    const flags = ["--app", "chat", "--allow-anonymous", "--redis", group.url, "--heartbeat-interval", "500",
      "--store-replicas", "1"];
    [a, b] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
    admin = await startAdminnode(["--redis", group.url]);
    await eventually(async () => (await busConnected(a)) && (await busConnected(b)), WAIT_MS, "both nodes' bus to connect");
  });
  after(async () => {
    for (const s of sockets) s.close();
    await stopAll(a, b, admin);
    await group?.stop();
  });

  const online = async (node, user, room) => {
    const s = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user } });
    sockets.push(s);
    await waitFor(s, "connect");
    const joined = await s.timeout(WAIT_MS).emitWithAck("join", { room });
    assert.ok(joined.ok, JSON.stringify(joined));
    return s;
  };

  it("follows a failover of the primary", async () => {
    const primary = await group.primaryPort();
    for (const node of [a, b]) {
      const { bus } = await health(node);
      assert.deepEqual([bus.topology, bus.primary], ["sentinel", `127.0.0.1:${primary}`], JSON.stringify(bus));
    }
    const ann = await online(a, "ann", "fo"), bob = await online(b, "bob", "fo");
    const got = [];
    bob.on("message", (m) => got.push(m.text));
    // acknowledged once a replica has it: retried (same id) while the replicas still sync
    let first;
    await eventually(async () => (first = await ann.timeout(WAIT_MS).emitWithAck("message",
      { room: "fo", text: "before", id: "m-0" })).ok, WAIT_MS, "the first message acknowledged");
    await eventually(() => got.includes("before"), WAIT_MS, "the first message at node b");

    // ann keeps sending, each message under its own client id until it is acknowledged
    const acked = [], refused = [];
    let stop = false;
    const sending = (async () => {
      for (let k = 1; !stop; k++) {
        for (;;) {
          const ack = await ann.timeout(WAIT_MS).emitWithAck("message", { room: "fo", text: `m ${k}`, id: `m-${k}` })
            .catch((err) => ({ error: { code: "timeout", message: err.message } }));
          if (ack.ok) {
            acked.push(`m ${k}`);
            break;
          }
          refused.push(ack.error?.code);
          await new Promise((r) => setTimeout(r, 100));
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    let killedAt, countAtPromotion;
    try {
      await eventually(() => acked.length >= 3, WAIT_MS, "messages before the kill");
      // both nodes listen to the sentinels' announcements before the primary goes
      await eventually(async () => (await health(a)).bus.watch === "connected" &&
        (await health(b)).bus.watch === "connected", WAIT_MS, "both nodes' sentinel watch");

      killed = await group.killPrimary();
      killedAt = Date.now();
      let promoted;
      await eventually(async () => (promoted = await group.primaryPort()) !== killed, 30_000, "a replica to be promoted");
      countAtPromotion = acked.length;
      // without anyone touching the nodes, they move to the new primary and messages flow again
      await eventually(async () => {
        const [ha, hb] = [await health(a), await health(b)];
        return [ha, hb].every((h) => h.bus.primary === `127.0.0.1:${promoted}` && h.bus.failovers >= 1) &&
          (await busConnected(a)) && (await busConnected(b));
      }, 60_000, "both nodes on the new primary");
      // counted from here: a message acknowledged while node b was still moving went out on
      // the new primary before b listened there
      const countAtMove = acked.length;
      await eventually(() => acked.length >= countAtMove + 5, 30_000, "messages acknowledged after the failover");
      const last = acked[acked.length - 1];
      await eventually(() => got.includes(last), WAIT_MS, `"${last}" at node b after the failover`);
    } finally {
      stop = true;
      await sending;
    }
    console.log(`# failover: primary killed, ${Date.now() - killedAt} ms until the test stopped; ` +
      `refused meanwhile: ${refused.length} (${[...new Set(refused)].join(", ")})`);

    // the history on the new primary holds every acknowledged message exactly once: before the
    // kill too, since --store-replicas 1 acknowledged each only once a replica had it
    const texts = (await historyOf(bob, "fo")).map((m) => m.text);
    assert.deepEqual(texts.filter((t, i) => texts.indexOf(t) !== i), [], "texts stored more than once");
    assert.deepEqual(["before", ...acked].filter((t) => !texts.includes(t)), [], "acknowledged but not stored");
    assert.ok(acked.length > countAtPromotion, "messages were acknowledged after the failover");

    // adminnode lists both nodes, on the new primary too
    await eventually(async () => {
      const r = await httpRequest(`${admin.url}/healthz`);
      return JSON.parse(r.body).redis === "connected";
    }, 30_000, "adminnode's Redis connection on the new primary");
  });

  it("is not stopped by a sentinel that is down or names a replica", async () => {
    const primary = await group.primaryPort();
    const replica = group.servers.find((s) => s.port !== primary && s.port !== killed); // alive
    const liar = await fakeSentinel(replica.port);
    const dead = await freePort(); // nothing listens there
    const real = group.url.replace(/^redis\+sentinel:\/\//, "").split("/")[0];
    const url = `redis+sentinel://127.0.0.1:${dead},127.0.0.1:${liar.port},${real}/${group.name}`;
    const c = await startChatnode(["--app", "chat", "--allow-anonymous", "--redis", url]);
    try {
      await eventually(() => busConnected(c), 30_000, "the node's bus to connect past the dead and the lying sentinel");
      const { bus } = await health(c);
      assert.equal(bus.primary, `127.0.0.1:${primary}`);
      assert.ok(bus.role_refusals >= 1, `the replica named by the liar was refused: ${JSON.stringify(bus)}`);
      // and the node chats with the others
      const cat = await online(c, "cat", "liars"), dan = await online(a, "dan", "liars");
      const got = [];
      dan.on("message", (m) => got.push(m.text));
      const ack = await cat.timeout(WAIT_MS).emitWithAck("message", { room: "liars", text: "hello from c" });
      assert.ok(ack.ok, JSON.stringify(ack));
      await eventually(() => got.includes("hello from c"), WAIT_MS, "c's message at node a");
    } finally {
      await stopAll(c);
      liar.close();
    }
  });

  it("moves both connections at once when a sentinel announces a new primary", async () => {
    // two standalone servers, both primaries: only the announcement can move a node from one
    // to the other (nothing drops its connections to the first)
    const p1 = await startRedis(), p2 = await startRedis();
    const fake = await fakeSentinel(p1.port);
    const c = await startChatnode(["--app", "chat", "--allow-anonymous", "--redis", `redis+sentinel://127.0.0.1:${fake.port}/moving`]);
    try {
      await eventually(async () => (await busConnected(c)) && (await health(c)).bus.watch === "connected", WAIT_MS,
        "the node on the first server, its watch subscribed");
      assert.equal((await health(c)).bus.primary, `127.0.0.1:${p1.port}`);
      assert.ok((await clientsOf(p1.port)) >= 2, "the command and subscriber connections on the first server");
      fake.primaryPort = p2.port;
      fake.announce(`moving 127.0.0.1 ${p1.port} 127.0.0.1 ${p2.port}`);
      await eventually(async () => (await clientsOf(p1.port)) === 0 && (await clientsOf(p2.port)) >= 2 &&
        (await busConnected(c)), WAIT_MS, "both connections on the second server");
      const { bus } = await health(c);
      assert.deepEqual([bus.primary, bus.failovers, bus.failover_moves >= 2], [`127.0.0.1:${p2.port}`, 1, true],
        JSON.stringify(bus));
    } finally {
      await stopAll(c);
      fake.close();
      await p1.stop();
      await p2.stop();
    }
  });
});
