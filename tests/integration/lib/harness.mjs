// Test harness: starts chatnode processes on free ports and always stops them, and gives the
// tests small helpers (bounded waits, a buffering raw WebSocket, an Engine.IO polling client, a
// raw HTTP request that knows when the server has read it, how a process waits in the kernel).
// Every wait here has a timeout, so a misbehaving server fails a test instead of hanging it;
// none of them sleeps for a fixed time to let something happen.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoTop = path.resolve(here, "../../..");

/** Default bound of every wait, generous enough for a loaded machine running ASan builds. */
export const WAIT_MS = 10_000;

/** Flags of the reference configuration the protocol test suites were written against (a
 * server without connection-state recovery: no pid in CONNECT answers, no offsets). */
export const REFERENCE_FLAGS = [
  "--recovery-window", "0",
  "--ping-interval", "300",
  "--ping-timeout", "200",
  "--max-payload", "1000000",
  "--connect-timeout", "1000",
  "--cors-origin", "*",
];

const SANITIZER_PATTERNS = ["ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"];
const STDERR_KEEP = 4 << 20; // bytes of stderr kept for error messages

/** Every process started and not yet reaped; killed on exit of the test process. */
const live = new Set();
function killLeftovers() {
  for (const child of live) {
    try {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
  live.clear();
}
process.on("exit", killLeftovers);

/** Kills child with the others if the test process ends first. */
export function trackProcess(child) {
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}
for (const [sig, num] of [["SIGINT", 2], ["SIGTERM", 15], ["SIGHUP", 1]]) {
  process.once(sig, () => {
    killLeftovers();
    process.exit(128 + num);
  });
}

/** Path of the chatnode binary: $CHATNODE_BIN, else the usual build directories. */
export function chatnodeBin() {
  if (process.env.CHATNODE_BIN) return process.env.CHATNODE_BIN;
  for (const dir of ["build-test", "build"]) {
    const p = path.join(repoTop, dir, "chatnode", "chatnode");
    if (existsSync(p)) return p;
  }
  throw new Error("CHATNODE_BIN is not set and no build/chatnode/chatnode exists");
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Races `promise` against a timer; rejects with `what` in the message when the timer wins. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Starts chatnode with `args` (an array of flags; --host and --port are added unless given)
 * and extra environment `env`. Resolves once it has printed its `msg=listening` line.
 * Returns { port, url, wsUrl, pid, stop(signal = "SIGTERM"), pause(), resume(), stderr(), exited }.
 */
export async function startChatnode(args = [], env = {}, { startTimeoutMs = 20_000, bin = chatnodeBin(), name = "chatnode" } = {}) {
  const full = [...args];
  if (!full.includes("--host")) full.unshift("--host", "127.0.0.1");
  if (!full.includes("--port")) full.unshift("--port", "0");
  const child = spawn(bin, full, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  live.add(child);

  let stderrText = "";
  let dropped = 0;
  let lineBuf = "";
  const sanitizerLines = [];
  let onLine = null;
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    stderrText += chunk;
    if (stderrText.length > STDERR_KEEP) {
      dropped += stderrText.length - STDERR_KEEP;
      stderrText = stderrText.slice(-STDERR_KEEP);
    }
    lineBuf += chunk;
    let nl;
    while ((nl = lineBuf.indexOf("\n")) >= 0) {
      const line = lineBuf.slice(0, nl);
      lineBuf = lineBuf.slice(nl + 1);
      if (SANITIZER_PATTERNS.some((p) => line.includes(p))) sanitizerLines.push(line);
      onLine?.(line);
    }
  });
  const stderr = () => (dropped ? `[... ${dropped} bytes dropped ...]\n` : "") + stderrText + lineBuf;
  const tail = (n = 4000) => {
    const s = stderr();
    return s.length > n ? "..." + s.slice(-n) : s;
  };

  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    child.once("error", (err) => {
      live.delete(child);
      resolve({ code: null, signal: null, error: err });
    });
  });

  let port;
  try {
    port = await withTimeout(
      new Promise((resolve, reject) => {
        onLine = (line) => {
          if (!/\bmsg="?listening\b/.test(line)) return;
          const m = /\bport=(\d+)/.exec(line);
          if (m && Number(m[1]) > 0) resolve(Number(m[1]));
        };
        exited.then(({ code, signal, error }) =>
          reject(new Error(`${name} exited before listening (code=${code} signal=${signal}${error ? " " + error.message : ""})`)),
        );
      }),
      startTimeoutMs,
      "the msg=listening line",
    );
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    throw new Error(`${err.message}\ncommand: ${bin} ${full.join(" ")}\nstderr:\n${tail()}`);
  } finally {
    onLine = null;
  }

  let paused = false;
  let stopped = null;
  const stop = (signal = "SIGTERM") => {
    stopped ??= (async () => {
      if (paused) child.kill("SIGCONT");
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      let status;
      try {
        status = await withTimeout(exited, 20_000, `${name} to exit after ${signal}`);
      } catch (err) {
        child.kill("SIGKILL");
        await exited;
        throw new Error(`${err.message}\nstderr:\n${tail()}`);
      }
      const problems = [];
      if (status.code !== 0) problems.push(`exit status ${status.code} (signal ${status.signal})`);
      if (sanitizerLines.length) problems.push(`sanitizer report: ${sanitizerLines[0]}`);
      if (problems.length) {
        throw new Error(`${name} on port ${port} stopped badly: ${problems.join("; ")}\nstderr:\n${tail(16000)}`);
      }
      return status;
    })();
    return stopped;
  };

  return {
    port,
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    exited,
    stderr,
    stop,
    /** SIGSTOP: the process stops answering anything (stop() resumes it first). */
    pause() {
      paused = child.kill("SIGSTOP");
    },
    resume() {
      if (paused) child.kill("SIGCONT");
      paused = false;
    },
  };
}

/** Path of the adminnode binary: $ADMINNODE_BIN, else the usual build directories. */
export function adminnodeBin() {
  if (process.env.ADMINNODE_BIN) return process.env.ADMINNODE_BIN;
  for (const dir of ["build-test", "build"]) {
    const p = path.join(repoTop, dir, "adminnode", "adminnode");
    if (existsSync(p)) return p;
  }
  throw new Error("ADMINNODE_BIN is not set and no build/adminnode/adminnode exists");
}

/**
 * Starts adminnode as startChatnode starts chatnode (--host 127.0.0.1 --port 0 unless given,
 * resolved at its `msg=listening ... port=N` line); returns the same object.
 */
export function startAdminnode(args = [], env = {}, opts = {}) {
  return startChatnode(args, env, { ...opts, bin: adminnodeBin(), name: "adminnode" });
}

/**
 * Starts several servers at once; `specs` is a list of [args, env]. If any fails to start,
 * the others are stopped and the first error is thrown.
 */
export async function startMany(specs) {
  const results = await Promise.allSettled(specs.map(([args, env]) => startChatnode(args, env)));
  const failed = results.find((r) => r.status === "rejected");
  if (failed) {
    await Promise.allSettled(results.filter((r) => r.status === "fulfilled").map((r) => r.value.stop()));
    throw failed.reason;
  }
  return results.map((r) => r.value);
}

/** Stops every server in `servers` (ignoring undefined ones); throws the first failure after all stopped. */
export async function stopAll(...servers) {
  const results = await Promise.allSettled(servers.filter(Boolean).map((s) => s.stop()));
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}

/**
 * Resolves with the arguments of the next `event` on `emitter` (an array), or rejects after
 * `timeoutMs`. Works with Node EventEmitters and socket.io-client sockets (on/off).
 */
export function waitFor(emitter, event, timeoutMs = WAIT_MS) {
  let handler;
  const p = new Promise((resolve) => {
    handler = (...args) => resolve(args);
    emitter.once ? emitter.once(event, handler) : emitter.on(event, handler);
  });
  return withTimeout(p, timeoutMs, `event "${event}"`).finally(() => emitter.off?.(event, handler));
}

/** Polls `check` (sync or async) until it returns a truthy value; rejects after `timeoutMs`. */
export async function eventually(check, timeoutMs = WAIT_MS, what = "condition", everyMs = 25) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ": " + last.message : ""}`);
    }
    await sleep(everyMs);
  }
}

/** fetch with a timeout; resolves with { status, headers, body (text) }. */
/** Is the node's Redis bus up: its command and subscriber connections both connected? */
export async function busConnected(node) {
  const h = JSON.parse((await httpRequest(`${node.url}/healthz`)).body);
  return h.bus?.command === "connected" && h.bus?.subscriber === "connected";
}

/** Waits until every node's Redis bus is up. */
export async function busUp(...nodes) {
  await eventually(async () => {
    for (const n of nodes) if (!(await busConnected(n))) return false;
    return true;
  }, WAIT_MS, "the bus to connect");
}

export async function httpRequest(url, { method = "GET", body, headers, timeoutMs = WAIT_MS, signal } = {}) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`timed out after ${timeoutMs} ms: ${method} ${url}`)), timeoutMs);
  const onOuterAbort = () => ac.abort(signal.reason);
  signal?.addEventListener("abort", onOuterAbort);
  try {
    const res = await fetch(url, { method, body, headers, signal: ac.signal });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text };
  } catch (err) {
    if (ac.signal.aborted && ac.signal.reason instanceof Error) throw ac.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onOuterAbort);
  }
}

/** Engine.IO payload separator for HTTP long-polling. */
export const SEP = "\x1e";

/**
 * A raw WebSocket that buffers everything it receives. Text frames come out as strings,
 * binary frames as Buffers. With autoPong (the default) Engine.IO pings ("2") are answered
 * with "3" and kept out of the buffer; `pings` counts them.
 */
export class RawSocket {
  constructor(url, { autoPong = true, headers } = {}) {
    this.url = url;
    this.autoPong = autoPong;
    this.pings = 0;
    this.queue = [];
    this.waiters = [];
    this.closeInfo = null;
    this.error = null;
    this.ws = new WebSocket(url, { headers });
    this.opened = new Promise((resolve) => this.ws.once("open", resolve));
    this.opened.catch(() => {});
    this.ws.on("message", (data, isBinary) => {
      const msg = isBinary ? Buffer.from(data) : data.toString("utf8");
      if (this.autoPong && msg === "2") {
        this.pings++;
        this.send("3");
        return;
      }
      const w = this.waiters.shift();
      if (w) w.resolve(msg);
      else this.queue.push(msg);
    });
    // a refused upgrade ("Unexpected server response: 400") ends up here, then in "close"
    this.ws.on("error", (err) => {
      this.error = err;
    });
    this.closed = new Promise((resolve) => {
      this.ws.once("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const w of this.waiters.splice(0)) {
          w.reject(new Error(`connection closed (code ${code}) while waiting for a message`));
        }
        resolve(this.closeInfo);
      });
    });
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(data) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  /** Next buffered message (string or Buffer). */
  next(timeoutMs = WAIT_MS) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closeInfo) return Promise.reject(new Error(`connection closed (code ${this.closeInfo.code}) while waiting for a message`));
    let waiter;
    const p = new Promise((resolve, reject) => {
      waiter = { resolve, reject };
      this.waiters.push(waiter);
    });
    return withTimeout(p, timeoutMs, `a message on ${this.url}`).catch((err) => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
      throw err;
    });
  }

  /** The next `n` messages. */
  async take(n, timeoutMs = WAIT_MS) {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await this.next(timeoutMs));
    return out;
  }

  /** Resolves with {code, reason} once the connection is closed (by either side). */
  waitClose(timeoutMs = WAIT_MS) {
    return withTimeout(this.closed, timeoutMs, `close of ${this.url}`);
  }

  close() {
    try {
      if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.terminate();
    } catch {
      /* ignore */
    }
  }
}

/** Opens a raw Engine.IO WebSocket session at `base` + `path`; resolves {sock, handshake}. */
export async function openWsSession(wsBase, path, opts = {}) {
  const sock = new RawSocket(`${wsBase}${path}?EIO=4&transport=websocket`, opts);
  const first = await sock.next();
  if (typeof first !== "string" || first[0] !== "0") {
    sock.close();
    throw new Error(`expected an Engine.IO open packet, got ${JSON.stringify(String(first))}`);
  }
  return { sock, handshake: JSON.parse(first.slice(1)) };
}

/**
 * Asserts that the polling session of `c` is gone (or closing: then its close packet is all
 * that is left to collect). A GET is sent, and once the server has read it a second one: a
 * live session holds the first, so the second overlaps it and is refused as a "Bad request";
 * a session that is gone refuses both as unknown, and one that is closing answers the first
 * with its close packet at once and refuses the second as unknown. Neither depends on how
 * soon anything happens.
 */
export async function assertPollingClosed(c, { what = "the session" } = {}) {
  const first = rawHttp(Number(new URL(c.base).port),
    `GET ${c.path}?EIO=4&transport=polling&sid=${encodeURIComponent(c.sid)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  try {
    await first.delivered;
    const second = await c.get();
    if (second.status === 400 && second.body === '{"code":3,"message":"Bad request"}') {
      throw new Error(`${what} is still open: it held a GET, so a second one overlapped it`);
    }
    if (second.status !== 400 || second.body !== '{"code":1,"message":"Session ID unknown"}') {
      throw new Error(`${what}: a GET answered HTTP ${second.status} ${JSON.stringify(second.body)}, not as an unknown session`);
    }
    const res = await first.response;
    const gone = res.status === 400 && res.body === '{"code":1,"message":"Session ID unknown"}';
    const closing = res.status === 200 && res.body.split(SEP).every((p) => p === "1" || p === "6");
    if (!gone && !closing) throw new Error(`${what} is still open: GET answered HTTP ${res.status} ${JSON.stringify(res.body)}`);
  } finally {
    first.close();
  }
}

