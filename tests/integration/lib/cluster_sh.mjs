// deploy/cluster.sh run by a test: a temporary run directory (CHATCLUSTER_RUN_DIR), a free port
// range (CHATCLUSTER_PORT) and this build's binaries (CHATCLUSTER_BUILD_DIR), the script run
// with arguments, the pid files it keeps, and a tear-down that runs `down` and then SIGKILLs
// the group of whatever a pid file still names; and a chat message across two nodes.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import { chatnodeBin, adminnodeBin, freeRange, waitFor, withTimeout } from "./harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const CLUSTER_SH = path.resolve(here, "../../../deploy/cluster.sh");

/** The build directory holding both binaries (cluster.sh runs them; the test does not build). */
function buildDir() {
  const dir = path.dirname(path.dirname(chatnodeBin()));
  assert.equal(path.resolve(adminnodeBin()), path.join(dir, "adminnode", "adminnode"),
    "CHATNODE_BIN and ADMINNODE_BIN must come from one build directory");
  return dir;
}

/** Whether pid runs (a zombie does not). */
export function running(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** The chat URL, dashboard URL and API key that `up` printed. */
export function printed(stdout) {
  const field = (name) => {
    const m = new RegExp(`^\\s*${name}:\\s+(\\S+)`, "m").exec(stdout);
    assert.ok(m, `no "${name}:" line in:\n${stdout}`);
    return m[1];
  };
  return { chat: field("chat"), dashboard: field("dashboard"), key: field("API key") };
}

/**
 * A new run directory and `span` free ports for one cluster. Returns { runDir, base, env,
 * sh(args, timeoutMs) -> { code, stdout, stderr }, pidFiles() -> { name: pid }, tearDown() }.
 */
export async function newClusterSh(span) {
  const runDir = mkdtempSync(path.join(os.tmpdir(), "chatcluster-run-"));
  chmodSync(runDir, 0o755); // nginx started as root runs its workers as nobody
  const base = await freeRange(span);
  const env = { ...process.env, CHATCLUSTER_PORT: String(base), CHATCLUSTER_RUN_DIR: runDir, CHATCLUSTER_BUILD_DIR: buildDir() };
  delete env.CHATCLUSTER_HOST;
  delete env.CHATCLUSTER_REDIS;
  const seen = {};
  const c = {
    runDir,
    base,
    env,
    sh(args, timeoutMs) {
      return withTimeout(new Promise((resolve) => {
        const child = spawn("bash", [CLUSTER_SH, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => {
          Object.assign(seen, c.pidFiles());
          resolve({ code, stdout, stderr });
        });
      }), timeoutMs, `cluster.sh ${args.join(" ")}`);
    },
    pidFiles() {
      if (!existsSync(runDir)) return {};
      const out = {};
      for (const f of readdirSync(runDir)) {
        if (f.endsWith(".pid")) out[f.slice(0, -4)] = Number(readFileSync(path.join(runDir, f), "utf8"));
      }
      return out;
    },
    /** `down`, then SIGKILL to the group of every process a pid file named since the start. */
    async tearDown(downMs) {
      Object.assign(seen, c.pidFiles());
      await c.sh(["down"], downMs).catch(() => {});
      for (const pid of Object.values(seen)) {
        if (!running(pid)) continue;
        try {
          process.kill(-pid, "SIGKILL"); // each was started as a session (and group) leader
        } catch {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            /* gone */
          }
        }
      }
      rmSync(runDir, { recursive: true, force: true });
    },
  };
  return c;
}

/**
 * socket.io-clients through nginx at chatUrl (pushed to `clients`, for the caller to close)
 * until one is on node n1 and one on n2 (the tag starts the engine id), both in `room`; n1's
 * sends `text` to the room. Resolves { ack, received } (n2's message event).
 */
export async function messageAcrossNodes(chatUrl, room, text, clients) {
  const byTag = {};
  for (let i = 0; i < 8 && Object.keys(byTag).length < 2; i++) {
    const c = io(chatUrl, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user: `u${i}` } });
    clients.push(c);
    await waitFor(c, "connect");
    const joined = await c.emitWithAck("join", { room });
    assert.ok(joined.ok !== false, JSON.stringify(joined));
    byTag[c.io.engine.id.split(".")[0]] ??= c;
  }
  assert.deepEqual(Object.keys(byTag).sort(), ["n1", "n2"]);
  const got = waitFor(byTag.n2, "message");
  const ack = await byTag.n1.emitWithAck("message", { room, text });
  return { ack, received: (await got)[0] };
}
