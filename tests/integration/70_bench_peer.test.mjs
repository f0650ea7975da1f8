// The benchmarks' Node.js peer (tests/bench/peer/chat.mjs) against `chatnode --app chat`: one
// scripted conversation runs on each, alone and as two nodes on one Redis, and the transcripts
// (sign-in refusals, answers, delivered events, error codes and texts) must be the same once
// message ids and timestamps are replaced by placeholders. Each step's events are collected
// once a marker has reached every client after them: a message to a room every client is in,
// sent from each node after a presence read there (so after what the step set going on that
// node), and left out of the transcript. Then the rate limit, on both.
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { startChatnode, startRedis, stopAll, eventually, httpRequest, WAIT_MS, busUp } from "./lib/harness.mjs";

const PEER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bench/peer/chat.mjs");
const MARK = "marks"; // the room every client of a conversation joins for the markers

/** The peer, started and stopped as the harness does a chatnode (stop() fails unless it exits 0). */
function startPeer(flags = []) {
  return startChatnode([PEER, "--host", "127.0.0.1", "--port", "0", "--allow-anonymous", ...flags], {},
    { bin: process.execPath, name: "peer" });
}

/** With recovery off, as the peer runs here: the transcripts compare every event's arguments as
 * they are, and with recovery on each of chatnode's events would end with an offset that the
 * peer's lack. */
function startNode(flags = []) {
  return startChatnode(["--app", "chat", "--allow-anonymous", "--recovery-window", "0", ...flags]);
}

const running = [];
async function start(...starting) {
  const servers = await Promise.all(starting);
  running.push(...servers);
  return servers;
}

/** The number of Engine.IO sessions of a server (/healthz). */
async function connections(server) {
  return JSON.parse((await httpRequest(`${server.url}/healthz`)).body).connections;
}

const isMark = ([, arg]) => arg?.room === MARK;

/**
 * Clients of one conversation on `servers` (one, or two on one Redis): every event each
 * receives is logged, in order. Each server has two marker sockets of its own in room MARK:
 * one that reads the room's presence (a join again), one that sends the markers.
 */
function clients(servers) {
  const sockets = new Map(); // name -> {s, log}
  const nodes = [...new Set(servers)].map((server, i) => ({ server, tag: `m${i}` }));
  let round = 0;
  const open = (server, auth, nsp = "/") =>
    io(server.url + nsp, { forceNew: true, reconnection: false, transports: ["websocket"], timeout: WAIT_MS, auth });
  const connect = async (server, name, user) => {
    const s = open(server, { user });
    await new Promise((resolve, reject) => {
      s.once("connect", resolve);
      s.once("connect_error", (err) => reject(new Error(`${name}: connect_error ${err.message}`)));
    });
    const joined = await call(s, "join", { room: MARK });
    assert.ok(joined.ok, `${name} joins ${MARK}: ${JSON.stringify(joined)}`);
    return s;
  };
  return {
    /** Connects the marker sockets. */
    async start() {
      for (const n of nodes) {
        n.probe = await connect(n.server, `${n.tag} probe`, `${n.tag}-probe`);
        n.sender = await connect(n.server, `${n.tag} sender`, `${n.tag}-sender`);
      }
    },
    /** A connected socket of user `user` on server, logged as `name`; it is in room MARK too. */
    async online(server, name, user = name) {
      const log = [];
      const s = await connect(server, name, user);
      s.onAny((...a) => log.push(a));
      sockets.set(name, { s, log });
      return s;
    },
    /** How a connection with auth is refused, as {message, data}. */
    async refusal(server, auth, nsp) {
      const s = open(server, auth, nsp);
      try {
        return await new Promise((resolve) => {
          s.once("connect", () => resolve("connected"));
          s.once("connect_error", (err) => resolve({ message: err.message, data: err.data }));
        });
      } finally {
        s.close();
      }
    },
    /**
     * Takes every socket's log up to a marker from each server, MARK's events left out. On
     * each server the probe first reads MARK's presence, as a join again does: its answer
     * comes after every presence read already under way there (a leave's or a disconnect's,
     * whose "left" follows its ack), each being one Redis command after the other on the
     * server's one connection. Then each server's sender sends a message to MARK: it reaches
     * each client after whatever that server sent before, locally or over Redis.
     */
    async events() {
      round++;
      for (const n of nodes) {
        const again = await call(n.probe, "join", { room: MARK });
        assert.ok(again.ok, JSON.stringify(again));
      }
      const texts = [], stamps = [];
      for (const n of nodes) {
        const text = `mark ${round} from ${n.tag}`;
        const ack = await call(n.sender, "message", { room: MARK, text });
        assert.ok(ack.ok, `${text}: ${JSON.stringify(ack)}`);
        texts.push(text);
        stamps.push(ack.ts);
      }
      const upTo = (log) => {
        let last = -1;
        for (const text of texts) {
          const i = log.findIndex(([ev, m]) => ev === "message" && m?.room === MARK && m.text === text);
          if (i < 0) return -1;
          last = Math.max(last, i);
        }
        return last;
      };
      const open = [...sockets].filter(([, { s }]) => s.connected);
      await eventually(() => open.every(([, { log }]) => upTo(log) >= 0), WAIT_MS,
        `marker ${round} at every client`, 5).catch((err) => {
        throw new Error(`${err.message}; missing at ${open.filter(([, { log }]) => upTo(log) < 0).map(([name]) => name).join(", ")}`);
      });
      const out = {};
      for (const [name, { s, log }] of sockets) {
        const end = s.connected ? upTo(log) + 1 : log.length;
        out[name] = log.splice(0, end).filter((e) => !isMark(e));
      }
      // the next step's messages get ids of a later millisecond than every message so far
      // (the markers were stored last): stream ids are per stream, so two streams could give
      // one id to two messages of one millisecond, and the transcript would take them for one
      const latest = Math.max(...stamps);
      await eventually(() => Date.now() > latest, WAIT_MS, "the clock to pass the last marker", 1);
      return out;
    },
    close() {
      for (const { s } of sockets.values()) s.close();
      for (const n of nodes) {
        n.probe?.close();
        n.sender?.close();
      }
    },
  };
}

