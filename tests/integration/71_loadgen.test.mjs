// The benchmarks' load generator (tests/bench/loadgen) against real chatnodes: every scenario
// and both transports give the counts they should (clients connected, messages delivered to
// every member, latencies recorded for each), a server that is not there is counted as failed
// connections, and bad arguments are refused. Built with the rest, so it runs under the
// sanitizers here too and must exit 0.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { startChatnode, startRedis, stopAll, freePort } from "./lib/harness.mjs";

function loadgenBin() {
  if (process.env.LOADGEN_BIN) return process.env.LOADGEN_BIN;
  const build = process.env.CHATCLUSTER_CMAKE_BUILD || path.resolve("../../build");
  const p = path.join(build, "tests/bench/loadgen/loadgen");
  assert.ok(existsSync(p), `${p} is built with the rest`);
  return p;
}

/** Runs loadgen to its end; resolves to { code, report, stderr }. */
function loadgen(args, { signalAfterReadyMs } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(loadgenBin(), args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => {
      err += d;
      if (signalAfterReadyMs !== undefined && /^ready /m.test(err)) {
        const ms = signalAfterReadyMs;
        signalAfterReadyMs = undefined;
        setTimeout(() => child.kill("SIGTERM"), ms);
      }
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
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
      const { code, report, stderr } = await loadgen([...at(alone), "--scenario", "idle", "--transport", transport,
        "--clients", "60", "--rooms", "4", "--concurrency", "16"], { signalAfterReadyMs: 300 });
      assert.equal(code, 0, stderr);
      assert.match(stderr, /^ready 60 of 60 connected$/m);
      assert.equal(report.scenario, "idle");
      assert.equal(report.transport, transport);
      assert.equal(report.connected, 60);
      noErrors(report);
      const health = await (await fetch(`${alone.url}/healthz`)).json();
      assert.ok(health.connections <= 60, "the load generator's clients are gone from the server after it exits");
    });
  }

  it("fanout: every subscriber gets every message, each with a latency", async () => {
    const { code, report, stderr } = await loadgen([...at(alone), "--scenario", "fanout", "--clients", "50",
      "--rate", "40", "--duration", "1"]);
    assert.equal(code, 0, stderr);
    noErrors(report);
    assert.equal(report.connected, 51, "50 subscribers and the publisher");
    assert.ok(report.sent >= 38 && report.sent <= 42, `about 40 messages in 1 s, sent ${report.sent}`);
    assert.equal(report.acked, report.sent);
    assert.equal(report.expected, report.sent * 50);
    assert.equal(report.delivered, report.expected);
    assert.equal(report.latency_us.count, report.delivered);
    assert.ok(report.latency_us.p50 > 0 && report.latency_us.p50 <= report.latency_us.p99);
    assert.ok(report.latency_us.p99 <= report.latency_us.max);
    assert.ok(report.until_last_s >= report.send_s, "the last delivery comes after the sending began");
    assert.ok(Math.abs(report.throughput_per_s - report.delivered / report.until_last_s) < 1);
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
      ["--scenario", "fanout"], ["--scenario", "chat", "--rate", "5", "--transport", "polling"],
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
