// Hostile API callers and slow clients against adminnode. Path parameters and query values
// that are not UTF-8 (a stray byte, an overlong form, a surrogate), hold a NUL, separators,
// right-to-left or combining characters, or sit at, one over or straddle their limits; a kick
// and an emit for a user whose id is 64 emoji, checked against two other users' sockets; many
// half-sent requests from several addresses while /healthz answers; the per-address limit;
// heads and bodies trickled past their deadlines; oversized bodies whose 413 fetch must read.
// Exercises adminnode/http.c, http_router.c, http_conn.c, http_linger.c, http_peer.c,
// api_params.c, api_cluster.c, api_emit.c and requester.c.
import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { io } from "socket.io-client";
import { startChatnode, startAdminnode, startRedis, stopAll, eventually, httpRequest, sleep, waitFor, withTimeout, WAIT_MS } from "./lib/harness.mjs";
import { withoutOffset, withoutOffsets } from "./lib/clients.mjs";

const ADMIN = "admin-key-0123456789abcdef";
const READ = "read-key-0123456789abcdef";
const KEYS_ENV = { ADMINNODE_API_KEYS: `${ADMIN}:admin,${READ}:read` };
const auth = (key = ADMIN) => ({ authorization: `Bearer ${key}` });

const EMOJI = "\u{1F600}"; // 4 bytes of UTF-8
const enc = encodeURIComponent;
const rep = (s, n) => s.repeat(n);

