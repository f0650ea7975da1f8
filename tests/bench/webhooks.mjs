// Webhook delivery from adminnode, measured: (a) the latency from a chat message stored (its
// sender's ack, through socket.io-client to a chatnode with --redis) to a receiver getting it
// in a webhook, p50/p99; (b) the events per second one adminnode delivers to one endpoint,
// draining a P:events pre-filled with N events. Release binaries of BENCH_BUILD_DIR
// (default build-release), or CHATNODE_BIN and ADMINNODE_BIN; its own redis-server.
//   node tests/bench/webhooks.mjs [--messages 500] [--events 200000] [--batch 100]
import { spawn } from "node:child_process";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { redisClient } from "./recovery.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const top = path.resolve(here, "../..");
const build = process.env.BENCH_BUILD_DIR || path.join(top, "build-release");
const CHATNODE = process.env.CHATNODE_BIN || path.join(build, "chatnode/chatnode");
const ADMINNODE = process.env.ADMINNODE_BIN || path.join(build, "adminnode/adminnode");
const KEY = "bench-webhooks-admin-key-0123456789";
const SECRET = "bench-secret";

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const MESSAGES = arg("messages", 500);
const EVENTS = arg("events", 200000);
const BATCH = arg("batch", 100);
const POLL_MS = arg("poll-ms", 100);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const live = new Set();
process.on("exit", () => live.forEach((c) => c.kill("SIGKILL")));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function start(cmd, args, ready, name) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    live.add(child);
    let buf = "", tail = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d) => {
      tail = (tail + d).slice(-4000);
      buf += d;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = ready && ready.exec(line);
        if (m) resolve({ child, port: Number(m[1]) });
      }
    });
    child.once("exit", (code, sig) => {
      live.delete(child);
      reject(new Error(`${name} exited (code ${code}, signal ${sig}):\n${tail}`));
    });
    if (!ready) resolve({ child });
  });
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await gone;
}