const call = (s, ev, ...args) => s.timeout(WAIT_MS).emitWithAck(ev, ...args);

/** Bad input for each event, all answered with an error: [event, arguments]. */
const BAD = [
  ["join", [{ room: "" }]],
  ["join", [{ room: "a".repeat(129) }]],
  ["join", [{ room: "bad\u0001name" }]],
  ["join", [{ room: "user:erin" }]],
  ["join", [{ room: 5 }]],
  ["join", [{}]],
  ["join", ["lobby"]],
  ["join", [["lobby"]]],
  ["join", [42]],
  ["join", [null]],
  ["join", []],
  ["join", [{ room: "nul\u0000" }]],
  ["join", [{ room: "half \ud800 pair" }]],
  ["join", [{ room: "\u202egnp.exe" }]],
  ["join", [{ room: "AbCdEfGhIj0123456_-x" }]],
  ["join", [{ room: "\u{1F600}".repeat(129) }]],
  ["join", [{ room: "side", n: 1e20 }]],
  ["join", [{ room: "side" }, "extra\u0000"]],
  ["leave", [{ room: "" }]],
  ["leave", [{ room: "never" }]],
  ["leave", [{ room: "user:erin" }]],
  ["message", [{ room: "lobby", text: "not joined" }]],
  ["message", [{ room: "", text: "x" }]],
  ["message", [{ room: "side", text: "x", id: "bad id!" }]],
  ["message", [{ room: "side", text: "x", id: 5 }]],
  ["message", [{ room: "side", text: "x", id: "i".repeat(65) }]],
  ["message", [{ room: "side" }]],
  ["message", [{ room: "side", text: "" }]],
  ["message", [{ room: "side", text: 42 }]],
  ["message", [{ room: "side", text: "x".repeat(4097) }]],
  ["message", [{ room: "side", text: "a\u0000b" }]],
  ["private", [{ to: "", text: "x" }]],
  ["private", [{ to: "u".repeat(71), text: "x" }]],
  ["private", [{ to: "bob" }]],
  ["typing", [{ room: "lobby" }]],
  ["typing", [{}]],
  ["history", [{ room: "lobby" }]],
  ["history", [{ room: "side", limit: 0 }]],
  ["history", [{ room: "side", limit: 101 }]],
  ["history", [{ room: "side", limit: "ten" }]],
  ["history", [{ room: "side", limit: 2.5 }]],
  ["history", [{ room: "side", before: "x y" }]],
  ["history", [{ room: "side", before: 5 }]],
  ["history", [{ room: "side", before: "1".repeat(41) }]],
  ["members", [{}]],
  ["members", [{ room: "" }]],
  ["members", [{ room: "never" }]],
  ["private", [{ to: "\u202ebob", text: "x" }]],
  ["history", [{ room: "side", before: "1-" }]],
  ["nonsense", [{}]],
];

