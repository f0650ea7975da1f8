// The official Socket.IO Admin UI (@socket.io/admin-ui 0.5.1) against two chatnodes with
// --admin-ui: its /admin namespace as a client sees it (sign-in with a bcrypt hash, the session
// id a reloaded page signs in with, "invalid credentials", config and its features by mode,
// server_stats of both nodes through the cluster, all_sockets across the cluster, the live
// updates of development mode, and the join, leave, _disconnect and emit commands reaching
// sockets on the other node), and the UI the npm package ships (ui/dist), served on its own
// origin, in Chromium: both servers listed, the sockets and rooms of both nodes shown, and a
// disconnect from the Sockets page reaching a client on the other node. Screenshots go to
// tests/artifacts/. Exercises chatnode/admin_ui.c and the namespace mounting in sio.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdirSync, readFileSync, existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";
import { execFileSync } from "node:child_process";
import { startChatnode, startRedis, stopAll, eventually, busUp, chatnodeBin, httpRequest, WAIT_MS } from "./lib/harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = path.resolve(here, "../artifacts");
const require = createRequire(import.meta.url);
const UI_DIST = path.join(path.dirname(require.resolve("@socket.io/admin-ui/package.json")), "ui", "dist");
const UI_VERSION = require("@socket.io/admin-ui/package.json").version;
// bcrypt of "changeit" (the Admin UI's README example)
const HASH = "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS";

