// adminnode settings and metrics as README.md words them: --connection-timeout (an idle
// keep-alive connection is closed after it, one in use is not), an IPv6 --host (::1), and the
// Redis state and reconnects in /metrics (the counter rises once Redis is back after a restart).
// Exercises adminnode/http.c (MHD's connection timeout), http_conn.c (the idle deadline),
// main.c (--host), api_system.c (/metrics) and proto/runtime/bus.c (reconnects).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startAdminnode, startRedis, stopAll, eventually, httpRequest, withTimeout, sleep, WAIT_MS } from "./lib/harness.mjs";

const KEY = "admin-settings-key-0123456789";

/**
 * One raw keep-alive HTTP/1.1 connection: request(path) writes a GET and resolves with the
 * answer ({status, headers, body}, read by its Content-Length); `closed` resolves when the
 * server ends the connection.
 */
function keepAlive(host, port) {
  const sock = net.connect({ host, port });
  let buf = "";
  let waiter = null;
  const closed = new Promise((resolve) => sock.once("close", () => resolve(Date.now())));
  sock.setEncoding("latin1");
  sock.on("error", () => {});
  const parse = () => {
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) return null;
    const head = buf.slice(0, end).split("\r\n");
    const headers = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(":");
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const len = Number(headers["content-length"] ?? 0);
    if (buf.length < end + 4 + len) return null;
    const res = { status: Number(head[0].split(" ")[1]), headers, body: buf.slice(end + 4, end + 4 + len) };
    buf = buf.slice(end + 4 + len);
    return res;
  };
  sock.on("data", (d) => {
    buf += d;
    const res = waiter && parse();
    if (res) {
      const w = waiter;
      waiter = null;
      w(res);
    }
  });
  const connected = new Promise((resolve, reject) => {
    sock.once("connect", resolve);
    sock.once("error", reject);
  });
  return {
    closed,
    get open() {
      return !sock.destroyed && sock.readyState === "open";
    },
    async request(path) {
      await connected;
      if (!this.open) throw new Error("the connection is closed");
      const answer = new Promise((resolve) => (waiter = resolve));
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
      return withTimeout(Promise.race([answer, closed.then(() => {
        throw new Error(`connection closed while waiting for the answer to ${path}`);
      })]), WAIT_MS, `the answer to ${path}`);
    },
    destroy: () => sock.destroy(),
  };
}

const metric = (text, name) => {
  const m = new RegExp(`^${name.replace(/[{}"=]/g, "\\$&")} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
};

describe("adminnode settings", { timeout: 120_000 }, () => {
  it("--connection-timeout: an idle keep-alive connection is closed after it; one in use stays", async () => {
    // a head deadline far away, so that only --connection-timeout can end an idle connection
    const admin = await startAdminnode(["--connection-timeout", "2", "--header-timeout", "30000"]);
    const conn = keepAlive("127.0.0.1", admin.port);
    try {
      // requests more often than the timeout, for longer than it: the connection stays
      const t0 = Date.now();
      let n = 0;
      while (Date.now() - t0 < 3000) {
        const res = await conn.request("/healthz");
        assert.equal(res.status, 200);
        assert.equal(JSON.parse(res.body).status, "ok");
        n++;
        await sleep(250);
      }
      assert.ok(n >= 5, `${n} requests`);
      // then idle: closed by the server
      const idleFrom = Date.now();
      const closedAt = await withTimeout(conn.closed, 15_000, "the idle connection to be closed");
      const idle = closedAt - idleFrom;
      assert.ok(idle < 15_000, `closed after ${idle} ms idle`);
      assert.equal(conn.open, false);
    } finally {
      conn.destroy();
      await admin.stop();
    }
  });

  it("listens on an IPv6 --host (::1)", async () => {
    const admin = await startAdminnode(["--host", "::1"], { ADMINNODE_API_KEYS: `${KEY}:admin` });
    try {
      assert.match(admin.stderr(), /msg=listening host=::1 port=\d+/);
      const base = `http://[::1]:${admin.port}`;
      const h = await httpRequest(`${base}/healthz`);
      assert.equal(h.status, 200);
      assert.equal(JSON.parse(h.body).status, "ok");
      const doc = await httpRequest(`${base}/api/v1/openapi.json`);
      assert.equal(doc.status, 200);
      assert.match(JSON.parse(doc.body).openapi, /^3\./);
      const nodes = await httpRequest(`${base}/api/v1/nodes`, { headers: { authorization: `Bearer ${KEY}` } });
      assert.equal(nodes.status, 503, "keys work; no Redis configured");
      assert.equal(JSON.parse(nodes.body).error.code, "unavailable");
    } finally {
      await admin.stop();
    }
  });

  it("/metrics shows the Redis state, and its reconnects rise after Redis restarts", async () => {
    const redis = await startRedis();
    let admin;
    try {
      admin = await startAdminnode(["--redis", redis.url]);
      const metrics = async () => (await httpRequest(`${admin.url}/metrics`)).body;
      await eventually(async () => metric(await metrics(), 'adminnode_redis_state{state="connected"}') === 1, WAIT_MS, "Redis connected");
      const before = await metrics();
      assert.match(before, /# TYPE adminnode_redis_reconnects_total counter/);
      assert.equal(metric(before, "adminnode_redis_reconnects_total"), 0);

      await redis.kill();
      await eventually(async () => {
        const m = await metrics();
        return metric(m, 'adminnode_redis_state{state="disconnected"}') === 1 && metric(m, 'adminnode_redis_state{state="connected"}') === 0;
      }, WAIT_MS, "the state to be disconnected");
      await redis.restart();
      const after = await eventually(async () => {
        const m = await metrics();
        return metric(m, 'adminnode_redis_state{state="connected"}') === 1 && metric(m, "adminnode_redis_reconnects_total") > 0 && m;
      }, 20_000, "Redis connected again, counted as a reconnect");
      assert.ok(metric(after, "adminnode_redis_reconnects_total") >= 1);
      assert.equal(JSON.parse((await httpRequest(`${admin.url}/healthz`)).body).redis, "connected");
    } finally {
      await stopAll(admin);
      await redis.stop();
    }
  });
});
