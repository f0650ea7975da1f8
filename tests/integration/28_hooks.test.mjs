// The chat's HTTP hooks against a real HTTP server standing in for the application: the auth
// hook admits (with the answer's name, rooms and data), refuses with its reason, and when it
// gives no usable answer (connection refused, too slow, garbage) the fallback decides; a valid
// token signs in without it; answers are cached only when they say so; only the allowed
// headers are forwarded; a client leaving while its sign-in waits, and the in-flight bound.
// With recovery on, a hook session comes back for the same auth only, and the hook is asked
// again: a refusal, or no answer the fallback does not cover, ends the restored session.
// The publish hook accepts, rewrites and refuses messages before they are stored, its
// fallbacks, and one sender's order when the hook answers out of order.
// Exercises chatnode/chat_hooks.c, proto/hook_msg.c, the chat's sign-in and message paths, and
// the pending CONNECT of sio.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { io } from "socket.io-client";
import { startChatnode, startRedis, stopAll, eventually, httpRequest, freePort, withTimeout, WAIT_MS } from "./lib/harness.mjs";
import { signToken } from "./lib/jwt.mjs";

const SECRET = "test-secret-of-the-hooks";
const token = (claims) => signToken(claims, SECRET);

/* ---- the application: /auth and /publish, answering by what the request says ---- */

const seen = { auth: [], publish: [] }; // request documents, in arrival order
const verdicts = new Map(); // auth.nonce -> "admit" | "refuse" | "down", for the "flip" case
const held = []; // responses held open: [{ body, res }]
let heldWaiters = [];
let orderBatch = []; // publish requests of the order test, answered together in reverse

function send(res, status, body, type = "application/json") {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  res.writeHead(status, { "Content-Type": type, "Content-Length": buf.length });
  res.end(buf);
}

function authAnswer(doc, res) {
  const a = doc.auth ?? {};
  const admit = (extra = {}) => send(res, 200, { user: { id: `u-${a.who}`, name: a.name ?? a.who }, ...extra });
  switch (a.case) {
    case "admit": return admit({ rooms: a.rooms ?? ["lobby"], data: { plan: "pro" } });
    case "refuse": return send(res, 403, { error: { code: "banned", message: "you are banned" } });
    case "cache": return admit({ cache_s: 60 });
    case "nocache": return admit();
    case "slow": return; // never answered: the node's timeout ends it
    case "hold":
      held.push({ doc, res });
      for (const w of heldWaiters.splice(0)) w();
      return;
    case "html": return send(res, 200, "<html>hello</html>", "text/html");
    case "types": return send(res, 200, { user: { id: 5, name: ["x"] } });
    case "huge": return send(res, 200, JSON.stringify({ user: { id: "big", name: "big" }, pad: "x".repeat(2 << 20) }));
    case "notutf8":
      return send(res, 200, Buffer.concat([Buffer.from('{"user":{"id":"nu","name":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]));
    case "emoji64": return send(res, 200, { user: { id: "e64", name: "😀".repeat(64) } });
    case "emoji65": return send(res, 200, { user: { id: "e65", name: "😀".repeat(65) } });
    case "longid": return send(res, 200, { user: { id: "i".repeat(65), name: "long" } });
    case "guestid": return send(res, 200, { user: { id: "guest:bob", name: "bob" } });
    case "badroom": return send(res, 200, { user: { id: "br", name: "br" }, rooms: ["user:someone"] });
    case "manyrooms": return send(res, 200, { user: { id: "mr", name: "mr" }, rooms: Array.from({ length: 200 }, (_, i) => `r${i}`) });
    case "fivehundred": return send(res, 500, "oops", "text/plain");
    case "flip": // as the test says now
      switch (verdicts.get(a.nonce)) {
        case "admit": return admit({ rooms: a.rooms ?? [] });
        case "refuse": return send(res, 403, { error: { code: "revoked", message: "signed out elsewhere" } });
        default: return res.socket.destroy(); // the application is down: a broken connection
      }
    default: return send(res, 200, { nothing: true });
  }
}

function publishAnswer(doc, res) {
  const t = doc.text;
  if (t.startsWith("refuse:")) return send(res, 200, { action: "refuse", code: "spam", message: "no spam here" });
  if (t.startsWith("rewrite:")) return send(res, 200, { action: "rewrite", text: `REWRITTEN ${t.slice(8)}` });
  if (t.startsWith("empty:")) { res.writeHead(204); return res.end(); }
  if (t.startsWith("slow:")) return;
  if (t.startsWith("garbage:")) return send(res, 200, { action: "maybe" });
  if (t.startsWith("order:")) {
    orderBatch.push({ doc, res });
    if (orderBatch.length === 5) {
      // the last message is answered first, the first last
      for (const { res: r } of orderBatch.reverse()) send(r, 200, { action: "accept" });
      orderBatch = [];
    }
    return;
  }
  return send(res, 200, { action: "accept" });
}

const app = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    let doc;
    try {
      doc = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return send(res, 400, { error: { message: "bad request" } });
    }
    if (req.url === "/auth") {
      seen.auth.push(doc);
      return authAnswer(doc, res);
    }
    seen.publish.push(doc);
    return publishAnswer(doc, res);
  });
});

