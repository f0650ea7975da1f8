// Regression: HTTP requests pipelined behind a long-poll GET on one connection. libwebsockets
// 4.1 can report the end of a body again and again in that case; the node must drop that
// connection and keep serving everyone else, and still stop cleanly.
// Exercises chatnode/server.c (body completion handling) and eio_session.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startChatnode, stopAll, httpRequest, withTimeout } from "./lib/harness.mjs";

const PATH = "/socket.io/";
let srv;

function rawSession(port, payload) {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1", () => sock.write(payload));
    let data = "";
    sock.on("data", (d) => (data += d));
    sock.on("error", () => {});
    sock.on("close", () => resolve(data));
    setTimeout(() => sock.destroy(), 4000);
  });
}

describe("pipelined requests behind a long-poll GET", { timeout: 60_000 }, () => {
  before(async () => {
    srv = await startChatnode(["--app", "echo", "--path", PATH, "--ping-interval", "500", "--ping-timeout", "2000"]);
  });
  after(() => stopAll(srv));

  for (const [what, second] of [
    ["a POST", (sid) => `POST ${PATH}?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n40`],
    ["a GET /healthz", () => "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"],
  ]) {
    it(`${what} pipelined behind a held GET does not stall the node`, async () => {
      const open = await httpRequest(`${srv.url}${PATH}?EIO=4&transport=polling`);
      const sid = JSON.parse(open.body.slice(1)).sid;
      const first = `GET ${PATH}?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\n\r\n`;
      const answer = await rawSession(srv.port, first + second(sid));
      assert.match(answer, /^HTTP\/1\.1 200/, "the held GET is answered (with the ping)");
      for (let i = 0; i < 3; i++) {
        const res = await withTimeout(httpRequest(`${srv.url}/healthz`, { timeoutMs: 3000 }), 4000, "healthz");
        assert.equal(res.status, 200);
      }
    });
  }
});

/** A raw keep-alive connection: send() a request, reply() waits for one whole response. */
function keepAlive(port) {
  const sock = net.connect(port, "127.0.0.1");
  let buf = "", closedAt = 0, waiter = null;
  sock.setEncoding("latin1");
  sock.on("data", (d) => {
    buf += d;
    waiter?.();
  });
  sock.on("error", () => {});
  const closed = new Promise((r) => sock.on("close", () => {
    closedAt = Date.now();
    waiter?.();
    r();
  }));
  return {
    send: (req) => sock.write(req),
    async reply() {
      for (;;) {
        const head = buf.indexOf("\r\n\r\n");
        const len = head < 0 ? -1 : Number(/content-length: *(\d+)/i.exec(buf.slice(0, head))?.[1] ?? 0);
        if (head >= 0 && buf.length >= head + 4 + len) {
          const r = buf.slice(0, head + 4 + len);
          buf = buf.slice(head + 4 + len);
          return r;
        }
        if (closedAt) throw new Error("closed before a whole reply");
        await new Promise((r) => (waiter = r));
      }
    },
    closed,
    closedAt: () => closedAt,
    destroy: () => sock.destroy(),
  };
}

describe("keep-alive connections between requests", { timeout: 60_000 }, () => {
  let node;
  before(async () => {
    node = await startChatnode(["--app", "echo", "--path", PATH, "--keepalive-timeout", "600",
      "--ping-interval", "1500", "--ping-timeout", "3000", "--cors-origin", "https://app.example"]);
  });
  after(() => stopAll(node));

  it("an idle one is closed after --keepalive-timeout; one in use stays open", async () => {
    const idle = keepAlive(node.port), busy = keepAlive(node.port);
    const t0 = Date.now();
    idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(await idle.reply(), /^HTTP\/1\.1 200/);
    const answered = Date.now();
    for (let i = 0; i < 8; i++) { // 8 requests 200 ms apart: never idle for 600 ms
      busy.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.match(await busy.reply(), /^HTTP\/1\.1 200/);
      await new Promise((r) => setTimeout(r, 200));
    }
    await withTimeout(idle.closed, 5000, "the idle connection to be closed");
    assert.ok(idle.closedAt() - answered >= 500, `closed ${idle.closedAt() - answered} ms after its reply`);
    assert.equal(busy.closedAt(), 0, "the connection in use is still open");
    assert.ok(Date.now() - t0 > 1500);
    busy.destroy();
  });

  it("a held long-poll GET is not idle: it outlives the keep-alive timeout", async () => {
    const open = await httpRequest(`${node.url}${PATH}?EIO=4&transport=polling`);
    const sid = JSON.parse(open.body.slice(1)).sid;
    const c = keepAlive(node.port);
    const held = Date.now();
    c.send(`GET ${PATH}?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const r = await c.reply(); // answered by the ping, 1.5 s later
    assert.match(r, /^HTTP\/1\.1 200[\s\S]*\r\n\r\n2$/);
    assert.ok(Date.now() - held >= 1000, "held past the keep-alive timeout");
    c.send(`POST ${PATH}?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n3`);
    assert.match(await c.reply(), /^HTTP\/1\.1 200[\s\S]*\r\n\r\nok$/);
    c.destroy();
  });

  it("a held GET's answer still follows its request headers: Origin and Connection: close", async () => {
    const open = await httpRequest(`${node.url}${PATH}?EIO=4&transport=polling`);
    const sid = JSON.parse(open.body.slice(1)).sid;
    const c = keepAlive(node.port);
    c.send(`GET ${PATH}?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\n` +
      "Origin: https://app.example\r\nConnection: close\r\n\r\n");
    const r = await c.reply(); // held until the ping
    assert.match(r, /\r\naccess-control-allow-origin: https:\/\/app\.example\r\n/i);
    assert.match(r, /\r\nconnection: close\r\n/i);
    await withTimeout(c.closed, 5000, "the connection to close after the answer");
  });
});
