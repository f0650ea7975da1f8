// Static files (--static DIR): index at /, content types, 404, 405, HEAD, path traversal
// ("..", encoded, NUL, symlinks out of the directory) refused, while the Engine.IO path and
// /healthz behave as without --static. Exercises chatnode/static_files.c and its hook in server.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startChatnode, stopAll, httpRequest, WAIT_MS } from "./lib/harness.mjs";

let node, tmp, root;

/** A request with the path sent exactly as given (fetch would resolve "..", "%2e%2e"). Resolves
 *  { status, headers, body } or { error } when the server drops the connection. */
function rawRequest(port, rawPath, method = "GET") {
  return new Promise((resolve) => {
    const req = http.request(
      { host: "127.0.0.1", port, path: rawPath, method, agent: false, timeout: WAIT_MS },
      (res) => {
        let body = "";
        res.setEncoding("latin1");
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (error) => resolve({ error }));
    req.end();
  });
}

/** Not served: a 4xx answer, or the connection dropped before one. */
function assertRefused(res, what) {
  if (res.error) return;
  assert.ok(res.status >= 400 && res.status < 500, `${what}: status ${res.status}`);
  assert.ok(!res.body.includes("SECRET"), `${what}: the outside file leaked`);
}

describe("static files", { timeout: 60_000 }, () => {
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "chatnode-static-"));
    root = path.join(tmp, "root");
    mkdirSync(path.join(root, "sub"), { recursive: true });
    mkdirSync(path.join(root, "empty"));
    mkdirSync(path.join(tmp, "outside"));
    writeFileSync(path.join(root, "index.html"), "<!doctype html><title>index</title>");
    writeFileSync(path.join(root, "sub", "index.html"), "<p>sub index</p>");
    const files = {
      "app.js": "console.log(1);",
      "mod.mjs": "export {};",
      "style.css": "body{}",
      "logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
      "pic.png": "\x89PNG",
      "favicon.ico": "ico",
      "data.json": "{}",
      "app.js.map": "{}",
      "notes.txt": "plain",
      "blob.bin": "bytes",
      "inside-target.txt": "inside",
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(root, name), text);
    writeFileSync(path.join(root, ".secret"), "SECRET hidden");
    writeFileSync(path.join(tmp, "outside", "secret.txt"), "SECRET outside");
    symlinkSync(path.join(tmp, "outside", "secret.txt"), path.join(root, "escape.txt"));
    symlinkSync("../outside", path.join(root, "escapedir"));
    symlinkSync("inside-target.txt", path.join(root, "inside-link.txt"));
    writeFileSync(path.join(root, "huge.txt"), Buffer.alloc(4 * 1024 * 1024 + 1, 0x61));
    node = await startChatnode(["--app", "echo", "--static", root]);
  });

  after(async () => {
    await stopAll(node);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("serves index.html at / and in a directory with a trailing slash", async () => {
    const res = await httpRequest(`${node.url}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-cache");
    assert.equal(res.body, "<!doctype html><title>index</title>");
    const sub = await httpRequest(`${node.url}/sub/`);
    assert.equal(sub.status, 200);
    assert.equal(sub.body, "<p>sub index</p>");
    const query = await httpRequest(`${node.url}/index.html?v=1`);
    assert.equal(query.status, 200);
    assert.equal(query.body, res.body);
  });

  it("gives each file the Content-Type of its extension", async () => {
    const want = {
      "app.js": "text/javascript; charset=utf-8",
      "mod.mjs": "text/javascript; charset=utf-8",
      "style.css": "text/css; charset=utf-8",
      "logo.svg": "image/svg+xml",
      "pic.png": "image/png",
      "favicon.ico": "image/x-icon",
      "data.json": "application/json",
      "app.js.map": "application/json",
      "notes.txt": "text/plain; charset=utf-8",
      "blob.bin": "application/octet-stream",
    };
    for (const [name, type] of Object.entries(want)) {
      const res = await httpRequest(`${node.url}/${name}`);
      assert.equal(res.status, 200, name);
      assert.equal(res.headers.get("content-type"), type, name);
    }
  });

  it("answers 404 for missing files, directories without an index, and hidden files", async () => {
    for (const p of ["/nope.html", "/sub/nope.js", "/empty/", "/sub", "/.secret"]) {
      const res = await httpRequest(`${node.url}${p}`);
      assert.equal(res.status, 404, p);
      assert.ok(!res.body.includes("SECRET"), p);
    }
  });

  it("refuses files larger than the cap with a message", async () => {
    const res = await httpRequest(`${node.url}/huge.txt`);
    assert.equal(res.status, 500);
    assert.match(res.body, /too large/);
  });

  it("answers HEAD with the headers of GET and no body, on a connection that stays usable", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const head = await new Promise((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port: node.port, path: "/style.css", method: "HEAD", agent }, (res) => {
          res.resume();
          res.on("end", () => resolve(res));
        });
        req.on("error", reject);
        req.end();
      });
      assert.equal(head.statusCode, 200);
      assert.equal(head.headers["content-type"], "text/css; charset=utf-8");
      assert.equal(head.headers["content-length"], "6");
      const get = await new Promise((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port: node.port, path: "/notes.txt", agent }, (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve({ res, body }));
        });
        req.on("error", reject);
        req.end();
      });
      assert.equal(get.res.statusCode, 200);
      assert.equal(get.body, "plain");
      assert.equal(get.res.socket, head.socket, "the same connection served both");
    } finally {
      agent.destroy();
    }
    const missing = await httpRequest(`${node.url}/nope`, { method: "HEAD" });
    assert.equal(missing.status, 404);
    assert.equal(missing.body, "");
  });

  it("answers 405 with Allow to other methods", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const res = await httpRequest(`${node.url}/index.html`, { method, body: method === "DELETE" ? undefined : "x" });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get("allow"), "GET, HEAD", method);
    }
  });

  it("refuses .., encoded traversal and NUL", async () => {
    for (const p of [
      "/../outside/secret.txt",
      "/sub/../../outside/secret.txt",
      "/%2e%2e/outside/secret.txt",
      "/%2E%2E%2Foutside%2Fsecret.txt",
      "/sub/..%2f..%2foutside/secret.txt",
      "/..%5coutside%5csecret.txt",
      `/${"../".repeat(8)}etc/passwd`,
      "/%2fetc/passwd",
      "//etc/passwd",
      "/index.html%00.png",
      "/%00/index.html",
      "/sub%00/index.html",
      "/sub/%2e/../../outside/secret.txt",
    ]) {
      assertRefused(await rawRequest(node.port, p), p);
    }
    // The server is still there.
    assert.equal((await httpRequest(`${node.url}/notes.txt`)).status, 200);
  });

  it("does not follow symlinks out of the directory, and does follow those inside", async () => {
    for (const p of ["/escape.txt", "/escapedir/secret.txt"]) {
      const res = await httpRequest(`${node.url}${p}`);
      assert.equal(res.status, 404, p);
      assert.ok(!res.body.includes("SECRET"), p);
    }
    const inside = await httpRequest(`${node.url}/inside-link.txt`);
    assert.equal(inside.status, 200);
    assert.equal(inside.body, "inside");
  });

  it("leaves the Engine.IO path and /healthz as they are", async () => {
    const hs = await httpRequest(`${node.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(hs.status, 200);
    assert.match(hs.body, /^0\{"sid":/);
    const bad = await httpRequest(`${node.url}/socket.io/`);
    assert.equal(bad.status, 400);
    assert.deepEqual(JSON.parse(bad.body), { code: 5, message: "Unsupported protocol version" });
    const health = await httpRequest(`${node.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).status, "ok");
    assert.equal(health.headers.get("cache-control"), "no-store");
    assert.equal((await httpRequest(`${node.url}/healthz`, { method: "POST", body: "x" })).status, 404);
  });

  it("serves nothing when --static is empty", async () => {
    const bare = await startChatnode(["--app", "echo", "--static", ""]);
    try {
      assert.equal((await httpRequest(`${bare.url}/`)).status, 404);
      assert.equal((await httpRequest(`${bare.url}/index.html`)).status, 404);
    } finally {
      await bare.stop();
    }
  });
});
