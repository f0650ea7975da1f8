// The side-by-side benchmark: every scenario runs against chatnode (`--app chat`) and against
// the Node.js socket.io 4.8 peer with the same chat events (peer/chat.mjs), one after the other
// in the same run, driven by the same load generator (loadgen/). Prints one table per scenario
// (metric, chatcluster, Node.js socket.io, ratio) and writes them into docs/benchmarks.md
// between the markers, with the machine's description and the command; a run of some
// scenarios replaces only their tables there. Run through compare.sh, which installs and
// builds what this needs. The `jitter` scenario instead drives npm socket.io-client clients
// (jitter.mjs) through nginx, against chatnode and two kinds of Node.js peer; `recovery`
// measures chatnode alone (recovery.mjs drives its clients).
//
//   node compare.mjs [--quick] [--no-write] [idle polling fanout crossnode pollchat storm jitter recovery ...]
//                    [--million-clients N] [--million-hold S] [--million-node-clients N]
//
// BENCH_DOC=path writes the tables into another file than docs/benchmarks.md. The `million`
// scenario is not part of a run of every scenario: it is run by name. Its sizes can also come
// from BENCH_MILLION_CLIENTS, BENCH_MILLION_HOLD and BENCH_MILLION_NODE_CLIENTS; it stops when
// the machine's MemAvailable falls under BENCH_MIN_FREE_GIB (default 6).
import { spawn, execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runJitter } from "./jitter.mjs";
import { keyMemory, redisClient, runRecoveryCost } from "./recovery.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const top = path.resolve(here, "../..");
const build = process.env.BENCH_BUILD_DIR || path.join(top, "build-release");
const CHATNODE = process.env.CHATNODE_BIN || path.join(build, "chatnode/chatnode");
const LOADGEN = process.env.LOADGEN_BIN || path.join(build, "tests/bench/loadgen/loadgen");
const FLOOR = process.env.FLOOR_BIN || path.join(build, "tests/bench/floor/floor");
const PEER = path.join(here, "peer/chat.mjs");
const DOC = process.env.BENCH_DOC ? path.resolve(process.env.BENCH_DOC) : path.join(top, "docs/benchmarks.md");
const NGINX_GEN = path.join(top, "deploy/nginx/gen.sh");

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const write = !argv.includes("--no-write");
// options with a value: `--name value` or `--name=value`
const VALUED = ["--million-clients", "--million-hold", "--million-node-clients"];
function option(name, env) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name && i + 1 < argv.length) return argv[i + 1];
    if (argv[i].startsWith(`${name}=`)) return argv[i].slice(name.length + 1);
  }
  return process.env[env];
}
const valueAt = new Set(argv.flatMap((a, i) => (VALUED.includes(a) ? [i + 1] : [])));
// Every scenario, in the order of its tables in docs/benchmarks.md, with what the titles of
// its tables start with: a run of some scenarios replaces the tables of those only.
const TITLES = {
  idle: "Idle WebSocket clients",
  polling: "Long-polling capacity",
  fanout: "Fan-out: ",
  crossnode: "Cross-node chat: ",
  pollchat: "Long-polling chat: ",
  storm: "Connect storm",
  jitter: "Connection jitter: ",
  recovery: "Connection-state recovery: ",
  hooks: "Publish hook: ",
  webhooks: "Webhooks: ",
  million: "A million idle chat clients",
};
const ALL = Object.keys(TITLES);
const BY_NAME_ONLY = ["million"]; // too long and too heavy for a run of every scenario
const chosen = argv.filter((a, i) => !a.startsWith("--") && !valueAt.has(i));
for (const s of chosen) if (!ALL.includes(s)) throw new Error(`unknown scenario ${s} (${ALL.join(", ")})`);
const scenarios = chosen.length ? ALL.filter((s) => chosen.includes(s)) : ALL.filter((s) => !BY_NAME_ONLY.includes(s));
const everyScenario = ALL.every((s) => scenarios.includes(s) || BY_NAME_ONLY.includes(s));

// Clients one server process can hold here: its open files limit, less what it uses itself.
const MAX_FDS = Number(process.env.BENCH_MAX_FDS || 1024);
const FIT = MAX_FDS - 200;
const capped = new Map(); // what -> { scenario, sizes }: sizes asked that did not fit, for the report
let running = null; // the scenario running
/** n, or the most clients that fit under the open files limit (noted in the report); a client
 * holds `conns` connections on the server. */
function fit(n, what, conns = 1) {
  if (n * conns <= FIT) return n;
  if (!capped.has(what)) capped.set(what, { scenario: running, sizes: [] });
  capped.get(what).sizes.push(n.toLocaleString("en-US"));
  return Math.floor(FIT / conns);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const CLK_TCK = 100;

/* ---- processes ---- */

const live = new Set(); // children still running; nginx's master is told SIGTERM (it ends its workers)
const tempDirs = new Set();
process.on("exit", () => {
  for (const c of live) try { c.kill(c.exitSignal ?? "SIGKILL"); } catch { /* gone */ }
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Spawns cmd; resolves once `count` stderr lines have matched `ready`, with { child, stop() }. */
function startProcess(cmd, args, ready, name, count = 1) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    live.add(child);
    let buf = "", tail = "", seen = 0;
    const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`${name} did not start:\n${tail}`)); }, 30_000);
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d) => {
      tail = (tail + d).slice(-4000);
      buf += d;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (ready.test(line) && ++seen === count) {
          clearTimeout(timer);
          resolve({ child, pid: child.pid, stop: () => stopChild(child) });
        }
      }
    });
    child.once("exit", (code, sig) => {
      live.delete(child);
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${code}, signal ${sig}):\n${tail}`));
    });
  });
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await gone;
  clearTimeout(t);
}

/** A chat server: kind "c" (chatnode), "node" (the peer) or "floor" (the floor program, the
 * machine's ceiling); returns { pid, pids(), port, stop() }. procs > 1: that many processes on
 * consecutive ports (chatnode --workers; separate peers), or for the floor that many ports of
 * its one process. */
async function startServer(kind, { redis, extra = [], procs = 1 } = {}) {
  // the per-socket rate limit is lifted on both: a benchmark's publisher sends far above it
  const flags = (port) => ["--host", "127.0.0.1", "--port", String(port), "--rate", "100000", "--burst", "100000",
    ...(redis ? ["--redis", redis] : []), ...extra];
  const port = await freePorts(procs);
  if (kind === "floor") {
    const ports = Array.from({ length: procs }, (_, i) => ["--port", String(port + i)]).flat();
    const p = await startProcess(FLOOR, ["--host", "127.0.0.1", ...ports], /msg="?listening/, "floor", procs);
    return { pid: p.pid, pids: () => [p.pid], port, procs, stop: p.stop, kind };
  }
  if (kind === "c") {
    // The load generator opens up to 40,000 sessions on one server from its 32 source
    // addresses as fast as it can: more than a real address's handshake burst (1,000 at once,
    // then 100/s), which would refuse the rest with 429.
    const p = await startProcess(CHATNODE, ["--app", "chat", "--allow-anonymous", "--handshake-rate", "0", ...flags(port),
      ...(procs > 1 ? ["--workers", String(procs)] : [])], /msg="?listening/, "chatnode", procs);
    return { pid: p.pid, pids: () => [p.pid, ...childrenOf(p.pid)], port, procs, stop: p.stop, kind };
  }
  const ps = await Promise.all(Array.from({ length: procs }, (_, i) =>
    startProcess("node", ["--max-old-space-size=16384", PEER, ...flags(port + i)], /msg="?listening/, "node peer")));
  return { pid: ps[0].pid, pids: () => ps.map((p) => p.pid), port, procs, stop: () => Promise.all(ps.map((p) => p.stop())), kind };
}

/** The first of n consecutive free ports. */
async function freePorts(n) {
  for (;;) {
    const first = await freePort();
    if (first + n > 65535) continue;
    let ok = true;
    for (let i = 1; i < n && ok; i++) ok = await portFree(first + i);
    if (ok) return first;
  }
}

function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function startRedis() {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" });
  live.add(child);
  child.once("exit", () => live.delete(child));
  const answers = () => new Promise((r) => {
    const s = net.connect(port, "127.0.0.1", () => { s.end(); r(true); });
    s.on("error", () => r(false));
  });
  for (let i = 0; !(await answers()); i++) {
    if (i > 200 || child.exitCode !== null) throw new Error("redis-server did not start");
    await sleep(50);
  }
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid, stop: () => stopChild(child) };
}

/**
 * nginx in front of chat servers, configured by deploy/nginx/gen.sh (tag mode: a request with a
 * sid goes to the node its tag names, a new session to the one with the fewest connections),
 * in a temp directory; `nodes` is [[tag, port]...]. Returns { port, url, stop() }.
 */
async function startNginx(nodes) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "chatcluster-bench-nginx-"));
  tempDirs.add(dir);
  chmodSync(dir, 0o755); // nginx started as root runs its workers as nobody
  const port = await freePort();
  execFileSync("bash", [NGINX_GEN, "--prefix", dir, "--foreground", "--listen", `127.0.0.1:${port}`,
    ...nodes.map(([tag, p]) => `${tag}=127.0.0.1:${p}`)], { stdio: ["ignore", "ignore", "pipe"] });
  const child = spawn("nginx", ["-p", dir, "-c", "nginx.conf", "-e", "logs/error.log"], { stdio: ["ignore", "ignore", "pipe"] });
  child.exitSignal = "SIGTERM";
  live.add(child);
  let err = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => (err = (err + d).slice(-4000)));
  child.once("exit", () => live.delete(child));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM"); // fast shutdown: open WebSockets are closed, not waited for
      const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await gone;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
  const answers = () => new Promise((r) => {
    const s = net.connect(port, "127.0.0.1", () => { s.end(); r(true); });
    s.on("error", () => r(false));
  });
  for (let i = 0; !(await answers()); i++) {
    if (i > 200 || child.exitCode !== null) {
      await stop();
      throw new Error(`nginx did not start: ${err}`);
    }
    await sleep(50);
  }
  return { port, url: `http://127.0.0.1:${port}`, stop };
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m[1]);
}

