// Two chatnodes and a real redis-server: broadcasts cross nodes in the redis-adapter format
// (to all, to a room, to a room except the sender, to one socket id, binary), interest-based
// subscriptions keep a node's traffic to the rooms it hosts while pattern mode hears every
// room, and Redis restarting never stops local delivery. What a node heard is counted between
// two markers that one node publishes, so nothing waits for a quiet period.
// Exercises chatnode/cluster.c, proto/runtime/bus.c and proto/adapter_msg.c.
import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { startChatnode, startRedis, stopAll, eventually, httpRequest, WAIT_MS, busUp } from "./lib/harness.mjs";
import { client, closeAllClients, connected, emitAck, record, echo, withoutOffset, withoutOffsets } from "./lib/clients.mjs";

// Recovery is on (the default): every event received ends with its offset, which
// withoutOffset() checks and takes off before the arguments are compared.
const FLAGS = ["--app", "echo", "--echo-test-events", "--ping-interval", "5000", "--ping-timeout", "5000"];
let redis, n1, n2;

async function health(node) {
  return JSON.parse((await httpRequest(`${node.url}/healthz`)).body);
}

/** Waits until both nodes' Redis connections are up (subscriptions included). */
/** The events named ev among those recorded (probes sent while waiting may still arrive). */
const only = (got, ev) => got.filter((e) => e[0] === ev);

/** Joins s to room (acked at once: the node's SUBSCRIBE to the room may still be under way). */
async function join(s, room) {
  assert.deepEqual(await emitAck(s, "join", room), []);
}

let markers = 0;
/**
 * Broadcasts a fresh marker event from `from` to `room` and waits until `got` (the record of a
 * member of the room on another node) has it. A node's bus publishes in order and Redis
 * delivers to each subscriber in order, so whatever `from`'s node published before the marker
 * has reached every node that hears the marker's room by then. With `retry`, the marker is
 * sent again until one arrives (the room's channel may not be subscribed yet); then one more
 * goes, so that no earlier one is still on its way.
 */
async function marker(from, room, got, { retry = false } = {}) {
  const arrived = (name) => got.some((e) => e[0] === name);
  if (retry) {
    const sent = [];
    let lastSent = 0;
    await eventually(async () => {
      if (sent.some(arrived)) return true;
      if (Date.now() - lastSent >= 200) { // a new one now and then, not one per poll
        sent.push(`marker-${++markers}`);
        lastSent = Date.now();
        await emitAck(from, "broadcast", room, sent.at(-1));
      }
      return false;
    }, WAIT_MS, `a marker in ${room} through Redis`);
  }
  const name = `marker-${++markers}`;
  await emitAck(from, "broadcast", room, name);
  await eventually(() => arrived(name), WAIT_MS, `${name} in ${room}`);
}

/** A node's bus counters (its /healthz "bus"). */
const bus = async (node) => (await health(node)).bus;

