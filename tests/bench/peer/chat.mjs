// The Node.js peer of `chatnode --app chat`: a socket.io 4.8 server that speaks the chat app's
// protocol as chatnode/chat.c and its chat_*.c do (events, arguments, acks, error codes, Redis
// keys), so the benchmarks can drive both with one load generator. `--help` lists the flags.
//
// Differences from chatnode: sign-in is by `auth.user` only (its --allow-anonymous; a token is
// refused as by a chatnode without a secret), there is no chat page, drain or control traffic.
// With `--adapter streams` the cluster runs on @socket.io/redis-streams-adapter instead of
// @socket.io/redis-adapter, and `--recovery-window MS` turns on socket.io's connection state
// recovery (a client back within MS gets its rooms and the packets it missed).
// Presence uses chatnode's own Redis layout (a hash per room, a liveness key per node), so a
// cluster of peers behaves as a cluster of chatnodes, and the two can even share one Redis.
import crypto from "node:crypto";
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createAdapter as createStreamsAdapter } from "@socket.io/redis-streams-adapter";
import { ClientClosedError, createClient } from "redis";

/* ---- settings: one table; flags are --name value (or --name=value) ---- */

const SETTINGS = [
  // [name, default, help]; the default's type is the setting's type
  ["host", "127.0.0.1", "address to listen on"],
  ["port", 0, "TCP port (0: any free port; the chosen one is logged as port=)"],
  ["path", "/socket.io/", "HTTP path of the Engine.IO endpoint"],
  ["ping-interval", 25000, "ms between heartbeat pings"],
  ["ping-timeout", 20000, "ms a client has to answer a ping"],
  ["max-payload", 1000000, "largest message or polling body, bytes"],
  ["connect-timeout", 45000, "ms a session has to join a namespace"],
  ["redis", "", "cluster through Redis (redis://host:port[/db]); empty: run alone, in memory"],
  ["redis-key", "socket.io", "channel and key prefix on Redis (the adapter's key)"],
  ["adapter", "pubsub", "with --redis: pubsub (@socket.io/redis-adapter) or streams (@socket.io/redis-streams-adapter)"],
  ["recovery-window", 0, "ms a disconnected client's state is kept for it to recover (0: no connection state recovery)"],
  ["node-tag", "", "session ids as chatnode's, \"<tag>.<random>\" ([A-Za-z0-9-]; empty: socket.io's own)"],
  ["history-size", 1000, "messages kept per room"],
  ["history-page", 50, "messages sent with a join"],
  ["history-ttl", 2592000, "seconds a room's or a conversation's messages outlive its last one"],
  ["max-members", 1000, "most users a join or members answer lists"],
  ["max-text", 4096, "longest message, bytes"],
  ["rate", 20, "events per second per socket"],
  ["burst", 40, "token bucket size per socket"],
  ["max-rooms", 100, "rooms one socket may join"],
  ["presence-ttl", 30, "seconds a stopped node's users stay listed"],
  ["allow-anonymous", true, "accepted for chatnode's command line: auth.user is always accepted"],
  ["help", false, "print this table and exit"],
];

function usage() {
  const rows = SETTINGS.map(([name, def, help]) =>
    `  --${name.padEnd(16)} ${help}${typeof def === "boolean" ? "" : ` (default: ${JSON.stringify(def)})`}`);
  return `usage: node tests/bench/peer/chat.mjs [flags]\n${rows.join("\n")}\n`;
}

const ZERO_OK = new Set(["port", "recovery-window"]); // numbers that may be 0

