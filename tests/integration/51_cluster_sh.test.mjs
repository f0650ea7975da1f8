// deploy/cluster.sh end to end: `up --nodes 2` on a free port range starts redis-server, two
// chatnodes, adminnode and nginx and prints the chat URL, the dashboard URL and the API key;
// they work (the page, a socket.io-client joining and messaging through nginx across both
// nodes, the dashboard's API listing two nodes up); a second `up` starts nothing; `logs`
// follows every log, nginx's included; `down` stops every process and frees every port. A
// second cluster runs `up --workers 2` with CHATCLUSTER_HOST set: each chatnode is a
// supervisor of two workers on consecutive ports, every worker is behind nginx and listed by
// adminnode, and nginx alone listens on CHATCLUSTER_HOST. State lives in temp directories
// (CHATCLUSTER_RUN_DIR), and the chatnode/adminnode binaries of this build are used
// (CHATCLUSTER_BUILD_DIR), so the test does not touch deploy/run/ nor build a release tree:
// that keeps it well inside CTest's 300 s (the two suites and their cleanup are bounded to
// less than that). An `after` hook runs `down` and kills what a pid file still names,
// whatever happened.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import crypto from "node:crypto";
import http from "node:http";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { chatnodeBin, adminnodeBin, eventually, freeRange, httpRequest, portFree, waitFor, withTimeout, wsHandshakeStatus, WAIT_MS } from "./lib/harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLUSTER_SH = path.resolve(here, "../../deploy/cluster.sh");
const SPAN = 11; // base..base+10 free (two nodes use base..base+4; two nodes of two workers, base..base+6)

const SUITE_MS = 100_000; // each suite; with both `after` hooks (DOWN_MS each) under CTest's 300 s
const UP_MS = 80_000;
const DOWN_MS = 40_000;

/** One cluster's state: its run directory, first port and environment. */
let runDir, base, env;
const clients = [];

/** The build directory holding both binaries (a CTest build, or build-test/ by default). */
function buildDir() {
  const dir = path.dirname(path.dirname(chatnodeBin()));
  assert.equal(path.resolve(adminnodeBin()), path.join(dir, "adminnode", "adminnode"),
    "CHATNODE_BIN and ADMINNODE_BIN must come from one build directory (cluster.sh runs it; the test does not build)");
  return dir;
}

/** Whether something accepts TCP connections at host:port. */
function listening(host, port) {
  return withTimeout(new Promise((resolve) => {
    const sock = net.connect({ host, port });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  }), WAIT_MS, `a connection to ${host}:${port}`);
}