/** Removes Engine.IO ping packets ("2") from a decoded polling payload. */
export function withoutPings(packets) {
  return packets.filter((p) => p !== "2");
}

/**
 * An Engine.IO HTTP long-polling client. POSTs are serialised (the protocol allows only one
 * at a time). `nextPacket()` GETs when nothing is buffered; with autoPong pings are answered
 * with a "3" POST and not returned.
 */
export class PollingClient {
  constructor(base, path, { autoPong = true } = {}) {
    this.base = base;
    this.path = path;
    this.autoPong = autoPong;
    this.sid = null;
    this.handshake = null;
    this.packets = [];
    this.postChain = Promise.resolve();
    this.pings = 0;
  }

  get url() {
    return `${this.base}${this.path}?EIO=4&transport=polling&sid=${encodeURIComponent(this.sid)}`;
  }

  static async open(base, path, opts) {
    const c = new PollingClient(base, path, opts);
    const res = await httpRequest(`${base}${path}?EIO=4&transport=polling`);
    if (res.status !== 200 || res.body[0] !== "0") {
      throw new Error(`polling handshake failed: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    }
    c.handshake = JSON.parse(res.body.slice(1));
    c.sid = c.handshake.sid;
    return c;
  }

  /** One GET; resolves {status, body}. */
  get(opts) {
    return httpRequest(this.url, opts);
  }

  /** One POST, queued behind earlier POSTs of this client; resolves {status, body}. */
  post(body, opts = {}) {
    const p = this.postChain.then(() => httpRequest(this.url, { method: "POST", body, ...opts }));
    this.postChain = p.catch(() => {});
    return p;
  }

  /** Next packet (a string; binary packets stay as "b<base64>"), GETting as needed. */
  async nextPacket(timeoutMs = WAIT_MS) {
    const deadline = Date.now() + timeoutMs;
    while (!this.packets.length) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for a polling packet`);
      const res = await this.get({ timeoutMs: left });
      if (res.status !== 200) throw new Error(`polling GET answered HTTP ${res.status} ${JSON.stringify(res.body)}`);
      for (const p of res.body.split(SEP)) {
        if (this.autoPong && p === "2") {
          this.pings++;
          await this.post("3");
        } else {
          this.packets.push(p);
        }
      }
    }
    return this.packets.shift();
  }

