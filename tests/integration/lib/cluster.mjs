// A whole cluster behind nginx for the fault tests: redis-server, chatnodes with the chat app
// (one per tag, clustered through that Redis), adminnode, and nginx in the foreground with the
// configuration of deploy/nginx/gen.sh (tag mode). Everything on free ports, in a temp
// directory, stopped by stop(). Chat clients here use socket.io-client's defaults (reconnection
// on) unless told otherwise, and record what reaches the application.
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { startChatnode, startAdminnode, startRedis, startNginx, stopAll, freePort, httpRequest, WAIT_MS } from "./harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const GEN = path.resolve(here, "../../../deploy/nginx/gen.sh");
export const API_KEY = "fault-test-admin-key-0123456789abcdef";

export const tagOf = (sid) => String(sid).split(".")[0];

/** The worker processes of an nginx master: [{ pid, title }] (the title nginx gives each). */
function workersOf(master) {
  const out = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== master) continue;
      const title = readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ").trim();
      if (/worker process/.test(title)) out.push({ pid: Number(name), title });
    } catch {
      // the process went away meanwhile
    }
  }
  return out;
}

/**
 * Starts redis, a chatnode per tag (with `chatFlags`), adminnode and nginx. With `secure`, as
 * deploy/cluster.sh configures them: Redis with a password, both sign-in modes (tokens signed
 * with c.secret, and guests), the client address from nginx's X-Forwarded-For, WebSockets
 * from the cluster's own origin only. Returns { redis, nodes: {tag: chatnode}, admin, nginx,
 * url, dir, secret, addNode(tag), reload(), api(), stop() }.
 */
