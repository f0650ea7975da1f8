// Hostile load on one chatnode (echo app), in two parts, printed as JSON:
//   pin:       1,000 sessions from 10 source addresses that never read and push all the memory
//              they can into the node: WebSocket clients flooding echo requests, WebSocket
//              clients announcing binary packets whose attachments never end, and polling
//              clients that post echo requests and never GET. Reports the node's peak RSS
//              against its --max-memory-queued, for each budget given.
//   handshake: one address opening sessions as fast as it can, past --handshake-rate, while
//              another address opens sessions at a steady pace. Reports the handshakes refused
//              per second and how the other address fared.
//
//   node tests/bench/hostile_load.mjs [--chatnode PATH] [--budgets 268435456,67108864]
//        [--sessions 1000] [--sources 10] [--seconds 20] [--size 60000] [--only pin|handshake]
//
// Build first: cmake -S . -B build-release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF
//              && cmake --build build-release --target chatnode
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const BIN = arg("chatnode", path.join(here, "../../build-release/chatnode/chatnode"));
const BUDGETS = arg("budgets", String(256 << 20) + "," + String(64 << 20)).split(",").map(Number);
const SESSIONS = Number(arg("sessions", "1000"));
const SOURCES = Number(arg("sources", "10"));
const SECONDS = Number(arg("seconds", "20"));
const ONLY = arg("only", "");
const SIZE = Number(arg("size", "60000")); // bytes of each message or attachment
const PATH = "/socket.io/";
const SEP = "\x1e";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const progress = (...a) => console.error(...a);

function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]);
}

function start(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ["--host", "127.0.0.1", "--port", "0", "--app", "echo", ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    const timer = setTimeout(() => reject(new Error(`chatnode did not start: ${err}`)), 10000);
    child.stderr.on("data", (d) => {
      err += d;
      if (err.length > 1 << 20) err = err.slice(-65536);
      const m = /listening.*?port=(\d+)/.exec(err);
      if (m && !child.port) {
        child.port = Number(m[1]);
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on("exit", (code) => !child.port && reject(new Error(`chatnode exited (${code}): ${err}`)));
  });
}

async function stop(child) {
  child.kill("SIGINT");
  await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
}

function request(port, p, { method = "GET", body, localAddress = "127.0.0.1", agent = false } = {}) {
  return new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, path: p, method, localAddress, agent }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, body: text }));
      res.on("error", () => resolve({ status: 0, body: "" }));
    });
    req.on("error", () => resolve({ status: 0, body: "" }));
    req.end(body);
  });
}

const healthz = async (port) => JSON.parse((await request(port, "/healthz")).body);
const source = (i) => `127.2.0.${1 + (i % SOURCES)}`;