function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime
}

/**
 * Runs the load generator with args; `onReady` is awaited when it prints its `ready` line
 * (then it is stopped with SIGTERM once onReady returns). Resolves to its JSON report.
 */
function loadgen(args, { onReady, onSpawn } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(LOADGEN, [...args, "--quiet"], { stdio: ["ignore", "pipe", "pipe"] });
    live.add(child);
    onSpawn?.(child);
    let out = "", err = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", async (d) => {
      err = (err + d).slice(-8000);
      if (onReady && /^ready\b/m.test(err)) {
        const f = onReady;
        onReady = null;
        try {
          await f();
        } catch (e) {
          reject(e);
        }
        child.kill("SIGTERM");
      }
    });
    child.once("exit", (code) => {
      live.delete(child);
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`loadgen ${args.join(" ")} exited ${code} without a report:\n${err}`));
      }
    });
  });
}

/** Several load generators at once; onReady runs once all of them are ready; onSpawn(child)
 * is told of each as it starts. */
async function loadgenMany(argsList, onReady, onSpawn) {
  let waiting = argsList.length, release;
  const allReady = new Promise((r) => (release = r));
  const done = argsList.map((args) => loadgen(args, { onSpawn, onReady: async () => {
    if (--waiting === 0) {
      await onReady();
      release();
    }
    await allReady;
  } }));
  return Promise.all(done);
}

const target = (srv) => ["--host", "127.0.0.1", "--port", String(srv.port)];

/* ---- scenarios ---- */

const KINDS = [["c", "chatcluster"], ["node", "Node.js socket.io"]];
const results = []; // { scenario, title, notes, rows: [metric, c, node, ratio] }

function ratio(c, n, higherIsBetter) {
  if (!(c > 0) || !(n > 0)) return "";
  const r = higherIsBetter ? c / n : n / c;
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(1)}x`;
}
const fmt = (v, digits = 0) => (v === undefined || v === null || Number.isNaN(v) ? "-" :
  typeof v === "number" ? v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : String(v));

/** Idle WebSocket clients: server RSS per client. Sizes beyond one process's open files limit
 * run on several server processes (chatnode --workers; as many Node.js peers) and as many load
 * generators, one per server process; RSS is their sum. */
async function idle() {
  const sizes = quick ? [2000] : [10_000, 50_000, 100_000];
  const rows = [];
  for (const n of sizes) {
    const procs = Math.ceil(n / FIT);
    const per = {};
    for (const [kind] of KINDS) {
      const srv = await startServer(kind, { procs });
      await sleep(1000);
      const rss = () => srv.pids().reduce((sum, pid) => sum + rssKiB(pid), 0);
      const before = rss();
      let after = 0;
      const t0 = Date.now();
      const share = (i) => Math.floor(n / procs) + (i < n % procs ? 1 : 0);
      const reps = await loadgenMany(Array.from({ length: procs }, (_, i) => ["--host", "127.0.0.1", "--port", String(srv.port + i),
        "--scenario", "idle", "--transport", "websocket", "--clients", String(share(i)), "--hold", "0"]),
      async () => { await sleep(2000); after = rss(); });
      await srv.stop();
      const connected = reps.reduce((sum, r) => sum + r.connected, 0);
      per[kind] = { before, after, connected, bytes: ((after - before) * 1024) / connected, s: (Date.now() - t0) / 1000 };
      log(`idle ${n} ${kind} (${procs} processes): ${JSON.stringify(per[kind])}`);
    }
    const label = `${fmt(n)} clients${procs > 1 ? ` (${procs} server processes)` : ""}`;
    rows.push([`${label}: connected`, fmt(per.c.connected), fmt(per.node.connected), ""]);
    rows.push([`${label}: server RSS (MiB)`, fmt(per.c.after / 1024, 1), fmt(per.node.after / 1024, 1), ratio(per.c.after, per.node.after, false)]);
    rows.push([`${label}: RSS per client (bytes)`, fmt(per.c.bytes), fmt(per.node.bytes), ratio(per.c.bytes, per.node.bytes, false)]);
  }
  results.push({ scenario: "idle", title: "Idle WebSocket clients", rows,
    notes: `Clients connect over WebSocket only, sign in (the chat app puts each in its user room) and stay idle. RSS is the server's VmRSS once all are connected, minus the RSS before; per client is that difference divided by the clients connected. This machine allows ${fmt(MAX_FDS)} open files per process, so sizes above ${fmt(FIT)} run on several server processes on consecutive ports (chatnode --workers N; N separate Node.js peers) with the clients split evenly, and RSS is summed over the processes.` });
}

/** Long-polling capacity with the default heartbeat (25 s + 20 s). */
async function polling() {
  const ladder = [...new Set((quick ? [1000] : [2500, 5000, 10_000, 20_000, 30_000, 40_000]).map((n) => fit(n, "polling")))];
  const holdS = quick ? 10 : 55;
  const best = {};
  for (const [kind] of KINDS) {
    for (const n of ladder) {
      const srv = await startServer(kind);
      let rss = 0, cpu = 0;
      const rep = await loadgen([...target(srv), "--scenario", "idle", "--transport", "polling", "--clients", String(n),
        "--rooms", "0", "--hold", "0"], {
        onReady: async () => {
          const c0 = cpuTicks(srv.pid);
          await sleep(holdS * 1000);
          cpu = ((cpuTicks(srv.pid) - c0) / CLK_TCK / holdS) * 100;
          rss = rssKiB(srv.pid);
        },
      });
      await srv.stop();
      const lost = (rep.errors?.closed ?? 0) + (rep.errors?.protocol ?? 0);
      const held = rep.connected === n && lost === 0;
      log(`polling ${n} ${kind}: connected ${rep.connected}, lost ${lost}, cpu ${cpu.toFixed(1)}%, rss ${rss} KiB`);
      if (!held) break;
      best[kind] = { n, cpu, rss };
    }
  }
  const b = (k, f) => (best[k] ? f(best[k]) : "-");
  results.push({ scenario: "polling", title: "Long-polling capacity", rows: [
    [`polling clients held for ${holdS} s (largest step of ${ladder.map((n) => fmt(n)).join(", ")})`, b("c", (x) => fmt(x.n)), b("node", (x) => fmt(x.n)), ratio(best.c?.n, best.node?.n, true)],
    ["CPU at that step (% of one core)", b("c", (x) => fmt(x.cpu, 1)), b("node", (x) => fmt(x.cpu, 1)), ratio(best.c?.cpu, best.node?.cpu, false)],
    ["RSS at that step (MiB)", b("c", (x) => fmt(x.rss / 1024, 1)), b("node", (x) => fmt(x.rss / 1024, 1)), ratio(best.c?.rss, best.node?.rss, false)],
  ], notes: `Polling-only clients with the default heartbeat (pingInterval 25 s, pingTimeout 20 s), held for ${holdS} s so that every client goes through a heartbeat. A step is held when every client connected and none was closed.` });
}

const HELD_P99_US = 500_000;

