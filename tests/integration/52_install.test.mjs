// cmake --install places the binaries, the chat page, the dashboard, the nginx generator, the
// systemd units (with the install paths filled in) and their example environment files; the
// installed chatnode serves the installed page when told where it is, as the unit does.
// The installed units, line by line: no template token left, every known key with a value that
// holds (each Exec* program exists and is executable, each EnvironmentFile has its example
// beside the units, each variable there and in Environment= is one the binary reads), and
// `systemd-analyze verify` accepts them. systemd does not run here, so the test does what the
// units do by hand: the example environment files placed as /etc/chatcluster would hold them
// (the operator's values for ports, Redis and secret paths), ExecStart run with that
// environment and nothing else, ExecReload's kill -HUP reopening the log file, and KillSignal
// stopping both cleanly.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import {
  accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { io } from "socket.io-client";
import { startChatnode, startRedis, httpRequest, eventually, freePort, waitFor, withTimeout, WAIT_MS } from "./lib/harness.mjs";
import { signToken } from "./lib/jwt.mjs";

const build = process.env.CHATCLUSTER_CMAKE_BUILD;
const prefix = mkdtempSync(path.join(os.tmpdir(), "chatcluster-install-"));
const unitDir = path.join(prefix, "share/chatcluster/systemd");
const ETC = "/etc/chatcluster/";
const UNITS = { "chatnode@.service": "chatnode", "adminnode.service": "adminnode" };
const SANITIZER = /ERROR: (Address|Leak)Sanitizer|runtime error:/;

/** A unit file as [section, key, value] entries, comments and blank lines left out; any other
 * line fails. */
