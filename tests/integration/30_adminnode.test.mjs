// adminnode: the HTTP framework (libmicrohttpd on the libuv loop) through its real endpoints:
// /healthz, /metrics, the OpenAPI document checked against the routes, API keys (401/403),
// 404/405, JSON bodies (400, 413 with Content-Length and chunked), answers deferred on Redis
// (timeout, client gone, stop while suspended; Redis is made to hang with SIGSTOP for exactly
// as long as a test needs), the dashboard, many concurrent requests, no busy loop (the process
// is seen asleep in epoll_wait, not timed), command line and clean stops.
// Exercises adminnode/http.c, http_router.c, api_system.c (health, metrics, OpenAPI) and
// adminnode_config.c (the command line).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createClient } from "redis";
import notepack from "notepack.io";
import { startAdminnode, adminnodeBin, startRedis, stopAll, httpRequest, eventually, pollState, WAIT_MS } from "./lib/harness.mjs";

const READ_KEY = "read-key-0123456789abcdef";
const ADMIN_KEY = "admin-key-0123456789abcdef";
const KEYS_ENV = { ADMINNODE_API_KEYS: `${READ_KEY}:read,${ADMIN_KEY}:admin` };
const auth = (key) => ({ Authorization: `Bearer ${key}` });

/** A request with a body written as given (chunked when no length is set). Resolves
 *  { status, headers, body } or { error } when the server drops the connection. */
function rawRequest(port, { method = "POST", path: p = "/api/v1/emit", headers = {}, chunks = [], agent = false } = {}) {
  return new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, path: p, method, headers, agent, timeout: WAIT_MS }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (error) => resolve({ error }));
    (async () => {
      for (const c of chunks) {
        if (!req.write(c)) await new Promise((r) => req.once("drain", r));
      }
      req.end();
    })().catch(() => {});
  });
}

/** Sends a POST's headers only and reads the answer from the raw socket. */
function headersOnly(port, headers) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1", () => {
      const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join("\r\n");
      sock.write(`POST /api/v1/emit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${lines}\r\n\r\n`);
    });
    let data = "";
    sock.on("data", (d) => {
      data += d;
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = data.slice(0, end).split("\r\n");
      const hdrs = Object.fromEntries(head.slice(1).map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      const len = Number(hdrs["content-length"] ?? 0);
      if (data.length - end - 4 >= len) {
        sock.destroy();
        resolve({ status: Number(head[0].split(" ")[1]), headers: hdrs, body: data.slice(end + 4, end + 4 + len) });
      }
    });
    sock.on("error", reject);
    sock.setTimeout(WAIT_MS, () => sock.destroy(new Error("timeout")));
  });
}

function assertError(res, status, code) {
  assert.equal(res.status, status, `status of ${res.body}`);
  assert.match(res.headers.get ? res.headers.get("content-type") : res.headers["content-type"], /^application\/json/);
  const j = JSON.parse(res.body);
  assert.equal(typeof j.error, "object");
  assert.equal(j.error.code, code);
  assert.equal(typeof j.error.message, "string");
  return j.error;
}

/**
 * Waits until adminnode is seen asleep in epoll_wait with no timeout or one of 100 ms or more
 * (its next timer): an idle loop. A loop that spins, or wakes every few milliseconds, is never
 * seen so, however loaded the machine is.
 */
async function assertIdle(node, what = "idle") {
  let last;
  await eventually(() => {
    last = pollState(node.pid);
    return last.asleep && (last.timeoutMs < 0 || last.timeoutMs >= 100);
  }, WAIT_MS, `${what}: adminnode asleep in epoll_wait`).catch((err) => {
    throw new Error(`${err.message}; last seen: ${last?.detail}, timeout ${last?.timeoutMs}`);
  });
}

/** adminnode's /metrics text. */
const metrics = async (node) => (await httpRequest(`${node.url}/metrics`)).body;
/** The value of a gauge without labels in /metrics text. */
const gauge = (text, name) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1]);

