// Processes the harness cannot start for a test: a chatnode that logs to a file (no
// `msg=listening` on stderr), a supervisor with its workers, a server on a chosen port. Each
// is spawned with its stderr kept, awaited by its log lines or its /healthz, and stopped with
// a check of its exit status and of sanitizer reports; whatever is left is killed when the
// test process exits.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { eventually, httpRequest, withTimeout, WAIT_MS } from "./harness.mjs";

const SANITIZER = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/;

/** Every process started and not yet reaped; killed, with its process group, on exit. */
const live = new Set();
function killGroup(child) {
  try {
    process.kill(-child.pid, "SIGKILL"); // and whatever it forked (a supervisor's workers)
  } catch {
    try {
      child.kill("SIGKILL");
    } catch {
      /* gone */
    }
  }
}
process.on("exit", () => {
  for (const child of live) killGroup(child);
});

/**
 * Spawns `bin` with `args` and extra `env`, stderr kept, in a process group of its own.
 * Returns { pid, exited, stderr(), lines(re), waitLine(re, ms), signal(sig), stop(sig,
 * { timeoutMs }), kill() }. stop() sends the signal (unless the process is gone), waits for the
 * exit and throws unless it exited 0 with no sanitizer report on stderr; it resolves with the
 * milliseconds the exit took. kill() is SIGKILL to the whole group (workers included).
 */
export function spawnProcess(bin, args, { env = {}, name = bin } = {}) {
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"], detached: true });
  live.add(child);
  let text = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => (text += d));
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    child.once("error", (error) => {
      live.delete(child);
      resolve({ code: null, signal: null, error });
    });
  });
  let status = null;
  exited.then((s) => (status = s));
  const tail = () => (text.length > 8000 ? "..." + text.slice(-8000) : text);
  const p = {
    pid: child.pid,
    exited,
    get status() {
      return status;
    },
    stderr: () => text,
    /** Every match of `re` (a global regex) in stderr so far. */
    lines: (re) => [...text.matchAll(re)],
    /** Resolves with the first match of `re` in stderr. */
    waitLine: (re, ms = WAIT_MS) =>
      eventually(() => {
        const m = re.exec(text);
        if (m) return m;
        if (status) throw new Error(`${name} exited (code ${status.code}, signal ${status.signal})`);
        return null;
      }, ms, `${re} from ${name}`).catch((err) => {
        throw new Error(`${err.message}\nstderr:\n${tail()}`);
      }),
    signal(sig) {
      if (!status) child.kill(sig);
    },
    kill() {
      killGroup(child);
    },
    async stop(sig = "SIGTERM", { timeoutMs = 20_000 } = {}) {
      const t0 = Date.now();
      if (!status) child.kill(sig);
      let s;
      try {
        s = await withTimeout(exited, timeoutMs, `${name} to exit after ${sig}`);
      } catch (err) {
        killGroup(child);
        await exited;
        throw new Error(`${err.message}\nstderr:\n${tail()}`);
      }
      const took = Date.now() - t0;
      if (s.code !== 0) throw new Error(`${name} exited with ${s.code} (signal ${s.signal})\nstderr:\n${tail()}`);
      if (SANITIZER.test(text)) throw new Error(`${name}: sanitizer report\nstderr:\n${tail()}`);
      return took;
    },
  };
  return p;
}

/** Throws when `file` holds a sanitizer report. */
export function assertNoSanitizerReport(file) {
  let t = "";
  try {
    t = readFileSync(file, "utf8");
  } catch {
    return;
  }
  if (SANITIZER.test(t)) throw new Error(`sanitizer report in ${file}:\n${t.slice(-8000)}`);
}

/** Parsed /healthz of `url`, or null when it does not answer. */
export async function healthz(url) {
  try {
    const r = await httpRequest(`${url}/healthz`, { timeoutMs: 2000 });
    return r.status === 200 ? JSON.parse(r.body) : null;
  } catch {
    return null;
  }
}

/** Resolves once `url`/healthz answers {"status":"ok"}; fails early when `proc` exited. */
export function waitHealthy(url, proc, ms = 20_000) {
  return eventually(async () => {
    if (proc?.status) throw new Error(`exited (code ${proc.status.code}) before answering:\n${proc.stderr()}`);
    return (await healthz(url))?.status === "ok";
  }, ms, `${url}/healthz`, 50);
}

export { freeRange } from "./harness.mjs";