/** One room, one publisher at increasing rates. */
async function fanout() {
  const subs = fit(quick ? 1000 : 10_000, "fan-out");
  const rates = quick ? [10, 50] : [5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200];
  const duration = quick ? 3 : 5;
  const best = {}, peak = {}, at = {};
  const ladder = [...rates, ...LADDER_MORE.fanout];
  for (const kind of [...KINDS.map(([k]) => k), "floor"]) {
    at[kind] = {};
    for (const rate of ladder) {
      const srv = await startServer(kind);
      const rep = await loadgen([...target(srv), "--scenario", "fanout", "--transport", "websocket", "--clients", String(subs),
        "--rate", String(rate), "--duration", String(duration)]);
      await srv.stop();
      log(`fanout ${subs} x ${rate}/s ${kind}: delivered ${rep.delivered}/${rep.expected}, ${Math.round(rep.delivered_per_s)}/s, p99 ${rep.latency_us?.p99} us, backlog ${rep.backlog}`);
      at[kind][rate] = rep;
      peak[kind] = Math.max(peak[kind] ?? 0, rep.throughput_per_s);
      if (!held(rep)) break;
      best[kind] = { rate, rep };
    }
  }
  const b = (k, f) => (best[k] ? f(best[k]) : "-");
  results.push({ scenario: "fanout", title: `Fan-out: one room of ${fmt(subs)} clients`, rows: [
    ["highest publish rate held (messages/s)", b("c", (x) => fmt(x.rate)), b("node", (x) => fmt(x.rate)), ratio(best.c?.rate, best.node?.rate, true)],
    ["delivered messages/s at that rate", b("c", (x) => fmt(x.rep.delivered_per_s)), b("node", (x) => fmt(x.rep.delivered_per_s)), ratio(best.c?.rep.delivered_per_s, best.node?.rep.delivered_per_s, true)],
    ["most deliveries/s in any step (first send to last delivery)", fmt(peak.c), fmt(peak.node), ratio(peak.c, peak.node, true)],
    ...latencyRows(at, rates, (rate) => `${fmt(rate)} messages/s (${fmt(rate * subs)} deliveries/s)`, ["p50", "p99"]),
    ...ceilingRows(best, peak, (x) => x.rep.delivered_per_s, ladder.at(-1)),
  ], notes: `One publisher sends chat messages (stored, then broadcast) to a room of ${fmt(subs)} WebSocket clients, ${duration} s per rate, rates ${ladder.join(", ")}/s, stopping at the first rate not held: a rate is held when every message reached every client, none was still on its way 1 s after the last was sent, and the p99 latency stayed under ${HELD_P99_US / 1000} ms (a server that falls behind shows as latency growing through the run). Latency is from the publisher's send to each delivery; a dash is a rate not run. ${CEILING_NOTE} A share marked ≥ is of a server that held every rate of the ladder.` });
}

/* Every kind climbs the same ladder, which goes on to rates only the floor program held. */
const LADDER_MORE = quick ? { fanout: [100, 200], crossnode: [500, 1000] }
  : { fanout: [300, 400, 600, 800], crossnode: [30_000, 40_000, 60_000, 80_000] };
const CEILING_NOTE = "The ceiling is tests/bench/floor run in the same steps: one process (one thread, epoll, no storage, no Redis) that answers the handshake, CONNECT and join just enough for the load generator to count a client in, and for each message writes the frame chatnode would deliver (same bytes) to every member of the room with one send() each, encoding it once; the same load generator measures it as it measures the servers, so the ceiling is this machine's with this load generator.";

/** Rows saying what each server reaches as a share of the floor program's figures: at its
 * highest rate held (value(best) deliveries/s), and the peak step when given. A server that held
 * the top of the ladder (top) may do more: its share is "at least"; so is the ceiling when the
 * floor held it. */
function ceilingRows(best, peak, value, top) {
  const pct = (k, v, f) => (v > 0 && f > 0 ? `${best[k]?.rate >= top ? "≥ " : ""}${fmt((100 * v) / f, 1)}%` : "-");
  const fb = best.floor ? value(best.floor) : 0;
  const atLeast = best.floor?.rate >= top ? "at least " : "";
  const rows = [[`chatcluster as % of this machine's ceiling: deliveries/s at the highest rate held (the floor program: ${best.floor ? `${atLeast}${fmt(fb)}/s at ${fmt(best.floor.rate)} messages/s` : "no rate held"})`,
    pct("c", best.c && value(best.c), fb), pct("node", best.node && value(best.node), fb), ""]];
  if (peak)
    rows.push([`chatcluster as % of this machine's ceiling: most deliveries/s in any step (the floor program: ${atLeast}${fmt(peak.floor)}/s)`,
      pct("c", peak.c, peak.floor), pct("node", peak.node, peak.floor), ""]);
  return rows;
}

/** A step kept up with its rate: everything arrived, in time. */
function held(rep) {
  return !rep.backlog && rep.delivered >= rep.expected && rep.latency_us.p99 <= HELD_P99_US;
}

/** Latency rows per rate that either side ran: [label, chatcluster, Node.js, ratio]. */
function latencyRows(at, rates, label, quantiles) {
  const rows = [];
  const ms = (rep, q) => (rep ? fmt(rep.latency_us[q] / 1000, 2) : "-");
  for (const rate of rates) {
    const c = at.c[rate], n = at.node[rate];
    if (!c && !n) continue;
    for (const q of quantiles)
      rows.push([`${label(rate)}: latency ${q} (ms)`, ms(c, q), ms(n, q), c && n ? ratio(c.latency_us[q], n.latency_us[q], false) : ""]);
  }
  return rows;
}

/** Two servers on one Redis, clients split over both, chat through the bus. */
async function crossnode() {
  const clients = quick ? 200 : 1000;
  const rooms = clients / 10;
  const rates = quick ? [100, 200] : [1000, 2000, 5000, 10_000, 15_000, 20_000];
  const duration = quick ? 3 : 5;
  const best = {}, peak = {}, at = {}; // at[kind][rate]: the report
  const ladder = [...rates, ...LADDER_MORE.crossnode];
  for (const kind of [...KINDS.map(([k]) => k), "floor"]) {
    at[kind] = {};
    for (const rate of ladder) {
      let ports, stop;
      if (kind === "floor") {
        // one process, both ports, no Redis: the rooms span both and no message crosses a bus
        const f = await startServer("floor", { procs: 2 });
        ports = [f.port, f.port + 1];
        stop = () => f.stop();
      } else {
        const redis = await startRedis();
        const a = await startServer(kind, { redis: redis.url });
        const b = await startServer(kind, { redis: redis.url });
        await sleep(500);
        ports = [a.port, b.port];
        stop = async () => {
          await Promise.all([a.stop(), b.stop()]);
          await redis.stop();
        };
      }
      const rep = await loadgen(["--connect-to", ports.map((p) => `127.0.0.1:${p}`).join(","), "--scenario", "chat",
        "--transport", "websocket", "--clients", String(clients), "--rooms", String(rooms), "--rate", String(rate), "--duration", String(duration)]);
      await stop();
      log(`crossnode ${clients} clients ${rate} msg/s ${kind}: ${Math.round(rep.delivered_per_s)} deliveries/s, p99 ${rep.latency_us?.p99} us, backlog ${rep.backlog}`);
      at[kind][rate] = rep;
      peak[kind] = Math.max(peak[kind] ?? 0, rep.throughput_per_s);
      if (!held(rep)) break;
      best[kind] = { rate, rep };
    }
  }
  const b = (k, f) => (best[k] ? f(best[k]) : "-");
  const rows = [
    ["highest message rate held (messages/s)", b("c", (x) => fmt(x.rate)), b("node", (x) => fmt(x.rate)), ratio(best.c?.rate, best.node?.rate, true)],
    ["deliveries/s at that rate", b("c", (x) => fmt(x.rep.delivered_per_s)), b("node", (x) => fmt(x.rep.delivered_per_s)), ratio(best.c?.rep.delivered_per_s, best.node?.rep.delivered_per_s, true)],
    ...latencyRows(at, rates, (rate) => `${fmt(rate * 10)} deliveries/s`, ["p50", "p99", "p999"]),
    ...ceilingRows(best, peak, (x) => x.rep.delivered_per_s, ladder.at(-1)),
  ];
  results.push({ scenario: "crossnode", title: "Cross-node chat: two servers and Redis", rows,
    notes: `${fmt(clients)} WebSocket clients in ${rooms} rooms of 10, alternately on two servers sharing one Redis (chatnode's redis-adapter bus; the peer's @socket.io/redis-adapter), the clients sending to their rooms in turn; each message is stored in Redis and delivered to the 10 members, 5 on each server, so half the deliveries cross the bus. ${duration} s per rate, rates ${ladder.join(", ")} messages/s (10 deliveries each), stopping at the first rate not held (all delivered, p99 under ${HELD_P99_US / 1000} ms); a dash is a rate not run. ${CEILING_NOTE} Here its one process listens on two ports, the clients spread over both as over the two servers, and delivers every message to its room of 10 itself (no Redis, no bus: the limit of the delivery alone). A share marked ≥ is of a server that held every rate of the ladder.` });
}

/** Long-polling chat on one server: clients in rooms of 10 sending at increasing rates, each
 * with its long-poll GET on one connection and its POSTs on another, as a browser. */
