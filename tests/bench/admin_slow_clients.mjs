#!/usr/bin/env node
// adminnode under slow clients: keeps N connections open from many 127.0.0.x addresses, each
// having sent part of a request head and trickling one more header byte now and then (a
// connection adminnode cuts at --header-timeout is opened again at once, as an attacker
// would), and measures GET /healthz on fresh connections from 127.0.0.1 meanwhile (from a
// worker thread, so that the crowd's own event loop does not delay the measurement): p50,
// p99 and max latency, with adminnode's CPU time and the connections it cut.
//
//   node tests/bench/admin_slow_clients.mjs [--bin build-release/adminnode/adminnode]
//        [--slow 5000] [--per-address 50] [--requests 200] [--trickle-ms 2000]
//        [--settle-ms 3000] [--interval-ms 0] [-- adminnode flags...]
// --interval-ms spaces the requests: 100 spreads 200 requests over 20 s, across the waves of
// cuts at --header-timeout (10 s) and the reconnections that follow.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

/** The measuring thread: workerData {port, requests, intervalMs}; posts the latencies. */
async function measure({ port, requests, intervalMs }) {
  const lat = [];
  for (let i = 0; i < requests; i++) {
    const r = await healthz(port);
    if (r.status !== 200) throw new Error(`GET /healthz answered ${r.status}`);
    lat.push(r.ms);
    if (intervalMs) await new Promise((res) => setTimeout(res, intervalMs));
  }
  return lat;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const opts = { bin: path.resolve(here, "../../build-release/adminnode/adminnode"), slow: 5000, perAddress: 50, requests: 200, trickleMs: 2000, settleMs: 3000, intervalMs: 0 };
const extra = [];
const argv = isMainThread ? process.argv.slice(2) : [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--") {
    extra.push(...argv.slice(i + 1));
    break;
  }
  const key = { "--bin": "bin", "--slow": "slow", "--per-address": "perAddress", "--requests": "requests", "--trickle-ms": "trickleMs", "--settle-ms": "settleMs", "--interval-ms": "intervalMs" }[a];
  if (!key || i + 1 >= argv.length) {
    console.error(`usage: admin_slow_clients.mjs [--bin PATH] [--slow N] [--per-address N] [--requests N] [--trickle-ms MS] [--settle-ms MS] [--interval-ms MS] [-- adminnode flags]`);
    process.exit(2);
  }
  opts[key] = key === "bin" ? argv[++i] : Number(argv[++i]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

async function start() {
  const child = spawn(opts.bin, ["--host", "127.0.0.1", "--port", "0", ...extra], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  const port = await new Promise((resolve, reject) => {
    child.stderr.on("data", (d) => {
      err += d;
      const m = /msg="?listening\b.*\bport=(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`adminnode exited (${code}):\n${err}`)));
  });
  return { child, port, log: () => err };
}

/** Keeps `count` slow connections open from 127.0.0.x addresses (perAddress each). */
function slowCrowd(port, count) {
  const addresses = Array.from({ length: Math.ceil(count / opts.perAddress) }, (_, i) => `127.0.${2 + Math.floor(i / 250)}.${1 + (i % 250)}`);
  const socks = new Set();
  let reopened = 0;
  let stopped = false;
  const open = (addr) => {
    const s = net.connect({ port, host: "127.0.0.1", localAddress: addr });
    s.on("error", () => {});
    s.on("data", () => {});
    s.once("connect", () => s.write("GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Slow: "));
    s.once("close", () => {
      socks.delete(s);
      if (!stopped) {
        reopened++;
        setTimeout(() => open(addr), 10);
      }
    });
    socks.add(s);
  };
  let n = 0;
  for (const addr of addresses) for (let i = 0; i < opts.perAddress && n < count; i++, n++) open(addr);
  // each connection sends one header byte per trickle period, spread over the period
  let turn = 0;
  const slices = 20;
  const timer = setInterval(() => {
    let k = 0;
    for (const s of socks) if (k++ % slices === turn && s.writable && !s.connecting) s.write("a");
    turn = (turn + 1) % slices;
  }, opts.trickleMs / slices);
  return {
    get open() {
      let c = 0;
      for (const s of socks) if (!s.connecting && !s.destroyed) c++;
      return c;
    },
    get reopened() {
      return reopened;
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      for (const s of socks) s.destroy();
    },
  };
}

function healthz(port) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ host: "127.0.0.1", port, path: "/healthz", agent: false, timeout: 30_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on("timeout", () => req.destroy(new Error("GET /healthz took over 30 s")));
    req.on("error", reject);
  });
}

async function metrics(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: "127.0.0.1", port, path: "/metrics", agent: false }, (res) => {
      let b = "";
      res.on("data", (d) => (b += d));
      res.on("end", () => {
        const out = {};
        for (const line of b.split("\n")) {
          const m = /^(adminnode_http_connections\S*) (\d+)/.exec(line);
          if (m) out[m[1]] = Number(m[2]);
        }
        resolve(out);
      });
    }).on("error", reject);
  });
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function main() {
  const node = await start();
  let crowd;
  try {
    crowd = slowCrowd(node.port, opts.slow);
    const deadline = Date.now() + 120_000;
    while ((await metrics(node.port)).adminnode_http_connections < opts.slow && Date.now() < deadline) await sleep(200);
    await sleep(opts.settleMs);
    const before = await metrics(node.port);
    const cpu0 = cpuSeconds(node.child.pid);
    const t0 = Date.now();
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { port: node.port, requests: opts.requests, intervalMs: opts.intervalMs } });
    const lat = await new Promise((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    const wall = (Date.now() - t0) / 1000;
    const cpu = cpuSeconds(node.child.pid) - cpu0;
    const after = await metrics(node.port);
    lat.sort((a, b) => a - b);
    const report = {
      slow_connections_wanted: opts.slow,
      adminnode_connections_before: before.adminnode_http_connections,
      adminnode_connections_after: after.adminnode_http_connections,
      client_side_open_after: crowd.open,
      reopened_after_cut: crowd.reopened,
      cut_total: after['adminnode_http_connections_cut_total{phase="head"}'],
      requests: lat.length,
      interval_ms: opts.intervalMs,
      healthz_ms: { p50: +pct(lat, 50).toFixed(3), p99: +pct(lat, 99).toFixed(3), max: +lat[lat.length - 1].toFixed(3), min: +lat[0].toFixed(3) },
      adminnode_cpu_s_during: +cpu.toFixed(2),
      wall_s: +wall.toFixed(2),
      adminnode_rss_kib: rssKiB(node.child.pid),
      adminnode_flags: extra,
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    crowd?.stop();
    node.child.kill("SIGTERM");
    const code = await new Promise((r) => node.child.once("exit", r));
    if (code !== 0) {
      console.error(`adminnode exited with ${code}\n${node.log().slice(-4000)}`);
      process.exitCode = 1;
    }
  }
}

if (isMainThread) await main();
else parentPort.postMessage(await measure(workerData));