function waitHeld(n) {
  if (held.length >= n) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${n} held requests did not come`)), WAIT_MS);
    const check = () => (held.length >= n ? (clearTimeout(t), resolve()) : heldWaiters.push(check));
    heldWaiters.push(check);
  });
}

/* ---- clients ---- */

const opened = new Set();
function client(node, auth, opts = {}) {
  const s = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth, ...opts });
  opened.add(s);
  return s;
}
function connectedOrError(s) {
  return new Promise((resolve) => {
    s.once("connect", () => resolve({ ok: true }));
    s.once("connect_error", (err) => resolve({ ok: false, err }));
  });
}
async function online(node, auth, opts) {
  const s = client(node, auth, opts);
  const r = await connectedOrError(s);
  assert.ok(r.ok, `connect: ${r.err?.message} ${JSON.stringify(r.err?.data)}`);
  return s;
}
async function refused(node, auth) {
  const s = client(node, auth);
  const r = await connectedOrError(s);
  assert.equal(r.ok, false, "the connection should be refused");
  s.close();
  return r.err;
}
const call = (s, ev, arg) => s.timeout(WAIT_MS).emitWithAck(ev, arg);
async function health(node) {
  return JSON.parse((await httpRequest(`${node.url}/healthz`)).body);
}

/** A client that reconnects by itself (quickly) with its pid, as the stock client does. */
function recovering(node, auth) {
  const s = io(node.url, { forceNew: true, transports: ["websocket"], reconnectionDelay: 50, reconnectionDelayMax: 200, auth });
  opened.add(s);
  return s;
}
async function recoveringOnline(node, auth) {
  const s = recovering(node, auth);
  const r = await connectedOrError(s);
  assert.ok(r.ok, `connect: ${r.err?.message} ${JSON.stringify(r.err?.data)}`);
  assert.equal(typeof s._pid, "string", "a session to recover");
  return s;
}
/** Drops s's transport (it would reconnect with its pid), waits until node kept its session,
 *  runs `during`, then lets s reconnect and resolves once it is connected again. */
async function dropAndReturn(node, s, during = async () => {}) {
  const kept = async () => (await health(node)).recovery.kept_total;
  const before = await kept();
  s.io.reconnection(false);
  const gone = new Promise((r) => s.once("disconnect", r));
  s.io.engine.close();
  await withTimeout(gone, WAIT_MS, "disconnect");
  await eventually(async () => (await kept()) > before, WAIT_MS, "the session kept");
  await during();
  const back = new Promise((r) => s.once("connect", r));
  s.io.reconnection(true);
  s.connect();
  await withTimeout(back, WAIT_MS, "reconnect");
}
/** Resolves with [kicked's argument, the disconnect reason] once s is disconnected. */
function kickedAndGone(s) {
  const kicked = new Promise((r) => s.once("kicked", r));
  const gone = new Promise((r) => s.once("disconnect", (reason) => r(reason)));
  return withTimeout(Promise.all([kicked, gone]), WAIT_MS, "kicked and disconnected");
}

let dir, hookPort, deadPort, A, B, C, D, E, F, G1, G2, redis;

describe("the chat's HTTP hooks", { timeout: 240_000 }, () => {
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "hooks-test-"));
    writeFileSync(path.join(dir, "secret"), `${SECRET}\n`);
    await new Promise((r) => app.listen(0, "127.0.0.1", r));
    hookPort = app.address().port;
    deadPort = await freePort(); // nothing listens there: connection refused
    const hook = `http://127.0.0.1:${hookPort}`, dead = `http://127.0.0.1:${deadPort}`;
    const base = ["--app", "chat", "--recovery-window", "0", "--jwt-secret-file", path.join(dir, "secret")];
    [A, B, C, D] = await Promise.all([
      startChatnode([...base, "--auth-hook", `${hook}/auth`, "--auth-hook-fallback", "refuse",
        "--auth-hook-timeout-ms", "1000", "--auth-hook-max-inflight", "2",
        "--auth-hook-headers", "X-App-Session, User-Agent", "--publish-hook", `${hook}/publish`,
        "--publish-hook-timeout-ms", "1000"]),
      startChatnode([...base, "--allow-anonymous", "--auth-hook", `${hook}/auth`, "--auth-hook-fallback", "jwt",
        "--auth-hook-timeout-ms", "1000", "--publish-hook", `${hook}/publish`,
        "--publish-hook-fallback", "accept", "--publish-hook-timeout-ms", "1000"]),
      startChatnode([...base, "--auth-hook", `${dead}/auth`, "--publish-hook", `${dead}/publish`]),
      startChatnode([...base, "--allow-anonymous", "--auth-hook", `${dead}/auth`, "--auth-hook-fallback", "jwt",
        "--publish-hook", `${dead}/publish`, "--publish-hook-fallback", "accept"]),
    ]);
    // recovery on (the default): E refuses when the hook is down, F falls back to tokens/guests
    [E, F] = await Promise.all([
      startChatnode(["--app", "chat", "--jwt-secret-file", path.join(dir, "secret"),
        "--auth-hook", `${hook}/auth`, "--auth-hook-timeout-ms", "2000"]),
      startChatnode(["--app", "chat", "--jwt-secret-file", path.join(dir, "secret"), "--allow-anonymous",
        "--auth-hook", `${hook}/auth`, "--auth-hook-fallback", "jwt", "--auth-hook-timeout-ms", "2000"]),
    ]);
    // a cluster of two through Redis: a session kept on one comes back on the other
    redis = await startRedis();
    const g = ["--app", "chat", "--redis", redis.url, "--jwt-secret-file", path.join(dir, "secret"),
      "--auth-hook", `${hook}/auth`, "--auth-hook-timeout-ms", "2000"];
    [G1, G2] = await Promise.all([startChatnode(g), startChatnode(g)]);
  });
  after(async () => {
    for (const s of opened) s.close();
    for (const { res } of held) res.destroy();
    await stopAll(A, B, C, D, E, F, G1, G2);
    await redis?.stop();
    await new Promise((r) => { app.closeAllConnections(); app.close(r); });
    rmSync(dir, { recursive: true, force: true });
  });

  it("admits with the answer's name and rooms: the user is in them at once", async () => {
    const ann = await online(A, { case: "admit", who: "ann", name: "Ann", rooms: ["lobby", "news"] });
    const doc = seen.auth.at(-1);
    assert.deepEqual(doc.auth, { case: "admit", who: "ann", name: "Ann", rooms: ["lobby", "news"] });
    assert.equal(doc.address, "127.0.0.1");
    assert.equal(doc.namespace, "/");
    assert.equal(typeof doc.node, "string");
    const m = await call(ann, "members", { room: "news" });
    assert.equal(m.ok, true, JSON.stringify(m));
    assert.deepEqual(m.users.map((u) => [u.id, u.name]), [["u-ann", "Ann"]]);
    // a second admitted user hears ann's message in the lobby, from "Ann"
    const bo = await online(A, { case: "admit", who: "bo", rooms: ["lobby"] });
    const got = new Promise((r) => bo.once("message", r));
    assert.equal((await call(ann, "message", { room: "lobby", text: "hello" })).ok, true);
    const msg = await got;
    assert.deepEqual([msg.from.id, msg.from.name, msg.text], ["u-ann", "Ann", "hello"]);
  });

  it("refuses with the application's reason and code", async () => {
    const err = await refused(A, { case: "refuse", who: "eve" });
    assert.equal(err.message, "unauthorized");
    assert.deepEqual(err.data, { reason: "you are banned", code: "banned" });
    // on the node falling back to tokens too: a refusal is the application's word, no fallback
    const err2 = await refused(B, { case: "refuse", who: "eve", user: "eve" });
    assert.deepEqual(err2.data, { reason: "you are banned", code: "banned" });
  });

  it("a token the verifier accepts signs in without asking the hook", async () => {
    const before = seen.auth.length;
    const s = await online(A, { token: token({ sub: "tok-user", exp: Math.floor(Date.now() / 1000) + 600 }) });
    s.close();
    assert.equal(seen.auth.length, before);
    // an invalid token goes to the hook, which sees it
    await online(A, { case: "admit", who: "t2", token: "not-a-token" });
    assert.equal(seen.auth.at(-1).auth.token, "not-a-token");
  });

  it("hook down (connection refused): refuse says sign-in unavailable, jwt falls back", async () => {
    const err = await refused(C, { case: "admit", who: "x" });
    assert.deepEqual(err.data, { reason: "sign-in unavailable", code: "unavailable" });
    const guest = await online(D, { user: "dora" });
    guest.close();
    // the fallback still refuses what it would refuse without a hook
    const err2 = await refused(D, { token: "bad" });
    assert.equal(err2.data.reason, "invalid token");
    const h = await health(C);
    assert.ok(h.hooks.auth.unavailable >= 1, JSON.stringify(h.hooks));
  });

  it("hook too slow: the timeout gives the fallback", async () => {
    const err = await refused(A, { case: "slow", who: "s1" });
    assert.deepEqual(err.data, { reason: "sign-in unavailable", code: "unavailable" });
    const g = await online(B, { case: "slow", user: "sam" });
    g.close();
    assert.ok((await health(A)).hooks.auth.timeouts >= 1);
    assert.ok((await health(B)).hooks.auth.timeouts >= 1);
  });

  it("garbage answers are no answer; the node keeps serving", async () => {
    for (const c of ["html", "types", "huge", "notutf8", "emoji65", "longid", "guestid", "badroom", "manyrooms", "fivehundred", "other"]) {
      const err = await refused(A, { case: c, who: c });
      assert.deepEqual(err.data, { reason: "sign-in unavailable", code: "unavailable" }, c);
    }
    // 64 emoji are a name of 64 characters: admitted
    const e = await online(A, { case: "emoji64", who: "e" });
    e.close();
    const ok = await online(A, { case: "admit", who: "after-garbage" });
    ok.close();
  });

  it("caches an admission only when the answer says so", async () => {
    const nonce = crypto.randomUUID();
    const count = () => seen.auth.filter((d) => d.auth.nonce === nonce).length;
    for (let i = 0; i < 2; i++) (await online(A, { case: "cache", who: "c", nonce })).close();
    assert.equal(count(), 1, "two identical sign-ins, one request");
    const nonce2 = crypto.randomUUID();
    for (let i = 0; i < 2; i++) (await online(A, { case: "nocache", who: "n", nonce: nonce2 })).close();
    assert.equal(seen.auth.filter((d) => d.auth.nonce === nonce2).length, 2);
    assert.ok((await health(A)).hooks.auth.cache_hits >= 1);
  });

  it("forwards only the headers it is told to", async () => {
    const s = await online(A, { case: "admit", who: "hd" },
      { extraHeaders: { "X-App-Session": "s3cret", "X-Other": "nope", "User-Agent": "tester/1" } });
    s.close();
    assert.deepEqual(seen.auth.at(-1).headers, { "x-app-session": "s3cret", "user-agent": "tester/1" });
    await online(B, { case: "admit", who: "hd2" }, { extraHeaders: { "X-App-Session": "s3cret" } });
    assert.deepEqual(seen.auth.at(-1).headers, {});
  });

  it("a client leaving while its sign-in waits costs nothing; the bound refuses past it", async () => {
    held.length = 0;
    const c1 = client(A, { case: "hold", who: "h1" });
    const c2 = client(A, { case: "hold", who: "h2" });
    await waitHeld(2);
    assert.equal((await health(A)).hooks.auth.in_flight, 2);
    // a third sign-in is past --auth-hook-max-inflight 2: unavailable without a request
    const before = seen.auth.length;
    const err = await refused(A, { case: "admit", who: "h3" });
    assert.deepEqual(err.data, { reason: "sign-in unavailable", code: "unavailable" });
    assert.equal(seen.auth.length, before);
    // c1 goes while its sign-in waits: its request is cancelled
    c1.close();
    await eventually(async () => (await health(A)).hooks.auth.in_flight === 1, WAIT_MS, "c1's request cancelled");
    // c2's answer comes: admitted
    const r2 = connectedOrError(c2);
    send(held[1].res, 200, { user: { id: "u-h2", name: "h2" } });
    send(held[0].res, 200, { user: { id: "u-h1", name: "h1" } }); // to a client that left
    assert.ok((await r2).ok);
    assert.equal(c1.connected, false);
    const ok = await online(A, { case: "admit", who: "still" });
    ok.close();
  });

  it("publish: accepted, rewritten, refused", async () => {
    const p = await online(A, { case: "admit", who: "pat", rooms: ["pub"] });
    const q = await online(A, { case: "admit", who: "quinn", rooms: ["pub"] });
    const got = [];
    q.on("message", (m) => got.push(m.text));
    const a1 = await call(p, "message", { room: "pub", text: "plain one" });
    assert.equal(a1.ok, true);
    assert.deepEqual(seen.publish.at(-1), { type: "message", room: "pub", from: { id: "u-pat", name: "pat" }, text: "plain one", node: seen.publish.at(-1).node });
    assert.equal((await call(p, "message", { room: "pub", text: "empty: 204" })).ok, true);
    assert.equal((await call(p, "message", { room: "pub", text: "rewrite:bad words" })).ok, true);
    const r = await call(p, "message", { room: "pub", text: "refuse:buy now" });
    assert.deepEqual(r, { error: { code: "spam", message: "no spam here" } });
    assert.equal((await call(p, "message", { room: "pub", text: "last" })).ok, true);
    await eventually(() => got.includes("last"), WAIT_MS, "the last message");
    assert.deepEqual(got, ["plain one", "empty: 204", "REWRITTEN bad words", "last"]);
    const h = await call(q, "history", { room: "pub", limit: 10 });
    assert.deepEqual(h.messages.map((m) => m.text).sort(), ["REWRITTEN bad words", "empty: 204", "last", "plain one"]);
    // a private message goes to the hook as one
    await call(p, "private", { to: "u-quinn", text: "psst" });
    assert.equal(seen.publish.at(-1).type, "private_message");
    assert.equal(seen.publish.at(-1).to, "u-quinn");
    const hh = await health(A);
    assert.ok(hh.hooks.publish.rewritten >= 1 && hh.hooks.publish.refused >= 1, JSON.stringify(hh.hooks));
  });

  it("publish hook unavailable: refuse or accept as the fallback says", async () => {
    // C: the auth hook is down too, but a token needs no hook
    const t = await online(C, { token: token({ sub: "cal", exp: Math.floor(Date.now() / 1000) + 600 }) });
    await call(t, "join", { room: "down" });
    const r = await call(t, "message", { room: "down", text: "hello?" });
    assert.equal(r.error?.code, "unavailable", JSON.stringify(r));
    const h = await call(t, "history", { room: "down", limit: 10 });
    assert.deepEqual(h.messages, []);
    const g = await online(D, { user: "dan" });
    await call(g, "join", { room: "down" });
    assert.equal((await call(g, "message", { room: "down", text: "through" })).ok, true);
    assert.deepEqual((await call(g, "history", { room: "down", limit: 10 })).messages.map((m) => m.text), ["through"]);
    // a garbage or slow answer on B (fallback accept): stored
    const b = await online(B, { user: "bea" });
    await call(b, "join", { room: "bb" });
    assert.equal((await call(b, "message", { room: "bb", text: "garbage: x" })).ok, true);
    assert.equal((await call(b, "message", { room: "bb", text: "slow: x" })).ok, true);
    assert.ok((await health(B)).hooks.publish.timeouts >= 1);
    // on A (fallback refuse): refused with the chat's error
    const a = await online(A, { case: "admit", who: "al", rooms: ["aa"] });
    assert.equal((await call(a, "message", { room: "aa", text: "garbage: y" })).error?.code, "unavailable");
  });

  it("recovery: a hook session comes back for the same auth, with its rooms and what it missed", async () => {
    const nonce = crypto.randomUUID();
    verdicts.set(nonce, "admit");
    const asked = () => seen.auth.filter((d) => d.auth.nonce === nonce);
    const s = await recoveringOnline(E, { case: "flip", who: "rec", nonce, rooms: ["rec-room"] });
    const other = await online(E, { token: token({ sub: "rec-peer", exp: Math.floor(Date.now() / 1000) + 600 }) });
    assert.equal((await call(other, "join", { room: "rec-room" })).ok, true);
    const id = s.id;
    const got = [];
    s.on("message", (m) => got.push(m.text));
    const admitted = (await health(E)).hooks.auth.admitted;
    await dropAndReturn(E, s, async () => {
      assert.equal((await call(other, "message", { room: "rec-room", text: "while away" })).ok, true);
    });
    assert.equal(s.recovered, true);
    assert.equal(s.id, id);
    await eventually(() => got.includes("while away"), WAIT_MS, "the missed message");
    // still in its room, as the same user
    const m = await call(s, "members", { room: "rec-room" });
    assert.deepEqual(m.users.map((u) => u.id).sort(), ["rec-peer", "u-rec"]);
    // the hook was asked again, with the auth as it first was (the client's pid left out)
    await eventually(() => asked().length === 2, WAIT_MS, "the re-check");
    assert.deepEqual(asked()[1].auth, asked()[0].auth);
    assert.equal(asked()[1].auth.pid, undefined);
    // the hook admitted the same user (its answer is in): the socket stays
    await eventually(async () => (await health(E)).hooks.auth.admitted > admitted, WAIT_MS, "the answer");
    assert.equal((await call(s, "message", { room: "rec-room", text: "back" })).ok, true);
    assert.equal(s.connected, true);
  });

  it("recovery: the same pid with another auth gets a new session; a token session stays its user's", async () => {
    const nonce = crypto.randomUUID();
    verdicts.set(nonce, "admit");
    const s = await recoveringOnline(E, { case: "flip", who: "alt", nonce });
    const id = s.id;
    await dropAndReturn(E, s, async () => {
      s.auth = { case: "flip", who: "alt", nonce, extra: "another credential" };
    });
    assert.ok(!s.recovered, "not recovered");
    assert.notEqual(s.id, id);
    // a CONNECT replaying a token session's pid through the hook restores nothing
    const t = await online(E, { token: token({ sub: "rec-tok", exp: Math.floor(Date.now() / 1000) + 600 }) });
    assert.equal(typeof t._pid, "string", "a token session has its pid");
    const thief = await online(E, { case: "admit", who: "rec-tok", pid: t._pid, offset: "0-0" });
    assert.ok(!thief.recovered);
    assert.notEqual(thief.id, t.id);
    assert.equal((await call(t, "join", { room: "mine" })).ok, true);
  });

  it("recovery: the hook now refusing the auth ends the restored session", async () => {
    const nonce = crypto.randomUUID();
    verdicts.set(nonce, "admit");
    const s = await recoveringOnline(E, { case: "flip", who: "rev", nonce, rooms: ["rev-room"] });
    let ended;
    await dropAndReturn(E, s, async () => {
      verdicts.set(nonce, "refuse");
      ended = kickedAndGone(s);
    });
    assert.equal(s.recovered, true, "restored first");
    const [kicked, reason] = await ended;
    assert.deepEqual(kicked, { reason: "signed out elsewhere", code: "revoked" });
    assert.equal(reason, "io server disconnect");
    assert.equal(s.connected, false);
  });

  it("recovery: the hook down at the re-check ends the session when the fallback refuses", async () => {
    const nonce = crypto.randomUUID();
    verdicts.set(nonce, "admit");
    const s = await recoveringOnline(E, { case: "flip", who: "down", nonce });
    let ended;
    await dropAndReturn(E, s, async () => {
      verdicts.set(nonce, "down");
      ended = kickedAndGone(s);
    });
    assert.equal(s.recovered, true);
    const [kicked, reason] = await ended;
    assert.deepEqual(kicked, { reason: "sign-in unavailable", code: "unavailable" });
    assert.equal(reason, "io server disconnect");
  });

  it("recovery: with the jwt fallback, the hook down keeps only a session the auth signs in as", async () => {
    // a guest signed in through the fallback (the hook down at CONNECT too): kept
    const nonce = crypto.randomUUID();
    verdicts.set(nonce, "down");
    const g = await recoveringOnline(F, { case: "flip", nonce, user: "gina" });
    const gid = g.id;
    const unavailable = (await health(F)).hooks.auth.unavailable;
    await dropAndReturn(F, g);
    assert.equal(g.recovered, true);
    assert.equal(g.id, gid);
    await eventually(async () => (await health(F)).hooks.auth.unavailable > unavailable, WAIT_MS, "the re-check's failure");
    assert.equal((await call(g, "join", { room: "gina-room" })).ok, true, "still connected after the re-check");
    assert.equal(g.connected, true);
    // a hook user (u-hal) whose auth signs in as another (guest:hal) by the fallback: ended
    const nonce2 = crypto.randomUUID();
    verdicts.set(nonce2, "admit");
    const h = await recoveringOnline(F, { case: "flip", who: "hal", nonce: nonce2, user: "hal" });
    let ended;
    await dropAndReturn(F, h, async () => {
      verdicts.set(nonce2, "down");
      ended = kickedAndGone(h);
    });
    assert.equal(h.recovered, true);
    const [kicked, reason] = await ended;
    assert.deepEqual(kicked, { reason: "sign-in unavailable", code: "unavailable" });
    assert.equal(reason, "io server disconnect");
  });

  it("recovery: a hook session moved to another node is checked there too", async () => {
    const nonce = crypto.randomUUID();
    verdicts.set(nonce, "admit");
    const auth = { case: "flip", who: "mover", nonce, rooms: ["move-room"] };
    // kept on G1, back on G2 with its pid: same id and rooms, and the hook asked again
    const s = await recoveringOnline(G1, auth);
    const id = s.id, pid0 = s._pid;
    const kept = async () => (await health(G1)).recovery.kept_total;
    const keptBefore = await kept();
    s.io.reconnection(false);
    s.io.engine.close();
    await eventually(async () => (await kept()) > keptBefore, WAIT_MS, "the session kept");
    const admitted = (await health(G2)).hooks.auth.admitted;
    const back = await online(G2, { ...auth, pid: pid0 });
    assert.equal(back.id, id, "the same session");
    await eventually(async () => (await health(G2)).hooks.auth.admitted > admitted, WAIT_MS, "the re-check");
    const m = await call(back, "members", { room: "move-room" });
    assert.deepEqual(m.users?.map((u) => u.id), ["u-mover"], JSON.stringify(m));
    // dropped again, and the hook revokes it meanwhile: back on G1, it is ended there
    const pid = back._pid;
    const keptG2 = (await health(G2)).recovery.kept_total;
    back.io.engine.close();
    await eventually(async () => (await health(G2)).recovery.kept_total > keptG2, WAIT_MS, "kept again");
    verdicts.set(nonce, "refuse");
    const again = client(G1, { ...auth, pid });
    const ended = kickedAndGone(again);
    assert.ok((await connectedOrError(again)).ok, "restored first");
    assert.equal(again.id, id);
    const [kicked, reason] = await ended;
    assert.deepEqual(kicked, { reason: "signed out elsewhere", code: "revoked" });
    assert.equal(reason, "io server disconnect");
  });

  it("one sender's messages keep their order when the hook answers out of order", async () => {
    const s = await online(A, { case: "admit", who: "ord", rooms: ["ord"] });
    const r = await online(A, { case: "admit", who: "rcv", rooms: ["ord"] });
    const got = [];
    r.on("message", (m) => got.push(m.text));
    const acks = [];
    const order = [];
    for (let i = 0; i < 5; i++) acks.push(call(s, "message", { room: "ord", text: `order:${i}` }).then((a) => { order.push(i); return a; }));
    const answers = await Promise.all(acks);
    for (const a of answers) assert.equal(a.ok, true);
    assert.deepEqual(order, [0, 1, 2, 3, 4], "acks in sending order");
    await eventually(() => got.length === 5, WAIT_MS, "five messages");
    assert.deepEqual(got, [0, 1, 2, 3, 4].map((i) => `order:${i}`));
    const h = await call(r, "history", { room: "ord", limit: 10 });
    const ids = h.messages.map((m) => m.text);
    assert.deepEqual([...ids].sort(), [0, 1, 2, 3, 4].map((i) => `order:${i}`));
    // stored in order: ids grow with the sending order
    const byText = new Map(h.messages.map((m) => [m.text, m.id]));
    const stored = [0, 1, 2, 3, 4].map((i) => byText.get(`order:${i}`));
    const cmp = (x, y) => { const [a1, a2] = x.split("-").map(BigInt); const [b1, b2] = y.split("-").map(BigInt); return a1 === b1 ? (a2 < b2 ? -1 : 1) : (a1 < b1 ? -1 : 1); };
    assert.deepEqual([...stored].sort(cmp), stored);
  });
});