/** A receiver that answers 200 and hands every event to onEvent(event, now). */
async function receiver(onEvent) {
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const now = performance.now();
      const doc = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      for (const e of doc.events) onEvent(e, now);
      res.writeHead(200).end();
    });
  });
  srv.keepAliveTimeout = 60_000;
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${srv.address().port}/`, close: () => new Promise((r) => srv.close(r)) };
}

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function main() {
  const rport = await freePort();
  const redisProc = spawn("redis-server", ["--port", String(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  live.add(redisProc);
  const redisUrl = `redis://127.0.0.1:${rport}`;
  let rc;
  for (let i = 0; ; i++) {
    try {
      rc = await redisClient(redisUrl);
      break;
    } catch (e) {
      if (i > 100) throw e;
      await sleep(50);
    }
  }
  const adminFlags = (prefix) => ["--host", "127.0.0.1", "--port", "0", "--redis", redisUrl, "--control-prefix", prefix,
    "--webhooks-poll-ms", String(POLL_MS), "--webhooks-refresh-ms", "200"];
  const addEndpoint = async (admin, doc) => {
    const r = await fetch(`http://127.0.0.1:${admin.port}/api/v1/webhooks`, {
      method: "POST", headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ secret: SECRET, events: ["*"], ...doc }),
    });
    if (r.status !== 201) throw new Error(`add endpoint: ${r.status} ${await r.text()}`);
  };
  const env = { ...process.env, ADMINNODE_API_KEYS: `${KEY}:admin` };
  const startAdmin = (prefix) => new Promise((resolve, reject) => {
    const child = spawn(ADMINNODE, adminFlags(prefix), { env, stdio: ["ignore", "ignore", "pipe"] });
    live.add(child);
    let buf = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d) => {
      buf += d;
      const m = /msg="?listening.*\bport=(\d+)/.exec(buf);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once("exit", (c) => reject(new Error(`adminnode exited ${c}: ${buf.slice(-2000)}`)));
  });

  // (a) latency: chat messages through a chatnode, their sender's ack to the webhook
  const ackAt = new Map(), rxAt = new Map();
  const rxA = await receiver((e, now) => {
    if (e.type === "message" && !rxAt.has(e.data.message.id)) rxAt.set(e.data.message.id, now);
  });
  const adminA = await startAdmin("chatcluster");
  await addEndpoint(adminA, { id: "latency", url: rxA.url, events: ["message"] });
  const cport = await freePort();
  const chat = await start(CHATNODE, ["--host", "127.0.0.1", "--port", String(cport), "--app", "chat", "--allow-anonymous",
    "--rate", "100000", "--burst", "100000", "--redis", redisUrl, "--log-level", "warn"], null, "chatnode");
  let sock;
  for (let i = 0; ; i++) {
    try {
      sock = io(`http://127.0.0.1:${cport}`, { transports: ["websocket"], reconnection: false, auth: { user: "bench" } });
      await new Promise((res, rej) => (sock.once("connect", res), sock.once("connect_error", rej)));
      break;
    } catch (e) {
      sock.close();
      if (i > 100) throw e;
      await sleep(100);
    }
  }
  await sock.emitWithAck("join", { room: "bench" });
  await sleep(500); // the endpoint's group in place
  for (let i = 0; i < MESSAGES; i++) {
    const ack = await sock.emitWithAck("message", { room: "bench", text: `m${i}` });
    ackAt.set(ack.id, performance.now());
    await sleep(10); // a message every ~10 ms, not a burst
  }
  const deadline = Date.now() + 30_000;
  while ([...ackAt.keys()].some((id) => !rxAt.has(id)) && Date.now() < deadline) await sleep(50);
  // a webhook that came before its sender's ack counts as 0
  const lat = [...ackAt].filter(([id]) => rxAt.has(id)).map(([id, t]) => Math.max(0, rxAt.get(id) - t));
  sock.close();
  lat.sort((x, y) => x - y);
  await stop(chat.child);
  await stop(adminA.child);
  await rxA.close();

  // (b) throughput: one adminnode draining a pre-filled stream to one endpoint
  let got = 0, first = 0, last = 0;
  const rxB = await receiver((e, now) => {
    if (!first) first = now;
    got++;
    last = now;
  });
  const prefix = "tput";
  // the endpoint and its group first (from the stream's end), then the events
  const adminB = await startAdmin(prefix);
  await stop(adminB.child); // only to make the key layout; the group is made below
  await rc.command("XGROUP", "CREATE", `${prefix}:events`, `${prefix}:wh:tput`, "$", "MKSTREAM");
  await rc.command("HSET", `${prefix}:webhooks`, "tput",
    JSON.stringify({ id: "tput", url: rxB.url, events: ["*"], secret: SECRET, batch_max: BATCH, timeout_ms: 10000 }));
  const data = JSON.stringify({ room: "bench-room" });
  const CHUNK = 1000;
  for (let i = 0; i < EVENTS; i += CHUNK) {
    const n = Math.min(CHUNK, EVENTS - i);
    await Promise.all(Array.from({ length: n }, () =>
      rc.command("XADD", `${prefix}:events`, "*", "type", "room_occupied", "ts", String(Date.now()), "node", "bench1", "data", data)));
  }
  const t0 = performance.now();
  const admin2 = await startAdmin(prefix);
  const end = Date.now() + 600_000;
  while (got < EVENTS && Date.now() < end) await sleep(100);
  const t1 = performance.now();
  await stop(admin2.child);
  await rxB.close();
  rc.close?.();
  await stop(redisProc);

  const out = {
    latency_ms: { messages: MESSAGES, received: lat.length, p50: +pct(lat, 50).toFixed(1), p99: +pct(lat, 99).toFixed(1),
      max: +lat.at(-1).toFixed(1), poll_ms: POLL_MS },
    throughput: { events: EVENTS, delivered: got, batch_max: BATCH,
      seconds_from_start: +((t1 - t0) / 1000).toFixed(2), seconds_first_to_last: +((last - first) / 1000).toFixed(2),
      events_per_s: Math.round(got / ((last - first) / 1000)) },
  };
  console.log(JSON.stringify(out, null, 2));
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
