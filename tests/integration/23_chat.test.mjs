// The chat app across two chatnodes and Redis: identity (HS256 tokens, anonymous mode, refusals
// with a reason), join/leave with joined/left, messages stored before they are acked and
// delivered once even when retried (also after an ack lost with its connection), private
// messages, typing, history across a restart, cluster-wide presence that forgets a killed node,
// the rate limit, and bad input answered with an error while the node keeps serving. That
// something did not arrive is checked once a later event on the same path has arrived.
// Exercises chatnode/chat.c, chat_identity.c, chat_presence.c and chat_storage_redis.c.
import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { io } from "socket.io-client";
import { startChatnode, startRedis, stopAll, eventually, httpRequest, openWsSession, withTimeout, WAIT_MS, busUp } from "./lib/harness.mjs";
import { signToken } from "./lib/jwt.mjs";

const SECRET = "test-secret-of-the-chat";
const token = (claims, secret = SECRET, alg = "HS256") => signToken(claims, secret, alg);

let redis, dir, n1, n2;
const opened = new Set();

function chatFlags(extra = []) {
  return ["--app", "chat", "--ping-interval", "5000", "--ping-timeout", "5000", "--redis", redis.url,
    "--jwt-secret-file", path.join(dir, "secret"), "--allow-anonymous", "--presence-ttl", "3", ...extra];
}

function user(node, auth, opts = {}) {
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
  const s = user(node, auth, opts);
  const r = await connectedOrError(s);
  assert.ok(r.ok, `connect: ${r.err?.message}`);
  return s;
}

const call = (s, ev, arg) => s.timeout(WAIT_MS).emitWithAck(ev, arg);

function record(s, ...events) {
  const got = [];
  for (const ev of events) s.on(ev, (x) => got.push([ev, x]));
  return got;
}

