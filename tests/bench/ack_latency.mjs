// What a chat message's ack costs with Redis: one chatnode with --redis (connection-state
// recovery on, its default), one sender that waits for each ack before the next message and
// one receiver in the room. Latency from send to the sender's ack and from send to the
// receiver getting the message, p50 and p99. With --vs, a second chatnode binary runs the same
// load in alternating rounds, so both see the same machine (before/after figures of a change).
//
//   node tests/bench/ack_latency.mjs [--chatnode BIN] [--vs BIN] [--messages 3000] [--rounds 3]
//
// BIN defaults to $CHATNODE_BIN, else build-release/chatnode/chatnode. The Redis is a
// redis-server of its own on a free port, stopped at the end.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { freePort, start, stop } from "./lib/procs.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const top = path.resolve(here, "../..");
const opt = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const BINS = [opt("chatnode", process.env.CHATNODE_BIN || path.join(top, "build-release/chatnode/chatnode"))];
if (opt("vs")) BINS.push(opt("vs"));
const MESSAGES = Number(opt("messages", 3000));
const ROUNDS = Number(opt("rounds", 3));
const WAIT_MS = 30_000;

const quantile = (v, q) => {
  const s = [...v].sort((a, b) => a - b);
  return Number(s[Math.floor(q * (s.length - 1))].toFixed(3));
};

async function connect(port, user) {
  const s = io(`http://127.0.0.1:${port}`, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user } });
  await new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
  });
  return s;
}

/** One round on bin: the sender's acks and the receiver's deliveries, in ms. */
async function round(bin, redisUrl, tag) {
  const node = await start(bin, ["--host", "127.0.0.1", "--port", "0", "--app", "chat", "--redis", redisUrl,
    "--allow-anonymous", "--rate", "100000"], /msg="?listening\b.*\bport=(\d+)/);
  const sender = await connect(node.port, "sender"), receiver = await connect(node.port, "receiver");
  try {
    for (const s of [sender, receiver]) {
      const j = await s.timeout(WAIT_MS).emitWithAck("join", { room: "bench" });
      if (!j.ok) throw new Error(`join: ${JSON.stringify(j)}`);
    }
    const sentAt = new Map(), ack = [], delivered = [];
    receiver.on("message", (m) => {
      const t = sentAt.get(m.text);
      if (t !== undefined) delivered.push(performance.now() - t);
    });
    for (let i = 0; i < MESSAGES; i++) {
      const text = `${tag}-${i}`, t = performance.now(); // new ids each round: no retry among them
      sentAt.set(text, t);
      const a = await sender.timeout(WAIT_MS).emitWithAck("message", { room: "bench", text, id: text });
      if (!a.ok) throw new Error(`message: ${JSON.stringify(a)}`);
      ack.push(performance.now() - t);
    }
    const until = Date.now() + WAIT_MS;
    while (delivered.length < MESSAGES && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    return { ack, delivered };
  } finally {
    sender.close();
    receiver.close();
    await stop(node);
  }
}

const redisPort = await freePort();
const redis = await start("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
  /Ready to accept connections()/);
try {
  const all = BINS.map(() => ({ ack: [], delivered: [] }));
  for (let r = 0; r < ROUNDS; r++) {
    for (let b = 0; b < BINS.length; b++) {
      const got = await round(BINS[b], `redis://127.0.0.1:${redisPort}`, `r${r}b${b}`);
      all[b].ack.push(...got.ack);
      all[b].delivered.push(...got.delivered);
    }
  }
  for (let b = 0; b < BINS.length; b++) {
    const { ack, delivered } = all[b];
    console.log(JSON.stringify({
      chatnode: BINS[b], messages: ack.length, delivered: delivered.length,
      ack_p50_ms: quantile(ack, 0.5), ack_p99_ms: quantile(ack, 0.99),
      delivery_p50_ms: quantile(delivered, 0.5), delivery_p99_ms: quantile(delivered, 0.99),
    }));
  }
} finally {
  await stop(redis);
}