export async function startCluster({ tags = ["a", "b"], chatFlags = [], secure = false } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "chatcluster-faults-"));
  chmodSync(dir, 0o755); // nginx started as root runs its workers as nobody
  const c = { dir, nodes: {}, redis: null, admin: null, nginx: null, secret: null };
  const listenPort = await freePort();
  const flags = ["--app", "chat", "--allow-anonymous", ...chatFlags];
  if (secure) {
    c.secret = crypto.randomBytes(32).toString("hex");
    writeFileSync(path.join(dir, "jwt.secret"), c.secret, { mode: 0o600 });
    flags.push("--jwt-secret-file", path.join(dir, "jwt.secret"), "--trusted-proxies", "127.0.0.1",
      "--cors-origin", `http://127.0.0.1:${listenPort}`);
  }

  const startNode = async (tag) => {
    c.nodes[tag] = await startChatnode([...flags, "--node-tag", tag, "--redis", c.redis.url]);
    return c.nodes[tag];
  };
  const writeConf = () =>
    execFileSync("bash", [GEN, "--prefix", dir, "--foreground", "--listen", `127.0.0.1:${listenPort}`,
      "--admin", `127.0.0.1:${c.admin.port}`,
      ...Object.entries(c.nodes).map(([tag, n]) => `${tag}=127.0.0.1:${n.port}`)], { stdio: ["ignore", "pipe", "pipe"] });

  try {
    c.redis = await startRedis([], { password: secure ? crypto.randomBytes(16).toString("hex") : undefined });
    await Promise.all(tags.map(startNode));
    c.admin = await startAdminnode(["--redis", c.redis.url], { ADMINNODE_API_KEYS: `${API_KEY}:admin` });
    writeConf();
    c.nginx = await startNginx(dir);
  } catch (err) {
    await stopQuietly(c);
    throw err;
  }
  c.url = c.nginx.url;

  /** Starts a chatnode for `tag` and rewrites nginx.conf with it (reload() applies it). */
  c.addNode = async (tag) => {
    const n = await startNode(tag);
    writeConf();
    return n;
  };
  /**
   * `nginx -s reload`: SIGHUP to the master, which starts new workers and tells the old ones to
   * finish. Resolves once a new worker runs and every old one is finishing (nginx retitles it
   * "worker process is shutting down"): from then on new connections reach the new workers
   * only. A connection made before that may land on an old worker, which closes it when idle.
   */
  c.reload = async () => {
    const old = workersOf(c.nginx.pid);
    process.kill(c.nginx.pid, "SIGHUP");
    await waitUntil(() => {
      const now = workersOf(c.nginx.pid);
      return now.some((w) => !old.some((o) => o.pid === w.pid)) &&
        old.every((o) => !now.some((w) => w.pid === o.pid && !/shutting down/.test(w.title)));
    }, 20_000, "nginx's new workers in place of the old");
  };
  /** The admin REST API through nginx: { status, json }. */
  c.api = async (method, apiPath, body) => {
    const r = await httpRequest(`${c.url}/admin/api/v1${apiPath}`, {
      method,
      headers: { authorization: `Bearer ${API_KEY}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    let json = null;
    try {
      json = JSON.parse(r.body);
    } catch {
      /* left null: the assertion shows the status */
    }
    return { status: r.status, json };
  };
  /** The adminnode's record of the node tagged `tag` (GET /nodes), or undefined. */
  c.nodeInfo = async (tag) => {
    const r = await c.api("GET", "/nodes");
    return r.json?.nodes?.find((n) => n.tag === tag);
  };
  /** Every message of a room's history, oldest first, page by page through the admin API. */
  c.history = async (room) => {
    const all = [];
    let before = "";
    for (;;) {
      const q = `limit=100${before ? `&before=${before}` : ""}`;
      const r = await c.api("GET", `/rooms/${encodeURIComponent(room)}/history?${q}`);
      if (r.status !== 200) throw new Error(`history of ${room}: ${r.status} ${JSON.stringify(r.json)}`);
      all.unshift(...r.json.messages);
      if (r.json.messages.length < 100) return all;
      before = r.json.messages[0].id;
    }
  };
  /** The engine requests nginx logged: { method, sid, status, upstream }. */
  c.accessLog = () => {
    const out = [];
    for (const line of readFileSync(path.join(dir, "logs", "access.log"), "utf8").split("\n")) {
      const m = /"(GET|POST) (\/socket\.io\/\S*) HTTP\/[\d.]+" (\d+) \d+ upstream=(\S+)/.exec(line);
      if (!m) continue;
      const sid = /[?&]sid=([^&]+)/.exec(m[2]);
      out.push({ method: m[1], sid: sid ? decodeURIComponent(sid[1]) : null, status: Number(m[3]), upstream: m[4] });
    }
    return out;
  };
  c.stop = () => stopQuietly(c, true);
  return c;
}

async function stopQuietly(c, strict = false) {
  const errors = [];
  const step = async (f) => {
    try {
      await f();
    } catch (err) {
      errors.push(err);
    }
  };
  await step(() => c.nginx?.stop());
  await step(() => stopAll(...Object.values(c.nodes).filter((n) => !n.killed), c.admin));
  await step(() => c.redis?.stop());
  rmSync(c.dir, { recursive: true, force: true });
  if (strict && errors.length) throw errors[0];
}

/** SIGKILL: the node dies at once, nothing closed, nothing flushed. */
export async function killNode(node) {
  node.killed = true;
  process.kill(node.pid, "SIGKILL");
  await node.exited;
}

/**
 * A chat client through nginx, with socket.io-client's defaults plus `opts`. It records what
 * reaches the application: connects, disconnect reasons, connect_error, every message received
 * (by room), and rejoins its room on every connect, as a chat page does.
 */
export function chatClient(url, user, room, opts = {}) {
  const s = io(url, { forceNew: true, auth: { user }, ...opts });
  const rec = { s, user, room, resent: 0, connects: 0, disconnects: [], connectErrors: [], received: new Set(), joined: 0, engines: [] };
  s.on("connect", async () => {
    rec.connects++;
    rec.engines.push(s.io.engine.id);
    const ack = await s.timeout(WAIT_MS).emitWithAck("join", { room }).catch((err) => ({ error: String(err) }));
    if (ack?.ok) rec.joined++;
    else rec.connectErrors.push(`join: ${JSON.stringify(ack)}`);
  });
  s.on("disconnect", (reason) => rec.disconnects.push(reason));
  s.on("connect_error", (err) => rec.connectErrors.push(err.message));
  s.on("message", (m) => rec.received.add(m.id));
  return rec;
}

/**
 * Sends `text` to the client's room under a client id, as a chat page does: only while
 * connected and in the room, and again under the same id (stored once) when the ack was lost
 * with the connection or refused with "join the room first" (sent before the rejoin after a
 * reconnect). Resolves to the stored message id, or null if `until()` turned true first.
 * rec.resent counts the second tries.
 */
export async function send(rec, text, clientId, { timeoutMs = WAIT_MS, until = () => false } = {}) {
  for (let attempt = 0; attempt < 10; attempt++) {
    while (!(rec.s.connected && rec.joined === rec.connects)) {
      if (until()) return null;
      await new Promise((r) => setTimeout(r, 20));
    }
    let ack;
    try {
      ack = await rec.s.timeout(timeoutMs).emitWithAck("message", { room: rec.room, text, id: clientId });
    } catch (err) {
      if (!/timed out|disconnected/.test(String(err))) throw err;
      ack = null;
    }
    if (ack?.ok) return ack.id;
    if (ack && ack.error?.code !== "not_found") throw new Error(`message refused: ${JSON.stringify(ack)}`);
    rec.resent = (rec.resent ?? 0) + 1;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${rec.user}: message ${clientId} not stored after ten tries`);
}

/** Connects `n` clients (user u<i>, room r<i % rooms>) a few at a time; resolves when all are joined. */
export async function connectMany(url, n, { rooms = 10, prefix = "u", opts = {}, batch = 25 } = {}) {
  const all = [];
  for (let i = 0; i < n; i += batch) {
    const part = [];
    for (let k = i; k < Math.min(n, i + batch); k++) part.push(chatClient(url, `${prefix}${k}`, `r${k % rooms}`, opts));
    all.push(...part);
    await waitUntil(() => part.every((r) => r.joined >= 1), 30_000, `clients ${i}..${i + part.length - 1} to join`, part);
  }
  return all;
}

/** Polls `check` until true; on timeout throws with what `recs` saw, for the report. */
export async function waitUntil(check, timeoutMs, what, recs = []) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) {
      const bad = recs.filter((r) => r.connectErrors.length || !r.s.connected).slice(0, 5);
      throw new Error(`timed out waiting for ${what}; e.g. ${JSON.stringify(bad.map((r) => ({
        user: r.user, connected: r.s.connected, disconnects: r.disconnects, errors: r.connectErrors.slice(0, 3) })))}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function closeAll(recs) {
  for (const r of recs) r.s.close();
}
