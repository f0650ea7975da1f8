// Hostile clients at chatnode's transport layer, each attacking one bound: sessions per client
// address (at the limit and one over), the handshake token bucket, X-Forwarded-For honoured
// only from a trusted proxy, the node-wide memory budget against clients that never read,
// pongs nobody asked for, trickled request heads and bodies, an early 413 that Node's fetch
// must be able to read, the WebSocket Origin check, and '*' with credentials at startup.
// Clients come from many loopback addresses (127.0.0.0/8) through `localAddress`.
// Exercises chatnode/server.c, eio_session.c, sio.c, client_addr.c, addr_limit.c, origin.c,
// mem_budget.c and main.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import WebSocket from "ws";
import { startChatnode, stopAll, chatnodeBin, eventually, withTimeout, sleep, RawSocket, SEP, WAIT_MS } from "./lib/harness.mjs";

const PATH = "/socket.io/";
/** Sessions left open need not hold the stop for the default 10 s of draining. */
const QUICK_STOP = ["--drain-timeout", "500"];
const HS = `${PATH}?EIO=4&transport=polling`;

/** One HTTP request from `localAddress`; resolves {status, headers, body} (body as text). */
function request(srv, path, { method = "GET", localAddress = "127.0.0.1", headers = {}, body, timeoutMs = WAIT_MS } = {}) {
  return withTimeout(new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: srv.port, path, method, localAddress, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  }), timeoutMs, `${method} ${path} from ${localAddress}`);
}

/** A polling handshake from `localAddress`: {status, headers, body, sid (when opened)}. */
async function handshake(srv, localAddress, headers = {}) {
  const res = await request(srv, HS, { localAddress, headers });
  if (res.status === 200) res.sid = JSON.parse(res.body.slice(1)).sid;
  return res;
}

/**
 * A WebSocket handshake from `localAddress`: resolves {ws} once open (the Engine.IO open
 * packet read), or {status, headers, body} when refused.
 */
function wsHandshake(srv, { localAddress = "127.0.0.1", headers = {}, origin } = {}) {
  return withTimeout(new Promise((resolve, reject) => {
    const ws = new WebSocket(`${srv.wsUrl}${PATH}?EIO=4&transport=websocket`, { localAddress, headers, origin });
    ws.on("error", () => {}); /* a close after the test is done with it is no failure */
    ws.once("message", (data) => {
      const text = data.toString();
      if (text[0] === "0") resolve({ ws, sid: JSON.parse(text.slice(1)).sid });
      else reject(new Error(`expected an open packet, got ${text}`));
    });
    ws.once("unexpected-response", (req, res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => {
        req.destroy();
        resolve({ status: res.statusCode, headers: res.headers, body });
      });
    });
    ws.once("error", reject);
  }), WAIT_MS, `a WebSocket handshake from ${localAddress}`);
}

async function healthz(srv) {
  const res = await request(srv, "/healthz");
  return JSON.parse(res.body);
}

/** Does the node still know this session? (A WebSocket session answers a polling GET with
 * "Bad request", code 3; a gone one with "Session ID unknown", code 1.) */
async function sessionExists(srv, sid) {
  const res = await request(srv, `${HS}&sid=${encodeURIComponent(sid)}`, { timeoutMs: 3000 }).catch(() => null);
  if (!res) return true; /* a held GET: a live polling session */
  if (res.status === 200) return true;
  return JSON.parse(res.body).code !== 1;
}

function assertLimited(res, message) {
  assert.equal(res.status, 429, JSON.stringify(res.body));
  assert.equal(res.headers["content-type"], "application/json");
  const body = JSON.parse(res.body);
  assert.equal(body.code, 3);
  assert.match(body.message, message);
  assert.match(res.headers["retry-after"] ?? "", /^[1-9][0-9]*$/);
}

function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]);
}

