// Userspace memory per idle WebSocket client: starts a server, opens N socket.io-client
// connections (WebSocket only, default namespace), and reports the server's RSS growth divided
// by N. Runs chatnode and the Node.js socket.io peer in turn, in the same run, and prints JSON.
//
//   node tests/bench/idle_memory.mjs [--clients 10000] [--chatnode PATH] [--only chatnode|node]
//                                    [--args "<extra chatnode flags>"]
//
// --args is split on spaces and appended to chatnode's arguments (e.g. --args "--allow-eio3").
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { io } from "socket.io-client";

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const N = Number(arg("clients", "10000"));
const chatnodeBin = arg("chatnode", path.join(here, "../../build-release/chatnode/chatnode"));
const only = arg("only", "");
const extraArgs = arg("args", "").split(" ").filter((a) => a !== "");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]);
}

function start(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${err}`)), 10000);
    child.stderr.on("data", (d) => {
      err += d;
      const m = /listening.*?port=(\d+)/.exec(err);
      if (m && !child.port) {
        child.port = Number(m[1]);
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on("exit", (code) => reject(new Error(`${cmd} exited (${code}): ${err}`)));
  });
}

async function measure(name, cmd, args) {
  const server = await start(cmd, args);
  const url = `http://127.0.0.1:${server.port}`;
  // Warm up code paths and allocator arenas with a few connections first.
  const warm = [];
  for (let i = 0; i < 50; i++) warm.push(io(url, { transports: ["websocket"], forceNew: true }));
  await Promise.all(warm.map((s) => new Promise((r) => s.once("connect", r))));
  warm.forEach((s) => s.disconnect());
  await sleep(1500);
  const before = rssKiB(server.pid);
  const clients = [];
  const batch = 250;
  for (let i = 0; i < N; i += batch) {
    const round = [];
    for (let j = i; j < Math.min(N, i + batch); j++) {
      const s = io(url, {
        transports: ["websocket"],
        forceNew: true,
        reconnection: false,
        localAddress: `127.0.${1 + ((j >> 8) & 63)}.${1 + (j & 0xfe)}`,
      });
      clients.push(s);
      round.push(new Promise((r, rej) => {
        s.once("connect", r);
        s.once("connect_error", rej);
      }));
    }
    await Promise.all(round);
  }
  await sleep(3000);
  const after = rssKiB(server.pid);
  clients.forEach((s) => s.disconnect());
  server.kill("SIGTERM");
  await new Promise((r) => server.once("exit", r));
  const perClient = ((after - before) * 1024) / N;
  return { server: name, clients: N, rss_before_kib: before, rss_after_kib: after, bytes_per_client: Math.round(perClient) };
}

const results = [];
if (only !== "node") results.push(await measure("chatnode", chatnodeBin, ["--port", "0", "--host", "127.0.0.1", "--app", "echo", "--log-level", "info", ...extraArgs]));
if (only !== "chatnode") results.push(await measure("node-socket.io-4.8", process.execPath, [path.join(here, "peer/server.mjs")]));
if (results.length === 2) results.push({ ratio_node_over_chatnode: +(results[1].bytes_per_client / results[0].bytes_per_client).toFixed(2) });
console.log(JSON.stringify(results, null, 2));
process.exit(0);