describe("two chatnodes through Redis", { timeout: 120_000 }, () => {
  before(async () => {
    redis = await startRedis();
    [n1, n2] = await Promise.all([
      startChatnode([...FLAGS, "--redis", redis.url]),
      startChatnode([...FLAGS, "--redis", redis.url]),
    ]);
    await busUp(n1, n2);
  });
  after(async () => {
    closeAllClients();
    await stopAll(n1, n2);
    await redis.stop();
  });
  afterEach(closeAllClients);

  it("a broadcast to everyone reaches the clients of both nodes, binary included", async () => {
    const [a, b, c] = await Promise.all([
      connected(client(n1, "/", { transports: ["websocket"] })),
      connected(client(n2, "/", { transports: ["websocket"] })),
      connected(client(n2, "/", { transports: ["polling"] })),
    ]);
    const got = [a, b, c].map(record);
    const payload = { text: "héllo", n: 1.5, big: 12345678901234, list: [true, null], bin: Buffer.from([0, 1, 255]) };
    await emitAck(a, "broadcast", null, "news", payload, Buffer.from("raw"));
    await eventually(() => got.every((g) => g.length === 1), WAIT_MS, "news on every client");
    for (const g of got) assert.deepEqual(withoutOffset(g[0]), ["news", payload, Buffer.from("raw")]);
  });

  it("a room broadcast reaches the room's members on both nodes and nobody else", async () => {
    const [a, b, c, d] = await Promise.all([n1, n2, n2, n1].map((n) => connected(client(n, "/", { transports: ["websocket"] }))));
    const got = [a, b, c, d].map(record);
    await join(a, "r1");
    await join(b, "r1");
    await join(c, "r1");
    await eventually(async () => (await emitAck(d, "broadcast", "r1", "probe")).length === 1, WAIT_MS);
    await eventually(() => got[1].length >= 1, WAIT_MS, "the room channel to be subscribed on n2");
    await emitAck(d, "broadcast", "r1", "room-news", 7);
    const news = (i) => only(got[i], "room-news");
    await eventually(() => news(0).length && news(1).length && news(2).length, WAIT_MS, "room-news in r1");
    for (const s of [a, b, c, d]) await echo(s, "sync");
    assert.deepEqual(withoutOffsets(news(0)), [["room-news", 7]]);
    assert.deepEqual(withoutOffsets(news(1)), [["room-news", 7]]);
    assert.deepEqual(withoutOffsets(news(2)), [["room-news", 7]]);
    assert.deepEqual(got[3], []);
  });

  it("to a room except the sender, and to one socket id on the other node", async () => {
    const [a, b, c] = await Promise.all([n1, n2, n2].map((n) => connected(client(n, "/", { transports: ["websocket"] }))));
    const got = [a, b, c].map(record);
    for (const s of [a, b, c]) await join(s, "r2");
    const target = { rooms: ["r2"], except: [a.id] };
    await eventually(async () => {
      await emitAck(a, "broadcast", target, "ping-r2");
      return got[1].length > 0 && got[2].length > 0;
    }, WAIT_MS, "r2 traffic on n2");
    await emitAck(a, "broadcast", target, "not-me", "x");
    await eventually(() => only(got[1], "not-me").length && only(got[2], "not-me").length, WAIT_MS, "not-me at b and c");
    await echo(a, "sync");
    assert.deepEqual(got[0], []);
    assert.deepEqual(withoutOffsets(only(got[1], "not-me")), [["not-me", "x"]]);

    await emitAck(a, "broadcast", c.id, "just-you", { to: "c" });
    await eventually(() => only(got[2], "just-you").length, WAIT_MS, "just-you at c");
    await echo(b, "sync");
    assert.deepEqual(withoutOffsets(only(got[2], "just-you")), [["just-you", { to: "c" }]]);
    assert.deepEqual(only(got[1], "just-you"), []);
  });

  it("with recovery on, every node hears every room (the namespace's pattern)", async () => {
    assert.equal((await bus(n1)).subscribe, "pattern");
    assert.equal((await bus(n2)).subscribe, "pattern");
  });

  it("Redis restarted: local delivery never stops, cross-node delivery comes back", async () => {
    const [a, a2, b] = await Promise.all([n1, n1, n2].map((n) => connected(client(n, "/", { transports: ["websocket"] }))));
    const got = [a, a2, b].map(record);
    for (const s of [a, a2, b]) await join(s, "r3");
    await redis.kill();
    await emitAck(a, "broadcast", "r3", "while-down", 1);
    await eventually(() => got[1].length === 1, WAIT_MS, "local delivery while Redis is down");
    assert.deepEqual(withoutOffsets(got[1]), [["while-down", 1]]);
    await redis.restart();
    await busUp(n1, n2);
    await eventually(async () => {
      await emitAck(a, "broadcast", "r3", "after", 2);
      return only(got[2], "after").length > 0;
    }, WAIT_MS, "cross-node delivery after Redis came back");
    assert.deepEqual(withoutOffset(only(got[2], "after")[0]), ["after", 2]);
  });
});