describe("sessions per client address", { timeout: 120_000 }, () => {
  let srv;
  before(async () => {
    srv = await startChatnode(["--app", "echo", "--max-sessions-per-ip", "3", "--handshake-rate", "0",
      "--ping-interval", "20000", "--ping-timeout", "20000", ...QUICK_STOP]);
  });
  after(() => stopAll(srv));

  it("exactly at the limit every handshake opens; one over gets 429, on polling and WebSocket alike", async () => {
    const a = "127.0.0.2";
    const p1 = await handshake(srv, a);
    const p2 = await handshake(srv, a);
    const w1 = await wsHandshake(srv, { localAddress: a });
    assert.equal(p1.status, 200);
    assert.equal(p2.status, 200);
    assert.ok(w1.ws, "the third session (a WebSocket) opens");
    assertLimited(await handshake(srv, a), /too many sessions/i);
    const w2 = await wsHandshake(srv, { localAddress: a });
    assert.equal(w2.ws, undefined, "a fourth session over WebSocket is refused");
    assertLimited(w2, /too many sessions/i);
    // other addresses are served meanwhile
    const other = await handshake(srv, "127.0.0.3");
    assert.equal(other.status, 200);
    // an existing session goes on: a POST to it works
    assert.equal((await request(srv, `${HS}&sid=${p1.sid}`, { method: "POST", body: "40", localAddress: a })).body, "ok");
    // one closes: the address may open one again
    w1.ws.terminate();
    await eventually(async () => (await handshake(srv, a)).status === 200, WAIT_MS, "a handshake after a session closed");
    assertLimited(await handshake(srv, a), /too many sessions/i);
    assert.ok((await healthz(srv)).handshakes_refused >= 3);
  });
});

describe("handshake rate per client address", { timeout: 120_000 }, () => {
  let srv;
  before(async () => {
    srv = await startChatnode(["--app", "echo", "--max-sessions-per-ip", "0", "--handshake-rate", "2",
      "--handshake-burst", "5", "--ping-interval", "400", "--ping-timeout", "400"]);
  });
  after(() => stopAll(srv));

  it("the burst opens, the next handshake waits for the rate; other addresses go on", async () => {
    const a = "127.0.0.4";
    for (let i = 0; i < 5; i++) assert.equal((await handshake(srv, a)).status, 200, `handshake ${i + 1} of the burst`);
    const over = await handshake(srv, a);
    assertLimited(over, /too many new sessions/i);
    assert.equal(over.headers["retry-after"], "1");
    const ws = await wsHandshake(srv, { localAddress: a });
    assertLimited(ws, /too many new sessions/i);
    assert.equal((await handshake(srv, "127.0.0.5")).status, 200, "another address is not limited");

    // afterwards no more than the rate gets through (an upper bound: a slow run gets fewer)
    const t0 = Date.now();
    let opened = 0;
    while (Date.now() - t0 < 2500) {
      if ((await handshake(srv, a)).status === 200) opened++;
      await sleep(50);
    }
    const elapsed = Date.now() - t0;
    assert.ok(opened >= 1, "the bucket refills");
    assert.ok(opened <= Math.ceil((2 * elapsed) / 1000) + 1, `${opened} handshakes in ${elapsed} ms at 2/s`);
  });

  it("an address without sessions and with a full bucket is forgotten", async () => {
    // the sessions above end by ping timeout (never polled); the buckets refill in 2.5 s
    await eventually(async () => (await healthz(srv)).client_addresses === 0, 30_000, "the per-address state to be freed", 250);
  });
});

describe("X-Forwarded-For", { timeout: 120_000 }, () => {
  let srv;
  before(async () => {
    srv = await startChatnode(["--app", "echo", "--trusted-proxies", "127.0.0.6, 10.0.0.0/8", "--max-sessions-per-ip", "2",
      "--handshake-rate", "0", "--ping-interval", "20000", "--ping-timeout", "20000", "--log-level", "debug", ...QUICK_STOP]);
  });
  after(() => stopAll(srv));
  /** Waits for the node's "session opened" line with these fields (stderr comes a little
   * after the answers). */
  const logged = (fields) =>
    eventually(() => srv.stderr().includes(`msg="session opened" ${fields}`), WAIT_MS, `the log line ${fields}`);

  it("from a trusted proxy, the right-most address that is not a proxy is the client", async () => {
    const proxy = "127.0.0.6";
    const xff = (v) => ({ "X-Forwarded-For": v });
    assert.equal((await handshake(srv, proxy, xff("203.0.113.1"))).status, 200);
    // the client's own claim on the left does not count; 10.x is a trusted hop on the right
    assert.equal((await handshake(srv, proxy, xff("6.6.6.6, 203.0.113.1, 10.1.2.3"))).status, 200);
    assertLimited(await handshake(srv, proxy, xff("203.0.113.1")), /too many sessions/i);
    // other clients behind the same proxy are not limited by it
    const other = await handshake(srv, proxy, xff("203.0.113.2"));
    assert.equal(other.status, 200);
    const ws = await wsHandshake(srv, { localAddress: proxy, headers: xff("203.0.113.9") });
    assert.ok(ws.ws);
    ws.ws.terminate();
    // the node reports the client address it resolved
    await logged(`sid=${other.sid} transport=polling address=203.0.113.2`);
    await logged(`sid=${ws.sid} transport=websocket address=203.0.113.9`);
    // a malformed header counts against the proxy itself
    const bad = await handshake(srv, proxy, xff("203.0.113.1, not-an-address"));
    assert.equal(bad.status, 200);
    await logged(`sid=${bad.sid} transport=polling address=127.0.0.6`);
  });

  it("from any other peer, X-Forwarded-For is ignored", async () => {
    const peer = "127.0.0.7";
    const first = await handshake(srv, peer, { "X-Forwarded-For": "198.51.100.1" });
    assert.equal(first.status, 200);
    assert.equal((await handshake(srv, peer, { "X-Forwarded-For": "198.51.100.2" })).status, 200);
    assertLimited(await handshake(srv, peer, { "X-Forwarded-For": "198.51.100.3" }), /too many sessions/i);
    const w = await wsHandshake(srv, { localAddress: peer, headers: { "X-Forwarded-For": "198.51.100.4" } });
    assertLimited(w, /too many sessions/i);
    await logged(`sid=${first.sid} transport=polling address=127.0.0.7`);
  });
});

