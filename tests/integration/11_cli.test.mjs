// chatnode's command line: --help and --version, refusing bad settings with a clear message and
// exit status 2, settings from a config file, and a clean exit on SIGINT as well as SIGTERM.
// Exercises chatnode/main.c and chatnode_config.c.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { adminnodeBin, startChatnode, httpRequest } from "./lib/harness.mjs";

const BIN = process.env.CHATNODE_BIN;
const run = (args, env = {}) =>
  spawnSync(BIN, args, { encoding: "utf8", timeout: 10_000, env: { ...process.env, ...env } });

describe("chatnode command line", () => {
  it("--help lists every setting with its environment variable, and exits 0", () => {
    const r = run(["--help"]);
    assert.equal(r.status, 0);
    for (const flag of ["host", "port", "path", "app", "ping-interval", "ping-timeout", "max-payload",
      "connect-timeout", "upgrade-timeout", "keepalive-timeout", "max-queue", "node-tag", "cors-origin", "cors-credentials", "log-level"]) {
      assert.match(r.stdout, new RegExp(`--${flag}\\b`), flag);
      assert.match(r.stdout, new RegExp(`CHATNODE_${flag.toUpperCase().replaceAll("-", "_")}\\b`), flag);
    }
    assert.match(r.stdout, /eio-echo/);
  });

  it("--version prints the version and exits 0", () => {
    const r = run(["--version"]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^chatnode \d+\.\d+\.\d+/);
  });

  it("bad settings are refused with a message and exit status 2", () => {
    for (const [args, env, pattern] of [
      [["--bogus"], {}, /unknown option --bogus/],
      [["--port", "70000"], {}, /--port must be between/],
      [["--ping-interval", "abc"], {}, /expects an integer/],
      [["--app", "nope"], {}, /unknown app "nope"/],
      [["--node-tag", "a.b"], {}, /--node-tag/],
      [["--path", "socket.io"], {}, /--path must start with/],
      [[], { CHATNODE_PING_TIMEOUT: "x" }, /CHATNODE_PING_TIMEOUT.*expects an integer/],
    ]) {
      const r = run(args, env);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
  });

  it("reads settings from --config, flags override them, and SIGINT stops cleanly", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "chatnode-cfg-"));
    try {
      const file = path.join(dir, "chatnode.conf");
      writeFileSync(file, "# a comment\nping-interval = 4321\nnode-tag = fromfile\npath=/io/\n");
      const srv = await startChatnode(["--config", file, "--ping-interval", "1234"]);
      try {
        const res = await httpRequest(`${srv.url}/io/?EIO=4&transport=polling`);
        assert.equal(res.status, 200);
        const open = JSON.parse(res.body.slice(1));
        assert.equal(open.pingInterval, 1234);
        assert.match(open.sid, /^fromfile\./);
      } finally {
        await srv.stop("SIGINT");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a port already in use is an error: exit status 1 and a message, not a node that does not listen", async () => {
    const srv = await startChatnode(["--host", "127.0.0.1"]);
    try {
      for (const host of ["127.0.0.1", "0.0.0.0"]) {
        const r = run(["--port", String(srv.port), "--host", host, "--allow-anonymous"]);
        assert.equal(r.error, undefined, `it did not exit (${host}): ${r.error?.message}`);
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr, /msg="cannot listen" host=\S+ port=\d+/);
        assert.doesNotMatch(r.stderr, /msg=listening/);
        assert.doesNotMatch(r.stderr, /Sanitizer|runtime error/, "and it stops cleanly");
      }
      // the node that holds the port goes on serving
      assert.equal((await httpRequest(`${srv.url}/healthz`)).status, 200);
    } finally {
      await srv.stop();
    }
  });

  it("a --redis URL that cannot be used stops either node at start with a message, exit status 1", () => {
    for (const [url, pattern, extra = []] of [
      ["redis+cluster://127.0.0.1:1", null], // no cluster there: it runs, retrying
      ["redis://127.0.0.1:1", /--bus-format must be classic or sharded/, ["--bus-format", "fast"]],
      ["redis+sentinel://127.0.0.1:1/m", /--bus-format sharded needs redis:\/\/ \(Redis 7\) or redis\+cluster:\/\//,
        ["--bus-format", "sharded"]],
      ["redis://127.0.0.1:1", /--subscription-mode must be static, dynamic or dynamic-private/,
        ["--subscription-mode", "Dynamic"]],
      ["redis+sentinel://127.0.0.1:1", /needs the master name/],
      ["redis+sentinel://127.0.0.1:1/m%00x", /bad %-escape/],
      ["redis+sentinel://127.0.0.1:1/m%FF", /not UTF-8 once decoded/],
      ["redis+sentinel://127.0.0.1:1/%C3%A9t%C3%A9", null], // a UTF-8 master name, escaped: it runs
    ]) {
      for (const bin of [BIN, adminnodeBin()]) {
        const r = spawnSync(bin, ["--port", "0", "--host", "127.0.0.1", "--allow-anonymous", "--redis", url, ...extra].filter(
          (a) => bin === BIN || a !== "--allow-anonymous"), { encoding: "utf8", timeout: pattern ? 10_000 : 1500 });
        const who = `${path.basename(bin)} --redis ${url} ${extra.join(" ")}`;
        if (!pattern) {
          assert.equal(r.error?.code, "ETIMEDOUT", `${who} keeps running: ${r.stderr}`);
          continue;
        }
        assert.equal(r.error, undefined, `${who} did not exit: ${r.error?.message}`);
        assert.equal(r.status, 1, `${who}: ${r.stderr}`);
        assert.match(r.stderr, pattern, who);
        assert.doesNotMatch(r.stderr, /Sanitizer|runtime error/, `${who} stops cleanly`);
      }
    }
  });
});