function unitEntries(text) {
  const out = [];
  let section = null;
  for (const line of text.split("\n")) {
    if (/^\s*([#;].*)?$/.test(line)) continue;
    const sec = /^\[(\w+)\]$/.exec(line);
    if (sec) {
      section = sec[1];
      continue;
    }
    const kv = /^(\w+)=(.*)$/.exec(line);
    assert.ok(kv && section, `not a unit file line: ${JSON.stringify(line)}`);
    out.push([section, kv[1], kv[2]]);
  }
  return out;
}

/** An environment file as systemd reads these: KEY=VALUE lines and # comments (any other line
 * fails). Returns [[key, value], ...]. */
function envEntries(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (/^\s*(#.*)?$/.test(line)) continue;
    const kv = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    assert.ok(kv, `not an environment file line: ${JSON.stringify(line)}`);
    out.push([kv[1], kv[2]]);
  }
  return out;
}

/** The environment variables a binary reads: those its --help lists. */
function knownVariables(bin) {
  const help = spawnSync(bin, ["--help"], { encoding: "utf8" });
  const text = help.stdout + help.stderr;
  const vars = new Set([...text.matchAll(/\[([A-Z][A-Z0-9_]+)\]/g)].map((m) => m[1]));
  for (const m of text.matchAll(/\(or ([A-Z][A-Z0-9_]+)\)/g)) vars.add(m[1]); // CHATNODE_JWT_SECRET
  assert.ok(vars.size > 10, `no variables in ${bin} --help:\n${text}`);
  return vars;
}

/** The example of an EnvironmentFile path (instance %i = 1), in the installed systemd dir. */
function exampleOf(envPath) {
  return path.join(unitDir, `${path.basename(envPath.replace(/%i/g, "1"))}.example`);
}

const token = (claims, secret) => signToken(claims, secret);

/** Processes started as a unit would start them: { pid, exited, gone (how it exited, once it
 * did), stderr() }. Killed after the tests if still running. */
const started = [];
function startAsUnit(argv, env) {
  const child = spawn(argv[0], argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stdout.on("data", (d) => (stderr += d));
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (error) => resolve({ code: null, signal: null, error: error.message }));
  });
  const proc = { pid: child.pid, child, exited, stderr: () => stderr, gone: null };
  exited.then((s) => (proc.gone = s));
  started.push(proc);
  return proc;
}

/** Waits for the process to exit after `signal`; returns { code, signal }. */
async function stopWith(proc, signal) {
  proc.child.kill(signal);
  return withTimeout(proc.exited, 60_000, `pid ${proc.pid} to exit after ${signal}`);
}

describe("cmake --install", { timeout: 120_000 }, () => {
  let redis, etc;
  const units = {};

  before(() => {
    assert.ok(build, "CHATCLUSTER_CMAKE_BUILD is set by CTest");
    const r = spawnSync("cmake", ["--install", build, "--prefix", prefix], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    for (const name of Object.keys(UNITS)) units[name] = readFileSync(path.join(unitDir, name), "utf8");
  });

  after(async () => {
    for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    await withTimeout(Promise.all(started.map((p) => p.exited)), WAIT_MS, "the unit processes to exit").catch(() => {});
    await redis?.stop();
    rmSync(prefix, { recursive: true, force: true });
    if (etc) rmSync(etc, { recursive: true, force: true });
  });

  it("installs everything a production host needs", async () => {
    for (const f of [
      "bin/chatnode", "bin/adminnode",
      "share/chatcluster/chat/index.html", "share/chatcluster/chat/socket.io.min.js",
      "share/chatcluster/admin/index.html", "share/chatcluster/nginx/gen.sh",
      "share/chatcluster/systemd/chatnode@.service", "share/chatcluster/systemd/adminnode.service",
      "share/chatcluster/systemd/chatnode.env.example", "share/chatcluster/systemd/chatnode-1.env.example",
      "share/chatcluster/systemd/adminnode.env.example",
      "share/doc/chatcluster/README.md",
    ]) assert.ok(existsSync(path.join(prefix, f)), f);
    const unit = units["chatnode@.service"];
    assert.match(unit, new RegExp(`ExecStart=${prefix}/bin/chatnode`));
    assert.match(unit, new RegExp(`CHATNODE_STATIC=${prefix}/share/chatcluster/chat`));
    assert.match(unit, /KillSignal=SIGTERM/);
    assert.doesNotMatch(unit, /@CMAKE_/);
    const v = spawnSync(path.join(prefix, "bin/chatnode"), ["--version"], { encoding: "utf8" });
    assert.match(v.stdout, /^chatnode \d/);

    // the installed binary serves the installed page, as the unit sets it up
    const node = await startChatnode(["--app", "echo"], { CHATNODE_STATIC: path.join(prefix, "share/chatcluster/chat") },
      { bin: path.join(prefix, "bin/chatnode") });
    try {
      const page = await httpRequest(`${node.url}/`);
      assert.equal(page.status, 200);
      assert.match(page.body, /socket\.io\.min\.js/);
    } finally {
      await node.stop();
    }
  });

  it("leaves every line of both units filled in and true: programs, environment files and variables, limits", () => {
    const nrOpen = Number(readFileSync("/proc/sys/fs/nr_open", "utf8"));
    for (const [name, binName] of Object.entries(UNITS)) {
      const text = units[name];
      assert.doesNotMatch(text, /@[A-Za-z0-9_]+@/, `${name}: a configure_file placeholder is left`);
      assert.doesNotMatch(text, /\$\{[^}]*\}/, `${name}: a CMake variable is left`);
      const known = knownVariables(path.join(prefix, "bin", binName));
      const envFiles = [];
      const seen = new Set();
      for (const [section, key, value] of unitEntries(text)) {
        const what = `${name}: ${key}=${value}`;
        seen.add(`${section}.${key}`);
        switch (`${section}.${key}`) {
          case "Unit.Description":
            assert.match(value, new RegExp(`^chatcluster ${binName}`), what);
            break;
          case "Unit.Documentation": {
            assert.match(value, /^file:\/\//, what);
            assert.ok(existsSync(value.slice("file://".length)), `${what}: no such file`);
            break;
          }
          case "Unit.After":
          case "Unit.Wants":
            for (const u of value.split(/\s+/)) assert.match(u, /^[\w-]+\.(target|service)$/, what);
            break;
          case "Service.Type":
            // the process ExecStart starts is the server itself (checked below, running it)
            assert.equal(value, "simple", what);
            break;
          case "Service.EnvironmentFile": {
            const file = value.replace(/^-/, "");
            assert.ok(file.startsWith(ETC), `${what}: not under ${ETC}`);
            const example = exampleOf(file);
            assert.ok(existsSync(example), `${what}: no ${path.basename(example)} installed beside the unit`);
            // the example names the file it is the example of
            assert.equal(readFileSync(example, "utf8").split("\n")[0].split(/[: ]/)[1], file.replace(/%i/g, "1"), example);
            for (const [k] of envEntries(readFileSync(example, "utf8")))
              assert.ok(known.has(k), `${path.basename(example)}: ${k} is not a variable ${binName} reads`);
            envFiles.push(value);
            break;
          }
          case "Service.Environment": {
            const [k, v] = value.split(/=(.*)/s);
            assert.ok(known.has(k), `${what}: ${k} is not a variable ${binName} reads`);
            if (k.endsWith("_STATIC")) assert.ok(existsSync(path.join(v, "index.html")), `${what}: no index.html there`);
            break;
          }
          case "Service.ExecStart":
          case "Service.ExecReload": {
            const argv = value.split(/\s+/);
            assert.ok(path.isAbsolute(argv[0]), `${what}: not an absolute path`);
            assert.ok(statSync(argv[0]).isFile(), `${what}: not a file`);
            accessSync(argv[0], constants.X_OK);
            if (key === "ExecStart") assert.equal(argv[0], path.join(prefix, "bin", binName), what);
            else assert.deepEqual(argv.slice(1), ["-HUP", "$MAINPID"], what); // README: reload is SIGHUP
            break;
          }
          case "Service.KillSignal":
            assert.equal(value, "SIGTERM", what);
            break;
          case "Service.TimeoutStopSec":
            assert.match(value, /^[1-9]\d*$/, what);
            break;
          case "Service.Restart":
            assert.equal(value, "on-failure", what);
            break;
          case "Service.RestartSec":
            assert.match(value, /^[1-9]\d*$/, what);
            break;
          case "Service.User":
          case "Service.Group":
            assert.equal(value, "chatcluster", what);
            break;
          case "Service.LimitNOFILE":
            // above fs.nr_open systemd cannot set it and the unit does not start
            assert.ok(/^\d+$/.test(value) && Number(value) <= nrOpen, `${what}: fs.nr_open is ${nrOpen}`);
            break;
          case "Service.NoNewPrivileges":
          case "Service.ProtectHome":
          case "Service.PrivateTmp":
            assert.equal(value, "yes", what);
            break;
          case "Service.ProtectSystem":
            assert.equal(value, "strict", what);
            break;
          case "Service.LogsDirectory":
            assert.equal(value, "chatcluster", what);
            break;
          case "Install.WantedBy":
            assert.equal(value, "multi-user.target", what);
            break;
          default:
            assert.fail(`${name}: a line this test does not know: [${section}] ${key}=${value}`);
        }
      }
      for (const k of ["Unit.Description", "Service.ExecStart", "Service.KillSignal", "Service.TimeoutStopSec", "Install.WantedBy"])
        assert.ok(seen.has(k), `${name} has no ${k}`);
      if (binName === "chatnode") {
        // README: the shared file (optional), then the instance's
        assert.deepEqual(envFiles, [`-${ETC}chatnode.env`, `${ETC}chatnode-%i.env`]);
        assert.ok(seen.has("Service.ExecReload"), "chatnode@.service has no ExecReload");
        // systemd must wait longer than the node drains before it kills it
        const drainMs = Number(new Map(envEntries(readFileSync(exampleOf(`${ETC}chatnode.env`), "utf8"))).get("CHATNODE_DRAIN_TIMEOUT"));
        const stopSec = Number(/^TimeoutStopSec=(\d+)$/m.exec(text)[1]);
        assert.ok(drainMs > 0 && stopSec * 1000 > drainMs, `TimeoutStopSec=${stopSec} against CHATNODE_DRAIN_TIMEOUT=${drainMs}`);
      } else {
        assert.deepEqual(envFiles, [`${ETC}adminnode.env`]);
      }
    }
  });

  it("systemd-analyze verify accepts both units", (t) => {
    if (spawnSync("systemd-analyze", ["--version"]).status !== 0) return t.skip("no systemd-analyze here");
    const r = spawnSync("systemd-analyze", ["verify", path.join(unitDir, "chatnode@.service"), path.join(unitDir, "adminnode.service")],
      { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal((r.stdout + r.stderr).trim(), "", "systemd-analyze has something to say");
  });

  it("runs as the units run it: ExecStart with the environment files, ExecReload reopens the log, KillSignal stops it", async () => {
    redis = await startRedis();
    // /etc/chatcluster as an operator fills it from the examples: this host's ports, Redis and
    // secret files; chatnode-1.env also gets a --log-file in the unit's LogsDirectory
    etc = mkdtempSync(path.join(os.tmpdir(), "chatcluster-etc-"));
    const logDir = path.join(etc, "log");
    mkdirSync(logDir);
    const secret = crypto.randomBytes(32).toString("hex");
    writeFileSync(path.join(etc, "jwt.secret"), secret, { mode: 0o600 });
    const apiKey = crypto.randomBytes(32).toString("hex");
    writeFileSync(path.join(etc, "api-keys"), `${apiKey} admin\n`, { mode: 0o600 });
    const ports = { CHATNODE_PORT: await freePort(), ADMINNODE_PORT: await freePort() };
    const logFile = path.join(logDir, "chatnode-1.log");
    const place = (envPath) => path.join(etc, path.basename(envPath.replace(/%i/g, "1")));
    for (const envPath of [`${ETC}chatnode.env`, `${ETC}chatnode-%i.env`, `${ETC}adminnode.env`]) {
      let text = readFileSync(exampleOf(envPath), "utf8")
        .replace(/^(\w+_PORT)=.*$/gm, (_, k) => `${k}=${ports[k]}`)
        .replace(/^(\w+_REDIS)=.*$/gm, (_, k) => `${k}=${redis.url}`)
        .replaceAll(ETC, `${etc}/`);
      if (envPath.includes("%i")) text += `CHATNODE_LOG_FILE=${logFile}\n`;
      writeFileSync(place(envPath), text);
    }

    /** What systemd would run for this unit: its ExecStart, and its environment (the
     * environment files in order, then Environment=) and nothing of the test's own. */
    const asUnit = (name) => {
      const env = { PATH: "/usr/bin:/bin" };
      for (const k of ["ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"]) if (process.env[k]) env[k] = process.env[k];
      let exec;
      let killSignal = "SIGTERM"; // systemd's default
      const reload = [];
      for (const [, key, value] of unitEntries(units[name])) {
        if (key === "EnvironmentFile") {
          const file = place(value.replace(/^-/, ""));
          if (value.startsWith("-") && !existsSync(file)) continue;
          for (const [k, v] of envEntries(readFileSync(file, "utf8"))) env[k] = v;
        } else if (key === "Environment") {
          const [k, v] = value.split(/=(.*)/s);
          env[k] = v;
        } else if (key === "ExecStart") exec = value.split(/\s+/);
        else if (key === "ExecReload") reload.push(value.split(/\s+/));
        else if (key === "KillSignal") killSignal = value;
      }
      return { exec, env, reload, killSignal };
    };

    const chat = asUnit("chatnode@.service");
    assert.equal(chat.env.CHATNODE_NODE_TAG, "n1");
    const node = startAsUnit(chat.exec, chat.env);
    const nodeUrl = `http://${chat.env.CHATNODE_HOST}:${ports.CHATNODE_PORT}`;
    await eventually(async () => {
      assert.ok(!node.gone, `chatnode did not start or exited (${JSON.stringify(node.gone)}):\n${node.stderr()}`);
      return (await httpRequest(`${nodeUrl}/healthz`, { timeoutMs: 1000 })).status === 200;
    }, WAIT_MS, `chatnode@1 to answer on ${nodeUrl}`);
    const admin = asUnit("adminnode.service");
    const adminProc = startAsUnit(admin.exec, admin.env);
    const adminUrl = `http://${admin.env.ADMINNODE_HOST}:${ports.ADMINNODE_PORT}`;
    await eventually(async () => {
      assert.ok(!adminProc.gone, `adminnode did not start or exited (${JSON.stringify(adminProc.gone)}):\n${adminProc.stderr()}`);
      return (await httpRequest(`${adminUrl}/healthz`, { timeoutMs: 1000 })).status === 200;
    }, WAIT_MS, `adminnode to answer on ${adminUrl}`);

    // chatnode: the installed page, its tag, the chat app with tokens of the secret file
    const page = await httpRequest(`${nodeUrl}/`);
    assert.equal(page.status, 200);
    assert.equal(page.body, readFileSync(path.join(prefix, "share/chatcluster/chat/index.html"), "utf8"));
    const c = io(nodeUrl, { forceNew: true, reconnection: false,
      auth: { token: token({ sub: "ops", name: "Ops", exp: Math.floor(Date.now() / 1000) + 300 }, secret) } });
    try {
      await waitFor(c, "connect");
      assert.match(c.io.engine.id, /^n1\./);
      assert.equal((await c.emitWithAck("join", { room: "units" })).room, "units");
      const ack = await c.emitWithAck("message", { room: "units", text: "started as the unit starts it" });
      assert.ok(ack.id, JSON.stringify(ack));
    } finally {
      c.close();
    }
    // adminnode: the installed dashboard, its key file, the node through the same Redis
    const dash = await httpRequest(`${adminUrl}/`);
    assert.equal(dash.status, 200);
    assert.equal(dash.body, readFileSync(path.join(prefix, "share/chatcluster/admin/index.html"), "utf8"));
    const nodes = await eventually(async () => {
      const res = await httpRequest(`${adminUrl}/api/v1/nodes`, { headers: { Authorization: `Bearer ${apiKey}` } });
      assert.equal(res.status, 200, res.body);
      const list = JSON.parse(res.body).nodes;
      return list.some((n) => n.tag === "n1" && n.state === "up") && list;
    }, WAIT_MS, "adminnode to list n1 up");
    assert.equal(nodes.length, 1, JSON.stringify(nodes));
    const history = await httpRequest(`${adminUrl}/api/v1/rooms/units/history`, { headers: { Authorization: `Bearer ${apiKey}` } });
    assert.match(history.body, /started as the unit starts it/);

    // ExecReload, as systemd runs it ($MAINPID filled in): the log file is reopened
    await eventually(() => existsSync(logFile) && /msg="?listening/.test(readFileSync(logFile, "utf8")), WAIT_MS,
      `the listening line in ${logFile}`);
    renameSync(logFile, `${logFile}.1`); // as logrotate does
    assert.equal(chat.reload.length, 1);
    for (const argv of chat.reload) {
      const r = spawnSync(argv[0], argv.slice(1).map((a) => a.replace("$MAINPID", String(node.pid))), { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
    }
    await eventually(() => existsSync(logFile) && /msg="log file reopened"/.test(readFileSync(logFile, "utf8")), WAIT_MS,
      `a new ${logFile} with the reopen line`);
    assert.equal((await httpRequest(`${nodeUrl}/healthz`)).status, 200, "chatnode still serves after the reload");
    assert.equal(node.gone, null, "chatnode still runs after the reload");

    // KillSignal: both stop cleanly, chatnode after draining its clients (README)
    const nodeExit = await stopWith(node, chat.killSignal);
    assert.deepEqual(nodeExit, { code: 0, signal: null }, node.stderr());
    assert.match(readFileSync(logFile, "utf8"), /msg="stopping after draining" signal=SIGTERM/);
    const adminExit = await stopWith(adminProc, admin.killSignal);
    assert.deepEqual(adminExit, { code: 0, signal: null }, adminProc.stderr());
    for (const p of [node, adminProc]) assert.doesNotMatch(p.stderr(), SANITIZER);
    assert.doesNotMatch(readFileSync(logFile, "utf8"), SANITIZER);
  });
});
