// Hostile clients at the chat layer, through a cluster configured as deploy/cluster.sh
// configures it (Redis with a password, tokens and guests both allowed, nginx in front):
// names and tokens at and over every limit, multi-byte text straddling them, controls, bidi
// overrides, NUL, separators; a guest trying to be a token user; NumericDate claims; client
// message ids that would once collide; storage that must expire; members of a room one is not
// in; the echo app's test events off by default. Each case attacks one thing, and the nodes
// must keep serving (and, like every node the harness stops, exit clean under ASan+UBSan).
// Exercises chatnode/chat.c, chat_identity.c, chat_presence.c, chat_storage_redis.c, app_echo.c,
// proto/chat_store.c and proto/utf8.c.
import { describe, it, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { io } from "socket.io-client";
import { startCluster } from "./lib/cluster.mjs";
import { startChatnode, startRedis, stopAll, eventually, httpRequest, sleep, waitFor, openWsSession, SEP, WAIT_MS } from "./lib/harness.mjs";
import { withoutOffset } from "./lib/clients.mjs";
import { signToken } from "./lib/jwt.mjs";

const E = "\u{1F600}"; // 4 bytes in UTF-8
const CJK = "\u6F22"; // 3 bytes
const now = () => Date.now() / 1000;

let c, rc;
const opened = new Set();

const token = (claims, secret = c.secret) => signToken(claims, secret);

function client(url, auth) {
  const s = io(url, { forceNew: true, reconnection: false, transports: ["websocket"], auth });
  opened.add(s);
  return s;
}

/** Connects: { ok: true, s } or { ok: false, reason }. */
function signIn(auth, url = c.url) {
  const s = client(url, auth);
  return new Promise((resolve) => {
    s.once("connect", () => resolve({ ok: true, s }));
    s.once("connect_error", (err) => resolve({ ok: false, reason: err.data?.reason ?? err.message }));
  });
}

async function online(auth, url) {
  const r = await signIn(auth, url);
  assert.ok(r.ok, `sign-in refused: ${r.reason}`);
  return r.s;
}

const call = (s, ev, arg) => s.timeout(WAIT_MS).emitWithAck(ev, arg);

async function allHealthy() {
  for (const n of Object.values(c.nodes)) assert.equal((await httpRequest(`${n.url}/healthz`)).status, 200);
  assert.equal((await httpRequest(`${c.admin.url}/healthz`)).status, 200);
}

describe("hostile clients at the chat layer (cluster.sh's configuration)", { timeout: 240_000 }, () => {
  before(async () => {
    c = await startCluster({ secure: true });
    rc = createClient({ url: c.redis.url });
    await rc.connect();
  });
  after(async () => {
    for (const s of opened) s.close();
    await rc?.quit();
    await c?.stop();
  });
  afterEach(async () => {
    for (const s of opened) s.close();
    opened.clear();
    await allHealthy();
  });

  it("a 64-emoji guest joins, talks, is listed and kicked through the API, and nothing breaks", async () => {
    const name = "a" + E.repeat(63); // 64 characters, 253 bytes: a cut at 128 bytes falls inside one
    const s = await online({ user: name });
    const other = await online({ user: "witness" });
    const j = await call(s, "join", { room: "emoji" });
    assert.equal(j.ok, true, JSON.stringify(j));
    assert.deepEqual(j.members, [{ id: `guest:${name}`, name }]);
    await call(other, "join", { room: "emoji" });
    const got = waitFor(other, "message");
    assert.equal((await call(s, "message", { room: "emoji", text: "hi" })).ok, true);
    assert.deepEqual((await got)[0].from, { id: `guest:${name}`, name });
    assert.deepEqual((await call(other, "members", { room: "emoji" })).users.map((u) => u.name).sort(), [name, "witness"].sort());
    // what the dashboard lists every 2 s
    const users = await c.api("GET", "/users");
    assert.equal(users.status, 200);
    assert.ok(users.json.users.some((u) => u.id === `guest:${name}` && u.name === name), JSON.stringify(users.json));
    const members = await c.api("GET", "/rooms/emoji/members");
    assert.equal(members.status, 200);
    const kicked = waitFor(s, "kicked");
    const k = await c.api("POST", `/users/${encodeURIComponent(`guest:${name}`)}/disconnect`, { reason: "bye" });
    assert.equal(k.status, 200, JSON.stringify(k.json));
    assert.equal(k.json.disconnected, 1);
    assert.deepEqual(withoutOffset(await kicked), [{ reason: "bye" }]); // recovery is on: an offset ends it
  });

  it("names at the limit in characters and bytes are kept whole: mixed widths, right-to-left, combining marks, separators", async () => {
    for (const name of ["x".repeat(63) + E, CJK.repeat(64), "\u05E9\u05DC\u05D5\u05DD \u05E2\u05D5\u05DC\u05DD", "e\u0301".repeat(32), "a:b|c{d}%e"]) {
      const s = await online({ user: name });
      const j = await call(s, "join", { room: "names" });
      assert.ok(j.members.some((u) => u.id === `guest:${name}` && u.name === name), `${JSON.stringify(name)}: ${JSON.stringify(j.members)}`);
      s.close();
    }
  });

  it("names one over a limit, or with controls, bidi overrides or NUL, are refused with a reason, never cut", async () => {
    for (const user of [E.repeat(65), "x".repeat(64) + E, "x".repeat(65), "", "a\nb", "a\u202Eb", "\u2066x", "a\u0085b", 5, null, ["a"]]) {
      const r = await signIn({ user });
      assert.equal(r.ok, false, JSON.stringify(user));
      assert.match(r.reason, /user must be a name of 1-64 characters/, JSON.stringify(user));
    }
    // a NUL inside the auth object: chatnode's JSON reader refuses the whole object
    const nul = await signIn({ user: "a\u0000b" });
    assert.equal(nul.ok, false);
    assert.match(nul.reason, /missing token or user/);
  });

  it("a token's name of 50 CJK characters is kept whole; longer names and subs are refused, not cut", async () => {
    const exp = now() + 3600;
    const name = CJK.repeat(50); // 150 bytes: cut at 128 before, in the middle of a character
    const s = await online({ token: token({ sub: "u-cjk", name, exp }) });
    const j = await call(s, "join", { room: "cjk" });
    assert.deepEqual(j.members, [{ id: "u-cjk", name }]);
    const ok64 = await signIn({ token: token({ sub: E.repeat(64), exp }) });
    assert.equal(ok64.ok, true, ok64.reason);
    for (const [claims, why] of [
      [{ sub: "u", name: CJK.repeat(65), exp }, /token name/],
      [{ sub: "u", name: 7, exp }, /token name/],
      [{ sub: E.repeat(65), exp }, /token sub/],
      [{ sub: "a\u202Eb", exp }, /token sub/],
      [{ sub: "guest:alice", exp }, /may not start with guest:/],
      [{ sub: 42, exp }, /token sub/],
    ]) {
      const r = await signIn({ token: token(claims) });
      assert.equal(r.ok, false, JSON.stringify(claims));
      assert.match(r.reason, why);
    }
    assert.match((await signIn({ token: 12 })).reason, /token must be a string/);
  });

  it("a guest named like a token user is not that user: it gets none of her messages and cannot send as her", async () => {
    const exp = now() + 3600;
    const alice = await online({ token: token({ sub: "alice", exp }) });
    const fake = await online({ user: "alice" });
    const bob = await online({ user: "bob" });
    const toAlice = [];
    const toFake = [];
    alice.on("private", (m) => toAlice.push(m));
    fake.on("private", (m) => toFake.push(m));
    assert.equal((await call(bob, "private", { to: "alice", text: "for the real alice" })).ok, true);
    assert.equal((await call(bob, "private", { to: "guest:alice", text: "for the guest" })).ok, true);
    await eventually(() => toAlice.length === 1 && toFake.length === 1, WAIT_MS);
    assert.equal(toAlice[0].text, "for the real alice");
    assert.equal(toFake[0].text, "for the guest");
    await call(fake, "join", { room: "imp" });
    await call(bob, "join", { room: "imp" });
    const got = waitFor(bob, "message");
    await call(fake, "message", { room: "imp", text: "I am alice" });
    assert.deepEqual((await got)[0].from, { id: "guest:alice", name: "alice" });
    await sleep(200);
    assert.equal(toAlice.length, 1, "nothing else reached the token user");
  });

  it("exp and nbf are NumericDates: fractions count, other types are refused, exp is required, 30 s of leeway", async () => {
    const refused = async (claims, why) => {
      const r = await signIn({ token: token({ sub: "t", ...claims }) });
      assert.equal(r.ok, false, JSON.stringify(claims));
      assert.match(r.reason, why, JSON.stringify(claims));
    };
    const accepted = async (claims) => {
      const r = await signIn({ token: token({ sub: "t", ...claims }) });
      assert.equal(r.ok, true, `${JSON.stringify(claims)}: ${r.reason}`);
      r.s.close();
    };
    await refused({ exp: 1000.5 }, /expired/); // libjwt's integer getter read this as -1: "no exp"
    await refused({ exp: now() - 3600.25 }, /expired/);
    await refused({ exp: now() - 40 }, /expired/);
    await accepted({ exp: now() - 10 }); // within the leeway
    await accepted({ exp: now() + 3600.75 });
    await accepted({ exp: 1e300 });
    await refused({ exp: "99999999999" }, /NumericDate/);
    await refused({ exp: String(Math.floor(now()) + 3600) }, /NumericDate/);
    await refused({ exp: null }, /NumericDate/);
    await refused({ exp: [now() + 60] }, /NumericDate/);
    await refused({}, /token has no exp/);
    await refused({ exp: now() + 60, nbf: now() + 3600.5 }, /not yet valid/);
    await refused({ exp: now() + 60, nbf: "0" }, /NumericDate/);
    await accepted({ exp: now() + 60, nbf: now() + 10 }); // within the leeway
  });

  it("--jwt-audience, --jwt-issuer and --jwt-allow-no-exp", async () => {
    const node = await startChatnode(["--app", "chat", "--jwt-audience", "chat", "--jwt-issuer", "https://auth.example",
      "--jwt-allow-no-exp", "--jwt-leeway", "0"], { CHATNODE_JWT_SECRET: "aud-secret" });
    try {
      const tok = (claims) => ({ token: token({ sub: "t", iss: "https://auth.example", aud: "chat", ...claims }, "aud-secret") });
      const ok = async (claims) => assert.equal((await signIn(tok(claims), node.url)).ok, true, JSON.stringify(claims));
      const no = async (claims, why) => assert.match((await signIn(tok(claims), node.url)).reason ?? "accepted", why, JSON.stringify(claims));
      await ok({});
      await ok({ aud: ["other", "chat"] });
      await no({ aud: "other" }, /audience/);
      await no({ aud: undefined }, /audience/);
      await no({ aud: ["Chat"] }, /audience/);
      await no({ iss: "https://evil.example" }, /iss/);
      await no({ iss: undefined }, /iss/);
      await no({ exp: now() - 1 }, /expired/); // no leeway
      assert.match((await signIn({ user: "guest" }, node.url)).reason, /missing token/, "anonymous sign-in is off");
    } finally {
      for (const s of opened) s.close();
      await node.stop();
    }
  });

  it("a client message id cannot swallow another user's message (keys that once collided)", async () => {
    // before: dedupe:room:r:<user>:<id> with ':' allowed in both; "guest:a" + "b:c" and
    // "guest:a:b" + "c" were one key, and the second message was acked with the first's id
    const a = await online({ user: "a" });
    const ab = await online({ user: "a:b" });
    const watcher = await online({ user: "watcher" });
    for (const s of [a, ab, watcher]) await call(s, "join", { room: "r" });
    const seen = [];
    watcher.on("message", (m) => seen.push(m.text));
    const planted = await call(a, "message", { room: "r", text: "planted", id: "b:c" });
    const real = await call(ab, "message", { room: "r", text: "real", id: "c" });
    assert.equal(real.ok, true);
    assert.notEqual(real.id, planted.id);
    await eventually(() => seen.includes("real"), WAIT_MS, "the second message delivered");
    const h = await call(watcher, "history", { room: "r", limit: 10 });
    assert.deepEqual(h.messages.map((m) => m.text), ["planted", "real"]);
    // a retry of the same (user, id) is still one message
    assert.equal((await call(ab, "message", { room: "r", text: "real", id: "c" })).id, real.id);
  });

  it("every stream a client can create expires: conversations with nobody, rooms, dedupe ids", async () => {
    const s = await online({ user: "ttl" });
    assert.equal((await call(s, "private", { to: "guest:nobody:here", text: "hello?", id: "t-1" })).ok, true);
    await call(s, "join", { room: "ttl-room" });
    await call(s, "message", { room: "ttl-room", text: "x" });
    const keys = await rc.keys("socket.io:chat:*");
    const dm = keys.filter((k) => k.startsWith("socket.io:chat:{dm:"));
    assert.ok(dm.includes("socket.io:chat:{dm:guest%3Anobody%3Ahere:guest%3Attl}"), JSON.stringify(dm));
    for (const k of ["socket.io:chat:{dm:guest%3Anobody%3Ahere:guest%3Attl}", "socket.io:chat:{room:ttl-room}"]) {
      const ttl = await rc.ttl(k);
      assert.ok(ttl > 0 && ttl <= 30 * 86400, `${k}: ttl ${ttl}`);
    }
    const dedupe = keys.filter((k) => k.startsWith("socket.io:chat:dedupe:{dm:"));
    assert.equal(dedupe.length, 1, JSON.stringify(dedupe));
    const ttl = await rc.ttl(dedupe[0]);
    assert.ok(ttl > 0 && ttl <= 86400, `dedupe ttl ${ttl}`);
    for (const k of keys) assert.ok((await rc.ttl(k)) !== -1 || k.includes(":presence:"), `${k} never expires`);
  });

  it("messages are gone --history-ttl after the last one, with Redis and alone", async () => {
    const redis = await startRedis();
    const flags = ["--app", "chat", "--allow-anonymous", "--history-ttl", "1"];
    const [clustered, alone] = await Promise.all([startChatnode([...flags, "--redis", redis.url]), startChatnode(flags)]);
    try {
      for (const node of [clustered, alone]) {
        await eventually(async () => {
          const h = JSON.parse((await httpRequest(`${node.url}/healthz`)).body);
          return !h.bus || h.bus.command === "connected";
        }, WAIT_MS, "the bus");
        const s = await online({ user: "brief" }, node.url);
        await call(s, "join", { room: "brief" });
        await call(s, "message", { room: "brief", text: "soon gone" });
        assert.equal((await call(s, "history", { room: "brief" })).messages.length, 1);
        await sleep(2200);
        assert.deepEqual((await call(s, "history", { room: "brief" })).messages, [], "expired");
        s.close();
      }
    } finally {
      for (const s of opened) s.close();
      await stopAll(clustered, alone);
      await redis.stop();
    }
  });

  it("members of a room needs being in it", async () => {
    const insider = await online({ user: "insider" });
    const outsider = await online({ user: "outsider" });
    await call(insider, "join", { room: "secret" });
    assert.deepEqual((await call(outsider, "members", { room: "secret" })).error?.code, "not_found");
    assert.deepEqual((await call(insider, "members", { room: "secret" })).users, [{ id: "guest:insider", name: "insider" }]);
  });

  it("rooms at their limits and with separators work; one over is refused", async () => {
    const s = await online({ user: "rooms" });
    for (const room of ["r".repeat(128), E.repeat(128), "r".repeat(127) + E, "a:b", "a%3Ab", "{tag}", "x|y", "\u05D7\u05D3\u05E8", "e\u0301"]) {
      const j = await call(s, "join", { room });
      assert.equal(j.ok, true, `${JSON.stringify(room).slice(0, 40)}: ${JSON.stringify(j)}`);
      assert.equal(j.room, room);
      assert.equal((await call(s, "message", { room, text: `in ${room.length}` })).ok, true);
      assert.deepEqual((await call(s, "history", { room })).messages.map((m) => m.room), [room]);
      assert.equal((await call(s, "leave", { room })).ok, true);
    }
    // adminnode reads and writes the same streams (it once cut a room's name at 255 bytes)
    const wide = E.repeat(128);
    const sys = await c.api("POST", `/rooms/${encodeURIComponent(wide)}/messages`, { text: "from the API", from: E.repeat(64) });
    assert.equal(sys.status, 201, JSON.stringify(sys.json));
    const h = await c.api("GET", `/rooms/${encodeURIComponent(wide)}/history`);
    assert.equal(h.status, 200, JSON.stringify(h.json));
    assert.deepEqual(h.json.messages.map((m) => [m.room, m.text]), [[wide, `in ${wide.length}`], [wide, "from the API"]]);
    assert.equal((await c.api("POST", "/rooms/x/messages", { text: "t", from: E.repeat(65) })).status, 400);
    // an admin cannot put a user into another user's or socket's own room either
    assert.equal((await c.api("POST", `/rooms/${encodeURIComponent("user:guest:rooms")}/join`, { user: "guest:refused" })).status, 400);
    assert.equal((await c.api("POST", `/rooms/${s.id}/join`, { user: "guest:refused" })).status, 400);
    assert.equal((await c.api("POST", "/rooms/x/messages", { text: "t".repeat(4097) })).status, 400);
    // "a:b" and "a%3Ab" are different rooms with different streams
    assert.equal((await rc.xLen("socket.io:chat:{room:a%3Ab}")), 1);
    assert.equal((await rc.xLen("socket.io:chat:{room:a%253Ab}")), 1);
    const t = await online({ user: "refused" }); // a fresh rate limit bucket
    for (const room of ["r".repeat(129), E.repeat(129), "r".repeat(128) + E, "", "a\u0000", "a\u202Eb", "user:x", "\u0007", t.id]) {
      const j = await call(t, "join", { room });
      assert.equal(j.error?.code, "bad_request", `${JSON.stringify(room).slice(0, 40)}: ${JSON.stringify(j)}`);
    }
    assert.equal((await call(t, "private", { to: "g".repeat(70), text: "x" })).ok, true);
    assert.equal((await call(t, "private", { to: "g".repeat(71), text: "x" })).error?.code, "bad_request");
    assert.equal((await call(t, "history", { room: "x", before: "1-" })).error?.code, "bad_request");
  });

  it("invalid UTF-8 from a client ends only its own session", async () => {
    const node = Object.values(c.nodes)[0];
    const bystander = await online({ user: "bystander" }, node.url);
    // polling: a POST whose packet holds a byte that is never UTF-8
    const open = await httpRequest(`${node.url}/socket.io/?EIO=4&transport=polling`);
    const sid = JSON.parse(open.body.slice(1)).sid;
    const q = `${node.url}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
    assert.equal((await httpRequest(q, { method: "POST", body: '40{"user":"u8"}' })).status, 200);
    const first = await httpRequest(q); // the CONNECT answer
    assert.match(first.body, /^40/);
    const bad = Buffer.concat([Buffer.from('42["join",{"room":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]')]);
    await httpRequest(q, { method: "POST", body: bad });
    // the session ends: its next poll gets the close packet, or the session is already gone
    const next = await httpRequest(q);
    assert.ok(next.status === 400 || next.body.split(SEP).includes("1"), `${next.status} ${next.body}`);
    assert.equal((await httpRequest(q)).status, 400, "the session is gone");
    // WebSocket: a text frame that is not UTF-8 closes that connection
    const { sock } = await openWsSession(node.wsUrl, "/socket.io/");
    sock.ws._socket.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28])); // masked text frame "\xc3("
    await sock.waitClose();
    assert.equal(sock.closeInfo?.code, 1007, JSON.stringify(sock.closeInfo));
    assert.equal((await call(bystander, "join", { room: "still" })).ok, true);
  });
});

describe("the echo app's test events", { timeout: 60_000 }, () => {
  it("exist only with --echo-test-events; the reference behaviour is always there", async () => {
    const plain = await startChatnode(["--app", "echo"]);
    try {
      const a = io(plain.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
      const b = io(plain.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
      await Promise.all([waitFor(a, "connect"), waitFor(b, "connect")]);
      const got = [];
      b.onAny((ev) => got.push(ev));
      assert.deepEqual(await a.timeout(WAIT_MS).emitWithAck("message-with-ack", [1, "two"]), [1, "two"]);
      for (const [ev, ...args] of [["broadcast", null, "spam", 1], ["join", "r"], ["cluster-rooms"], ["server-disconnect", true]])
        await assert.rejects(a.timeout(500).emitWithAck(ev, ...args), /timed out/, `${ev} is answered`);
      await sleep(200);
      assert.deepEqual(got.filter((e) => e === "spam"), [], "nothing was broadcast");
      assert.ok(a.connected && b.connected);
      a.close();
      b.close();
    } finally {
      await plain.stop();
    }
  });
});
