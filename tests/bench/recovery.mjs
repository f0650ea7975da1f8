// The clients of compare.mjs's `recovery` scenario: what one connection-state recovery costs
// Redis. Chat clients in rooms of 10 on two chatnodes drop their connection, k messages are
// posted to each room meanwhile, and every client comes back on the other chatnode; Redis's
// INFO counters around the reconnects give the commands and bytes per recovery. Also the small
// Redis client compare.mjs measures Redis's memory with. Servers are compare.mjs's affair.
import net from "node:net";
import { io } from "socket.io-client";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ACK_MS = 5000;
const WAIT_MS = 30_000;

/** Polls check (may be async) until true or ms pass; resolves to whether it became true. */
async function until(check, ms, every = 50) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) return false;
    await sleep(every);
  }
  return true;
}

/** Encodes a command as RESP (what a client sends Redis). */
function resp(args) {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join("")}`;
}

/** One RESP2 reply from buf at pos: [value, end], or null while incomplete. Errors are Error
 *  values, bulk strings strings. */
function parseReply(buf, pos) {
  const nl = buf.indexOf("\r\n", pos);
  if (nl < 0) return null;
  const line = buf.toString("utf8", pos + 1, nl);
  switch (buf[pos]) {
    case 0x2b: return [line, nl + 2]; // +
    case 0x2d: return [new Error(line), nl + 2]; // -
    case 0x3a: return [Number(line), nl + 2]; // :
    case 0x24: { // $
      const len = Number(line);
      if (len < 0) return [null, nl + 2];
      if (buf.length < nl + 2 + len + 2) return null;
      return [buf.toString("utf8", nl + 2, nl + 2 + len), nl + 2 + len + 2];
    }
    case 0x2a: { // *
      const n = Number(line);
      if (n < 0) return [null, nl + 2];
      const out = [];
      let at = nl + 2;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, at);
        if (!r) return null;
        out.push(r[0]);
        at = r[1];
      }
      return [out, at];
    }
    default: throw new Error(`redis: unexpected reply ${JSON.stringify(buf.toString("utf8", pos, nl))}`);
  }
}

/**
 * A connection to Redis (url redis://host:port) for the measurements. command(...args)
 * resolves to the reply (an error reply rejects); info(...sections) to { fields: Map name ->
 * value, sent, received, at }: the reply's fields, the bytes this request and its reply took
 * on the wire (so that a measurement can leave its own INFO out) and when it came.
 */
export async function redisClient(url) {
  const u = new URL(url);
  const sock = net.connect(Number(u.port), u.hostname);
  await new Promise((resolve, reject) => {
    sock.once("connect", resolve);
    sock.once("error", reject);
  });
  let buf = Buffer.alloc(0);
  const waiting = []; // in the order sent
  sock.on("data", (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    let r;
    while (waiting.length && (r = parseReply(buf, 0))) {
      buf = buf.subarray(r[1]);
      const w = waiting.shift();
      if (r[0] instanceof Error) w.reject(r[0]);
      else w.resolve({ value: r[0], received: r[1] });
    }
  });
  sock.on("error", (err) => { for (const w of waiting.splice(0)) w.reject(err); });
  const send = (args) => {
    const req = resp(args);
    return new Promise((resolve, reject) => {
      waiting.push({ resolve, reject });
      sock.write(req);
    }).then((r) => ({ ...r, sent: Buffer.byteLength(req) }));
  };
  const command = async (...args) => (await send(args)).value;
  const info = async (...sections) => {
    const r = await send(["INFO", ...sections]);
    const fields = new Map();
    for (const line of r.value.split("\r\n")) {
      const i = line.indexOf(":");
      if (i > 0 && !line.startsWith("#")) fields.set(line.slice(0, i), line.slice(i + 1));
    }
    return { fields, sent: r.sent, received: r.received, at: Date.now() };
  };
  return { command, info, close: () => sock.destroy() };
}

/** The keys of Redis by the first of `classes` ([name, RegExp]...) their names match ("other"
 *  when none): { name: { keys, bytes } }, bytes by MEMORY USAGE (exact: SAMPLES 0). */
export async function keyMemory(redis, classes) {
  const out = {};
  let cursor = "0";
  do {
    const [next, keys] = await redis.command("SCAN", cursor, "COUNT", "1000");
    cursor = next;
    const sizes = await Promise.all(keys.map((k) => redis.command("MEMORY", "USAGE", k, "SAMPLES", "0")));
    keys.forEach((k, i) => {
      const name = classes.find(([, re]) => re.test(k))?.[0] ?? "other";
      out[name] ??= { keys: 0, bytes: 0 };
      out[name].keys++;
      out[name].bytes += sizes[i] ?? 0;
    });
  } while (cursor !== "0");
  return out;
}

/** cmdstat_<name> -> calls, from an INFO commandstats reply ("calls=N,usec=..."). */
function commandCalls(fields) {
  const calls = {};
  for (const [k, v] of fields) {
    if (!k.startsWith("cmdstat_")) continue;
    calls[k.slice(8)] = Number(/calls=(\d+)/.exec(v)?.[1] ?? 0);
  }
  return calls;
}

/**
 * What happened in Redis between two INFO snapshots (stats and commandstats) taken in order
 * on one connection: commands by name (INFO left out), bytes in and out, less the snapshots'
 * own traffic (the earlier reply is counted in the later snapshot, as is the later request).
 */
function between(a, b) {
  const ca = commandCalls(a.fields), cb = commandCalls(b.fields);
  const commands = {};
  for (const [name, n] of Object.entries(cb)) {
    const d = n - (ca[name] ?? 0);
    if (d > 0 && name !== "info") commands[name] = d;
  }
  const num = (s, k) => Number(s.fields.get(k));
  return {
    ms: b.at - a.at,
    commands,
    bytesIn: num(b, "total_net_input_bytes") - num(a, "total_net_input_bytes") - b.sent,
    bytesOut: num(b, "total_net_output_bytes") - num(a, "total_net_output_bytes") - a.received,
  };
}

const sum = (o) => Object.values(o).reduce((s, n) => s + n, 0);

/** The recovery part of a chatnode's /healthz. */
async function recoveryHealth(url) {
  const res = await fetch(`${url}/healthz`);
  return (await res.json()).recovery;
}

/**
 * Runs one row of the scenario and resolves to its counts; every wait is bounded, and every
 * socket it opened is closed, on error too.
 *
 *   urls       the two chatnodes, http://host:port; client i starts on urls[i % 2] and comes
 *              back on the other
 *   redisUrl   the Redis both use
 *   clients    how many clients, in rooms of roomSize, one sender per room (on urls[room % 2],
 *              never dropped)
 *   missed     messages posted to each room while its clients are away (k)
 *   quietMs    length of the quiet stretch before the reconnects that gives Redis's background
 *              traffic (heartbeats, presence liveness), taken off the reconnects' figures
 *   log        progress lines
 */
export async function runRecoveryCost({ urls, redisUrl, clients, roomSize = 10, missed, quietMs = 2000, log = () => {} }) {
  const rooms = Math.ceil(clients / roomSize);
  const roomName = (r) => `recovery-${r}`;
  const opts = { forceNew: true, transports: ["websocket"], reconnectionDelay: 100, reconnectionDelayMax: 500, timeout: WAIT_MS };
  const all = [];
  const redis = await redisClient(redisUrl);
  try {
    // senders, one per room, staying connected; each hears its own room's messages too
    const senders = [];
    for (let r = 0; r < rooms; r++) {
      const s = io(urls[r % 2], { ...opts, auth: { user: `recovery-sender-${r}` } });
      all.push(s);
      const snd = { s, room: roomName(r), heard: 0, joined: false };
      s.on("message", (m) => { if (m?.room === snd.room) snd.heard++; });
      senders.push(snd);
    }
    const join = async (s, room) => {
      const ack = await s.timeout(ACK_MS).emitWithAck("join", { room }).catch((e) => ({ error: e.message }));
      if (!ack?.ok) throw new Error(`join ${room}: ${JSON.stringify(ack)}`);
    };
    await Promise.all(senders.map(async (snd) => {
      await connected(snd.s);
      await join(snd.s, snd.room);
    }));

    // clients, in batches
    const recs = [];
    for (let i = 0; i < clients; i += 50) {
      const batch = [];
      for (let j = i; j < Math.min(clients, i + 50); j++) {
        const s = io(urls[j % 2], { ...opts, auth: { user: `recovery-${j}` } });
        all.push(s);
        const c = { s, i: j, room: roomName(Math.floor(j / roomSize)), texts: [], id: null, back: null };
        s.on("message", (m) => { if (m?.room === c.room) c.texts.push(m.text); });
        batch.push(c);
      }
      await Promise.all(batch.map(async (c) => {
        await connected(c.s);
        await join(c.s, c.room);
        c.id = c.s.id;
        c.tag = tagOf(c.s);
      }));
      recs.push(...batch);
    }
    log(`recovery: ${clients} clients joined ${rooms} rooms over two chatnodes`);

    // every client drops its connection (its engine closed, reconnection off), and the
    // chatnodes keep their sessions
    const health = async () => (await Promise.all(urls.map(recoveryHealth)));
    const keptBefore = sum((await health()).map((h) => h.kept));
    await Promise.all(recs.map((c) => {
      c.s.io.reconnection(false);
      const gone = new Promise((resolve) => c.s.once("disconnect", resolve));
      c.s.io.engine.close();
      return gone;
    }));
    if (!(await until(async () => sum((await health()).map((h) => h.kept)) === keptBefore + clients, WAIT_MS)))
      throw new Error(`the chatnodes did not keep ${clients} sessions: ${JSON.stringify(await health())}`);

    // k messages to each room meanwhile, logged once its sender heard them back
    const posted = new Map(); // room -> texts
    await Promise.all(senders.map(async (snd) => {
      const texts = [];
      for (let n = 0; n < missed; n++) {
        const text = `${snd.room}#${n}`;
        const ack = await snd.s.timeout(ACK_MS).emitWithAck("message", { room: snd.room, text }).catch((e) => ({ error: e.message }));
        if (!ack?.ok) throw new Error(`message ${text}: ${JSON.stringify(ack)}`);
        texts.push(text);
      }
      posted.set(snd.room, texts);
    }));
    if (!(await until(() => senders.every((snd) => snd.heard === missed), WAIT_MS)))
      throw new Error("the senders did not hear their messages back");
    for (const c of recs) if (c.texts.length) throw new Error(`client ${c.i} received a message while away`);

    // the background, then the reconnects, each to the other chatnode
    const healthBefore = await health();
    await sleep(500);
    const q0 = await redis.info("stats", "commandstats");
    await sleep(quietMs);
    const s0 = await redis.info("stats", "commandstats");
    const t0 = Date.now();
    await Promise.all(recs.map(async (c) => {
      c.s.io.uri = urls[(c.i + 1) % 2];
      c.s.connect();
      await connected(c.s);
      c.back = { recovered: c.s.recovered, sameId: c.s.id === c.id, moved: tagOf(c.s) !== c.tag, texts: [...c.texts] };
    }));
    const reconnectMs = Date.now() - t0;
    // the node each session left drops its kept copy when the restore's marker reaches it
    const moved = (hs) => sum(hs.map((h) => h.moved)) - sum(healthBefore.map((h) => h.moved));
    if (!(await until(async () => moved(await health()) >= clients, WAIT_MS)))
      log(`recovery: only ${moved(await health())} of ${clients} kept copies were dropped`);
    await sleep(500);
    const s1 = await redis.info("stats", "commandstats");
    const healthAfter = await health();
    await sleep(500); // a late or repeated delivery would show now

    const quiet = between(q0, s0), phase = between(s0, s1);
    const bg = (v) => (v * phase.ms) / quiet.ms; // background over the phase's length
    const commands = {};
    for (const [name, n] of Object.entries(phase.commands)) {
      const d = n - bg(quiet.commands[name] ?? 0);
      if (d > 0.5) commands[name] = Math.round(d);
    }
    let exact = 0;
    const wrong = [];
    for (const c of recs) {
      const want = posted.get(c.room) || [];
      const ok = c.back.recovered && c.back.sameId && c.back.moved && same(c.back.texts, want) && same(c.texts, want);
      if (ok) exact++;
      else if (wrong.length < 5) wrong.push({ client: c.i, recovered: c.back.recovered, sameId: c.back.sameId, moved: c.back.moved,
        atConnect: c.back.texts.length, after: c.texts.length, want: want.length });
    }
    const restored = sum(healthAfter.map((h) => h.restored)) - sum(healthBefore.map((h) => h.restored));
    const failed = {};
    for (const h of [healthBefore, healthAfter]) {
      const sign = h === healthBefore ? -1 : 1;
      for (const node of h) for (const [why, n] of Object.entries(node.failed)) failed[why] = (failed[why] ?? 0) + sign * n;
    }
    return {
      clients, missed, rooms,
      recovered: recs.filter((c) => c.back.recovered).length,
      sameId: recs.filter((c) => c.back.sameId).length,
      moved: recs.filter((c) => c.back.moved).length,
      exact, wrong, restored, failed, reconnectMs,
      commands, commandsTotal: sum(commands), evals: commands.eval ?? 0,
      bytesIn: phase.bytesIn - bg(quiet.bytesIn), bytesOut: phase.bytesOut - bg(quiet.bytesOut),
      phaseMs: phase.ms,
      background: { ms: quiet.ms, commands: quiet.commands, bytesIn: quiet.bytesIn, bytesOut: quiet.bytesOut },
    };
  } finally {
    for (const s of all) s.close();
    redis.close();
  }
}

/** The chatnode a socket is on: its Engine.IO sid starts with the node's tag. */
const tagOf = (s) => String(s.io.engine.id).split(".")[0];

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Resolves once s is connected (it may already be); rejects on connect_error or timeout. */
function connected(s) {
  if (s.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => done(new Error("connect timed out")), WAIT_MS);
    const ok = () => done();
    const bad = (e) => done(new Error(`connect_error: ${e.message}`));
    const done = (err) => {
      clearTimeout(t);
      s.off("connect", ok);
      s.off("connect_error", bad);
      if (err) reject(err);
      else resolve();
    };
    s.on("connect", ok);
    s.on("connect_error", bad);
  });
}