/** One request to `base`; resolves { status, body (parsed JSON, or the text) }. */
async function call(base, method, path, { key = ADMIN, body, headers = {} } = {}) {
  const res = await httpRequest(`${base}${path}`, {
    method,
    headers: { ...(key ? auth(key) : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  let parsed = res.body;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Asserts a 400 bad_request whose message names the parameter `name` of kind `where`. */
function assertBad(res, where, name, what) {
  assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error?.code, "bad_request", what);
  assert.ok(res.body.error.message.includes(`${where} parameter ${name}`), `${what}: ${res.body.error.message}`);
}

/** CPU-cheap idle sockets that have sent part of a request head and trickle one more byte of
 *  it every `everyMs`; each from `localAddress`. Resolves once every one is connected. */
async function halfSent(port, addresses, perAddress, { everyMs = 500, head = "GET /healthz HTTP/1.1\r\nHost: x\r\n" } = {}) {
  const socks = [];
  const connecting = [];
  for (const localAddress of addresses) {
    for (let i = 0; i < perAddress; i++) {
      const s = net.connect({ port, host: "127.0.0.1", localAddress });
      s.on("error", () => {});
      s.on("data", () => {});
      s.closedAt = null;
      s.once("close", () => (s.closedAt = Date.now()));
      connecting.push(new Promise((resolve, reject) => {
        s.once("connect", () => {
          s.write(head);
          resolve();
        });
        s.once("error", reject);
      }));
      socks.push(s);
    }
  }
  await withTimeout(Promise.all(connecting), 60_000, "the slow connections to connect");
  const timer = setInterval(() => {
    for (const s of socks) if (!s.destroyed) s.write("X");
  }, everyMs);
  return {
    socks,
    open: () => socks.filter((s) => !s.destroyed && s.closedAt === null).length,
    close() {
      clearInterval(timer);
      for (const s of socks) s.destroy();
    },
  };
}

/** A socket from localAddress that writes `first`, then one character of `trickle` every
 *  everyMs. Resolves { ms, data } once the server closes it (ms since the first write). */
function trickler(port, { localAddress = "127.0.0.1", first, trickle = rep("a", 100000), everyMs = 100, limitMs = 30_000 }) {
  return withTimeout(new Promise((resolve) => {
    const s = net.connect({ port, host: "127.0.0.1", localAddress });
    let data = "";
    let t0 = 0;
    let i = 0;
    let timer = null;
    s.on("error", () => {});
    s.on("data", (d) => (data += d));
    s.once("connect", () => {
      t0 = Date.now();
      if (first) s.write(first);
      timer = setInterval(() => {
        if (!s.destroyed && i < trickle.length) s.write(trickle[i++]);
      }, everyMs);
    });
    s.once("close", () => {
      clearInterval(timer);
      resolve({ ms: Date.now() - t0, data });
    });
  }), limitMs, "the server to close a trickling connection");
}

/** One GET /healthz from localAddress on a fresh connection; resolves { status, ms }. */
function healthz(port, localAddress = "127.0.0.1", timeoutMs = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const req = http.get({ host: "127.0.0.1", port, path: "/healthz", localAddress, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode, ms: Date.now() - t0 }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET /healthz from ${localAddress} took over ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

async function metric(base, name) {
  const text = (await httpRequest(`${base}/metrics`)).body;
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(" ")[1]) : NaN;
}

describe("hostile path parameters, query values and user emits", { timeout: 180_000 }, () => {
  let redis, n1, n2, admin;
  const opened = new Set();

  /** A chat client on node signed in as `name`, recording every event it gets. */
  /** A chat client of `name`; s.got records its events as [name, ...args], each ending with
   * its offset (recovery is on, the chatnodes' default; withoutOffset() takes it off). */
  async function user(node, name) {
    const s = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user: name } });
    opened.add(s);
    s.got = [];
    s.onAny((...a) => s.got.push(a));
    await waitFor(s, "connect");
    return s;
  }

  /** The user id the cluster reports for socket s (whatever prefix the chat gives guests). */
  async function userId(s) {
    const res = await call(admin.url, "GET", "/api/v1/sockets", { key: READ });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const mine = res.body.sockets.find((x) => x.id === s.id);
    assert.ok(mine?.user?.id, `socket ${s.id} is listed with a user: ${JSON.stringify(res.body).slice(0, 400)}`);
    return mine.user.id;
  }

  const api = (method, path, opts) => call(admin.url, method, path, opts);

  before(async () => {
    redis = await startRedis();
    const flags = ["--allow-anonymous", "--redis", redis.url, "--ping-interval", "5000", "--ping-timeout", "5000"];
    [n1, n2] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
    admin = await startAdminnode(["--redis", redis.url, "--requests-timeout", "2000"], KEYS_ENV);
    await eventually(async () => JSON.parse((await httpRequest(`${admin.url}/healthz`)).body).redis === "connected", WAIT_MS, "adminnode's Redis");
    await eventually(async () => (await api("GET", "/api/v1/sockets", { key: READ })).body.servers === 2, WAIT_MS, "both chatnodes on the bus");
  });
  after(async () => {
    for (const s of opened) s.close();
    await stopAll(n1, n2, admin);
    await redis?.stop();
  });
  afterEach(() => {
    for (const s of opened) s.close();
    opened.clear();
  });

  it("answers 400 naming the parameter for path parameters that are not UTF-8, and stays up", async () => {
    for (const bad of ["%FF", "%C0%AF", "%ED%A0%80", "a%00b", "%E2%80%AE", "a%0Ab", "a%zz"]) {
      for (const [method, path, name, body] of [
        ["POST", `/api/v1/rooms/${bad}/join`, "room", { user: "x" }],
        ["POST", `/api/v1/rooms/${bad}/leave`, "room", { user: "x" }],
        ["GET", `/api/v1/rooms/${bad}/members`, "room"],
        ["GET", `/api/v1/rooms/${bad}/history`, "room"],
        ["POST", `/api/v1/rooms/${bad}/messages`, "room", { text: "hi" }],
        ["DELETE", `/api/v1/sockets/${bad}`, "sid"],
        ["POST", `/api/v1/users/${bad}/emit`, "user", { event: "e", args: [] }],
        ["POST", `/api/v1/users/${bad}/disconnect`, "user", {}],
        ["GET", `/api/v1/nodes/${bad}`, "id"],
        ["POST", `/api/v1/nodes/${bad}/drain`, "id"],
      ]) {
        assertBad(await api(method, path, { body, key: method === "GET" ? READ : ADMIN }), "path", name, `${method} ${path}`);
      }
    }
    assert.equal((await httpRequest(`${admin.url}/healthz`)).status, 200);
  });

  it("kicks a user whose id is 64 emoji, and only that user", async () => {
    const name = rep(EMOJI, 64);
    const smiley = await user(n1, name);
    const other = await user(n2, "bob");
    const id = await userId(smiley);
    // the id as the finding names it (256 bytes: its user room is longer than 200 bytes),
    // whether or not the chat gives anyone exactly that id
    const direct = await api("POST", `/api/v1/users/${enc(name)}/disconnect`, { body: { reason: "x" } });
    assert.equal(direct.status, 200, JSON.stringify(direct.body));
    assert.equal(direct.body.user, name);
    assert.equal(typeof direct.body.disconnected, "number");
    await sleep(300);
    assert.deepEqual(other.got, [], "a kick for one user reached another");
    if (id !== name) assert.ok(smiley.connected);
    else return; // that was this user's kick
    const kicked = waitFor(smiley, "kicked");
    const gone = waitFor(smiley, "disconnect");
    const res = await api("POST", `/api/v1/users/${enc(id)}/disconnect`, { body: { reason: `bye ${EMOJI}` } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.user, id);
    assert.equal(res.body.disconnected, 1);
    assert.deepEqual(withoutOffset(await kicked), [{ reason: `bye ${EMOJI}` }]);
    assert.equal((await gone)[0], "io server disconnect");
    await sleep(300);
    assert.ok(other.connected);
    assert.deepEqual(other.got, []);
    // a reason over 512 bytes is refused, not cut
    const long = await api("POST", `/api/v1/users/${enc(id)}/disconnect`, { body: { reason: rep("é", 257) } });
    assert.equal(long.status, 400);
    assert.match(long.body.error.message, /reason/);
  });

  it("an emit for one user reaches that user's sockets and no one else's", async () => {
    const name = rep(EMOJI, 64);
    const smiley = await user(n1, name);
    const smiley2 = await user(n2, name);
    const alice = await user(n1, "alice");
    const bob = await user(n2, "bob");
    const [sid, aid, bid] = [await userId(smiley), await userId(alice), await userId(bob)];
    // the id the chat reports for the emoji user
    let res = await api("POST", `/api/v1/users/${enc(sid)}/emit`, { body: { event: "note", args: [1, { x: "é" }] } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    for (const s of [smiley, smiley2]) await eventually(() => s.got.length === 1, WAIT_MS, "the note");
    assert.deepEqual(withoutOffsets(smiley.got), [["note", 1, { x: "é" }]]);
    assert.deepEqual(withoutOffsets(smiley2.got), [["note", 1, { x: "é" }]]);
    // 64 emoji as the id (256 bytes, its user room longer than 200): only such a user gets it
    res = await api("POST", `/api/v1/users/${enc(name)}/emit`, { body: { event: "note2", args: [] } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    // ids that are not UTF-8, or too long, are refused before anything is sent
    for (const bad of ["%FF", "%C0%AF", "%ED%A0%80", "%00", enc(rep("é", 71)), enc(rep(EMOJI, 65) + "abc")]) {
      assertBad(await api("POST", `/api/v1/users/${bad}/emit`, { body: { event: "leak", args: [] } }), "path", "user", bad.slice(0, 20));
    }
    // a fence: each user's own emit comes after anything sent before it on Redis
    for (const [s, id] of [[alice, aid], [bob, bid]]) {
      res = await api("POST", `/api/v1/users/${enc(id)}/emit`, { body: { event: "fence", args: [] } });
      assert.equal(res.status, 202);
      await eventually(() => s.got.length > 0, WAIT_MS, "the fence");
      assert.deepEqual(withoutOffsets(s.got), [["fence"]], "nothing meant for another user arrived");
    }
    const expected = [["note", 1, { x: "é" }], ...(sid === name ? [["note2"]] : [])];
    await sleep(200);
    assert.deepEqual(withoutOffsets(smiley.got), expected);
  });

  it("path parameters at their limits, one over, straddling, and with separators, RTL and combining characters", async () => {
    const members = (room) => api("GET", `/api/v1/rooms/${room}/members`, { key: READ });
    for (const [room, ok, what] of [
      [enc(rep("a", 128)), true, "128 characters"],
      [enc(rep("a", 129)), false, "129 characters"],
      [enc(rep(EMOJI, 128)), true, "128 emoji, 512 bytes"],
      [enc(rep(EMOJI, 129)), false, "129 emoji"],
      [enc("e" + rep("\u0301", 127)), true, "a letter and 127 combining accents"],
      [enc("e" + rep("\u0301", 128)), false, "a letter and 128 combining accents"],
      [enc("שלום"), true, "right-to-left letters"],
      [enc("a\u202Eb"), false, "a right-to-left override"],
      [enc("a\u2066b"), false, "a bidi isolate"],
      [enc("a:b"), true, "a colon"],
      ["a:b", true, "a raw colon"],
      [enc("a#b/c?d&e"), true, "other separators, escaped"],
      [enc("user:alice"), true, "a user's own room"],
      ["%FF", false, "a stray byte"],
      ["%C0%AF", false, "an overlong /"],
      ["%ED%A0%80", false, "a surrogate"],
      ["%00", false, "a NUL"],
    ]) {
      const res = await members(room);
      if (ok) assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body).slice(0, 200)}`);
      else assertBad(res, "path", "room", what);
    }
    const emit = (u) => api("POST", `/api/v1/users/${u}/emit`, { body: { event: "e", args: [] } });
    for (const [u, ok, what] of [
      [enc(rep(EMOJI, 65) + "ab"), true, "262 bytes"],
      [enc(rep(EMOJI, 65) + "abc"), false, "263 bytes"],
      [enc(rep(EMOJI, 65) + "a" + EMOJI), false, "an emoji straddling byte 262"],
      [enc(rep("a", 70)), true, "70 characters"],
      [enc(rep("a", 71)), false, "71 characters"],
      [enc("guest:alice"), true, "a guest id"],
      [enc("a\u202Eb"), false, "a right-to-left override"],
    ]) {
      const res = await emit(u);
      if (ok) assert.equal(res.status, 202, `${what}: ${JSON.stringify(res.body)}`);
      else assertBad(res, "path", "user", what);
    }
    for (const [sid, status, what] of [
      [rep("a", 64), 404, "64 characters"],
      [rep("a", 65), 400, "65 characters"],
      ["a:b", 400, "a colon"],
      ["a.b", 400, "a dot"],
      [enc("é"), 400, "not ASCII"],
    ]) {
      const res = await api("DELETE", `/api/v1/sockets/${sid}`);
      if (status === 400) assertBad(res, "path", "sid", what);
      else assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
    }
    for (const [id, status, what] of [
      [rep("n", 64), 404, "64 characters"],
      [rep("n", 65), 400, "65 characters"],
      ["a%20b", 404, "a space names no node"],
      [enc("é"), 400, "not ASCII"],
    ]) {
      const res = await api("GET", `/api/v1/nodes/${id}`, { key: READ });
      if (status === 400) assertBad(res, "path", "id", what);
      else assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
    }
  });

  it("query values: namespace, room, before and limit", async () => {
    const alice = await user(n1, "alice");
    await alice.emitWithAck("join", { room: "lobby" });
    const get = (path) => api("GET", path, { key: READ });
    for (const [path, name, ok, what] of [
      ["/api/v1/sockets?namespace=/", "namespace", true, "/"],
      ["/api/v1/sockets?namespace=", "namespace", true, "empty: the default"],
      [`/api/v1/sockets?namespace=/${rep("a", 199)}`, "namespace", true, "200 bytes"],
      [`/api/v1/sockets?namespace=/${rep("a", 200)}`, "namespace", false, "201 bytes"],
      ["/api/v1/sockets?namespace=%FF", "namespace", false, "a stray byte"],
      ["/api/v1/sockets?namespace=/%C0%AF", "namespace", false, "an overlong /"],
      ["/api/v1/sockets?namespace=/%00", "namespace", false, "a NUL"],
      ["/api/v1/sockets?namespace=/a%23b", "namespace", false, "the bus's separator #"],
      ["/api/v1/sockets?namespace=nope", "namespace", false, "no /"],
      ["/api/v1/sockets?namespace=/&namespace=/x", "namespace", false, "given twice"],
      ["/api/v1/sockets?room=lobby", "room", true, "a room"],
      [`/api/v1/sockets?room=${enc(rep("a", 128))}`, "room", true, "128 characters"],
      [`/api/v1/sockets?room=${enc(rep("a", 129))}`, "room", false, "129 characters"],
      [`/api/v1/sockets?room=${enc(rep(EMOJI, 129))}`, "room", false, "129 emoji"],
      ["/api/v1/sockets?room=%FF", "room", false, "a stray byte"],
      ["/api/v1/sockets?room=%ED%A0%80", "room", false, "a surrogate"],
      ["/api/v1/sockets?room=%00", "room", false, "a NUL"],
      [`/api/v1/sockets?room=${enc("a\u202Eb")}`, "room", false, "a right-to-left override"],
      [`/api/v1/sockets?room=${enc("שלום")}`, "room", true, "right-to-left letters"],
      ["/api/v1/rooms/lobby/history?before=1-0", "before", true, "a message id"],
      ["/api/v1/rooms/lobby/history?before=%FF", "before", false, "a stray byte"],
      ["/api/v1/rooms/lobby/history?before=%C0%AF", "before", false, "an overlong /"],
      ["/api/v1/rooms/lobby/history?before=1-0%00", "before", false, "a NUL"],
      ["/api/v1/rooms/lobby/history?before=1:0", "before", false, "a colon"],
      ["/api/v1/rooms/lobby/history?limit=100", "limit", true, "100"],
      ["/api/v1/rooms/lobby/history?limit=%FF", "limit", false, "a stray byte"],
      ["/api/v1/rooms/lobby/history?limit=1e2", "limit", false, "an exponent"],
      ["/api/v1/rooms/lobby/history?limit=+5", "limit", false, "a sign (+ is a space)"],
      ["/api/v1/rooms/lobby/history?limit=5%00", "limit", false, "a NUL"],
      ["/api/v1/users?limit=1000&offset=0", "limit", true, "1000"],
      ["/api/v1/users?limit=1234567890", "limit", false, "ten digits"],
      ["/api/v1/users?offset=-1", "offset", false, "a sign"],
      ["/api/v1/rooms?x%FF=1", "name", false, "a parameter name that is not UTF-8"],
    ]) {
      const res = await get(path);
      if (ok) {
        assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body).slice(0, 200)}`);
      } else if (name === "name") {
        assert.equal(res.status, 400, what);
        assert.match(res.body.error.message, /query parameter name/);
      } else {
        assertBad(res, "query", name, what);
      }
    }
    // a room that matched nothing is not "every socket"
    const none = await get(`/api/v1/sockets?room=${enc("no such room")}`);
    assert.deepEqual(none.body.sockets, []);
    const lobby = await get("/api/v1/sockets?room=lobby");
    assert.deepEqual(lobby.body.sockets.map((s) => s.id), [alice.id]);
  });
});

describe("slow clients", { timeout: 240_000 }, () => {
  it("answers /healthz at once while 1,100 half-sent requests from 20 addresses are open", async () => {
    // a head timeout longer than the test, so that none is cut meanwhile
    const node = await startAdminnode(["--header-timeout", "120000"], KEYS_ENV);
    let slow;
    try {
      const addrs = Array.from({ length: 20 }, (_, i) => `127.0.0.${10 + i}`);
      slow = await halfSent(node.port, addrs, 55);
      await eventually(async () => (await metric(node.url, "adminnode_http_connections")) >= 1100, 30_000, "adminnode to accept them all");
      for (let i = 0; i < 10; i++) {
        const r = await healthz(node.port, "127.0.0.200");
        assert.equal(r.status, 200);
        assert.ok(r.ms < 3000, `GET /healthz took ${r.ms} ms`);
      }
      assert.equal(slow.open(), 1100, "the slow connections are all still open");
    } finally {
      slow?.close();
      await node.stop();
    }
  });

  it("refuses connections past --max-connections-per-ip from one address, not from others or exempt ones", async () => {
    const node = await startAdminnode(["--max-connections-per-ip", "8", "--header-timeout", "120000"], KEYS_ENV);
    let held, local;
    try {
      held = await halfSent(node.port, ["127.0.0.40"], 8);
      await eventually(async () => (await metric(node.url, "adminnode_http_connections")) >= 8, WAIT_MS, "8 connections");
      // the ninth from that address is closed at once, without an answer
      const ninth = await trickler(node.port, { localAddress: "127.0.0.40", first: "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", limitMs: WAIT_MS });
      assert.equal(ninth.data, "");
      assert.ok((await metric(node.url, "adminnode_http_connections_refused_total")) >= 1);
      // other addresses are not affected
      assert.equal((await healthz(node.port, "127.0.0.41")).status, 200);
      // the loopback address a local proxy uses is exempt by default
      local = await halfSent(node.port, ["127.0.0.1"], 20);
      assert.equal((await healthz(node.port, "127.0.0.1")).status, 200);
      // once one of the eight closes, the address may connect again
      held.socks[0].destroy();
      await eventually(async () => (await healthz(node.port, "127.0.0.40").catch(() => ({ status: 0 }))).status === 200, WAIT_MS, "a free slot for 127.0.0.40");
      assert.equal(held.open(), 7);
      assert.equal(local.open(), 20);
    } finally {
      held?.close();
      local?.close();
      await node.stop();
    }
  });

  it("cuts off a trickled head after --header-timeout, a trickled body after --body-timeout, not an idle keep-alive connection", async () => {
    const node = await startAdminnode(["--header-timeout", "1000", "--body-timeout", "1500"], KEYS_ENV);
    try {
      const [head, silent, body] = await Promise.all([
        trickler(node.port, { localAddress: "127.0.0.50", first: "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " }),
        trickler(node.port, { localAddress: "127.0.0.51", trickle: "" }),
        trickler(node.port, {
          localAddress: "127.0.0.52",
          first: `POST /api/v1/emit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"event":"e","args":[`,
          trickle: rep("1,", 1000),
        }),
      ]);
      // MHD's own timeout (--connection-timeout, 60 s) never fires for a trickle: these are ours
      assert.ok(head.ms >= 900 && head.ms < 8000, `head cut after ${head.ms} ms`);
      assert.ok(silent.ms >= 900 && silent.ms < 8000, `silent connection cut after ${silent.ms} ms`);
      assert.ok(body.ms >= 1400 && body.ms < 8000, `body cut after ${body.ms} ms`);
      assert.equal(head.data, "");
      assert.equal(body.data, "");
      assert.ok((await metric(node.url, 'adminnode_http_connections_cut_total{phase="head"}')) >= 2);
      assert.ok((await metric(node.url, 'adminnode_http_connections_cut_total{phase="body"}')) >= 1);

      // a keep-alive connection idle between requests is not held to the head deadline
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const get = () => new Promise((resolve, reject) => {
        http.get({ host: "127.0.0.1", port: node.port, path: "/healthz", agent }, (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode, socket: res.socket }));
        }).on("error", reject);
      });
      const first = await get();
      await sleep(2500);
      const second = await get();
      assert.equal(second.status, 200);
      assert.equal(second.socket, first.socket, "the same connection served both");
      agent.destroy();
      assert.equal((await healthz(node.port)).status, 200);
    } finally {
      await node.stop();
    }
  });

  it("oversized bodies: fetch reads the 413 every time, and other early answers too", async () => {
    const node = await startAdminnode([], KEYS_ENV);
    try {
      const big = "x".repeat(3 * 1024 * 1024); // over --max-body (1 MiB), larger than the socket buffers
      const failures = [];
      for (let i = 0; i < 30; i++) {
        try {
          const res = await fetch(`${node.url}/api/v1/emit`, { method: "POST", body: big, headers: auth() });
          const text = await res.text();
          const j = JSON.parse(text);
          if (res.status !== 413 || j.error?.code !== "payload_too_large") failures.push(`${res.status} ${text.slice(0, 80)}`);
        } catch (err) {
          failures.push(String(err.cause?.code ?? err.message));
        }
      }
      assert.deepEqual(failures, [], "every oversized POST got its 413 JSON");
      // answered before the body for other reasons: no key, a bad parameter
      for (const [path, headers, status] of [["/api/v1/emit", {}, 401], ["/api/v1/users/%FF/emit", auth(), 400]]) {
        for (let i = 0; i < 5; i++) {
          const res = await fetch(`${node.url}${path}`, { method: "POST", body: big, headers });
          assert.equal(res.status, status);
          assert.equal(typeof (await res.json()).error.code, "string");
        }
      }
      // a chunked body that grows past the limit is read and dropped, then answered 413
      const res = await new Promise((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port: node.port, path: "/api/v1/emit", method: "POST", headers: auth(), agent: false }, (r) => {
          let b = "";
          r.on("data", (d) => (b += d));
          r.on("end", () => resolve({ status: r.statusCode, body: b }));
        });
        req.on("error", reject);
        for (let i = 0; i < 20; i++) req.write("y".repeat(100 * 1024));
        req.end();
      });
      assert.equal(res.status, 413);
      assert.equal(JSON.parse(res.body).error.code, "payload_too_large");
      assert.ok((await metric(node.url, "adminnode_http_lingered_total")) >= 30);
      assert.equal((await healthz(node.port)).status, 200);
    } finally {
      await node.stop();
    }
  });
});
