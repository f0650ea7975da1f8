// Regression: HTTP requests pipelined behind a long-poll GET on one connection. libwebsockets
// 4.1 can report the end of a body again and again in that case; the node must answer the GET,
// then answer the request behind it or drop that connection, and keep serving everyone else
// with its loop asleep in between (not spinning), and still stop cleanly. Then keep-alive
// connections between requests: an idle one is closed by the node (a FIN) no sooner than
// --keepalive-timeout after its request, one in use stays open past that, and a held GET is not
// idle: it outlives an idle connection closed meanwhile, and its answer still follows its
// request's headers. Nothing here measures how soon anything happens; the keep-alive clock is
// read from the node itself, through a connection it closes.
// Exercises chatnode/server.c (body completion handling, idle_q) and eio_session.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import net from "node:net";
import { performance } from "node:perf_hooks";
import { startChatnode, stopAll, httpRequest, withTimeout, eventually, pollState, WAIT_MS } from "./lib/harness.mjs";

const PATH = "/socket.io/";
const HEALTHZ = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

/** The kernel's view of the IPv4 TCP socket localPort -> remotePort: { tx, rx } unacknowledged / unread bytes, or null. */
function tcpQueues(localPort, remotePort) {
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    if (parseInt(f[1].split(":")[1], 16) !== localPort || parseInt(f[2].split(":")[1], 16) !== remotePort) continue;
    const [tx, rx] = f[4].split(":").map((h) => parseInt(h, 16));
    return { tx, rx };
  }
  return null;
}

/**
 * A raw keep-alive connection: send() a request, reply() waits for one whole response
 * ({ status, head, body }). `closed` resolves once the connection is gone; `fin` tells whether
 * the node closed it with a FIN (an orderly close: "end") rather than a reset, closedAt when
 * (performance.now()). `read()` resolves once the node has read everything sent so far.
 */
function keepAlive(port) {
  const sock = net.connect(port, "127.0.0.1");
  let buf = "", closedAt = 0, fin = false, reset = null, waiter = null, written = 0, sent = 0;
  sock.setEncoding("latin1");
  sock.on("data", (d) => {
    buf += d;
    waiter?.();
  });
  sock.on("end", () => (fin = true));
  sock.on("error", (err) => (reset = err.code));
  const closed = new Promise((r) => sock.on("close", () => {
    closedAt = performance.now();
    waiter?.();
    r();
  }));
  return {
    send(req) {
      sent++;
      sock.write(req, () => written++);
    },
    async reply(timeoutMs = WAIT_MS) {
      return withTimeout((async () => {
        for (;;) {
          const head = buf.indexOf("\r\n\r\n");
          const len = head < 0 ? -1 : Number(/content-length: *(\d+)/i.exec(buf.slice(0, head))?.[1] ?? 0);
          if (head >= 0 && buf.length >= head + 4 + len) {
            const r = { status: Number(buf.slice(9, 12)), head: buf.slice(0, head + 4), body: buf.slice(head + 4, head + 4 + len) };
            buf = buf.slice(head + 4 + len);
            return r;
          }
          if (closedAt) throw new Error(`closed before a whole reply (${fin ? "FIN" : reset ?? "closed"})`);
          await new Promise((r) => (waiter = r));
        }
      })(), timeoutMs, "a reply");
    },
    read: () => eventually(() => {
      if (written < sent || !sock.localPort) return false;
      const mine = tcpQueues(sock.localPort, port), theirs = tcpQueues(port, sock.localPort);
      return mine && theirs && mine.tx === 0 && theirs.rx === 0;
    }, WAIT_MS, "the node to read the request", 5),
    closed,
    closedAt: () => closedAt,
    isOpen: () => !closedAt,
    byServer: () => fin && !reset,
    pending: () => buf,
    destroy: () => sock.destroy(),
  };
}

async function openSession(node) {
  const open = await httpRequest(`${node.url}${PATH}?EIO=4&transport=polling`);
  assert.equal(open.status, 200, open.body);
  return JSON.parse(open.body.slice(1)).sid;
}

describe("pipelined requests behind a long-poll GET", { timeout: 60_000 }, () => {
  let srv;
  before(async () => {
    srv = await startChatnode(["--app", "echo", "--path", PATH, "--ping-interval", "500", "--ping-timeout", "2000"]);
  });
  after(() => stopAll(srv));

  for (const [what, second] of [
    ["a POST", (sid) => `POST ${PATH}?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n40`],
    ["a GET /healthz", () => HEALTHZ],
  ]) {
    it(`${what} pipelined behind a held GET does not stall the node`, async () => {
      const sid = await openSession(srv);
      const c = keepAlive(srv.port);
      c.send(`GET ${PATH}?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\n\r\n` + second(sid));
      try {
        const held = await c.reply(); // held until the ping
        assert.deepEqual([held.status, held.body], [200, "2"], "the held GET is answered with the ping");
        // then the request behind it is answered, or the node drops the connection (a FIN, or
        // a reset when it leaves bytes of the request unread)
        const next = await c.reply().catch((err) => err);
        if (next instanceof Error) {
          assert.ok(!c.isOpen(), `the request behind the held GET is answered, or the node drops the connection: ${next.message}`);
        } else {
          assert.equal(next.status, 200, next.head);
          if (second(sid) === HEALTHZ) assert.equal(JSON.parse(next.body).status, "ok", next.body);
        }
      } finally {
        c.destroy();
      }
      // everyone else is served, and between requests the node's loop sleeps instead of spinning
      for (let i = 0; i < 3; i++) {
        const res = await httpRequest(`${srv.url}/healthz`);
        assert.equal(res.status, 200, res.body);
        assert.equal(JSON.parse(res.body).status, "ok", res.body);
      }
      let seen;
      await eventually(() => (seen = pollState(srv.pid)).asleep, WAIT_MS, "the node's loop to be asleep")
        .catch((err) => {
          throw new Error(`${err.message}: ${seen?.detail}`);
        });
    });
  }
});