describe("adminnode without Redis", { timeout: 120_000 }, () => {
  let node;
  before(async () => {
    node = await startAdminnode([], KEYS_ENV);
  });
  after(() => stopAll(node));

  it("answers /healthz without a key", async () => {
    const res = await httpRequest(`${node.url}/healthz`);
    assert.equal(res.status, 200);
    const j = JSON.parse(res.body);
    assert.equal(j.status, "ok");
    assert.equal(j.redis, "none");
    assert.equal(typeof j.uptime_s, "number");
  });

  it("refuses missing and unknown keys with 401, and a low scope with 403", async () => {
    const body = JSON.stringify({ event: "e", args: [] });
    let res = await httpRequest(`${node.url}/api/v1/emit`, { method: "POST", body });
    assertError(res, 401, "unauthorized");
    assert.equal(res.headers.get("www-authenticate"), "Bearer");
    res = await httpRequest(`${node.url}/api/v1/emit`, { method: "POST", body, headers: auth("nope-0123456789abcdefgh") });
    assertError(res, 401, "unauthorized");
    res = await httpRequest(`${node.url}/api/v1/emit`, { method: "POST", body, headers: { Authorization: `Basic ${ADMIN_KEY}` } });
    assertError(res, 401, "unauthorized");
    res = await httpRequest(`${node.url}/api/v1/emit`, { method: "POST", body, headers: auth(READ_KEY) });
    assertError(res, 403, "forbidden");
    assert.ok(!node.stderr().includes(READ_KEY) && !node.stderr().includes(ADMIN_KEY), "a key was logged");
  });

  it("answers 404 and 405 in JSON", async () => {
    assertError(await httpRequest(`${node.url}/api/v1/undocumented`), 404, "not_found");
    assertError(await httpRequest(`${node.url}/api/v1/emit/extra`, { method: "POST", body: "{}" }), 404, "not_found");
    const res = await httpRequest(`${node.url}/healthz`, { method: "DELETE" });
    assertError(res, 405, "method_not_allowed");
    assert.equal(res.headers.get("allow"), "GET");
    assertError(await httpRequest(`${node.url}/api/v1/emit`, { headers: auth(ADMIN_KEY) }), 405, "method_not_allowed");
  });

  it("answers 400 for bad JSON (with its position) and for wrong fields", async () => {
    const post = (body) => httpRequest(`${node.url}/api/v1/emit`, { method: "POST", body, headers: auth(ADMIN_KEY) });
    let e = assertError(await post('{"event": "e", "args": [1,]}'), 400, "bad_json");
    assert.match(e.message, /line 1 column \d+/);
    assertError(await post(""), 400, "bad_request");
    assertError(await post('{"event":"e","args":[]} trailing'), 400, "bad_json");
    assertError(await post('{"event":"e","event":"f","args":[]}'), 400, "bad_json");
    assertError(await post("\xff\xfe"), 400, "bad_json");
    // a raw NUL is not JSON, wherever it is (jansson alone would read '{...}\0' as the object)
    assertError(await post('{"event":"e","args":[]}\0'), 400, "bad_json");
    assertError(await post('{"event":"e",\0"args":[]}'), 400, "bad_json");
    assertError(await post("[" .repeat(100000)), 400, "bad_json");
    for (const bad of [[], { args: [] }, { event: "e" }, { event: 1, args: [] }, { event: "e", args: {} },
      { event: "e", args: [], namespace: "x" }, { event: "e", args: [], rooms: "r" }, { event: "e", args: [], except: [2] },
      { event: "e", args: [], volatile: "yes" }, { event: "e", args: [], other: 1 }]) {
      e = assertError(await post(JSON.stringify(bad)), 400, "bad_request");
    }
  });

  it("answers 503 for a valid emit while there is no Redis", async () => {
    const res = await httpRequest(`${node.url}/api/v1/emit`, {
      method: "POST", headers: auth(ADMIN_KEY),
      body: JSON.stringify({ namespace: "/", event: "news", args: [{ a: 1 }], rooms: ["r1"], except: ["r2"], volatile: true }),
    });
    assertError(res, 503, "unavailable");
  });

  it("answers 413 to a body over --max-body, announced or chunked", async () => {
    // Announced too big: answered from the headers alone (no body is sent, so no race with
    // the server closing while the client still uploads).
    let res = await headersOnly(node.port, { ...auth(ADMIN_KEY), "Content-Length": "1048577" });
    assertError(res, 413, "payload_too_large");
    // Chunked: a body over the limit that fits in the socket buffers, so it is all sent
    const small = await startAdminnode(["--max-body", "1000"], KEYS_ENV);
    try {
      res = await rawRequest(small.port, { headers: auth(ADMIN_KEY), chunks: Array.from({ length: 4 }, () => "y".repeat(600)) });
      assert.equal(res.error, undefined, String(res.error));
      assertError({ status: res.status, headers: res.headers, body: res.body }, 413, "payload_too_large");
    } finally {
      await small.stop();
    }
    // exactly the limit is accepted (and then refused for its content)
    res = await httpRequest(`${node.url}/api/v1/emit`, { method: "POST", body: " ".repeat(1048576 - 2) + "{}", headers: auth(ADMIN_KEY) });
    assertError(res, 400, "bad_request");
    // a chunked body within the limit is parsed
    res = await rawRequest(node.port, { headers: auth(ADMIN_KEY), chunks: ['{"event":', '"e","args":[]}'] });
    assertError({ status: res.status, headers: res.headers, body: res.body }, 503, "unavailable");
  });

  it("survives malformed requests", async () => {
    const net = await import("node:net");
    const garbage = ["GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
      "POST /api/v1/emit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "GET /" + "a".repeat(70000) + " HTTP/1.1\r\n\r\n", "GET /%00%ff/../.. HTTP/1.1\r\nHost: x\r\n\r\n",
      "GET /api/v1/%zz HTTP/1.1\r\nHost: x\r\n\r\n", "\x00\x01\x02\r\n\r\n"];
    for (const g of garbage) {
      await new Promise((resolve) => {
        const s = net.connect(node.port, "127.0.0.1", () => s.end(g));
        s.on("data", () => {});
        s.on("error", resolve);
        s.on("close", resolve);
        s.setTimeout(3000, () => s.destroy());
      });
    }
    assert.equal((await httpRequest(`${node.url}/healthz`)).status, 200);
  });

  it("serves an OpenAPI 3 document that matches the routes", async () => {
    const res = await httpRequest(`${node.url}/api/v1/openapi.json`);
    assert.equal(res.status, 200);
    const doc = JSON.parse(res.body);
    assert.match(doc.openapi, /^3\./);
    assert.equal(typeof doc.info.title, "string");
    assert.ok(doc.components.securitySchemes.bearerAuth);
    const ops = [];
    for (const [p, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        ops.push([method.toUpperCase(), p, op]);
        assert.ok(op.responses && Object.keys(op.responses).length, `${method} ${p} has responses`);
        assert.ok(["none", "read", "admin"].includes(op["x-required-scope"]));
        for (const m of p.matchAll(/\{(\w+)\}/g)) {
          assert.ok((op.parameters || []).some((x) => x.in === "path" && x.name === m[1]), `${p}: {${m[1]}} documented`);
        }
      }
    }
    for (const want of ["GET /healthz", "GET /metrics", "GET /api/v1/openapi.json", "POST /api/v1/emit"]) {
      assert.ok(ops.some(([m, p]) => `${m} ${p}` === want), `${want} is documented`);
    }
    for (const [method, p, op] of ops) {
      const url = node.url + p.replace(/\{\w+\}/g, "x");
      const body = op.requestBody ? "{}" : undefined;
      const r = await httpRequest(url, { method, body, headers: auth(ADMIN_KEY) });
      assert.ok(r.status !== 404 && r.status !== 405, `${method} ${p} answered ${r.status}`);
      assert.ok(Object.keys(op.responses).includes(String(r.status)) || r.status === 400, `${method} ${p}: ${r.status} is documented`);
    }
  });

  it("serves Prometheus metrics", async () => {
    await httpRequest(`${node.url}/healthz`);
    const res = await httpRequest(`${node.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
    const lines = res.body.trimEnd().split("\n");
    const typed = new Set();
    for (const line of lines) {
      if (line.startsWith("# HELP ")) continue;
      const t = /^# TYPE (\w+) (counter|gauge)$/.exec(line);
      if (t) {
        typed.add(t[1]);
        continue;
      }
      const m = /^(\w+)(\{(\w+="[^"]*")(,\w+="[^"]*")*\})? (\d+(\.\d+)?)$/.exec(line);
      assert.ok(m, `not a sample line: ${line}`);
      assert.ok(typed.has(m[1]), `${m[1]} has no # TYPE before it`);
    }
    assert.match(res.body, /adminnode_http_requests_total\{method="GET",route="\/healthz",status="200"\} [1-9]/);
    assert.match(res.body, /adminnode_http_requests_total\{method="POST",route="\/api\/v1\/emit",status="401"\} [1-9]/);
    assert.match(res.body, /adminnode_uptime_seconds \d+/);
    assert.match(res.body, /adminnode_redis_state\{state="none"\} 1/);
  });

  it("serves the dashboard at /", async () => {
    let res = await httpRequest(`${node.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/html/);
    assert.match(res.body, /chatcluster admin/);
    for (const [f, type] of [["app.js", /javascript/], ["style.css", /css/]]) {
      res = await httpRequest(`${node.url}/${f}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type"), type);
    }
    assert.match((await httpRequest(`${node.url}/app.js`)).body, /api\/v1\/nodes/);
    assertError(await httpRequest(`${node.url}/missing.html`), 404, "not_found");
    const passwd = await rawRequest(node.port, { method: "GET", path: "/../../etc/passwd" });
    assertError(passwd, 404, "not_found");
    assert.doesNotMatch(passwd.body, /root:/);
  });

  it("answers many concurrent requests, then idles without spinning", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const get = (p) => new Promise((resolve, reject) => {
      http.get({ host: "127.0.0.1", port: node.port, path: p, agent }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode, body }));
      }).on("error", reject);
    });
    const paths = ["/healthz", "/api/v1/openapi.json", "/metrics", "/"];
    const results = await Promise.all(Array.from({ length: 400 }, (_, i) => get(paths[i % paths.length])));
    assert.ok(results.every((r) => r.status === 200), `statuses: ${[...new Set(results.map((r) => r.status))]}`);
    const posts = await Promise.all(Array.from({ length: 100 }, () => rawRequest(node.port, { headers: auth(ADMIN_KEY), chunks: ['{"event":"e","args":[]}'] })));
    for (const r of posts) assertError(r, 503, "unavailable");
    // keep-alive connections stay open and idle here
    await assertIdle(node, "with idle keep-alive connections");
    agent.destroy();
  });

  it("stops cleanly", async () => {
    await node.stop();
  });
});

