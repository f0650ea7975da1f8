// Connection-state recovery on one node, as socket.io 4.6+ defines it on the wire, driven by
// the npm socket.io-client (which recovers by itself) and by raw WebSockets where a test needs
// to forge what a client sends: pids in CONNECT answers, offsets on logged events, sessions
// that come back with their id, rooms and every missed packet exactly once and in order after
// a transport close or a TCP reset, and every way a restore must fail (window passed, too many
// missed, unknown pid, forged offset, someone else's pid, a kick) giving a new session.
// Every suite runs twice: alone (the log and the sessions in the node's memory) and with
// --redis (in Redis, through the recovery store's scripts).
// Exercises chatnode/sio_recovery.c, cluster_recovery.c, sio.c and chat.c's session owner.
import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startChatnode, startRedis, stopAll, eventually, openWsSession, sleep, withTimeout, WAIT_MS, busUp } from "./lib/harness.mjs";
import { emitAck } from "./lib/clients.mjs";
import { startNodePeer } from "./lib/node_peer.mjs";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";
import notepack from "notepack.io";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { signToken } from "./lib/jwt.mjs";

const SECRET = "a secret for the recovery tests";
/** An HS256 token signed with SECRET. */
const token = (claims) => signToken(claims, SECRET);

const OFFSET = /^\d+-\d+$/;
const open = new Set();

/** A socket.io-client socket that reconnects by itself (quickly), closed after each test. */
function reconnecting(srv, opts = {}) {
  const s = io(srv.url, {
    forceNew: true,
    transports: ["websocket"],
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
    timeout: WAIT_MS,
    ...opts,
  });
  open.add(s);
  return s;
}

function connectOnce(s) {
  return withTimeout(
    new Promise((resolve, reject) => {
      s.once("connect", () => resolve(s));
      s.once("connect_error", (e) => reject(new Error(`connect_error: ${e.message}`)));
    }),
    WAIT_MS,
    "connect",
  );
}

/** Records every event of s as [name, ...args] (the echo app's "auth" left out). */
function recordAll(s) {
  const got = [];
  s.onAny((...a) => {
    if (a[0] !== "auth") got.push(a);
  });
  return got;
}

/** Cuts s's transport: a clean WebSocket close, or a TCP reset. The client reconnects. */
function cut(s, how) {
  const engine = s.io.engine;
  if (how === "reset") {
    const tcp = engine.transport.ws._socket;
    if (typeof tcp.resetAndDestroy === "function") tcp.resetAndDestroy();
    else tcp.destroy();
  } else {
    engine.close();
  }
}

async function health(srv) {
  const res = await fetch(`${srv.url}/healthz`);
  return (await res.json()).recovery;
}

/** Drops s (how), waits until the server kept its session, lets `during` run, and resolves
 *  once s is connected again (it reconnects only then, so `during` is all it missed). */
async function dropAndReturn(srv, s, how, during = async () => {}) {
  const before = (await health(srv)).kept_total;
  s.io.reconnection(false);
  const gone = new Promise((resolve) => s.once("disconnect", resolve));
  cut(s, how);
  await withTimeout(gone, WAIT_MS, "disconnect");
  await eventually(async () => (await health(srv)).kept_total > before, WAIT_MS, "the session kept");
  await during();
  const back = new Promise((resolve) => s.once("connect", resolve));
  s.io.reconnection(true);
  s.connect();
  await withTimeout(back, WAIT_MS, "reconnect");
}

afterEach(() => {
  for (const s of open) s.close();
  open.clear();
});

let redis = null;
after(async () => {
  await redis?.stop();
});

