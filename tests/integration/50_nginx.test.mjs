// The cluster behind nginx, with the configuration of deploy/nginx/gen.sh: two clustered
// chatnodes (tags a and b) and an adminnode, nginx in the foreground on a free port. Polling
// requests reach the node owning their session (no "Session ID unknown"), WebSocket and the
// upgrade work, new sessions spread over both nodes, the chat page and the dashboard (under
// /admin/) load, ip_hash sends one address to one node, and `nginx -t` accepts both modes and
// the TLS block.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";
import {
  startChatnode, startAdminnode, startRedis, startNginx, stopAll, eventually, httpRequest, freePort,
  waitFor, sleep, WAIT_MS,
} from "./lib/harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const GEN = path.resolve(here, "../../deploy/nginx/gen.sh");
const KEY = "nginx-test-admin-key-0123456789";
const FLAGS = ["--app", "chat", "--allow-anonymous", "--ping-interval", "1000", "--ping-timeout", "2000"];

let tmp, redis, nodeA, nodeB, admin, nginx;
const clients = [];

function gen(args) {
  return execFileSync("bash", [GEN, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** `nginx -t` on dir/nginx.conf; returns its output (stderr), fails the test when it fails. */
function nginxTest(dir) {
  const r = spawnSync("nginx", ["-t", "-p", dir, "-c", "nginx.conf", "-e", "logs/error.log"], { encoding: "utf8" });
  assert.equal(r.status, 0, `nginx -t failed:\n${r.stdout}${r.stderr}`);
  return r.stderr;
}

function nodesArgs() {
  return [`a=127.0.0.1:${nodeA.port}`, `b=127.0.0.1:${nodeB.port}`];
}

function client(url, opts = {}) {
  const c = io(url, { forceNew: true, reconnection: false, ...opts });
  clients.push(c);
  return c;
}

function closeClients() {
  for (const c of clients.splice(0)) c.close();
}

async function health(node) {
  return JSON.parse((await httpRequest(`${node.url}/healthz`)).body);
}

/** Access log lines of /socket.io/ requests: { sid, upstream, status }. */
function engineRequests(dir) {
  const lines = readFileSync(path.join(dir, "logs", "access.log"), "utf8").split("\n");
  const out = [];
  for (const line of lines) {
    const m = /"(?:GET|POST) (\/socket\.io\/\S*) HTTP\/[\d.]+" (\d+) \d+ upstream=(\S+)/.exec(line);
    if (!m) continue;
    const sid = /[?&]sid=([^&]+)/.exec(m[1]);
    out.push({ sid: sid ? decodeURIComponent(sid[1]) : null, status: Number(m[2]), upstream: m[3] });
  }
  return out;
}

const tagOf = (sid) => sid.split(".")[0];

describe("the cluster behind nginx (deploy/nginx/gen.sh)", { timeout: 180_000 }, () => {
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "chatcluster-nginx-"));
    chmodSync(tmp, 0o755); // nginx started as root runs its workers as nobody
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
      "-days", "1", "-keyout", path.join(tmp, "key.pem"), "-out", path.join(tmp, "cert.pem")], { stdio: "ignore" });
    redis = await startRedis();
    [nodeA, nodeB] = await Promise.all([
      startChatnode([...FLAGS, "--node-tag", "a", "--redis", redis.url]),
      startChatnode([...FLAGS, "--node-tag", "b", "--redis", redis.url]),
    ]);
    admin = await startAdminnode(["--redis", redis.url], { ADMINNODE_API_KEYS: `${KEY}:admin` });
    const port = await freePort();
    gen(["--prefix", path.join(tmp, "tag"), "--foreground", "--listen", `127.0.0.1:${port}`,
      "--admin", `127.0.0.1:${admin.port}`, ...nodesArgs()]);
    nginx = await startNginx(path.join(tmp, "tag"));
  });

  after(async () => {
    closeClients();
    await nginx?.stop();
    await stopAll(nodeA, nodeB, admin);
    await redis?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("writes configurations nginx -t accepts: tag mode, ip_hash mode, and with a TLS server block", () => {
    const conf = readFileSync(path.join(tmp, "tag", "nginx.conf"), "utf8");
    assert.match(conf, /map \$arg_sid \$chat_backend \{[^}]*"~\^a\\\." node_a;[^}]*"~\^b\\\." node_b;/);
    assert.match(conf, /upstream chat_new \{[^}]*least_conn;/);
    assert.match(conf, /proxy_read_timeout 75s;/);
    assert.match(conf, /proxy_next_upstream error timeout http_503;/);
    assert.match(conf, /proxy_pass http:\/\/admin\/;/);
    assert.doesNotMatch(conf, /^\s*user\s/m);
    assert.match(nginxTest(path.join(tmp, "tag")), /test is successful/);

    gen(["--prefix", path.join(tmp, "iphash-t"), "--mode", "iphash", "--listen", "1", ...nodesArgs()]);
    const ipConf = readFileSync(path.join(tmp, "iphash-t", "nginx.conf"), "utf8");
    assert.match(ipConf, /upstream chat \{[^}]*ip_hash;/);
    assert.doesNotMatch(ipConf, /\$arg_sid/);
    assert.match(ipConf, /^daemon on;/m);
    assert.match(nginxTest(path.join(tmp, "iphash-t")), /test is successful/);

    const cert = path.join(tmp, "cert.pem");
    const key = path.join(tmp, "key.pem");
    gen(["--prefix", path.join(tmp, "tls-t"), "--tls-cert", cert, "--tls-key", key, "--tls-listen", "2",
      "--admin", "127.0.0.1:3", ...nodesArgs()]);
    const tlsConf = readFileSync(path.join(tmp, "tls-t", "nginx.conf"), "utf8");
    assert.match(tlsConf, /listen 2 ssl;/);
    assert.equal(tlsConf.match(/location \/admin\/ \{/g).length, 2);
    assert.match(nginxTest(path.join(tmp, "tls-t")), /test is successful/);
  });

  it("refuses bad input with a message", () => {
    assert.throws(() => gen(["a=nohost"]), /not HOST:PORT/);
    assert.throws(() => gen(["--mode", "random", "a=127.0.0.1:1"]), /--mode is tag or iphash/);
    assert.throws(() => gen([]), /no chatnodes given/);
    assert.throws(() => gen(["a=127.0.0.1:1", "a=127.0.0.1:2"]), /given twice/);
  });

  it("keeps every polling request of a session on the node that owns it", async () => {
    const polls = [];
    for (let i = 0; i < 6; i++) {
      const c = client(nginx.url, { transports: ["polling"], auth: { user: `poller${i}` } });
      await waitFor(c, "connect");
      c.disconnects = [];
      c.on("disconnect", (reason) => c.disconnects.push(reason));
      c.received = 0;
      c.on("message", () => c.received++);
      await c.emitWithAck("join", { room: "poll" });
      polls.push(c);
    }
    const tags = polls.map((c) => tagOf(c.io.engine.id));
    assert.ok(tags.includes("a") && tags.includes("b"), `sessions on both nodes: ${tags}`);

    // a few seconds of traffic: messages both ways and several heartbeat rounds (ping 1 s)
    const until = Date.now() + 4000;
    let sent = 0;
    while (Date.now() < until) {
      for (const c of polls) {
        const ack = await c.timeout(WAIT_MS).emitWithAck("message", { room: "poll", text: `m${sent++}` });
        assert.ok(ack.id, JSON.stringify(ack));
      }
      await sleep(200);
    }
    await eventually(() => polls.every((c) => c.received === sent), WAIT_MS, "every message at every poller");
    for (const c of polls) {
      assert.deepEqual(c.disconnects, [], `${c.io.engine.id} disconnected`);
      assert.equal(c.io.engine.transport.name, "polling");
    }

    const [ha, hb] = await Promise.all([health(nodeA), health(nodeB)]);
    assert.equal(ha.polling, tags.filter((t) => t === "a").length);
    assert.equal(hb.polling, tags.filter((t) => t === "b").length);

    // the access log: every request with a sid went to its node, none was refused
    const portOf = { a: nodeA.port, b: nodeB.port };
    const reqs = engineRequests(path.join(tmp, "tag")).filter((r) => r.sid);
    assert.ok(reqs.length > 6 * 4, `only ${reqs.length} polling requests logged`);
    for (const r of reqs) {
      assert.equal(r.upstream, `127.0.0.1:${portOf[tagOf(r.sid)]}`, `request of ${r.sid} went to ${r.upstream}`);
      assert.equal(r.status, 200, `request of ${r.sid} answered ${r.status}`);
    }
    closeClients();
  });

  it("upgrades polling to WebSocket through nginx, and WebSocket-only clients connect", async () => {
    const up = client(nginx.url, { auth: { user: "upgrader" } });
    await waitFor(up, "connect");
    if (up.io.engine.transport.name !== "websocket") await waitFor(up.io.engine, "upgrade");
    assert.equal(up.io.engine.transport.name, "websocket");
    const ws = client(nginx.url, { transports: ["websocket"], auth: { user: "wsonly" } });
    await waitFor(ws, "connect");
    await up.emitWithAck("join", { room: "ws" });
    await ws.emitWithAck("join", { room: "ws" });
    const got = waitFor(ws, "message");
    await up.emitWithAck("message", { room: "ws", text: "over the upgrade" });
    assert.equal((await got)[0].text, "over the upgrade");

    const node = tagOf(up.io.engine.id) === "a" ? nodeA : nodeB;
    await eventually(async () => (await health(node)).websocket >= 1, WAIT_MS, "the upgraded session on its node");
    closeClients();
  });

  it("spreads 20 new sessions over both nodes (least connections)", async () => {
    await eventually(async () => (await health(nodeA)).connections + (await health(nodeB)).connections === 0,
      WAIT_MS, "the earlier clients to be gone");
    const many = [];
    for (let i = 0; i < 20; i++) {
      const c = client(nginx.url, { transports: ["websocket"], auth: { user: `many${i}` } });
      await waitFor(c, "connect");
      many.push(c);
    }
    const onA = many.filter((c) => tagOf(c.io.engine.id) === "a").length;
    const onB = many.filter((c) => tagOf(c.io.engine.id) === "b").length;
    assert.equal(onA + onB, 20);
    assert.ok(onA >= 5 && onB >= 5, `a: ${onA}, b: ${onB}`);
    const [ha, hb] = await Promise.all([health(nodeA), health(nodeB)]);
    assert.deepEqual([ha.websocket, hb.websocket], [onA, onB]);
    closeClients();
  });

  it("serves the chat page through nginx", async () => {
    const page = await httpRequest(`${nginx.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type"), /text\/html/);
    assert.match(page.body, /socket\.io\.min\.js/);
    const bundle = await httpRequest(`${nginx.url}/socket.io.min.js`);
    assert.equal(bundle.status, 200);
    assert.match(bundle.body, /io/);
  });

  it("publishes adminnode under /admin/: the API, and the dashboard in Chromium", async () => {
    const redirect = await fetch(`${nginx.url}/admin`, { redirect: "manual" });
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get("location"), "/admin/");
    assert.equal((await httpRequest(`${nginx.url}/admin/healthz`)).status, 200);
    assert.equal((await httpRequest(`${nginx.url}/admin/api/v1/nodes`)).status, 401);
    const auth = { Authorization: `Bearer ${KEY}` };
    await eventually(async () => {
      const res = await httpRequest(`${nginx.url}/admin/api/v1/nodes`, { headers: auth });
      const nodes = JSON.parse(res.body).nodes;
      return nodes.length === 2 && nodes.every((n) => n.state === "up");
    }, WAIT_MS, "two nodes up through /admin/api/v1/nodes");
    const appJs = (await httpRequest(`${nginx.url}/admin/app.js`)).body;
    assert.doesNotMatch(appJs, /["`]\/api\/v1/, "the dashboard calls the API with absolute paths");

    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const page = await browser.newPage();
      const failed = [];
      page.on("response", (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      });
      await page.goto(`${nginx.url}/admin/`);
      await page.fill("#key", KEY);
      await page.press("#key", "Enter");
      await page.waitForFunction(() => document.querySelectorAll("#nodes tbody tr").length === 2, null, { timeout: WAIT_MS });
      await page.waitForFunction(() => /redis: connected/.test(document.querySelector("#health")?.textContent), null, { timeout: WAIT_MS });
      const nodesText = await page.textContent("#nodes");
      assert.match(nodesText, /up/);
      assert.deepEqual(failed, []);
    } finally {
      await browser.close();
    }
  });

  it("ip_hash mode sends one client address to one node", async () => {
    const dir = path.join(tmp, "iphash");
    gen(["--prefix", dir, "--foreground", "--mode", "iphash", "--listen", `127.0.0.1:${await freePort()}`, ...nodesArgs()]);
    const ipNginx = await startNginx(dir);
    try {
      const tags = new Set();
      for (let i = 0; i < 8; i++) {
        const c = client(ipNginx.url, { transports: i % 2 ? ["websocket"] : ["polling"], auth: { user: `ip${i}` } });
        await waitFor(c, "connect");
        await c.emitWithAck("join", { room: "ip" });
        tags.add(tagOf(c.io.engine.id));
      }
      assert.equal(tags.size, 1, `one address, several nodes: ${[...tags]}`);
      // a polling session works through it (its requests land on its node)
      const p = clients[0];
      const ack = await p.emitWithAck("message", { room: "ip", text: "hashed" });
      assert.ok(ack.id);
      const reqs = engineRequests(dir).filter((r) => r.sid);
      assert.ok(reqs.length > 0 && reqs.every((r) => r.status === 200), JSON.stringify(reqs.filter((r) => r.status !== 200)));
    } finally {
      closeClients();
      await ipNginx.stop();
    }
  });

  it("serves Socket.IO over TLS from the TLS server block", async () => {
    const dir = path.join(tmp, "tls");
    const [plain, tls] = [await freePort(), await freePort()];
    gen(["--prefix", dir, "--foreground", "--listen", `127.0.0.1:${plain}`, "--tls-listen", `127.0.0.1:${tls}`,
      "--tls-cert", path.join(tmp, "cert.pem"), "--tls-key", path.join(tmp, "key.pem"), ...nodesArgs()]);
    const tlsNginx = await startNginx(dir);
    try {
      const c = client(`https://127.0.0.1:${tls}`, { rejectUnauthorized: false, auth: { user: "secure" } });
      await waitFor(c, "connect");
      if (c.io.engine.transport.name !== "websocket") await waitFor(c.io.engine, "upgrade");
      const joined = await c.emitWithAck("join", { room: "tls" });
      assert.equal(joined.room, "tls");
    } finally {
      closeClients();
      await tlsNginx.stop();
    }
  });
});
