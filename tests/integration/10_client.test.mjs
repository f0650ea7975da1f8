// Single node, driven by the real npm socket.io-client: transports and upgrade, acks both ways,
// binary payloads, namespaces on one connection, heartbeat failures seen from both sides,
// server-side disconnects, a 200-client room broadcast, and malformed input from one
// connection that must not disturb the others.
// Exercises chatnode/server.c, eio_session.c, sio.c, room.c and app_echo.c end to end.
import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { client, manager, track, closeAllClients, connected, emitAck, record, echo } from "./lib/clients.mjs";
import {
  startChatnode,
  stopAll,
  waitFor,
  withTimeout,
  eventually,
  httpRequest,
  PollingClient,
  openWsSession,
  assertPollingClosed,
  WAIT_MS,
} from "./lib/harness.mjs";

// Recovery off: events arrive with exactly the arguments sent (with it on, each also carries
// its offset as a last argument; 18_recovery covers that).
const ECHO_FLAGS = ["--app", "echo", "--echo-test-events", "--recovery-window", "0", "--ping-interval", "2000", "--ping-timeout", "5000", "--connect-timeout", "5000"];

let srv;

/**
 * Writes `text` on a fresh TCP connection to `port`; resolves with what came back once a
 * response head has arrived or the server has closed the connection ({closed: true}), or
 * after 3 s.
 */
function rawExchange(port, text) {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    let data = "";
    const done = (closed) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ closed, data });
    };
    const timer = setTimeout(() => done(false), 3000);
    sock.on("data", (d) => {
      data += d.toString("latin1");
      if (data.includes("\r\n\r\n")) done(false); // a whole response head is enough
    });
    sock.on("error", () => {});
    sock.on("close", () => done(true));
    sock.write(Buffer.from(text, "latin1"));
  });
}

/** Turns every binary-like value inside `v` into a Buffer, for deep comparisons. */
function normalize(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  return v;
}