/** Flags to a config object keyed by camelCase name; exits with usage on a bad flag. */
function parseFlags(argv) {
  const cfg = {};
  const byName = new Map(SETTINGS.map((s) => [s[0], s]));
  for (const [name, def] of SETTINGS) cfg[camel(name)] = def;
  const fail = (why) => {
    process.stderr.write(`chat.mjs: ${why}\n${usage()}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(argv[i]);
    if (!m || !byName.has(m[1])) fail(`unknown argument ${JSON.stringify(argv[i])}`);
    const [name, def] = byName.get(m[1]);
    let value = m[2];
    if (typeof def === "boolean") {
      cfg[camel(name)] = value === undefined ? true : value === "true";
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) fail(`--${name} needs a value`);
      value = argv[++i];
    }
    if (typeof def === "number") {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < (ZERO_OK.has(name) ? 0 : 1) || (name === "port" && n > 65535))
        fail(`--${name}: ${JSON.stringify(value)} is not a valid value`);
      value = n;
    }
    cfg[camel(name)] = value;
  }
  if (!["pubsub", "streams"].includes(cfg.adapter)) fail(`--adapter: ${JSON.stringify(cfg.adapter)} is not pubsub or streams`);
  if (!/^[A-Za-z0-9-]*$/.test(cfg.nodeTag)) fail(`--node-tag: ${JSON.stringify(cfg.nodeTag)} is not [A-Za-z0-9-]`);
  if (cfg.help) {
    process.stdout.write(usage());
    process.exit(0);
  }
  return cfg;
}

function camel(name) {
  return name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
}

/** One logfmt line on stderr. */
function log(level, msg, fields = {}) {
  const q = (v) => (/^[^\s"=]+$/.test(String(v)) ? String(v) : JSON.stringify(String(v)));
  const kv = Object.entries(fields).map(([k, v]) => ` ${k}=${q(v)}`).join("");
  process.stderr.write(`ts=${new Date().toISOString()} level=${level} msg=${q(msg)}${kv}\n`);
}

const cfg = parseFlags(process.argv.slice(2));
// K:chat:, as proto/chat_store.c's keys: the prefix's '%', '{' and '}' escaped, so that the
// only hash tags are the {...} written below
const prefix = `${cfg.redisKey.replace(/[%{}]/g, (c) => ({ "%": "%25", "{": "%7B", "}": "%7D" })[c])}:chat:`;
const started = Date.now();
let stopping = false; // set on SIGTERM/SIGINT: closing sockets only delete their presence

/* ---- answers and validation, as chatnode/chat.c and proto/chat_store.c ---- */

const ok = (fields = {}) => ({ ...fields, ok: true });
const fail = (code, message) => ({ error: { code, message } });

/** Why s is not a label of 1..maxChars code points and at most maxBytes bytes (null: it is),
 * in proto/utf8.c's words: controls and characters that reorder text are refused. */
function labelProblem(s, maxChars, maxBytes) {
  if (typeof s !== "string" || s.length === 0) return "is empty";
  if (!s.isWellFormed()) return "is not valid UTF-8";
  let chars = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) ||
        c === 0x2028 || c === 0x2029 || c === 0x061c || c === 0x200e || c === 0x200f || c === 0xfeff)
      return "holds a control or text-direction character";
    chars++;
  }
  return chars > maxChars || Buffer.byteLength(s) > maxBytes ? "is too long" : null;
}
const GUEST = "guest:"; // guests' ids: the prefix and their name; a token's sub never has it
const validName = (s) => labelProblem(s, 64, 256) === null;
const validUserId = (s) => labelProblem(s, 70, 262) === null;
/** Why room is not one a client may name (null: it is), as chat_check_room says it: neither a
 * user's own room nor one of a socket id's form. */
function roomProblem(room) {
  if (typeof room !== "string") return "is missing";
  return labelProblem(room, 128, 512) ?? (room.startsWith("user:") ? "is a user's own room (user:...)"
    : /^[A-Za-z0-9_-]{20}$/.test(room) ? "has the form of a socket id (20 of A-Z a-z 0-9 _ -)" : null);
}
const roomError = (why) => fail("bad_request", `room ${why}: it must be 1-128 characters, no control characters`);
/** A key part, escaped as chat_key_part does: no raw ':', '%', '{' or '}'. */
const keyPart = (s) => s.replace(/[%:{}]/g, (c) => ({ "%": "%25", ":": "%3A", "{": "%7B", "}": "%7D" })[c]);

const str = (v) => (typeof v === "string" ? v : null);

/** Whether chatnode's JSON parser (jansson) loads v as a JavaScript client writes it: no U+0000
 * or unpaired surrogate in a string or key, finite numbers, and integers (written as digits below
 * 1e21) within int64. chatnode answers anything else as it answers a missing argument. */
function loadable(v) {
  if (typeof v === "string") return !v.includes("\0") && v.isWellFormed();
  if (typeof v === "number")
    return Number.isFinite(v) && !(Number.isInteger(v) && Math.abs(v) < 1e21 && (v >= 2 ** 63 || v < -(2 ** 63)));
  if (v === null || typeof v !== "object" || Buffer.isBuffer(v)) return true; // a Buffer is a placeholder
  if (Array.isArray(v)) return v.every(loadable);
  return Object.entries(v).every(([k, x]) => loadable(k) && loadable(x));
}
const CLIENT_ID = /^[A-Za-z0-9_\-.:]{1,64}$/;
const STREAM_ID = /^[0-9]+(-[0-9]+)?$/; // chat_check_stream_id, with at most 40 bytes
const userOf = (m) => ({ id: m.id, name: m.name });

/* ---- storage: Redis streams (--redis) or the same streams in memory ---- */

// The same script as proto/chat_store.c's: a client-chosen id maps to the stream id it was
// first stored under, so a retry gets that id back instead of a second entry; the stream
// expires --history-ttl after its last message.
const STORE_LUA =
  "if KEYS[2] ~= KEYS[1] then local e = redis.call('GET', KEYS[2]) " +
  "if e then return {0, e} end end " +
  "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', " +
  "'from', ARGV[2], 'name', ARGV[3], 'text', ARGV[4], 'to', ARGV[5]) " +
  "redis.call('EXPIRE', KEYS[1], ARGV[6]) " +
  "if KEYS[2] ~= KEYS[1] then redis.call('SET', KEYS[2], id, 'EX', " +
  "math.min(86400, tonumber(ARGV[6]))) end " +
  "return {1, id}";
const ALIVE_LUA = "local r = {} for i, k in ipairs(KEYS) do r[i] = redis.call('EXISTS', k) end return r";

let cmd = null; // the Redis command connection (the adapter's publishing one), or null alone
let sub = null;

/** Running alone: streams as arrays of [id, from, name, text, to], oldest first. As chatnode's,
 * a stream goes --history-ttl after its last message and a dedupe entry after a day (or the ttl),
 * and both maps are bounded (10,000 streams, 100,000 ids; the least recently written go). Map
 * order is write order: a written stream is put back at the end. */
const mem = { streams: new Map(), dedupe: new Map(), lastMs: 0, seq: 0 };

function memPrune(now) {
  const ttl = cfg.historyTtl * 1000, idTtl = Math.min(86400, cfg.historyTtl) * 1000;
  for (const [k, st] of mem.streams) {
    if (mem.streams.size <= 10_000 && now - st.last < ttl) break;
    mem.streams.delete(k);
  }
  for (const [k, d] of mem.dedupe) {
    if (mem.dedupe.size <= 100_000 && now - d.at < idTtl) break;
    mem.dedupe.delete(k);
  }
}
setInterval(() => memPrune(Date.now()), 10_000).unref();

function memStore(scope, dedupe, from, text, to) {
  memPrune(Date.now());
  const seen = dedupe && mem.dedupe.get(dedupe)?.id;
  if (seen) return { fresh: false, id: seen };
  let ms = Date.now();
  if (ms <= mem.lastMs) (ms = mem.lastMs), mem.seq++;
  else (mem.lastMs = ms), (mem.seq = 0);
  const id = `${ms}-${mem.seq}`;
  const st = mem.streams.get(scope) ?? { entries: [], last: 0 };
  mem.streams.delete(scope);
  mem.streams.set(scope, st);
  st.last = Date.now();
  st.entries.push([id, from.id, from.name, text, to]);
  while (st.entries.length > cfg.historySize) st.entries.shift();
  if (dedupe) mem.dedupe.set(dedupe, { id, at: st.last });
  return { fresh: true, id };
}

/** strtoull's value of the number at the start of s: a leading '-' negates modulo 2^64, too
 * many digits give 2^64-1, no digits give 0. */
function u64(s) {
  const [, sign, digits] = /^([-+]?)(\d*)/.exec(s);
  if (!digits) return 0n;
  const v = BigInt(digits);
  if (v >= 1n << 64n) return (1n << 64n) - 1n;
  return sign === "-" && v ? (1n << 64n) - v : v;
}

/** Stream ids compare as (ms, seq), each part read as chatnode/chat_storage_memory.c's id_before
 * reads it. */
function idBefore(a, b) {
  const part = (id) => {
    const dash = id.indexOf("-");
    return [u64(id), dash < 0 ? 0n : u64(id.slice(dash + 1))];
  };
  const [am, as] = part(a), [bm, bs] = part(b);
  return am < bm || (am === bm && as < bs);
}

function memHistory(room, before, limit) {
  const st = mem.streams.get(`${prefix}{room:${keyPart(room)}}`);
  const entries = st && Date.now() - st.last < cfg.historyTtl * 1000 ? st.entries : [];
  let end = entries.length;
  if (before !== null) while (end > 0 && !idBefore(entries[end - 1][0], before)) end--;
  return entries.slice(Math.max(0, end - limit), end).map(([id, fromId, name, text, to]) => {
    const m = { id, ts: Number.parseInt(id, 10), from: { id: fromId, name }, text, room };
    if (to) m.to = to;
    return m;
  });
}

/** XREVRANGE reply -> messages of room, newest last (proto/chat_store.c's chat_store_messages). */
function messagesOf(reply, room) {
  const out = [];
  for (let i = reply.length - 1; i >= 0; i--) {
    const [id, fields] = reply[i];
    const m = { id, room, ts: Number.parseInt(id, 10) };
    const from = {};
    for (let f = 0; f + 1 < fields.length; f += 2) {
      const [k, v] = [fields[f], fields[f + 1]];
      if (k === "from") from.id = v;
      else if (k === "name") from.name = v;
      else if (k === "text") m.text = v;
      else if (k === "to" && v) m.to = v;
    }
    m.from = from;
    out.push(m);
  }
  return out;
}

/** A room's messages before `before` (exclusive; null: newest), newest last; throws if Redis
 * cannot answer. */
async function readHistory(room, before, limit) {
  if (!cmd) return memHistory(room, before, limit);
  const reply = await cmd.sendCommand(["XREVRANGE", `${prefix}{room:${keyPart(room)}}`,
    before === null ? "+" : `(${before}`, "-", "COUNT", String(limit)]);
  return messagesOf(reply, room);
}

/* ---- presence: K:chat:presence:<room> hash "<node uid>|<user>" -> name, K:chat:{alive}:<uid> ---- */

const localCounts = new Map(); // "<room>\n<user>" -> this node's sockets of user in room
let nodeUid = "local";

function localCount(room, user, delta) {
  const k = `${room}\n${user}`;
  const v = (localCounts.get(k) || 0) + delta;
  if (v <= 0) localCounts.delete(k);
  else localCounts.set(k, v);
  return Math.max(v, 0);
}

const ignore = () => {};

function refreshAlive() {
  if (!cmd?.isReady) return;
  cmd.sendCommand(["SET", `${prefix}{alive}:${keyPart(nodeUid)}`, "1", "EX", String(cfg.presenceTtl)]).catch(ignore);
}

function presenceEntry(room, user, present) {
  const k = `${prefix}presence:${keyPart(room)}`, field = `${nodeUid}|${user.id}`;
  const c = present ? ["HSET", k, field, user.name] : ["HDEL", k, field];
  cmd.sendCommand(c).catch(ignore);
}

function presenceWrite(room, user, present) {
  if (!cmd?.isReady) return; // alone: presence is this node's own sockets
  if (present) refreshAlive(); // an entry is never written for a node not alive
  presenceEntry(room, user, present);
}

/** The room's presence as [[node, user id, name]...] of live nodes, or null if Redis cannot
 * answer. Alone: this node's sockets in the room (synchronously). */
function readPresence(room) {
  if (!cmd) {
    const live = [];
    for (const sid of io.of("/").adapter.rooms.get(room) || []) {
      const m = io.of("/").sockets.get(sid)?.data.member;
      if (m) live.push(["local", m.id, m.name]);
    }
    return live;
  }
  return (async () => {
    const flat = await cmd.sendCommand(["HGETALL", `${prefix}presence:${keyPart(room)}`]);
    const entries = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const bar = flat[i].indexOf("|");
      if (bar >= 0) entries.push([flat[i].slice(0, bar), flat[i].slice(bar + 1), flat[i + 1]]);
    }
    if (!entries.length) return entries;
    const nodes = [...new Set(entries.map(([node]) => node))]; // one EXISTS per node, not per entry
    const alive = await cmd.sendCommand(["EVAL", ALIVE_LUA, String(nodes.length),
      ...nodes.map((node) => `${prefix}{alive}:${keyPart(node)}`)]);
    const up = new Set(nodes.filter((node, i) => node === nodeUid || alive[i] !== 0));
    return entries.filter(([node]) => up.has(node));
  })().catch(() => null);
}

/** Distinct users of presence entries, as [{id, name}], at most --max-members. */
function usersOf(live) {
  const seen = new Set(), users = [];
  for (const [, id, name] of live) {
    if (seen.has(id)) continue;
    if (users.length >= cfg.maxMembers) break;
    seen.add(id);
    users.push({ id, name });
  }
  return users;
}

const otherNodesWith = (live, user) => (cmd ? live.filter(([n, u]) => u === user && n !== nodeUid).length : 0);

/** A user's count in room on this node changes by delta: record it, tell the room when the user
 * arrived in it (or left it) cluster-wide, and answer a join (ack) afterwards. */
function presenceChange(room, user, delta, ack) {
  const n = localCount(room, user.id, delta);
  let arrived = -1;
  if (delta > 0 && n === 1) arrived = 1;
  if (delta < 0 && n === 0) arrived = 0;
  if (arrived >= 0) presenceWrite(room, user, arrived === 1);
  if ((arrived < 0 && !ack) || stopping) return;
  const after = (live) => {
    if (live && arrived >= 0 && otherNodesWith(live, user.id) === 0)
      io.to(room).emit(arrived ? "joined" : "left", { room, user: userOf(user) });
    if (ack) answerHistory(ack, room, null, cfg.historyPage, { room, members: live ? usersOf(live) : [] });
  };
  const live = readPresence(room);
  if (live instanceof Promise) live.then(after);
  else after(live);
}

/** Answers ack with a room's history: {messages}, or for a join {history, room, members}. */
function answerHistory(ack, room, before, limit, join) {
  const answer = (messages) =>
    ack(join ? ok({ history: messages, room: join.room, members: join.members }) : ok({ messages }));
  if (!cmd) return answer(memHistory(room, before, limit));
  readHistory(room, before, limit).then(answer, () => ack(fail("internal", "history is unavailable")));
}

/* ---- events ---- */

function doJoin(socket, m, arg, ack) {
  const room = str(arg.room);
  const why = roomProblem(room);
  if (why) return ack(roomError(why));
  if (socket.rooms.has(room)) return presenceChange(room, m, 0, ack); // the same answer again
  if (m.rooms >= cfg.maxRooms) return ack(fail("bad_request", "too many rooms"));
  socket.join(room);
  m.rooms++;
  presenceChange(room, m, +1, ack);
}

function doLeave(socket, m, arg, ack) {
  const room = str(arg.room);
  const why = roomProblem(room);
  if (why) return ack(roomError(why));
  if (!socket.rooms.has(room)) return ack(fail("not_found", "not in that room"));
  socket.leave(room);
  m.rooms--;
  presenceChange(room, m, -1, null);
  ack(ok());
}

function doMessage(socket, m, arg, ack, isPrivate) {
  const target = str(isPrivate ? arg.to : arg.room);
  const text = str(arg.text);
  const jid = arg.id;
  const cid = str(jid);
  if (!isPrivate && roomProblem(target)) return ack(roomError(roomProblem(target)));
  if (isPrivate && !validUserId(target)) return ack(fail("bad_request", "to must be a user id"));
  if (!text || Buffer.byteLength(text) > cfg.maxText)
    return ack(fail("bad_request", `text must be a string of 1 to ${cfg.maxText} bytes`));
  if ((jid !== undefined && jid !== null && cid === null) || (cid !== null && !CLIENT_ID.test(cid)))
    return ack(fail("bad_request", "id must be up to 64 of A-Z a-z 0-9 _ - . :"));
  if (!isPrivate && !socket.rooms.has(target)) return ack(fail("not_found", "join the room first"));
  // the keys of proto/chat_store.c: a stream per room, and per pair of users (the smaller id
  // bytewise first); every part escaped, so no two tuples share a key; the scope is the
  // stream's hash tag, so the stream and its dedupe keys share a slot
  let scope;
  if (!isPrivate) scope = `{room:${keyPart(target)}}`;
  else if (Buffer.compare(Buffer.from(m.id), Buffer.from(target)) < 0) scope = `{dm:${keyPart(m.id)}:${keyPart(target)}}`;
  else scope = `{dm:${keyPart(target)}:${keyPart(m.id)}}`;
  const dedupe = cid === null ? null : `${prefix}dedupe:${scope}:${keyPart(m.id)}:${keyPart(cid)}`;
  const to = isPrivate ? target : "";
  const from = userOf(m);
  // deliver a fresh message first, then answer the sender (chatnode/chat.c's on_stored())
  const stored = ({ fresh, id }) => {
    const ts = Number.parseInt(id, 10);
    if (fresh) {
      const msg = { id, from, text, ts };
      if (!isPrivate) io.to(target).emit("message", { ...msg, room: target });
      else socket.to([`user:${target}`, `user:${m.id}`]).emit("private", { ...msg, to: target });
    }
    ack(ok({ id, ts }));
  };
  if (!cmd) return stored(memStore(prefix + scope, dedupe, from, text, to));
  if (!cmd.isReady) return ack(fail("internal", "storage is unavailable; send it again"));
  cmd.sendCommand(["EVAL", STORE_LUA, "2", prefix + scope, dedupe ?? prefix + scope, String(cfg.historySize),
    m.id, m.name, text, to, String(cfg.historyTtl)]).then((r) => {
    if (!Array.isArray(r) || r.length !== 2 || typeof r[0] !== "number" || typeof r[1] !== "string")
      throw new Error("unexpected reply");
    stored({ fresh: r[0] === 1, id: r[1] });
  }).catch(() => ack(fail("internal", "the message could not be stored; send it again")));
}

function doTyping(socket, m, arg, ack) {
  const room = str(arg.room);
  if (roomProblem(room) || !socket.rooms.has(room))
    return ack(fail("bad_request", "typing needs a room you are in"));
  socket.volatile.to(room).emit("typing", { room, user: userOf(m) }); // the room but the sender
  ack(ok());
}

function doHistory(socket, arg, ack) {
  const room = str(arg.room);
  const jb = arg.before, jl = arg.limit;
  const limit = Number.isInteger(jl) ? jl : cfg.historyPage;
  const before = str(jb);
  if (roomProblem(room) || limit < 1 || limit > 100 || (jl !== undefined && !Number.isInteger(jl)) ||
      (jb !== undefined && jb !== null && before === null) ||
      (before !== null && (before.length > 40 || !STREAM_ID.test(before))))
    return ack(fail("bad_request", "history needs {room, before?: message id, limit: 1-100}"));
  if (!socket.rooms.has(room)) return ack(fail("not_found", "join the room first"));
  answerHistory(ack, room, before, limit, null);
}

function doMembers(socket, arg, ack) {
  const room = str(arg.room);
  if (roomProblem(room)) return ack(fail("bad_request", "members needs {room}"));
  if (!socket.rooms.has(room)) return ack(fail("not_found", "join the room first"));
  const answer = (live) => ack(live ? ok({ users: usersOf(live) }) : fail("internal", "presence is unavailable"));
  const live = readPresence(room);
  if (live instanceof Promise) live.then(answer);
  else answer(live);
}

/** A token bucket per socket: --rate events per second, bursts of --burst. */
function allowed(m) {
  const now = Date.now();
  m.tokens = Math.min(cfg.burst, m.tokens + ((now - m.last) * cfg.rate) / 1000);
  m.last = now;
  if (m.tokens < 1) return false;
  m.tokens -= 1;
  return true;
}

function onEvent(socket, event, args) {
  const m = socket.data.member;
  const ack = typeof args[args.length - 1] === "function" ? args.pop() : ignore;
  if (!allowed(m)) return ack(fail("rate_limited", "too many events; slow down"));
  const arg = args[0]; // every event takes one object argument
  if (arg === null || typeof arg !== "object" || Array.isArray(arg) || !args.every(loadable))
    return ack(fail("bad_request", "the argument must be an object"));
  switch (event) {
    case "join": return doJoin(socket, m, arg, ack);
    case "leave": return doLeave(socket, m, arg, ack);
    case "message": return doMessage(socket, m, arg, ack, false);
    case "private": return doMessage(socket, m, arg, ack, true);
    case "typing": return doTyping(socket, m, arg, ack);
    case "history": return doHistory(socket, arg, ack);
    case "members": return doMembers(socket, arg, ack);
    default: return ack(fail("bad_request", "unknown event"));
  }
}

/* ---- identity: auth.user, or refused as chatnode refuses ---- */

function refuse(next, reason) {
  const err = new Error("unauthorized");
  err.data = { reason }; // CONNECT_ERROR {"message":"unauthorized","data":{"reason":...}}
  next(err);
}

function authenticate(socket, next) {
  const a = loadable(socket.handshake.auth) ? socket.handshake.auth : null; // else: no auth
  const has = (k) => a !== null && typeof a === "object" && !Array.isArray(a) && Object.hasOwn(a, k);
  if (has("token") && typeof a.token !== "string") return refuse(next, "token must be a string");
  if (has("token")) return refuse(next, "tokens are not accepted: no secret configured");
  if (!has("user")) return refuse(next, "missing token or user");
  if (!validName(a.user)) return refuse(next, "user must be a name of 1-64 characters, no control characters");
  socket.data.member = { id: GUEST + a.user, name: a.user, tokens: cfg.burst, last: Date.now(), rooms: 0 };
  next();
}

/** The socket's chat rooms: not its own id, not user:*. */
const chatRooms = (socket) => [...socket.rooms].filter((r) => r !== socket.id && !r.startsWith("user:"));

function onConnection(socket) {
  const m = socket.data.member;
  socket.join(`user:${m.id}`);
  socket.onAny((event, ...args) => onEvent(socket, event, args));
  socket.on("error", ignore); // an event named "error" from a client must not throw
  // chatnode alone leaves a closed socket's presence as it is (chatnode/chat.c's
  // chat_disconnect acts only with --redis): no "left", and the user's count in the room
  // stays; so here.
  if (cmd) socket.on("disconnecting", () => {
    for (const room of chatRooms(socket)) presenceChange(room, m, -1, null);
  });
  // a recovered socket is back in its rooms (and has its data) without a join: it counts in
  // their presence again, as the closing one stopped counting
  if (cmd && socket.recovered) for (const room of chatRooms(socket)) presenceChange(room, m, +1, null);
}

/** Redis came (back) up: this node's liveness key and its sockets' presence entries again, for a
 * Redis restarted without its data (chatnode/chat.c's chat_cluster_connected). */
function presenceAgain() {
  refreshAlive();
  for (const socket of io.of("/").sockets.values())
    for (const room of chatRooms(socket)) presenceEntry(room, socket.data.member, true);
}

/* ---- the server ---- */

const httpServer = createServer((req, res) => {
  if (req.url === "/healthz") {
    const body = { status: "ok", connections: io.engine.clientsCount, uptime_s: Math.floor((Date.now() - started) / 1000) };
    if (cmd) body.bus = { uid: nodeUid, command: cmd.isReady ? "connected" : "down", subscriber: sub?.isReady === false ? "down" : "connected" };
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
    return;
  }
  res.writeHead(404).end();
});

const options = {
  path: cfg.path,
  pingInterval: cfg.pingInterval,
  pingTimeout: cfg.pingTimeout,
  maxHttpBufferSize: cfg.maxPayload,
  connectTimeout: cfg.connectTimeout,
};
if (cfg.recoveryWindow > 0) options.connectionStateRecovery = { maxDisconnectionDuration: cfg.recoveryWindow, skipMiddlewares: true };
const streams = cfg.redis && cfg.adapter === "streams";
const readers = []; // the streams adapter's own connections (it duplicates cmd for them)
if (cfg.redis) {
  cmd = createClient({ url: cfg.redis });
  // the streams adapter publishes on cmd and reads the stream on connections of its own
  sub = streams ? null : cmd.duplicate();
  if (streams) {
    const duplicate = cmd.duplicate.bind(cmd);
    cmd.duplicate = (...args) => {
      const c = duplicate(...args);
      readers.push(c);
      return c;
    };
  }
  for (const [name, c] of [["command", cmd], ["subscriber", sub]]) {
    if (!c) continue;
    let last = "";
    c.on("error", (err) => {
      if (err.message !== last) log("warn", "redis error", { connection: name, error: err.message });
      last = err.message;
    });
    c.on("ready", () => (last = ""));
  }
  await Promise.all([cmd.connect(), sub?.connect()]);
  options.adapter = streams ? createStreamsAdapter(cmd, { streamName: cfg.redisKey, channelPrefix: cfg.redisKey })
    : createAdapter(cmd, sub, { key: cfg.redisKey });
} else {
  log("warn", "running alone: chat messages are kept in memory, lost on restart (give --redis)");
}
const io = new Server(httpServer, options);
if (cfg.nodeTag) io.engine.generateId = () => `${cfg.nodeTag}.${crypto.randomBytes(15).toString("base64url")}`;
io.use(authenticate);
io.on("connection", onConnection);

let aliveTimer = null;
if (cmd) {
  nodeUid = io.of("/").adapter.uid;
  const every = Math.max(1, Math.floor((cfg.presenceTtl * 1000) / 3));
  aliveTimer = setInterval(refreshAlive, every);
  refreshAlive();
  cmd.on("ready", presenceAgain); // every later (re)connection
  if (sub) {
    // one round trip on the subscriber connection after the adapter's PSUBSCRIBE: once
    // listening is logged, broadcasts from the other nodes are heard
    await sub.pSubscribe(`${cfg.redisKey}:peer-ready`, ignore);
    await sub.pUnsubscribe(`${cfg.redisKey}:peer-ready`, ignore);
  } else {
    // the stream reader (and the subscriber for the adapter's requests) connected: the first
    // XREAD goes out right after, and from then on broadcasts from the other nodes are heard
    for (let i = 0; !(readers.length >= 2 && readers.every((c) => c.isReady)); i++) {
      if (i > 200) throw new Error("the streams adapter did not connect to Redis");
      await new Promise((r) => setTimeout(r, 25));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

httpServer.listen(cfg.port, cfg.host, () => {
  const { port } = httpServer.address();
  log("info", "listening", { host: cfg.host, port, path: cfg.path, redis: cfg.redis || "none", uid: nodeUid,
    ...(cfg.redis ? { adapter: cfg.adapter } : {}), ...(cfg.recoveryWindow ? { recovery_window_ms: cfg.recoveryWindow } : {}) });
});

async function stop(signal) {
  if (stopping) return;
  stopping = true;
  log("info", "stopping", { signal });
  setTimeout(() => {
    log("warn", "stop took too long; exiting");
    process.exit(1);
  }, 10_000).unref();
  clearInterval(aliveTimer);
  // closes every socket (their presence entries are deleted) and the HTTP server
  await new Promise((resolve) => io.close(() => resolve()));
  if (cmd) await Promise.allSettled([cmd.quit(), sub?.quit()]);
  log("info", "stopped");
  process.exit(0);
}
// While stopping, a closing socket's handlers may still publish (the adapter's own calls, not
// ours to catch) after the Redis clients quit, as a rejection or thrown at once: those are
// expected, nothing else is. The class is checked, not err.name: the client's errors leave their
// name as "Error".
const closedWhileStopping = (err) => stopping && err instanceof ClientClosedError;
process.on("unhandledRejection", (err) => {
  if (!closedWhileStopping(err)) throw err;
});
process.on("uncaughtException", (err) => {
  if (closedWhileStopping(err)) return;
  console.error(err);
  process.exit(1);
});
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