describe("node-wide memory budget", { timeout: 240_000 }, () => {
  const BUDGET = 16 << 20;
  let srv;
  before(async () => {
    srv = await startChatnode(["--app", "echo", "--max-memory-queued", String(BUDGET), "--max-queue", String(64 << 20),
      "--ping-interval", "60000", "--ping-timeout", "60000", ...QUICK_STOP],
      // keep freed memory out of the RSS figure in sanitizer builds (ignored otherwise)
      { ASAN_OPTIONS: [process.env.ASAN_OPTIONS, "quarantine_size_mb=4"].filter(Boolean).join(":") });
  });
  after(() => stopAll(srv));

  /** One Socket.IO echo request as an Engine.IO packet, about `size` bytes. */
  const message = (size, tag) => `42["message","${tag}${"x".repeat(size)}"]`;

  /** A polling client that sends echo requests and never GETs: every answer waits in its
   * queue. Connects to "/" first. */
  async function pollingHolder(localAddress) {
    const hs = await handshake(srv, localAddress);
    assert.equal(hs.status, 200);
    const url = `${HS}&sid=${hs.sid}`;
    assert.equal((await request(srv, url, { method: "POST", body: "40", localAddress })).body, "ok");
    return {
      sid: hs.sid,
      localAddress,
      /** POSTs `posts` bodies of `perPost` messages of `size` bytes; stops at the first refusal. */
      async push(posts, perPost, size) {
        const body = Array.from({ length: perPost }, (_, i) => message(size, `${i}:`)).join(SEP);
        for (let i = 0; i < posts; i++) {
          const res = await request(srv, url, { method: "POST", body, localAddress }).catch(() => ({ status: 0 }));
          if (res.status !== 200) return false;
        }
        return true;
      },
      get: () => request(srv, url, { localAddress }),
    };
  }

  /** A WebSocket client that reads its open and CONNECT packets, then stops reading and sends
   * echo requests until the node drops it or `total` bytes are sent. */
  async function wsFlooder(localAddress) {
    const ws = new WebSocket(`${srv.wsUrl}${PATH}?EIO=4&transport=websocket`, { localAddress });
    let sid;
    await withTimeout(new Promise((resolve, reject) => {
      ws.on("message", (d) => {
        const t = d.toString();
        if (t[0] === "0") {
          sid = JSON.parse(t.slice(1)).sid;
          ws.send("40");
        } else if (t.startsWith("40")) {
          resolve();
        }
      });
      ws.once("error", reject);
    }), WAIT_MS, "a WebSocket session");
    ws.removeAllListeners("message");
    ws._socket.pause(); // reads nothing from now on
    let closed = false;
    ws.on("error", () => (closed = true));
    ws.on("close", () => (closed = true));
    ws._socket.on("close", () => (closed = true));
    return {
      sid,
      ws,
      closed: () => closed,
      async flood(total, size) {
        const msg = message(size, "w");
        for (let sent = 0; sent < total && !closed; sent += msg.length) {
          ws.send(msg, (err) => err && (closed = true));
          if (ws._socket.writableLength > (1 << 20)) {
            await Promise.race([new Promise((r) => ws._socket.once("drain", r)), sleep(200)]);
          }
        }
      },
    };
  }

  it("the greediest sessions are dropped, the others keep their data, and RSS stays bounded", async (t) => {
    await sleep(500);
    const baseline = rssKiB(srv.pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssKiB(srv.pid));
      } catch {
        /* exited */
      }
    }, 50);
    try {
      // modest clients: about 300 kB of answers each, waiting in their queues
      const modest = [];
      for (let i = 0; i < 8; i++) modest.push(await pollingHolder(`127.0.0.${20 + i}`));
      for (const m of modest) assert.ok(await m.push(2, 2, 70_000));
      const held = (await healthz(srv)).memory_queued;
      assert.ok(held >= 8 * 250_000 && held < BUDGET, `the modest clients hold ${held} bytes`);

      // greedy ones: 4 polling clients that never GET, 4 WebSocket clients that never read,
      // each pushing some 40 MB of answers (2.5 times the budget alone)
      const greedyPolling = [];
      for (let i = 0; i < 4; i++) greedyPolling.push(await pollingHolder(`127.0.0.${40 + i}`));
      const greedyWs = [];
      for (let i = 0; i < 4; i++) greedyWs.push(await wsFlooder(`127.0.0.${50 + i}`));
      await Promise.all([
        ...greedyPolling.map((g) => g.push(45, 14, 64_000)),
        ...greedyWs.map((g) => g.flood(40e6, 64_000)),
      ]);

      const h = await healthz(srv);
      assert.ok(h.memory_queued_peak > mem_low(BUDGET), `the budget was reached (peak ${h.memory_queued_peak})`);
      assert.ok(h.memory_dropped >= 8, `${h.memory_dropped} holders dropped`);
      for (const g of [...greedyPolling, ...greedyWs]) {
        await eventually(async () => !(await sessionExists(srv, g.sid)), WAIT_MS, `greedy session ${g.sid} to be dropped`);
      }
      // the modest ones are all there, with every answer
      for (const m of modest) {
        const res = await m.get();
        assert.equal(res.status, 200);
        const packets = res.body.split(SEP).filter((p) => p.startsWith('42["message-back"'));
        assert.equal(packets.length, 4, `modest client ${m.localAddress} got its 4 answers`);
      }
      assert.ok((await healthz(srv)).memory_queued < 64 << 10, "what was read is no longer counted");
      const growthMiB = (peak - baseline) / 1024;
      t.diagnostic(`RSS ${(baseline / 1024).toFixed(1)} MiB before, peak ${(peak / 1024).toFixed(1)} MiB; ` +
        `budget ${BUDGET >> 20} MiB, peak counted ${(h.memory_queued_peak / 1048576).toFixed(1)} MiB, ${h.memory_dropped} dropped`);
      assert.ok(growthMiB < (3 * BUDGET) / (1 << 20) + 48,
        `RSS grew ${growthMiB.toFixed(1)} MiB over a baseline of ${(baseline / 1024).toFixed(1)} MiB with a ${BUDGET >> 20} MiB budget`);
      for (const m of modest) await request(srv, `${HS}&sid=${m.sid}`, { method: "POST", body: "1", localAddress: m.localAddress });
      for (const g of greedyWs) g.ws.terminate();
      await eventually(async () => (await healthz(srv)).memory_queued === 0, WAIT_MS, "the total back at 0");
    } finally {
      clearInterval(sampler);
    }
  });

  it("a reply the client does not read counts, and goes first when it is the greediest", async () => {
    const dropped = (await healthz(srv)).memory_dropped;
    const a = await pollingHolder("127.0.0.70");
    assert.ok(await a.push(12, 14, 64_000)); // some 10.8 MB of answers
    // a GET for them on a connection that never reads: lws holds what the kernel does not take
    const sock = net.connect({ port: srv.port, host: "127.0.0.1", localAddress: "127.0.0.70" });
    sock.on("error", () => {});
    sock.write(`GET ${HS}&sid=${a.sid} HTTP/1.1\r\nHost: x\r\n\r\n`);
    sock.pause();
    await eventually(async () => !(await sessionExists(srv, a.sid)) || (await healthz(srv)).memory_queued > 10e6, WAIT_MS,
      "the reply to be counted");
    assert.ok((await healthz(srv)).memory_queued > 10e6, "the unread reply is counted");
    // another client's answers take the total over the budget: the unread reply is the greediest
    const b = await pollingHolder("127.0.0.71");
    assert.ok(await b.push(8, 14, 64_000));
    await eventually(async () => (await healthz(srv)).memory_dropped > dropped, WAIT_MS, "a holder to be dropped");
    assert.ok(await sessionExists(srv, a.sid), "the reply's connection went, not a's session");
    const res = await b.get();
    assert.equal(res.body.split(SEP).filter((p) => p.startsWith('42["message-back"')).length, 8 * 14, "b keeps every answer");
    await eventually(async () => (await healthz(srv)).memory_queued === 0, WAIT_MS, "the total back at 0");
    sock.destroy();
    await request(srv, `${HS}&sid=${b.sid}`, { method: "POST", body: "1", localAddress: "127.0.0.71" });
  });

  const mem_low = (b) => b - b / 4;
});

