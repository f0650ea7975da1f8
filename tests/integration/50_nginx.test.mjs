// The cluster behind nginx, with the configuration of deploy/nginx/gen.sh: two clustered
// chatnodes (tags a and b) and an adminnode, nginx in the foreground on a free port. Polling
// requests reach the node owning their session (no "Session ID unknown"), WebSocket and the
// upgrade work, new sessions spread over both nodes, the chat page and the dashboard (under
// /admin/) load, ip_hash sends one address to one node, and `nginx -t` accepts both modes and
// the TLS block. Each of the other options is checked by what nginx does with it: the
// configuration on stdout runs, --path routes sessions of another Engine.IO path, --server-name
// answers its Host only, --workers starts that many workers, --read-timeout ends a silent
// upstream's request; the X-Forwarded-* headers and Host reach the chatnodes and adminnode as
// the README says, and the TLS block speaks TLS 1.2 and 1.3 and refuses 1.0 and 1.1.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import tls from "node:tls";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";
import {
  startChatnode, startAdminnode, startRedis, startNginx, stopAll, eventually, httpRequest, freePort,
  waitFor, sleep, withTimeout, wsHandshakeStatus, WAIT_MS,
} from "./lib/harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const GEN = path.resolve(here, "../../deploy/nginx/gen.sh");
const KEY = "nginx-test-admin-key-0123456789";
// nginx runs on this host: the nodes take the client address from its X-Forwarded-For
const FLAGS = ["--app", "chat", "--allow-anonymous", "--ping-interval", "1000", "--ping-timeout", "2000",
  "--trusted-proxies", "127.0.0.1"];
// the address test clients connect to nginx from, so that it differs from nginx's own
const CLIENT_ADDR = "127.0.0.5";

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

/** Access log lines of requests under `sioPath`: { sid, upstream, status }. */
function engineRequests(dir, sioPath = "/socket.io/") {
  const lines = readFileSync(path.join(dir, "logs", "access.log"), "utf8").split("\n");
  const escaped = sioPath.replace(/[.*+?^$()|[\]\\{}]/g, "\\$&");
  const re = new RegExp(`"(?:GET|POST) (${escaped}\\S*) HTTP/[\\d.]+" (\\d+) \\d+ upstream=(\\S+)`);
  const out = [];
  for (const line of lines) {
    const m = re.exec(line);
    if (!m) continue;
    const sid = /[?&]sid=([^&]+)/.exec(m[1]);
    out.push({ sid: sid ? decodeURIComponent(sid[1]) : null, status: Number(m[2]), upstream: m[3] });
  }
  return out;
}

const tagOf = (sid) => sid.split(".")[0];

/** One HTTP(S) request from `localAddress` on its own connection: { status, headers, body }.
 * TLS options (minVersion, maxVersion, ciphers) go to https; the certificate is not checked. */
function requestFrom(url, { localAddress = "127.0.0.1", headers = {}, method = "GET", ...tlsOpts } = {}) {
  const u = new URL(url);
  const mod = u.protocol === "https:" ? https : http;
  return withTimeout(new Promise((resolve, reject) => {
    const req = mod.request(u, { method, localAddress, headers, agent: false, rejectUnauthorized: false, ...tlsOpts }, (res) => {
      const protocol = res.socket.getProtocol?.(); // TLS only
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body, tls: protocol }));
    });
    req.on("error", reject);
    req.end();
  }), WAIT_MS, `${method} ${url} from ${localAddress}`);
}

/** A stand-in upstream that answers every request with what reached it: { url, headers }. */
async function startHeaderEcho() {
  const srv = http.createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ url: req.url, headers: req.headers }));
  });
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  return {
    port: srv.address().port,
    close: () => new Promise((resolve) => {
      srv.closeAllConnections();
      srv.close(resolve);
    }),
  };
}

/** A stand-in node that answers every request at once, except the ones carrying a session id,
 * which it reads and never answers (a hung node); `held()` lists their URLs. */
async function startHoldingUpstream() {
  const held = [];
  const srv = http.createServer((req, res) => {
    if (/[?&]sid=/.test(req.url)) {
      held.push(req.url);
      return;
    }
    res.end("ok\n");
  });
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  return {
    port: srv.address().port,
    held: () => held,
    close: () => new Promise((resolve) => {
      srv.closeAllConnections();
      srv.close(resolve);
    }),
  };
}

