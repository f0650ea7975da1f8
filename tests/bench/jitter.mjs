// The clients of compare.mjs's `jitter` scenario: chat clients through nginx whose connections
// are cut at random and come back by socket.io-client's own reconnection, senders that are never
// cut, and the count of which client received which message. Servers are compare.mjs's affair;
// runJitter only talks to them.
import { io } from "socket.io-client";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ACK_MS = 5000;

/** An exponentially distributed delay of the given mean, ms. */
const exponential = (mean) => -Math.log(1 - Math.random()) * mean;

/** Polls check until true or ms pass; resolves to whether it became true. */
async function until(check, ms, every = 50) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await sleep(every);
  }
  return true;
}

/**
 * Runs one side of the scenario and resolves to its counts; never hangs (every wait is
 * bounded) and closes every socket it opened, on error too.
 *
 *   url          where the clients connect (nginx)
 *   senderUrl    where the senders connect (a server that is not killed)
 *   clients      how many clients, in rooms of roomSize
 *   periodMs     one message per room every periodMs
 *   durationMs   how long messages are sent; kill() is called halfway
 *   meanCutMs    mean time between two cuts of one client's connection
 *   killTag      the node tag (session id prefix) of the server kill() ends
 *   kill         async, ends that server
 *   delayMs      socket.io-client's reconnectionDelay
 *   drainMs      wait after sending stops (and the clients are back), before counting
 *   log          progress lines
 */
