// deploy/cluster.sh up --redis sentinel: a primary and two replicas (redis-server
// --replicaof) and three sentinels watching the primary as "chatcluster", on the ports after
// the chatnodes; the sentinels agree on the primary, the replicas replicate it, the password
// protects the data servers and is on no command line; the chatnodes run on the
// redis+sentinel:// URL (their /healthz says topology "sentinel" and the primary) and a message
// crosses them through nginx; `status` shows each Redis process with its role; a second `up`
// asking for another topology is refused and starts nothing; `down` stops every process and
// frees every port. State lives in a temp directory and this build's binaries are used (see
// lib/cluster_sh.mjs); an `after` hook runs `down` and kills whatever is left.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { redisCli } from "./lib/redis_topology.mjs";
import { newClusterSh, messageAcrossNodes, printed, running } from "./lib/cluster_sh.mjs";
import { httpRequest, portFree } from "./lib/harness.mjs";

// --nodes 2: nginx base, redis-1 base+1, adminnode base+2, chatnodes base+3..4, redis-2..3
// base+5..6, sentinels base+7..9
const SPAN = 10;
const SUITE_MS = 120_000;
const UP_MS = 80_000;
const DOWN_MS = 30_000;

const NAMES = ["adminnode", "chatnode-1", "chatnode-2", "nginx", "redis-1", "redis-2", "redis-3",
  "sentinel-1", "sentinel-2", "sentinel-3"];

describe("deploy/cluster.sh up --redis sentinel", { timeout: SUITE_MS }, () => {
  let c, started, password;
  const clients = [];
  const servers = () => [c.base + 1, c.base + 5, c.base + 6];
  const sentinels = () => [c.base + 7, c.base + 8, c.base + 9];
  /** redis-cli on a data server, with the generated password */
  const cli = (port, ...args) => redisCli(port, "--no-auth-warning", "-a", password, ...args);

  before(async () => (c = await newClusterSh(SPAN)));
  after(async () => {
    clients.splice(0).forEach((s) => s.close());
    await c?.tearDown(DOWN_MS);
  });

  it("starts three redis-servers, three sentinels, two chatnodes, adminnode and nginx", async () => {
    const res = await c.sh(["up", "--nodes", "2", "--redis", "sentinel"], UP_MS);
    assert.equal(res.code, 0, `cluster.sh up failed:\n${res.stdout}\n${res.stderr}`);
    started = c.pidFiles();
    assert.deepEqual(Object.keys(started).sort(), NAMES);
    password = readFileSync(path.join(c.runDir, "redis.password"), "utf8").trim();
    assert.equal(printed(res.stdout).chat, `http://127.0.0.1:${c.base}/`);
    const list = sentinels().map((p) => `127.0.0.1:${p}`).join(",");
    assert.match(res.stdout, new RegExp(`Redis Sentinel: redis-servers :${c.base + 1} \\(primary\\), :${c.base + 5}, :${c.base + 6}; sentinels :${sentinels().join(", :")}`));
    assert.ok(res.stdout.includes(`redis:      redis+sentinel://:<password>@${list}/chatcluster`), res.stdout);
  });

  it("the sentinels agree on the primary, which has both replicas; the password guards the data servers only", async () => {
    for (const p of sentinels())
      assert.deepEqual((await redisCli(p, "SENTINEL", "get-master-addr-by-name", "chatcluster")).split("\n"),
        ["127.0.0.1", String(c.base + 1)], `sentinel on ${p}`);
    const [primary, ...replicas] = servers();
    assert.equal((await cli(primary, "ROLE")).split("\n")[0], "master");
    assert.match(await cli(primary, "INFO", "replication"), /connected_slaves:2/);
    for (const p of replicas) {
      const role = (await cli(p, "ROLE")).split("\n");
      assert.deepEqual(role.slice(0, 3), ["slave", "127.0.0.1", String(primary)], `redis-server on ${p}`);
    }
    for (const p of servers()) assert.match(await redisCli(p, "PING"), /NOAUTH/, `redis-server on ${p} without the password`);
    for (const [name, pid] of Object.entries(started))
      assert.doesNotMatch(readFileSync(`/proc/${pid}/cmdline`, "utf8"), new RegExp(password), `${name}'s command line`);
    // the configuration files hold the password, and the sentinels rewrite theirs (mode 644):
    // their directories are private
    for (const d of ["", "sentinel-1", "sentinel-2", "sentinel-3", "redis-1", "redis-2", "redis-3"])
      assert.equal(statSync(path.join(c.runDir, "redis-sentinel", d)).mode & 0o777, 0o700, `redis-sentinel/${d} is private`);
    for (const i of [1, 2, 3])
      assert.match(readFileSync(path.join(c.runDir, "redis-sentinel", `sentinel-${i}`, "sentinel.conf"), "utf8"),
        new RegExp(`^sentinel auth-pass chatcluster ${password}$`, "m"));
  });

  it("the chatnodes run on the sentinels' primary, and a message crosses them through nginx", async () => {
    for (const p of [c.base + 3, c.base + 4]) {
      const { bus } = JSON.parse((await httpRequest(`http://127.0.0.1:${p}/healthz`)).body);
      assert.deepEqual([bus.topology, bus.primary, bus.command, bus.subscriber],
        ["sentinel", `127.0.0.1:${c.base + 1}`, "connected", "connected"], JSON.stringify(bus));
    }
    const { ack, received } = await messageAcrossNodes(`http://127.0.0.1:${c.base}/`, "sentinel", "over sentinel", clients);
    assert.ok(ack.id, JSON.stringify(ack));
    assert.equal(received.text, "over sentinel");
    clients.splice(0).forEach((s) => s.close());
  });

  it("status shows each Redis process with its role", async () => {
    const res = await c.sh(["status"], DOWN_MS);
    assert.equal(res.code, 0, res.stderr);
    const line = (name) => new RegExp(`^${name}\\s+pid ${started[name]}\\s+running\\s+(.*)$`, "m").exec(res.stdout)?.[1];
    assert.equal(line("redis-1"), `127.0.0.1:${c.base + 1} master`);
    assert.equal(line("redis-2"), `127.0.0.1:${c.base + 5} slave`);
    assert.equal(line("redis-3"), `127.0.0.1:${c.base + 6} slave`);
    for (const [i, p] of sentinels().entries())
      assert.equal(line(`sentinel-${i + 1}`), `127.0.0.1:${p} sentinel, primary 127.0.0.1:${c.base + 1}`);
  });

  it("a second up asking for another topology is refused and starts nothing", async () => {
    const res = await c.sh(["up", "--nodes", "2", "--redis", "cluster"], UP_MS);
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stderr, /running with --redis sentinel: deploy\/cluster\.sh down first/);
    assert.deepEqual(c.pidFiles(), started);
    const again = await c.sh(["up", "--nodes", "2"], UP_MS); // no --redis: the running one
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /already running/);
    assert.deepEqual(c.pidFiles(), started);
  });

  it("down stops every process, the sentinels included, and frees every port", async () => {
    const res = await c.sh(["down"], DOWN_MS);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    for (const [name, pid] of Object.entries(started)) assert.equal(running(pid), false, `${name} (pid ${pid}) still runs`);
    assert.deepEqual(c.pidFiles(), {});
    for (let p = c.base; p < c.base + SPAN; p++) assert.equal(await portFree(p), true, `port ${p} still taken`);
    assert.match((await c.sh(["status"], DOWN_MS)).stdout, /not running/);
  });
});
