// A seeded random client for the layers above the codecs: it drives the chat app's events
// (through real socket.io-clients, as guests and as token users) and adminnode's routes with
// generated names, rooms, ids, texts, tokens, paths, queries and bodies, drawn from a
// dictionary of hostile text (limits and one over, multi-byte characters straddling them,
// invalid UTF-8, NUL, controls, bidi overrides, separators, right-to-left and combining
// characters), and checks invariants after every step:
//   - every ack is {ok: true, ...} or {error: {code, message}} with a known code;
//   - no message reaches a socket outside its room, no private message anyone but its two
//     users, no emit to a user anyone but that user's sockets;
//   - every REST answer is JSON, an error body comes with each 4xx/5xx, and no 500;
//   - every node keeps answering /healthz (and, stopped by the harness, exits clean).
// The same seed gives the same sequence of actions. 93_hostile_fuzz replays fixed seeds; run it
// longer with `node tests/integration/lib/event_fuzz.mjs --minutes 30` (prints JSON).
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import { io } from "socket.io-client";
import { API_KEY, startCluster } from "./cluster.mjs";
import { httpRequest, sleep } from "./harness.mjs";
import { signToken } from "./jwt.mjs";

/** mulberry32: a small, fast, seedable PRNG. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
  };
  return r;
}

const E = "\u{1F600}";
const PIECES = ["a", "Z", "0", "-", "_", ".", ":", "|", "{", "}", "%", "%3A", "/", "#", " ", "user:", "guest:", E, "\u6F22",
  "\u00E9", "e\u0301", "\u05E9", "\u0627", "\u202E", "\u2066", "\u200F", "\u0000", "\u0001", "\n", "\u007F", "\u0085",
  "\u2028", "\uFEFF", "\uD800", "\uDC00", "\\", '"', "'", "<b>", "../", "%FF", "%00", "\uFFFF", "\u{10FFFF}"];

/** A hostile string: near a limit (in characters or bytes), or a mix of pieces. */
function text(r) {
  const unit = r.pick(["x", E, "\u6F22", "\u00E9", "e\u0301", "\u05E9"]);
  switch (r.int(6)) {
    case 0: return unit.repeat(r.pick([63, 64, 65, 70, 71, 127, 128, 129]));
    case 1: return "x".repeat(r.pick([63, 64, 127, 128])) + r.pick([E, "\u6F22", "\u00E9"]);
    case 2: return "";
    default: {
      let s = "";
      for (let i = r.int(6) + 1; i > 0; i--) s += r.pick(PIECES);
      return s;
    }
  }
}

/** Any JSON value, hostile strings included. */
function value(r, depth = 0) {
  switch (r.int(depth > 2 ? 5 : 8)) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick([0, -1, 1.5, 1e300, 2 ** 63, -(2 ** 63), Number.MAX_SAFE_INTEGER + 2]);
    case 3: case 4: return text(r);
    case 5: return Array.from({ length: r.int(4) }, () => value(r, depth + 1));
    default: {
      const o = {};
      for (let i = r.int(4); i > 0; i--) o[r.chance(0.5) ? text(r) : r.pick(["room", "text", "to", "id", "before", "limit"])] = value(r, depth + 1);
      return o;
    }
  }
}

/** Percent-encodes s as UTF-8; a lone surrogate becomes its 3-byte (invalid) encoding. */
export function pct(s) {
  let out = "";
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    const bytes = cp >= 0xd800 && cp <= 0xdfff ? [0xed, 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)] : [...Buffer.from(ch)];
    for (const b of bytes)
      out += /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) && b < 0x80 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** A path segment as the server decodes it: percent escapes to bytes, then strict UTF-8;
 * null when that fails (the server refuses such a segment). */