  async take(n, timeoutMs = WAIT_MS) {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await this.nextPacket(timeoutMs));
    return out;
  }
}

/**
 * The IPv4 TCP socket localPort -> remotePort as the kernel lists it: { state (hex, "01"
 * established, "08" close-wait...), tx, rx (bytes unacknowledged, unread) }, or null.
 */
export function tcpSocket(localPort, remotePort) {
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    if (parseInt(f[1].split(":")[1], 16) !== localPort || parseInt(f[2].split(":")[1], 16) !== remotePort) continue;
    const [tx, rx] = f[4].split(":").map((h) => parseInt(h, 16));
    return { state: f[3], tx, rx };
  }
  return null;
}

/**
 * One HTTP/1.1 request, written as given (`text`), on a new TCP connection to 127.0.0.1:`port`.
 * Returns { response, delivered, close() }:
 * - `response` resolves with { status, headers (lower-case names), body } once a whole answer
 *   came (a Content-Length body), and rejects if the connection closes first or after timeoutMs;
 * - `delivered` resolves once the server process has read every byte of the request: the
 *   kernel holds none of it unacknowledged on our side nor unread on the server's side
 *   (/proc/net/tcp), or the answer came. A server with one event loop handles what it has read
 *   before anything it reads later, so a request sent after `delivered` is seen after this one:
 *   that orders two connections without a sleep;
 * - close() ends the connection and resolves once the server has closed its end as well, so
 *   it has seen the client go before anything sent afterwards.
 */
