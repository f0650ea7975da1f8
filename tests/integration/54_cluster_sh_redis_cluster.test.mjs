// deploy/cluster.sh up --redis cluster: six redis-servers with cluster-enabled, each its own
// nodes.conf and a cluster bus port in the script's range, made into three primaries with a
// replica each (redis-cli --cluster create) and serving every slot (cluster_state:ok); the
// password protects them and is on no command line; the chatnodes run on the
// redis+cluster:// URL with all six as seeds (their /healthz says topology "cluster") and a
// message crosses them through nginx; `status` shows each node's role; `down` stops every
// process and frees every port. State lives in a temp directory and this build's binaries
// are used (see lib/cluster_sh.mjs); an `after` hook runs `down` and kills whatever is left.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { redisCli } from "./lib/redis_topology.mjs";
import { newClusterSh, messageAcrossNodes, printed, running } from "./lib/cluster_sh.mjs";
import { httpRequest, portFree } from "./lib/harness.mjs";

// --nodes 2: nginx base, redis-1 base+1, adminnode base+2, chatnodes base+3..4, redis-2..6
// base+5..9, the cluster bus ports of redis-1..6 base+10..15
const SPAN = 16;
const SUITE_MS = 120_000;
const UP_MS = 80_000;
const DOWN_MS = 30_000;

const NAMES = ["adminnode", "chatnode-1", "chatnode-2", "nginx", "redis-1", "redis-2", "redis-3",
  "redis-4", "redis-5", "redis-6"];

describe("deploy/cluster.sh up --redis cluster", { timeout: SUITE_MS }, () => {
  let c, started, password;
  const clients = [];
  const servers = () => [c.base + 1, c.base + 5, c.base + 6, c.base + 7, c.base + 8, c.base + 9];
  const busPorts = () => [10, 11, 12, 13, 14, 15].map((i) => c.base + i);
  /** redis-cli on a node, with the generated password */
  const cli = (port, ...args) => redisCli(port, "--no-auth-warning", "-a", password, ...args);

  before(async () => (c = await newClusterSh(SPAN)));
  after(async () => {
    clients.splice(0).forEach((s) => s.close());
    await c?.tearDown(DOWN_MS);
  });

  it("starts six redis-servers as a Redis Cluster, two chatnodes, adminnode and nginx", async () => {
    const res = await c.sh(["up", "--nodes", "2", "--redis", "cluster"], UP_MS);
    assert.equal(res.code, 0, `cluster.sh up failed:\n${res.stdout}\n${res.stderr}`);
    started = c.pidFiles();
    password = readFileSync(path.join(c.runDir, "redis.password"), "utf8").trim();
    assert.deepEqual(Object.keys(started).sort(), NAMES);
    assert.equal(printed(res.stdout).chat, `http://127.0.0.1:${c.base}/`);
    assert.ok(res.stdout.includes(`Redis Cluster: redis-servers :${servers().join(", :")} (3 primaries, 3 replicas; bus :${c.base + 10}-${c.base + 15})`), res.stdout);
    const seeds = servers().map((p) => `127.0.0.1:${p}`).join(",");
    assert.ok(res.stdout.includes(`redis:      redis+cluster://:<password>@${seeds} `), res.stdout);
  });

  it("every node serves the cluster: cluster_state:ok, three primaries with a replica each, the bus ports of the range", async () => {
    const roles = [];
    for (const p of servers()) {
      const info = await cli(p, "CLUSTER", "INFO");
      assert.match(info, /cluster_state:ok/, `node ${p}`);
      assert.match(info, /cluster_known_nodes:6\b/, `node ${p}`);
      assert.match(info, /cluster_size:3\b/, `node ${p}`);
      assert.match(info, /cluster_slots_assigned:16384\b/, `node ${p}`);
      roles.push((await cli(p, "ROLE")).split("\n")[0]);
    }
    assert.deepEqual(roles.sort(), ["master", "master", "master", "slave", "slave", "slave"]);
    // each node at its own port, with its bus port from the script's range
    const nodes = (await cli(c.base + 1, "CLUSTER", "NODES")).split("\n").map((l) => l.split(" ")[1].split(",")[0]).sort();
    assert.deepEqual(nodes, servers().map((p, i) => `127.0.0.1:${p}@${busPorts()[i]}`).sort());
    // each replica replicates a primary (not a replica, not itself)
    const masters = new Set();
    for (const p of servers()) {
      const role = (await cli(p, "ROLE")).split("\n");
      if (role[0] === "slave") masters.add(Number(role[2]));
    }
    assert.equal(masters.size, 3);
    for (const m of masters) assert.equal((await cli(m, "ROLE")).split("\n")[0], "master");
  });

  it("the password guards every node and is on no command line; each node's directory is private", async () => {
    for (const p of servers()) assert.match(await redisCli(p, "PING"), /NOAUTH/, `node ${p} without the password`);
    for (const [name, pid] of Object.entries(started))
      assert.doesNotMatch(readFileSync(`/proc/${pid}/cmdline`, "utf8"), new RegExp(password), `${name}'s command line`);
    for (const i of [1, 2, 3, 4, 5, 6]) {
      const dir = path.join(c.runDir, "redis-cluster", `redis-${i}`);
      assert.equal(statSync(dir).mode & 0o777, 0o700, `${dir} is private`);
      assert.ok(statSync(path.join(dir, "nodes.conf")).size > 0, `redis-${i} has its own nodes.conf`);
    }
  });

  it("the chatnodes run on the cluster, and a message crosses them through nginx", async () => {
    for (const p of [c.base + 3, c.base + 4]) {
      const { bus } = JSON.parse((await httpRequest(`http://127.0.0.1:${p}/healthz`)).body);
      assert.equal(bus.topology, "cluster", JSON.stringify(bus));
    }
    const { ack, received } = await messageAcrossNodes(`http://127.0.0.1:${c.base}/`, "sharded", "over the cluster", clients);
    assert.ok(ack.id, JSON.stringify(ack));
    assert.equal(received.text, "over the cluster");
    clients.splice(0).forEach((s) => s.close());
  });

  it("status shows each node's role and the cluster's state", async () => {
    const res = await c.sh(["status"], DOWN_MS);
    assert.equal(res.code, 0, res.stderr);
    for (const [i, p] of servers().entries()) {
      const line = new RegExp(`^redis-${i + 1}\\s+pid ${started[`redis-${i + 1}`]}\\s+running\\s+(.*)$`, "m").exec(res.stdout)?.[1];
      assert.match(line ?? "", new RegExp(`^127\\.0\\.0\\.1:${p} (master|slave) cluster_state:ok$`), res.stdout);
    }
  });

  it("down stops every process and frees every port, the bus ports included", async () => {
    const res = await c.sh(["down"], DOWN_MS);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    for (const [name, pid] of Object.entries(started)) assert.equal(running(pid), false, `${name} (pid ${pid}) still runs`);
    assert.deepEqual(c.pidFiles(), {});
    for (let p = c.base; p < c.base + SPAN; p++) assert.equal(await portFree(p), true, `port ${p} still taken`);
    assert.match((await c.sh(["status"], DOWN_MS)).stdout, /not running/);
  });
});