describe("keep-alive connections between requests", { timeout: 60_000 }, () => {
  const KEEPALIVE_MS = 1500;
  let node;
  before(async () => {
    // pings far apart: a held GET is answered when the test says so, not by the ping
    node = await startChatnode(["--app", "echo", "--path", PATH, "--keepalive-timeout", String(KEEPALIVE_MS),
      "--ping-interval", "60000", "--ping-timeout", "60000", "--cors-origin", "https://app.example"]);
  });
  after(() => stopAll(node));

  /** Ends session `sid` (a close packet), so that stopping the node has no session to drain. */
  const closeSession = async (sid) => {
    const res = await httpRequest(`${node.url}${PATH}?EIO=4&transport=polling&sid=${sid}`, { method: "POST", body: "1" });
    assert.deepEqual([res.status, res.body], [200, "ok"]);
  };

  /** Answers a held GET of session `sid`: a Socket.IO CONNECT posted on another connection, answered on the GET. */
  const answerHeldGet = async (sid) => {
    const res = await httpRequest(`${node.url}${PATH}?EIO=4&transport=polling&sid=${sid}`, { method: "POST", body: "40" });
    assert.deepEqual([res.status, res.body], [200, "ok"]);
  };

  it("an idle one is closed after --keepalive-timeout; one in use stays open", async () => {
    // the busy connection is older, and had its first request earlier, than the idle one
    const busy = keepAlive(node.port);
    busy.send(HEALTHZ);
    assert.equal((await busy.reply()).status, 200);
    const idle = keepAlive(node.port);
    const sentAt = performance.now();
    idle.send(HEALTHZ);
    assert.equal((await idle.reply()).status, 200);
    // busy sends request after request until the node closes the idle one
    let served = 0;
    const deadline = Date.now() + KEEPALIVE_MS + WAIT_MS;
    while (idle.isOpen()) {
      assert.ok(Date.now() < deadline, "the idle connection is closed");
      busy.send(HEALTHZ);
      const r = await busy.reply().catch((err) => assert.fail(`the connection in use, after ${served} requests: ${err.message}`));
      assert.equal(r.status, 200, r.head);
      served++;
    }
    assert.ok(idle.byServer(), "the node closed the idle connection with a FIN");
    assert.equal(idle.pending(), "", "nothing more came on the idle connection");
    // a lower bound only: the node's clock starts after the request was sent, and a slow
    // machine only closes it later (less 1 ms: libuv's loop time counts whole milliseconds)
    const idleMs = idle.closedAt() - sentAt;
    assert.ok(idleMs >= KEEPALIVE_MS - 1, `the idle connection was closed ${idleMs.toFixed(1)} ms after its request`);
    // the one in use outlived it, and still answers
    busy.send(HEALTHZ);
    const last = await busy.reply();
    assert.equal(last.status, 200, last.head);
    assert.ok(busy.isOpen(), "the connection in use is still open");
    busy.destroy();
  });

  it("a held long-poll GET is not idle: it outlives the keep-alive timeout", async () => {
    const sid = await openSession(node);
    const c = keepAlive(node.port);
    c.send(`GET ${PATH}?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await c.read();
    // a witness, idle from after the node read the GET until the node closes it: the held GET
    // has been held at least that long, by the node's own keep-alive clock
    const witness = keepAlive(node.port);
    witness.send(HEALTHZ);
    assert.equal((await witness.reply()).status, 200);
    await withTimeout(witness.closed, KEEPALIVE_MS + WAIT_MS, "the idle witness to be closed");
    assert.ok(witness.byServer(), "the node closed the idle witness with a FIN");
    assert.ok(c.isOpen(), "the connection with the held GET is still open");
    assert.equal(c.pending(), "", "and its GET is not answered yet");
    await answerHeldGet(sid);
    const r = await c.reply();
    assert.equal(r.status, 200, r.head);
    // with recovery on (the default) the answer carries the session's pid too
    assert.match(r.body, /^40\{"sid":"[^"]+","pid":"[^"]+"\}/, "the held GET carries the CONNECT's answer");
    // the connection goes on: a POST on it is answered
    c.send(`POST ${PATH}?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n3`);
    const post = await c.reply();
    assert.deepEqual([post.status, post.body], [200, "ok"]);
    c.destroy();
    await closeSession(sid);
  });

  it("a held GET's answer still follows its request headers: Origin and Connection: close", async () => {
    const sid = await openSession(node);
    const c = keepAlive(node.port);
    c.send(`GET ${PATH}?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\n` +
      "Origin: https://app.example\r\nConnection: close\r\n\r\n");
    await c.read();
    assert.equal(c.pending(), "", "the GET is held");
    await answerHeldGet(sid);
    const r = await c.reply();
    assert.equal(r.status, 200, r.head);
    assert.match(r.head, /\r\naccess-control-allow-origin: https:\/\/app\.example\r\n/i);
    assert.match(r.head, /\r\nconnection: close\r\n/i);
    await withTimeout(c.closed, WAIT_MS, "the connection to close after the answer");
    assert.ok(c.byServer(), "the node closed it (a FIN)");
    await closeSession(sid);
  });
});
