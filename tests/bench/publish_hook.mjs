// What the publish hook costs a chat message: one chatnode running alone, a room with several
// senders and one receiver, messages at a steady rate; latency from send to the receiver
// getting the message and from send to the sender's ack, p50 and p99, without a hook and with
// --publish-hook pointing at a local Node.js hook (its own process) that accepts at once.
// The two modes alternate in rounds of the same load, so both see the same machine.
//
//   BENCH_BUILD_DIR=build-release node tests/bench/publish_hook.mjs \
//     [--senders 4] [--messages 100] [--rate 25] [--rounds 2] [--json]
//
// --json prints the figures as one JSON object (compare.mjs's `hooks` scenario reads it).
// --messages and --rate are per sender (messages per second); the chatnode is
// $CHATNODE_BIN, else $BENCH_BUILD_DIR/chatnode/chatnode (default build-release).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { start, stop } from "./lib/procs.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const top = path.resolve(here, "../..");
const build = process.env.BENCH_BUILD_DIR ? path.resolve(process.env.BENCH_BUILD_DIR) : path.join(top, "build-release");
const CHATNODE = process.env.CHATNODE_BIN || path.join(build, "chatnode/chatnode");
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i > 0 ? process.argv[i + 1] : def);
};
const SENDERS = arg("senders", 4);
const MESSAGES = arg("messages", 100);
const RATE = arg("rate", 25);
const ROUNDS = arg("rounds", 2);
const WAIT_MS = 30_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The application: accepts every message at once (its own process, so its work does not
// share the measuring client's event loop).
const HOOK = `
const http = require("node:http");
const s = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => { res.writeHead(200, { "Content-Type": "application/json", "Content-Length": 19 }); res.end('{"action":"accept"}'); });
});
s.keepAliveTimeout = 60000;
s.listen(0, "127.0.0.1", () => console.log("port=" + s.address().port));
process.on("SIGINT", () => process.exit(0));
`;

function connect(url, name) {
  const s = io(url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user: name } });
  return new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

const call = (s, ev, arg) => s.timeout(WAIT_MS).emitWithAck(ev, arg);

function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** One round of the load against url: per message [delivery ms, ack ms]. */
async function round(url, tag) {
  const receiver = await connect(url, `rcv-${tag}`);
  const senders = await Promise.all(Array.from({ length: SENDERS }, (_, i) => connect(url, `snd-${tag}-${i}`)));
  for (const s of [receiver, ...senders]) {
    const r = await call(s, "join", { room: "bench" });
    if (!r.ok) throw new Error(`join: ${JSON.stringify(r)}`);
  }
  const sent = new Map(); // text -> send time
  const delivery = [], ack = [];
  let received = 0;
  receiver.on("message", (m) => {
    const t0 = sent.get(m.text);
    if (t0 === undefined) return;
    delivery.push(performance.now() - t0);
    received++;
  });
  const errors = [];
  const acks = [];
  const gap = 1000 / RATE;
  await Promise.all(senders.map(async (s, i) => {
    await sleep((gap / SENDERS) * i); // spread the senders over the interval
    const t0 = performance.now();
    for (let k = 0; k < MESSAGES; k++) {
      const wait = t0 + k * gap - performance.now();
      if (wait > 0) await sleep(wait);
      const text = `${tag}-${i}-${k}`;
      const ts = performance.now();
      sent.set(text, ts);
      acks.push(call(s, "message", { room: "bench", text }).then((a) => {
        if (!a.ok) errors.push(a);
        ack.push(performance.now() - ts);
      }));
    }
  }));
  await Promise.all(acks);
  const end = Date.now() + WAIT_MS;
  while (received < SENDERS * MESSAGES && Date.now() < end) await sleep(20);
  for (const s of [receiver, ...senders]) s.close();
  if (errors.length) throw new Error(`${errors.length} messages refused: ${JSON.stringify(errors[0])}`);
  if (received < SENDERS * MESSAGES) throw new Error(`only ${received} of ${SENDERS * MESSAGES} messages arrived`);
  return { delivery, ack };
}

async function main() {
  const hook = await start(process.execPath, ["-e", HOOK], /port=(\d+)/);
  const common = ["--app", "chat", "--allow-anonymous", "--host", "127.0.0.1", "--port", "0",
    "--rate", "10000", "--burst", "10000"];
  const listening = /msg="?listening\b.*?\bport=(\d+)/;
  const plain = await start(CHATNODE, [...common, "--log-level", "info"], listening);
  const hooked = await start(CHATNODE, [...common, "--log-level", "info",
    "--publish-hook", `http://127.0.0.1:${hook.port}/publish`], listening);
  const modes = { "no hook": { p: plain, delivery: [], ack: [] }, "publish hook": { p: hooked, delivery: [], ack: [] } };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, m] of Object.entries(modes)) {
        const res = await round(`http://127.0.0.1:${m.p.port}`, `r${r}${name === "no hook" ? "a" : "b"}`);
        m.delivery.push(...res.delivery);
        m.ack.push(...res.ack);
      }
    }
  } finally {
    await Promise.all([stop(plain), stop(hooked), stop(hook)]);
  }
  const pcts = (m) => {
    const d = [...m.delivery].sort((a, b) => a - b), a = [...m.ack].sort((x, y) => x - y);
    return { messages: d.length, delivery_p50: pct(d, 50), delivery_p99: pct(d, 99), ack_p50: pct(a, 50), ack_p99: pct(a, 99) };
  };
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify({ senders: SENDERS, messages: MESSAGES, rate: RATE, rounds: ROUNDS,
      modes: Object.fromEntries(Object.entries(modes).map(([name, m]) => [name, pcts(m)])) }));
    return;
  }
  console.log(`chatnode ${CHATNODE}`);
  console.log(`${SENDERS} senders x ${MESSAGES} messages at ${RATE}/s each, 1 receiver, ${ROUNDS} rounds per mode`);
  console.log("mode          | messages | delivery p50 | delivery p99 | ack p50 | ack p99   (ms)");
  for (const [name, m] of Object.entries(modes)) {
    const d = [...m.delivery].sort((a, b) => a - b), a = [...m.ack].sort((x, y) => x - y);
    const f = (x) => x.toFixed(2).padStart(6);
    console.log(`${name.padEnd(13)} | ${String(d.length).padStart(8)} | ${f(pct(d, 50))}       | ${f(pct(d, 99))}       | ${f(pct(a, 50))}  | ${f(pct(a, 99))}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
