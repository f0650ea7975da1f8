// Engine.IO v3 clients with --allow-eio3: the npm socket.io-client 2.x (Engine.IO v3, Socket.IO
// protocol v4) over polling, WebSocket and the upgrade, against the echo app (the default
// namespace joined at once with the handshake query as auth, a namespace's query as its auth,
// acks both ways, binary both ways, a server disconnect and the reconnect) and against the chat
// app on two nodes and Redis (the token and the anonymous name from the query, a refused token
// as the client's error event, a v3 and a v4 client in one room across the nodes, no recovery
// offsets for the old client); the v3 wire itself with raw requests (payload lengths in UTF-16
// code units, b4 base64, XHR2 binary framing, the client's pings answered and a silent client
// dropped, JSONP refused); and a node without the option refusing v3 as Node does. Exercises
// chatnode/eio_session.c, sio.c and proto/eio3_payload.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync, copyFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { io as io4 } from "socket.io-client";
import { startChatnode, startRedis, stopAll, eventually, httpRequest, busUp, WAIT_MS } from "./lib/harness.mjs";
import { signToken } from "./lib/jwt.mjs";

const require = createRequire(import.meta.url);
const io2 = require("socket.io-client-v2");
const V2_VERSION = require("socket.io-client-v2/package.json").version;

const SECRET = "eio3-test-secret-of-the-chat";
const token = (claims) => signToken(claims, SECRET);

const opened = new Set();
function old(url, opts = {}) {
  const s = io2(url, { forceNew: true, reconnection: false, ...opts });
  opened.add(s);
  return s;
}
function once(s, event, what = event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
    s.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}