/**
 * One conversation on nodes a and b (the same server when alone): alice, carol and erin on a;
 * bob, alice's second socket, fred and later dave on b. Returns the transcript, [[step, what]...].
 */
async function conversation(a, b) {
  const t = [];
  const say = (step, what) => t.push([step, what]);
  const c = clients([a, b]);
  try {
    await c.start();
    for (const auth of [{}, { token: "t" }, { user: "" }, { user: "x".repeat(65) }, { user: "a\u0001" },
      { user: "a\u0000" }, { user: 5 }])
      say(`refused ${JSON.stringify(auth)}`, await c.refusal(a, auth));
    say("unknown namespace", await c.refusal(a, { user: "zed" }, "/other"));

    const alice = await c.online(a, "alice");
    const bob = await c.online(b, "bob");
    const carol = await c.online(a, "carol");
    const alice2 = await c.online(b, "alice2", "alice");
    say("connected", await c.events());

    say("alice joins", await call(alice, "join", { room: "lobby" }));
    say("events", await c.events());
    say("bob joins", await call(bob, "join", { room: "lobby" }));
    say("events", await c.events());
    say("alice joins on her other socket", await call(alice2, "join", { room: "lobby" }));
    say("events", await c.events());
    say("alice joins again", await call(alice, "join", { room: "lobby" }));
    say("events", await c.events());

    for (let i = 0; i < 4; i++)
      say(`alice says m${i}`, await call(alice, "message", { room: "lobby", text: `m${i}`, id: `a-${i}` }));
    say("alice sends m0 again", await call(alice, "message", { room: "lobby", text: "m0", id: "a-0" }));
    say("bob answers", await call(bob, "message", { room: "lobby", text: "hi alice", id: null }));
    say("events", await c.events());

    const page = await call(bob, "history", { room: "lobby", limit: 2 });
    say("history, last 2", page);
    say("history before them", await call(bob, "history", { room: "lobby", before: page.messages[0].id, limit: 10 }));
    say("history before the first", await call(bob, "history", { room: "lobby", before: page.messages[0].id, limit: 1 }));
    say("history, default page", await call(alice2, "history", { room: "lobby" }));

    say("alice to bob", await call(alice, "private", { to: "guest:bob", text: "psst" }));
    say("events", await c.events());
    say("bob to alice", await call(bob, "private", { to: "guest:alice", text: "yes?" }));
    say("events", await c.events());
    say("alice to herself", await call(alice2, "private", { to: "guest:alice", text: "note" }));
    say("events", await c.events());
    say("carol to nobody", await call(carol, "private", { to: "nobody", text: "hello?" }));
    say("events", await c.events());

    say("bob types", await call(bob, "typing", { room: "lobby" }));
    say("events", await c.events());

    say("members, asked from outside", await call(carol, "members", { room: "lobby" }));
    say("members of an empty room", await call(carol, "members", { room: "empty" }));

    const erin = await c.online(a, "erin");
    const fred = await c.online(b, "fred");
    for (const s of [erin, fred]) await call(s, "join", { room: "side" });
    say("events", await c.events());
    for (const [i, [ev, args]] of BAD.entries()) {
      const s = i % 2 ? fred : erin; // half each: the rate limit stays out of the way
      say(`bad ${ev} ${JSON.stringify(args).slice(0, 60)}`, await call(s, ev, ...args));
    }
    say("events", await c.events());

    say("alice leaves on her other socket", await call(alice2, "leave", { room: "lobby" }));
    say("events", await c.events());
    say("alice leaves", await call(alice, "leave", { room: "lobby" }));
    say("events", await c.events());
    say("alice leaves again", await call(alice, "leave", { room: "lobby" }));

    const dave = await c.online(b, "dave");
    say("dave joins", await call(dave, "join", { room: "lobby" }));
    say("events", await c.events());
    say("history before a bad id", await call(dave, "history", { room: "lobby", before: "-5", limit: 3 }));

    // bob's server has seen him go (his session is gone) before the markers are sent
    const before = await connections(b);
    bob.close();
    await eventually(async () => (await connections(b)) === before - 1, WAIT_MS, "bob's session to end");
    say("bob went away", await c.events());
    say("members", await call(dave, "members", { room: "lobby" }));
    return t;
  } finally {
    c.close();
  }
}

