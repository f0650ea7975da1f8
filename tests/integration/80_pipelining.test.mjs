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
