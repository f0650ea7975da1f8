// The benchmarks' load generator (tests/bench/loadgen) against real chatnodes: every scenario
// and both transports give the counts they should (clients connected, and held on the node
// until loadgen is told to stop, then gone from it; messages delivered to every member,
// latencies recorded for each), a server that is not there is counted as failed connections,
// and bad arguments are refused. Built with the rest, so it runs under the
// sanitizers here too and must exit 0.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { io } from "socket.io-client";
import { startChatnode, startRedis, stopAll, freePort, eventually, httpRequest, waitFor, WAIT_MS } from "./lib/harness.mjs";

function loadgenBin() {
  if (process.env.LOADGEN_BIN) return process.env.LOADGEN_BIN;
  const build = process.env.CHATCLUSTER_CMAKE_BUILD || path.resolve("../../build");
  const p = path.join(build, "tests/bench/loadgen/loadgen");
  assert.ok(existsSync(p), `${p} is built with the rest`);
  return p;
}

/**
 * Runs loadgen to its end; resolves to { code, report, stderr }. With `whenReady`, that is
 * awaited once loadgen says it is ready, then loadgen gets SIGTERM (if whenReady throws,
 * SIGKILL, and the promise rejects with that error).
 */
function loadgen(args, { whenReady, spawned } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(loadgenBin(), args, { stdio: ["ignore", "pipe", "pipe"] });
    spawned?.(child);
    let out = "", err = "", failed = null;
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => {
      err += d;
      if (whenReady && /^ready /m.test(err)) {
        const ready = whenReady;
        whenReady = undefined;
        ready().then(() => child.kill("SIGTERM"), (e) => {
          failed = e;
          child.kill("SIGKILL");
        });
      }
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (failed) {
        reject(failed);
        return;
      }
      let report = null;
      try {
        report = out.trim() ? JSON.parse(out) : null;
      } catch (e) {
        reject(new Error(`not JSON: ${out}\n${err}`));
        return;
      }
      resolve({ code, report, stderr: err });
    });
  });
}

/** The node's count of Engine.IO sessions (/healthz). */
async function sessions(node) {
  const res = await httpRequest(`${node.url}/healthz`);
  assert.equal(res.status, 200, res.body);
  return JSON.parse(res.body).connections;
}

const at = (node) => ["--host", "127.0.0.1", "--port", String(node.port)];
const noErrors = (r) => assert.deepEqual(r.errors, { connect: 0, timeout: 0, closed: 0, protocol: 0, ack: 0 });

