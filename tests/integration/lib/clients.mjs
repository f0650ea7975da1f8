// socket.io-client helpers shared by the integration tests: clients that never reconnect and
// are all closed by closeAllClients(), connect/ack/record/echo with timeouts, and the events'
// arguments without the offset connection-state recovery adds.
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { io, Manager } from "socket.io-client";
import { WAIT_MS, withTimeout, waitFor } from "./harness.mjs";

const sockets = new Set();
const managers = new Set();

/** A socket.io-client socket on its own connection, never reconnecting, closed after the test. */
export function client(server, nsp = "/", opts = {}) {
  const s = io(server.url + nsp, { forceNew: true, reconnection: false, timeout: WAIT_MS, ...opts });
  sockets.add(s);
  return s;
}

/** A Manager (one Engine.IO connection) for several namespaces, closed after the test. */
export function manager(server, opts = {}) {
  const m = new Manager(server.url, { reconnection: false, timeout: WAIT_MS, ...opts });
  managers.add(m);
  return m;
}

/** Closes s with the others after the test (sockets made by hand, e.g. from a manager). */
export function track(...list) {
  for (const s of list) sockets.add(s);
}

export function closeAllClients() {
  for (const s of sockets) s.disconnect();
  for (const m of managers) m.engine?.close();
  sockets.clear();
  managers.clear();
}

/** Resolves once `s` is connected; rejects with the connect_error. */
export function connected(s, timeoutMs = WAIT_MS) {
  if (s.connected) return Promise.resolve(s);
  return withTimeout(
    new Promise((resolve, reject) => {
      s.once("connect", () => resolve(s));
      s.once("connect_error", (err) => reject(new Error(`connect_error: ${err.message}`)));
    }),
    timeoutMs,
    `connect of ${s.nsp}`,
  );
}

/** Emits `event` with `args` and an ack callback; resolves with the ack's arguments. */
export function emitAck(s, event, ...args) {
  return withTimeout(new Promise((resolve) => s.emit(event, ...args, (...vals) => resolve(vals))), WAIT_MS, `ack of ${event}`);
}

/**
 * Records the events `s` receives, as [name, ...args], leaving out the echo app's own "auth"
 * (it may arrive just after "connect") and "message-back" (used to sync).
 */
export function record(s) {
  const got = [];
  s.onAny((...a) => {
    if (a[0] !== "auth" && a[0] !== "message-back") got.push(a);
  });
  return got;
}

/** Round trip through message/message-back; resolves with the echoed arguments. */
export async function echo(s, ...args) {
  const back = waitFor(s, "message-back");
  s.emit("message", ...args);
  return back;
}

/** The text form of a connection-state recovery offset: "<ms>-<seq>". */
export const OFFSET = /^\d+-\d+$/;

/**
 * The arguments of an event a chatnode client received (as a listener or waitFor() gets them,
 * or as record() keeps them, [name, ...args]) without its offset. With recovery on (chatnode's
 * default), every event sent without an ack request carries its offset as a last string
 * argument, and socket.io-client passes it on; this asserts that it is there, so only use it
 * for such events from such a node. Events from a node with --recovery-window 0 or a Node.js
 * socket.io server without recovery, and ack requests, have none and are compared as they are.
 */
export function withoutOffset(args) {
  const last = Array.isArray(args) && args.length ? args[args.length - 1] : undefined;
  assert.ok(typeof last === "string" && OFFSET.test(last), `the event ends with its recovery offset: ${inspect(args)}`);
  return args.slice(0, -1);
}

/** withoutOffset() of each event of a list, e.g. of what record() kept. */
export function withoutOffsets(list) {
  return list.map((args) => withoutOffset(args));
}