async function pollchat() {
  const clients = fit(quick ? 200 : 1000, "long-polling chat", 2);
  const rooms = Math.ceil(clients / 10);
  const rates = quick ? [100, 200] : [500, 1000, 2000, 3000, 5000, 7500, 10_000, 15_000];
  const duration = quick ? 3 : 5;
  const best = {}, at = {}; // at[kind][rate]: the report
  for (const [kind] of KINDS) {
    at[kind] = {};
    for (const rate of rates) {
      const srv = await startServer(kind);
      const rep = await loadgen([...target(srv), "--scenario", "chat", "--transport", "polling", "--clients", String(clients),
        "--rooms", String(rooms), "--rate", String(rate), "--duration", String(duration)]);
      await srv.stop();
      log(`pollchat ${clients} clients ${rate} msg/s ${kind}: connected ${rep.connected}, ${Math.round(rep.delivered_per_s)} deliveries/s, p99 ${rep.latency_us?.p99} us, backlog ${rep.backlog}, POST connections ${rep.post_connects}`);
      at[kind][rate] = rep;
      if (!held(rep)) break;
      best[kind] = { rate, rep };
    }
  }
  const b = (k, f) => (best[k] ? f(best[k]) : "-");
  results.push({ scenario: "pollchat", title: "Long-polling chat: one server, clients in rooms of 10", rows: [
    ["highest message rate held (messages/s)", b("c", (x) => fmt(x.rate)), b("node", (x) => fmt(x.rate)), ratio(best.c?.rate, best.node?.rate, true)],
    ["deliveries/s at that rate", b("c", (x) => fmt(x.rep.delivered_per_s)), b("node", (x) => fmt(x.rep.delivered_per_s)), ratio(best.c?.rep.delivered_per_s, best.node?.rep.delivered_per_s, true)],
    ...latencyRows(at, rates, (rate) => `${fmt(rate)} messages/s (${fmt(rate * 10)} deliveries/s)`, ["p50", "p99"]),
  ], notes: `${fmt(clients)} clients on HTTP long-polling only, as a browser without WebSocket: each holds its long-poll GET open on one keep-alive connection (sent again as soon as one returns) and sends its packets (sign-in, join, chat messages, pongs) in POSTs on a second connection beside it, one POST at a time, what is sent meanwhile going in the next; a POST connection the server closes between requests is opened again. The clients sign in and join rooms of 10 (${rooms} rooms) on one server, straight to it, and send chat messages to their rooms in turn; each message is stored and delivered to the 10 members in their GETs' answers. ${duration} s per rate, rates ${rates.join(", ")} messages/s (10 deliveries each), stopping at the first rate not held (all delivered, none still on its way 1 s after the last was sent, p99 under ${HELD_P99_US / 1000} ms); latency from the send (the message's text carries its send time) to each delivery; a dash is a rate not run.` });
}

/** Connect storm: sessions accepted per second. */
async function storm() {
  const n = fit(quick ? 1000 : 10_000, "storm");
  const per = {};
  for (const [kind] of KINDS) {
    const srv = await startServer(kind);
    const rep = await loadgen([...target(srv), "--scenario", "storm", "--transport", "websocket", "--clients", String(n)]);
    await srv.stop();
    per[kind] = rep;
    log(`storm ${n} ${kind}: ${Math.round(rep.connects_per_s)}/s, connected ${rep.connected}`);
  }
  results.push({ scenario: "storm", title: "Connect storm", rows: [
    [`sessions accepted per second (${fmt(n)} WebSocket clients)`, fmt(per.c.connects_per_s), fmt(per.node.connects_per_s), ratio(per.c.connects_per_s, per.node.connects_per_s, true)],
    ["connected", fmt(per.c.connected), fmt(per.node.connected), ""],
  ], notes: "Clients open WebSocket sessions as fast as the load generator's concurrency allows (Socket.IO CONNECT answered counts as accepted)." });
}

/** Connection jitter on two servers behind nginx, one of them killed halfway: what reaches the
 * clients, and how many reconnects recover the session (socket.io's connection state recovery). */
async function jitter() {
  const clients = quick ? 50 : 200;
  const durationMs = quick ? 15_000 : 60_000;
  const periodMs = 200, meanCutMs = 10_000, windowMs = 30_000, delayMs = 200, drainMs = 2000;
  const kinds = [
    ["c", "chatcluster", "c", []],
    ["pubsub", "Node.js redis-adapter", "node", []],
    ["streams", "Node.js streams-adapter + recovery", "node", ["--adapter", "streams", "--recovery-window", String(windowMs)]],
  ];
  const per = {}, failed = [];
  for (const [key, name, kind, extra] of kinds) {
    const stops = [];
    try {
      const redis = await startRedis();
      stops.push(() => redis.stop());
      const a = await startServer(kind, { redis: redis.url, extra: [...extra, "--node-tag", "a"] });
      stops.push(() => a.stop());
      const b = await startServer(kind, { redis: redis.url, extra: [...extra, "--node-tag", "b"] });
      stops.push(() => b.stop());
      const nginx = await startNginx([["a", a.port], ["b", b.port]]);
      stops.push(() => nginx.stop());
      await sleep(500);
      const t0 = Date.now();
      per[key] = await runJitter({ url: nginx.url, senderUrl: `http://127.0.0.1:${b.port}`, clients, periodMs, durationMs,
        meanCutMs, delayMs, drainMs, killTag: "a", kill: async () => { for (const pid of a.pids()) process.kill(pid, "SIGKILL"); },
        log: (line) => log(`${key} ${line}`) });
      log(`jitter ${key} (${((Date.now() - t0) / 1000).toFixed(0)} s): ${JSON.stringify(per[key])}`);
    } catch (err) {
      log(`jitter ${key} failed: ${err.stack || err}`);
      failed.push(`${name}: ${String(err.message || err).split("\n")[0]}`);
    } finally {
      for (const stop of stops.reverse()) await stop().catch((e) => log(`jitter ${key}: stopping: ${e.message}`));
    }
  }
  const keys = kinds.map(([key]) => key);
  const pct = (n, d) => (d > 0 ? fmt((100 * n) / d, 1) : "-");
  const row = (label, f) => [label, ...keys.map((k) => (per[k] ? f(per[k]) : "-"))];
  results.push({ scenario: "jitter", title: "Connection jitter: two servers behind nginx, one killed halfway",
    columns: kinds.map(([, name]) => name), rows: [
      row("clients (on the killed server when it was killed)", (r) => `${fmt(r.clients)} (${fmt(r.onKilled)})`),
      row("messages sent (acknowledged)", (r) => fmt(r.sent)),
      row("deliveries expected", (r) => fmt(r.expected)),
      row("delivered live (%)", (r) => pct(r.delivered, r.expected)),
      row("delivered, counting the history each rejoin answers with (%)", (r) => pct(r.withHistory, r.expected)),
      row("duplicates (a client received a message twice or more)", (r) => fmt(r.duplicates)),
      row("reconnects", (r) => fmt(r.reconnects)),
      row("reconnects recovered (%)", (r) => pct(r.recovered, r.reconnects)),
      row("killed server's clients: recovered on their reconnect (%)", (r) => pct(r.killedRecovered, r.killedBack)),
    ], notes: `Two servers of one kind share one Redis behind nginx (deploy/nginx/gen.sh's configuration: a new session goes to the server with the fewest connections, a request with a sid to the server its tag names), side by side: chatnode; the Node.js peer on @socket.io/redis-adapter (no recovery); the peer on @socket.io/redis-streams-adapter with socket.io's connectionStateRecovery (maxDisconnectionDuration ${windowMs / 1000} s). ${fmt(clients)} npm socket.io-client clients (WebSocket only, reconnectionDelay ${delayMs} ms) connect through nginx in rooms of 10 and join their room; a client whose reconnect is not recovered joins it again, as the chat page does. One sender per room, connected straight to the server that stays up and never cut, sends a message with a unique text every ${periodMs} ms for ${durationMs / 1000} s; a message counts as sent when its ack says ok. Each client's connection is cut at exponential intervals of ${meanCutMs / 1000} s on average, alternately by destroying its TCP socket and by closing its engine; halfway through the other server is SIGKILLed (not restarted) and its clients reconnect through nginx to the one left. Counting starts ${drainMs / 1000} s after sending stopped and every client was back in its room (waited for up to 15 s). Expected: each message sent to a client's room after its first join, once per client; delivered live: of those, the ones it received as a \`message\` event; counting the history: also those that arrived only in the history a rejoin answers with (the chat page shows those too); duplicates: (client, message) pairs received more than once; reconnects: \`connect\` events after a client's first; recovered: those with socket.recovered true; the killed server's clients: those connected to it when it was killed, by their next connect.${failed.length ? ` Failed: ${failed.join("; ")}.` : ""}` });
}

const RECOVERY_WINDOW_MS = 120_000; // chatnode's default --recovery-window
const RECOVERY_QUIET_MS = 2000; // quiet before the reconnects: Redis's background traffic

/** Connection-state recovery, chatnode only: what one restore costs Redis by the messages
 * missed, and what keeping sessions costs in memory, chatnode's and Redis's. */
