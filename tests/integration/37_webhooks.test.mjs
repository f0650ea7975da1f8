// Webhooks from adminnode: endpoints from --webhooks-file and the REST API (kept in Redis),
// events of P:events delivered signed (HMAC-SHA256 over "<ts>.<body>", checked here), retried
// until the receiver recovers, a hanging receiver holding only itself, no event lost when an
// adminnode is SIGKILLed, two adminnodes delivering each event once, dead letters and their
// replay, bad input to the API and garbage from receivers, and events waking the endpoints.
// Exercises adminnode/webhooks.c, api_webhooks.c, api_webhooks_routes.c (every route, with its
// scope and its entry in the API document) and proto/webhook.c with real redis-server,
// adminnodes and chatnodes.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import crypto from "node:crypto";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createClient } from "redis";
import { io } from "socket.io-client";
import { startAdminnode, startChatnode, startRedis, stopAll, eventually, httpRequest, withTimeout, WAIT_MS } from "./lib/harness.mjs";

const ADMIN = "webhooks-admin-key-0123456789";
const READ = "webhooks-read-key-0123456789";
const KEYS = { ADMINNODE_API_KEYS: `${ADMIN}:admin,${READ}:read` };
const SECRET = "s3cret-ünicode";
const LONG = 60_000;

let redis, rc, tmp;
const servers = [];
const receivers = [];

/** A receiver: records every request; `answer(req, body, n)` returns a status, or "hang". */
function receiver(answer = () => 200, secret = SECRET) {
  const got = [];
  const hanging = [];
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const ts = req.headers["x-chatcluster-timestamp"];
      const sig = req.headers["x-chatcluster-signature"] ?? "";
      const want = "v1=" + crypto.createHmac("sha256", secret).update(`${ts}.${body}`).digest("hex");
      const valid = sig.length === want.length && crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(want));
      let doc = null;
      try {
        doc = JSON.parse(body);
      } catch {}
      const rec = { headers: req.headers, body, doc, valid, at: Date.now() };
      got.push(rec);
      Promise.resolve(answer(req, rec, got.length)).then((status) => {
        if (status === "hang") {
          hanging.push(res);
          return;
        }
        rec.status = status;
        res.writeHead(status, { "content-type": "application/json" });
        res.end("{}");
      });
    });
  });
  const r = {
    got,
    hanging,
    url: null,
    /** Events answered 2xx, by id (each once). */
    delivered() {
      const m = new Map();
      for (const g of got) if (g.status >= 200 && g.status < 300) for (const e of g.doc.events) m.set(e.id, e);
      return m;
    },
    /** Every event id in 2xx-answered requests, duplicates kept. */
    deliveredIds() {
      return got.filter((g) => g.status >= 200 && g.status < 300).flatMap((g) => g.doc.events.map((e) => e.id));
    },
    async start() {
      await new Promise((res) => srv.listen(0, "127.0.0.1", res));
      r.url = `http://127.0.0.1:${srv.address().port}/hook`;
      return r;
    },
    close() {
      for (const h of hanging) h.destroy();
      srv.closeAllConnections?.();
      return new Promise((res) => srv.close(res));
    },
  };
  receivers.push(r);
  return r.start();
}