/** Message ids become <id N> (numbered in order of appearance); a ts must be its id's time.
 * Stream ids are per stream, so the conversation stores messages of two different streams in
 * different milliseconds (events() waits for the clock): equal ids are then the same message. */
function normalize(transcript) {
  const ids = new Map();
  const walk = (v) => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") {
      const out = {};
      for (const [k, x] of Object.entries(v)) {
        if (k === "ts" && typeof v.id === "string") {
          assert.equal(x, Number.parseInt(v.id, 10), `ts of message ${v.id}`);
          out[k] = "<ts>";
        } else {
          out[k] = walk(x);
        }
      }
      return out;
    }
    if (typeof v === "string" && /^\d{10,}-\d+$/.test(v)) {
      if (!ids.has(v)) ids.set(v, `<id ${ids.size + 1}>`);
      return ids.get(v);
    }
    return v;
  };
  return walk(transcript);
}

/** The peer's transcript must be chatnode's; the first differing step is named. */
function assertSame(peer, node) {
  const p = normalize(peer), n = normalize(node);
  const i = n.findIndex((step, k) => !isDeepStrictEqual(step, p[k]));
  if (i >= 0) assert.deepEqual(p[i], n[i], `step ${i} (${n[i][0]}): the peer differs from chatnode`);
  assert.deepEqual(p, n);
}

describe("the bench peer speaks chatnode's chat protocol", { timeout: 60_000 }, () => {
  after(async () => {
    await stopAll(...running.splice(0));
  });

  it("alone: the same conversation gives the same transcript", async () => {
    const [node, peer] = await start(startNode(), startPeer());
    const [tn, tp] = await Promise.all([conversation(node, node), conversation(peer, peer)]);
    assertSame(tp, tn);
    await stopAll(node, peer);
  });

  it("two nodes on one Redis each: cross-node delivery and presence are the same", async () => {
    const [r1, r2] = await Promise.all([startRedis(), startRedis()]);
    try {
      const [n1, n2, p1, p2] = await start(
        startNode(["--redis", r1.url]), startNode(["--redis", r1.url]),
        startPeer(["--redis", r2.url]), startPeer(["--redis", r2.url]));
      await busUp(n1, n2, p1, p2);
      const [tn, tp] = await Promise.all([conversation(n1, n2), conversation(p1, p2)]);
      assertSame(tp, tn);
      await stopAll(n1, n2, p1, p2);
    } finally {
      await Promise.all([r1.stop(), r2.stop()]);
    }
  });

  it("the rate limit: the third quick event is rate_limited, a token comes back", async () => {
    // one token a second, two at most; how soon it comes back is the bucket's arithmetic, not
    // checked here (the wait only bounds it)
    const flags = ["--rate", "1", "--burst", "2"];
    const [node, peer] = await start(startNode(flags), startPeer(flags));
    const script = async (server) => {
      const s = io(server.url, { forceNew: true, reconnection: false, transports: ["websocket"], timeout: WAIT_MS, auth: { user: "rita" } });
      try {
        await new Promise((resolve, reject) => {
          s.once("connect", resolve);
          s.once("connect_error", (err) => reject(new Error(`rita: connect_error ${err.message}`)));
        });
        const quick = await Promise.all([0, 1, 2].map(() => call(s, "members", { room: "r" })));
        const limited = [];
        let later;
        await eventually(async () => {
          later = await call(s, "members", { room: "r" });
          if (later.error?.code !== "rate_limited") return true;
          limited.push(later);
          return false;
        }, WAIT_MS, "an event let through again", 100);
        assert.ok(limited.every((x) => isDeepStrictEqual(x, quick[2])), JSON.stringify(limited));
        return [["quick", quick], ["a token back", later], ["still connected", s.connected]];
      } finally {
        s.close();
      }
    };
    const [tn, tp] = await Promise.all([script(node), script(peer)]);
    assert.equal(tn[0][1][2].error?.code, "rate_limited", JSON.stringify(tn));
    assertSame(tp, tn);
    await stopAll(node, peer);
  });
});