async function recovery() {
  const clients = quick ? 50 : 200;
  const missed = [0, 3, 30];
  const cost = {}, failed = [];
  for (const k of missed) {
    const stops = [];
    try {
      const redis = await startRedis();
      stops.push(() => redis.stop());
      const a = await startServer("c", { redis: redis.url });
      stops.push(() => a.stop());
      const b = await startServer("c", { redis: redis.url });
      stops.push(() => b.stop());
      const t0 = Date.now();
      await sleep(500);
      const r = await runRecoveryCost({ urls: [a, b].map((srv) => `http://127.0.0.1:${srv.port}`), redisUrl: redis.url,
        clients, missed: k, quietMs: RECOVERY_QUIET_MS, log: (line) => log(`recovery k=${k}: ${line}`) });
      // every half window each chatnode refreshes its live sessions' TTLs: none may fall in
      if (Date.now() - t0 >= RECOVERY_WINDOW_MS / 2)
        throw new Error(`the run took ${Date.now() - t0} ms: a session refresh may have fallen into the reconnects`);
      cost[k] = r;
      log(`recovery k=${k} (${((Date.now() - t0) / 1000).toFixed(0)} s): ${JSON.stringify(r)}`);
    } catch (err) {
      log(`recovery k=${k} failed: ${err.stack || err}`);
      failed.push(`${k} missed: ${String(err.message || err).split("\n")[0]}`);
    } finally {
      for (const stop of stops.reverse()) await stop().catch((e) => log(`recovery: stopping: ${e.message}`));
    }
  }
  const per = (r, v, digits = 0) => (r.recovered ? fmt(v / r.recovered, digits) : "-");
  const costRows = missed.map((k) => {
    const r = cost[k];
    if (!r) return [fmt(k), "-", "-", "-", "-", "-", "-"];
    return [fmt(k), `${fmt(r.recovered)} of ${fmt(r.clients)}`, fmt(r.exact), per(r, r.commandsTotal, 1), per(r, r.evals, 1),
      per(r, r.bytesIn), per(r, r.bytesOut)];
  });
  const first = missed.find((k) => cost[k]?.recovered);
  const byName = first === undefined ? "" : `${first} missed: ` + Object.entries(cost[first].commands).sort((x, y) => y[1] - x[1])
    .map(([name, calls]) => `${name} ${fmt(calls / cost[first].recovered, 1)}`).join(", ");
  const asEval = Object.values(cost).some((r) => r.evals > 0) && !Object.values(cost).some((r) => r.commands.evalsha);
  const bad = missed.filter((k) => cost[k] && cost[k].exact !== cost[k].clients)
    .map((k) => `${k} missed: ${JSON.stringify(cost[k].wrong)}`);
  results.push({ scenario: "recovery", title: "Connection-state recovery: what one restore costs Redis", metric: "messages missed",
    columns: ["recovered", "recovered with exactly the missed messages", "Redis commands per recovery", "of them EVALs from chatnode",
      "bytes into Redis per recovery", "bytes out of Redis per recovery"],
    rows: costRows,
    notes: `chatcluster only. The Node.js peer on @socket.io/redis-adapter keeps no sessions; socket.io's own recovery across servers needs @socket.io/redis-streams-adapter (the jitter scenario's third kind), which writes a session only when its connection drops and restores by reading the namespace's one stream from the client's offset on (every room's packets, filtered in the server): not measured here. Two chatnodes (\`--app chat --allow-anonymous --redis\`, recovery at its defaults: \`--recovery-window ${RECOVERY_WINDOW_MS}\`, \`--recovery-max-packets 1000\`) on one redis-server; ${fmt(clients)} npm socket.io-client clients (WebSocket only) connected straight to them, alternately, in rooms of 10, each room with a sender that stays connected. Every client closes its engine with reconnection off; once the chatnodes kept every session, each sender posts k chat messages to its room (each stored and logged), and every client connects again, to the other chatnode. Measured from INFO stats and commandstats on one connection, taken before the reconnects and once every client reported \`socket.recovered\` and the chatnodes it left had dropped their copies (+0.5 s): the commands Redis ran (those a script calls included), the EVALs chatnode sent, and total_net_input_bytes / total_net_output_bytes, divided by the clients recovered; INFO's own traffic is left out, and so is the background (heartbeats, presence liveness) measured over ${RECOVERY_QUIET_MS / 1000} s of quiet just before. Recovered: \`socket.recovered\` true with the socket id it had; with exactly the missed messages: also on the other chatnode (by its Engine.IO sid's node tag), having received the k messages of its room, in order, before \`connect\`, and nothing more within 0.5 s.${byName ? ` By name, per recovery, at ${byName}.` : ""}${asEval ? " chatnode sent its scripts with EVAL, their text each time (no EVALSHA)." : ""}${failed.length ? ` Failed: ${failed.join("; ")}.` : ""}${bad.length ? ` Not as expected: ${bad.join("; ")}.` : ""}` });

  // memory: idle clients in rooms of 10 through the load generator, recovery on and off
  const n = fit(quick ? 2000 : 10_000, "recovery");
  const mem = {};
  for (const withRedis of [false, true]) {
    for (const window of [RECOVERY_WINDOW_MS, 0]) {
      const key = `${withRedis ? "redis" : "alone"}-${window ? "on" : "off"}`;
      const stops = [];
      try {
        const redis = withRedis ? await startRedis() : null;
        if (redis) stops.push(() => redis.stop());
        const srv = await startServer("c", { redis: redis?.url, extra: ["--recovery-window", String(window)] });
        stops.push(() => srv.stop());
        const info = redis ? await redisClient(redis.url) : null;
        if (info) stops.push(async () => info.close());
        const redisNow = async () => {
          if (!info) return { used: 0, keys: 0 };
          const { fields } = await info.info("memory", "keyspace");
          return { used: Number(fields.get("used_memory")), keys: Number(/keys=(\d+)/.exec(fields.get("db0") ?? "")?.[1] ?? 0) };
        };
        await sleep(1000);
        const before = { rss: rssKiB(srv.pid), ...await redisNow() };
        let after = null, kinds = {};
        const rep = await loadgen([...target(srv), "--scenario", "idle", "--transport", "websocket", "--clients", String(n),
          "--rooms", String(Math.ceil(n / 10)), "--hold", "0"],
        { onReady: async () => {
          await sleep(2000);
          after = { rss: rssKiB(srv.pid), ...await redisNow() };
          // then what the recovery store's keys hold (MEMORY USAGE)
          if (info) kinds = await keyMemory(info, [["sessions", /^\{[^}]*:rec:[^}]*\}:s:/], ["log", /^\{[^}]*:rec:[^}]*\}:/]]);
        } });
        const c = rep.connected;
        mem[key] = { connected: c, rss: ((after.rss - before.rss) * 1024) / c, redis: (after.used - before.used) / c,
          keys: (after.keys - before.keys) / c, sessions: (kinds.sessions?.bytes ?? 0) / c, log: (kinds.log?.bytes ?? 0) / c,
          kinds, before, after };
        log(`recovery memory ${key}: ${JSON.stringify(mem[key])}`);
      } catch (err) {
        log(`recovery memory ${key} failed: ${err.stack || err}`);
        failed.push(`memory ${key}: ${String(err.message || err).split("\n")[0]}`);
      } finally {
        for (const stop of stops.reverse()) await stop().catch((e) => log(`recovery: stopping: ${e.message}`));
      }
    }
  }
  const memRow = (label, on, off, f, digits = 0) => {
    const x = mem[on], y = mem[off];
    return [label, x ? fmt(f(x), digits) : "-", y ? fmt(f(y), digits) : "-", x && y ? fmt(f(x) - f(y), digits) : ""];
  };
  const connected = Object.values(mem).map((m) => m.connected);
  const memFailed = failed.filter((f) => f.startsWith("memory "));
  results.push({ scenario: "recovery", title: "Connection-state recovery: memory per idle client",
    columns: [`recovery on (\`--recovery-window ${RECOVERY_WINDOW_MS}\`)`, "recovery off (`--recovery-window 0`)", "difference"],
    rows: [
      memRow("chatnode RSS per client, running alone (bytes)", "alone-on", "alone-off", (m) => m.rss),
      memRow("chatnode RSS per client, with `--redis` (bytes)", "redis-on", "redis-off", (m) => m.rss),
      memRow("Redis used_memory per client (bytes)", "redis-on", "redis-off", (m) => m.redis),
      memRow("Redis keys per client", "redis-on", "redis-off", (m) => m.keys, 2),
      memRow("MEMORY USAGE of the session hashes, per client (bytes)", "redis-on", "redis-off", (m) => m.sessions),
      memRow("MEMORY USAGE of the recovery log's streams, per client (bytes)", "redis-on", "redis-off", (m) => m.log),
    ],
    notes: `chatcluster only, as above. One chatnode (\`--app chat --allow-anonymous\`), alone and with \`--redis\` on its own redis-server, each with recovery on and off; ${fmt(n)} idle WebSocket clients from the load generator (as in the idle scenario) sign in and join rooms of 10 (connected: ${connected.length ? connected.map((c) => fmt(c)).join(", ") : "-"}). chatnode's VmRSS and Redis's used_memory and key count once all are connected (+2 s), less before, divided by the clients connected; then MEMORY USAGE (SAMPLES 0) of every key of the recovery store: the sessions (with \`--redis\` one hash per connected client: its id, owner, start, node, socket data and a field per room, its own user room included) and the log (the namespace's sequence, and a stream per room holding what was logged there: here the chat's \`joined\` announcements, 10 per room). MEMORY USAGE leaves out the keyspace's own entries, which used_memory counts. Redis holds the chat's presence in both.${memFailed.length ? ` Failed: ${memFailed.join("; ")}.` : ""}` });
}