// Interest-based subscriptions, without recovery (with it on, a node hears the namespace's
// pattern, docs/recovery.md): events arrive without offsets here.
describe("two chatnodes through Redis, subscriptions without recovery", { timeout: 120_000 }, () => {
  before(async () => {
    redis = await startRedis();
    [n1, n2] = await Promise.all([
      startChatnode([...FLAGS, "--recovery-window", "0", "--redis", redis.url]),
      startChatnode([...FLAGS, "--recovery-window", "0", "--redis", redis.url]),
    ]);
    await busUp(n1, n2);
  });
  after(async () => {
    closeAllClients();
    await stopAll(n1, n2);
    await redis.stop();
  });
  afterEach(closeAllClients);

  it("interest mode: a node with no member in a room receives none of its messages", async () => {
    const sender = await connected(client(n1, "/", { transports: ["websocket"] }));
    const member = await connected(client(n1, "/", { transports: ["websocket"] }));
    const watcher = await connected(client(n2, "/", { transports: ["websocket"] }));
    const [gotMember, gotWatcher] = [member, watcher].map(record);
    await join(member, "only-on-n1");
    await join(watcher, "n2-hosts-this");
    await marker(sender, "n2-hosts-this", gotWatcher, { retry: true });
    const before = [await bus(n1), await bus(n2)];
    for (let i = 0; i < 50; i++) await emitAck(sender, "broadcast", "only-on-n1", "local-news", i);
    await marker(sender, "n2-hosts-this", gotWatcher); // published by n1 after the 50
    const after = [await bus(n1), await bus(n2)];
    assert.equal(only(gotMember, "local-news").length, 50, "the local member got every message");
    assert.equal(after[1].received - before[1].received, 1, "n2 heard the marker of the room it hosts, and nothing of the other");
    assert.equal(after[0].broadcasts_out - before[0].broadcasts_out, 51, "n1 published the 50 messages and the marker");
    assert.deepEqual(only(gotWatcher, "local-news"), []);
  });

  it("pattern mode (Node's K#N#*) interoperates, and hears every room", async () => {
    const n3 = await startChatnode([...FLAGS, "--recovery-window", "0", "--redis", redis.url, "--bus-subscribe", "pattern"]);
    try {
      await busUp(n3);
      assert.equal((await bus(n3)).subscribe, "pattern");
      const [a, b, p] = await Promise.all([n1, n2, n3].map((n) => connected(client(n, "/", { transports: ["websocket"] }))));
      const got = [a, b, p].map(record);
      await join(a, "pm-room");
      await join(p, "pm-room");
      await eventually(async () => {
        await emitAck(a, "broadcast", "pm-room", "pm-news", 1);
        return only(got[2], "pm-news").length > 0;
      }, WAIT_MS, "pm-news at the pattern-mode node");
      assert.deepEqual(only(got[2], "pm-news")[0], ["pm-news", 1]);
      await marker(a, "pm-room", got[2]); // every pm-news sent above has reached n3
      // b's node publishes to a room nobody is in, then a marker to pm-room, in that order
      const before = [await bus(n2), await bus(n3)];
      await emitAck(b, "broadcast", "a-room-nobody-is-in", "other", 1);
      await marker(b, "pm-room", got[2]);
      const after = [await bus(n2), await bus(n3)];
      assert.equal(after[0].received - before[0].received, 0, "n2 (interest) hosts neither room and hears nothing");
      assert.equal(after[1].received - before[1].received, 2, "n3 (pattern) heard the room it does not host, then the marker");
      assert.equal(after[1].broadcasts_in - before[1].broadcasts_in, 2, "and took both as broadcasts");
    } finally {
      closeAllClients();
      await n3.stop();
    }
  });
});
