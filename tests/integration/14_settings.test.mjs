// chatnode settings of a single node, each as README.md's table words it: --upgrade-timeout (a
// probe that never completes is cancelled, and the session goes on polling), --log-level (which
// lines are written, as a flag and as CHATNODE_LOG_LEVEL), the chat's --history-page (messages
// sent with a join, and the history event's default page) and --history-size (messages kept per
// room), and CHATNODE_JWT_SECRET (tokens are verified with it).
// Exercises chatnode/eio_session.c (upgrade deadline), proto/runtime/log.c, chatnode/main.c (SIGHUP),
// chatnode/chat.c (history), chat_storage_memory.c (in-memory store), chat_identity.c (tokens)
// and chat_config.c (the chat's settings).
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { io } from "socket.io-client";
import {
  startChatnode, chatnodeBin, PollingClient, RawSocket, freePort, httpRequest, eventually, withTimeout, WAIT_MS,
} from "./lib/harness.mjs";
import { spawnProcess, waitHealthy, healthz } from "./lib/spawned.mjs";
import { signToken } from "./lib/jwt.mjs";

const dir = mkdtempSync(path.join(os.tmpdir(), "chatnode-settings-"));
const opened = new Set();

function user(node, auth) {
  const s = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth });
  opened.add(s);
  return s;
}

/** Resolves { ok: true } once connected, or { ok: false, err } on connect_error. */
function connectedOrError(s) {
  return withTimeout(new Promise((resolve) => {
    s.once("connect", () => resolve({ ok: true }));
    s.once("connect_error", (err) => resolve({ ok: false, err }));
  }), WAIT_MS, "connect or connect_error");
}

const call = (s, ev, arg) => s.timeout(WAIT_MS).emitWithAck(ev, arg);

const token = (claims, secret) => signToken(claims, secret);

/** A chatnode on a port of its own, logging to `file` (so the harness's listening line is not there). */
async function nodeWithLogFile(file, args, env = {}) {
  const port = await freePort();
  const p = spawnProcess(chatnodeBin(), ["--host", "127.0.0.1", "--port", String(port), "--log-file", file, ...args],
    { env, name: "chatnode" });
  p.url = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(p.url, p);
  } catch (err) {
    p.kill();
    throw err;
  }
  return p;
}

const logText = (file) => readFileSync(file, "utf8");

// polling sessions left open would hold a SIGTERM for the whole default --drain-timeout
const QUICK_STOP = ["--drain-timeout", "500"];