/** The child processes of `pid` that run `program`. */
function childrenRunning(pid, program) {
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  return kids.filter((k) => {
    try {
      return readFileSync(`/proc/${k}/cmdline`, "utf8").split("\0")[0].endsWith(program);
    } catch {
      return false;
    }
  });
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

const wsStatus = wsHandshakeStatus;

/** Runs cluster.sh with `args`; resolves { code, stdout, stderr }. */
function clusterSh(args, timeoutMs = UP_MS, moreEnv = {}) {
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

/** A new run directory and free port range for the next cluster; `host`: CHATCLUSTER_HOST. */
async function newCluster(host) {
  runDir = mkdtempSync(path.join(os.tmpdir(), "chatcluster-run-"));
  chmodSync(runDir, 0o755); // nginx started as root runs its workers as nobody
  base = await freeRange(SPAN);
  env = { ...process.env, CHATCLUSTER_PORT: String(base), CHATCLUSTER_RUN_DIR: runDir, CHATCLUSTER_BUILD_DIR: buildDir() };
  if (host) env.CHATCLUSTER_HOST = host;
  else delete env.CHATCLUSTER_HOST;
}

/** `down`, then SIGKILL to the group of whatever a pid file or `startedPids` still names; the
 * run directory goes. */
async function tearDown(startedPids) {
  clients.splice(0).forEach((c) => c.close());
  if (!runDir) return;
  const left = pidFiles();
  await clusterSh(["down"], DOWN_MS).catch(() => {});
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
  runDir = undefined;
}

describe("deploy/cluster.sh up, up again, logs, down", { timeout: SUITE_MS }, () => {
  let first;
  const startedPids = {};

  before(() => newCluster());
  after(() => tearDown(startedPids));

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

  it("nginx shows /admin/metrics to this host only, a chatnode's /metrics to none; WebSockets come from the chat's origin only", async () => {
    const metrics = `http://127.0.0.1:${base}/admin/metrics`;
    assert.equal(await getFrom(metrics, "127.0.0.1"), 200);
    assert.equal(await getFrom(metrics, "127.0.0.2"), 403, "another address is refused");
    assert.equal(await getFrom(`http://127.0.0.1:${base}/metrics`, "127.0.0.1"), 404, "one node's figures are not the cluster's");
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
      const res = await clusterSh(["up"], UP_MS, { CHATCLUSTER_RUN_DIR: other, CHATCLUSTER_PORT: String(base + 2) });
      assert.equal(res.code, 1, res.stdout + res.stderr);
      assert.match(res.stderr, new RegExp(`port ${base + 2} \\(for nginx\\) is taken by another program`));
      assert.deepEqual(readdirSync(other).filter((f) => f.endsWith(".pid")), []);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("logs follows every log of the cluster, nginx's included", async () => {
    const child = spawn("bash", [CLUSTER_SH, "logs"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    let gone = null;
    exited.then((s) => (gone = s));
    try {
      const dir = realpathSync(runDir);
      const logs = [
        ...["redis", "chatnode-1", "chatnode-2", "adminnode"].map((n) => path.join(dir, `${n}.log`)),
        path.join(dir, "nginx", "logs", "access.log"), path.join(dir, "nginx", "logs", "error.log"),
      ];
      for (const f of logs) assert.ok(existsSync(f), `no ${f}`);
      await eventually(() => logs.every((f) => out.includes(`==> ${f} <==`)), WAIT_MS, `a header for each of ${logs.join(" ")}`);
      assert.match(out, /msg="?listening/, "the last lines of the nodes' logs");
      // followed: a request after `logs` started shows up in nginx's access log, and in the output
      const marker = `/logs-${crypto.randomBytes(6).toString("hex")}`;
      const res = await httpRequest(`${first.chat.replace(/\/$/, "")}${marker}`);
      assert.equal(res.status, 404);
      await eventually(() => out.includes(`"GET ${marker} HTTP/1.1" 404`), WAIT_MS, `${marker} in the followed output`);
      assert.equal(gone, null, `logs stopped following (${JSON.stringify(gone)}):\n${out}`);
    } finally {
      child.kill("SIGTERM");
      await withTimeout(exited, WAIT_MS, "cluster.sh logs to exit");
    }
  });

  it("down stops every process it started and frees the ports", async () => {
    const res = await clusterSh(["down"], DOWN_MS);
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

describe("deploy/cluster.sh up --workers 2, with CHATCLUSTER_HOST", { timeout: SUITE_MS }, () => {
  const HOST = "127.0.0.3"; // a loopback address other than the one the rest listens on
  let urls;
  const startedPids = {};
  const workerPids = [];
  const nodePorts = () => [base + 3, base + 4, base + 5, base + 6]; // n1-1 n1-2 n2-1 n2-2

  before(() => newCluster(HOST));
  after(() => tearDown({ ...startedPids, ...Object.fromEntries(workerPids.map((p) => [p, p])) }));

  it("up --nodes 2 --workers 2: each chatnode supervises 2 workers on consecutive ports, all behind nginx and in adminnode", async () => {
    const res = await clusterSh(["up", "--nodes", "2", "--workers", "2"]);
    assert.equal(res.code, 0, `cluster.sh up failed:\n${res.stdout}\n${res.stderr}`);
    Object.assign(startedPids, pidFiles());
    assert.deepEqual(Object.keys(startedPids).sort(), ["adminnode", "chatnode-1", "chatnode-2", "nginx", "redis"]);
    urls = printed(res.stdout);
    assert.match(res.stdout, new RegExp(`chatnodes n1 :${base + 3}-${base + 4}, n2 :${base + 5}-${base + 6} \\(2 workers each\\)`));

    // each chatnode process is a supervisor with two chatnode workers; worker i of node k
    // listens on its port with the tag nk-i
    for (const k of [1, 2]) {
      const kids = childrenRunning(startedPids[`chatnode-${k}`], "chatnode");
      assert.equal(kids.length, 2, `chatnode-${k} (pid ${startedPids[`chatnode-${k}`]}) has workers ${kids}`);
      workerPids.push(...kids);
    }
    for (const [i, port] of nodePorts().entries()) {
      const tag = `n${(i >> 1) + 1}-${(i & 1) + 1}`;
      const eio = `http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`;
      const hs = await httpRequest(eio);
      assert.equal(hs.status, 200, hs.body);
      assert.match(hs.body, new RegExp(`^0\\{"sid":"${tag}\\.`), `port ${port}`);
      // close that session (a close packet), so that nothing is left for `down` to drain
      const closed = await httpRequest(`${eio}&sid=${encodeURIComponent(JSON.parse(hs.body.slice(1)).sid)}`, { method: "POST", body: "1" });
      assert.equal(closed.body, "ok");
    }

    // through nginx, new sessions reach every worker, and messages cross between them
    const byTag = {};
    for (let i = 0; i < 24 && Object.keys(byTag).length < 4; i++) {
      const c = io(urls.chat, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user: `w${i}` } });
      clients.push(c);
      await waitFor(c, "connect");
      await c.emitWithAck("join", { room: "workers" });
      byTag[c.io.engine.id.split(".")[0]] ??= c;
    }
    assert.deepEqual(Object.keys(byTag).sort(), ["n1-1", "n1-2", "n2-1", "n2-2"]);
    const got = waitFor(byTag["n2-2"], "message");
    const ack = await byTag["n1-1"].emitWithAck("message", { room: "workers", text: "worker to worker" });
    assert.ok(ack.id, JSON.stringify(ack));
    assert.equal((await got)[0].text, "worker to worker");
    clients.splice(0).forEach((c) => c.close());

    const nodes = await eventually(async () => {
      const r = await httpRequest(`${urls.dashboard}api/v1/nodes`, { headers: { Authorization: `Bearer ${urls.key}` } });
      const list = JSON.parse(r.body).nodes;
      return list.filter((n) => n.state === "up").length === 4 && list;
    }, WAIT_MS, "four workers up in the API");
    assert.deepEqual(nodes.map((n) => n.tag).sort(), ["n1-1", "n1-2", "n2-1", "n2-2"]);

    const status = await clusterSh(["status"]);
    assert.equal(status.code, 0);
    for (const [k, ports] of [[1, nodePorts().slice(0, 2)], [2, nodePorts().slice(2)]]) {
      const line = new RegExp(`^chatnode-${k}\\s+pid ${startedPids[`chatnode-${k}`]}\\s+running\\s+(.*)$`, "m").exec(status.stdout);
      assert.ok(line, status.stdout);
      for (const p of ports) assert.match(line[1], new RegExp(`127\\.0\\.0\\.1:${p} \\{"status":"ok"`), line[1]);
    }
  });

  it("CHATCLUSTER_HOST: nginx alone listens there, the rest on 127.0.0.1; the URLs and the chat's origin name it", async () => {
    assert.equal(urls.chat, `http://${HOST}:${base}/`);
    assert.equal(urls.dashboard, `http://${HOST}:${base}/admin/`);
    const page = await httpRequest(urls.chat);
    assert.equal(page.status, 200);
    assert.match(page.body, /socket\.io\.min\.js/);
    const api = await httpRequest(`${urls.dashboard}api/v1/nodes`, { headers: { Authorization: `Bearer ${urls.key}` } });
    assert.equal(api.status, 200, api.body);

    assert.equal(await listening(HOST, base), true);
    assert.equal(await listening("127.0.0.1", base), false, `nginx listens on 127.0.0.1:${base} too`);
    for (let p = base + 1; p <= base + 6; p++) {
      assert.equal(await listening("127.0.0.1", p), true, `nothing on 127.0.0.1:${p}`);
      assert.equal(await listening(HOST, p), false, `${HOST}:${p} answers: only nginx should listen there`);
    }

    // WebSockets from pages of the chat's own origin, which is on HOST
    const ws = `ws://${HOST}:${base}/socket.io/?EIO=4&transport=websocket`;
    assert.equal(await wsStatus(ws, `http://${HOST}:${base}`), 101);
    assert.equal(await wsStatus(ws, `http://127.0.0.1:${base}`), 403);
  });

  it("down stops the supervisors and their workers and frees the ports", async () => {
    const res = await clusterSh(["down"], DOWN_MS);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    for (const [name, pid] of Object.entries(startedPids)) assert.equal(running(pid), false, `${name} (pid ${pid}) still runs`);
    for (const pid of workerPids) assert.equal(running(pid), false, `worker pid ${pid} still runs`);
    assert.deepEqual(pidFiles(), {});
    assert.equal(await portFree(base, HOST), true, `port ${HOST}:${base} still taken`);
    for (let p = base + 1; p <= base + 6; p++) assert.equal(await portFree(p), true, `port ${p} still taken`);
    for (const k of [1, 2]) {
      const log = readFileSync(path.join(runDir, `chatnode-${k}.log`), "utf8");
      assert.doesNotMatch(log, /ERROR: (Address|Leak)Sanitizer|runtime error:/, `chatnode-${k}.log:\n${log.slice(-4000)}`);
      assert.equal(log.match(/msg="worker stopped"/g)?.length, 2, `chatnode-${k}.log:\n${log.slice(-2000)}`);
      assert.match(log, /msg="supervisor stopped"/);
    }
  });
});