/* ---- million ---- */

const BCAST_WAIT_S = quick ? 10 : 120; // the longest the broadcast is waited for

const PER_PROCESS = Math.min(19_000, FIT); // clients per server process and per load generator
const ROOM_SIZE = 100;
// Handshakes under way at once, over all load generators: a 2-core machine saturated by 53
// workers and 53 load generators answers each in seconds, and 53 x 256 of them at once ran
// into the load generator's 30 s connect timeout (connections dropped and opened again as
// fast as they came, the count stuck near 650,000). About 3,000 in all, as 200,000 on 11 did.
const CONCURRENCY = (procs) => Math.max(16, Math.min(256, Math.floor(3000 / procs)));
const MIN_FREE_KIB = Number(process.env.BENCH_MIN_FREE_GIB || 6) * 2 ** 20;

function meminfo() {
  const m = {};
  for (const line of readFileSync("/proc/meminfo", "utf8").split("\n")) {
    const x = /^(\w+):\s+(\d+)/.exec(line);
    if (x) m[x[1]] = Number(x[2]);
  }
  return m; // KiB
}

function sockstatTcp() {
  const x = /TCP: inuse (\d+) orphan \d+ tw (\d+) alloc (\d+) mem (\d+)/.exec(readFileSync("/proc/net/sockstat", "utf8"));
  return x ? { inuse: Number(x[1]), tw: Number(x[2]), alloc: Number(x[3]), memPages: Number(x[4]) } : {};
}

function readNum(file) {
  try {
    return Number(readFileSync(file, "utf8").trim());
  } catch {
    return null;
  }
}

/**
 * Idle chat clients by the hundred thousand: n WebSocket clients, signed in, in rooms of
 * ROOM_SIZE, held through the heartbeat on `chatnode --workers` with one Redis, from as many
 * load generators as the open files limit asks (one per worker, its clients only on that
 * worker, its rooms its own). While holding: every 100th client sends a probe (an event the
 * chat answers at once) every 5 s, the pings' gaps are timed, and at the end the first member of
 * every room messages it at once. The same for Node.js peers on the same Redis (one per
 * PER_PROCESS clients) at --million-node-clients (default n).
 */
async function runMillion(kind, n, holdS) {
  const procs = Math.ceil(n / PER_PROCESS);
  const share = (i) => Math.floor(n / procs) + (i < n % procs ? 1 : 0);
  const stops = [];
  const children = [];
  let low = null;
  const guard = setInterval(() => {
    const avail = meminfo().MemAvailable;
    if (avail < MIN_FREE_KIB && !low) {
      low = `MemAvailable fell to ${fmt(avail / 2 ** 20, 1)} GiB`;
      log(`million ${kind}: ${low}: stopping the load generators`);
      for (const c of children) c.kill("SIGKILL");
    }
  }, 1000);
  try {
    const redis = await startRedis();
    stops.push(() => redis.stop());
    const srv = await startServer(kind, { redis: redis.url, procs });
    stops.push(() => srv.stop());
    await sleep(2000);
    // the memory of a run just ended (the other side's) is still being returned for a while:
    // the baseline waits until MemAvailable holds still (two reads 2 s apart within 64 MiB)
    for (let prev = meminfo().MemAvailable, tries = 0; tries < 60; tries++) {
      await sleep(2000);
      const now = meminfo().MemAvailable;
      if (Math.abs(now - prev) < 64 * 1024) break;
      prev = now;
    }
    const pids = () => srv.pids().filter((p) => existsSync(`/proc/${p}`));
    const rss = () => pids().reduce((sum, pid) => sum + rssKiB(pid), 0);
    const cpu = () => pids().reduce((sum, pid) => sum + cpuTicks(pid), 0);
    const before = { rss: rss(), redis: rssKiB(redis.pid), mem: meminfo(), tcp: sockstatTcp() };
    const at = {};
    const t0 = Date.now();
    let users = 0, rooms = 0;
    const args = Array.from({ length: procs }, (_, i) => {
      const k = share(i), r = Math.ceil(k / ROOM_SIZE);
      const a = ["--host", "127.0.0.1", "--port", String(srv.port + i), "--scenario", "idle", "--transport", "websocket",
        "--clients", String(k), "--rooms", String(r), "--hold", "0", "--user-base", String(users), "--room-base", String(rooms),
        "--sources", "32", "--source-base", String(32 * i), "--probe-every", "100", "--probe-interval", "5",
        "--concurrency", String(CONCURRENCY(procs))];
      users += k;
      rooms += r;
      return a;
    });
    const progress = setInterval(() => {
      const t = sockstatTcp();
      log(`million ${kind} ${n}: connecting, ${Math.round((Date.now() - t0) / 1000)} s: TCP sockets in use ${t.inuse} (both ends), in TIME-WAIT ${t.tw} (closed), memory ${t.memPages} pages, MemAvailable ${fmt(meminfo().MemAvailable / 2 ** 20, 1)} GiB`);
    }, 30_000);
    stops.push(async () => clearInterval(progress));
    const reps = await loadgenMany(args, async () => {
      clearInterval(progress);
      at.connectS = (Date.now() - t0) / 1000;
      await sleep(2000);
      at.rss = rss();
      at.redis = rssKiB(redis.pid);
      at.mem = meminfo();
      at.tcp = sockstatTcp();
      at.conntrack = readNum("/proc/sys/net/netfilter/nf_conntrack_count");
      at.files = readFileSync("/proc/sys/fs/file-nr", "utf8").trim().split(/\s+/).map(Number)[0];
      log(`million ${kind} ${n}: all ready in ${at.connectS} s; rss ${at.rss} KiB, slab +${at.mem.Slab - before.mem.Slab} KiB, ` +
        `MemAvailable ${fmt(at.mem.MemAvailable / 2 ** 20, 1)} GiB, conntrack ${at.conntrack}, open files ${at.files}`);
      for (const c of children) c.kill("SIGUSR2"); // pings and probes: the hold's only
      const commands = async () => {
        const r = await redisClient(redis.url);
        try {
          return Number((await r.info("stats")).fields.get("total_commands_processed"));
        } finally {
          r.close();
        }
      };
      const c0 = cpu(), h0 = Date.now(), r0 = cpuTicks(redis.pid), k0 = await commands();
      for (let left = holdS * 1000; left > 0 && !low; left -= 5000) await sleep(Math.min(5000, left));
      const heldS = (Date.now() - h0) / 1000;
      at.cpu = ((cpu() - c0) / CLK_TCK / heldS) * 100;
      at.redisCpu = ((cpuTicks(redis.pid) - r0) / CLK_TCK / heldS) * 100;
      at.redisOps = ((await commands()) - k0) / heldS;
      at.rssEnd = rss();
      // the broadcast: every room's first member messages it, in every load generator at once
      // the kernel's TCP buffer memory (pages; tcp_mem's unit) peaks while that is sent
      at.tcpPeak = 0;
      // each load generator says when all its members had it; the wait ends then, or at
      // BCAST_WAIT_S, whatever has arrived by then being what the table counts
      for (const c of children) c.kill("SIGUSR1");
      for (const end = Date.now() + BCAST_WAIT_S * 1000; Date.now() < end; await sleep(50)) {
        at.tcpPeak = Math.max(at.tcpPeak, sockstatTcp().memPages);
        if (children.every((c) => c.bcastDone)) break;
      }
    }, (child) => {
      children.push(child);
      child.stderr.on("data", (d) => { if (/^broadcast delivered\b/m.test(String(d))) child.bcastDone = true; });
    });
    if (low) throw new Error(low);
    const sum = (f) => reps.reduce((a, r) => a + f(r), 0);
    const connected = sum((r) => r.connected);
    const worst = (f) => Math.max(...reps.map(f));
    const sendStart = Math.min(...reps.filter((r) => r.send_start_us).map((r) => r.send_start_us));
    const lastDelivery = Math.max(...reps.map((r) => r.last_delivery_us));
    const res = {
      n, procs, connected, lost: sum((r) => r.lost), failed: sum((r) => r.errors.connect + r.errors.timeout + r.errors.protocol + r.errors.closed) - sum((r) => r.lost),
      connectS: at.connectS, holdS, lgConnectS: worst((r) => r.connect_s),
      rssPerClient: ((at.rss - before.rss) * 1024) / connected, rssMiB: at.rss / 1024, rssEndMiB: at.rssEnd / 1024,
      redisPerClient: ((at.redis - before.redis) * 1024) / connected,
      slabPerConn: ((at.mem.Slab - before.mem.Slab) * 1024) / connected,
      unreclaimPerConn: ((at.mem.SUnreclaim - before.mem.SUnreclaim) * 1024) / connected,
      tcpMemPages: at.tcp.memPages - before.tcp.memPages, tcpInuse: at.tcp.inuse,
      usedPerConn: ((before.mem.MemAvailable - at.mem.MemAvailable) * 1024) / connected,
      cpu: at.cpu, redisCpu: at.redisCpu, redisOps: at.redisOps, conntrack: at.conntrack, files: at.files, bcastTcpMemPeak: at.tcpPeak,
      // the probes' and pings' quantiles: the worst load generator's (each measured a share)
      probeP99: sum((r) => r.probe_rtt_us.count) ? worst((r) => r.probe_rtt_us.p99) : NaN,
      probeP50: sum((r) => r.probe_rtt_us.count) ? worst((r) => r.probe_rtt_us.p50) : NaN, probes: sum((r) => r.probe_rtt_us.count),
      pingLateP99: sum((r) => r.ping_late_us.count) ? worst((r) => r.ping_late_us.p99) : NaN, pings: sum((r) => r.ping_late_us.count),
      bcastExpected: sum((r) => r.expected), bcastDelivered: sum((r) => r.delivered), bcastSent: sum((r) => r.sent),
      bcastAcked: sum((r) => r.acked), ackErrors: sum((r) => r.errors.ack), firstAckError: reps.find((r) => r.first_ack_error)?.first_ack_error,
      bcastAllS: lastDelivery > sendStart ? (lastDelivery - sendStart) / 1e6 : null,
      bcastP99: worst((r) => r.latency_us.p99),
    };
    log(`million ${kind} ${n}: ${JSON.stringify(res)}`);
    return res;
  } finally {
    clearInterval(guard);
    for (const stop of stops.reverse()) await stop().catch((e) => log(`million: stopping: ${e.message}`));
  }
}

