// Redis deployments beyond one server, for the tests: a primary with replicas watched by
// sentinels, and a Redis Cluster of primaries with replicas. Every process runs on free ports
// in its own temporary directory, is killed with the test process if it dies, and is stopped
// by stop(). redis-cli asks the servers what they know (replication, sentinel and cluster
// state), so a topology is returned only once it is whole.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort, startRedis } from "./harness.mjs";

const run = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** redis-cli -p port args...: the reply as text (one line per element). */
export async function redisCli(port, ...args) {
  return cliAs(undefined, port, ...args);
}

/** redis-cli as redisCli, signed in with `password` when one is given (REDISCLI_AUTH). */
async function cliAs(password, port, ...args) {
  const env = password === undefined ? process.env : { ...process.env, REDISCLI_AUTH: password };
  const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args.map(String)],
    { timeout: 5000, env });
  return stdout.trim();
}

/** Polls check() (async, truthy when done) every 100 ms for up to ms; throws naming what. */
async function until(check, ms, what) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await sleep(100);
  }
}

const sentinels = new Set();
process.on("exit", () => {
  for (const c of sentinels) {
    try {
      c.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
});

/** A sentinel process watching `name` at 127.0.0.1:primaryPort. */
async function startSentinel(primaryPort, { name, quorum, downAfterMs, failoverTimeoutMs }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "chatcluster-sentinel-"));
  const port = await freePort();
  const conf = path.join(dir, "sentinel.conf");
  writeFileSync(conf, [
    `port ${port}`, "bind 127.0.0.1", `dir ${dir}`,
    `sentinel monitor ${name} 127.0.0.1 ${primaryPort} ${quorum}`,
    `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
    `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
    `sentinel parallel-syncs ${name} 1`, "",
  ].join("\n"));
  const child = spawn("redis-server", [conf, "--sentinel"], { stdio: ["ignore", "pipe", "pipe"] });
  sentinels.add(child);
  child.once("exit", () => sentinels.delete(child));
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  await until(async () => (await redisCli(port, "PING")) === "PONG", 5000, `sentinel on ${port}: ${out}`);
  return {
    port,
    kill: () => child.kill("SIGKILL"),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A primary, `replicas` replicas of it and `sentinels` sentinels watching it under `name`
 * (quorum: a majority). Resolves once every replica is in sync and every sentinel knows the
 * replicas and the other sentinels, so a failover can happen. Returns { url (redis+sentinel://),
 * name, servers: [redis handles], sentinels, primaryPort(), killPrimary(), stop() }.
 */
export async function startSentinelGroup({ replicas = 2, sentinels: nSentinels = 3, name = "chatcluster",
  downAfterMs = 1000, failoverTimeoutMs = 5000 } = {}) {
  const servers = [await startRedis()];
  const group = { name, servers, sentinels: [] };
  group.stop = async () => {
    await Promise.all(group.sentinels.map((s) => s.stop()));
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    const primary = servers[0];
    for (let i = 0; i < replicas; i++)
      servers.push(await startRedis(["--replicaof", "127.0.0.1", String(primary.port)]));
    await until(async () => /connected_slaves:(\d+)/.exec(await redisCli(primary.port, "INFO", "replication"))?.[1] ==
      String(replicas), 10_000, "the replicas to connect");
    const quorum = Math.floor(nSentinels / 2) + 1;
    for (let i = 0; i < nSentinels; i++)
      group.sentinels.push(await startSentinel(primary.port, { name, quorum, downAfterMs, failoverTimeoutMs }));
    await until(async () => {
      for (const s of group.sentinels) {
        const info = await redisCli(s.port, "INFO", "sentinel");
        const m = new RegExp(`name=${name},status=ok,address=[^,]+,slaves=(\\d+),sentinels=(\\d+)`).exec(info);
        if (!m || Number(m[1]) !== replicas || Number(m[2]) !== nSentinels) return false;
      }
      return true;
    }, 20_000, "every sentinel to know the replicas and the other sentinels");
  } catch (err) {
    await group.stop();
    throw err;
  }
  group.url = `redis+sentinel://${group.sentinels.map((s) => `127.0.0.1:${s.port}`).join(",")}/${name}`;
  /** The primary's port as the first sentinel that answers knows it. */
  group.primaryPort = async () => {
    for (const s of group.sentinels) {
      try {
        const [, port] = (await redisCli(s.port, "SENTINEL", "get-master-addr-by-name", name)).split("\n");
        if (port) return Number(port);
      } catch {
        /* that sentinel is down: ask the next */
      }
    }
    throw new Error("no sentinel knows the primary");
  };
  /** SIGKILL to the current primary; resolves with its port. */
  group.killPrimary = async () => {
    const port = await group.primaryPort();
    await servers.find((s) => s.port === port).kill();
    return port;
  };
  return group;
}

/**
 * A Redis Cluster of `primaries` primaries with `replicasPer` replicas each (redis-cli
 * --cluster create), cluster-node-timeout `nodeTimeoutMs`; with `password`, every node asks
 * for it (requirepass) and gives it to its primary (masterauth). Resolves once every node
 * reports cluster_state:ok and knows every other node. Returns { url (redis+cluster://, with
 * the password), servers, ports, cli(port, ...args) (redisCli signed in), keySlot(key),
 * primaryOfSlot(slot) (its port), addReplica(primaryPort), stop() }.
 */
export async function startRedisCluster({ primaries = 3, replicasPer = 1, nodeTimeoutMs = 1000, password } = {}) {
  const n = primaries * (1 + replicasPer);
  const servers = [];
  const cli = (port, ...args) => cliAs(password, port, ...args);
  const cluster = { servers, cli };
  cluster.stop = () => Promise.all(servers.map((s) => s.stop()));
  try {
    for (let i = 0; i < n; i++)
      servers.push(await startRedis(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
        "--cluster-node-timeout", String(nodeTimeoutMs), ...(password ? ["--masterauth", password] : [])], { password }));
    await run("redis-cli", ["--cluster", "create", ...servers.map((s) => `127.0.0.1:${s.port}`),
      "--cluster-replicas", String(replicasPer), "--cluster-yes"],
    { timeout: 30_000, env: password === undefined ? process.env : { ...process.env, REDISCLI_AUTH: password } });
    await until(async () => {
      for (const s of servers) {
        const info = await cli(s.port, "CLUSTER", "INFO");
        if (!/cluster_state:ok/.test(info) || !new RegExp(`cluster_known_nodes:${n}\\b`).test(info)) return false;
      }
      return true;
    }, 30_000, "cluster_state:ok on every node");
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  cluster.ports = servers.map((s) => s.port);
  cluster.url = `redis+cluster://${password ? `:${encodeURIComponent(password)}@` : ""}${cluster.ports.map((p) => `127.0.0.1:${p}`).join(",")}`;
  cluster.keySlot = async (key) => Number(await cli(servers[0].port, "CLUSTER", "KEYSLOT", key));
  /** The port of the primary that serves `slot` now, as the first live node sees it. */
  cluster.primaryOfSlot = async (slot) => {
    for (const s of servers) {
      let text;
      try {
        text = await cli(s.port, "CLUSTER", "NODES");
      } catch {
        continue;
      }
      for (const line of text.split("\n")) {
        const f = line.split(" ");
        if (!/master/.test(f[2]) || /fail/.test(f[2])) continue;
        for (const range of f.slice(8)) {
          const [lo, hi = lo] = range.split("-").map(Number);
          if (slot >= lo && slot <= hi) return Number(/:(\d+)@/.exec(f[1])[1]);
        }
      }
    }
    throw new Error(`no live node knows who serves slot ${slot}`);
  };
  /**
   * One more node, a replica of the primary on primaryPort (redis-cli --cluster add-node
   * --cluster-slave): resolves once that primary has all its replicas online and every node
   * knows the new one. Its port is added to ports (the url keeps its seeds).
   */
  cluster.addReplica = async (primaryPort) => {
    const server = await startRedis(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
      "--cluster-node-timeout", String(nodeTimeoutMs), ...(password ? ["--masterauth", password] : [])], { password });
    servers.push(server);
    cluster.ports.push(server.port);
    const id = await cli(primaryPort, "CLUSTER", "MYID");
    const wanted = Number(/connected_slaves:(\d+)/.exec(await cli(primaryPort, "INFO", "replication"))[1]) + 1;
    await run("redis-cli", ["--cluster", "add-node", `127.0.0.1:${server.port}`, `127.0.0.1:${primaryPort}`,
      "--cluster-slave", "--cluster-master-id", id],
    { timeout: 30_000, env: password === undefined ? process.env : { ...process.env, REDISCLI_AUTH: password } });
    await until(async () => {
      const info = await cli(primaryPort, "INFO", "replication");
      if ((info.match(/^slave\d+:.*state=online/gm) ?? []).length !== wanted) return false;
      for (const s of servers) {
        if (!new RegExp(`cluster_known_nodes:${servers.length}\\b`).test(await cli(s.port, "CLUSTER", "INFO"))) return false;
      }
      return true;
    }, 30_000, `the new replica of 127.0.0.1:${primaryPort} online and known`);
    return server;
  };
  return cluster;
}