describe("adminnode with Redis", { timeout: 120_000 }, () => {
  // --requests-timeout: long enough for a test to see the node asleep while requests are
  // still deferred, since after the timeout has answered them the node is idle anyway
  const TIMEOUT_MS = 4000;
  let redis, node;
  before(async () => {
    redis = await startRedis();
    node = await startAdminnode(["--redis", redis.url, "--requests-timeout", String(TIMEOUT_MS)], KEYS_ENV);
  });
  after(async () => {
    await stopAll(node);
    await redis?.stop();
  });

  /** Waits until adminnode reports Redis connected in /healthz. */
  const connectedAgain = () => eventually(async () => JSON.parse((await httpRequest(`${node.url}/healthz`)).body).redis === "connected",
    WAIT_MS, "redis connected in /healthz");

  it("reports Redis connected, with a PING's round trip", async () => {
    const j = await eventually(async () => {
      const b = JSON.parse((await httpRequest(`${node.url}/healthz`)).body);
      return b.redis === "connected" && b;
    }, WAIT_MS, "redis connected in /healthz");
    assert.equal(typeof j.redis_latency_ms, "number");
    assert.match(await metrics(node), /adminnode_redis_state\{state="connected"\} 1/);
  });

  it("emit publishes in the emitter's format", async () => {
    const sub = createClient({ url: redis.url });
    await sub.connect();
    try {
      const got = [];
      await sub.subscribe("socket.io#/#room1#", (m) => got.push(m), true);
      const res = await httpRequest(`${node.url}/api/v1/emit`, {
        method: "POST",
        body: JSON.stringify({ event: "e", args: [1, { a: "b" }], rooms: ["room1"], except: ["x"], volatile: true }),
        headers: auth(ADMIN_KEY),
      });
      assert.equal(res.status, 202);
      assert.deepEqual(JSON.parse(res.body), { ok: true });
      await eventually(() => got.length === 1, WAIT_MS);
      assert.deepEqual(notepack.decode(got[0]), ["emitter", { type: 2, data: ["e", 1, { a: "b" }], nsp: "/" },
        { rooms: ["room1"], except: ["x"], flags: { volatile: true } }]);
    } finally {
      await sub.quit();
    }
  });

  it("answers a deferred request at --requests-timeout when Redis hangs, without spinning", async () => {
    await connectedAgain(); // a request made while Redis is not yet connected is not deferred
    redis.pause();
    try {
      let answered = false;
      const pending = httpRequest(`${node.url}/healthz`).finally(() => (answered = true));
      await eventually(async () => gauge(await metrics(node), "adminnode_http_requests_deferred") === 1, WAIT_MS, "the request to be deferred");
      await assertIdle(node, "with a deferred request");
      assert.equal(answered, false, "adminnode was seen asleep only after the timeout had answered the request");
      const res = await pending; // while Redis still hangs: only the timeout can have answered it
      assert.equal(res.status, 200);
      const j = JSON.parse(res.body);
      assert.equal(j.status, "ok");
      assert.equal(j.redis, "disconnected");
      assert.equal(j.redis_error, "PING timed out");
      assert.equal(gauge(await metrics(node), "adminnode_http_requests_deferred"), 0);
    } finally {
      redis.resume();
    }
    await connectedAgain();
  });

  it("survives clients that leave while their request is suspended", async () => {
    await connectedAgain(); // a request made while Redis is not yet connected is not deferred
    redis.pause();
    try {
      const clients = Array.from({ length: 20 }, () => {
        const ac = new AbortController();
        return { ac, result: httpRequest(`${node.url}/healthz`, { signal: ac.signal }).then((r) => r, (err) => err) };
      });
      await eventually(async () => gauge(await metrics(node), "adminnode_http_requests_deferred") === 20, WAIT_MS, "20 deferred requests");
      for (const c of clients) c.ac.abort(new Error("client left"));
      for (const c of clients) assert.equal((await c.result).message, "client left");
      await assertIdle(node, "with suspended requests whose clients left");
      assert.equal(gauge(await metrics(node), "adminnode_http_requests_deferred"), 20,
        "adminnode was seen asleep only after the timeout had answered the requests");
    } finally {
      redis.resume();
    }
    await connectedAgain();
    // every request of a client that left is gone: the only one in flight is this one
    await eventually(async () => {
      const m = await metrics(node);
      return gauge(m, "adminnode_http_requests_in_flight") === 1 && gauge(m, "adminnode_http_requests_deferred") === 0;
    }, WAIT_MS, "no request left in flight but /metrics itself");
  });

  it("answers 503 while Redis is down, and reports it", async () => {
    await redis.kill();
    await eventually(async () => JSON.parse((await httpRequest(`${node.url}/healthz`)).body).redis === "disconnected", WAIT_MS, "redis disconnected");
    const res = await httpRequest(`${node.url}/api/v1/emit`, { method: "POST", body: '{"event":"e","args":[]}', headers: auth(ADMIN_KEY) });
    assertError(res, 503, "unavailable");
    assert.match(await metrics(node), /adminnode_redis_state\{state="disconnected"\} 1/);
    await redis.restart();
    await connectedAgain();
  });

  it("stops cleanly while requests are suspended, ending them", async () => {
    // a timeout no test waits for: only the stop can end these requests
    const patient = await startAdminnode(["--redis", redis.url, "--requests-timeout", "600000"], KEYS_ENV);
    try {
      await eventually(async () => JSON.parse((await httpRequest(`${patient.url}/healthz`)).body).redis === "connected", WAIT_MS, "redis connected");
      redis.pause();
      const pending = Array.from({ length: 5 }, () => httpRequest(`${patient.url}/healthz`).then((r) => r, (err) => err));
      await eventually(async () => gauge(await metrics(patient), "adminnode_http_requests_deferred") === 5, WAIT_MS, "5 deferred requests");
      await patient.stop(); // exit status 0, no sanitizer report
      for (const r of await Promise.all(pending)) {
        // ended by the stop: the connection closed, or a 503 saying so; never left to our timeout
        if (r instanceof Error) assert.doesNotMatch(r.message, /timed out/);
        else assertError(r, 503, "shutting_down");
      }
    } finally {
      redis.resume();
      await patient.stop().catch(() => {});
    }
  });
});