describe("heartbeat", { timeout: 60_000 }, () => {
  let srv;
  before(async () => {
    srv = await startChatnode(["--app", "eio-echo", "--ping-interval", "1000", "--ping-timeout", "1000"]);
  });
  after(() => stopAll(srv));

  it("pongs that answer no ping do not keep a session alive", async () => {
    const sock = new RawSocket(`${srv.wsUrl}${PATH}?EIO=4&transport=websocket`, { autoPong: false });
    assert.equal((await sock.next())[0], "0");
    // pong every 150 ms, more often than the ping interval, until the first ping comes
    const timer = setInterval(() => sock.send("3"), 150);
    try {
      assert.equal(await sock.next(10_000), "2", "the node still pings");
    } finally {
      clearInterval(timer);
    }
    // that ping (or the next) goes unanswered: the session ends
    await sock.waitClose(15_000);
    sock.close();
  });
});

/** A raw TCP connection that writes `head` and then one byte of `drip` every `everyMs`;
 * resolves with the ms until the node closed it (or rejects after `limitMs`). */
function trickle(srv, head, drip, everyMs, limitMs) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(srv.port, "127.0.0.1");
    const t0 = Date.now();
    let i = 0, timer;
    sock.on("connect", () => {
      if (head) sock.write(head);
      timer = setInterval(() => {
        if (drip && i < drip.length) sock.write(drip[i++]);
      }, everyMs);
    });
    sock.on("data", () => {});
    sock.on("error", () => {});
    const limit = setTimeout(() => {
      clearInterval(timer);
      sock.destroy();
      reject(new Error(`still open after ${limitMs} ms (${i} bytes trickled)`));
    }, limitMs);
    sock.on("close", () => {
      clearInterval(timer);
      clearTimeout(limit);
      resolve(Date.now() - t0);
    });
  });
}