describe("the chat app on two nodes", { timeout: 180_000 }, () => {
  before(async () => {
    redis = await startRedis();
    dir = mkdtempSync(path.join(os.tmpdir(), "chat-test-"));
    writeFileSync(path.join(dir, "secret"), `${SECRET}\n`);
    [n1, n2] = await Promise.all([startChatnode(chatFlags()), startChatnode(chatFlags())]);
    await busUp(n1);
    await busUp(n2);
  });
  after(async () => {
    for (const s of opened) s.close();
    await stopAll(n1, n2);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    for (const s of opened) s.close();
    opened.clear();
  });

  it("identity: a valid token; bad, expired, unsigned and missing tokens are refused with a reason", async () => {
    const s = await online(n1, { token: token({ sub: "u-1", name: "Uma", exp: Math.floor(Date.now() / 1000) + 60 }) });
    const [r] = [await call(s, "join", { room: "id-room" })];
    assert.deepEqual(r.members, [{ id: "u-1", name: "Uma" }]);
    for (const [auth, reason] of [
      [{ token: token({ sub: "u-2" }, "wrong secret") }, /invalid token/],
      [{ token: token({ sub: "u-2", exp: 1000 }) }, /expired/],
      [{ token: token({ sub: "u-2" }, SECRET, "none") }, /invalid token/],
      [{ token: "not.a.jwt" }, /invalid token/],
      [{ token: token({ name: "no sub", exp: Math.floor(Date.now() / 1000) + 60 }) }, /sub/],
      [{}, /missing/],
    ]) {
      const r2 = await connectedOrError(user(n1, auth));
      assert.equal(r2.ok, false, JSON.stringify(auth));
      assert.equal(r2.err.message, "unauthorized");
      assert.match(r2.err.data.reason, reason);
    }
  });

  it("join, message to the whole room on both nodes, leave with joined/left", async () => {
    const alice = await online(n1, { user: "alice" });
    const alice2 = await online(n2, { user: "alice" }); // the same user on the other node
    const bob = await online(n2, { user: "bob" });
    const gotA = record(alice, "joined", "left", "message");
    const gotA2 = record(alice2, "message");
    const gotB = record(bob, "joined", "left", "message");
    const j1 = await call(alice, "join", { room: "lobby" });
    assert.equal(j1.ok, true);
    assert.deepEqual(j1.members, [{ id: "guest:alice", name: "alice" }]);
    assert.deepEqual(j1.history, []);
    await call(alice2, "join", { room: "lobby" }); // alice again: no second "joined"
    const j2 = await call(bob, "join", { room: "lobby" });
    assert.deepEqual(j2.members.map((u) => u.id).sort(), ["guest:alice", "guest:bob"]);
    await eventually(() => gotA.some(([e, x]) => e === "joined" && x.user.id === "guest:bob"), WAIT_MS);
    assert.equal(gotA.filter(([e, x]) => e === "joined" && x.user.id === "guest:alice").length, 1, "alice joined once");

    const sent = await call(alice, "message", { room: "lobby", text: "hi bob" });
    assert.equal(sent.ok, true);
    assert.match(sent.id, /^\d+-\d+$/);
    await eventually(() => gotB.some(([e]) => e === "message") && gotA2.length && gotA.some(([e]) => e === "message"), WAIT_MS);
    const m = gotB.find(([e]) => e === "message")[1];
    assert.deepEqual(m, { id: sent.id, room: "lobby", from: { id: "guest:alice", name: "alice" }, text: "hi bob", ts: sent.ts });

    assert.deepEqual(await call(alice2, "leave", { room: "lobby" }), { ok: true }); // alice still there on n1
    // n2 decides about "left" after reading the room's presence; a join on n2 after the leave
    // goes the same way behind it, so its "joined" comes after any "left" of alice would
    const mark = await online(n2, { user: "mark" });
    await call(mark, "join", { room: "lobby" });
    await eventually(() => gotB.some(([e, x]) => e === "joined" && x.user.id === "guest:mark"), WAIT_MS, "mark's joined at bob");
    assert.equal(gotB.filter(([e]) => e === "left").length, 0, "no left while alice is still in the room on n1");
    await call(alice, "leave", { room: "lobby" });
    await eventually(() => gotB.some(([e, x]) => e === "left" && x.user.id === "guest:alice"), WAIT_MS);
    const mem = await call(bob, "members", { room: "lobby" });
    assert.deepEqual(mem.users.map((u) => u.id).sort(), ["guest:bob", "guest:mark"]);
    assert.equal(gotB.filter(([e]) => e === "left").length, 1, "left once");
  });

  it("a retried message (same client id) is stored and delivered once", async () => {
    const carol = await online(n1, { user: "carol" });
    const dave = await online(n2, { user: "dave" });
    await call(carol, "join", { room: "retry" });
    await call(dave, "join", { room: "retry" });
    const got = record(dave, "message");
    const first = await call(carol, "message", { room: "retry", text: "once", id: "c-1" });
    const again = await call(carol, "message", { room: "retry", text: "once", id: "c-1" });
    assert.equal(again.id, first.id);
    await call(carol, "message", { room: "retry", text: "sync" });
    await eventually(() => got.some(([, x]) => x.text === "sync"), WAIT_MS);
    assert.equal(got.filter(([, x]) => x.text === "once").length, 1);
    const h = await call(dave, "history", { room: "retry", limit: 10 });
    assert.deepEqual(h.messages.map((x) => x.text), ["once", "sync"]);

    // an ack lost with its connection: eve sends, her connection drops before she reads the
    // answer, she comes back on a new connection and sends the same message under the same id
    const { sock } = await openWsSession(n1.wsUrl, "/socket.io/");
    sock.send('40{"user":"eve"}');
    assert.match(await sock.next(), /^40\{"sid":/);
    sock.send('420["join",{"room":"retry"}]');
    let answer;
    while (!(answer = await sock.next()).startsWith("430")); // (her own "joined" comes first)
    assert.equal(JSON.parse(answer.slice(3))[0].ok, true, answer);
    await withTimeout(new Promise((resolve) => sock.ws.send('421["message",{"room":"retry","text":"lost ack","id":"e-1"}]', resolve)),
      WAIT_MS, "the message to be written");
    sock.close(); // gone without reading the answer
    await eventually(() => got.some(([, x]) => x.text === "lost ack"), WAIT_MS, "the message at dave");
    const delivered = got.find(([, x]) => x.text === "lost ack")[1];
    const eve = await online(n1, { user: "eve" });
    await call(eve, "join", { room: "retry" });
    const retried = await call(eve, "message", { room: "retry", text: "lost ack", id: "e-1" });
    assert.deepEqual(retried, { ok: true, id: delivered.id, ts: delivered.ts }, "the retry gets the first answer");
    await call(carol, "message", { room: "retry", text: "sync 2" });
    await eventually(() => got.some(([, x]) => x.text === "sync 2"), WAIT_MS);
    assert.equal(got.filter(([, x]) => x.text === "lost ack").length, 1, "delivered once");
    const h2 = await call(dave, "history", { room: "retry", limit: 10 });
    assert.deepEqual(h2.messages.map((x) => x.text), ["once", "sync", "lost ack", "sync 2"], "stored once");
  });

  it("private messages reach the recipient's sockets and the sender's other sockets", async () => {
    const frank = await online(n1, { user: "frank" });
    const frank2 = await online(n2, { user: "frank" });
    const gina = await online(n2, { user: "gina" });
    const got = [frank, frank2, gina].map((s) => record(s, "private"));
    const r = await call(frank, "private", { to: "guest:gina", text: "secret" });
    assert.equal(r.ok, true);
    await eventually(() => got[2].length && got[1].length, WAIT_MS);
    assert.deepEqual(got[2][0][1], { id: r.id, from: { id: "guest:frank", name: "frank" }, to: "guest:gina", text: "secret", ts: r.ts });
    assert.deepEqual(got[1][0][1].text, "secret");
    // gina's answer reaches frank's socket after anything his own message sent it
    await call(gina, "private", { to: "guest:frank", text: "got it" });
    await eventually(() => got[0].length, WAIT_MS, "gina's answer at frank");
    assert.deepEqual(got[0].map(([, x]) => x.text), ["got it"], "frank's own message not echoed to the sending socket");
  });

  it("typing goes to the room except the sender", async () => {
    const h1 = await online(n1, { user: "hal" });
    const i1 = await online(n2, { user: "ida" });
    await call(h1, "join", { room: "t" });
    await call(i1, "join", { room: "t" });
    const gotH = record(h1, "typing");
    const gotI = record(i1, "typing");
    await eventually(async () => {
      await call(h1, "typing", { room: "t" });
      return gotI.length > 0;
    }, WAIT_MS);
    assert.deepEqual(gotI[0][1], { room: "t", user: { id: "guest:hal", name: "hal" } });
    // hal's own room message comes after any typing event n1 sent him
    const gotM = record(h1, "message");
    await call(h1, "message", { room: "t", text: "after typing" });
    await eventually(() => gotM.length, WAIT_MS, "hal's message back to hal");
    assert.equal(gotH.length, 0, "typing not sent to the sender");
  });

  it("history pages backwards and survives a chatnode restart", async () => {
    const jo = await online(n1, { user: "jo" });
    await call(jo, "join", { room: "hist" });
    const ids = [];
    for (let i = 0; i < 12; i++) ids.push((await call(jo, "message", { room: "hist", text: `m${i}` })).id);
    const last5 = await call(jo, "history", { room: "hist", limit: 5 });
    assert.deepEqual(last5.messages.map((m) => m.text), ["m7", "m8", "m9", "m10", "m11"]);
    const before = await call(jo, "history", { room: "hist", before: last5.messages[0].id, limit: 3 });
    assert.deepEqual(before.messages.map((m) => m.text), ["m4", "m5", "m6"]);

    await n1.stop();
    n1 = await startChatnode(chatFlags());
    await busUp(n1);
    const jo2 = await online(n1, { user: "jo" });
    const j = await call(jo2, "join", { room: "hist" });
    assert.deepEqual(j.history.map((m) => m.text), ids.map((_, i) => `m${i}`));
  });

  it("presence forgets the users of a killed node", async () => {
    const extra = await startChatnode(chatFlags());
    await busUp(extra);
    const ken = await online(extra, { user: "ken" });
    const lea = await online(n2, { user: "lea" });
    await call(ken, "join", { room: "p" });
    await call(lea, "join", { room: "p" });
    assert.deepEqual((await call(lea, "members", { room: "p" })).users.map((u) => u.id).sort(), ["guest:ken", "guest:lea"]);
    process.kill(extra.pid, "SIGKILL");
    await extra.exited;
    await eventually(async () => {
      const m = await call(lea, "members", { room: "p" });
      return m.users.length === 1 && m.users[0].id === "guest:lea";
    }, 15_000, "ken to disappear once the node's liveness expired");
  });

  it("the rate limit answers rate_limited and recovers; the client stays connected", async () => {
    const mo = await online(n1, { user: "mo" });
    await call(mo, "join", { room: "rl" });
    // --burst 40: the join took one token, so at least the next 39 pass; 200 at once cannot
    // all pass unless the node took 8 s over them (20 tokens a second)
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => call(mo, "typing", { room: "rl", i })));
    assert.ok(answers.slice(0, 39).every((a) => a.ok === true), JSON.stringify(answers.slice(0, 39)));
    const limited = answers.filter((a) => a.error?.code === "rate_limited").length;
    assert.ok(limited > 0, `limited ${limited}`);
    assert.ok(answers.every((a) => a.ok === true || a.error?.code === "rate_limited"));
    assert.ok(mo.connected);
    // tokens come back: an event passes again (how fast is the bucket's business, not this test's)
    await eventually(async () => (await call(mo, "typing", { room: "rl" })).ok === true, WAIT_MS, "a token to come back");
  });

  it("alone (no --redis, the default app), the chat keeps its messages in memory", async () => {
    const alone = await startChatnode(["--allow-anonymous", "--ping-interval", "5000", "--ping-timeout", "5000"]);
    try {
      const pia = await online(alone, { user: "pia" });
      const quin = await online(alone, { user: "quin" }, { transports: ["polling"] });
      const got = record(quin, "message", "joined");
      await call(pia, "join", { room: "mem" });
      const j = await call(quin, "join", { room: "mem" });
      assert.deepEqual(j.members.map((u) => u.id).sort(), ["guest:pia", "guest:quin"]);
      const ids = [];
      for (let i = 0; i < 4; i++) ids.push((await call(pia, "message", { room: "mem", text: `t${i}`, id: `p-${i}` })).id);
      assert.equal((await call(pia, "message", { room: "mem", text: "t0", id: "p-0" })).id, ids[0], "deduplicated");
      await eventually(() => got.filter(([e]) => e === "message").length === 4, WAIT_MS);
      const page = await call(quin, "history", { room: "mem", limit: 2 });
      assert.deepEqual(page.messages.map((m) => m.text), ["t2", "t3"]);
      const older = await call(quin, "history", { room: "mem", before: page.messages[0].id, limit: 10 });
      assert.deepEqual(older.messages.map((m) => m.text), ["t0", "t1"]);
      assert.equal((await call(quin, "private", { to: "guest:pia", text: "hi" })).ok, true);
    } finally {
      await alone.stop();
    }
  });

  it("bad input is answered with an error and the node keeps serving", async () => {
    const ned = await online(n2, { user: "ned" });
    await call(ned, "join", { room: "ok-room" });
    const long = "x".repeat(4097);
    for (const [ev, arg, code] of [
      ["join", { room: "" }, "bad_request"],
      ["join", { room: "a".repeat(129) }, "bad_request"],
      ["join", { room: "bad\u0001name" }, "bad_request"],
      ["join", { room: "user:someone" }, "bad_request"],
      ["join", "not an object", "bad_request"],
      ["join", {}, "bad_request"],
      ["message", { room: "ok-room", text: long }, "bad_request"],
      ["message", { room: "ok-room", text: 42 }, "bad_request"],
      ["message", { room: "ok-room" }, "bad_request"],
      ["message", { room: "not-joined", text: "x" }, "not_found"],
      ["message", { room: "ok-room", text: "x", id: "bad id!" }, "bad_request"],
      ["private", { to: "", text: "x" }, "bad_request"],
      ["history", { room: "ok-room", limit: 1000 }, "bad_request"],
      ["history", { room: "ok-room", limit: "ten" }, "bad_request"],
      ["history", { room: "ok-room", before: "x y" }, "bad_request"],
      ["leave", { room: "never-joined" }, "not_found"],
      ["nonsense", {}, "bad_request"],
    ]) {
      const r = await call(ned, ev, arg);
      assert.equal(r.error?.code, code, `${ev} ${JSON.stringify(arg).slice(0, 60)} -> ${JSON.stringify(r)}`);
    }
    assert.ok(ned.connected);
    const ok = await call(ned, "message", { room: "ok-room", text: "still fine" });
    assert.equal(ok.ok, true);
    const capped = await startChatnode(chatFlags(["--max-rooms", "3"]));
    try {
      await busUp(capped);
      const oz = await online(capped, { user: "oz" });
      const rooms = [];
      for (let i = 0; i < 4; i++) rooms.push(await call(oz, "join", { room: `many-${i}` }));
      assert.deepEqual(rooms.map((r) => r.ok === true), [true, true, true, false], "at most --max-rooms rooms per socket");
      assert.equal(rooms[3].error.code, "bad_request");
      assert.equal((await call(oz, "leave", { room: "many-0" })).ok, true);
      assert.equal((await call(oz, "join", { room: "many-3" })).ok, true);
      // the rooms a socket is in without joining them cannot be left, and do not count
      assert.equal((await call(oz, "leave", { room: "user:oz" })).error?.code, "bad_request");
      assert.equal((await call(oz, "leave", { room: oz.id })).error?.code, "bad_request");
      assert.equal((await call(oz, "leave", { room: "many-1" })).ok, true);
      assert.equal((await call(oz, "join", { room: "many-4" })).ok, true);
      assert.equal((await call(oz, "join", { room: "many-5" })).error?.code, "bad_request", "still at most 3");
      oz.close();
    } finally {
      await capped.stop();
    }
  });
});