/** emit with an ack, as 2.x has it (no emitWithAck). */
function ask(s, event, ...args) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${event}`)), WAIT_MS);
    s.emit(event, ...args, (...answer) => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}
function closeAll() {
  for (const s of opened) s.close();
  opened.clear();
}

/** A raw v3 text payload: each packet as <UTF-16 length>:<packet>. */
const payload = (...packets) => packets.map((p) => `${p.length}:${p}`).join("");
/** The packets of a v3 text payload (JavaScript strings count UTF-16 code units, as the format). */
function packets(body) {
  const out = [];
  for (let i = 0; i < body.length;) {
    const colon = body.indexOf(":", i);
    assert.ok(colon > i, `a length at ${i} of ${JSON.stringify(body)}`);
    const n = Number(body.slice(i, colon));
    out.push(body.slice(colon + 1, colon + 1 + n));
    i = colon + 1 + n;
  }
  return out;
}

describe(`Engine.IO v3 clients (socket.io-client ${V2_VERSION})`, { timeout: 180_000 }, () => {
  let echo, plain;
  before(async () => {
    [echo, plain] = await Promise.all([
      startChatnode(["--app", "echo", "--echo-test-events", "--allow-eio3", "--recovery-window", "0",
        "--ping-interval", "300", "--ping-timeout", "300"]),
      startChatnode(["--app", "echo"]),
    ]);
  });
  after(async () => {
    closeAll();
    await stopAll(echo, plain);
  });

  it("is refused as Node refuses it without the option: 400, code 5, and a connect_error", async () => {
    const r = await httpRequest(`${plain.url}/socket.io/?EIO=3&transport=polling&b64=1`);
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.body), { code: 5, message: "Unsupported protocol version" });
    const s = old(plain.url, { transports: ["polling"] });
    const [err] = await once(s, "connect_error");
    assert.match(String(err?.message ?? err), /xhr poll error/);
    assert.equal(s.connected, false);
  });

  for (const transports of [["polling"], ["websocket"], ["polling", "websocket"]]) {
    const name = transports.join(" then ");
    it(`over ${name}: connects with its query as auth, acks both ways, binary both ways`, async () => {
      const s = old(echo.url, { transports, query: { token: `t-${name}`, n: "1" } });
      const [auth] = await once(s, "auth", "the auth event of the connection");
      assert.deepEqual(auth, { token: `t-${name}`, n: "1" }, "the handshake query, without EIO, transport, t and b64");
      assert.equal(s.connected, true);
      if (transports.length === 2) {
        if (s.io.engine.transport.name !== "websocket") await once(s.io.engine, "upgrade");
      }
      assert.equal(s.io.engine.transport.name, transports.at(-1));

      // client to server with an ack
      assert.deepEqual(await ask(s, "message-with-ack", 1, "two", { three: [3] }), [1, "two", { three: [3] }]);
      // server to client with an ack, which the server shows as ack-response
      const back = once(s, "ack-response");
      s.once("ack-request", (a, b, ack) => ack(`${a}+${b}`, { from: "v2" }));
      s.emit("request-ack", "x", "y");
      assert.deepEqual(await back, ["x+y", { from: "v2" }]);
      // binary: an event with a Buffer each way, and an ack carrying one
      const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff]);
      const echoed = once(s, "message-back");
      s.emit("message", "bin", bytes, { nested: bytes });
      const [label, got, nested] = await echoed;
      assert.equal(label, "bin");
      assert.ok(Buffer.isBuffer(got), "a Buffer again");
      assert.deepEqual([...got], [...bytes]);
      assert.deepEqual([...nested.nested], [...bytes]);
      const [ackBytes] = await ask(s, "message-with-ack", bytes);
      assert.deepEqual([...ackBytes], [...bytes]);
      // the client pings (every 300 ms here) and the server answers, on this transport
      const [latency] = await once(s.io, "pong", "the answer to a ping");
      assert.equal(typeof latency, "number");
      // text outside the BMP and multi-byte (lengths in UTF-16 units over polling)
      assert.deepEqual(await ask(s, "message-with-ack", "😀 €uro ✓"), ["😀 €uro ✓"]);
      s.close();
    });
  }

  it("joins a namespace with its query as auth; a namespace the app does not serve is an error", async () => {
    const m = new io2.Manager(echo.url, { transports: ["websocket"], reconnection: false, query: { token: "root" } });
    const root = m.socket("/");
    const custom = m.socket("/custom", { query: { room: "lobby", mode: "a b&c" } });
    opened.add(root).add(custom);
    const [rootAuth] = await once(root, "auth");
    assert.deepEqual(rootAuth, { token: "root" });
    const [customAuth] = await once(custom, "auth");
    assert.deepEqual(customAuth, { room: "lobby", mode: "a b&c" }, "the namespace's query, decoded");
    assert.deepEqual(await ask(custom, "message-with-ack", "in /custom"), ["in /custom"]);
    assert.equal(m.engine.id, root.io.engine.id, "one connection for both");
    const nope = m.socket("/nope");
    opened.add(nope);
    const [err] = await once(nope, "error");
    assert.deepEqual(err, { message: "Invalid namespace" });
    assert.deepEqual(await ask(custom, "message-with-ack", "still here"), ["still here"], "the connection goes on");
    m.close();
  });

  it("comes back after the server closes its connection, and works again", async () => {
    const s = old(echo.url, { transports: ["polling", "websocket"], reconnection: true, reconnectionDelay: 100,
      reconnectionDelayMax: 200, query: { token: "again" } });
    await once(s, "connect");
    const firstId = s.io.engine.id;
    const reconnected = once(s, "reconnect");
    s.emit("server-disconnect", true); // the whole connection
    await reconnected;
    assert.notEqual(s.io.engine.id, firstId, "a new Engine.IO session");
    assert.deepEqual(await ask(s, "message-with-ack", "after"), ["after"]);
    // a disconnect of the namespace alone is final for it, as the client has it
    const gone = once(s, "disconnect");
    s.emit("server-disconnect", false);
    assert.deepEqual(await gone, ["io server disconnect"]);
    s.close();
  });

  describe("on the wire", () => {
    const base = () => `${echo.url}/socket.io/?EIO=3`;
    async function handshake(extra = "&b64=1") {
      const r = await httpRequest(`${base()}&transport=polling${extra}`);
      assert.equal(r.status, 200);
      const [open, ...rest] = packets(r.body);
      assert.equal(open[0], "0");
      const doc = JSON.parse(open.slice(1));
      assert.deepEqual(doc.upgrades, ["websocket"]);
      assert.equal(doc.pingInterval, 300);
      assert.equal(doc.pingTimeout, 300);
      return { sid: doc.sid, rest, url: `${base()}&transport=polling${extra}&sid=${doc.sid}` };
    }
    const post = (url, body, type = "text/plain;charset=UTF-8") =>
      httpRequest(url, { method: "POST", body, headers: { "content-type": type } });

    it("lengths in UTF-16 code units, binary as b4 base64, the default namespace joined with 40", async () => {
      const h = await handshake();
      const first = h.rest.length ? h.rest : packets((await httpRequest(h.url)).body);
      assert.ok(first.includes("40"), `the CONNECT answer without payload: ${JSON.stringify(first)}`);
      const auth = packets((await httpRequest(h.url)).body);
      assert.deepEqual(auth, ['42["auth",{}]'], "no query: empty auth");
      // 😀 is two UTF-16 units and four UTF-8 bytes: the length says 2 per emoji
      const event = '42["message","😀😀"]';
      const r = await post(h.url, payload(event));
      assert.equal(r.status, 200);
      assert.equal(r.body, "ok");
      const got = await httpRequest(h.url);
      assert.equal(got.body, `${'42["message-back","😀😀"]'.length}:42["message-back","😀😀"]`);
      assert.deepEqual([[...'42["message-back","😀😀"]'].length, '42["message-back","😀😀"]'.length, Buffer.byteLength('42["message-back","😀😀"]')],
        [23, 25, 29], "code points, UTF-16 units, bytes: the length is the units'");
      // a binary attachment from a base64 client, echoed as b4 base64
      await post(h.url, payload('451-["message",{"_placeholder":true,"num":0}]', "b4AQID"));
      const bin = await httpRequest(h.url);
      assert.equal(bin.headers.get("content-type"), "text/plain; charset=UTF-8");
      assert.deepEqual(packets(bin.body), ['451-["message-back",{"_placeholder":true,"num":0}]', "b4AQID"]);
      await post(h.url, payload("1"));
    });

    it("binary framing for a client that did not ask for base64 (XHR2), both ways", async () => {
      const h = await handshake("");
      if (!h.rest.length) await httpRequest(h.url); // 40
      await httpRequest(h.url); // the auth event
      const head = '451-["message",{"_placeholder":true,"num":0}]';
      // each packet: 0 (text) or 1 (binary), its length as one byte per digit, 0xff, the packet
      const digits = (n) => [...String(n)].map(Number);
      const body = Buffer.concat([
        Buffer.from([0, ...digits(head.length), 0xff]), Buffer.from(head),
        Buffer.from([1, ...digits(4), 0xff, 4, 1, 2, 3]),
      ]);
      const r = await post(h.url, body, "application/octet-stream");
      assert.equal(r.status, 200);
      const got = await fetch(h.url);
      assert.equal(got.headers.get("content-type"), "application/octet-stream");
      const bytes = Buffer.from(await got.arrayBuffer());
      const back = '451-["message-back",{"_placeholder":true,"num":0}]';
      assert.deepEqual([...bytes], [0, ...digits(back.length), 0xff, ...Buffer.from(back), 1, ...digits(4), 0xff, 4, 1, 2, 3]);
      await post(h.url, payload("1"));
    });

    it("answers the client's pings, and drops a client that stops pinging", async () => {
      const h = await handshake();
      if (!h.rest.length) await httpRequest(h.url);
      await httpRequest(h.url); // the auth event
      for (let i = 0; i < 3; i++) {
        await post(h.url, payload("2"));
        assert.deepEqual(packets((await httpRequest(h.url)).body), ["3"]);
      }
      // a pong is not a client's to send
      const h2 = await handshake();
      await post(h2.url, payload("3"));
      await eventually(async () => (await httpRequest(h2.url)).status === 400, WAIT_MS, "the session to end");
      // silent for pingInterval + pingTimeout: gone (a parked GET gets the close packet)
      const closed = await httpRequest(h.url, { timeoutMs: WAIT_MS });
      const seen = closed.status === 200 ? packets(closed.body) : [];
      assert.ok(closed.status === 400 || seen.includes("1"), `${closed.status} ${closed.body}`);
      assert.equal((await httpRequest(h.url)).status, 400);
    });

    it("carries an Engine.IO app's messages too (eio-echo)", async () => {
      const node = await startChatnode(["--app", "eio-echo", "--allow-eio3"]);
      try {
        const r = await httpRequest(`${node.url}/socket.io/?EIO=3&transport=polling&b64=1`);
        const sid = JSON.parse(packets(r.body)[0].slice(1)).sid;
        const url = `${node.url}/socket.io/?EIO=3&transport=polling&b64=1&sid=${sid}`;
        await httpRequest(url, { method: "POST", body: payload("4héllo 😀", "b4AQID") });
        const seen = [];
        await eventually(async () => {
          seen.push(...packets((await httpRequest(url)).body));
          return seen.length >= 2;
        }, WAIT_MS, "both echoes");
        assert.deepEqual(seen, ["4héllo 😀", "b4AQID"]);
        await httpRequest(url, { method: "POST", body: payload("1") });
      } finally {
        await node.stop();
      }
    });

    it("closes the one session a malformed payload came on, and nothing else", async () => {
      const good = old(echo.url, { transports: ["polling"], query: { token: "bystander" } });
      await once(good, "connect");
      const bodies = ["abc", "99999999999:4", "6:4hell", "1:9", "5", "4:b4A!", "3:b3A",
        "12345678901:4", "1:4\xff", "2:b"];
      for (const body of bodies) {
        const h = await handshake();
        // 400 when the payload does not parse; a payload that parses into a packet the
        // Socket.IO layer refuses ("1:4" then junk) is taken, and that layer ends the session
        const r = await post(h.url, body);
        assert.ok(r.status === 400 || (r.status === 200 && body === "1:4\xff"), `${JSON.stringify(body)}: ${r.status} ${r.body}`);
        const g = await httpRequest(h.url); // gone, or ending with the close packet
        assert.ok(g.status === 400 || (g.status === 200 && packets(g.body).includes("1")),
          `${JSON.stringify(body)}: the session is gone (${g.status} ${g.body})`);
      }
      for (const bytes of [[2, 1, 0xff, 0x34], [0, 10, 0xff, 0x34], [0, 5, 0xff, 0x34, 0x61], [0, 1]]) {
        const h = await handshake("");
        const r = await post(h.url, Buffer.from(bytes), "application/octet-stream");
        assert.equal(r.status, 400, `${bytes}: ${r.status}`);
      }
      assert.deepEqual(await ask(good, "message-with-ack", "still served"), ["still served"]);
      good.close();
    });

    it("reads at most 32 pairs of a handshake's query as auth", async () => {
      // (the transport takes 4 KiB of request head and some 90 query pairs)
      const pairs = Array.from({ length: 60 }, (_, i) => `k${i}=${"v".repeat(20)}`);
      const r = await httpRequest(`${base()}&transport=polling&b64=1&${pairs.join("&")}`);
      assert.equal(r.status, 200);
      const sid = JSON.parse(packets(r.body)[0].slice(1)).sid;
      const url = `${base()}&transport=polling&b64=1&sid=${sid}`;
      let auth;
      await eventually(async () => {
        const event = packets((await httpRequest(url)).body).find((p) => p.startsWith('42["auth"'));
        if (event) auth = JSON.parse(event.slice(2))[1];
        return auth;
      }, WAIT_MS, "the auth event");
      const keys = Object.keys(auth);
      assert.ok(keys.length > 0 && keys.length <= 32, `${keys.length} pairs`);
      assert.deepEqual(keys, keys.map((_, i) => `k${i}`), "the first ones, in order");
      await httpRequest(url, { method: "POST", body: payload("1") });
    });

    it("refuses JSONP polling with a clear error", async () => {
      const r = await httpRequest(`${base()}&transport=polling&j=0`);
      assert.equal(r.status, 400);
      assert.deepEqual(JSON.parse(r.body), { code: 3, message: "JSONP polling is not supported" });
    });
  });
});

describe("Engine.IO v3 clients in the chat, on two nodes", { timeout: 120_000 }, () => {
  let redis, dir, n1, n2;
  before(async () => {
    redis = await startRedis();
    dir = mkdtempSync(path.join(os.tmpdir(), "chatcluster-eio3-"));
    writeFileSync(path.join(dir, "secret"), SECRET);
    const flags = ["--app", "chat", "--allow-eio3", "--redis", redis.url, "--jwt-secret-file", path.join(dir, "secret"),
      "--allow-anonymous", "--ping-interval", "5000", "--ping-timeout", "5000", "--connect-timeout", "1000"];
    [n1, n2] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
    await busUp(n1, n2);
  });
  after(async () => {
    closeAll();
    await stopAll(n1, n2);
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("signs in with the token or the name of the query, and a bad token is the client's error event", async () => {
    const t = token({ sub: "u-ada", name: "Ada", exp: Math.floor(Date.now() / 1000) + 600 });
    const ada = old(n1.url, { transports: ["polling"], query: { token: t } });
    await once(ada, "connect");
    const [joined] = await ask(ada, "join", { room: "old-and-new" });
    assert.equal(joined.ok, true);
    assert.ok(joined.members.some((m) => m.id === "u-ada" && m.name === "Ada"), JSON.stringify(joined.members));
    const guest = old(n2.url, { transports: ["websocket"], query: { user: "grace" } });
    await once(guest, "connect");
    const [g] = await ask(guest, "join", { room: "old-and-new" });
    assert.ok(g.members.some((m) => m.name === "grace"), JSON.stringify(g.members));
    const bad = old(n1.url, { transports: ["polling"], query: { token: "not.a.token" } });
    const [err] = await once(bad, "error");
    assert.equal(typeof err.reason, "string", `the refusal's data: ${JSON.stringify(err)}`);
    assert.equal(bad.connected, false);
    // refused at "/", it joined nothing: --connect-timeout ends its connection
    await eventually(() => bad.io.engine.readyState === "closed", WAIT_MS, "the refused client's connection to end");
    // a token far longer than a short query pair (a JWT with claims) in the query
    const long = token({ sub: "u-long", name: "L".repeat(40), exp: Math.floor(Date.now() / 1000) + 600,
      roles: Array.from({ length: 30 }, (_, i) => `role-${i}`) });
    assert.ok(long.length > 500, `${long.length} bytes`);
    for (const transports of [["polling"], ["websocket"]]) {
      const l = old(n2.url, { transports, query: { token: long, pad: "x".repeat(300) } });
      await once(l, "connect");
      const [j] = await ask(l, "join", { room: "long-token" });
      assert.ok(j.members.some((m) => m.id === "u-long"), JSON.stringify(j.members));
      l.close();
    }
  });

  it("shares a room with a v4 client across the nodes, and gets no recovery offsets", async () => {
    const oldie = old(n1.url, { transports: ["polling", "websocket"], query: { user: "oldie" } });
    await once(oldie, "connect");
    const newbie = io4(n2.url, { forceNew: true, reconnection: false, auth: { user: "newbie" } });
    opened.add(newbie);
    await once(newbie, "connect");
    await ask(oldie, "join", { room: "mixed" });
    await newbie.timeout(WAIT_MS).emitWithAck("join", { room: "mixed" });

    const toNew = once(newbie, "message");
    const [sent] = await ask(oldie, "message", { room: "mixed", text: "from 2.x" });
    assert.equal(sent.ok, true);
    const [m1, offset] = await toNew;
    assert.equal(m1.text, "from 2.x");
    assert.equal(m1.from.name, "oldie");
    assert.match(offset, /^\d+-\d+$/, "the v4 client's recovery offset");

    const toOld = new Promise((resolve) => oldie.on("message", (...args) => args[0].text === "from 4.x" && resolve(args)));
    await newbie.timeout(WAIT_MS).emitWithAck("message", { room: "mixed", text: "from 4.x" });
    const args = await Promise.race([toOld, new Promise((_, reject) => setTimeout(() => reject(new Error("no message")), WAIT_MS))]);
    assert.equal(args.length, 1, `one argument, no offset: ${JSON.stringify(args)}`);
    assert.equal(args[0].from.name, "newbie");
    assert.equal(oldie.io.engine.transport.name, "websocket", "upgraded meanwhile");
  });
});