describe("single node with socket.io-client", { timeout: 240_000 }, () => {
  before(async () => {
    srv = await startChatnode(ECHO_FLAGS);
  });
  afterEach(closeAllClients);
  after(async () => {
    closeAllClients();
    await stopAll(srv);
  });

  describe("transports", () => {
    it("polling only: connects, echoes and stays on polling", async () => {
      const s = await connected(client(srv, "/", { transports: ["polling"] }));
      assert.equal(s.io.engine.transport.name, "polling");
      assert.deepEqual(await echo(s, "hello", 1, { a: [true, null] }), ["hello", 1, { a: [true, null] }]);
      assert.deepEqual(await emitAck(s, "message-with-ack", "x"), ["x"]);
      assert.equal(s.io.engine.transport.name, "polling");
    });

    it("websocket only: connects and echoes", async () => {
      const s = await connected(client(srv, "/", { transports: ["websocket"] }));
      assert.equal(s.io.engine.transport.name, "websocket");
      assert.deepEqual(await echo(s, "hello", 2), ["hello", 2]);
    });

    it("default: starts on polling and upgrades to websocket, messages flow throughout", async () => {
      const s = client(srv);
      let firstTransport;
      s.io.once("open", () => (firstTransport = s.io.engine.transport.name));
      await connected(s);
      assert.equal(firstTransport, "polling");
      assert.deepEqual(await echo(s, "before or during upgrade"), ["before or during upgrade"]);
      await eventually(() => s.io.engine.transport.name === "websocket", WAIT_MS, "the upgrade to websocket");
      assert.deepEqual(await echo(s, "after upgrade"), ["after upgrade"]);
      assert.deepEqual(await emitAck(s, "message-with-ack", "after upgrade"), ["after upgrade"]);
    });

    it("the engine sid starts with the node tag", async () => {
      const tagged = await startChatnode(["--app", "echo", "--node-tag", "nodeT1"]);
      try {
        const s = await connected(client(tagged, "/", { transports: ["websocket"] }));
        assert.ok(s.io.engine.id.startsWith("nodeT1"), `engine id ${s.io.engine.id}`);
      } finally {
        closeAllClients();
        await tagged.stop();
      }
    });

    it("settings can come from CHATNODE_* environment variables", async () => {
      const fromEnv = await startChatnode([], {
        CHATNODE_APP: "echo",
        CHATNODE_NODE_TAG: "envTag",
        CHATNODE_PING_INTERVAL: "4321",
        CHATNODE_PING_TIMEOUT: "8765",
        CHATNODE_MAX_PAYLOAD: "123456",
      });
      try {
        const p = await PollingClient.open(fromEnv.url, "/socket.io/");
        assert.ok(p.sid.startsWith("envTag"), `sid ${p.sid}`);
        assert.equal(p.handshake.pingInterval, 4321);
        assert.equal(p.handshake.pingTimeout, 8765);
        assert.equal(p.handshake.maxPayload, 123456);
        await p.post("1");
      } finally {
        await fromEnv.stop();
      }
    });

    it("GET /healthz reports status, connections and uptime", async () => {
      await connected(client(srv, "/", { transports: ["websocket"] }));
      const res = await httpRequest(`${srv.url}/healthz`);
      assert.equal(res.status, 200);
      const body = JSON.parse(res.body);
      assert.equal(body.status, "ok");
      assert.equal(typeof body.connections, "number");
      assert.ok(body.connections >= 1, `connections=${body.connections} with one client connected`);
      assert.equal(typeof body.uptime_s, "number");
      assert.ok(body.uptime_s >= 0);
    });
  });

  describe("acknowledgements", () => {
    it("client to server: the ack carries the same arguments", async () => {
      const s = await connected(client(srv));
      assert.deepEqual(await emitAck(s, "message-with-ack", 1, "2", { 3: [false] }, null), [1, "2", { 3: [false] }, null]);
      assert.deepEqual(await emitAck(s, "message-with-ack"), []);
    });

    it("client to server with timeout(): the ack arrives with no error", async () => {
      const s = await connected(client(srv, "/", { transports: ["websocket"] }));
      const vals = await withTimeout(
        new Promise((resolve) => s.timeout(5000).emit("message-with-ack", "a", { b: 1 }, (err, ...v) => resolve([err, ...v]))),
        WAIT_MS,
        "timeout ack",
      );
      assert.deepEqual(vals, [null, "a", { b: 1 }]);
      assert.equal(await s.timeout(5000).emitWithAck("message-with-ack", 42), 42);
    });

    it("client to server with timeout(): an event nobody acks times out", async () => {
      const s = await connected(client(srv, "/", { transports: ["websocket"] }));
      await assert.rejects(s.timeout(300).emitWithAck("no-such-event", 1), /timed out|timeout/i);
      assert.deepEqual(await echo(s, "still fine"), ["still fine"]);
    });

    it("server to client: the server's ack callback gets the client's values", async () => {
      for (const transports of [["websocket"], ["polling"]]) {
        const s = await connected(client(srv, "/", { transports }));
        const request = waitFor(s, "ack-request");
        s.on("ack-request", (...args) => {
          const cb = args.pop();
          cb("pong", { k: 1 }, [2, 3]);
        });
        const response = waitFor(s, "ack-response");
        s.emit("request-ack", "ping", 7);
        const reqArgs = await request;
        assert.deepEqual(reqArgs.slice(0, 2), ["ping", 7]);
        assert.equal(typeof reqArgs[2], "function", "the server must ask for an ack");
        assert.deepEqual(await response, ["pong", { k: 1 }, [2, 3]]);
      }
    });
  });

  describe("binary payloads", () => {
    const big = Buffer.alloc(200_000, 0).map((_, i) => (i * 7) & 0xff);
    const payload = () => [
      Buffer.from([1, 2, 3]),
      { file: Buffer.from("héllo"), meta: { name: "x", parts: [Buffer.from([0]), "text", { deep: Buffer.from([255, 254]) }] } },
      [Buffer.alloc(0), 5, Buffer.from([9])],
      "plain",
    ];

    for (const transports of [["websocket"], ["polling"]]) {
      it(`${transports[0]}: Buffers as arguments, nested in objects and arrays, round-trip`, async () => {
        const s = await connected(client(srv, "/", { transports }));
        assert.deepEqual(normalize(await echo(s, ...payload())), payload());
        assert.deepEqual(normalize(await emitAck(s, "message-with-ack", ...payload())), payload());
      });

      it(`${transports[0]}: a 200 kB Buffer round-trips intact`, async () => {
        const s = await connected(client(srv, "/", { transports }));
        const [back] = normalize(await echo(s, big));
        assert.equal(back.length, big.length);
        assert.ok(back.equals(big), "200 kB payload corrupted");
      });

      it(`${transports[0]}: binary in server-to-client acks`, async () => {
        const s = await connected(client(srv, "/", { transports }));
        const response = waitFor(s, "ack-response");
        s.on("ack-request", (...args) => {
          const cb = args.pop();
          cb({ echoed: args[0] }, Buffer.from([4, 5]));
        });
        s.emit("request-ack", Buffer.from([1, 1, 2]));
        assert.deepEqual(normalize(await response), [{ echoed: Buffer.from([1, 1, 2]) }, Buffer.from([4, 5])]);
      });
    }
  });

  describe("namespaces", () => {
    it("/ and /custom share one Engine.IO connection, each with its own auth", async () => {
      const m = manager(srv, { transports: ["websocket"] });
      const main = m.socket("/", { auth: { token: "main-token" } });
      const custom = m.socket("/custom", { auth: { token: "custom-token" } });
      const mainAuth = waitFor(main, "auth");
      const customAuth = waitFor(custom, "auth");
      main.connect();
      custom.connect();
      await Promise.all([connected(main), connected(custom)]);
      assert.strictEqual(main.io, custom.io);
      assert.strictEqual(main.io.engine, custom.io.engine);
      assert.notEqual(main.id, custom.id);
      assert.deepEqual(await mainAuth, [{ token: "main-token" }]);
      assert.deepEqual(await customAuth, [{ token: "custom-token" }]);
      track(main, custom);

      // rooms and broadcasts stay inside their namespace
      const mainGot = record(main);
      const customGot = record(custom);
      assert.deepEqual(await emitAck(main, "join", "mx"), []);
      assert.deepEqual(await emitAck(custom, "join", "mx"), []);
      assert.deepEqual(await emitAck(custom, "broadcast", "mx", "custom-news", 1), [1]);
      await eventually(() => customGot.some(([e]) => e === "custom-news"), WAIT_MS, "custom-news on /custom");
      assert.deepEqual(await emitAck(main, "broadcast", "mx", "main-news", 2), [1]);
      await eventually(() => mainGot.some(([e]) => e === "main-news"), WAIT_MS, "main-news on /");
      assert.deepEqual(await echo(custom, "sync"), ["sync"]);
      assert.deepEqual(mainGot, [["main-news", 2]]);
      assert.deepEqual(customGot, [["custom-news", 1]]);
    });

    it("an unknown namespace gets connect_error 'Invalid namespace'; its sibling works", async () => {
      const alone = client(srv, "/nope");
      const [err] = await waitFor(alone, "connect_error");
      assert.equal(err.message, "Invalid namespace");

      const m = manager(srv);
      const main = m.socket("/");
      const bad = m.socket("/random");
      track(main, bad);
      main.connect();
      bad.connect();
      const [err2] = await waitFor(bad, "connect_error");
      assert.equal(err2.message, "Invalid namespace");
      await connected(main);
      assert.deepEqual(await echo(main, "ok"), ["ok"]);
    });
  });

  describe("server-side disconnects", () => {
    for (const transports of [["websocket"], ["polling"]]) {
      it(`${transports[0]}: server-disconnect(false) -> "io server disconnect"`, async () => {
        const s = await connected(client(srv, "/", { transports }));
        const reason = waitFor(s, "disconnect");
        s.emit("server-disconnect", false);
        assert.deepEqual((await reason).slice(0, 1), ["io server disconnect"]);
      });

      it(`${transports[0]}: server-disconnect(true) -> "transport close"`, async () => {
        const s = await connected(client(srv, "/", { transports }));
        const reason = waitFor(s, "disconnect");
        s.emit("server-disconnect", true);
        assert.deepEqual((await reason).slice(0, 1), ["transport close"]);
      });
    }

    it("server-disconnect(false) on /custom leaves / connected on the same connection", async () => {
      const m = manager(srv, { transports: ["websocket"] });
      const main = m.socket("/");
      const custom = m.socket("/custom");
      track(main, custom);
      main.connect();
      custom.connect();
      await Promise.all([connected(main), connected(custom)]);
      const reason = waitFor(custom, "disconnect");
      custom.emit("server-disconnect", false);
      assert.deepEqual((await reason).slice(0, 1), ["io server disconnect"]);
      assert.ok(main.connected);
      assert.deepEqual(await echo(main, "still here"), ["still here"]);
    });
  });

  describe("heartbeat failures", () => {
    it("the server closes a connection that never answers pings; others live on", async () => {
      const fast = await startChatnode(["--app", "echo", "--recovery-window", "0", "--ping-interval", "300", "--ping-timeout", "300"]);
      try {
        const good = await connected(client(fast, "/", { transports: ["websocket"] }));
        const t0 = Date.now();
        const { sock } = await openWsSession(fast.wsUrl, "/socket.io/", { autoPong: false });
        sock.send("40");
        assert.match(await sock.next(), /^40\{"sid":/);
        assert.equal(await sock.next(), '42["auth",{}]');
        assert.equal(await sock.next(), "2");
        await sock.waitClose();
        // closed once the ping went unanswered (a lower bound only: a slow server may be late)
        assert.ok(Date.now() - t0 >= 300, `closed after ${Date.now() - t0} ms`);
        assert.ok(good.connected);
        assert.deepEqual(await echo(good, "alive"), ["alive"]);
      } finally {
        closeAllClients();
        await fast.stop();
      }
    });

    it("the client detects a stopped server: disconnect reason 'ping timeout'", async () => {
      const frozen = await startChatnode(["--app", "echo", "--recovery-window", "0", "--ping-interval", "300", "--ping-timeout", "300"]);
      try {
        const ws = await connected(client(frozen, "/", { transports: ["websocket"] }));
        const poll = await connected(client(frozen, "/", { transports: ["polling"] }));
        const wsReason = waitFor(ws, "disconnect", 15_000);
        const pollReason = waitFor(poll, "disconnect", 15_000);
        frozen.pause();
        assert.deepEqual((await wsReason).slice(0, 1), ["ping timeout"]);
        assert.deepEqual((await pollReason).slice(0, 1), ["ping timeout"]);
      } finally {
        frozen.resume();
        closeAllClients();
        await frozen.stop();
      }
    });
  });

  describe("rooms", () => {
    it("join and leave decide who gets a room broadcast", async () => {
      const [a, b, c] = await Promise.all([0, 1, 2].map(() => connected(client(srv, "/", { transports: ["websocket"] }))));
      const got = [a, b, c].map(record);
      for (const s of [a, b, c]) assert.deepEqual(await emitAck(s, "join", "jl"), []);
      assert.deepEqual(await emitAck(b, "leave", "jl"), []);
      assert.deepEqual(await emitAck(c, "broadcast", "jl", "jl-news", "x"), [2]);
      await eventually(() => got[0].length && got[2].length, WAIT_MS, "jl-news at a and c");
      assert.deepEqual(await echo(b, "sync"), ["sync"]); // b would have had jl-news before this
      assert.deepEqual(got[0], [["jl-news", "x"]]);
      assert.deepEqual(got[2], [["jl-news", "x"]]);
      assert.deepEqual(got[1], []);
    });

    it("broadcast to several rooms minus an except set reaches each member once", async () => {
      const [a, b, c, d, e] = await Promise.all([0, 1, 2, 3, 4].map(() => connected(client(srv, "/", { transports: ["websocket"] }))));
      const got = [a, b, c, d, e].map(record);
      // a: r1 r2 (in both: one copy), b: r1 + muted, c: r2, d: only muted, e: nothing
      for (const [s, rooms] of [[a, ["ex-r1", "ex-r2"]], [b, ["ex-r1", "ex-muted"]], [c, ["ex-r2"]], [d, ["ex-muted"]]])
        for (const r of rooms) assert.deepEqual(await emitAck(s, "join", r), []);
      const target = { rooms: ["ex-r1", "ex-r2", "ex-muted"], except: ["ex-muted"] };
      assert.deepEqual(await emitAck(e, "broadcast", target, "ex-news", 1), [2]);
      await eventually(() => got[0].length && got[2].length, WAIT_MS, "ex-news at a and c");
      for (const s of [a, b, c, d, e]) assert.deepEqual(await echo(s, "sync"), ["sync"]);
      assert.deepEqual(got[0], [["ex-news", 1]]);
      assert.deepEqual(got[2], [["ex-news", 1]]);
      assert.deepEqual(got[1], []); // excepted through ex-muted
      assert.deepEqual(got[3], []);
      assert.deepEqual(got[4], []);
      // a socket id is a room too, and can be excepted
      const byId = { rooms: ["ex-r1", c.id], except: [a.id] };
      assert.deepEqual(await emitAck(e, "broadcast", byId, "id-news"), [2]);
      await eventually(() => got[1].length && got[2].length === 2, WAIT_MS, "id-news at b and c");
      assert.deepEqual(await echo(a, "sync"), ["sync"]);
      assert.deepEqual(got[0], [["ex-news", 1]]);
    });

    it("broadcast to a whole namespace reaches every socket of it, sender included", async () => {
      const own = await startChatnode(["--app", "echo", "--echo-test-events", "--recovery-window", "0"]);
      try {
        const clients = await Promise.all([0, 1, 2].map(() => connected(client(own, "/", { transports: ["websocket"] }))));
        const other = await connected(client(own, "/custom", { transports: ["websocket"] }));
        const got = clients.map(record);
        const otherGot = record(other);
        assert.deepEqual(await emitAck(clients[0], "broadcast", null, "all-news", { n: 1 }), [3]);
        await eventually(() => got.every((g) => g.length === 1), WAIT_MS, "all-news everywhere");
        for (const g of got) assert.deepEqual(g, [["all-news", { n: 1 }]]);
        assert.deepEqual(await echo(other, "sync"), ["sync"]);
        assert.deepEqual(otherGot, []);
      } finally {
        closeAllClients();
        await own.stop();
      }
    });

    it("200 clients in one room all receive one broadcast", { timeout: 120_000 }, async () => {
      const N = 200;
      const BATCH = 25;
      const members = [];
      for (let i = 0; i < N; i += BATCH) {
        const batch = [];
        for (let j = i; j < Math.min(N, i + BATCH); j++) {
          batch.push(
            connected(client(srv, "/", { transports: ["websocket"] }), 30_000).then(async (s) => {
              assert.deepEqual(await emitAck(s, "join", "crowd"), []);
              return s;
            }),
          );
        }
        members.push(...(await Promise.all(batch)));
      }
      const outsider = await connected(client(srv, "/", { transports: ["websocket"] }));
      const outsiderGot = record(outsider);
      const counts = new Array(N).fill(0);
      const values = [];
      const all = Promise.all(
        members.map(
          (s, i) =>
            new Promise((resolve) =>
              s.on("crowd-news", (v) => {
                values.push(v);
                counts[i]++;
                resolve();
              }),
            ),
        ),
      );
      assert.deepEqual(await emitAck(members[0], "broadcast", "crowd", "crowd-news", { hello: "crowd" }), [N]);
      await withTimeout(all, 60_000, `all ${N} clients to get crowd-news (${counts.filter(Boolean).length} did)`);
      assert.deepEqual(await echo(outsider, "sync"), ["sync"]);
      assert.deepEqual(outsiderGot, []);
      assert.ok(counts.every((c) => c === 1), "every member got the broadcast exactly once");
      for (const v of values) assert.deepEqual(v, { hello: "crowd" });
    });
  });

  describe("malformed input", () => {
    const BAD_WS = [
      ["an invalid Engine.IO packet", "abc", false],
      ["an unknown Socket.IO packet type", "4abc", true],
      ["an event payload that is not an array", "42{}", true],
      ["truncated JSON", '42["message",{"a":', true],
      ["an invalid ack id", '42abc["message-with-ack",1]', true],
      ["a binary frame nobody announced", Buffer.from([0xde, 0xad]), true],
    ];

    it("closes only the offending connection; connected clients keep talking", async () => {
      const a = await connected(client(srv, "/", { transports: ["websocket"] }));
      const b = await connected(client(srv, "/", { transports: ["polling"] }));
      const c = client(srv); // polling, then upgrade
      await connected(c);
      for (const s of [a, b, c]) assert.deepEqual(await emitAck(s, "join", "survivors"), []);
      const gotB = [];
      const gotC = [];
      b.on("survivor-news", (n) => gotB.push(n));
      c.on("survivor-news", (n) => gotC.push(n));

      let round = 0;
      const stillTalking = async (what) => {
        round++;
        assert.ok(a.connected && b.connected && c.connected, `a client lost its connection after ${what}`);
        assert.deepEqual(await echo(a, "a", round), ["a", round], `echo after ${what}`);
        assert.deepEqual(await echo(b, "b", round), ["b", round], `echo after ${what}`);
        assert.deepEqual(await emitAck(a, "broadcast", "survivors", "survivor-news", round), [3]);
        await eventually(() => gotB.includes(round) && gotC.includes(round), WAIT_MS, `broadcast after ${what}`);
      };

      for (const [what, packet, connectFirst] of BAD_WS) {
        const { sock } = await openWsSession(srv.wsUrl, "/socket.io/");
        if (connectFirst) {
          sock.send("40");
          assert.match(await sock.next(), /^40\{/);
          await sock.next(); // auth
        }
        sock.send(packet);
        await sock.waitClose().catch((err) => {
          sock.close();
          throw new Error(`${what}: ${err.message}`);
        });
        await stillTalking(what);
      }

      // the same over HTTP long-polling
      for (const [what, body] of [
        ["an invalid Engine.IO packet (polling)", "abc"],
        ["an event payload that is not an array (polling)", "42{}"],
      ]) {
        const p = await PollingClient.open(srv.url, "/socket.io/");
        await p.post("40");
        await p.take(2); // CONNECT answer and auth
        await p.post(body).catch(() => {});
        await assertPollingClosed(p, { what });
        await stillTalking(what);
      }

      // bytes that are not HTTP, and a WebSocket upgrade of an unknown version
      for (const [what, text] of [
        ["bytes that are not HTTP", "\x00\x01GARBAGE \xff\r\n\r\n"],
        [
          "a WebSocket upgrade of an unknown version",
          "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n" +
            "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 99\r\n\r\n",
        ],
        [
          "a POST with a garbage sid and body",
          "POST /socket.io/?EIO=4&transport=polling&sid=%00%ff%fe HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
            "Content-Length: 4\r\nConnection: close\r\n\r\n\x00\x01\x1e\xff",
        ],
        [
          "a POST whose body is shorter than its Content-Length",
          "POST /socket.io/?EIO=4&transport=polling&sid=nosuchsid HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
            "Content-Length: 100\r\n\r\n42[",
        ],
      ]) {
        const answer = await rawExchange(srv.port, text);
        assert.ok(
          answer.closed || /^HTTP\/1\.[01] 4\d\d/.test(answer.data),
          `${what}: neither refused nor closed, got ${JSON.stringify(answer.data.slice(0, 80))}`,
        );
        assert.doesNotMatch(answer.data, /^HTTP\/1\.[01] 101/, `${what}: accepted as a WebSocket`);
        await stillTalking(what);
      }
      assert.equal((await httpRequest(`${srv.url}/healthz`)).status, 200);
    });
  });
});