/** The worker processes of the nginx master `pid` (its children named "nginx: worker process"). */
function nginxWorkers(pid) {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
  return children.filter((c) => {
    try {
      return readFileSync(`/proc/${c}/cmdline`, "utf8").startsWith("nginx: worker process");
    } catch {
      return false; // gone meanwhile
    }
  });
}

const wsStatus = (url, origin) => wsHandshakeStatus(url, origin, { localAddress: CLIENT_ADDR });

/** A TLS handshake offering `version` only (at OpenSSL security level 0, so that this client
 * does offer TLS 1.0 and 1.1): { protocol } when it completed, { error } when it was refused. */
function tlsHandshake(port, version) {
  return withTimeout(new Promise((resolve) => {
    const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false, minVersion: version, maxVersion: version,
      ciphers: "DEFAULT:@SECLEVEL=0" }, () => {
      const protocol = s.getProtocol();
      s.end();
      resolve({ protocol });
    });
    s.once("error", (error) => resolve({ error }));
  }), WAIT_MS, `a ${version} handshake`);
}

describe("the cluster behind nginx (deploy/nginx/gen.sh)", { timeout: 240_000 }, () => {
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

  it("writes the configuration to stdout without --prefix, and nginx runs it from there", async () => {
    const port = await freePort();
    const args = ["--foreground", "--listen", `127.0.0.1:${port}`, "--admin", `127.0.0.1:${admin.port}`, ...nodesArgs()];
    const cwd = path.join(tmp, "stdout-cwd");
    mkdirSync(cwd);
    const out = spawnSync("bash", [GEN, ...args], { cwd, encoding: "utf8" });
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stderr, "");
    assert.deepEqual(readdirSync(cwd), [], "nothing but stdout is written");
    // the same configuration as --prefix writes (but for the comment naming the arguments)
    gen(["--prefix", path.join(tmp, "stdout-prefix"), ...args]);
    const body = (conf) => conf.replace(/^# Regenerate instead of editing: .*$/m, "");
    assert.equal(body(out.stdout), body(readFileSync(path.join(tmp, "stdout-prefix", "nginx.conf"), "utf8")));
    assert.match(out.stdout, new RegExp(`^# Regenerate instead of editing: gen\\.sh --foreground --listen 127\\.0\\.0\\.1:${port} `, "m"));

    // put where `nginx -p DIR` looks for it, in a directory with the logs/ and tmp/ it says
    // it needs (nginx -t fails on a missing tmp/), it runs as is
    assert.match(out.stdout, /^# directory needs logs\/ and tmp\//m);
    const dir = path.join(tmp, "stdout-run");
    mkdirSync(path.join(dir, "logs"), { recursive: true });
    mkdirSync(path.join(dir, "tmp"));
    writeFileSync(path.join(dir, "nginx.conf"), out.stdout);
    assert.match(nginxTest(dir), /test is successful/);
    const ng = await startNginx(dir);
    try {
      const page = await httpRequest(`${ng.url}/`);
      assert.equal(page.status, 200);
      assert.match(page.body, /socket\.io\.min\.js/);
      const c = client(ng.url, { transports: ["polling"], auth: { user: "from-stdout" } });
      await waitFor(c, "connect");
      assert.equal((await c.emitWithAck("join", { room: "stdout" })).room, "stdout");
      const ah = await httpRequest(`${ng.url}/admin/healthz`);
      assert.equal(ah.status, 200, ah.body);
      assert.match(ah.body, /redis/);
    } finally {
      closeClients();
      await ng.stop();
    }
  });

  it("--path: the Engine.IO location is chatnode's --path, and sessions there keep to their node", async () => {
    // two chatnodes serving Engine.IO at /chat/ (each alone, without Redis)
    const flags = [...FLAGS, "--path", "/chat/"];
    const [c1, c2] = await Promise.all([startChatnode([...flags, "--node-tag", "c1"]), startChatnode([...flags, "--node-tag", "c2"])]);
    const dir = path.join(tmp, "path");
    let ng;
    try {
      gen(["--prefix", dir, "--foreground", "--path", "/chat", "--listen", `127.0.0.1:${await freePort()}`,
        `c1=127.0.0.1:${c1.port}`, `c2=127.0.0.1:${c2.port}`]);
      const conf = readFileSync(path.join(dir, "nginx.conf"), "utf8");
      assert.match(conf, /location \/chat\/ \{\n\s*proxy_pass http:\/\/\$chat_backend;/);
      assert.doesNotMatch(conf, /socket\.io/);
      ng = await startNginx(dir);
      const polls = [];
      for (let i = 0; i < 6; i++) {
        const c = client(ng.url, { path: "/chat/", transports: ["polling"], auth: { user: `pathpoller${i}` } });
        await waitFor(c, "connect");
        c.disconnects = [];
        c.on("disconnect", (reason) => c.disconnects.push(reason));
        c.received = 0;
        c.on("message", () => c.received++);
        await c.emitWithAck("join", { room: `path${i}` });
        polls.push(c);
      }
      const tags = polls.map((c) => tagOf(c.io.engine.id));
      assert.ok(tags.includes("c1") && tags.includes("c2"), `sessions on both nodes: ${tags}`);
      for (let round = 0; round < 3; round++) {
        for (const [i, c] of polls.entries()) {
          const ack = await c.timeout(WAIT_MS).emitWithAck("message", { room: `path${i}`, text: `p${round}` });
          assert.ok(ack.id, JSON.stringify(ack));
        }
      }
      await eventually(() => polls.every((c) => c.received === 3), WAIT_MS, "each poller's 3 messages");
      for (const c of polls) assert.deepEqual(c.disconnects, [], `${c.io.engine.id} disconnected`);
      // every request of a session went to the node owning it (the tag map of the /chat/
      // location; the other locations spread requests over the nodes)
      const portOf = { c1: c1.port, c2: c2.port };
      const reqs = engineRequests(dir, "/chat/").filter((r) => r.sid);
      assert.ok(reqs.length >= 6 * 4, `only ${reqs.length} polling requests logged`);
      for (const r of reqs) {
        assert.equal(r.upstream, `127.0.0.1:${portOf[tagOf(r.sid)]}`, `request of ${r.sid} went to ${r.upstream}`);
        assert.equal(r.status, 200, `request of ${r.sid} answered ${r.status}`);
      }
    } finally {
      closeClients();
      await ng?.stop();
      await stopAll(c1, c2);
    }
  });

  it("--server-name: the chat's server block answers that Host only", async () => {
    const dir = path.join(tmp, "server-name");
    const port = await freePort();
    gen(["--prefix", dir, "--foreground", "--server-name", "chat.example", "--listen", `127.0.0.1:${port}`, ...nodesArgs()]);
    const confFile = path.join(dir, "nginx.conf");
    const conf = readFileSync(confFile, "utf8");
    assert.match(conf, /^\s*server_name chat\.example;/m);
    // a host serving other sites has a default server on the same port; add one
    writeFileSync(confFile, conf.replace(/\}\n$/, `
    server {
        listen 127.0.0.1:${port} default_server;
        return 421 "not the chat\\n";
    }
}
`));
    assert.match(nginxTest(dir), /test is successful/);
    const ng = await startNginx(dir);
    try {
      for (const host of ["chat.example", `chat.example:${port}`, "CHAT.example"]) {
        const page = await requestFrom(`${ng.url}/`, { headers: { Host: host } });
        assert.equal(page.status, 200, `Host: ${host}: ${page.status} ${page.body}`);
        assert.match(page.body, /socket\.io\.min\.js/);
      }
      const hs = await requestFrom(`${ng.url}/socket.io/?EIO=4&transport=polling`, { headers: { Host: "chat.example" } });
      assert.equal(hs.status, 200, hs.body);
      assert.match(hs.body, /^0\{"sid":"[ab]\./);
      for (const host of ["other.example", "127.0.0.1", `127.0.0.1:${port}`]) {
        const other = await requestFrom(`${ng.url}/`, { headers: { Host: host } });
        assert.equal(other.status, 421, `Host: ${host}: ${other.status}`);
        assert.equal(other.body, "not the chat\n");
      }
    } finally {
      await ng.stop();
    }
  });

  it("--workers: nginx runs that many worker processes", async () => {
    const dir = path.join(tmp, "workers");
    gen(["--prefix", dir, "--foreground", "--workers", "3", "--listen", `127.0.0.1:${await freePort()}`, ...nodesArgs()]);
    assert.match(readFileSync(path.join(dir, "nginx.conf"), "utf8"), /^worker_processes 3;$/m);
    const ng = await startNginx(dir);
    try {
      const workers = await eventually(() => {
        const w = nginxWorkers(ng.pid);
        assert.equal(w.length, 3, `worker processes: ${w.join(" ")}`);
        return w;
      }, WAIT_MS, "3 worker processes");
      assert.equal(new Set(workers).size, 3);
      const page = await httpRequest(`${ng.url}/`);
      assert.equal(page.status, 200);
      assert.match(page.body, /socket\.io\.min\.js/);
    } finally {
      await ng.stop();
    }
    gen(["--prefix", path.join(tmp, "workers-auto"), "--workers", "auto", "--listen", "1", ...nodesArgs()]);
    assert.match(readFileSync(path.join(tmp, "workers-auto", "nginx.conf"), "utf8"), /^worker_processes auto;$/m);
    assert.match(nginxTest(path.join(tmp, "workers-auto")), /test is successful/);
    assert.throws(() => gen(["--workers", "0", "a=127.0.0.1:1"]), /--workers is a number or auto/);
  });

  it("--read-timeout: nginx gives up on a silent node's Engine.IO request after that many seconds (504)", async () => {
    const node = await startHoldingUpstream();
    const dir = path.join(tmp, "read-timeout");
    let ng;
    try {
      gen(["--prefix", dir, "--foreground", "--read-timeout", "1", "--listen", `127.0.0.1:${await freePort()}`,
        `h=127.0.0.1:${node.port}`]);
      const conf = readFileSync(path.join(dir, "nginx.conf"), "utf8");
      assert.match(conf, /location \/socket\.io\/ \{[^}]*proxy_read_timeout 1s;[^}]*\}/);
      assert.match(nginxTest(dir), /test is successful/);
      assert.throws(() => gen(["--read-timeout", "0", "a=127.0.0.1:1"]), /--read-timeout is a number of seconds/);
      ng = await startNginx(dir);
      // a long-polling GET of a session of node h, which the node holds and never answers;
      // with the default (75 s) it would outlast the wait below
      const res = await requestFrom(`${ng.url}/socket.io/?EIO=4&transport=polling&sid=h.held`);
      assert.equal(res.status, 504, res.body);
      assert.match(res.body, /504 Gateway Time-out/);
      assert.deepEqual(node.held(), ["/socket.io/?EIO=4&transport=polling&sid=h.held"], "the request reached the node once");
      await eventually(() => /upstream timed out .* while reading response header from upstream/.test(ng.errorLog()),
        WAIT_MS, "the timeout in the error log");
    } finally {
      await ng?.stop();
      await node.close();
    }
  });

  it("X-Forwarded-For and Host reach the chatnodes: the client's address, its own claim ignored; the port in Host", async () => {
    // a client at CLIENT_ADDR that writes an X-Forwarded-For of its own
    const c = client(nginx.url, { transports: ["websocket"], localAddress: CLIENT_ADDR,
      extraHeaders: { "X-Forwarded-For": "203.0.113.7" }, auth: { user: "behind-nginx" } });
    await waitFor(c, "connect");
    const auth = { Authorization: `Bearer ${KEY}` };
    // the address the node resolved, as the admin API reports it
    const sock = await eventually(async () => {
      const res = await httpRequest(`${nginx.url}/admin/api/v1/sockets`, { headers: auth });
      assert.equal(res.status, 200, res.body);
      return JSON.parse(res.body).sockets.find((s) => s.id === c.id);
    }, WAIT_MS, "the socket in the admin API");
    assert.equal(sock.address, CLIENT_ADDR, JSON.stringify(sock));
    closeClients();

    // Host keeps the port the client used: the nodes (no --cors-origin) take WebSockets from
    // pages of nginx's origin only, not from another port of the same host
    const ws = `${nginx.url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`;
    assert.equal(await wsStatus(ws, nginx.url), 101, "a page of nginx's origin");
    assert.equal(await wsStatus(ws, `http://127.0.0.1:${nodeA.port}`), 403, "a page of another port of this host");
    assert.equal(await wsStatus(ws, "http://127.0.0.1"), 403, "a page of port 80 of this host");
  });

  it("sets X-Forwarded-For, X-Forwarded-Proto, X-Real-IP and Host on every proxied location, plain and TLS", async () => {
    // a stand-in for the nodes and adminnode that shows what reached it
    const echo = await startHeaderEcho();
    const dir = path.join(tmp, "headers");
    const [plain, secure] = [await freePort(), await freePort()];
    let ng;
    try {
      gen(["--prefix", dir, "--foreground", "--listen", `127.0.0.1:${plain}`, "--tls-listen", `127.0.0.1:${secure}`,
        "--tls-cert", path.join(tmp, "cert.pem"), "--tls-key", path.join(tmp, "key.pem"),
        "--admin", `127.0.0.1:${echo.port}`, `e=127.0.0.1:${echo.port}`]);
      ng = await startNginx(dir);
      const cases = [
        // [request path, path reaching the upstream, X-Forwarded-Prefix]
        ["/socket.io/?EIO=4&transport=polling", "/socket.io/?EIO=4&transport=polling", undefined],
        ["/socket.io/?EIO=4&transport=polling&sid=e.x", "/socket.io/?EIO=4&transport=polling&sid=e.x", undefined],
        ["/index.html", "/index.html", undefined],
        ["/admin/api/v1/nodes", "/api/v1/nodes", "/admin"],
      ];
      for (const [scheme, port] of [["http", plain], ["https", secure]]) {
        for (const [reqPath, upstreamPath, prefix] of cases) {
          const what = `${scheme} ${reqPath}`;
          const res = await requestFrom(`${scheme}://127.0.0.1:${port}${reqPath}`, { localAddress: CLIENT_ADDR,
            headers: { "X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.8", "X-Forwarded-Proto": "gopher" } });
          assert.equal(res.status, 200, `${what}: ${res.body}`);
          const seen = JSON.parse(res.body);
          assert.equal(seen.url, upstreamPath, what);
          assert.equal(seen.headers["x-forwarded-for"], `203.0.113.7, ${CLIENT_ADDR}`, what);
          assert.equal(seen.headers["x-real-ip"], CLIENT_ADDR, what);
          assert.equal(seen.headers["x-forwarded-proto"], scheme, what);
          assert.equal(seen.headers.host, `127.0.0.1:${port}`, what);
          assert.equal(seen.headers["x-forwarded-prefix"], prefix, what);
        }
      }
    } finally {
      await ng?.stop();
      await echo.close();
    }
  });

  it("the TLS block completes TLS 1.3 and 1.2 handshakes and refuses TLS 1.1 and 1.0", async () => {
    const dir = path.join(tmp, "tls-versions");
    const secure = await freePort();
    gen(["--prefix", dir, "--foreground", "--listen", `127.0.0.1:${await freePort()}`, "--tls-listen", `127.0.0.1:${secure}`,
      "--tls-cert", path.join(tmp, "cert.pem"), "--tls-key", path.join(tmp, "key.pem"), ...nodesArgs()]);
    assert.match(readFileSync(path.join(dir, "nginx.conf"), "utf8"), /^\s*ssl_protocols TLSv1\.2 TLSv1\.3;$/m);
    const ng = await startNginx(dir);
    try {
      for (const version of ["TLSv1.3", "TLSv1.2"]) {
        const hs = await tlsHandshake(secure, version);
        assert.equal(hs.protocol, version, `${version}: ${hs.error?.message}`);
        // and a request over it reaches a node
        const res = await requestFrom(`https://127.0.0.1:${secure}/healthz`, { minVersion: version, maxVersion: version });
        assert.equal(res.tls, version);
        assert.equal(res.status, 200, res.body);
        assert.equal(typeof JSON.parse(res.body).connections, "number", res.body);
      }
      for (const version of ["TLSv1.1", "TLSv1"]) {
        const hs = await tlsHandshake(secure, version);
        assert.ok(hs.error, `a ${version} handshake completed (${hs.protocol})`);
        // refused by nginx for its version (a protocol_version alert), not for another reason
        assert.equal(hs.error.code, "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION", `${version}: ${hs.error.message}`);
      }
    } finally {
      await ng.stop();
    }
  });
});
