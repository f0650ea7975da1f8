// chatnode's signals with clients connected, as README.md says them: SIGTERM drains (new
// sessions refused with 503, polling and WebSocket alike, while the open ones go on until they
// are closed), stops once every client is gone or after --drain-timeout with a client that was
// never moved; a second SIGTERM, or SIGINT, stops at once.
// Exercises chatnode/main.c (on_signal), drain.c and server.c (the 503 while draining).
import { describe, it, afterEach } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { startChatnode, httpRequest, waitFor, eventually, withTimeout, WAIT_MS } from "./lib/harness.mjs";

// one client moved per step, and the next step a minute later: the second client stays
const ONE_AT_A_TIME = ["--drain-batch", "1", "--drain-interval", "60000"];
const opened = [];

async function echoClients(node, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const c = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
    opened.push(c);
    await waitFor(c, "connect");
    c.reasons = [];
    c.on("disconnect", (r) => c.reasons.push(r));
    out.push(c);
  }
  return out;
}

/** A round trip through the echo app. */
async function echoes(c, text) {
  const back = waitFor(c, "message-back");
  c.emit("message", text);
  return (await back)[0] === text;
}

/** The status and body a WebSocket handshake is answered with. */
function wsHandshake(url) {
  return withTimeout(new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.once("open", () => {
      ws.terminate();
      resolve({ status: 101, body: "" });
    });
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    ws.once("error", () => {});
  }), WAIT_MS, `WebSocket handshake at ${url}`);
}

const count = (text, re) => (text.match(re) || []).length;

describe("chatnode signals with clients connected", { timeout: 120_000 }, () => {
  afterEach(() => {
    for (const c of opened.splice(0)) c.close();
  });

  it("SIGTERM: new sessions get 503 (polling and WebSocket) while the open ones go on; a second SIGTERM stops at once", async () => {
    const node = await startChatnode(["--app", "echo", ...ONE_AT_A_TIME, "--drain-timeout", "60000"]);
    const clients = await echoClients(node, 2);
    const moved = Promise.race(clients.map((c) => waitFor(c, "disconnect", WAIT_MS).then(() => c)));
    process.kill(node.pid, "SIGTERM");
    const first = await moved;
    assert.deepEqual(first.reasons, ["transport close"], "moved off with a close that makes the client reconnect");
    const kept = clients.find((c) => c !== first);

    const poll = await httpRequest(`${node.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(poll.status, 503);
    assert.deepEqual(JSON.parse(poll.body), { code: 3, message: "Server draining" });
    const ws = await wsHandshake(`${node.wsUrl}/socket.io/?EIO=4&transport=websocket`);
    assert.equal(ws.status, 503);
    assert.deepEqual(JSON.parse(ws.body), { code: 3, message: "Server draining" });
    assert.ok(kept.connected && (await echoes(kept, "still served")), "an open session goes on while the node drains");

    const gone = waitFor(kept, "disconnect", 30_000);
    const t0 = Date.now();
    await node.stop("SIGTERM");
    const took = Date.now() - t0;
    await gone;
    assert.ok(took < 15_000, `stopped after ${took} ms (the drain would have taken a minute)`);
    assert.deepEqual(kept.reasons, ["transport close"]);
    const log = node.stderr();
    assert.equal(count(log, /msg="stopping after draining"/g), 1);
    assert.equal(count(log, /msg=stopping signal=SIGTERM/g), 1, "the second SIGTERM stops");
    assert.doesNotMatch(log, /msg=drained/, "without waiting for the drain to end");
  });

  it("SIGINT stops at once with clients connected", async () => {
    const node = await startChatnode(["--app", "echo", ...ONE_AT_A_TIME, "--drain-timeout", "60000"]);
    const clients = await echoClients(node, 3);
    const gone = clients.map((c) => waitFor(c, "disconnect", 30_000));
    const t0 = Date.now();
    await node.stop("SIGINT");
    const took = Date.now() - t0;
    await Promise.all(gone);
    for (const c of clients) assert.deepEqual(c.reasons, ["transport close"]);
    assert.match(node.stderr(), /msg=stopping signal=SIGINT/);
    assert.doesNotMatch(node.stderr(), /draining|msg=drained/, "no drain");
    assert.ok(took < 15_000, `stopped after ${took} ms (the drain would have taken a minute)`);
  });

  it("--drain-timeout: SIGTERM with a client that is not moved stops anyway once it passes", async () => {
    const node = await startChatnode(["--app", "echo", ...ONE_AT_A_TIME, "--drain-timeout", "1000"]);
    const clients = await echoClients(node, 2);
    const gone = clients.map((c) => waitFor(c, "disconnect", 30_000));
    const t0 = Date.now();
    await node.stop("SIGTERM");
    const took = Date.now() - t0;
    await Promise.all(gone);
    for (const c of clients) assert.deepEqual(c.reasons, ["transport close"]);
    const log = node.stderr();
    assert.match(log, /msg="stopping after draining" signal=SIGTERM sessions=2 timeout_ms=1000/);
    assert.match(log, /msg=drained reason=drain-timeout sessions=1\b/, "one client was still there");
    assert.ok(took >= 900, `stopped after ${took} ms, before --drain-timeout`);
    assert.ok(took < 8000, `stopped after ${took} ms (--drain-timeout 1000; the default is 10000)`);
  });

  it("SIGTERM stops as soon as every client is gone, long before --drain-timeout", async () => {
    const node = await startChatnode(["--app", "echo", "--drain-interval", "20", "--drain-timeout", "60000"]);
    const clients = await echoClients(node, 4);
    const gone = clients.map((c) => waitFor(c, "disconnect", 30_000));
    await node.stop("SIGTERM");
    await Promise.all(gone);
    assert.match(node.stderr(), /msg=drained reason=empty sessions=0/);
    await eventually(() => clients.every((c) => c.reasons[0] === "transport close"), WAIT_MS);
  });
});
