// Engine.IO v4 conformance, byte by byte, over raw HTTP (fetch) and raw WebSockets (ws),
// against `chatnode --app eio-echo` (which echoes every message) with the reference timings.
// Pings the server sends on its own (every 300 ms) are answered or filtered where a test is
// not about them, so a slow machine changes timings but not outcomes. A refusal is checked by
// its status and its Engine.IO {code, message} body; two requests that must reach the server
// in order are ordered by waiting until it has read the first (rawHttp's `delivered`).
// Exercises chatnode/server.c (HTTP, CORS, upgrade filter), eio_session.c and app_eio_echo.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import http from "node:http";
import net from "node:net";
import {
  startMany,
  startChatnode,
  withTimeout,
  stopAll,
  REFERENCE_FLAGS,
  RawSocket,
  PollingClient,
  openWsSession,
  httpRequest,
  withoutPings,
  eventually,
  assertPollingClosed,
  rawHttp,
  pollState,
  tcpSocket,
  SEP,
  WAIT_MS,
} from "./lib/harness.mjs";

const PATH = "/engine.io/";
const TAG = "t40x";
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const SMALL_PAYLOAD = 100;
const SMALL_QUEUE = 1024;

let srv; // eio-echo, reference timings
let small; // eio-echo with --max-payload 100
let corsSrv; // eio-echo with a list of allowed origins and credentials
// eio-echo pinging only every 5 s: for tests that hold a GET while they do something else,
// so that a ping sent meanwhile cannot answer the GET they watch
let calm;

const ALLOWED = "http://allowed.example";
const ALLOWED2 = "http://also-allowed.example";
const STRANGER = "http://stranger.example";

const q = (extra = "") => `${PATH}?EIO=4&transport=polling${extra}`;
const url = (s, extra) => `${s.url}${q(extra)}`;

/**
 * Waits until the node is seen asleep in epoll_wait with a timeout of 100 ms or more (its next
 * ping) or none: an idle loop. A loop that spins is never seen so, however loaded the machine.
 */
async function assertAsleep(server, what) {
  let last;
  await eventually(() => {
    last = pollState(server.pid);
    return last.asleep && (last.timeoutMs < 0 || last.timeoutMs >= 100);
  }, WAIT_MS, `${what}: the node asleep`).catch((err) => {
    throw new Error(`${err.message}; last seen: ${last?.detail}, timeout ${last?.timeoutMs}`);
  });
}

/** Splits a polling payload into its packets. */
const packetsOf = (body) => body.split(SEP);

/** The Engine.IO error bodies, by code. */
const EIO_ERROR = {
  0: '{"code":0,"message":"Transport unknown"}',
  1: '{"code":1,"message":"Session ID unknown"}',
  2: '{"code":2,"message":"Bad handshake method"}',
  3: '{"code":3,"message":"Bad request"}',
  5: '{"code":5,"message":"Unsupported protocol version"}',
};

/** Asserts that res is a 400 with the Engine.IO error body of `code`. */
function assertEioError(res, code, what = "") {
  assert.equal(res.status, 400, `${what}: ${res.body}`);
  assert.equal(res.body, EIO_ERROR[code], what);
}

/** The server's /healthz document. */
const health = async (server) => JSON.parse((await httpRequest(`${server.url}/healthz`)).body);

/** True once a GET for `sid` is refused as an unknown session (the session is gone). */
async function sessionGone(server, sid) {
  const res = await httpRequest(url(server, `&sid=${sid}`));
  return res.status === 400 && res.body === EIO_ERROR[1];
}