export async function runJitter({ url, senderUrl, clients, roomSize = 10, periodMs, durationMs, meanCutMs, killTag, kill,
  delayMs = 200, drainMs = 2000, log = () => {} }) {
  const rooms = Math.ceil(clients / roomSize);
  const roomName = (i) => `jitter-${i}`;
  const opts = { forceNew: true, transports: ["websocket"], reconnectionDelay: delayMs, reconnectionDelayMax: 5 * delayMs };
  const all = []; // every socket, for closing
  const st = { reconnects: 0, recovered: 0, hardCuts: 0, cleanCuts: 0, connectErrors: 0, joinErrors: 0, sendErrors: 0 };
  const sent = []; // { room, text, at }: messages whose ack said ok; at is when they were emitted
  let cutting = false, sending = false;
  const timers = [];

  try {
    // senders: one per room, straight to a server that stays up, never cut
    const senders = [];
    for (let r = 0; r < rooms; r++) {
      const s = io(senderUrl, { ...opts, auth: { user: `sender-${r}` } });
      all.push(s);
      const snd = { s, room: roomName(r), seq: 0, joined: false, pending: 0 };
      s.on("connect", async () => {
        const ack = await s.timeout(ACK_MS).emitWithAck("join", { room: snd.room }).catch(() => null);
        if (ack?.ok) snd.joined = true;
        else st.joinErrors++;
      });
      senders.push(snd);
    }
    if (!(await until(() => senders.every((x) => x.joined), 20_000)))
      throw new Error(`senders did not join (${senders.filter((x) => x.joined).length} of ${rooms})`);

    // clients, rejoining their room on every connect that did not recover their session
    const recs = [];
    const join = async (c) => {
      const conn = c.connects;
      for (let attempt = 0; attempt < 20 && c.s.connected && conn === c.connects; attempt++) {
        const ack = await c.s.timeout(ACK_MS).emitWithAck("join", { room: c.room }).catch(() => null);
        if (ack?.ok) {
          if (!c.firstJoinAt) c.firstJoinAt = Date.now();
          c.joinedConn = conn;
          for (const m of ack.history || []) c.history.add(m.text);
          return;
        }
        st.joinErrors++;
        await sleep(200);
      }
    };
    const connectClient = (i) => {
      const s = io(url, { ...opts, auth: { user: `jitter-${i}` } });
      all.push(s);
      const c = { s, room: roomName(Math.floor(i / roomSize)), connects: 0, joinedConn: 0, firstJoinAt: 0, tag: null,
        received: new Map(), history: new Set(), onKilled: false, afterKill: null, hardNext: Math.random() < 0.5, nextCut: 0 };
      s.on("connect", () => {
        c.connects++;
        c.tag = String(s.io.engine.id).split(".")[0];
        if (c.connects > 1) {
          st.reconnects++;
          if (s.recovered) st.recovered++;
        }
        if (c.onKilled && c.afterKill === null) c.afterKill = s.recovered;
        if (s.recovered && c.firstJoinAt) c.joinedConn = c.connects; // back in its rooms as it was
        else join(c);
      });
      s.on("connect_error", () => st.connectErrors++);
      s.on("message", (m) => {
        if (m?.room === c.room) c.received.set(m.text, (c.received.get(m.text) || 0) + 1);
      });
      return c;
    };
    for (let i = 0; i < clients; i += 25) {
      const batch = [];
      for (let k = i; k < Math.min(clients, i + 25); k++) batch.push(connectClient(k));
      recs.push(...batch);
      if (!(await until(() => batch.every((c) => c.firstJoinAt), 30_000)))
        throw new Error(`clients ${i}..${i + batch.length - 1} did not join (${batch.filter((c) => c.firstJoinAt).length} did)`);
    }
    const perTag = (list) => Object.entries(list.reduce((m, c) => ({ ...m, [c.tag]: (m[c.tag] || 0) + 1 }), {}))
      .map(([t, n]) => `${t}:${n}`).join(" ");
    log(`jitter: ${clients} clients joined (${perTag(recs)}), ${rooms} senders`);

    // cuts: each client's connection, every meanCutMs on average, alternately a hard cut (the
    // TCP socket destroyed under the WebSocket) and a clean close of the engine
    const now0 = Date.now();
    for (const c of recs) c.nextCut = now0 + exponential(meanCutMs);
    cutting = true;
    timers.push(setInterval(() => {
      if (!cutting) return;
      const now = Date.now();
      for (const c of recs) {
        if (now < c.nextCut) continue;
        c.nextCut = now + exponential(meanCutMs);
        if (!c.s.connected) continue; // already on its way back
        const engine = c.s.io.engine;
        const raw = engine?.transport?.ws?._socket;
        if (c.hardNext && raw) {
          raw.destroy();
          st.hardCuts++;
        } else {
          engine?.close();
          st.cleanCuts++;
        }
        c.hardNext = !c.hardNext;
      }
    }, 50));

    // messages: one per room every periodMs, the rooms' senders staggered over the period
    sending = true;
    const send = (snd) => {
      if (!sending) return;
      if (!snd.s.connected) return void st.sendErrors++; // not buffered for later: counted as not sent
      const text = `${snd.room}#${snd.seq++}`;
      const at = Date.now();
      snd.pending++;
      snd.s.timeout(ACK_MS).emitWithAck("message", { room: snd.room, text }).then((ack) => {
        if (ack?.ok) sent.push({ room: snd.room, text, at });
        else st.sendErrors++;
      }, () => st.sendErrors++).finally(() => snd.pending--);
    };
    senders.forEach((snd, r) => {
      timers.push(setTimeout(() => {
        send(snd);
        timers.push(setInterval(() => send(snd), periodMs));
      }, (periodMs * r) / rooms));
    });

    await sleep(durationMs / 2);
    for (const c of recs) c.onKilled = c.s.connected && c.tag === killTag;
    const onKilled = recs.filter((c) => c.onKilled).length;
    log(`jitter: killing server ${killTag} (${onKilled} clients on it; ${perTag(recs.filter((c) => c.s.connected))} connected)`);
    await kill();
    await sleep(durationMs / 2);

    sending = false;
    cutting = false;
    for (const t of timers) clearInterval(t);
    await until(() => senders.every((x) => x.pending === 0), ACK_MS + 1000);
    // everyone back (in its room) before the last deliveries are waited for
    const back = await until(() => recs.every((c) => c.s.connected && c.joinedConn === c.connects), 15_000);
    if (!back) log(`jitter: ${recs.filter((c) => !(c.s.connected && c.joinedConn === c.connects)).length} clients not back after 15 s`);
    await sleep(drainMs);

    // counts
    const byRoom = new Map();
    for (const m of sent) {
      if (!byRoom.has(m.room)) byRoom.set(m.room, []);
      byRoom.get(m.room).push(m);
    }
    let expected = 0, delivered = 0, fromHistory = 0, duplicates = 0;
    for (const c of recs) {
      for (const m of byRoom.get(c.room) || []) {
        if (m.at < c.firstJoinAt) continue;
        expected++;
        if (c.received.has(m.text)) delivered++;
        else if (c.history.has(m.text)) fromHistory++;
      }
      for (const n of c.received.values()) if (n > 1) duplicates++;
    }
    const killed = recs.filter((c) => c.onKilled);
    return {
      clients, rooms, sent: sent.length, expected, delivered, withHistory: delivered + fromHistory, duplicates,
      ...st, onKilled: killed.length, killedBack: killed.filter((c) => c.afterKill !== null).length,
      killedRecovered: killed.filter((c) => c.afterKill === true).length,
      notBack: recs.filter((c) => !c.s.connected).length,
    };
  } finally {
    sending = false;
    cutting = false;
    for (const t of timers) clearInterval(t);
    for (const s of all) s.close();
  }
}
