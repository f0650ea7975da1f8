// Processes the benchmark scripts start: a free port, a child started and ready once its output
// matches, and its stop.
import { spawn } from "node:child_process";
import net from "node:net";

const START_MS = 30_000;

export function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts cmd and resolves with {child, port} once its output matches pattern (port: the
 *  pattern's first group as a number). */
export function start(cmd, args, pattern) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (d) => {
      text += d;
      const m = pattern.exec(text);
      if (m) resolve({ child, port: Number(m[1]) });
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${cmd} exited (${code}):\n${text}`)));
    setTimeout(() => reject(new Error(`${cmd} did not start:\n${text}`)), START_MS);
  });
}

/** SIGINT, and resolves once the process has exited. */
export function stop(p) {
  return new Promise((resolve) => {
    if (p.child.exitCode !== null) return resolve();
    p.child.removeAllListeners("exit");
    p.child.once("exit", resolve);
    p.child.kill("SIGINT");
  });
}
