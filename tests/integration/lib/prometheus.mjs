// Prometheus' text format read back (parseMetrics), promtool's lint of a page, and a real
// Prometheus server scraping a set of targets, queried through its HTTP API.
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { trackProcess, freePort, eventually, httpRequest, withTimeout } from "./harness.mjs";

/** The samples of a page: name -> [{labels, value}]. Comments and blank lines skipped. */
export function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/y;
    const body = m[3] ?? "";
    re.lastIndex = 0;
    while (re.lastIndex < body.length) {
      const l = re.exec(body);
      if (!l) throw new Error(`bad labels: ${JSON.stringify(body)}`);
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    const value = m[4] === "+Inf" ? Infinity : Number(m[4]);
    if (!out.has(m[1])) out.set(m[1], []);
    out.get(m[1]).push({ labels, value });
  }
  return out;
}

/** The value of the one sample of name whose labels include want (undefined if none). */
export function sample(metrics, name, want = {}) {
  const hits = (metrics.get(name) ?? []).filter((s) => Object.entries(want).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${name} ${JSON.stringify(want)} matches ${hits.length} samples`);
  return hits[0]?.value;
}

/** promtool check metrics on text: {code, output}. */
export function promtoolCheck(text) {
  return new Promise((resolve) => {
    const child = execFile("promtool", ["check", "metrics"], (err, stdout, stderr) =>
      resolve({ code: err ? err.code ?? 1 : 0, output: stdout + stderr }));
    child.stdin.end(text);
  });
}

/**
 * A Prometheus server scraping every second: `jobs` is a list of targets ("host:port"), scraped
 * as job "chatnode", or an object of job name -> targets ({chatnode: [...], adminnode: [...]}).
 */
export async function startPrometheus(jobs) {
  if (Array.isArray(jobs)) jobs = { chatnode: jobs };
  const dir = mkdtempSync(path.join(os.tmpdir(), "chatcluster-prom-"));
  const conf = path.join(dir, "prometheus.yml");
  writeFileSync(conf, [
    "global:",
    "  scrape_interval: 1s",
    "  scrape_timeout: 1s",
    "scrape_configs:",
    ...Object.entries(jobs).flatMap(([job, targets]) => [
      `  - job_name: ${JSON.stringify(job)}`,
      "    static_configs:",
      `      - targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}]`,
    ]),
    "",
  ].join("\n"));
  const port = await freePort();
  const child = trackProcess(spawn("prometheus", [`--config.file=${conf}`, `--storage.tsdb.path=${dir}/data`,
    `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"], { stdio: ["ignore", "ignore", "pipe"] }));
  let log = "";
  child.stderr.on("data", (d) => (log = (log + d).slice(-8000)));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const url = `http://127.0.0.1:${port}`;
  try {
    await eventually(async () => (await httpRequest(`${url}/-/ready`).catch(() => ({}))).status === 200,
      20_000, "Prometheus to be ready");
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`${err.message}\n${log}`);
  }
  return {
    url,
    /** The result vector of an instant query: [{metric, value}]. */
    async query(q) {
      const r = await httpRequest(`${url}/api/v1/query?query=${encodeURIComponent(q)}`);
      const doc = JSON.parse(r.body);
      if (doc.status !== "success") throw new Error(`query ${q}: ${r.body}`);
      return doc.data.result.map((x) => ({ metric: x.metric, value: Number(x.value[1]) }));
    },
    /** The parsed answer of GET /api/v1/<p> (a query string included), whatever its status. */
    async api(p) {
      return JSON.parse((await httpRequest(`${url}/api/v1/${p}`)).body);
    },
    async stop() {
      child.kill("SIGTERM");
      await withTimeout(exited, 20_000, "Prometheus to exit").catch(() => child.kill("SIGKILL"));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