function decodeSegment(seg) {
  const bytes = [];
  for (let i = 0; i < seg.length; i++) {
    if (seg[i] === "%" && /^[0-9A-Fa-f]{2}$/.test(seg.slice(i + 1, i + 3))) {
      bytes.push(parseInt(seg.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (seg[i] === "%") {
      return null;
    } else {
      bytes.push(seg.charCodeAt(i));
    }
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
}

const ACK_CODES = new Set(["bad_request", "not_found", "rate_limited", "internal"]);

/** Runs the fuzzer on a cluster configured as deploy/cluster.sh does. Returns its counts. */
export async function fuzz({ seed = 1, steps = 1000, minutes = 0, log = () => {} } = {}) {
  const r = rng(seed);
  const c = await startCluster({ secure: true });
  const stats = { seed, steps: 0, events: 0, acks: 0, deliveries: 0, requests: 0, connects: 0, refused: 0, failures: [] };
  const fail = (what) => {
    stats.failures.push(what);
    log(`FAIL ${what}`);
  };
  const nodeUrls = [c.url, ...Object.values(c.nodes).map((n) => n.url)];
  const roomsPool = ["lobby", "r:1", "r%3A1", "{t}", "\u05D7\u05D3\u05E8", E.repeat(128), "e\u0301"];
  const clients = [];
  const token = (claims) => signToken(claims, c.secret);
  const auth = () => {
    if (r.chance(0.5)) return { user: r.chance(0.6) ? r.pick(["ann", "bo", "a:b", "\u05E9\u05DC\u05D5\u05DD", E.repeat(64)]) : value(r) };
    const claims = { sub: r.chance(0.7) ? r.pick(["ann", "tok", "guest:ann", E.repeat(64), "\u6F22".repeat(50)]) : value(r) };
    if (r.chance(0.8)) claims.exp = r.pick([Date.now() / 1000 + 3600, Date.now() / 1000 - 3600.5, 1000.5, "99999999999", 1e300]);
    if (r.chance(0.3)) claims.name = r.chance(0.5) ? "\u6F22".repeat(r.pick([50, 64, 65])) : value(r);
    if (r.chance(0.2)) claims.nbf = r.pick([Date.now() / 1000 + 3600.5, "0", 0]);
    return { token: r.chance(0.95) ? token(claims) : value(r) };
  };

  /** A client and what it may receive: rooms joined (or being joined or left), its user id. */
  const connect = async () => {
    const s = io(r.pick(nodeUrls), { forceNew: true, reconnection: false, transports: [r.pick(["websocket", "polling"])], auth: auth() });
    const cl = { s, id: null, rooms: new Set(), adminRooms: new Set() };
    const ok = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      s.once("connect", () => (clearTimeout(timer), resolve(true)));
      s.once("connect_error", (err) => {
        clearTimeout(timer);
        if (err.message !== "unauthorized" || typeof err.data?.reason !== "string") fail(`connect_error ${err.message} ${JSON.stringify(err.data)}`);
        resolve(false);
      });
    });
    stats.connects++;
    if (!ok) {
      stats.refused++;
      s.close();
      return null;
    }
    // who this socket is: the members of a room of its own
    const me = `me-${crypto.randomBytes(4).toString("hex")}`;
    const j = await s.timeout(10_000).emitWithAck("join", { room: me }).catch(() => null);
    cl.id = j?.members?.[0]?.id ?? null;
    await s.timeout(10_000).emitWithAck("leave", { room: me }).catch(() => null);
    if (!cl.id) {
      fail(`no user id from join: ${JSON.stringify(j)}`);
      s.close();
      return null;
    }
    s.on("message", (m) => {
      stats.deliveries++;
      if (!cl.rooms.has(m?.room) && !cl.adminRooms.has(m?.room)) fail(`message for ${JSON.stringify(m?.room)} reached ${cl.id} in ${JSON.stringify([...cl.rooms])}`);
    });
    s.on("private", (m) => {
      stats.deliveries++;
      if (m?.to !== cl.id && m?.from?.id !== cl.id) fail(`private ${JSON.stringify(m?.from?.id)} -> ${JSON.stringify(m?.to)} reached ${cl.id}`);
    });
    s.on("fz-emit", (target) => {
      stats.deliveries++;
      if (target !== cl.id) fail(`an emit to ${JSON.stringify(target)} reached ${cl.id}`);
    });
    s.on("disconnect", () => (cl.gone = true));
    clients.push(cl);
    return cl;
  };

  const checkAck = (ev, a) => {
    stats.acks++;
    const okShape = a && typeof a === "object" && (a.ok === true || (a.error && ACK_CODES.has(a.error.code) && typeof a.error.message === "string"));
    if (!okShape) fail(`${ev} answered ${JSON.stringify(a).slice(0, 200)}`);
  };

  const chatStep = async () => {
    let cl = clients.filter((x) => !x.gone);
    if (cl.length < 6 || r.chance(0.03)) await connect();
    cl = clients.filter((x) => !x.gone);
    if (!cl.length) return;
    const me = r.pick(cl);
    const room = r.chance(0.8) ? r.pick(roomsPool) : text(r);
    const ev = r.pick(["join", "join", "leave", "message", "message", "private", "typing", "history", "members", "nonsense", "raw"]);
    let arg;
    switch (ev) {
      case "join": case "leave": case "typing": case "members": arg = { room }; break;
      case "message": arg = { room, text: r.chance(0.8) ? `t${stats.steps}` : text(r), ...(r.chance(0.5) ? { id: r.chance(0.5) ? `c:${r.int(5)}` : value(r) } : {}) }; break;
      case "private": arg = { to: r.chance(0.7) ? r.pick(cl).id : text(r), text: `p${stats.steps}`, ...(r.chance(0.3) ? { id: `p:${r.int(5)}` } : {}) }; break;
      case "history": arg = { room, ...(r.chance(0.3) ? { limit: value(r) } : {}), ...(r.chance(0.3) ? { before: value(r) } : {}) }; break;
      default: arg = value(r);
    }
    if (r.chance(0.1)) arg = value(r); // the wrong shape entirely
    // a room being joined may send messages before the answer comes
    const target = ev === "join" && arg && typeof arg.room === "string" ? arg.room : null;
    const wasIn = target !== null && me.rooms.has(target);
    if (target !== null) me.rooms.add(target);
    stats.events++;
    const a = await me.s.timeout(10_000).emitWithAck(ev === "raw" ? text(r) || "x" : ev, arg).catch((err) => ({ timeout: String(err) }));
    if (a?.timeout) {
      if (!me.gone) fail(`${ev} got no answer: ${a.timeout}`);
      return;
    }
    checkAck(ev, a);
    if (target !== null && a?.ok !== true && !wasIn) me.rooms.delete(target);
    if (ev === "leave" && a?.ok === true) {
      me.rooms.delete(arg.room);
      me.adminRooms.delete(arg.room);
    }
  };

  const apiPaths = () => {
    const enc = (s) => (r.chance(0.2) ? r.pick(["%FF", "%C0%AF", "%ED%A0%80", "%00", "%2F", "%", "%E6%BC"]) : "") + pct(s).slice(0, 2000);
    const roomSeg = enc(r.chance(0.5) ? r.pick(roomsPool) : text(r));
    const some = clients.filter((x) => !x.gone);
    const user = r.chance(0.5) && some.length ? r.pick(some).id : text(r);
    const room = decodeSegment(roomSeg); // what adminnode reads (null: not UTF-8, refused)
    const q = r.chance(0.4) ? `?${r.pick(["namespace", "room", "limit", "offset", "before"])}=${enc(text(r))}` : "";
    return r.pick([
      ["GET", `/api/v1/users${q}`],
      ["GET", `/api/v1/rooms${q}`],
      ["GET", `/api/v1/sockets${q}`],
      ["GET", `/api/v1/rooms/${roomSeg}/members${q}`],
      ["GET", `/api/v1/rooms/${roomSeg}/history${q}`],
      ["POST", `/api/v1/rooms/${roomSeg}/messages`, { text: r.chance(0.7) ? `sys${stats.steps}` : value(r), ...(r.chance(0.5) ? { from: value(r) } : {}) }],
      ["POST", `/api/v1/rooms/${roomSeg}/join`, { user }, { room, user }],
      ["POST", `/api/v1/rooms/${roomSeg}/leave`, { user }],
      ["POST", `/api/v1/users/${pct(user)}/emit`, { event: "fz-emit", args: [user] }],
      ["POST", `/api/v1/users/${enc(user)}/disconnect`, r.chance(0.5) ? { reason: value(r) } : value(r)],
      ["DELETE", `/api/v1/sockets/${enc(text(r))}`],
      ["GET", `/api/v1/nodes/${enc(text(r))}`],
      ["POST", `/api/v1/nodes/${enc(text(r))}/drain`],
      ["POST", "/api/v1/emit", { event: `fz-bcast-${r.int(3)}`, args: [value(r)], ...(r.chance(0.5) ? { rooms: [room ?? "x"] } : {}) }],
      ["POST", "/api/v1/emit", value(r)],
      ["GET", `/${enc(text(r))}`],
    ]);
  };

  const apiStep = async () => {
    const [method, p, body, note] = apiPaths();
    const raw = r.chance(0.1) ? '{"event":"x", "args": [' : body === undefined ? undefined : JSON.stringify(body);
    stats.requests++;
    let res;
    try {
      res = await rawRequest(c.admin.url, method, p, raw, { authorization: `Bearer ${API_KEY}` });
    } catch (err) {
      fail(`${method} ${p.slice(0, 120)}: ${err.message}`);
      return;
    }
    let json = null;
    try {
      json = JSON.parse(res.body);
    } catch { /* checked below */ }
    if (res.status >= 500 && res.status !== 503 && res.status !== 504) fail(`${method} ${p.slice(0, 120)} -> ${res.status} ${res.body.slice(0, 200)}`);
    if (p.startsWith("/api/") && (json === null || (res.status >= 400 && typeof json?.error?.code !== "string")))
      fail(`${method} ${p.slice(0, 120)} -> ${res.status} not a JSON error: ${res.body.slice(0, 200)}`);
    if (note?.room && res.status === 202) for (const cl of clients) if (cl.id === note.user) cl.adminRooms.add(note.room);
  };

  const deadline = minutes ? Date.now() + minutes * 60_000 : Infinity;
  try {
    for (let i = 0; i < 4; i++) await connect();
    while (minutes ? Date.now() < deadline : stats.steps < steps) {
      stats.steps++;
      if (r.chance(0.25)) await apiStep();
      else await chatStep();
      if (stats.steps % 200 === 0) {
        for (const n of Object.values(c.nodes)) {
          const h = await httpRequest(`${n.url}/healthz`).catch((err) => ({ status: String(err) }));
          if (h.status !== 200) fail(`node ${n.port} /healthz: ${h.status}`);
        }
        log(`step ${stats.steps}: ${JSON.stringify({ ...stats, failures: stats.failures.length })}`);
      }
      if (stats.failures.length > 20) break;
    }
    await sleep(300); // deliveries in flight still checked
  } finally {
    for (const cl of clients) cl.s.close();
    await c.stop().catch((err) => fail(`stopping the cluster: ${err.message}`));
  }
  return stats;
}

/** An HTTP request whose path is sent as given (fetch would normalise it). */
function rawRequest(base, method, path, body, headers) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers: {
      ...headers, ...(body !== undefined ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {}) } }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (data += d));
      res.on("end", () => resolve({ status: res.statusCode, body: data }));
    });
    req.setTimeout(15_000, () => req.destroy(new Error("no answer in 15 s")));
    req.on("error", reject);
    req.end(body);
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  const minutes = arg("minutes", 0);
  const seed = arg("seed", crypto.randomInt(2 ** 31));
  const stats = await fuzz({ seed, steps: arg("steps", 2000), minutes, log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(`${JSON.stringify({ ...stats, failures: stats.failures.slice(0, 20) }, null, 1)}\n`);
  assert.equal(stats.failures.length, 0);
  process.exit(0);
}