export function rawHttp(port, text, { timeoutMs = WAIT_MS } = {}) {
  const sock = net.connect(port, "127.0.0.1");
  let buf = Buffer.alloc(0);
  let written = false;
  let answered = false;
  let settle;
  const response = withTimeout(new Promise((resolve, reject) => {
    settle = { resolve, reject };
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
      const headers = {};
      for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(":")).trim().toLowerCase()] = l.slice(l.indexOf(":") + 1).trim();
      const len = Number(headers["content-length"] ?? 0);
      if (buf.length < end + 4 + len) return;
      answered = true;
      resolve({ status: Number(lines[0].split(" ")[1]), headers, body: buf.subarray(end + 4, end + 4 + len).toString("utf8") });
    });
    sock.on("error", () => {});
    sock.on("close", () => reject(new Error(`connection closed before a whole answer to ${text.split("\r\n")[0]}`)));
  }), timeoutMs, `an answer to ${text.split("\r\n")[0]}`);
  response.catch(() => {});
  sock.once("connect", () => sock.write(text, () => (written = true)));
  const delivered = eventually(() => {
    if (answered) return true;
    if (!written || sock.destroyed) return false;
    const mine = tcpSocket(sock.localPort, port);
    const theirs = tcpSocket(port, sock.localPort);
    return mine && theirs && mine.tx === 0 && theirs.rx === 0;
  }, timeoutMs, `the server to read ${text.split("\r\n")[0]}`, 5);
  delivered.catch(() => {});
  const close = () => {
    const local = sock.localPort;
    sock.destroy();
    // the server's end stays established, then in close-wait, until the server closes it
    const closed = eventually(() => !["01", "08"].includes(tcpSocket(port, local)?.state), timeoutMs,
      `the server to close its end of ${text.split("\r\n")[0]}`, 5);
    closed.catch(() => {}); // for callers that do not wait for it
    return closed;
  };
  return { response, delivered, close };
}