describe("socket.io-client 2.x in Chromium (XHR2 binary polling, then WebSocket)", { timeout: 120_000 }, () => {
  let node, dir, browser;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "chatcluster-eio3-page-"));
    copyFileSync(require.resolve("socket.io-client-v2/dist/socket.io.js"), path.join(dir, "socket.io.js"));
    writeFileSync(path.join(dir, "index.html"), `<!doctype html><meta charset="utf-8"><title>v2</title>
<script src="socket.io.js"></script>
<script>
  window.run = (transports) => new Promise((resolve) => {
    const log = [];
    const s = io({ transports, forceNew: true, reconnection: false, query: { who: "browser" } });
    s.on("auth", (a) => log.push(["auth", a]));
    s.on("connect", () => {
      const bytes = new Uint8Array([0, 1, 254, 255]);
      s.emit("message", "bin", bytes.buffer, "text ✓ 😀");
      s.once("message-back", (label, back, text) => {
        log.push(["back", label, Array.from(new Uint8Array(back)), text]);
        s.emit("message-with-ack", bytes.buffer, (ack) => {
          log.push(["ack", Array.from(new Uint8Array(ack))]);
          const done = () => { log.push(["transport", s.io.engine.transport.name]); s.close(); resolve(log); };
          if (transports.length > 1 && s.io.engine.transport.name !== "websocket") s.io.engine.once("upgrade", done);
          else done();
        });
      });
    });
    s.on("connect_error", (e) => resolve([["connect_error", String(e)]]));
  });
</script>`);
    node = await startChatnode(["--app", "echo", "--allow-eio3", "--recovery-window", "0", "--static", dir]);
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    });
  });
  after(async () => {
    await browser?.close();
    await stopAll(node);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const transports of [["polling"], ["polling", "websocket"]]) {
    it(`binary both ways over ${transports.join(" then ")}`, async () => {
      const page = await browser.newPage();
      const posts = [];
      page.on("request", (r) => r.method() === "POST" && posts.push(r.headers()["content-type"]));
      await page.goto(`${node.url}/index.html`);
      const log = await page.evaluate((t) => window.run(t), transports);
      assert.deepEqual(log, [
        ["auth", { who: "browser" }],
        ["back", "bin", [0, 1, 254, 255], "text ✓ 😀"],
        ["ack", [0, 1, 254, 255]],
        ["transport", transports.at(-1)],
      ]);
      if (transports.length === 1)
        assert.ok(posts.includes("application/octet-stream"), `a binary POST in XHR2 framing: ${posts.join(", ")}`);
      await page.close();
    });
  }
});