const clients = [];
function track(s) {
  clients.push(s);
  return s;
}
function connected(s) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no connect")), WAIT_MS);
    s.once("connect", () => (clearTimeout(timer), resolve(s)));
    s.once("connect_error", (e) => (clearTimeout(timer), reject(e)));
  });
}
function next(s, event, pred = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event}`)), WAIT_MS);
    const on = (...args) => {
      if (!pred(...args)) return;
      clearTimeout(timer);
      s.off(event, on);
      resolve(args);
    };
    s.on(event, on);
  });
}
const admin = (node, auth, opts = {}) =>
  track(io(`${node.url}/admin`, { forceNew: true, reconnection: false, auth, ...opts }));
const user = (node, name) =>
  track(io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user: name } }));

/** ui/dist on its own origin, as a team would host it. */
function serveUi() {
  const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png",
    ".svg": "image/svg+xml", ".map": "application/json" };
  const server = createServer((req, res) => {
    let p = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (p.endsWith("/")) p += "index.html";
    const file = path.join(UI_DIST, path.normalize(p));
    if (!file.startsWith(UI_DIST) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

describe(`the Socket.IO Admin UI ${UI_VERSION}`, { timeout: 180_000 }, () => {
  let redis, n1, n2, prod, ui, uiUrl, browser;
  before(async () => {
    redis = await startRedis();
    ui = await serveUi();
    uiUrl = `http://127.0.0.1:${ui.address().port}`;
    const flags = ["--app", "chat", "--allow-anonymous", "--redis", redis.url, "--admin-ui", "--admin-ui-user", "admin",
      "--admin-ui-password-hash", HASH, "--admin-ui-mode", "development", "--cors-origin", uiUrl, "--cors-credentials",
      "--ping-interval", "5000", "--ping-timeout", "5000"];
    [n1, n2, prod] = await Promise.all([startChatnode(flags), startChatnode(flags),
      startChatnode(["--app", "chat", "--allow-anonymous", "--admin-ui"])]);
    await busUp(n1, n2);
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });
  after(async () => {
    for (const s of clients) s.close();
    await browser?.close();
    await new Promise((resolve) => (ui ? ui.close(resolve) : resolve()));
    await stopAll(n1, n2, prod);
    await redis?.stop();
  });

  it("signs in with the password, gives a session id that signs in again, refuses anything else", async () => {
    const bad = admin(n1, { username: "admin", password: "wrong" });
    await assert.rejects(connected(bad), { message: "invalid credentials" });
    const nobody = admin(n1, { username: "eve", password: "changeit" });
    await assert.rejects(connected(nobody), { message: "invalid credentials" });
    await assert.rejects(connected(admin(n1, {})), { message: "invalid credentials" });
    await assert.rejects(connected(admin(n1, { sessionId: "0123456789abcdef" })), { message: "invalid credentials" });

    const a = admin(n1, { username: "admin", password: "changeit" });
    const session = next(a, "session");
    const config = next(a, "config");
    await connected(a);
    const [id] = await session;
    assert.match(id, /^[0-9a-f]{16}$/);
    const [{ supportedFeatures }] = await config;
    assert.deepEqual(supportedFeatures, ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT",
      "AGGREGATED_EVENTS", "ALL_EVENTS"]);
    const again = admin(n1, { sessionId: id });
    await connected(again);
    again.close();
    a.close();
  });

  it("chatnode --hash-password makes a bcrypt hash that bcryptjs (the UI server's) accepts", async () => {
    const bcrypt = require("bcryptjs");
    const password = "correct horse ünïcödé 🐎";
    const hash = execFileSync(chatnodeBin(), ["--hash-password"], { input: `${password}\n`, encoding: "utf8" }).trim();
    assert.match(hash, /^\$2b\$10\$[./A-Za-z0-9]{53}$/);
    assert.equal(bcrypt.compareSync(password, hash), true);
    assert.equal(bcrypt.compareSync("correct horse", hash), false);
    assert.throws(() => execFileSync(chatnodeBin(), ["--hash-password"], { input: "\n", stdio: "pipe" }), /status 1|empty/);
    // and a node with a malformed hash does not start
    await assert.rejects(startChatnode(["--admin-ui", "--admin-ui-user", "a", "--admin-ui-password-hash", "changeit"]),
      /must be a bcrypt hash/);
  });

  it("checks one password at a time per address: a flood of sign-ins is refused, not queued", async () => {
    const bcrypt = require("bcryptjs");
    // a slow hash (cost 14: about a second a check) so that the sign-ins overlap
    const slow = await startChatnode(["--app", "chat", "--allow-anonymous", "--admin-ui", "--admin-ui-user", "admin",
      "--admin-ui-password-hash", bcrypt.hashSync("changeit", 14)]);
    try {
      const tries = Array.from({ length: 5 }, () => admin(slow, { username: "admin", password: "changeit" }));
      const results = await Promise.allSettled(tries.map((s) => connected(s)));
      const refused = results.filter((r) => r.status === "rejected").map((r) => r.reason.message);
      assert.ok(results.some((r) => r.status === "fulfilled"), "one is checked and admitted");
      assert.ok(refused.length >= 1 && refused.every((m) => m === "too many sign-ins at once: try again"),
        JSON.stringify(refused));
      // a wrong password, an empty one, a user name that is not UTF-8 once escaped: refused
      for (const auth of [{ username: "admin", password: "" }, { username: "adm\udc00in", password: "changeit" },
        { username: ["admin"], password: "changeit" }]) {
        await assert.rejects(connected(admin(slow, auth)), { message: "invalid credentials" }, JSON.stringify(auth));
      }
    } finally {
      await slow.stop();
    }
  });

  it("without a user the namespace is open, with a warning; production mode has no live updates", async () => {
    assert.match(prod.stderr(), /Admin UI's \/admin namespace is open to anyone/);
    const a = admin(prod, {});
    const config = next(a, "config");
    await connected(a);
    assert.deepEqual((await config)[0].supportedFeatures, ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE",
      "MDISCONNECT", "AGGREGATED_EVENTS"]);
    const [stats] = await next(a, "server_stats");
    assert.equal(stats.serverId, `n${prod.port}`);
    assert.deepEqual(stats.namespaces.map((n) => n.name).sort(), ["/", "/admin"]);
    a.close();
  });

  it("sends each node's server_stats across the cluster, all_sockets of both nodes, and live updates", async () => {
    const ann = await connected(user(n1, "ann"));
    const bob = await connected(user(n2, "bob"));
    await ann.timeout(WAIT_MS).emitWithAck("join", { room: "lobby" });
    await bob.timeout(WAIT_MS).emitWithAck("join", { room: "lobby" });
    const a = admin(n1, { username: "admin", password: "changeit" });
    const all = next(a, "all_sockets");
    const seen = new Set();
    a.on("server_stats", (stats) => seen.add(stats.serverId));
    await connected(a);
    const [sockets] = await all;
    const byId = Object.fromEntries(sockets.map((s) => [s.id, s]));
    for (const s of [ann, bob]) {
      assert.ok(byId[s.id], `${s.id} listed (${sockets.length} sockets)`);
      assert.equal(byId[s.id].nsp, "/");
      assert.ok(byId[s.id].rooms.includes("lobby"));
      assert.equal(typeof byId[s.id].handshake.issued, "number");
    }
    await eventually(() => seen.has(`n${n1.port}`) && seen.has(`n${n2.port}`), WAIT_MS, "server_stats of both nodes");
    // /admin keeps no recovery log: another node's broadcasts there are delivered as they come,
    // not held for a logged copy (which never comes) as the chat's would be
    for (const node of [n1, n2]) {
      const { recovery } = JSON.parse((await httpRequest(`${node.url}/healthz`)).body);
      assert.deepEqual([recovery.foreign_logged, recovery.foreign_unlogged, recovery.foreign_held], [0, 0, 0],
        `node ${node.port}: ${JSON.stringify(recovery)}`);
    }

    // live: a socket on the other node connects, joins, sends; the admin on n1 hears it all
    const connectedEv = next(a, "socket_connected", (s) => s.handshake && s.nsp === "/" && s.id !== ann.id && s.id !== bob.id);
    const cy = await connected(user(n2, "cy"));
    const [doc] = await connectedEv;
    assert.equal(doc.id, cy.id);
    assert.equal(doc.clientId, cy.id.slice(0, 12), "the client id the UI groups sockets by, as all_sockets has it");
    assert.equal(byId[ann.id].clientId, ann.id.slice(0, 12));
    const joined = next(a, "room_joined", (nsp, room, id) => id === cy.id && room === "lobby");
    const received = next(a, "event_received", (nsp, id, args) => id === cy.id && args[0] === "join");
    await cy.timeout(WAIT_MS).emitWithAck("join", { room: "lobby" });
    await joined;
    const [, , args] = await received;
    assert.deepEqual(args, ["join", { room: "lobby" }]);
    const cyId = cy.id; // the client forgets it when closed
    const gone = next(a, "socket_disconnected", (nsp, id) => id === cyId);
    const leftRooms = new Set();
    a.on("room_left", (nsp, room, id) => id === cyId && leftRooms.add(room));
    cy.close();
    const [nsp, , reason] = await gone;
    assert.equal(nsp, "/");
    assert.equal(reason, "client namespace disconnect");
    // and out of every room, its own included, so that the UI's room list forgets it
    await eventually(() => ["lobby", cyId, "user:guest:cy"].every((r) => leftRooms.has(r)), WAIT_MS,
      "room_left for each of its rooms");
    a.close();
  });

  it("applies join, leave, emit and _disconnect across the cluster", async () => {
    const dee = await connected(user(n2, "dee"));
    const a = admin(n1, { username: "admin", password: "changeit" });
    await connected(a);
    const joined = next(a, "room_joined", (nsp, room, id) => id === dee.id && room === "vip");
    a.emit("join", "/", "vip", dee.id);
    await joined;
    const left = next(a, "room_left", (nsp, room, id) => id === dee.id && room === "vip");
    a.emit("leave", "/", "vip", dee.id);
    await left;
    // a reserved name is not emitted (a client would take it as a protocol error and leave)
    a.emit("emit", "/", dee.id, "disconnect", "no");
    a.emit("emit", "/", null, "connect");
    const hello = next(dee, "hello");
    a.emit("emit", "/", dee.id, "hello", "from the admin", { n: 1 }, Buffer.from([1, 2, 3]));
    const got = await hello;
    assert.deepEqual(got.slice(0, 2), ["from the admin", { n: 1 }]);
    assert.deepEqual([...got[2]], [1, 2, 3], "binary arguments go with it");
    assert.equal(dee.connected, true);
    const bye = next(dee, "disconnect");
    a.emit("_disconnect", "/", false, dee.id);
    assert.equal((await bye)[0], "io server disconnect");
    // close as JavaScript counts it: "yes" is true, 0 is false
    const eli = await connected(user(n2, "eli"));
    const eliGone = next(eli, "disconnect");
    a.emit("_disconnect", "/", 0, "nobody-at-all");
    a.emit("_disconnect", "/", "yes", eli.id);
    assert.equal((await eliGone)[0], "transport close", "the whole connection closed");
    // a namespace that does not exist, or arguments of the wrong kind, change nothing
    a.emit("_disconnect", "/nope", true);
    a.emit("join", "/", 42, null);
    a.emit("leave");
    const still = await connected(user(n1, "still"));
    assert.equal(still.connected, true);
    a.close();
  });

  it("works in Chromium: both servers, the sockets and rooms of both nodes, a disconnect from the page", async () => {
    const eve = await connected(user(n1, "eve"));
    const fay = await connected(user(n2, "fay"));
    await eve.timeout(WAIT_MS).emitWithAck("join", { room: "garden" });
    await fay.timeout(WAIT_MS).emitWithAck("join", { room: "garden" });
    mkdirSync(artifacts, { recursive: true });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    // the page's web fonts and icon font are on CDNs this machine does not reach
    await context.route(/^https:\/\//, (route) => route.abort());
    const page = await context.newPage();
    const shot = (name) => page.screenshot({ path: path.join(artifacts, name), animations: "disabled" });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${uiUrl}/`);
    await page.getByLabel("Server URL").fill(n1.url);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("wrong");
    await page.getByRole("button", { name: "Connect" }).click();
    await page.locator(".v-dialog--active").getByText("Invalid credentials").waitFor({ timeout: WAIT_MS });
    await shot("39_admin-ui-0-refused.png");
    await page.getByLabel("Password").fill("changeit");
    await page.getByRole("button", { name: "Connect" }).click();
    const chip = page.locator("header .d-lg-flex .v-chip");
    await eventually(async () => (await chip.innerText()).trim() === "CONNECTED", WAIT_MS, "the status chip to say CONNECTED");
    await page.locator(".v-dialog--active").waitFor({ state: "detached", timeout: WAIT_MS });
    // the dashboard counts both servers healthy once each has sent its stats
    await eventually(async () => /HEALTHY\s+2\b/.test(await page.locator("main").innerText()), WAIT_MS,
      "the dashboard to count two healthy servers");
    await shot("39_admin-ui-1-dashboard.png");

    await page.goto(`${uiUrl}/#/servers/`);
    const rows = page.locator("main table tbody tr");
    await eventually(async () => {
      const text = (await rows.allInnerTexts()).join("\n");
      return text.includes(`n${n1.port}`) && text.includes(`n${n2.port}`) && (text.match(/HEALTHY/g) ?? []).length >= 2;
    }, WAIT_MS, "both chatnodes listed as healthy servers");
    await shot("39_admin-ui-2-servers.png");

    await page.goto(`${uiUrl}/#/sockets/`);
    await eventually(async () => {
      const text = (await rows.allInnerTexts()).join("\n");
      return text.includes(eve.id) && text.includes(fay.id);
    }, WAIT_MS, "the sockets of both nodes listed");
    await shot("39_admin-ui-3-sockets.png");

    await page.goto(`${uiUrl}/#/rooms/`);
    await eventually(async () => (await rows.allInnerTexts()).some((r) => /garden/.test(r) && /\b2\b/.test(r)),
      WAIT_MS, "the room garden with its two sockets");
    await shot("39_admin-ui-4-rooms.png");

    // fay is on n2, the page on n1: the disconnect goes through the cluster
    await page.goto(`${uiUrl}/#/sockets/`);
    const row = rows.filter({ hasText: fay.id });
    await row.waitFor({ timeout: WAIT_MS });
    const bye = next(fay, "disconnect");
    await row.locator("button:has(i.mdi-logout)").click();
    assert.equal((await bye)[0], "io server disconnect");
    await page.goto(`${uiUrl}/#/sockets/`);
    await eventually(async () => !(await rows.allInnerTexts()).join("\n").includes(fay.id), WAIT_MS, "fay gone from the list");
    assert.ok((await rows.allInnerTexts()).join("\n").includes(eve.id), "eve still listed");
    await shot("39_admin-ui-5-after-disconnect.png");
    assert.deepEqual(errors, [], "no error in the page");
    await context.close();
  });
});