/** A polling GET for c's session on its own connection; resolves once the server holds it. */
async function heldGet(server, c) {
  const get = rawHttp(server.port, `GET ${q(`&sid=${encodeURIComponent(c.sid)}`)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  await get.delivered;
  return get;
}

/**
 * Asks for a WebSocket at `qs` and resolves with the HTTP answer that refused it, {status,
 * body}; rejects if the upgrade is accepted or the server cannot be reached.
 */
function refusedUpgrade(server, qs) {
  return withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket(`${server.wsUrl}${PATH}${qs}`);
    ws.on("unexpected-response", (req, res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    ws.on("open", () => {
      ws.terminate();
      reject(new Error(`${qs}: upgrade accepted`));
    });
    ws.on("error", (err) => reject(new Error(`${qs}: ${err.message}`)));
  }), WAIT_MS, `an answer to the upgrade ${qs}`);
}

describe("Engine.IO v4 conformance (eio-echo)", { timeout: 120_000 }, () => {
  before(async () => {
    [srv, small, corsSrv, calm] = await startMany([
      [["--app", "eio-echo", "--path", PATH, "--node-tag", TAG, ...REFERENCE_FLAGS]],
      [[
        "--app", "eio-echo", "--path", PATH,
        "--ping-interval", "5000", "--ping-timeout", "5000", "--max-payload", String(SMALL_PAYLOAD),
        "--max-queue", String(SMALL_QUEUE),
      ]],
      [[
        "--app", "eio-echo", "--path", PATH, "--ping-interval", "5000", "--ping-timeout", "5000",
        "--cors-origin", `${ALLOWED},${ALLOWED2}`, "--cors-credentials",
      ]],
      [["--app", "eio-echo", "--path", PATH, "--ping-interval", "5000", "--ping-timeout", "5000"]],
    ]);
  });
  after(() => stopAll(srv, small, corsSrv, calm));

  describe("handshake", () => {
    it("polling: opens a session with sid, upgrades, timings and maxPayload", async () => {
      const res = await httpRequest(url(srv));
      assert.equal(res.status, 200);
      assert.equal(res.body[0], "0", `open packet expected, got ${JSON.stringify(res.body)}`);
      const hs = JSON.parse(res.body.slice(1));
      assert.deepEqual(Object.keys(hs).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
      assert.equal(typeof hs.sid, "string");
      assert.deepEqual(hs.upgrades, ["websocket"]);
      assert.equal(hs.pingInterval, PING_INTERVAL);
      assert.equal(hs.pingTimeout, PING_TIMEOUT);
      assert.equal(hs.maxPayload, 1000000);
    });

    it("websocket: opens a session with no further upgrades", async () => {
      const { sock, handshake: hs } = await openWsSession(srv.wsUrl, PATH);
      try {
        assert.deepEqual(Object.keys(hs).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
        assert.equal(typeof hs.sid, "string");
        assert.deepEqual(hs.upgrades, []);
        assert.equal(hs.pingInterval, PING_INTERVAL);
        assert.equal(hs.pingTimeout, PING_TIMEOUT);
        assert.equal(hs.maxPayload, 1000000);
      } finally {
        sock.close();
      }
    });

    it("session ids start with the node tag and are distinct", async () => {
      const a = await PollingClient.open(srv.url, PATH);
      const b = await PollingClient.open(srv.url, PATH);
      const { sock, handshake } = await openWsSession(srv.wsUrl, PATH);
      sock.close();
      for (const sid of [a.sid, b.sid, handshake.sid]) {
        assert.ok(sid.startsWith(TAG), `sid ${sid} does not start with node tag ${TAG}`);
        assert.ok(sid.length > TAG.length, `sid ${sid} has nothing after the tag`);
      }
      assert.equal(new Set([a.sid, b.sid, handshake.sid]).size, 3);
    });

    it("the advertised maxPayload follows --max-payload", async () => {
      const c = await PollingClient.open(small.url, PATH);
      assert.equal(c.handshake.maxPayload, SMALL_PAYLOAD);
    });

    it("polling: 400 'Unsupported protocol version' for a missing or invalid EIO parameter", async () => {
      for (const qs of ["?transport=polling", "?EIO=abc&transport=polling", "?EIO=&transport=polling", "?EIO=3&transport=polling"]) {
        assertEioError(await httpRequest(`${srv.url}${PATH}${qs}`), 5, `GET ${qs}`);
      }
    });

    it("polling: 400 'Transport unknown' for a missing or unknown transport", async () => {
      for (const qs of ["?EIO=4", "?EIO=4&transport=abc", "?EIO=4&transport="]) {
        assertEioError(await httpRequest(`${srv.url}${PATH}${qs}`), 0, `GET ${qs}`);
      }
    });

    it("polling: 400 'Bad handshake method' for POST without sid and for PUT", async () => {
      assertEioError(await httpRequest(url(srv), { method: "POST", body: "4hello" }), 2, "POST");
      assertEioError(await httpRequest(url(srv), { method: "PUT", body: "4hello" }), 2, "PUT");
    });

    it("polling: 400 'Session ID unknown' for GET and POST with an unknown sid", async () => {
      assertEioError(await httpRequest(url(srv, "&sid=doesnotexist")), 1, "GET");
      assertEioError(await httpRequest(url(srv, "&sid=doesnotexist"), { method: "POST", body: "4hello" }), 1, "POST");
    });

    it("websocket: refused with 400 and the Engine.IO error for a missing or invalid EIO or transport", async () => {
      for (const [qs, code] of [["?transport=websocket", 5], ["?EIO=abc&transport=websocket", 5], ["?EIO=4", 0], ["?EIO=4&transport=abc", 0]]) {
        assertEioError(await refusedUpgrade(srv, qs), code, qs);
      }
    });

    it("websocket: refused with 400 'Session ID unknown' for an unknown sid", async () => {
      assertEioError(await refusedUpgrade(srv, "?EIO=4&transport=websocket&sid=doesnotexist"), 1);
    });

    it("a request asking for Connection: close gets it in the answer", async () => {
      for (const qs of ["?EIO=4&transport=polling", "?transport=polling"]) {
        const res = await new Promise((resolve, reject) => {
          const req = http.get(`${srv.url}${PATH}${qs}`, { headers: { Connection: "close" } }, (r) => {
            r.resume();
            r.on("end", () => resolve(r));
          });
          req.on("error", reject);
          req.setTimeout(WAIT_MS, () => req.destroy(new Error("no answer")));
        });
        assert.equal(res.headers.connection, "close", qs);
      }
    });
  });

  describe("polling messages", () => {
    it("sends and receives one text packet", async () => {
      const c = await PollingClient.open(srv.url, PATH);
      const post = await c.post("4hello");
      assert.equal(post.status, 200);
      assert.equal(post.body, "ok");
      const get = await c.get();
      assert.equal(get.status, 200);
      assert.deepEqual(withoutPings(packetsOf(get.body)), ["4hello"]);
    });

    it("sends and receives several text packets in one payload, in order", async () => {
      const c = await PollingClient.open(srv.url, PATH);
      const post = await c.post(`4one${SEP}4two${SEP}4three`);
      assert.equal(post.status, 200);
      assert.equal(post.body, "ok");
      assert.deepEqual(await c.take(3), ["4one", "4two", "4three"]);
    });

    it("sends and receives text and base64 binary packets in one payload", async () => {
      const c = await PollingClient.open(srv.url, PATH);
      const post = await c.post(`4hello${SEP}bAQIDBA==`);
      assert.equal(post.status, 200);
      assert.equal(post.body, "ok");
      assert.deepEqual(await c.take(2), ["4hello", "bAQIDBA=="]);
    });

    it("keeps the order of many packets, however the server batches them", async () => {
      const c = await PollingClient.open(srv.url, PATH);
      const sent = Array.from({ length: 60 }, (_, i) => `4msg-${i}`);
      for (let i = 0; i < sent.length; i += 20) {
        const post = await c.post(sent.slice(i, i + 20).join(SEP));
        assert.equal(post.status, 200);
      }
      assert.deepEqual(await c.take(sent.length), sent);
    });

    it("carries multi-byte UTF-8 text unchanged", async () => {
      const c = await PollingClient.open(srv.url, PATH);
      const text = "4héllo wörld € 😀";
      const post = await c.post(`${text}${SEP}4ok`, { headers: { "content-type": "text/plain;charset=UTF-8" } });
      assert.equal(post.status, 200);
      assert.deepEqual(await c.take(2), [text, "4ok"]);
    });

    it("an invalid packet closes the session", async () => {
      const c = await PollingClient.open(srv.url, PATH);
      let status = "no answer";
      try {
        status = (await c.post("abc")).status;
      } catch {
        // dropping the connection without an answer is acceptable too
      }
      // the Node reference still answers "ok" to the POST that carried the bad packet
      assert.ok([200, 400, "no answer"].includes(status), `POST answered ${status}`);
      assertEioError(await c.get(), 1, "GET after the bad packet");
    });

    it("a second concurrent GET is refused and closes the session", async () => {
      const c = await PollingClient.open(calm.url, PATH);
      const first = await heldGet(calm, c);
      const second = await c.get();
      assertEioError(second, 3, "the second GET");
      // the one it holds gets the close packet
      const held = await first.response;
      assert.deepEqual([held.status, held.body], [200, "1"]);
      assertEioError(await c.get(), 1, "a GET after the close");
    });

    // Node's engine.io ends the session when a held GET's connection closes ("poll connection
    // closed prematurely"); so does chatnode, at once rather than at its next write there.
    it("a cancelled GET closes the session", async () => {
      const c = await PollingClient.open(calm.url, PATH);
      const held = await heldGet(calm, c);
      await held.close(); // the server has closed its end: it has seen the client go
      await assertPollingClosed(c, { what: "the session after the cancelled GET" });
      await assertAsleep(calm, "after a cancelled GET");
    });

    it("a request pipelined behind a held GET waits for its answer, the node asleep meanwhile", async () => {
      const c = await PollingClient.open(calm.url, PATH);
      const sock = net.connect(calm.port, "127.0.0.1");
      let got = "";
      sock.on("data", (d) => (got += d.toString("latin1")));
      sock.on("error", () => {});
      try {
        await new Promise((resolve, reject) => sock.once("connect", resolve).once("error", reject));
        sock.write(`GET ${q(`&sid=${encodeURIComponent(c.sid)}`)} HTTP/1.1\r\nHost: x\r\n\r\n`);
        // the GET is held (the server has read it); a second request comes after it
        const read = () => tcpSocket(sock.localPort, calm.port)?.tx === 0 && tcpSocket(calm.port, sock.localPort)?.rx === 0;
        await eventually(read, WAIT_MS, "the server to read the GET", 5);
        sock.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        await assertAsleep(calm, "with a request pipelined behind a held GET");
        assert.equal(got, "", "nothing is answered before the GET has something to send (a node that spun until its next ping answers the ping)");
        // a message answers the GET (the echo), then the request behind it is read and answered
        assert.equal((await c.post("4hello")).status, 200);
        // both answers whole: the second ends with its JSON body
        await eventually(() => (got.match(/HTTP\/1\.1 200/g) || []).length === 2 && /\r\n\r\n\{[^]*\}$/.test(got), WAIT_MS, "both answers");
        const [first, second] = got.split(/(?=HTTP\/1\.1 )/);
        assert.match(first, /\r\n\r\n4hello$/, "the GET is answered first, with the echo");
        assert.match(second, /"status":"ok"/, "then the pipelined /healthz");
      } finally {
        sock.destroy();
      }
      assert.equal((await c.post("1")).status, 200);
    });

    // The Node reference answers 413 but keeps the session; chatnode is specified to close it.
    it("a POST body over maxPayload is answered 413 and the session closed", async () => {
      const c = await PollingClient.open(small.url, PATH);
      const body = "4" + "x".repeat(SMALL_PAYLOAD * 3);
      let status;
      try {
        status = (await c.post(body)).status;
      } catch (err) {
        assert.fail(`POST over maxPayload got no HTTP answer: ${err.cause ?? err}`);
      }
      assert.equal(status, 413);
      // (the small server pings every 5 s: a session still open would answer a GET with its ping)
      await assertPollingClosed(c, { what: "the session after the 413" });
    });

    it("a client that does not read is dropped once its queue passes --max-queue", async () => {
      const reader = await PollingClient.open(small.url, PATH);
      const hog = await PollingClient.open(small.url, PATH);
      const chunk = "4" + "z".repeat(80);
      // Each message is echoed into the hog's queue; it never GETs, so the queue only grows.
      for (let sent = 0; sent <= SMALL_QUEUE; sent += chunk.length) {
        const post = await hog.post(chunk);
        if (post.status !== 200) break; // dropped already
      }
      await eventually(() => sessionGone(small, hog.sid), WAIT_MS, "the hog's session to be dropped");
      assert.equal((await reader.post("4still here")).status, 200);
      assert.deepEqual(await reader.take(1), ["4still here"]);
    });

    it("a POST body within maxPayload is accepted", async () => {
      const c = await PollingClient.open(small.url, PATH);
      const msg = "4" + "y".repeat(SMALL_PAYLOAD - 10);
      const post = await c.post(msg);
      assert.equal(post.status, 200);
      assert.deepEqual(await c.take(1), [msg]);
    });
  });

  describe("websocket messages", () => {
    it("echoes a text packet", async () => {
      const { sock } = await openWsSession(srv.wsUrl, PATH);
      try {
        sock.send("4hello");
        assert.equal(await sock.next(), "4hello");
        sock.send("4héllo €");
        assert.equal(await sock.next(), "4héllo €");
      } finally {
        sock.close();
      }
    });

    it("echoes many frames sent back to back in order, text and binary mixed", async () => {
      const { sock } = await openWsSession(srv.wsUrl, PATH);
      try {
        const n = 100;
        for (let i = 0; i < n; i++) sock.send(i % 2 ? `4frame-${i}` : Uint8Array.from([i, 255 - i]));
        const got = await sock.take(n);
        for (let i = 0; i < n; i++) {
          if (i % 2) assert.equal(got[i], `4frame-${i}`);
          else assert.deepEqual([...got[i]], [i, 255 - i]);
        }
      } finally {
        sock.close();
      }
    });

    it("a reader that stalls gets everything in order once it reads again", async () => {
      // Echoes pile up while the client reads nothing: past the kernel's buffers the server
      // keeps part of a frame and queues the rest, then drains them when the socket is writable.
      const ws = new WebSocket(`${calm.wsUrl}${PATH}?EIO=4&transport=websocket`);
      const got = [];
      ws.on("message", (d, binary) => { if (!binary) got.push(d.toString()); });
      await withTimeout(new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); }), WAIT_MS, "the WebSocket");
      await eventually(() => got.length, WAIT_MS, "the open packet");
      ws._socket.pause();
      const n = 200, pad = "p".repeat(40_000); // 8 MB of echoes
      for (let i = 0; i < n; i++) ws.send(`4${i}:${pad}`);
      // the stall is real once echoes wait in the server itself, past the kernel's buffers
      await eventually(async () => (await health(calm)).memory_queued >= 1 << 20, WAIT_MS, "a megabyte of echoes queued in the server");
      ws._socket.resume();
      try {
        await eventually(() => got.filter((m) => m[0] === "4").length >= n, WAIT_MS, "every echo");
        const echoes = got.filter((m) => m[0] === "4");
        assert.equal(echoes.length, n);
        for (let i = 0; i < n; i++) assert.equal(echoes[i], `4${i}:${pad}`, `echo ${i}`);
      } finally {
        ws.close();
      }
    });

    it("a stalled reader is dropped once what waits for it passes --max-queue", async () => {
      const tight = await startChatnode(["--app", "eio-echo", "--path", PATH, "--max-queue", "65536",
        "--ping-interval", "5000", "--ping-timeout", "5000"]);
      const ws = new WebSocket(`${tight.wsUrl}${PATH}?EIO=4&transport=websocket`);
      try {
        let echoes = 0;
        ws.on("message", (d, binary) => { if (!binary && d[0] === 0x34) echoes++; });
        const closed = new Promise((r) => ws.once("close", r));
        await withTimeout(new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); }), WAIT_MS, "the WebSocket");
        ws._socket.pause();
        const n = 200, pad = "q".repeat(40_000); // 8 MB of echoes: more than the kernel holds
        for (let i = 0; i < n; i++) ws.send(`4${pad}`);
        // dropped while we still read nothing: the server has no session left
        await eventually(async () => (await health(tight)).connections === 0, WAIT_MS, "the server to drop the session");
        ws._socket.resume();
        await withTimeout(closed, WAIT_MS, "the server to drop the stalled session");
        assert.ok(echoes < n, `dropped before every echo was sent (${echoes} of ${n} arrived)`);
      } finally {
        ws.terminate();
        await tight.stop();
      }
    });

    it("echoes a binary packet as a binary frame", async () => {
      const { sock } = await openWsSession(srv.wsUrl, PATH);
      try {
        sock.send(Uint8Array.from([1, 2, 3, 4]));
        const got = await sock.next();
        assert.ok(Buffer.isBuffer(got), `binary frame expected, got ${JSON.stringify(got)}`);
        assert.deepEqual([...got], [1, 2, 3, 4]);
      } finally {
        sock.close();
      }
    });

    it("an invalid packet closes the connection", async () => {
      const { sock } = await openWsSession(srv.wsUrl, PATH);
      sock.send("abc");
      await sock.waitClose();
    });

    it("a frame over maxPayload closes the connection with 1009 (message too big)", async () => {
      const { sock } = await openWsSession(small.wsUrl, PATH);
      sock.send("4" + "z".repeat(SMALL_PAYLOAD * 3));
      assert.equal((await sock.waitClose()).code, 1009);
      assert.deepEqual(sock.queue, [], "nothing echoed");
    });

    it("a frame of exactly maxPayload is echoed", async () => {
      const { sock } = await openWsSession(small.wsUrl, PATH);
      try {
        const msg = "4" + "z".repeat(SMALL_PAYLOAD - 1);
        sock.send(msg);
        assert.equal(await sock.next(), msg);
      } finally {
        sock.close();
      }
    });
  });

  describe("heartbeat", () => {
    it("polling: ping is answered by pong, three times over", async () => {
      const c = await PollingClient.open(srv.url, PATH, { autoPong: false });
      for (let i = 0; i < 3; i++) {
        const get = await c.get();
        assert.equal(get.status, 200);
        assert.equal(get.body, "2");
        const post = await c.post("3");
        assert.equal(post.status, 200);
        assert.equal(post.body, "ok");
      }
    });

    it("polling: the session is closed when pings are not answered", async () => {
      const c = await PollingClient.open(srv.url, PATH, { autoPong: false });
      const seen = [];
      await eventually(async () => {
        const res = await c.get();
        if (res.status === 200) seen.push(...packetsOf(res.body));
        else assertEioError(res, 1, "a GET once the session is gone");
        return res.status === 400;
      }, WAIT_MS, "the unanswered session to be closed");
      assert.ok(seen.every((p) => ["2", "1", "6"].includes(p)), `unexpected packets ${JSON.stringify(seen)}`);
    });

    it("websocket: ping is answered by pong, three times over", async () => {
      const { sock } = await openWsSession(srv.wsUrl, PATH, { autoPong: false });
      try {
        for (let i = 0; i < 3; i++) {
          assert.equal(await sock.next(), "2");
          sock.send("3");
        }
        assert.ok(sock.isOpen);
      } finally {
        sock.close();
      }
    });

    it("websocket: the connection is closed when pings are not answered", async () => {
      const t0 = Date.now();
      const { sock } = await openWsSession(srv.wsUrl, PATH, { autoPong: false });
      assert.equal(await sock.next(), "2");
      await sock.waitClose();
      // never before the ping had its chance (lower bound only: a slow server may be late)
      assert.ok(Date.now() - t0 >= PING_INTERVAL, `closed after ${Date.now() - t0} ms`);
    });
  });

  describe("close", () => {
    it("polling: a close packet ends the session; the pending GET gets a noop", async () => {
      const c = await PollingClient.open(calm.url, PATH);
      const pending = await heldGet(calm, c);
      const post = await c.post("1");
      assert.equal(post.status, 200);
      assert.equal(post.body, "ok");
      const get = await pending.response;
      assert.equal(get.status, 200);
      assert.deepEqual(withoutPings(packetsOf(get.body)), ["6"]);
      assertEioError(await c.get(), 1, "a GET after the close");
    });

    // The Node reference ignores "1" on a WebSocket (it waits for the client to close it, or
    // for the heartbeat to fail); chatnode is specified to close the session at once. Pings
    // are answered here so that only the close packet can end the connection.
    it("websocket: a close packet closes the connection", async () => {
      const { sock } = await openWsSession(srv.wsUrl, PATH);
      sock.send("1");
      await sock.waitClose();
    });
  });

  describe("upgrade", () => {
    /** Polling session upgraded to a WebSocket; resolves {c, sock} once "4hello" echoed on ws. */
    async function upgraded() {
      const c = await PollingClient.open(srv.url, PATH);
      const sock = new RawSocket(`${srv.wsUrl}${PATH}?EIO=4&transport=websocket&sid=${c.sid}`);
      await sock.opened;
      sock.send("2probe");
      assert.equal(await sock.next(), "3probe");
      sock.send("5");
      sock.send("4hello");
      assert.equal(await sock.next(), "4hello");
      return { c, sock };
    }

    it("probe, noop to the pending GET, upgrade, then messages flow over the WebSocket", async () => {
      const c = await PollingClient.open(srv.url, PATH);
      const sock = new RawSocket(`${srv.wsUrl}${PATH}?EIO=4&transport=websocket&sid=${c.sid}`);
      try {
        await sock.opened;
        sock.send("2probe");
        assert.equal(await sock.next(), "3probe");
        // (a ping sent before the probe may come first: nextPacket answers and skips it)
        assert.equal(await c.nextPacket(), "6");
        sock.send("5");
        sock.send("4hello");
        assert.equal(await sock.next(), "4hello");
        sock.send(Uint8Array.from([9, 8, 7]));
        assert.deepEqual([...(await sock.next())], [9, 8, 7]);
      } finally {
        sock.close();
      }
    });

    it("a GET that was pending during the probe is answered with a noop", async () => {
      const c = await PollingClient.open(calm.url, PATH);
      const pending = await heldGet(calm, c);
      const sock = new RawSocket(`${calm.wsUrl}${PATH}?EIO=4&transport=websocket&sid=${c.sid}`);
      try {
        await sock.opened;
        sock.send("2probe");
        assert.equal(await sock.next(), "3probe");
        const get = await pending.response;
        assert.equal(get.status, 200);
        assert.deepEqual(withoutPings(packetsOf(get.body)), ["6"]);
        sock.send("5");
        sock.send("4after");
        assert.equal(await sock.next(), "4after");
      } finally {
        sock.close();
      }
    });

    it("packets queued on polling before the upgrade arrive over the WebSocket", async () => {
      const c = await PollingClient.open(srv.url, PATH);
      // the echo of this packet waits in the session, as nobody GETs it
      assert.equal((await c.post(`4queued-1${SEP}4queued-2`)).status, 200);
      const sock = new RawSocket(`${srv.wsUrl}${PATH}?EIO=4&transport=websocket&sid=${c.sid}`);
      try {
        await sock.opened;
        sock.send("2probe");
        assert.equal(await sock.next(), "3probe");
        sock.send("5");
        sock.send("4after");
        assert.deepEqual(await sock.take(3), ["4queued-1", "4queued-2", "4after"]);
      } finally {
        sock.close();
      }
    });

    it("polling requests for an upgraded session are refused", async () => {
      const { c, sock } = await upgraded();
      try {
        assertEioError(await c.get(), 3, "a GET for the upgraded session");
        assertEioError(await c.post("4x"), 3, "a POST for the upgraded session");
        sock.send("4still-there");
        assert.equal(await sock.next(), "4still-there");
      } finally {
        sock.close();
      }
    });

    it("a second WebSocket for an upgraded session is closed", async () => {
      const { c, sock } = await upgraded();
      try {
        const second = new RawSocket(`${srv.wsUrl}${PATH}?EIO=4&transport=websocket&sid=${c.sid}`);
        await withTimeout(second.opened, WAIT_MS, "the second WebSocket to be accepted");
        await second.waitClose();
        assert.deepEqual(second.queue, [], "nothing sent on the second WebSocket");
        sock.send("4first-still-works");
        assert.equal(await sock.next(), "4first-still-works");
      } finally {
        sock.close();
      }
    });
  });

  describe("CORS", () => {
    it("an allowed origin is echoed back, with credentials", async () => {
      for (const origin of [ALLOWED, ALLOWED2]) {
        const res = await httpRequest(url(corsSrv), { headers: { origin } });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("access-control-allow-origin"), origin);
        assert.equal(res.headers.get("access-control-allow-credentials"), "true");
      }
    });

    it("another origin is not allowed", async () => {
      const res = await httpRequest(url(corsSrv), { headers: { origin: STRANGER } });
      const acao = res.headers.get("access-control-allow-origin");
      assert.notEqual(acao, STRANGER);
      assert.notEqual(acao, "*");
    });

    it("POST answers carry the CORS headers too", async () => {
      const c = await PollingClient.open(corsSrv.url, PATH);
      const res = await c.post("4hi", { headers: { origin: ALLOWED } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("access-control-allow-origin"), ALLOWED);
      assert.equal(res.headers.get("access-control-allow-credentials"), "true");
    });

    it("an OPTIONS preflight is answered 204 with the allow headers", async () => {
      const res = await httpRequest(url(corsSrv), {
        method: "OPTIONS",
        headers: {
          origin: ALLOWED,
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type",
        },
      });
      assert.equal(res.status, 204);
      assert.equal(res.headers.get("access-control-allow-origin"), ALLOWED);
      assert.equal(res.headers.get("access-control-allow-credentials"), "true");
      const methods = (res.headers.get("access-control-allow-methods") ?? "").toUpperCase();
      assert.match(methods, /\bGET\b/);
      assert.match(methods, /\bPOST\b/);
      assert.match((res.headers.get("access-control-allow-headers") ?? "").toLowerCase(), /content-type/);
    });

    it("with --cors-origin '*' any origin is allowed", async () => {
      const res = await httpRequest(url(srv), { headers: { origin: STRANGER } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
    });
  });
});
