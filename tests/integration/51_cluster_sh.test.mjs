// deploy/cluster.sh end to end: `up --nodes 2` on a free port range starts redis-server, two
// chatnodes, adminnode and nginx and prints the chat URL, the dashboard URL and the API key;
// they work (the page, a socket.io-client joining and messaging through nginx across both
// nodes, the dashboard's API listing two nodes up); a second `up` starts nothing; `down` stops
// every process and frees every port. State lives in a temp directory (CHATCLUSTER_RUN_DIR),
// and the chatnode/adminnode binaries of this build are used (CHATCLUSTER_BUILD_DIR), so the
// test does not touch deploy/run/ nor build a release tree. An `after` hook runs `down` and
// kills what a pid file still names, whatever happened.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import http from "node:http";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { chatnodeBin, adminnodeBin, eventually, httpRequest, waitFor, withTimeout, WAIT_MS } from "./lib/harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLUSTER_SH = path.resolve(here, "../../deploy/cluster.sh");
const SPAN = 11; // base..base+10 free (the cluster uses base..base+4 with two nodes)

let runDir, base, env;
const clients = [];

/** The build directory holding both binaries, when they come from one (a CTest build). */
function buildDir() {
  const dir = path.dirname(path.dirname(chatnodeBin()));
  return path.resolve(adminnodeBin()) === path.join(dir, "adminnode", "adminnode") ? dir : undefined;
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

async function freeRange(n) {
  for (let attempt = 0; attempt < 200; attempt++) {
    const start = 20000 + Math.floor(Math.random() * 30000);
    let ok = true;
    for (let p = start; p < start + n && ok; p++) ok = await portFree(p);
    if (ok) return start;
  }
  throw new Error(`no ${n} consecutive free ports found`);
}

/** GET url from a chosen local address: resolves the status. */
function getFrom(url, localAddress) {
  return withTimeout(new Promise((resolve, reject) => {
    http.get(url, { localAddress }, (res) => {
      res.resume();
      resolve(res.statusCode);
    }).on("error", reject);
  }), WAIT_MS, `GET ${url} from ${localAddress}`);
}

/** Opens a WebSocket handshake with an Origin header: resolves the status it got. */
function wsStatus(url, origin) {
  return withTimeout(new Promise((resolve) => {
    const ws = new WebSocket(url, { origin });
    ws.once("open", () => {
      ws.close();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => resolve(res.statusCode));
    ws.once("error", () => resolve(0));
  }), WAIT_MS, `WebSocket ${url} from ${origin}`);
}

/** Runs cluster.sh with `args`; resolves { code, stdout, stderr }. */
function clusterSh(args, timeoutMs = 600_000, moreEnv = {}) {
  return withTimeout(new Promise((resolve) => {
    const child = spawn("bash", [CLUSTER_SH, ...args], { env: { ...env, ...moreEnv }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  }), timeoutMs, `cluster.sh ${args.join(" ")}`);
}

function pidFiles() {
  if (!runDir || !existsSync(runDir)) return {};
  const out = {};
  for (const f of readdirSync(runDir)) {
    if (f.endsWith(".pid")) out[f.slice(0, -4)] = Number(readFileSync(path.join(runDir, f), "utf8"));
  }
  return out;
}

function running(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

function printed(stdout) {
  const field = (name) => {
    const m = new RegExp(`^\\s*${name}:\\s+(\\S+)`, "m").exec(stdout);
    assert.ok(m, `no "${name}:" line in:\n${stdout}`);
    return m[1];
  };
  return { chat: field("chat"), dashboard: field("dashboard"), key: field("API key") };
}

describe("deploy/cluster.sh up, up again, down", { timeout: 900_000 }, () => {
  let first;
  const startedPids = {};

  before(async () => {
    runDir = mkdtempSync(path.join(os.tmpdir(), "chatcluster-run-"));
    chmodSync(runDir, 0o755); // nginx started as root runs its workers as nobody
    base = await freeRange(SPAN);
    env = { ...process.env, CHATCLUSTER_PORT: String(base), CHATCLUSTER_RUN_DIR: runDir };
    delete env.CHATCLUSTER_HOST;
    const dir = buildDir();
    if (dir) env.CHATCLUSTER_BUILD_DIR = dir;
    else delete env.CHATCLUSTER_BUILD_DIR;
  });

  after(async () => {
    clients.forEach((c) => c.close());
    if (!runDir) return;
    const left = pidFiles();
    await clusterSh(["down"], 60_000).catch(() => {});
    for (const pid of [...Object.values(left), ...Object.values(pidFiles()), ...Object.values(startedPids)]) {
      if (!running(pid)) continue;
      try {
        process.kill(-pid, "SIGKILL"); // each was started as a session (and group) leader
      } catch {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }
    }
    rmSync(runDir, { recursive: true, force: true });
  });

  it("up --nodes 2 starts the cluster and prints its URLs and API key", async () => {
    const res = await clusterSh(["up", "--nodes", "2"]);
    assert.equal(res.code, 0, `cluster.sh up failed:\n${res.stdout}\n${res.stderr}`);
    Object.assign(startedPids, pidFiles());
    assert.deepEqual(Object.keys(startedPids).sort(), ["adminnode", "chatnode-1", "chatnode-2", "nginx", "redis"]);
    first = printed(res.stdout);
    assert.equal(first.chat, `http://127.0.0.1:${base}/`);
    assert.equal(first.dashboard, `http://127.0.0.1:${base}/admin/`);
    assert.equal(first.key, readFileSync(path.join(runDir, "api-key"), "utf8").trim());
    assert.match(res.stdout, /anonymous sign-in/);
    for (const f of ["api-key", "admin-keys", "jwt.secret", "redis.password"]) {
      assert.equal(readFileSync(path.join(runDir, f)).length > 0, true);
      assert.equal(statSync(path.join(runDir, f)).mode & 0o777, 0o600, `${f} is private`);
    }
  });

  it("Redis needs its generated password, which no command line shows", async () => {
    const password = readFileSync(path.join(runDir, "redis.password"), "utf8").trim();
    const ping = (auth) => execFileSync("redis-cli", ["-h", "127.0.0.1", "-p", String(base + 1), "ping"],
      { env: { ...process.env, ...(auth ? { REDISCLI_AUTH: auth } : {}) }, encoding: "utf8" }).trim();
    assert.match(ping(null), /NOAUTH/);
    assert.equal(ping(password), "PONG");
    for (const [name, pid] of Object.entries(pidFiles()))
      assert.doesNotMatch(readFileSync(`/proc/${pid}/cmdline`, "utf8"), new RegExp(password), `${name}'s command line`);
  });

  it("nginx shows /admin/metrics to this host only; WebSockets come from the chat's origin only", async () => {
    const metrics = `http://127.0.0.1:${base}/admin/metrics`;
    assert.equal(await getFrom(metrics, "127.0.0.1"), 200);
    assert.equal(await getFrom(metrics, "127.0.0.2"), 403, "another address is refused");
    const ws = `ws://127.0.0.1:${base}/socket.io/?EIO=4&transport=websocket`;
    assert.equal(await wsStatus(ws, `http://127.0.0.1:${base}`), 101);
    assert.equal(await wsStatus(ws, "https://evil.example"), 403);
  });

  it("the printed URLs work: chat page, chat through nginx across both nodes, the dashboard's API", async () => {
    const page = await httpRequest(first.chat);
    assert.equal(page.status, 200);
    assert.match(page.body, /socket\.io\.min\.js/);

    const byTag = {};
    for (let i = 0; i < 6 && Object.keys(byTag).length < 2; i++) {
      const c = io(first.chat, { forceNew: true, reconnection: false, auth: { user: `u${i}` } });
      clients.push(c);
      await waitFor(c, "connect");
      await c.emitWithAck("join", { room: "deploy" });
      byTag[c.io.engine.id.split(".")[0]] ??= c;
    }
    assert.deepEqual(Object.keys(byTag).sort(), ["n1", "n2"]);
    const got = waitFor(byTag.n2, "message");
    const ack = await byTag.n1.emitWithAck("message", { room: "deploy", text: "through nginx" });
    assert.ok(ack.id, JSON.stringify(ack));
    assert.equal((await got)[0].text, "through nginx");

    const dash = await httpRequest(first.dashboard);
    assert.equal(dash.status, 200);
    assert.match(dash.body, /app\.js/);
    const nodes = await eventually(async () => {
      const res = await httpRequest(`${first.dashboard}api/v1/nodes`, { headers: { Authorization: `Bearer ${first.key}` } });
      const list = JSON.parse(res.body).nodes;
      return list.filter((n) => n.state === "up").length === 2 && list;
    }, WAIT_MS, "two nodes up in the API");
    assert.deepEqual(nodes.map((n) => n.tag).sort(), ["n1", "n2"]);
    clients.splice(0).forEach((c) => c.close());
  });

  it("a second up finds the running cluster and starts nothing", async () => {
    const res = await clusterSh(["up", "--nodes", "2"]);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /already running/);
    assert.deepEqual(printed(res.stdout), first);
    assert.deepEqual(pidFiles(), startedPids);
    const status = await clusterSh(["status"]);
    assert.equal(status.code, 0);
    for (const name of Object.keys(startedPids)) assert.match(status.stdout, new RegExp(`^${name}\\s+pid ${startedPids[name]}\\s+running`, "m"));
  });

  it("names the port when one is taken", async () => {
    const other = mkdtempSync(path.join(os.tmpdir(), "chatcluster-run-"));
    try {
      // a second cluster whose nginx port is the first one's adminnode port
      const res = await clusterSh(["up"], 120_000, { CHATCLUSTER_RUN_DIR: other, CHATCLUSTER_PORT: String(base + 2) });
      assert.equal(res.code, 1, res.stdout + res.stderr);
      assert.match(res.stderr, new RegExp(`port ${base + 2} \\(for nginx\\) is taken by another program`));
      assert.deepEqual(readdirSync(other).filter((f) => f.endsWith(".pid")), []);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("down stops every process it started and frees the ports", async () => {
    const res = await clusterSh(["down"], 120_000);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    for (const [name, pid] of Object.entries(startedPids)) assert.equal(running(pid), false, `${name} (pid ${pid}) still runs`);
    assert.deepEqual(pidFiles(), {});
    for (let p = base; p <= base + 4; p++) assert.equal(await portFree(p), true, `port ${p} still taken`);
    const status = await clusterSh(["status"]);
    assert.match(status.stdout, /not running/);
    // sanitizer builds report leaks and errors at exit, in the logs cluster.sh keeps
    for (const f of readdirSync(runDir).filter((f) => /^(chatnode-\d+|adminnode)\.log$/.test(f))) {
      const log = readFileSync(path.join(runDir, f), "utf8");
      assert.doesNotMatch(log, /ERROR: (Address|Leak)Sanitizer|runtime error:/, `${f}:\n${log.slice(-4000)}`);
      assert.match(log, /msg="?stopp/, `${f} has no stop line:\n${log.slice(-2000)}`);
    }
  });
});