async function million() {
  const n = Number(option("--million-clients", "BENCH_MILLION_CLIENTS") || (quick ? 20_000 : 1_000_000));
  // quick: 30 s, so that at least some clients see two pings (25 s apart) within the hold
  const holdS = Number(option("--million-hold", "BENCH_MILLION_HOLD") || (quick ? 30 : 300));
  const nodeN = Number(option("--million-node-clients", "BENCH_MILLION_NODE_CLIENTS") ?? n);
  if (!(n > 0) || !(holdS > 0) || !(nodeN >= 0)) throw new Error("million: bad --million-clients, --million-hold or --million-node-clients");
  const per = {}, failed = [];
  for (const [kind, name] of KINDS) {
    const size = kind === "c" ? n : nodeN;
    if (!size) continue;
    try {
      per[kind] = await runMillion(kind, size, holdS);
    } catch (err) {
      log(`million ${kind} failed: ${err.stack || err}`);
      failed.push(`${name}: ${String(err.message || err).split("\n")[0]}`);
    }
  }
  const c = per.c, nd = per.node;
  const v = (r, f, d = 0) => (r ? fmt(f(r), d) : "-");
  // a ratio compares sizes alike, or figures per client
  const row = (label, f, d = 0, better, perClient = false) => [label, v(c, f, d), v(nd, f, d),
    better === undefined || !c || !nd || (c.n !== nd.n && !perClient) ? "" : ratio(f(c), f(nd), better)];
  const ms = (us) => us / 1000;
  results.push({ scenario: "million", title: `A million idle chat clients: ${fmt(n)} here`, rows: [
    row("clients (server processes)", (r) => `${fmt(r.n)} (${r.procs})`),
    row("connected", (r) => r.connected),
    row("lost during the hold", (r) => r.lost),
    row("time to connect, sign in and join them all (s)", (r) => r.connectS, 1, false),
    row("server RSS, all processes (MiB)", (r) => r.rssMiB, 0, false),
    row("server RSS per client (bytes)", (r) => r.rssPerClient, 0, false, true),
    row("Redis RSS per client (bytes)", (r) => r.redisPerClient, 0, false, true),
    row("kernel slab per connection, both ends (bytes)", (r) => r.slabPerConn, 0),
    row("memory used per connection, everything on the machine (bytes)", (r) => r.usedPerConn, 0, false, true),
    row(`server CPU over the ${holdS} s hold (% of one core)`, (r) => r.cpu, 1, false),
    row(`Redis CPU over the hold (% of one core)`, (r) => r.redisCpu, 1, false),
    row("Redis commands per second over the hold", (r) => r.redisOps, 0, false),
    row("probe round trip p50 (ms)", (r) => ms(r.probeP50), 2, false),
    row("probe round trip p99 (ms)", (r) => ms(r.probeP99), 2, false),
    row("ping lateness p99: gap between pings over 25 s (ms)", (r) => ms(r.pingLateP99), 1, false),
    row("broadcast: one message in every room, delivered / expected", (r) => `${fmt(r.bcastDelivered)} / ${fmt(r.bcastExpected)}`),
    row("broadcast: until the last member had it (s)", (r) => r.bcastAllS, 2, false),
    row("broadcast: delivery p99 (ms)", (r) => ms(r.bcastP99), 1, false),
    row("broadcast: peak TCP buffer memory, all sockets (MiB)", (r) => (r.bcastTcpMemPeak * 4096) / 2 ** 20, 1),
  ], notes: `WebSocket clients from the load generator, each signed in (its own user) and in one room of ${ROOM_SIZE}, held ${holdS} s through the default heartbeat (pings every 25 s, answered). chatnode runs \`--app chat --redis --workers N\` with N = clients / ${fmt(PER_PROCESS)} rounded up (this machine allows ${fmt(MAX_FDS)} open files per process); the Node.js peer runs as N processes on the same kind of Redis (@socket.io/redis-adapter), at ${nodeN === n ? "the same size" : fmt(nodeN)}. One load generator per server process, its clients on that process only and its rooms its own, each from 32 source addresses of its own in 127.1.0.0/16. Time to connect: from starting the load generators to the last of them ready. RSS and Redis RSS: once all are connected (+2 s), less before, per client connected; kernel slab: /proc/meminfo Slab, the same way, per connection (both of a loopback connection's sockets are on this machine: a server alone holds about half); memory used: the fall of MemAvailable, per connection (the load generators and the kernel included). CPU: the server processes' utime+stime over the hold. Probes: every 100th client sends an event with an ack every 5 s (an event the chat answers at once with an error), send to answer; ping lateness: how much more than 25 s a client saw between two pings (a server sends the next ping 25 s after the pong came, so this is the pong's way there and any delay of the server's timers); both over the hold only, the worst load generator's quantile. Broadcast: after the hold, the first member of every room sends one chat message to it (stored, then sent to all ${ROOM_SIZE} members) at the same moment in every load generator, and waited for until every member had it (at most ${BCAST_WAIT_S} s); until the last member had it: from the first send to the last delivery anywhere.${failed.length ? ` Failed: ${failed.join("; ")}.` : ""}` });
}

/* ---- report ---- */

/** Runs a standalone bench script of this directory with --json; its JSON output. */
function benchScript(name, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, name), ...args, "--json"], {
      env: { ...process.env, BENCH_BUILD_DIR: process.env.BENCH_BUILD_DIR }, stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`${name} exited with ${code}`));
      try {
        const text = out.trim();
        resolve(JSON.parse(text.startsWith("{") ? text : text.split("\n").at(-1)));
      } catch (err) {
        reject(new Error(`${name}: no JSON in its output: ${err.message}`));
      }
    });
  });
}

async function hooks() {
  const rounds = quick ? 1 : 3, senders = 4, messages = quick ? 50 : 100, rate = 25;
  const r = await benchScript("publish_hook.mjs", ["--rounds", String(rounds), "--senders", String(senders),
    "--messages", String(messages), "--rate", String(rate)]);
  const off = r.modes["no hook"], on = r.modes["publish hook"];
  const ms = (v) => `${v.toFixed(2)} ms`;
  const row = (metric, k) => [metric, ms(on[k]), ms(off[k]), `${(on[k] / off[k]).toFixed(1)}x`];
  results.push({ scenario: "hooks", title: "Publish hook: chat message latency with and without it",
    columns: ["with --publish-hook", "without", "with / without"],
    rows: [row("send to delivery p50", "delivery_p50"), row("send to delivery p99", "delivery_p99"),
      row("send to ack p50", "ack_p50"), row("send to ack p99", "ack_p99")],
    notes: `chatcluster only: what the hook adds. One chatnode alone (\`--app chat --allow-anonymous\`), ${senders} npm socket.io-client senders at ${rate} messages/s each and one receiver in a room, ${fmt(on.messages)} messages per mode over ${rounds} alternating rounds; with \`--publish-hook\` pointing at a local Node.js HTTP server (its own process) that accepts every message at once. The ratio is with over without (lower is better).` });
}