describe("deadlines", { timeout: 120_000 }, () => {
  let srv;
  before(async () => {
    srv = await startChatnode(["--app", "echo", "--header-timeout", "1000", "--body-timeout", "1000",
      "--ping-interval", "20000", "--ping-timeout", "20000", ...QUICK_STOP]);
  });
  after(() => stopAll(srv));

  it("a request head trickled one byte at a time is cut off at --header-timeout", async () => {
    // lws's own hold on a head is 10 s: 6 s is far above the 1 s asked and below that
    await trickle(srv, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", "a".repeat(1000), 100, 6000);
    await trickle(srv, `GET ${PATH}?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n`, "X".repeat(1000), 100, 6000);
    await trickle(srv, "", "", 100, 6000); // a connection that sends nothing
  });

  it("the next request of a keep-alive connection has the same deadline", async () => {
    await withTimeout(new Promise((resolve, reject) => {
      const sock = net.connect(srv.port, "127.0.0.1");
      let timer;
      sock.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      sock.once("data", (d) => {
        assert.match(d.toString(), /^HTTP\/1\.1 200/);
        sock.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        timer = setInterval(() => sock.write("a"), 100);
      });
      sock.on("error", () => {});
      sock.on("close", () => {
        clearInterval(timer);
        resolve();
      });
      setTimeout(() => reject(new Error("still open")), 7000);
    }), 8000, "the keep-alive connection to be closed");
  });

  it("a polling POST body trickled one byte at a time is cut off at --body-timeout", async () => {
    const hs = await handshake(srv, "127.0.0.60");
    const head = `POST ${HS}&sid=${hs.sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n`;
    // every 100 ms a byte: lws's own timeout (reset by every byte) would never fire
    await trickle(srv, head, "4" + "0".repeat(999), 100, 6000);
    // faster pieces, still too slow for the whole body: 50 bytes every 100 ms of 10 kB
    const hs2 = await handshake(srv, "127.0.0.61");
    const body = "4" + "x".repeat(9999);
    const pieces = body.match(/.{1,50}/gs);
    await trickle(srv, `POST ${HS}&sid=${hs2.sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n`, pieces, 100, 6000);
    assert.equal((await healthz(srv)).status, "ok", "the node serves the others meanwhile");
  });
});

describe("early answers the client can read", { timeout: 180_000 }, () => {
  let srv;
  before(async () => {
    srv = await startChatnode(["--app", "echo", "--max-payload", "1000", "--ping-interval", "20000", "--ping-timeout", "20000",
      ...QUICK_STOP]);
  });
  after(() => stopAll(srv));

  it("an oversized polling POST gets its 413 through Node's fetch, every time", async () => {
    const big = "4" + "x".repeat(3_000_000);
    for (let i = 0; i < 30; i++) {
      const hs = await handshake(srv, "127.0.0.1");
      assert.equal(hs.status, 200);
      const res = await fetch(`${srv.url}${HS}&sid=${hs.sid}`, { method: "POST", body: big });
      assert.equal(res.status, 413, `attempt ${i + 1}`);
      assert.equal(await res.text(), "Payload Too Large");
    }
  });

  it("a 400 before the body was read reaches fetch too", async () => {
    const big = "4" + "x".repeat(3_000_000);
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${srv.url}${HS}&sid=nosuchsession`, { method: "POST", body: big });
      assert.equal(res.status, 400, `attempt ${i + 1}`);
      assert.deepEqual(await res.json(), { code: 1, message: "Session ID unknown" });
    }
    assert.equal((await healthz(srv)).memory_queued, 0, "nothing of those bodies is kept");
  });
});

describe("WebSocket Origin", { timeout: 120_000 }, () => {
  let listed, same, any;
  before(async () => {
    [listed, same, any] = await Promise.all([
      startChatnode(["--app", "echo", "--cors-origin", "https://good.example, https://other.example"]),
      startChatnode(["--app", "echo"]),
      startChatnode(["--app", "echo", "--cors-origin", "*"]),
    ]);
  });
  after(() => stopAll(listed, same, any));

  const forbidden = (res) => {
    assert.equal(res.ws, undefined, "the upgrade is refused");
    assert.equal(res.status, 403);
    assert.deepEqual(JSON.parse(res.body), { code: 4, message: "Forbidden" });
  };

  it("--cors-origin lists the origins whose pages may open a WebSocket", async () => {
    forbidden(await wsHandshake(listed, { origin: "https://evil.example" }));
    forbidden(await wsHandshake(listed, { origin: "null" }));
    const ok = await wsHandshake(listed, { origin: "https://other.example" });
    assert.ok(ok.ws);
    ok.ws.terminate();
    const noOrigin = await wsHandshake(listed);
    assert.ok(noOrigin.ws, "a client without Origin (not a browser) is accepted");
    noOrigin.ws.terminate();
  });

  it("without --cors-origin only a page of the same host and port may", async () => {
    const own = await wsHandshake(same, { origin: `http://127.0.0.1:${same.port}` });
    assert.ok(own.ws);
    own.ws.terminate();
    forbidden(await wsHandshake(same, { origin: `http://127.0.0.1:${same.port + 1}` }));
    forbidden(await wsHandshake(same, { origin: "http://evil.example" }));
    const noOrigin = await wsHandshake(same);
    assert.ok(noOrigin.ws);
    noOrigin.ws.terminate();
  });

  it("'*' accepts any origin", async () => {
    const r = await wsHandshake(any, { origin: "https://whoever.example" });
    assert.ok(r.ws);
    r.ws.terminate();
  });

  it("'*' together with --cors-credentials is refused at startup", () => {
    const r = spawnSync(chatnodeBin(), ["--host", "127.0.0.1", "--port", "0", "--cors-origin", "*", "--cors-credentials"],
      { encoding: "utf8", timeout: 10_000 });
    assert.equal(r.status, 2, `exit status ${r.status} (signal ${r.signal})`);
    assert.match(r.stderr, /--cors-origin '\*' cannot be combined with --cors-credentials/);
    const t = spawnSync(chatnodeBin(), ["--host", "127.0.0.1", "--port", "0", "--trusted-proxies", "10.0.0.0/8, proxy.example"],
      { encoding: "utf8", timeout: 10_000 });
    assert.equal(t.status, 2, `exit status ${t.status} (signal ${t.signal})`);
    assert.match(t.stderr, /--trusted-proxies: not an address or CIDR: "proxy\.example"/);
  });
});
