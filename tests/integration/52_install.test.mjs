// cmake --install places the binaries, the chat page, the dashboard, the nginx generator, the
// systemd units (with the install paths filled in) and their example environment files; the
// installed chatnode serves the installed page when told where it is, as the unit does.
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startChatnode, httpRequest } from "./lib/harness.mjs";

const build = process.env.CHATCLUSTER_CMAKE_BUILD;
const prefix = mkdtempSync(path.join(os.tmpdir(), "chatcluster-install-"));

describe("cmake --install", { timeout: 120_000 }, () => {
  after(() => rmSync(prefix, { recursive: true, force: true }));

  it("installs everything a production host needs", async () => {
    assert.ok(build, "CHATCLUSTER_CMAKE_BUILD is set by CTest");
    const r = spawnSync("cmake", ["--install", build, "--prefix", prefix], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    for (const f of [
      "bin/chatnode", "bin/adminnode",
      "share/chatcluster/chat/index.html", "share/chatcluster/chat/socket.io.min.js",
      "share/chatcluster/admin/index.html", "share/chatcluster/nginx/gen.sh",
      "share/chatcluster/systemd/chatnode@.service", "share/chatcluster/systemd/adminnode.service",
      "share/chatcluster/systemd/chatnode.env.example", "share/chatcluster/systemd/adminnode.env.example",
      "share/doc/chatcluster/README.md",
    ]) assert.ok(existsSync(path.join(prefix, f)), f);
    const unit = readFileSync(path.join(prefix, "share/chatcluster/systemd/chatnode@.service"), "utf8");
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
});