async function webhooks() {
  const messages = quick ? 100 : 500, events = quick ? 20_000 : 200_000;
  const r = await benchScript("webhooks.mjs", ["--messages", String(messages), "--events", String(events)]);
  const l = r.latency_ms, t = r.throughput;
  results.push({ scenario: "webhooks", title: "Webhooks: delivery latency and throughput of one adminnode",
    columns: ["chatcluster"],
    rows: [["stored chat message to webhook received, p50", `${l.p50} ms`], ["same, p99", `${l.p99} ms`],
      ["same, max", `${l.max} ms`], ["events delivered per second, one adminnode, one endpoint", fmt(t.events_per_s)]],
    notes: `chatcluster only (Node.js socket.io has no webhooks). One redis-server, one chatnode (\`--app chat --allow-anonymous --redis\`), one adminnode (defaults: \`--webhooks-poll-ms ${l.poll_ms}\`), one endpoint (batch_max ${t.batch_max}) on a local Node.js receiver answering 200. Latency: ${fmt(l.received)} of ${fmt(l.messages)} chat messages sent one after another through socket.io-client, from the sender's ack (the message is stored and its event added) to the receiver getting the webhook carrying it. Throughput: ${fmt(t.events)} events added to P:events before the adminnode starts, delivered in ${t.seconds_first_to_last} s from the first to the last received (${fmt(t.delivered)} delivered).` });
}

function sh(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "?";
  }
}

function machine() {
  const cpu = os.cpus();
  const mem = Math.round(os.totalmem() / 2 ** 30);
  return `${cpu.length} CPUs (${cpu[0]?.model.trim()}), ${mem} GiB, ${sh("uname", ["-sr"])}; ` +
    `Node.js ${process.version}, libwebsockets ${sh("pkg-config", ["--modversion", "libwebsockets"])}, ` +
    `libuv ${sh("pkg-config", ["--modversion", "libuv"])}, ${sh("redis-server", ["--version"]).split(" ").slice(0, 3).join(" ")}; ` +
    "the load generator, the servers and Redis all on this machine.";
}

/** The tables of results (all, or the given ones) as markdown; stamp: a line under the first
 * title. */
function table(list = results, stamp = "") {
  let md = "";
  for (const [i, r] of list.entries()) {
    const cols = r.columns ?? ["chatcluster", "Node.js socket.io", "ratio"];
    md += `### ${r.title}\n\n${stamp && i === 0 ? `${stamp}\n\n` : ""}${r.notes}\n\n| ${r.metric ?? "metric"} | ${cols.join(" | ")} |\n|${"---|".repeat(cols.length + 1)}\n`;
    for (const row of r.rows) md += `| ${row.join(" | ")} |\n`;
    md += "\n";
  }
  return md;
}

const BEGIN = "<!-- compare.sh: begin -->";
const END = "<!-- compare.sh: end -->";

/** The scenario whose tables have this title, or null. */
function scenarioOf(title) {
  return ALL.find((s) => title.startsWith(TITLES[s])) ?? null;
}

/**
 * The generated section of doc with the tables of the scenarios in `fresh` (scenario ->
 * markdown of its tables, in ALL's order) put in place of theirs, every other byte as it was.
 * A scenario with no table yet goes before the first table of a scenario after it in ALL, else
 * at the end. Without a section, `whole` (a complete section) is appended to doc.
 */
function mergeSection(doc, fresh, whole) {
  const a = doc.indexOf(BEGIN), b = doc.indexOf(END);
  if (!(a >= 0 && b > a)) return doc.replace(/\n*$/, "\n\n") + whole + "\n";
  const body = doc.slice(a + BEGIN.length, b);
  const starts = [...body.matchAll(/^### (.*)$/gm)];
  const head = body.slice(0, starts.length ? starts[0].index : body.length);
  const out = [], done = new Set();
  const put = (s) => {
    out.push(fresh.get(s));
    done.add(s);
  };
  starts.forEach((m, i) => {
    const text = body.slice(m.index, i + 1 < starts.length ? starts[i + 1].index : body.length);
    const s = scenarioOf(m[1]);
    if (s && fresh.has(s)) {
      if (!done.has(s)) put(s);
      return;
    }
    if (s) for (const t of fresh.keys()) if (!done.has(t) && ALL.indexOf(t) < ALL.indexOf(s)) put(t);
    out.push(text);
  });
  for (const t of fresh.keys()) if (!done.has(t)) put(t);
  return doc.slice(0, a + BEGIN.length) + head + out.join("") + doc.slice(b);
}

/** The markdown of a scenario's tables in doc's generated section, or "". */
function tablesOf(doc, scenario) {
  const a = doc.indexOf(BEGIN), b = doc.indexOf(END);
  if (!(a >= 0 && b > a)) return "";
  const body = doc.slice(a + BEGIN.length, b);
  const starts = [...body.matchAll(/^### (.*)$/gm)];
  return starts.filter((m) => scenarioOf(m[1]) === scenario)
    .map((m) => body.slice(m.index, starts[starts.indexOf(m) + 1]?.index ?? body.length)).join("");
}

/** The note on sizes cut to the open files limit (of the given scenarios), or "". */
function cappedNote(only) {
  const list = [...capped].filter(([, c]) => !only || only.includes(c.scenario));
  if (!list.length) return "";
  return `This machine allows ${MAX_FDS.toLocaleString("en-US")} open files per process (the hard limit), so some sizes were cut to the ${FIT.toLocaleString("en-US")} clients that fit: ${list.map(([what, c]) => `${what} ${c.sizes.join(", ")}`).join("; ")}.`;
}

async function main() {
  const bins = [CHATNODE, LOADGEN, ...(scenarios.some((s) => s === "fanout" || s === "crossnode") ? [FLOOR] : [])];
  for (const bin of bins) if (!existsSync(bin)) throw new Error(`${bin} is missing: run compare.sh (it builds)`);
  const started = new Date();
  for (const s of scenarios) {
    log(`scenario ${s}`);
    running = s;
    await { idle, polling, fanout, crossnode, pollchat, storm, jitter, recovery, hooks, webhooks, million }[s]();
  }
  const sizes = argv.filter((a, i) => VALUED.some((v) => a === v || a.startsWith(`${v}=`)) || valueAt.has(i));
  const cmd = `tests/bench/compare.sh${quick ? " --quick" : ""}${chosen.length ? " " + chosen.join(" ") : ""}${sizes.length ? " " + sizes.join(" ") : ""}`;
  const date = started.toISOString().slice(0, 10);
  const note = cappedNote();
  const whole = `${BEGIN}\n## Side by side with Node.js socket.io (\`compare.sh\`)\n\n` +
    `Measured ${date} with \`${cmd}\` on: ${machine()} ` +
    "Ratios say how many times better chatcluster is (higher throughput, or lower memory, CPU and latency).\n\n" +
    (note ? `${note}\n\n` : "") + table() + END;
  console.log(table());
  if (write && !quick) {
    const doc = existsSync(DOC) ? readFileSync(DOC, "utf8") : "# Benchmarks\n";
    let next;
    if (everyScenario) {
      const a = doc.indexOf(BEGIN), b = doc.indexOf(END);
      next = a >= 0 && b > a ? doc.slice(0, a) + whole + doc.slice(b + END.length) : doc.replace(/\n*$/, "\n\n") + whole + "\n";
      // the tables of scenarios run only by name stay as they were
      const kept = new Map(BY_NAME_ONLY.filter((s) => !scenarios.includes(s)).map((s) => [s, tablesOf(doc, s)]).filter(([, t]) => t));
      if (kept.size) next = mergeSection(next, kept, whole);
    } else {
      // the other tables stay; these say when and how they were measured, and on what when
      // that differs from the machine the section's head names
      const a = doc.indexOf(BEGIN), b = doc.indexOf(END), first = doc.indexOf("\n### ", a);
      const head = a >= 0 && b > a ? doc.slice(a, first > a && first < b ? first : b) : "";
      const where = head.includes(machine()) ? "on the machine described above." : `on: ${machine()}`;
      const fresh = new Map();
      for (const s of scenarios) {
        const note = cappedNote([s]);
        const stamp = `Measured ${date} with \`${cmd}\` ${where}${note ? ` ${note}` : ""}`;
        fresh.set(s, table(results.filter((r) => r.scenario === s), stamp));
      }
      next = mergeSection(doc, fresh, whole);
    }
    writeFileSync(DOC, next);
    log(`wrote ${path.relative(top, DOC)}`);
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err.stack || String(err));
  process.exit(1);
});