describe("adminnode command line", { timeout: 60_000 }, () => {
  const bin = adminnodeBin();
  let tmp;
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "adminnode-"));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("prints --help from the table and --version", () => {
    const h = spawnSync(bin, ["--help"], { encoding: "utf8" });
    assert.equal(h.status, 0);
    for (const flag of ["--host", "--port", "--redis", "--api-keys-file", "--max-body", "--requests-timeout", "--static", "--log-level"]) {
      assert.ok(h.stdout.includes(flag), `${flag} in --help`);
    }
    assert.match(h.stdout, /ADMINNODE_API_KEYS_FILE/);
    assert.match(h.stdout, /ADMINNODE_API_KEYS=/);
    const v = spawnSync(bin, ["--version"], { encoding: "utf8" });
    assert.equal(v.status, 0);
    assert.match(v.stdout, /^adminnode \d+\.\d+\.\d+/);
  });

  it("refuses a bad keys file with the line number, without quoting the key", () => {
    const f = path.join(tmp, "keys");
    writeFileSync(f, `# keys\n${READ_KEY} read\nsecret-key-0123456789abcdef owner\n`);
    const r = spawnSync(bin, ["--port", "0", "--api-keys-file", f], { encoding: "utf8", timeout: 10_000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /line 3: scope must be read or admin/);
    assert.ok(!r.stderr.includes("secret-key"));
  });

  it("takes keys from --api-keys-file", async () => {
    const f = path.join(tmp, "good");
    writeFileSync(f, `${ADMIN_KEY} admin\n`);
    const node = await startAdminnode(["--api-keys-file", f, "--max-body", "100"]);
    try {
      const res = await headersOnly(node.port, { ...auth(ADMIN_KEY), "Content-Length": "101" });
      assertError(res, 413, "payload_too_large");
    } finally {
      await node.stop();
    }
  });

  it("stops cleanly on SIGINT, and through ADMINNODE_* variables", async () => {
    const node = await startAdminnode([], { ADMINNODE_STATIC: "", ADMINNODE_LOG_LEVEL: "debug" });
    assertError(await httpRequest(`${node.url}/`), 404, "not_found");
    await node.stop("SIGINT");
  });
});