/** A WebSocket session that has joined "/" and stopped reading. */
function wsSession(port, localAddress) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${PATH}?EIO=4&transport=websocket`, { localAddress });
    const s = { ws, closed: false };
    ws.on("error", () => (s.closed = true));
    ws.on("close", () => (s.closed = true));
    ws.on("message", (d) => {
      const t = d.toString();
      if (t[0] === "0") ws.send("40");
      else if (t.startsWith("40")) {
        ws.removeAllListeners("message");
        ws._socket.pause();
        ws._socket.on("close", () => (s.closed = true));
        resolve(s);
      }
    });
    ws.once("unexpected-response", () => resolve({ closed: true }));
    setTimeout(() => resolve(s), 10000);
  });
}

/** Resolves on the socket's next "drain", or after ms (a socket the node stopped reading). */
function drained(sock, ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      sock.off("drain", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    sock.on("drain", done);
  });
}

/** Sends while the session lives and the clock runs, with a bounded backlog of its own. */
async function pump(s, until, next) {
  while (!s.closed && Date.now() < until) {
    s.ws.send(next(), (err) => err && (s.closed = true));
    if (s.ws._socket.writableLength > 1 << 20) await drained(s.ws._socket, 100);
  }
}

async function pin(budget) {
  const node = await start(["--max-memory-queued", String(budget), "--ping-interval", "60000", "--ping-timeout", "60000"]);
  await sleep(500);
  const baseline = rssKiB(node.pid);
  let peak = baseline;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rssKiB(node.pid));
    } catch {
      /* gone */
    }
  }, 20);
  const echo = `42["message","${"x".repeat(SIZE)}"]`;
  const attachment = Buffer.alloc(SIZE, 7);
  const kinds = ["echo", "attachments", "polling"];
  const sessions = [];
  for (let i = 0; i < SESSIONS; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(SESSIONS, i + 100); j++) {
      const kind = kinds[j % 3], localAddress = source(j);
      if (kind === "polling") {
        batch.push((async () => {
          const hs = await request(node.port, `${PATH}?EIO=4&transport=polling`, { localAddress });
          if (hs.status !== 200) return { kind, closed: true };
          const sid = JSON.parse(hs.body.slice(1)).sid;
          await request(node.port, `${PATH}?EIO=4&transport=polling&sid=${sid}`, { method: "POST", body: "40", localAddress });
          return { kind, sid, localAddress, closed: false };
        })());
      } else {
        batch.push(wsSession(node.port, localAddress).then((s) => Object.assign(s, { kind })));
      }
    }
    sessions.push(...(await Promise.all(batch)));
  }
  const opened = sessions.filter((s) => !s.closed).length;
  progress(`pin ${budget >> 20} MiB: ${opened} of ${SESSIONS} sessions open, pushing for ${SECONDS} s`);
  const until = Date.now() + SECONDS * 1000;
  const postBody = Array.from({ length: Math.max(1, Math.floor(900_000 / (SIZE + 20))) }, () => echo).join(SEP);
  await Promise.all(sessions.map(async (s) => {
    if (s.closed) return;
    if (s.kind === "echo") return pump(s, until, () => echo);
    if (s.kind === "attachments") {
      // a binary event announcing 1000 attachments, then attachments that never complete it
      s.ws.send(`451000-["message",${JSON.stringify(Array.from({ length: 1000 }, (_, n) => ({ _placeholder: true, num: n })))}]`);
      let sent = 0;
      return pump(s, until, () => (++sent < 1000 ? attachment : attachment.subarray(0, 1)));
    }
    while (Date.now() < until) {
      const r = await request(node.port, `${PATH}?EIO=4&transport=polling&sid=${s.sid}`, { method: "POST", body: postBody, localAddress: s.localAddress });
      if (r.status !== 200) break;
    }
  }));
  progress(`pin ${budget >> 20} MiB: done pushing`);
  const h = await healthz(node.port);
  clearInterval(sampler);
  const alive = sessions.filter((s) => s.ws && !s.closed).length;
  for (const s of sessions) s.ws?.terminate();
  await stop(node);
  return {
    budget_mib: budget / 1048576,
    sessions: SESSIONS,
    sources: SOURCES,
    opened,
    seconds: SECONDS,
    rss_baseline_mib: +(baseline / 1024).toFixed(1),
    rss_peak_mib: +(peak / 1024).toFixed(1),
    rss_growth_mib: +((peak - baseline) / 1024).toFixed(1),
    counted_peak_mib: +(h.memory_queued_peak / 1048576).toFixed(1),
    dropped: h.memory_dropped,
    websockets_left_open: alive,
  };
}

async function handshakes() {
  const node = await start(["--ping-interval", "5000", "--ping-timeout", "5000"]);
  const flooder = new http.Agent({ keepAlive: true, maxSockets: 32, localAddress: "127.3.0.1" });
  const seconds = Math.min(SECONDS, 10);
  const until = Date.now() + seconds * 1000;
  const count = { flood_ok: 0, flood_refused: 0, other_ok: 0, other_failed: 0 };
  const otherLatency = [];
  const flood = Array.from({ length: 32 }, async () => {
    while (Date.now() < until) {
      const r = await request(node.port, `${PATH}?EIO=4&transport=polling`, { agent: flooder });
      if (r.status === 200) count.flood_ok++;
      else if (r.status === 429) count.flood_refused++;
    }
  });
  const other = (async () => {
    while (Date.now() < until) {
      const t0 = process.hrtime.bigint();
      const r = await request(node.port, `${PATH}?EIO=4&transport=polling`, { localAddress: "127.3.0.2" });
      otherLatency.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.status === 200) count.other_ok++;
      else count.other_failed++;
      await sleep(100); // 10 handshakes a second: well within the rate
    }
  })();
  await Promise.all([...flood, other]);
  flooder.destroy();
  const h = await healthz(node.port);
  await stop(node);
  otherLatency.sort((a, b) => a - b);
  return {
    seconds,
    flood_accepted: count.flood_ok,
    flood_refused: count.flood_refused,
    refused_per_s: Math.round(count.flood_refused / seconds),
    accepted_per_s: +(count.flood_ok / seconds).toFixed(1),
    other_accepted: count.other_ok,
    other_refused: count.other_failed,
    other_p50_ms: +otherLatency[Math.floor(otherLatency.length / 2)].toFixed(2),
    other_p99_ms: +otherLatency[Math.floor(otherLatency.length * 0.99)].toFixed(2),
    node_handshakes_refused: h.handshakes_refused,
  };
}

const report = {};
if (ONLY !== "handshake") {
  report.pin = [];
  for (const b of BUDGETS) report.pin.push(await pin(b));
}
if (ONLY !== "pin") report.handshake = await handshakes();
console.log(JSON.stringify(report, null, 2));
process.exit(0);