describe("loadgen", { timeout: 240_000 }, () => {
  let alone, redis, a, b;
  before(async () => {
    redis = await startRedis();
    const chat = ["--app", "chat", "--allow-anonymous", "--rate", "100000", "--burst", "100000"];
    [alone, a, b] = await Promise.all([startChatnode(chat), startChatnode([...chat, "--redis", redis.url]),
      startChatnode([...chat, "--redis", redis.url])]);
  });
  after(async () => {
    await stopAll(alone, a, b);
    await redis.stop();
  });

  for (const transport of ["websocket", "polling"]) {
    it(`idle over ${transport}: every client signs in and joins its room, held until a signal`, async () => {
      const before = await sessions(alone);
      const { code, report, stderr } = await loadgen([...at(alone), "--scenario", "idle", "--transport", transport,
        "--clients", "60", "--rooms", "4", "--concurrency", "16"], {
        // held: the node has every one of them while loadgen waits for its signal
        whenReady: () => eventually(async () => (await sessions(alone)) === before + 60, WAIT_MS,
          `the node to count ${before} + 60 sessions`),
      });
      assert.equal(code, 0, stderr);
      assert.match(stderr, /^ready 60 of 60 connected$/m);
      assert.equal(report.scenario, "idle");
      assert.equal(report.transport, transport);
      assert.equal(report.connected, 60);
      noErrors(report);
      // and once it has exited, they are gone from the node
      let now;
      await eventually(async () => (now = await sessions(alone)) === before, WAIT_MS,
        "the load generator's sessions to be gone from the node").catch((e) => {
        throw new Error(`${e.message} (${now} sessions, ${before} before)`);
      });
    });
  }

  it("idle while held: probes answered, ping gaps timed from SIGUSR2, SIGUSR1 messages every room once", async () => {
    // its own node, pinging every 200 ms, so that a hold of a moment sees pings
    const node = await startChatnode(["--app", "chat", "--allow-anonymous", "--rate", "100000", "--burst", "100000",
      "--ping-interval", "200", "--ping-timeout", "5000"]);
    try {
      // an observer in the first room of the load generator's numbering (--room-base 40)
      const watcher = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], timeout: WAIT_MS,
        auth: { user: "watcher" } });
      await waitFor(watcher, "connect");
      const joined = await watcher.timeout(WAIT_MS).emitWithAck("join", { room: "r40" });
      assert.equal(joined.ok, true, JSON.stringify(joined));
      const seen = [];
      watcher.on("message", (m) => seen.push(m));
      const users = new Set();
      watcher.on("joined", (m) => users.add(m.user?.id ?? m.user?.name ?? JSON.stringify(m.user)));
      let child;
      const { code, report, stderr } = await loadgen([...at(node), "--scenario", "idle", "--clients", "30", "--rooms", "3",
        "--user-base", "500", "--room-base", "40", "--source-base", "7", "--probe-every", "3", "--probe-interval", "0.1",
        "--ping-interval", "0.2"], {
        spawned: (c) => (child = c),
        whenReady: async () => {
          child.kill("SIGUSR2");
          // the clients see pings as the observer does: wait for it to have three more
          let pings = 0;
          watcher.io.engine.on("ping", () => pings++);
          await eventually(async () => pings >= 3, WAIT_MS, "the observer to be pinged three times");
          child.kill("SIGUSR1");
          await eventually(async () => seen.some((m) => / broadcast$/.test(m.text)), WAIT_MS, "the observer to get the room's message");
        },
      });
      watcher.close();
      assert.equal(code, 0, stderr);
      assert.equal(report.connected, 30);
      assert.equal(report.lost, 0);
      noErrors(report);
      // one message per room, to its 10 members (the observer is not the load generator's)
      assert.equal(report.sent, 3);
      assert.equal(report.expected, 30);
      assert.equal(report.delivered, 30);
      assert.match(stderr, /^broadcast delivered 30$/m, "it says when every member had it");
      assert.equal(report.latency_us.count, 30);
      assert.equal(seen.filter((m) => / broadcast$/.test(m.text)).length, 1);
      assert.equal(seen[0].room, "r40");
      // the users of room r40 are numbered from --user-base: clients 0, 3, 6...
      assert.ok([...users].some((u) => /u50[0-9]|u5[1-2][0-9]/.test(u)), JSON.stringify([...users]));
      assert.ok(report.probes.sent > 0 && report.probes.answered > 0, JSON.stringify(report.probes));
      assert.ok(report.probes.answered <= report.probes.sent);
      assert.equal(report.probe_rtt_us.count, report.probes.answered);
      assert.ok(report.ping_late_us.count > 0, JSON.stringify(report.ping_late_us));
    } finally {
      await stopAll(node);
    }
  });

  it("fanout: every subscriber gets every message, each with a latency", async () => {
    const { code, report, stderr } = await loadgen([...at(alone), "--scenario", "fanout", "--clients", "50",
      "--rate", "40", "--duration", "1"]);
    assert.equal(code, 0, stderr);
    noErrors(report);
    assert.equal(report.connected, 51, "50 subscribers and the publisher");
    // --rate 40 for --duration 1: the publisher sends while less than 1 s has passed, never
    // ahead of 40 a second, so at most 40 (a slow machine sends fewer, never more), and at
    // least the one sent at the start
    assert.ok(report.sent >= 1 && report.sent <= 40, `1 to 40 messages in 1 s at 40 a second, sent ${report.sent}`);
    assert.equal(report.acked, report.sent);
    assert.equal(report.expected, report.sent * 50);
    assert.equal(report.delivered, report.expected);
    assert.equal(report.latency_us.count, report.delivered);
    assert.ok(report.latency_us.p50 > 0 && report.latency_us.p50 <= report.latency_us.p99);
    assert.ok(report.latency_us.p99 <= report.latency_us.max);
    assert.ok(report.until_last_s >= report.send_s, "the last delivery comes after the sending began");
    // throughput is delivered / until_last_s before the two are rounded for the report (to
    // 0.1 and 0.001): it lies within what those roundings allow
    const lo = report.delivered / (report.until_last_s + 0.0005) - 0.05;
    const hi = report.delivered / (report.until_last_s - 0.0005) + 0.05;
    assert.ok(report.throughput_per_s >= lo - 1e-9 && report.throughput_per_s <= hi + 1e-9,
      `throughput ${report.throughput_per_s}: ${report.delivered} delivered in ${report.until_last_s} s`);
  });

  it("chat across two nodes and Redis: each message reaches every member of its room on both", async () => {
    const { code, report, stderr } = await loadgen(["--connect-to", `127.0.0.1:${a.port},127.0.0.1:${b.port}`,
      "--scenario", "chat", "--clients", "40", "--rooms", "4", "--rate", "50", "--duration", "1"]);
    assert.equal(code, 0, stderr);
    noErrors(report);
    assert.equal(report.connected, 40);
    assert.equal(report.expected, report.sent * 10, "rooms of 10");
    assert.equal(report.delivered, report.expected);
    assert.equal(report.backlog, 0);
  });

  it("chat over long-polling, as a browser: every member gets each message in its GETs' answers, the pongs and the messages go in POSTs on a second connection", async () => {
    // pings every 400 ms, each to be answered within 5 s: a client that did not post its
    // pongs would lose its session before the 8 s of sending end; and a keep-alive connection
    // idle for 250 ms is closed, so the POST connections are closed between pongs and opened
    // again
    const node = await startChatnode(["--app", "chat", "--allow-anonymous", "--rate", "100000", "--burst", "100000",
      "--ping-interval", "400", "--ping-timeout", "5000", "--keepalive-timeout", "250"]);
    try {
      const { code, report, stderr } = await loadgen([...at(node), "--scenario", "chat", "--transport", "polling",
        "--clients", "40", "--rooms", "4", "--rate", "40", "--duration", "8"]);
      assert.equal(code, 0, stderr);
      assert.equal(report.transport, "polling");
      noErrors(report);
      assert.equal(report.connected, 40);
      assert.ok(report.sent >= 1, `sent ${report.sent}`);
      assert.equal(report.acked, report.sent);
      assert.equal(report.expected, report.sent * 10, "rooms of 10");
      assert.equal(report.delivered, report.expected);
      assert.equal(report.backlog, 0);
      assert.equal(report.latency_us.count, report.delivered);
      assert.ok(report.latency_us.p50 > 0 && report.latency_us.p50 <= report.latency_us.p99);
      // one POST connection per client, and more: the node closed idle ones and they came back
      assert.ok(report.post_connects > 40, `POST connections opened: ${report.post_connects}`);
    } finally {
      await stopAll(node);
    }
  });

  it("storm: sessions accepted per second", async () => {
    const { code, report, stderr } = await loadgen([...at(alone), "--scenario", "storm", "--clients", "200"]);
    assert.equal(code, 0, stderr);
    noErrors(report);
    assert.equal(report.connected, 200);
    assert.ok(report.connects_per_s > 0);
  });

  it("a server that is not there: every connection counted as failed", async () => {
    const port = await freePort();
    const { code, report } = await loadgen(["--port", String(port), "--scenario", "storm", "--clients", "20"]);
    assert.equal(code, 0);
    assert.equal(report.connected, 0);
    assert.equal(report.errors.connect, 20);
  });

  it("bad arguments are refused with a message", async () => {
    for (const args of [["--scenario", "nope"], ["--transport", "carrier-pigeon"], ["--clients", "-3"],
      ["--scenario", "fanout"], ["--scenario", "chat", "--transport", "polling"],
      ["--connect-to", "nowhere"], ["extra"], ["--no-such-flag"]]) {
      const { code, report, stderr } = await loadgen(args);
      assert.equal(code, 2, args.join(" "));
      assert.equal(report, null);
      assert.match(stderr, /^(loadgen: |usage: loadgen)/m);
    }
    const help = spawnSync(loadgenBin(), ["--help"], { encoding: "utf8" });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: loadgen/);
  });
});