describe("chatnode settings (one node)", { timeout: 120_000 }, () => {
  after(() => {
    for (const s of opened) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("--upgrade-timeout: a probe that never completes is cancelled and the session goes on polling", async () => {
    const node = await startChatnode(["--app", "eio-echo", "--path", "/engine.io/", "--upgrade-timeout", "500",
      "--ping-interval", "60000", "--ping-timeout", "60000", ...QUICK_STOP]);
    try {
      const c = await PollingClient.open(node.url, "/engine.io/");
      assert.deepEqual(c.handshake.upgrades, ["websocket"]);
      const probe = new RawSocket(`${node.wsUrl}/engine.io/?EIO=4&transport=websocket&sid=${encodeURIComponent(c.sid)}`,
        { autoPong: false });
      await withTimeout(probe.opened, WAIT_MS, "the probe WebSocket to open");
      probe.send("2probe");
      assert.equal(await probe.next(), "3probe");
      // the client never sends "5" (upgrade): the server gives up on the probe by itself
      const closed = await probe.waitClose(8000);
      assert.ok(closed, "the probe was closed by the server");
      assert.equal(probe.queue.length, 0, `nothing else came over the probe: ${JSON.stringify(probe.queue)}`);

      // and the session is still a polling one: a message goes there and back
      const post = await c.post("4still polling");
      assert.deepEqual([post.status, post.body], [200, "ok"]);
      let p;
      do p = await c.nextPacket(); while (p === "6"); // a noop may release a GET held during the probe
      assert.equal(p, "4still polling");
      const h = await healthz(node.url);
      assert.deepEqual([h.polling, h.websocket], [1, 0]);
    } finally {
      await node.stop();
    }
  });

  it("--log-level debug writes debug lines; info (the default) does not", async () => {
    const debugLog = path.join(dir, "debug.log");
    const dbg = await nodeWithLogFile(debugLog, ["--app", "echo", "--log-level", "debug", ...QUICK_STOP]);
    try {
      const res = await httpRequest(`${dbg.url}/socket.io/?EIO=4&transport=polling`);
      assert.equal(res.status, 200);
      const sid = JSON.parse(res.body.slice(1)).sid;
      await eventually(() => logText(debugLog).includes(`level=debug msg="session opened" sid=${sid}`), WAIT_MS,
        "the debug line of the new session");
    } finally {
      await dbg.stop();
    }

    const infoLog = path.join(dir, "info.log");
    const info = await nodeWithLogFile(infoLog, ["--app", "echo", ...QUICK_STOP]);
    try {
      const res = await httpRequest(`${info.url}/socket.io/?EIO=4&transport=polling`);
      assert.equal(res.status, 200);
      // a line written after the session opened: once it is there, a debug line would be too
      info.signal("SIGHUP");
      await eventually(() => /level=info msg="log file reopened"/.test(logText(infoLog)), WAIT_MS, "the SIGHUP line");
      const text = logText(infoLog);
      assert.match(text, /level=info msg=listening /);
      assert.doesNotMatch(text, /level=debug/);
    } finally {
      await info.stop();
    }
  });

  it("--log-level warn keeps warnings only, error (CHATNODE_LOG_LEVEL) not even those", async () => {
    // the chat app alone warns at startup that its messages are kept in memory only
    const warnLog = path.join(dir, "warn.log");
    const warn = await nodeWithLogFile(warnLog, ["--app", "chat", "--allow-anonymous", "--log-level", "warn"]);
    await warn.stop();
    const w = logText(warnLog);
    assert.match(w, /level=warn msg="running alone/);
    assert.doesNotMatch(w, /level=(info|debug)/, "no listening line, no stop lines");

    const errorLog = path.join(dir, "error.log");
    const err = await nodeWithLogFile(errorLog, ["--app", "chat", "--allow-anonymous"], { CHATNODE_LOG_LEVEL: "error" });
    await err.stop();
    assert.doesNotMatch(logText(errorLog), /level=(warn|info|debug)/);
  });

  it("--history-page: a join sends that many of the newest messages; --history-size: a room keeps that many", async () => {
    const node = await startChatnode(["--app", "chat", "--allow-anonymous", "--history-page", "3", "--history-size", "4"]);
    try {
      const ann = user(node, { user: "ann" });
      assert.ok((await connectedOrError(ann)).ok);
      assert.deepEqual((await call(ann, "join", { room: "paged" })).history, []);
      for (let i = 0; i < 6; i++) assert.ok((await call(ann, "message", { room: "paged", text: `m${i}` })).ok);

      // the room keeps the newest 4 of the 6
      const all = await call(ann, "history", { room: "paged", limit: 100 });
      assert.deepEqual(all.messages.map((m) => m.text), ["m2", "m3", "m4", "m5"]);

      // a join brings the newest 3, and so does history without a limit
      const ben = user(node, { user: "ben" });
      assert.ok((await connectedOrError(ben)).ok);
      const joined = await call(ben, "join", { room: "paged" });
      assert.equal(joined.ok, true, JSON.stringify(joined));
      assert.deepEqual(joined.history.map((m) => m.text), ["m3", "m4", "m5"]);
      assert.deepEqual(joined.history.map((m) => m.from.id), ["guest:ann", "guest:ann", "guest:ann"]);
      const page = await call(ben, "history", { room: "paged" });
      assert.deepEqual(page.messages.map((m) => m.text), ["m3", "m4", "m5"]);
    } finally {
      await node.stop();
    }
  });

  it("CHATNODE_JWT_SECRET: tokens are verified with it", async () => {
    const secret = crypto.randomBytes(24).toString("hex");
    const node = await startChatnode(["--app", "chat"], { CHATNODE_JWT_SECRET: secret });
    try {
      const exp = Math.floor(Date.now() / 1000) + 300;
      const good = user(node, { token: token({ sub: "tess", name: "Tess", exp }, secret) });
      assert.ok((await connectedOrError(good)).ok, "a token signed with the secret is accepted");
      const joined = await call(good, "join", { room: "signed" });
      assert.deepEqual(joined.members, [{ id: "tess", name: "Tess" }]);

      const forged = await connectedOrError(user(node, { token: token({ sub: "tess", exp }, "another secret") }));
      assert.equal(forged.ok, false, "a token signed with another secret is refused");
      assert.equal(forged.err.message, "unauthorized");
      assert.match(forged.err.data.reason, /invalid token/);
      const guest = await connectedOrError(user(node, { user: "tess" }));
      assert.equal(guest.ok, false, "no guests without --allow-anonymous");
      assert.equal(guest.err.message, "unauthorized");
    } finally {
      await node.stop();
    }
  });
});