const api = (admin, method, p, body, key = ADMIN, headers = {}) =>
  httpRequest(admin.url + p, {
    method,
    body: body === undefined ? undefined : typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    headers: { ...(key ? { Authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
  });

async function admin(prefix, extra = [], env = {}) {
  const a = await startAdminnode(["--redis", redis.url, "--control-prefix", prefix, "--webhooks-poll-ms", "20",
    "--webhooks-refresh-ms", "200", "--webhooks-retry-min-ms", "20", "--webhooks-retry-max-ms", "300", ...extra], { ...KEYS, ...env });
  servers.push(a);
  await eventually(async () => JSON.parse((await httpRequest(`${a.url}/healthz`)).body).redis === "connected", WAIT_MS, "redis up");
  return a;
}

async function addEndpoint(a, doc) {
  const r = await api(a, "POST", "/api/v1/webhooks", { secret: SECRET, events: ["*"], ...doc });
  assert.equal(r.status, 201, r.body);
  return JSON.parse(r.body);
}

/** XADDs a well-formed event straight into P:events; returns its id. */
let seq = 0;
function xadd(prefix, type = "room_occupied", data) {
  data ??= { room: `r${++seq}` };
  return rc.xAdd(`${prefix}:events`, "*", { type, ts: String(Date.now()), node: "test01", data: JSON.stringify(data) });
}

async function xaddMany(prefix, n) {
  const ids = [];
  for (let i = 0; i < n; i++) ids.push(await xadd(prefix));
  return ids;
}

/** Waits until the endpoint's group exists on P:events (events after it are delivered). */
async function groupReady(prefix, id) {
  await eventually(async () => {
    try {
      return (await rc.xInfoGroups(`${prefix}:events`)).some((g) => g.name === `${prefix}:wh:${id}`);
    } catch {
      return false;
    }
  }, WAIT_MS, `the group of ${id}`);
}

describe("webhooks", { timeout: 240_000 }, () => {
  before(async () => {
    redis = await startRedis();
    rc = createClient({ url: redis.url });
    await rc.connect();
    tmp = mkdtempSync(path.join(os.tmpdir(), "cc-webhooks-"));
  });
  after(async () => {
    await Promise.allSettled(receivers.map((r) => r.close()));
    await rc?.quit();
    try {
      await stopAll(...servers.filter((s) => !s.killed));
    } finally {
      await redis?.stop();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("REST API: add, list without secrets, test, delete; 400s, 404, 409 and scopes", async () => {
    const rx = await receiver();
    const file = path.join(tmp, "hooks.json");
    writeFileSync(file, JSON.stringify([{ id: "from-file", url: rx.url, events: ["message"], secret: "file-secret" }]));
    const a = await admin("api", ["--webhooks-file", file]);
    const added = await addEndpoint(a, { id: "one", url: rx.url, events: ["message", "room_vacated"], batch_max: 7 });
    assert.equal(added.id, "one");
    assert.equal(added.secret, undefined);
    const auto = await addEndpoint(a, { url: rx.url });
    assert.match(auto.id, /^[0-9a-f]{16}$/);
    const list = JSON.parse((await api(a, "GET", "/api/v1/webhooks")).body).webhooks;
    assert.deepEqual(list.map((w) => [w.id, w.source]).sort(), [[auto.id, "api"], ["from-file", "file"], ["one", "api"]].sort());
    assert.ok(!(await api(a, "GET", "/api/v1/webhooks")).body.includes("secret"), "no secret in the list");
    assert.deepEqual(list.find((w) => w.id === "one").events, ["room_vacated", "message"]);
    assert.equal(list.find((w) => w.id === "one").batch_max, 7);

    // the test delivery: signed, one webhook_test event
    const t = await api(a, "POST", "/api/v1/webhooks/one/test");
    assert.equal(t.status, 200, t.body);
    const tr = JSON.parse(t.body);
    assert.equal(tr.delivered, true);
    assert.equal(tr.status, 200);
    assert.equal(typeof tr.latency_ms, "number");
    const last = rx.got.at(-1);
    assert.equal(last.valid, true);
    assert.equal(last.headers["x-chatcluster-webhook-id"], "one");
    assert.match(last.headers["x-chatcluster-delivery"], /^[0-9a-f]{32}$/);
    assert.equal(last.headers["content-type"], "application/json");
    assert.equal(last.doc.webhook, "one");
    assert.equal(last.doc.events.length, 1);
    assert.equal(last.doc.events[0].type, "webhook_test");
    const tf = JSON.parse((await api(a, "POST", "/api/v1/webhooks/from-file/test")).body);
    assert.equal(tf.delivered, true);
    assert.equal(rx.got.at(-1).valid, false, "the file endpoint signs with its own secret");

    // bad input: each a 400 with a JSON error body
    const bad = [
      ["{not json", /bad_json/],
      [Buffer.from([0x7b, 0x22, 0x75, 0x72, 0x6c, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), /bad_json/],
      [{ url: rx.url, events: ["*"] }, /secret/],
      [{ url: "ftp://x/", events: ["*"], secret: "s" }, /url/],
      [{ url: "http://", events: ["*"], secret: "s" }, /url/],
      [{ url: rx.url, events: ["nope"], secret: "s" }, /unknown event type/],
      [{ url: rx.url, events: [], secret: "s" }, /events/],
      [{ url: rx.url, events: ["*"], secret: "s", batch_max: 0 }, /batch_max/],
      [{ url: rx.url, events: ["*"], secret: "s", extra: 1 }, /unknown member/],
      [{ id: "bad id", url: rx.url, events: ["*"], secret: "s" }, /id/],
      [[1, 2], /object/],
    ];
    for (const [body, re] of bad) {
      const r = await api(a, "POST", "/api/v1/webhooks", body);
      assert.equal(r.status, 400, `${String(body)}: ${r.body}`);
      assert.match(JSON.parse(r.body).error.message + JSON.parse(r.body).error.code, re);
    }
    // at the limits: an id of 64 characters and a secret of 512 bytes are taken, one more is
    // not; a two-byte character straddling the secret's limit counts its bytes; empty values
    const ok = (doc) => api(a, "POST", "/api/v1/webhooks", { url: rx.url, events: ["*"], ...doc });
    const id64 = "i".repeat(64);
    assert.equal((await ok({ id: id64, secret: "s" })).status, 201);
    assert.equal((await ok({ id: "i".repeat(65), secret: "s" })).status, 400);
    assert.equal((await ok({ id: "", secret: "s" })).status, 400);
    assert.equal((await ok({ id: "é", secret: "s" })).status, 400);
    assert.equal((await ok({ id: "s510", secret: "s".repeat(510) + "é" })).status, 201); // 512 bytes
    assert.equal((await ok({ id: "s511", secret: "s".repeat(511) + "é" })).status, 400); // 513 bytes
    assert.equal((await ok({ id: "s0", secret: "" })).status, 400);
    const long = (n) => `${rx.url}?${"q".repeat(n - rx.url.length - 1)}`;
    assert.equal((await ok({ id: "u2048", secret: "s", url: long(2048) })).status, 201);
    assert.equal((await ok({ id: "u2049", secret: "s", url: long(2049) })).status, 400);
    assert.equal((await ok({ id: "u0", secret: "s", url: "" })).status, 400);
    // a path part that is not UTF-8: a 400 with a JSON error body
    for (const [m, p] of [["DELETE", "/api/v1/webhooks/%FF%FE"], ["POST", "/api/v1/webhooks/%C3/test"]]) {
      const r = await api(a, m, p);
      assert.equal(r.status, 400, `${m} ${p}: ${r.body}`);
      assert.equal(typeof JSON.parse(r.body).error.message, "string");
    }
    for (const id of [id64, "s510", "u2048"]) assert.equal((await api(a, "DELETE", `/api/v1/webhooks/${id}`)).status, 200);
    // conflicts and missing ones
    assert.equal((await api(a, "POST", "/api/v1/webhooks", { id: "one", url: rx.url, events: ["*"], secret: "s" })).status, 409);
    assert.equal((await api(a, "POST", "/api/v1/webhooks", { id: "from-file", url: rx.url, events: ["*"], secret: "s" })).status, 409);
    assert.equal((await api(a, "DELETE", "/api/v1/webhooks/from-file")).status, 409);
    assert.equal((await api(a, "DELETE", "/api/v1/webhooks/nobody")).status, 404);
    assert.equal((await api(a, "POST", "/api/v1/webhooks/nobody/test")).status, 404);
    assert.equal((await api(a, "POST", "/api/v1/webhooks/dead/1-1/replay")).status, 404);
    assert.equal((await api(a, "GET", "/api/v1/webhooks/dead?limit=0")).status, 400);
    // scopes
    for (const [m, p] of [["GET", "/api/v1/webhooks"], ["POST", "/api/v1/webhooks"], ["DELETE", "/api/v1/webhooks/one"],
      ["POST", "/api/v1/webhooks/one/test"], ["GET", "/api/v1/webhooks/dead"], ["POST", "/api/v1/webhooks/dead/1-1/replay"]]) {
      assert.equal((await api(a, m, p, m === "POST" && p === "/api/v1/webhooks" ? { url: rx.url, events: ["*"], secret: "s" } : undefined, READ)).status, 403, `${m} ${p} read key`);
      assert.equal((await api(a, m, p, undefined, null)).status, 401, `${m} ${p} no key`);
    }
    // a second adminnode sees the endpoints (they live in Redis) and survives a restart
    const b = await admin("api", ["--webhooks-file", file]);
    const listB = JSON.parse((await api(b, "GET", "/api/v1/webhooks")).body).webhooks;
    assert.deepEqual(listB.map((w) => w.id).sort(), list.map((w) => w.id).sort());
    assert.equal((await api(b, "DELETE", `/api/v1/webhooks/${auto.id}`)).status, 200);
    assert.equal((await api(a, "DELETE", `/api/v1/webhooks/${auto.id}`)).status, 404);
    assert.deepEqual(JSON.parse((await api(a, "GET", "/api/v1/webhooks")).body).webhooks.map((w) => w.id).sort(), ["from-file", "one"]);
    // the documented routes
    const doc = JSON.parse((await api(a, "GET", "/api/v1/openapi.json")).body);
    for (const p of ["/api/v1/webhooks", "/api/v1/webhooks/{id}", "/api/v1/webhooks/{id}/test", "/api/v1/webhooks/dead",
      "/api/v1/webhooks/dead/{entry}/replay"])
      assert.ok(doc.paths[p], p);
    // a bad file refuses to start
    const badFile = path.join(tmp, "bad.json");
    writeFileSync(badFile, JSON.stringify([{ id: "x", url: "gopher://x", events: ["*"], secret: "s" }]));
    await assert.rejects(startAdminnode(["--redis", redis.url, "--webhooks-file", badFile], KEYS), /exited before listening/);
    await stopAll(b);
    servers.splice(servers.indexOf(b), 1);
  });

  it("a flood of endpoints: at most 100 kept, the rest refused with 409, adminnode well", async () => {
    const rx = await receiver();
    const a = await admin("flood");
    const res = await Promise.all(Array.from({ length: 130 }, (_, i) =>
      api(a, "POST", "/api/v1/webhooks", { id: `f${i}`, url: rx.url, events: ["message"], secret: "s" })));
    const codes = res.map((r) => r.status);
    assert.equal(codes.filter((c) => c === 201).length, 100, JSON.stringify(codes));
    assert.equal(codes.filter((c) => c === 409).length, 30);
    assert.match(JSON.parse(res.find((r) => r.status === 409).body).error.message, /100/);
    assert.equal(await rc.hLen("flood:webhooks"), 100);
    assert.equal(JSON.parse((await api(a, "GET", "/api/v1/webhooks")).body).webhooks.length, 100);
    // one gone, one more fits
    assert.equal((await api(a, "DELETE", "/api/v1/webhooks/f0")).status, 200);
    assert.equal((await api(a, "POST", "/api/v1/webhooks", { id: "late", url: rx.url, events: ["*"], secret: "s" })).status, 201);
    assert.equal(JSON.parse((await httpRequest(`${a.url}/healthz`)).body).status, "ok");
  });

  it("every event type arrives signed, the chatnodes' and the rest", async () => {
    const rx = await receiver();
    const a = await admin("chatcluster");
    const ep = await addEndpoint(a, { id: "all", url: rx.url });
    await groupReady("chatcluster", ep.id);
    const n1 = await startChatnode(["--app", "chat", "--allow-anonymous", "--redis", redis.url]);
    servers.push(n1);
    await eventually(async () => JSON.parse((await httpRequest(`${n1.url}/healthz`)).body).bus?.subscriber === "connected", WAIT_MS);
    const connect = async (user) => {
      const s = io(n1.url, { forceNew: true, transports: ["websocket"], reconnection: false, auth: { user } });
      await withTimeout(new Promise((res, rej) => (s.once("connect", res), s.once("connect_error", rej))), WAIT_MS, "connect");
      return s;
    };
    const alice = await connect("alice");
    const bob = await connect("bob");
    assert.equal((await alice.emitWithAck("join", { room: "hall" })).ok, true);
    assert.equal((await bob.emitWithAck("join", { room: "hall" })).ok, true);
    const sent = await alice.emitWithAck("message", { room: "hall", text: "hi ✓" });
    assert.equal((await alice.emitWithAck("private", { to: "guest:bob", text: "psst" })).ok, true);
    assert.equal((await bob.emitWithAck("leave", { room: "hall" })).ok, true);
    alice.disconnect();
    bob.disconnect();
    // node_up comes from adminnode's registry seeing the chatnode; a node draining and going
    // down (27_events drives those) straight into the stream, to keep this short
    const node = { id: "test01", tag: "t1", address: "127.0.0.1:1" };
    for (const [type, data] of [["node_draining", { node }], ["node_down", { node }]])
      await xadd("chatcluster", type, data);
    const all = ["user_online", "user_offline", "member_joined", "member_left", "room_occupied", "room_vacated",
      "message", "private_message", "node_up", "node_draining", "node_down"];
    await eventually(() => {
      const types = new Set([...rx.delivered().values()].map((e) => e.type));
      return all.every((t) => types.has(t));
    }, LONG, "every type delivered");
    for (const g of rx.got) {
      assert.equal(g.valid, true, "signature");
      assert.equal(g.headers["x-chatcluster-webhook-id"], "all");
      assert.ok(Math.abs(Number(g.headers["x-chatcluster-timestamp"]) - Date.now() / 1000) < 600);
    }
    const msg = [...rx.delivered().values()].find((e) => e.type === "message");
    assert.equal(msg.data.message.id, sent.id);
    assert.equal(msg.data.message.text, "hi ✓");
    for (const e of rx.delivered().values()) assert.deepEqual(Object.keys(e).sort(), ["data", "id", "node", "ts", "type"]);
    // the figures
    const metrics = (await httpRequest(`${a.url}/metrics`)).body;
    assert.match(metrics, /chatcluster_webhook_delivered_total\{endpoint="all"\} [1-9]/);
    for (const m of ["failed_total", "retrying", "oldest_pending_seconds", "dead_total"])
      assert.match(metrics, new RegExp(`chatcluster_webhook_${m}\\{endpoint="all"\\} \\d+`));
    const stats = JSON.parse((await api(a, "GET", "/api/v1/webhooks")).body).webhooks.find((w) => w.id === "all").stats;
    assert.ok(stats.delivered >= all.length);
  });

  it("events a chatnode adds wake the endpoints: delivered long before the next poll", async () => {
    const rx = await receiver();
    // polls a minute apart: only the chatnode's wake-up on P:events:new can bring these soon
    const a = await admin("woken", ["--webhooks-poll-ms", "60000"]);
    await addEndpoint(a, { id: "woken", url: rx.url });
    await groupReady("woken", "woken");
    const n = await startChatnode(["--app", "chat", "--allow-anonymous", "--redis", redis.url, "--control-prefix", "woken"]);
    servers.push(n);
    await eventually(async () => JSON.parse((await httpRequest(`${n.url}/healthz`)).body).bus?.subscriber === "connected", WAIT_MS);
    const s = io(n.url, { forceNew: true, transports: ["websocket"], reconnection: false, auth: { user: "wanda" } });
    await withTimeout(new Promise((res, rej) => (s.once("connect", res), s.once("connect_error", rej))), WAIT_MS, "connect");
    assert.equal((await s.emitWithAck("join", { room: "w" })).ok, true);
    // messages one after another: wake-ups come while the endpoint reads or sends, and each
    // must still bring its event before the next poll
    const ids = [];
    for (let i = 0; i < 40; i++) {
      ids.push((await s.emitWithAck("message", { room: "w", text: `soon ${i}` })).id);
      if (i % 8 === 7) await new Promise((r) => setTimeout(r, 15));
    }
    await eventually(() => {
      const got = new Set([...rx.delivered().values()].filter((e) => e.type === "message").map((e) => e.data.message.id));
      return ids.every((id) => got.has(id));
    }, WAIT_MS, "every message, woken");
    s.disconnect();
  });

  it("a receiver failing with 500 then recovering gets exactly the events sent", async () => {
    let failing = true;
    const rx = await receiver(() => (failing ? 500 : 200));
    const a = await admin("flaky");
    await addEndpoint(a, { id: "flaky", url: rx.url, batch_max: 10 });
    await groupReady("flaky", "flaky");
    const ids = await xaddMany("flaky", 50);
    await eventually(() => rx.got.length >= 5, LONG, "a few failed attempts");
    assert.equal(rx.delivered().size, 0);
    const metrics = (await httpRequest(`${a.url}/metrics`)).body;
    assert.match(metrics, /chatcluster_webhook_failed_total\{endpoint="flaky"\} [1-9]/);
    failing = false;
    await eventually(() => rx.delivered().size >= ids.length, LONG, "every event");
    assert.deepEqual([...rx.delivered().keys()].sort(), [...ids].sort());
    for (const g of rx.got) assert.equal(g.valid, true);
  });

  it("a hanging receiver does not delay another endpoint", async () => {
    const hang = await receiver(() => "hang");
    const ok = await receiver();
    const a = await admin("hang");
    await addEndpoint(a, { id: "hang", url: hang.url, timeout_ms: 60000 });
    await addEndpoint(a, { id: "fine", url: ok.url });
    await groupReady("hang", "hang");
    await groupReady("hang", "fine");
    const ids = await xaddMany("hang", 30);
    await eventually(() => hang.got.length >= 1, LONG, "the hanging receiver asked");
    await eventually(() => ok.delivered().size === ids.length, LONG, "the other endpoint's events");
    assert.deepEqual([...ok.delivered().keys()].sort(), [...ids].sort());
    // the hanging one is still waiting on its first request
    assert.equal(hang.got.length, 1);
    assert.equal(hang.hanging.length, 1);
  });

  it("a SIGKILLed adminnode loses no event: restarted, it resumes; another claims", async () => {
    // some failures; then, once 20 events are in, node-a's next batch is held unanswered, so
    // that it holds entries when it is killed
    let holding = true;
    const rx = await receiver((req, rec, n) => {
      if (holding && rx.delivered().size >= 20) return "hang";
      return n % 3 === 0 ? 503 : 200;
    });
    const flags = ["--webhooks-claim-idle-ms", "1500"];
    const a = await admin("kill", [...flags, "--webhooks-consumer", "node-a"]);
    await addEndpoint(a, { id: "k", url: rx.url, batch_max: 5 });
    await groupReady("kill", "k");
    const ids = await xaddMany("kill", 200);
    await eventually(() => rx.hanging.length >= 1, LONG, "a batch under way");
    a.killed = true;
    process.kill(a.pid, "SIGKILL");
    await a.exited;
    servers.splice(servers.indexOf(a), 1);
    const pending = await rc.xPending("kill:events", "kill:wh:k");
    assert.ok(pending.pending > 0, "node-a held a batch when it was killed");
    assert.ok(rx.delivered().size < ids.length);
    const b = await admin("kill", [...flags, "--webhooks-consumer", "node-b"]);
    const a2 = await admin("kill", [...flags, "--webhooks-consumer", "node-a"]);
    holding = false;
    await eventually(() => rx.delivered().size === ids.length, LONG, "every event after the kill");
    assert.deepEqual([...rx.delivered().keys()].sort(), [...ids].sort());
    await eventually(async () => (await rc.xPending("kill:events", "kill:wh:k")).pending === 0, WAIT_MS, "nothing pending");
    await stopAll(b, a2);
    servers.splice(servers.indexOf(b), 1);
    servers.splice(servers.indexOf(a2), 1);
  });

  it("two adminnodes deliver each event once between them", async () => {
    const rx = await receiver();
    const a = await admin("two");
    const b = await admin("two");
    await addEndpoint(a, { id: "two", url: rx.url, batch_max: 20 });
    await groupReady("two", "two");
    await eventually(async () => JSON.parse((await api(b, "GET", "/api/v1/webhooks")).body).webhooks.length === 1, WAIT_MS);
    const ids = [];
    for (let round = 0; round < 10; round++) {
      ids.push(...(await xaddMany("two", 30)));
      await new Promise((r) => setTimeout(r, 30));
    }
    await eventually(() => rx.delivered().size === ids.length, LONG, "every event");
    const all = rx.deliveredIds();
    assert.equal(all.length, new Set(all).size, "no event twice");
    assert.deepEqual([...new Set(all)].sort(), [...ids].sort());
    // both took part (the group shares the stream between its consumers)
    const sa = JSON.parse((await api(a, "GET", "/api/v1/webhooks")).body).webhooks[0].stats.delivered;
    const sb = JSON.parse((await api(b, "GET", "/api/v1/webhooks")).body).webhooks[0].stats.delivered;
    assert.equal(sa + sb, ids.length);
  });

  it("dead letters: listed after --webhooks-give-up-ms, replayed once the receiver is fixed", async () => {
    let broken = true;
    const rx = await receiver(() => (broken ? 500 : 200));
    const a = await admin("dead", ["--webhooks-give-up-ms", "800"]);
    await addEndpoint(a, { id: "d", url: rx.url, batch_max: 50 });
    await groupReady("dead", "d");
    const ids = await xaddMany("dead", 3);
    let dead;
    await eventually(async () => {
      dead = JSON.parse((await api(a, "GET", "/api/v1/webhooks/dead?endpoint=d")).body).dead;
      return dead.reduce((n, d) => n + d.events.length, 0) === 3;
    }, LONG, "the dead letters");
    for (const d of dead) {
      assert.equal(d.endpoint, "d");
      assert.equal(d.status, 500);
      assert.ok(d.attempts >= 1);
      assert.ok(d.last_attempt >= d.first_attempt);
      assert.match(d.error, /500/);
    }
    assert.deepEqual(dead.flatMap((d) => d.events.map((e) => e.id)).sort(), [...ids].sort());
    assert.deepEqual(JSON.parse((await api(a, "GET", "/api/v1/webhooks/dead?endpoint=other")).body).dead, []);
    assert.match((await httpRequest(`${a.url}/metrics`)).body, /chatcluster_webhook_dead_total\{endpoint="d"\} [1-9]/);
    // still broken: the replay fails and the letter stays
    const r1 = await api(a, "POST", `/api/v1/webhooks/dead/${dead[0].id}/replay`);
    assert.equal(r1.status, 502, r1.body);
    broken = false;
    for (const d of dead) {
      const r = await api(a, "POST", `/api/v1/webhooks/dead/${d.id}/replay`);
      assert.equal(r.status, 200, r.body);
    }
    assert.deepEqual([...rx.delivered().keys()].sort(), [...ids].sort());
    assert.deepEqual(JSON.parse((await api(a, "GET", "/api/v1/webhooks/dead?endpoint=d")).body).dead, []);
    assert.equal((await api(a, "POST", `/api/v1/webhooks/dead/${dead[0].id}/replay`)).status, 404);
  });

  it("garbage from receivers: a huge body, non-HTTP, a closed connection; adminnode stays well", async () => {
    const huge = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end(Buffer.alloc(8 * 1024 * 1024, 0x41));
      });
    });
    const garbage = net.createServer((s) => {
      s.on("error", () => {});
      s.once("data", () => s.end(Buffer.from("\x00\xffNOT HTTP AT ALL\r\n\r\n" + "\xfe".repeat(5000), "latin1")));
    });
    const closer = net.createServer((s) => s.destroy());
    for (const s of [huge, garbage, closer]) await new Promise((r) => s.listen(0, "127.0.0.1", r));
    try {
      const a = await admin("junk");
      const url = (s) => `http://127.0.0.1:${s.address().port}/`;
      await addEndpoint(a, { id: "huge", url: url(huge) });
      await addEndpoint(a, { id: "garbage", url: url(garbage) });
      await addEndpoint(a, { id: "closer", url: url(closer) });
      for (const id of ["huge", "garbage", "closer"]) await groupReady("junk", id);
      await xaddMany("junk", 5);
      await eventually(async () => {
        const st = Object.fromEntries(JSON.parse((await api(a, "GET", "/api/v1/webhooks")).body).webhooks.map((w) => [w.id, w.stats]));
        return st.huge.delivered === 5 && st.garbage.failed >= 2 && st.closer.failed >= 2;
      }, LONG, "the huge answer accepted, the others failing");
      const t = JSON.parse((await api(a, "POST", "/api/v1/webhooks/garbage/test")).body);
      assert.equal(t.delivered, false);
      assert.ok(t.error);
      assert.equal(JSON.parse((await httpRequest(`${a.url}/healthz`)).body).status, "ok");
    } finally {
      for (const s of [huge, garbage, closer]) {
        s.closeAllConnections?.();
        s.close();
      }
    }
  });
});
