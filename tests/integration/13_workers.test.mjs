// chatnode --workers: a supervisor with workers on consecutive ports and their own tags, a
// crashed worker restarted, SIGTERM draining clients with a transport close before the
// processes exit, and SIGHUP reopening --log-file after rotation in the supervisor and every worker.
// Exercises chatnode/supervisor.c, drain.c and main.c's signals.
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, existsSync, rmSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import os from "node:os";
import path from "node:path";
import { io } from "socket.io-client";
import { chatnodeBin, eventually, httpRequest, waitFor, WAIT_MS } from "./lib/harness.mjs";
import { freeRange } from "./lib/spawned.mjs";

const dir = mkdtempSync(path.join(os.tmpdir(), "chatnode-workers-"));
const started = [];
const workerPids = new Set();


function startSupervisor(args) {
  const child = spawn(chatnodeBin(), args, { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  child.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  child.stderrText = () => err;
  started.push(child);
  return child;
}

/** The pid of worker `i`'s latest start in the log text (null if none). */
const lastPid = (text, i) => [...text.matchAll(new RegExp(`worker started" worker=${i} pid=(\\d+)`, "g"))].at(-1)?.[1] ?? null;

const healthz = async (port) => {
  try {
    return JSON.parse((await httpRequest(`http://127.0.0.1:${port}/healthz`, { timeoutMs: 2000 })).body);
  } catch {
    return null;
  }
};

describe("chatnode --workers", { timeout: 120_000 }, () => {
  after(() => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    // workers left behind by a failed test would hold the supervisor's stderr pipe open
    for (const pid of workerPids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs workers on consecutive ports with their own tags, restarts a crashed one, drains on SIGTERM", async () => {
    const base = await freeRange(3);
    const log = path.join(dir, "chatnode.log");
    const sup = startSupervisor(["--workers", "3", "--port", String(base), "--host", "127.0.0.1", "--app", "echo",
      "--node-tag", "w", "--log-file", log, "--drain-interval", "20"]);
    for (let i = 0; i < 3; i++) await eventually(async () => (await healthz(base + i))?.status === "ok", WAIT_MS, `worker ${i + 1}`);
    for (const i of [1, 2, 3]) workerPids.add(Number(lastPid(readFileSync(log, "utf8"), i)));
    const tags = [];
    for (let i = 0; i < 3; i++) {
      const res = await httpRequest(`http://127.0.0.1:${base + i}/socket.io/?EIO=4&transport=polling`);
      tags.push(JSON.parse(res.body.slice(1)).sid.split(".")[0]);
    }
    assert.deepEqual(tags, ["w-1", "w-2", "w-3"]);

    // a worker that crashes comes back on its port
    const crashed = Number(lastPid(readFileSync(log, "utf8"), 2));
    process.kill(crashed, "SIGKILL");
    await eventually(() => [...readFileSync(log, "utf8").matchAll(/worker started" worker=2 pid=(\d+)/g)].length === 2, WAIT_MS, "worker 2 restarted");
    await eventually(async () => (await healthz(base + 1))?.status === "ok", WAIT_MS, "worker 2 serving again");
    assert.match(readFileSync(log, "utf8"), /worker died" worker=2 .*signal=9/);

    // SIGHUP reopens the log file after rotation, in the supervisor and in each worker: every
    // process's log descriptor names the new file (the kernel keeps the rotated one's new name
    // on the old descriptor), and each worker says so in the new file
    const workers = [1, 2, 3].map((i) => Number(lastPid(readFileSync(log, "utf8"), i)));
    for (const pid of workers) workerPids.add(pid);
    const logFiles = (pid) => readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return null; // closed meanwhile
      }
    }).filter((f) => f === log || f === `${log}.1`);
    for (const pid of [sup.pid, ...workers]) assert.deepEqual(logFiles(pid), [log], `process ${pid} writes to the log file`);
    renameSync(log, `${log}.1`);
    for (const pid of [sup.pid, ...workers]) assert.deepEqual(logFiles(pid), [`${log}.1`], `process ${pid} before SIGHUP`);
    sup.kill("SIGHUP");
    for (const [i, pid] of [sup.pid, ...workers].entries()) {
      await eventually(() => isDeepStrictEqual(logFiles(pid), [log]), WAIT_MS,
        `${i ? `worker ${i} (pid ${pid})` : "the supervisor"} to reopen the log file`);
    }
    await eventually(() => existsSync(log) && (readFileSync(log, "utf8").match(/msg="log file reopened"/g) ?? []).length === 3,
      WAIT_MS, "a \"log file reopened\" line from each of the three workers in the new file");
    assert.doesNotMatch(readFileSync(`${log}.1`, "utf8"), /log file reopened/);

    // SIGTERM: clients are closed with a transport close (they would reconnect elsewhere),
    // then every process exits
    const clients = [];
    for (let i = 0; i < 6; i++) {
      const c = io(`http://127.0.0.1:${base + (i % 3)}`, { forceNew: true, reconnection: false, transports: i % 2 ? ["polling"] : ["websocket"] });
      await waitFor(c, "connect");
      clients.push(c);
    }
    const reasons = clients.map((c) => waitFor(c, "disconnect", WAIT_MS));
    sup.kill("SIGTERM");
    for (const r of await Promise.all(reasons)) assert.equal(r[0], "transport close");
    const status = await sup.exited;
    assert.equal(status.code, 0, sup.stderrText());
    const text = readFileSync(log, "utf8");
    assert.equal((text.match(/msg=drained/g) || []).length, 3, "every worker drained");
    assert.match(text, /supervisor stopped/);
    assert.doesNotMatch(text + sup.stderrText(), /AddressSanitizer|runtime error:/);
  });

  it("refuses --workers without a port", async () => {
    const c = startSupervisor(["--workers", "2", "--port", "0"]);
    const status = await c.exited;
    assert.equal(status.code, 2);
    assert.match(c.stderrText(), /--workers needs a --port/);
  });
});
