// Engine.IO v4 conformance, byte by byte, over raw HTTP (fetch) and raw WebSockets (ws),
// against `chatnode --app eio-echo` (which echoes every message) with the reference timings.
// Pings the server sends on its own (every 300 ms) are answered or filtered where a test is
// not about them, so a slow machine changes timings but not outcomes.
// Exercises chatnode/server.c (HTTP, CORS, upgrade filter), eio_session.c and app_eio_echo.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import http from "node:http";
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
  sleep,
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
// eio-echo pinging only every 5 s: for tests that must order two requests with a short
// sleep, so that a ping sent meanwhile cannot answer the GET they watch
let calm;

const ALLOWED = "http://allowed.example";
const ALLOWED2 = "http://also-allowed.example";
const STRANGER = "http://stranger.example";

const q = (extra = "") => `${PATH}?EIO=4&transport=polling${extra}`;
const url = (s, extra) => `${s.url}${q(extra)}`;

/** Splits a polling payload into its packets. */
const packetsOf = (body) => body.split(SEP);

/** True once a GET for `sid` is refused with 400 (the session is gone). */
async function sessionGone(server, sid) {
  const res = await httpRequest(url(server, `&sid=${sid}`));
  return res.status === 400;
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

    it("polling: 400 for a missing or invalid EIO parameter", async () => {
      for (const qs of ["?transport=polling", "?EIO=abc&transport=polling", "?EIO=&transport=polling", "?EIO=3&transport=polling"]) {
        const res = await httpRequest(`${srv.url}${PATH}${qs}`);
        assert.equal(res.status, 400, `GET ${qs}`);
      }
    });

    it("polling: 400 for a missing or unknown transport", async () => {
      for (const qs of ["?EIO=4", "?EIO=4&transport=abc", "?EIO=4&transport="]) {
        const res = await httpRequest(`${srv.url}${PATH}${qs}`);
        assert.equal(res.status, 400, `GET ${qs}`);
      }
    });

    it("polling: 400 for POST without sid and for PUT", async () => {
      const post = await httpRequest(url(srv), { method: "POST", body: "4hello" });
      assert.equal(post.status, 400);
      const put = await httpRequest(url(srv), { method: "PUT", body: "4hello" });
      assert.equal(put.status, 400);
    });

    it("polling: 400 for GET and POST with an unknown sid", async () => {
      const get = await httpRequest(url(srv, "&sid=doesnotexist"));
      assert.equal(get.status, 400);
      const post = await httpRequest(url(srv, "&sid=doesnotexist"), { method: "POST", body: "4hello" });
      assert.equal(post.status, 400);
    });

    it("websocket: refused for a missing or invalid EIO or transport", async () => {
      for (const qs of ["?transport=websocket", "?EIO=abc&transport=websocket", "?EIO=4", "?EIO=4&transport=abc"]) {
        const sock = new RawSocket(`${srv.wsUrl}${PATH}${qs}`);
        await sock.waitClose();
        assert.equal(sock.queue.length, 0, `${qs}: no packet expected, got ${JSON.stringify(sock.queue.map(String))}`);
      }
    });

    it("websocket: refused for an unknown sid", async () => {
      const sock = new RawSocket(`${srv.wsUrl}${PATH}?EIO=4&transport=websocket&sid=doesnotexist`);
      await sock.waitClose();
      assert.equal(sock.queue.length, 0);
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

    it("websocket: a refused upgrade is answered 400 with the Engine.IO error body", async () => {
      const cases = [
        ["?transport=websocket", 5],
        ["?EIO=4", 0],
        ["?EIO=4&transport=websocket&sid=doesnotexist", 1],
      ];
      for (const [qs, code] of cases) {
        const answer = await new Promise((resolve, reject) => {
          const ws = new WebSocket(`${srv.wsUrl}${PATH}${qs}`);
          const timer = setTimeout(() => reject(new Error(`${qs}: no answer`)), WAIT_MS);
          ws.on("unexpected-response", (req, res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => {
              clearTimeout(timer);
              resolve({ status: res.statusCode, body });
            });
          });
          ws.on("open", () => reject(new Error(`${qs}: upgrade accepted`)));
          ws.on("error", () => {});
        });
        assert.equal(answer.status, 400, qs);
        assert.equal(JSON.parse(answer.body).code, code, `${qs}: ${answer.body}`);
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
      assert.equal((await c.get()).status, 400);
    });

    it("a second concurrent GET is refused and closes the session", async () => {
      const c = await PollingClient.open(calm.url, PATH);
      const first = c.get();
      await sleep(50);
      const second = c.get();
      // whichever the server saw second is refused; the one it holds gets the close packet
      const answers = (await Promise.all([first, second])).map((r) => `${r.status} ${r.body}`);
      assert.ok(answers.includes("200 1"), `answers: ${JSON.stringify(answers)}`);
      assert.ok(answers.some((a) => a.startsWith("400")), `answers: ${JSON.stringify(answers)}`);
      assert.equal((await c.get()).status, 400);
    });

    it("a cancelled GET closes the session", async () => {
      const c = await PollingClient.open(calm.url, PATH);
      const ac = new AbortController();
      const pending = c.get({ signal: ac.signal }).catch(() => {});
      await sleep(50);
      ac.abort();
      await pending;
      await sleep(50);
      await assertPollingClosed(c, { what: "the session after the cancelled GET" });
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
      // the small server pings every 5 s, so a GET on a live session would be held open
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
      await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
      await new Promise((resolve) => { const t = setInterval(() => { if (got.length) { clearInterval(t); resolve(); } }, 10); });
      ws._socket.pause();
      const n = 200, pad = "p".repeat(40_000); // 8 MB of echoes
      for (let i = 0; i < n; i++) ws.send(`4${i}:${pad}`);
      await new Promise((r) => setTimeout(r, 500));
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
        await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
        ws._socket.pause();
        const n = 200, pad = "q".repeat(40_000); // 8 MB of echoes: more than the kernel holds
        for (let i = 0; i < n; i++) ws.send(`4${pad}`);
        await new Promise((r) => setTimeout(r, 500));
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

    it("a frame over maxPayload closes the connection", async () => {
      const { sock } = await openWsSession(small.wsUrl, PATH);
      sock.send("4" + "z".repeat(SMALL_PAYLOAD * 3));
      await sock.waitClose();
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
      const pending = c.get();
      await sleep(100);
      const post = await c.post("1");
      assert.equal(post.status, 200);
      const get = await pending;
      assert.equal(get.status, 200);
      assert.deepEqual(withoutPings(packetsOf(get.body)), ["6"]);
      assert.equal((await c.get()).status, 400);
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
      const pending = c.get();
      await sleep(100);
      const sock = new RawSocket(`${calm.wsUrl}${PATH}?EIO=4&transport=websocket&sid=${c.sid}`);
      try {
        await sock.opened;
        sock.send("2probe");
        assert.equal(await sock.next(), "3probe");
        const get = await pending;
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
        assert.equal((await c.get()).status, 400);
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
        await second.waitClose();
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