for (const mode of ["alone", "redis"]) {
  /** The flags of this mode's chatnodes (with Redis, one redis-server for the file). */
  const modeFlags = async () => {
    if (mode === "alone") return [];
    redis ??= await startRedis();
    return ["--redis", redis.url];
  };

  describe(`connection-state recovery, echo app (${mode})`, { timeout: 120_000 }, () => {
    let srv;
    before(async () => {
      srv = await startChatnode(["--app", "echo", "--echo-test-events", "--cors-origin", "*", ...await modeFlags()]);
      // until Redis is reached, what the node sends goes out unlogged, with no new offset
      if (mode !== "alone") await busUp(srv);
    });
    after(() => stopAll(srv));

    it("CONNECT answers carry a pid and logged events their offset as last argument", async () => {
      const { sock } = await openWsSession(srv.wsUrl, "/socket.io/");
      try {
        sock.send("40");
        const ans = JSON.parse((await sock.next()).slice(2));
        assert.deepEqual(Object.keys(ans).sort(), ["pid", "sid"]);
        assert.equal(ans.pid.length, 20);
        assert.notEqual(ans.pid, ans.sid);
        const auth = JSON.parse((await sock.next()).slice(2)); // the echo app's emit
        assert.equal(auth[0], "auth");
        assert.deepEqual(auth[1], {});
        assert.match(auth[2], OFFSET);
        sock.send('42["message","x"]');
        const back = JSON.parse((await sock.next()).slice(2));
        assert.equal(back.length, 3);
        assert.deepEqual(back.slice(0, 2), ["message-back", "x"]);
        assert.match(back[2], OFFSET);
        // offsets only grow
        const [ams, aseq] = auth[2].split("-").map(BigInt);
        const [bms, bseq] = back[2].split("-").map(BigInt);
        assert.ok(bms > ams || (bms === ams && bseq > aseq), `${back[2]} after ${auth[2]}`);
        // an emit asking for an ack carries no offset: its last argument is the ack
        sock.send('42["request-ack","y"]');
        const req = await sock.next();
        assert.match(req, /^42\d+\["ack-request","y"\]$/);
      } finally {
        sock.close();
      }
    });

    for (const how of ["close", "reset"]) {
      it(`after a transport ${how === "close" ? "close" : "reset (TCP RST)"}: same id, rooms, and every missed message once, in order`, async () => {
        const a = reconnecting(srv);
        const b = reconnecting(srv);
        await Promise.all([connectOnce(a), connectOnce(b)]);
        const got = recordAll(a);
        await emitAck(a, "join", "room1");
        await emitAck(b, "broadcast", "room1", "news", 0);
        await eventually(() => got.length === 1, WAIT_MS, "the first message");
        const id = a.id;
        await dropAndReturn(srv, a, how, async () => {
          for (let i = 1; i <= 5; i++) await emitAck(b, "broadcast", "room1", "news", i);
          await emitAck(b, "broadcast", a.id, "direct", "to the socket's own room");
          await emitAck(b, "broadcast", "other-room", "news", "not for a");
        });
        assert.equal(a.recovered, true);
        assert.equal(a.id, id);
        // still in room1: a message after the recovery arrives once
        await emitAck(b, "broadcast", "room1", "news", 6);
        await eventually(() => got.length === 8, WAIT_MS, "8 events");
        await sleep(100);
        const names = got.map((e) => `${e[0]}:${e[1]}`);
        assert.deepEqual(names, ["news:0", "news:1", "news:2", "news:3", "news:4", "news:5",
          "direct:to the socket's own room", "news:6"]);
        for (const e of got) assert.match(e[e.length - 1], OFFSET);
        const offsets = got.map((e) => e[e.length - 1]);
        assert.equal(new Set(offsets).size, offsets.length, "one offset per packet");
      });
    }

    it("binary attachments are replayed", async () => {
      const a = reconnecting(srv);
      const b = reconnecting(srv);
      await Promise.all([connectOnce(a), connectOnce(b)]);
      const got = recordAll(a);
      await emitAck(a, "join", "bin");
      await dropAndReturn(srv, a, "close", async () => {
        await emitAck(b, "broadcast", "bin", "blob", Buffer.from([1, 2, 3]), { n: 1 });
      });
      assert.equal(a.recovered, true);
      await eventually(() => got.length === 1, WAIT_MS, "the missed binary event");
      assert.equal(got[0][0], "blob");
      assert.deepEqual([...got[0][1]], [1, 2, 3]);
      assert.deepEqual(got[0][2], { n: 1 });
      assert.match(got[0][3], OFFSET);
    });

    it("a last string argument of the app's never becomes the client's offset", async () => {
      const a = reconnecting(srv);
      const b = reconnecting(srv);
      await Promise.all([connectOnce(a), connectOnce(b)]);
      const got = recordAll(a);
      await emitAck(a, "join", "s");
      await emitAck(b, "broadcast", "s", "text", "a user's string");
      await eventually(() => got.length === 1, WAIT_MS, "the logged event");
      assert.match(a._lastOffset, OFFSET);
      await emitAck(b, "broadcast", { rooms: ["s"], volatile: true }, "vol", "another string");
      await eventually(() => got.length === 2, WAIT_MS, "the volatile event");
      assert.match(a._lastOffset, OFFSET);
      assert.equal(got[0][1], "a user's string");
      assert.equal(got[1][1], "another string");
      assert.match(got[1][2], OFFSET, "a volatile event ends with an offset too");
      await dropAndReturn(srv, a, "close", async () => {
        await emitAck(b, "broadcast", "s", "text", "missed");
      });
      assert.equal(a.recovered, true);
      await eventually(() => got.length === 3, WAIT_MS, "the missed event");
      assert.equal(got[2][1], "missed");
    });

    it("an unknown pid and forged offsets give a new session", async () => {
      const tries = [
        ['{"pid":"AAAAAAAAAAAAAAAAAAAA","offset":"1-0"}', "unknown"],
        [null, "offset", "99999999999999-0"], // ahead of the log
        [null, "offset", "not an offset"],
        [null, "offset", 12],
      ];
      for (const [auth, reason, offset] of tries) {
        const before = await health(srv);
        let pid;
        let sentAuth = auth;
        if (!sentAuth) {
          const first = await openWsSession(srv.wsUrl, "/socket.io/");
          first.sock.send("40");
          pid = JSON.parse((await first.sock.next()).slice(2)).pid;
          await first.sock.next(); // auth
          first.sock.close();
          await eventually(async () => (await health(srv)).kept > 0, WAIT_MS, "kept");
          sentAuth = JSON.stringify({ pid, offset });
        }
        const { sock } = await openWsSession(srv.wsUrl, "/socket.io/");
        try {
          sock.send(`40${sentAuth}`);
          const ans = JSON.parse((await sock.next()).slice(2));
          if (pid) assert.notEqual(ans.pid, pid);
          const after = await health(srv);
          assert.equal(after.failed[reason], before.failed[reason] + 1, `${sentAuth}: failed.${reason}`);
          assert.equal(after.restored, before.restored);
        } finally {
          sock.close();
        }
        if (pid) {
          // the session asked for with a bad offset is over: asking again finds nothing
          const again = await openWsSession(srv.wsUrl, "/socket.io/");
          const unknown = (await health(srv)).failed.unknown;
          again.sock.send(`40${JSON.stringify({ pid, offset: "0-0" })}`);
          await again.sock.next();
          assert.equal((await health(srv)).failed.unknown, unknown + 1);
          again.sock.close();
        }
      }
    });

    it("hostile pids and offsets: each gets a new session, the node stays up", async () => {
      const emoji = "\u{1F600}".repeat(64);
      const auths = [
        { pid: "" }, { pid: emoji, offset: "1-0" }, { pid: "A".repeat(19) }, { pid: "A".repeat(21) },
        { pid: "A".repeat(20), offset: emoji }, { pid: "A".repeat(20), offset: "1".repeat(10000) },
        { pid: "A".repeat(20), offset: "\u00e9-1" }, { pid: "A".repeat(20), offset: -1 },
        { pid: "A".repeat(20), offset: 1.5 }, { pid: "A".repeat(20), offset: null }, { pid: "A\u0000".repeat(10) },
        { pid: ["x"] }, { pid: { a: 1 } }, { pid: 12 },
      ];
      const { sock } = await openWsSession(srv.wsUrl, "/socket.io/");
      try {
        for (const auth of auths) {
          sock.send(`40${JSON.stringify(auth)}`);
          const ans = await sock.next();
          assert.match(ans, /^40\{"sid":"[\w-]{20}","pid":"[\w-]{20}"\}$/, JSON.stringify(auth).slice(0, 60));
          assert.equal(JSON.parse((await sock.next()).slice(2))[0], "auth");
          sock.send("41"); // leave the namespace, to connect again
        }
        // and a flood of them, 100 connections at once, each answered
        const flood = await Promise.all(Array.from({ length: 100 }, () => openWsSession(srv.wsUrl, "/socket.io/")));
        try {
          flood.forEach(({ sock: f }, i) => f.send(`40${JSON.stringify({ pid: `p${i}`.padEnd(20, "x"), offset: `${i}-0` })}`));
          for (const { sock: f } of flood) assert.match(await f.next(), /^40\{"sid"/);
        } finally {
          for (const { sock: f } of flood) f.close();
        }
      } finally {
        sock.close();
      }
      const h = await health(srv);
      assert.ok(h.failed.unknown > 0);
    });

    it("a client kicked by the server does not get its session back", async () => {
      const a = reconnecting(srv);
      await connectOnce(a);
      const id = a.id;
      const before = await health(srv);
      const gone = new Promise((resolve) => a.once("disconnect", resolve));
      a.emit("server-disconnect", true); // the whole connection closed by the server
      await withTimeout(gone, WAIT_MS, "disconnect");
      await connectOnce(a);
      assert.equal(a.recovered, false);
      assert.notEqual(a.id, id);
      assert.equal((await health(srv)).kept_total, before.kept_total, "nothing kept");
    });
  });

  describe(`connection-state recovery, limits (${mode})`, { timeout: 60_000 }, () => {
    let srv, many;
    before(async () => {
      // a window to wait out (the test waits 3 s); and one at its default for the packet limit,
      // so a loaded machine that takes seconds to come back cannot turn it into an expiry
      [srv, many] = await Promise.all([
        startChatnode(["--app", "echo", "--echo-test-events", "--recovery-window", "2000", ...await modeFlags()]),
        startChatnode(["--app", "echo", "--echo-test-events", "--recovery-max-packets", "3", ...await modeFlags()]),
      ]);
    });
    after(() => stopAll(srv, many));

    it("more missed packets than --recovery-max-packets: a new session", async () => {
      const a = reconnecting(many);
      const b = reconnecting(many);
      await Promise.all([connectOnce(a), connectOnce(b)]);
      await emitAck(a, "join", "r");
      const id = a.id;
      const h0 = await health(many);
      await dropAndReturn(many, a, "close", async () => {
        for (let i = 0; i < 4; i++) await emitAck(b, "broadcast", "r", "news", i);
      });
      assert.equal(a.recovered, false);
      assert.notEqual(a.id, id);
      const h1 = await health(many);
      assert.equal(h1.failed.too_many, h0.failed.too_many + 1);
      assert.equal(h1.expired, h0.expired, "refused for its packets, not expired");
    });

    it("after the window: a new session, the kept one expired", async () => {
      const a = reconnecting(srv);
      await connectOnce(a);
      const id = a.id;
      const h0 = await health(srv);
      await dropAndReturn(srv, a, "close", () => sleep(3000)); // the window is 2 s
      assert.equal(a.recovered, false);
      assert.notEqual(a.id, id);
      const h1 = await health(srv);
      assert.equal(h1.expired, h0.expired + 1);
      assert.equal(h1.failed.unknown, h0.failed.unknown + 1);
    });
  });

  describe(`connection-state recovery, signed-in users (${mode})`, { timeout: 60_000 }, () => {
    let srv, dir;
    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), "recovery-"));
      writeFileSync(path.join(dir, "secret"), SECRET);
      srv = await startChatnode(["--app", "chat", "--jwt-secret-file", path.join(dir, "secret"),
        "--jwt-leeway", "0", ...await modeFlags()]);
    });
    after(async () => {
      await stopAll(srv);
      rmSync(dir, { recursive: true, force: true });
    });

    it("a token that expired while away: the CONNECT is refused as usual, nothing recovered", async () => {
      const exp = Math.floor(Date.now() / 1000) + 2;
      const a = reconnecting(srv, { auth: { token: token({ sub: "u-eve", name: "Eve", exp }) } });
      await connectOnce(a);
      assert.equal((await emitAck(a, "join", { room: "lobby" }))[0].ok, true);
      const restored = (await health(srv)).restored;
      a.io.reconnection(false);
      const gone = new Promise((resolve) => a.once("disconnect", resolve));
      cut(a, "close");
      await withTimeout(gone, WAIT_MS, "disconnect");
      await sleep(Math.max(0, exp * 1000 - Date.now()) + 1100); // past exp
      const refused = new Promise((resolve) => a.once("connect_error", resolve));
      a.connect();
      const err = await withTimeout(refused, WAIT_MS, "connect_error");
      assert.equal(err.message, "unauthorized");
      assert.equal((await health(srv)).restored, restored);
    });

    it("a valid token of the same user gets the session back", async () => {
      const exp = Math.floor(Date.now() / 1000) + 3600;
      const a = reconnecting(srv, { auth: { token: token({ sub: "u-fay", name: "Fay", exp }) } });
      await connectOnce(a);
      assert.equal((await emitAck(a, "join", { room: "lobby" }))[0].ok, true);
      const id = a.id;
      await dropAndReturn(srv, a, "reset");
      assert.equal(a.recovered, true);
      assert.equal(a.id, id);
    });
  });

  describe(`connection-state recovery, a trimmed log (${mode})`, { timeout: 60_000 }, () => {
    let srv;
    before(async () => {
      // the log keeps at most a quarter of the memory budget in memory (256 KiB here), and
      // about --recovery-max-packets + 100 entries per stream in Redis
      srv = await startChatnode(["--app", "echo", "--echo-test-events", "--recovery-max-packets", "3",
        "--max-memory-queued", "1048576", ...await modeFlags()]);
    });
    after(() => stopAll(srv));

    it("a log trimmed past the client's offset: a new session, not a partial replay", async () => {
      const a = reconnecting(srv);
      const b = reconnecting(srv);
      await Promise.all([connectOnce(a), connectOnce(b)]);
      await emitAck(a, "join", "busy");
      const id = a.id;
      const trimmed = (await health(srv)).failed.trimmed;
      const filler = "x".repeat(2000);
      await dropAndReturn(srv, a, "close", async () => {
        for (let i = 0; i < 300; i++) await emitAck(b, "broadcast", "busy", "news", i, filler);
      });
      assert.equal(a.recovered, false);
      assert.notEqual(a.id, id);
      const failed = (await health(srv)).failed;
      assert.equal(failed.trimmed, trimmed + 1, JSON.stringify(failed));
    });
  });

  describe(`connection-state recovery, old history trimmed by age (${mode})`, { timeout: 60_000 }, () => {
    let srv;
    before(async () => {
      // entries are kept for the window plus a ping period: 4.8 s here (trimmed past 5.4 s);
      // a ping timeout that a loaded machine does not run into (a client dropped by it could
      // come back after the window)
      srv = await startChatnode(["--app", "echo", "--echo-test-events", "--recovery-window", "3000",
        "--ping-interval", "300", "--ping-timeout", "1500", ...await modeFlags()]);
    });
    after(() => stopAll(srv));

    it("a room whose history the client had was trimmed since: still recovered", async () => {
      const a = reconnecting(srv);
      const b = reconnecting(srv);
      await Promise.all([connectOnce(a), connectOnce(b)]);
      const got = recordAll(a);
      await emitAck(a, "join", "quiet");
      await emitAck(b, "broadcast", "quiet", "news", "long ago");
      await eventually(() => got.length === 1, WAIT_MS, "the old message");
      await emitAck(b, "broadcast", "elsewhere", "news", "not for a"); // after a's offset
      await sleep(6000); // past the retention: the room's stream expired whole
      await dropAndReturn(srv, a, "close", async () => {
        await emitAck(b, "broadcast", "quiet", "news", "while away");
      });
      assert.equal(a.recovered, true, JSON.stringify((await health(srv)).failed));
      await eventually(() => got.length === 2, WAIT_MS, "the missed message");
      assert.deepEqual(got.map((e) => e[1]), ["long ago", "while away"]);
    });
    it("a room with older entries past the retention: they are trimmed, cuts records it, still recovered", async () => {
      const a = reconnecting(srv);
      const b = reconnecting(srv);
      await Promise.all([connectOnce(a), connectOnce(b)]);
      const got = recordAll(a);
      await emitAck(a, "join", "busy");
      await emitAck(b, "broadcast", "busy", "news", "first");
      await sleep(3000); // within the retention (4.8 s): the stream stays
      await emitAck(b, "broadcast", "busy", "news", "second");
      await eventually(() => got.length === 2, WAIT_MS, "both messages");
      await sleep(3000); // "first" is past the retention and its eighth (5.4 s), "second" is not
      await dropAndReturn(srv, a, "close", async () => {
        await emitAck(b, "broadcast", "busy", "news", "while away");
      });
      assert.equal(a.recovered, true, JSON.stringify((await health(srv)).failed));
      await eventually(() => got.length === 3, WAIT_MS, "the missed message");
      assert.deepEqual(got.map((e) => e[1]), ["first", "second", "while away"]);
      if (mode === "redis") {
        const rc = createClient({ url: redis.url });
        rc.on("error", () => {});
        await rc.connect();
        try {
          const [stream] = await rc.keys("*:r:busy");
          const [cuts] = await rc.keys("*:cuts");
          assert.deepEqual((await rc.xRange(stream, "-", "+")).map((e) => JSON.parse(e.message.d)[1]),
            ["second", "while away"], "the entry past the retention went");
          assert.equal(await rc.hGet(cuts, stream), got[0][2], "cuts has the entry trimmed");
        } finally {
          await rc.quit().catch(() => {});
        }
      }
    });
  });

  describe(`connection-state recovery, chat app (${mode})`, { timeout: 60_000 }, () => {
    let srv;
    before(async () => {
      srv = await startChatnode(["--app", "chat", "--allow-anonymous", ...await modeFlags()]);
    });
    after(() => stopAll(srv));

    async function chatClient(user, opts = {}) {
      const s = reconnecting(srv, { auth: { user }, ...opts });
      await connectOnce(s);
      return s;
    }

    it("a recovered user keeps its rooms, the others see no left/joined, missed messages arrive", async () => {
      const alice = await chatClient("alice");
      const bob = await chatClient("bob");
      const bobGot = recordAll(bob);
      const aliceGot = recordAll(alice);
      assert.equal((await emitAck(alice, "join", { room: "lobby" }))[0].ok, true);
      assert.equal((await emitAck(bob, "join", { room: "lobby" }))[0].ok, true);
      // bob's arrival reaches both (logged, it may come after the join's answer)
      const bobJoined = (got) => got.some((e) => e[0] === "joined" && e[1].user.name === "bob");
      await eventually(() => bobJoined(bobGot) && bobJoined(aliceGot), WAIT_MS, "bob's arrival");
      bobGot.length = 0;
      aliceGot.length = 0;
      const id = alice.id;
      await dropAndReturn(srv, alice, "reset", async () => {
        const [res] = await emitAck(bob, "message", { room: "lobby", text: "while you were away" });
        assert.equal(res.ok, true);
      });
      assert.equal(alice.recovered, true);
      assert.equal(alice.id, id);
      const [res] = await emitAck(bob, "message", { room: "lobby", text: "after" });
      assert.equal(res.ok, true);
      await eventually(() => aliceGot.filter((e) => e[0] === "message").length === 2, WAIT_MS, "two messages");
      assert.deepEqual(aliceGot.filter((e) => e[0] === "message").map((e) => e[1].text), ["while you were away", "after"]);
      await sleep(200);
      assert.deepEqual(bobGot.filter((e) => e[0] === "joined" || e[0] === "left"), [], "no presence flapping");
      // alice is still in the room and can post
      const [mine] = await emitAck(alice, "message", { room: "lobby", text: "back" });
      assert.equal(mine.ok, true);
    });

    it("someone else's pid gives a new session; its owner still gets it back", async () => {
      const alice = await chatClient("alice2");
      assert.equal((await emitAck(alice, "join", { room: "secret" }))[0].ok, true);
      const pid = alice._pid;
      const id = alice.id;
      const offset = alice._lastOffset;
      const back = new Promise((resolve) => alice.once("connect", resolve));
      alice.io.reconnection(false);
      cut(alice, "close");
      await eventually(async () => (await health(srv)).kept > 0, WAIT_MS, "kept");
      const owner = (await health(srv)).failed.owner;
      const { sock } = await openWsSession(srv.wsUrl, "/socket.io/");
      try {
        sock.send(`40${JSON.stringify({ user: "mallory", pid, offset })}`);
        const ans = JSON.parse((await sock.next()).slice(2));
        assert.notEqual(ans.sid, id);
        assert.notEqual(ans.pid, pid);
        assert.equal((await health(srv)).failed.owner, owner + 1);
        // mallory is in no room of alice's: a message to "secret" does not reach her
      } finally {
        sock.close();
      }
      alice.io.reconnection(true);
      alice.connect();
      await withTimeout(back, WAIT_MS, "alice back");
      assert.equal(alice.recovered, true);
      assert.equal(alice.id, id);
    });
  });

  if (mode === "redis") {
    /** The TTLs (ms) of the session records in rc's Redis, n of them. */
    async function sessionTtls(rc, n) {
      const keys = [];
      for await (const k of rc.scanIterator({ MATCH: "*:s:*" })) keys.push(...[k].flat());
      assert.equal(keys.length, n, "one record per session");
      const m = rc.multi();
      for (const k of keys) m.pTTL(k);
      return m.exec();
    }

    /** A node of its own on a Redis of its own, recovery window 6 s, and n clients to connect. */
    async function refreshing(n) {
      const own = await startRedis();
      const node = await startChatnode(["--app", "echo", "--redis", own.url, "--recovery-window", "6000"]);
      const rc = createClient({ url: own.url });
      rc.on("error", () => {});
      await rc.connect();
      const clients = Array.from({ length: n }, () => reconnecting(node));
      const close = async () => {
        for (const c of clients) c.close();
        await rc.quit().catch(() => {});
        await stopAll(node);
        await own.stop();
      };
      return { rc, clients, close };
    }

    it("refreshes connected sessions' records a slice a second over the half window, not all at once", { timeout: 60_000 }, async () => {
      // window 6 s: a half window of 3 s in three 1 s slices, 3 of the 9 sessions each
      const { rc, clients, close } = await refreshing(9);
      try {
        await Promise.all(clients.map(connectOnce));
        await sleep(4500); // a whole round of refreshes after the last connect
        const ttls = await sessionTtls(rc, 9);
        assert.ok(ttls.every((t) => t > 6000 && t <= 12000), `alive, TTL two windows: ${ttls}`);
        // all at once, the TTLs would be within a few ms of each other
        const spread = Math.max(...ttls) - Math.min(...ttls);
        assert.ok(spread >= 800, `refreshed in slices: TTLs ${ttls.join(" ")}`);
      } finally {
        await close();
      }
    });

    it("refreshes a slice of sessions with a few script calls, not one per session", { timeout: 90_000 }, async () => {
      // 400 sessions, window 6 s: 134 a second, sent as scripts of at most 128 sessions
      const { rc, clients, close } = await refreshing(400);
      const scriptCalls = async () => {
        const info = await rc.info("commandstats");
        return [...info.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
      };
      try {
        await Promise.all(clients.map(connectOnce));
        await sleep(500);
        const before = await scriptCalls();
        const t0 = Date.now();
        await sleep(3200); // a whole half window: every session refreshed once
        const calls = (await scriptCalls()) - before;
        const ttls = await sessionTtls(rc, 400);
        // made at connect with a TTL of two windows; a refresh since t0 puts it above this
        const floor = 12000 - (Date.now() - t0) + 200;
        const stale = ttls.filter((t) => t < floor);
        assert.equal(stale.length, 0, `every session refreshed in the half window (${stale.length} not, TTLs from ${Math.min(...ttls)})`);
        // one per session would be 400; in batches, two a second plus the lease's
        assert.ok(calls > 0 && calls <= 20, `script calls in a half window: ${calls}`);
      } finally {
        await close();
      }
    });

    describe("connection-state recovery with servers that keep no log", { timeout: 60_000 }, () => {
      let srv, peer, emitterClient, emitter;
      before(async () => {
        srv = await startChatnode(["--app", "echo", "--echo-test-events", ...await modeFlags()]);
        peer = await startNodePeer({ redisUrl: redis.url });
        emitterClient = createClient({ url: redis.url });
        emitterClient.on("error", () => {});
        await emitterClient.connect();
        emitter = new Emitter(emitterClient);
      });
      after(async () => {
        await peer?.close();
        await emitterClient?.quit().catch(() => {});
        await stopAll(srv);
      });

      it("broadcasts of the emitter and of a Node.js server are logged and recovered, once each", async () => {
        const a = reconnecting(srv);
        await connectOnce(a);
        const got = recordAll(a);
        await emitAck(a, "join", "mixed");
        await eventually(async () => (await health(srv)).logger === true, WAIT_MS, "the logger lease");
        emitter.to("mixed").emit("news", "live from the emitter");
        await eventually(() => got.length === 1, WAIT_MS, "the emitter's broadcast, live");
        assert.match(got[0][2], OFFSET, "logged: it carries its offset");
        await dropAndReturn(srv, a, "close", async () => {
          emitter.to("mixed").emit("news", "missed from the emitter");
          peer.io.to("mixed").emit("news", "missed from the Node server");
          await sleep(300); // both logged before the client asks
        });
        assert.equal(a.recovered, true);
        emitter.to("mixed").emit("news", "after");
        await eventually(() => got.length === 4, WAIT_MS, "4 events");
        await sleep(200);
        assert.deepEqual(got.map((e) => e[1]), ["live from the emitter", "missed from the emitter",
          "missed from the Node server", "after"]);
        for (const e of got) assert.match(e[2], OFFSET);
        const h = await health(srv);
        assert.equal(h.foreign_logged, 4, "each logged once");
        assert.equal(h.foreign_unlogged, 0, "none sent unlogged after waiting for its copy");
      });

      // the name is read as Node reads it (U+FFFD for what is not UTF-8), so it can be logged
      it("a broadcast whose except names a room that is not UTF-8 is delivered once, logged", async () => {
        const a = reconnecting(srv);
        await connectOnce(a);
        const got = recordAll(a);
        await emitAck(a, "join", "raw");
        // [uid, {type, data, nsp}, {rooms, except, flags}] with except ["\xff\xfe"], by hand
        const placeholder = "@@";
        const bytes = Buffer.from(notepack.encode(["emitter", { type: 2, data: ["news", "raw bytes"], nsp: "/" },
          { rooms: ["raw"], except: [placeholder], flags: {} }]));
        const at = bytes.indexOf(Buffer.from(placeholder));
        bytes[at] = 0xff;
        bytes[at + 1] = 0xfe;
        const before = await health(srv);
        await emitterClient.publish(Buffer.from("socket.io#/#"), bytes);
        await eventually(() => got.length === 1, WAIT_MS, "the broadcast");
        assert.deepEqual(got[0].slice(0, 2), ["news", "raw bytes"]);
        assert.match(got[0][2], OFFSET);
        await sleep(100);
        assert.equal(got.length, 1);
        const after = await health(srv);
        assert.equal(after.foreign_logged, before.foreign_logged + 1);
        assert.equal(after.foreign_unlogged, before.foreign_unlogged);
      });
    });
  }
}