/** Linux numbers of epoll_wait and epoll_pwait, whose 4th argument is the timeout in ms. */
const EPOLL_WAITS = { x64: [232, 281], arm64: [22] }[process.arch] ?? [];

/**
 * How process `pid` waits at this instant, from /proc: { asleep, timeoutMs, detail }. asleep is
 * true when every thread sleeps and the main one is blocked in epoll_wait (or epoll_pwait);
 * timeoutMs is the timeout it gave the kernel (-1: none). An event loop with nothing to do waits
 * like that, with no timeout or that of its next timer; a loop that spins is running, or
 * polls with a timeout of 0, whenever it is looked at. Throws when /proc cannot say.
 */
export function pollState(pid) {
  const tasks = readdirSync(`/proc/${pid}/task`);
  const states = tasks.map((t) => {
    const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  });
  const call = readFileSync(`/proc/${pid}/syscall`, "utf8").trim();
  const f = call.split(" ");
  const inEpoll = EPOLL_WAITS.includes(Number(f[0]));
  const timeoutMs = inEpoll ? Number(BigInt.asIntN(32, BigInt(f[4]))) : null;
  return {
    asleep: inEpoll && states.every((st) => st === "S"),
    timeoutMs,
    detail: `thread states ${states.join("")}, main thread: ${call}`,
  };
}

