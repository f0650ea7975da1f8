// chatnode --workers, the supervisor: a worker that dies is started again after a growing
// delay (100 ms, doubling while it keeps dying), and SIGINT is forwarded to the workers, which
// stop at once with their clients connected, before the supervisor exits.
// Exercises chatnode/supervisor.c and main.c's signals in the workers.
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { chatnodeBin, waitFor } from "./lib/harness.mjs";
import { spawnProcess, waitHealthy, freeRange } from "./lib/spawned.mjs";

const opened = [];
let sup;

describe("the --workers supervisor", { timeout: 120_000 }, () => {
  after(() => {
    for (const c of opened) c.close();
    sup?.kill();
  });

  it("restarts a dying worker after a growing delay, and forwards SIGINT", async () => {
    const base = await freeRange(2);
    sup = spawnProcess(chatnodeBin(), ["--workers", "2", "--port", String(base), "--host", "127.0.0.1", "--app", "echo",
      "--drain-batch", "1", "--drain-interval", "60000", "--drain-timeout", "60000"], { name: "supervisor" });
    const url = (i) => `http://127.0.0.1:${base + i}`;
    await waitHealthy(url(0), sup);
    await waitHealthy(url(1), sup);

    // worker 2 killed three times in a row: each restart waits twice as long as the one before
    const started = () => sup.lines(/msg="worker started" worker=2 pid=(\d+)/g).map((m) => Number(m[1]));
    const delays = [];
    for (let round = 1; round <= 3; round++) {
      const pid = started().at(-1);
      const t0 = Date.now();
      process.kill(pid, "SIGKILL");
      const died = await sup.waitLine(new RegExp(`msg="worker died" worker=2 pid=${pid} signal=9 restart_in_ms=(\\d+)`));
      const delay = Number(died[1]);
      const again = await (async () => {
        for (;;) {
          if (started().length === round + 1) return Date.now();
          if (sup.status) throw new Error(`the supervisor exited:\n${sup.stderr()}`);
          if (Date.now() - t0 > 30_000) throw new Error(`worker 2 not started again:\n${sup.stderr()}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      assert.ok(again - t0 >= delay - 20, `started again ${again - t0} ms after the kill, before its delay of ${delay} ms`);
      delays.push(delay);
      await waitHealthy(url(1), sup);
    }
    assert.equal(delays[0], 100, "the first restart waits 100 ms");
    assert.deepEqual(delays, [100, 200, 400], "each restart of a worker that keeps dying waits twice as long");
    assert.equal(sup.lines(/msg="worker started" worker=1 /g).length, 1, "the other worker was left alone");

    // SIGINT: forwarded, the workers stop at once with their clients (a drain would take a minute)
    const clients = [];
    for (let i = 0; i < 4; i++) {
      const c = io(url(i % 2), { forceNew: true, reconnection: false, transports: ["websocket"] });
      opened.push(c);
      await waitFor(c, "connect");
      clients.push(c);
    }
    const gone = clients.map((c) => waitFor(c, "disconnect", 30_000));
    const took = await sup.stop("SIGINT", { timeoutMs: 30_000 });
    for (const [reason] of await Promise.all(gone)) assert.equal(reason, "transport close");
    const log = sup.stderr();
    assert.match(log, /msg="supervisor stopping" signal=SIGINT/);
    assert.equal(sup.lines(/msg=stopping signal=SIGINT/g).length, 2, "both workers got SIGINT");
    assert.equal(sup.lines(/msg="worker stopped" worker=\d/g).length, 2);
    assert.doesNotMatch(log, /stopping after draining|msg=drained/, "no worker drained");
    assert.match(log, /msg="supervisor stopped"/);
    assert.ok(took < 15_000, `stopped after ${took} ms`);
    sup = null;
  });
});
