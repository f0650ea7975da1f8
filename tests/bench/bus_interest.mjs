// Cross-node traffic by subscription mode: a three-node cluster on one Redis, each node hosting a
// third of the rooms (one client per node joined to that node's rooms), one client sending room
// messages spread evenly over all rooms. Reports, per node, how many bus messages it received
// per 1,000 room messages, with --bus-subscribe interest and with pattern (Node's K#N#*).
//
//   node tests/bench/bus_interest.mjs [--rooms 300] [--messages 1000] [--chatnode PATH]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { freePort } from "./lib/procs.mjs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const ROOMS = Number(arg("rooms", "300"));
const MESSAGES = Number(arg("messages", "1000"));
const NODES = 3;
const bin = arg("chatnode", path.join(here, "../../build-release/chatnode/chatnode"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(cmd, args, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${out}`)), 10000);
    const on = (d) => {
      out += d;
      const m = ready.exec(out);
      if (m && !child.ready) {
        child.ready = true;
        child.port = Number(m[1] || 0);
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on("data", on);
    child.stderr.on("data", on);
  });
}

const health = async (port) => (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).bus;

async function run(mode) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-redis-"));
  const rport = await freePort();
  const redis = await start("redis-server", ["--port", String(rport), "--save", "", "--appendonly", "no", "--dir", dir], /(Ready to accept)/);
  const nodes = [];
  for (let i = 0; i < NODES; i++) {
    nodes.push(await start(bin, ["--port", "0", "--host", "127.0.0.1", "--app", "echo", "--echo-test-events", "--redis", `redis://127.0.0.1:${rport}`,
      "--bus-subscribe", mode], /msg=listening.*?port=(\d+)/));
  }
  const connect = (port) => new Promise((resolve) => {
    const s = io(`http://127.0.0.1:${port}`, { transports: ["websocket"], forceNew: true, reconnection: false });
    s.once("connect", () => resolve(s));
  });
  const members = await Promise.all(nodes.map((n) => connect(n.port)));
  let delivered = 0;
  members.forEach((m) => m.on("room-msg", () => delivered++));
  for (let r = 0; r < ROOMS; r++) await members[r % NODES].emitWithAck("join", `room-${r}`);
  const sender = await connect(nodes[0].port);
  await sleep(500); // let the room SUBSCRIBEs reach Redis
  const before = await Promise.all(nodes.map((n) => health(n.port)));
  for (let i = 0; i < MESSAGES; i++) await sender.emitWithAck("broadcast", `room-${i % ROOMS}`, "room-msg", i);
  const deadline = Date.now() + 10000;
  while (delivered < MESSAGES && Date.now() < deadline) await sleep(20);
  await sleep(300);
  const after = await Promise.all(nodes.map((n) => health(n.port)));
  const perNode = nodes.map((_, i) => ({
    node: i + 1,
    hosts_rooms: ROOMS / NODES,
    bus_messages_received: after[i].received - before[i].received,
    per_1000_room_messages: Math.round(((after[i].received - before[i].received) * 1000) / MESSAGES),
    broadcasts_delivered_locally: after[i].broadcasts_in - before[i].broadcasts_in,
  }));
  [...members, sender].forEach((s) => s.close());
  for (const n of nodes) n.kill("SIGTERM");
  await sleep(300);
  redis.kill("SIGTERM");
  await sleep(200);
  rmSync(dir, { recursive: true, force: true });
  return { mode, rooms: ROOMS, messages: MESSAGES, delivered_to_clients: delivered, nodes: perNode };
}

const results = [await run("interest"), await run("pattern")];
console.log(JSON.stringify(results, null, 2));
process.exit(0);