/**
 * Opens a WebSocket handshake to `url` with an Origin header (and from `localAddress`, if
 * given): resolves the status it got, 101 when it opened (then closed at once), 0 when no HTTP
 * answer came.
 */
export function wsHandshakeStatus(url, origin, { localAddress } = {}) {
  return withTimeout(new Promise((resolve) => {
    const ws = new WebSocket(url, { origin, ...(localAddress ? { localAddress } : {}) });
    ws.once("open", () => {
      ws.close();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => resolve(res.statusCode));
    ws.once("error", () => resolve(0));
  }), WAIT_MS, `WebSocket ${url} from ${origin}`);
}

/*
 * Servers the tests start get ports outside the kernel's ephemeral range: a port taken from
 * inside it can be free when checked and then become the local end of some outgoing connection
 * (tests open thousands) before the server binds it, and such a connection can hold it for the
 * rest of the run. Below the range only listeners compete, and a listener that lost the race
 * says so at once.
 */
function listenWindow() {
  let low = 32768;
  let high = 60999;
  try {
    [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
  } catch {
    /* not Linux: the usual defaults */
  }
  if (low - 1 - 10000 >= 4096) return [10000, low - 1];
  if (65535 - high >= 4096) return [high + 1, 65535];
  return [1024, 65535];
}
const [WINDOW_LOW, WINDOW_HIGH] = listenWindow();

export function portFree(port, host = "127.0.0.1") {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** A first port p such that p..p+n-1 were free a moment ago, all outside the ephemeral range. */
export async function freeRange(n, host = "127.0.0.1") {
  for (let attempt = 0; attempt < 500; attempt++) {
    const base = WINDOW_LOW + Math.floor(Math.random() * (WINDOW_HIGH - WINDOW_LOW + 2 - n));
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = await portFree(p, host);
    if (ok) return base;
  }
  throw new Error(`no ${n} consecutive free ports in ${WINDOW_LOW}-${WINDOW_HIGH}`);
}

/** A TCP port that was free a moment ago (for servers that cannot bind port 0 and report it). */
export function freePort() {
  return freeRange(1);
}

/**
 * A real redis-server on a free port, with no persistence, in its own temp directory; with
 * `password`, clients must AUTH (the url carries it); with `persist`, the append-only file on
 * as deploy/cluster.sh runs it (--appendonly yes --appendfsync everysec --save ""). Returns
 * { port, url, stop(), restart(), kill(), pause(), resume() }: kill() is SIGKILL (a crash),
 * restart() starts it again on the same port in the same directory, after a SIGKILL unless
 * told another signal (restart("SIGTERM"): a clean shutdown), pause() is SIGSTOP (Redis
 * hangs: connections stay open, nothing is answered, for as long as the test wants, unlike
 * CLIENT PAUSE, which cannot be lifted early) and resume() SIGCONT.
 */
export async function startRedis(extraArgs = [], { password, persist = false } = {}) {
  if (password) extraArgs = [...extraArgs, "--requirepass", password];
  const dir = mkdtempSync(path.join(os.tmpdir(), "chatcluster-redis-"));
  let child = null;
  let port = 0;
  const launch = async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!port || (attempt > 0 && !restarting)) port = await freePort();
      const c = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "",
        ...(persist ? ["--appendonly", "yes", "--appendfsync", "everysec"] : ["--appendonly", "no"]),
        "--dir", dir, ...extraArgs], { stdio: ["ignore", "pipe", "pipe"] });
      live.add(c);
      let out = "";
      c.stdout.on("data", (d) => (out += d));
      c.stderr.on("data", (d) => (out += d));
      const ready = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), 5000);
        const check = () => {
          if (/Ready to accept connections/.test(out)) {
            clearTimeout(timer);
            resolve(true);
          }
        };
        c.stdout.on("data", check);
        c.once("exit", () => {
          clearTimeout(timer);
          resolve(false);
        });
      });
      if (ready) {
        child = c;
        c.once("exit", () => live.delete(c));
        return;
      }
      c.kill("SIGKILL");
      live.delete(c);
      if (restarting) await sleep(200); // same port wanted: wait for it to be released
    }
    throw new Error("redis-server did not start");
  };
  let restarting = false;
  await launch();
  let paused = false;
  const stopChild = async (signal) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    if (paused) child.kill("SIGCONT");
    paused = false;
    child.kill(signal);
    await exited;
  };
  return {
    get port() { return port; },
    get url() { return `redis://${password ? `:${encodeURIComponent(password)}@` : ""}127.0.0.1:${port}`; },
    kill: () => stopChild("SIGKILL"),
    pause() {
      paused = child.kill("SIGSTOP");
    },
    resume() {
      if (paused) child.kill("SIGCONT");
      paused = false;
    },
    async restart(signal = "SIGKILL") {
      await stopChild(signal);
      restarting = true;
      await launch();
      restarting = false;
    },
    async stop() {
      await stopChild("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** nginx masters started by startNginx and not yet stopped; SIGTERM (not SIGKILL, which would
 * leave the workers running) when the test process exits. */
const liveNginx = new Set();
process.on("exit", () => {
  for (const child of liveNginx) {
    try {
      child.kill("SIGTERM");
    } catch {
      /* already gone */
    }
  }
});

/**
 * Runs nginx in the foreground on `confDir/nginx.conf` (made by deploy/nginx/gen.sh with
 * --prefix confDir --foreground) as `nginx -p confDir -c nginx.conf`. Resolves once the first
 * `listen` address of the file answers HTTP (or `port`, if given). Returns
 * { port, url, pid, stop(), exited, errorLog() }; stop() sends SIGQUIT (graceful), then SIGTERM,
 * then SIGKILL, each after a bounded wait.
 */
export async function startNginx(confDir, { port, startTimeoutMs = 10_000 } = {}) {
  const confText = readFileSync(path.join(confDir, "nginx.conf"), "utf8");
  if (!/^\s*daemon\s+off\s*;/m.test(confText)) throw new Error(`${confDir}/nginx.conf does not say "daemon off;" (gen.sh --foreground)`);
  if (!port) {
    const m = /^\s*listen\s+(?:[^\s;]*:)?(\d+)\s*;/m.exec(confText);
    if (!m) throw new Error(`no plain listen directive in ${confDir}/nginx.conf`);
    port = Number(m[1]);
  }
  const child = spawn("nginx", ["-p", confDir, "-c", "nginx.conf", "-e", "logs/error.log"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  liveNginx.add(child);
  let stderrText = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => (stderrText += d));
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      liveNginx.delete(child);
      resolve({ code, signal });
    });
    child.once("error", (err) => {
      liveNginx.delete(child);
      resolve({ code: null, signal: null, error: err });
    });
  });
  const errorLog = () => {
    try {
      return readFileSync(path.join(confDir, "logs", "error.log"), "utf8");
    } catch {
      return "";
    }
  };
  const url = `http://127.0.0.1:${port}`;
  let gone = null;
  exited.then((s) => (gone = s));
  try {
    await eventually(async () => {
      if (gone) throw new Error(`nginx exited (code=${gone.code} signal=${gone.signal})`);
      await httpRequest(`${url}/`, { timeoutMs: 1000 }); // any HTTP answer will do
      return true;
    }, startTimeoutMs, `nginx to answer on ${url}`, 50);
  } catch (err) {
    child.kill("SIGTERM");
    await withTimeout(exited, 5000, "nginx to exit").catch(() => child.kill("SIGKILL"));
    throw new Error(`${err.message}\nstderr:\n${stderrText}\nerror.log:\n${errorLog().slice(-4000)}`);
  }
  let stopped = null;
  const stop = () => {
    stopped ??= (async () => {
      for (const [signal, ms] of [["SIGQUIT", 5000], ["SIGTERM", 5000], ["SIGKILL", 5000]]) {
        if (gone) break;
        child.kill(signal);
        try {
          await withTimeout(exited, ms, `nginx to exit after ${signal}`);
        } catch {
          /* next signal */
        }
      }
      return exited;
    })();
    return stopped;
  };
  return { port, url, pid: child.pid, exited, stop, errorLog, stderr: () => stderrText };
}
