// The admin dashboard in Chromium (playwright-core) against adminnode, a chatnode and Redis:
// sign in with a key, see two live nodes, rooms and online users, broadcast, kick a user and
// send a room message from the page. Screenshots go to tests/artifacts/. Exercises
// web/admin/* and the REST API behind it.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";
import { startChatnode, startAdminnode, startRedis, stopAll, eventually, httpRequest, waitFor, WAIT_MS } from "./lib/harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = path.resolve(here, "../artifacts");
const KEY = "dashboard-admin-key-0123456789";
let redis, node, node2, admin, browser;
const clients = [];

describe("the admin dashboard in Chromium", { timeout: 120_000 }, () => {
  before(async () => {
    redis = await startRedis();
    const flags = ["--allow-anonymous", "--redis", redis.url, "--ping-interval", "5000", "--ping-timeout", "5000"];
    [node, node2] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
    admin = await startAdminnode(["--redis", redis.url], { ADMINNODE_API_KEYS: `${KEY}:admin` });
    await eventually(async () => JSON.parse((await httpRequest(`${node.url}/healthz`)).body).bus?.subscriber === "connected", WAIT_MS);
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });
  after(async () => {
    clients.forEach((c) => c.close());
    await browser?.close();
    await stopAll(node, node2, admin);
    await redis?.stop();
  });

  it("shows nodes, rooms and users, and kicks a user and messages a room from the page", async () => {
    for (const name of ["alice", "bob"]) {
      const c = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user: name } });
      await waitFor(c, "connect");
      await c.emitWithAck("join", { room: "lobby" });
      clients.push(c);
    }
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(admin.url + "/");
    await page.fill("#key", KEY);
    await page.press("#key", "Enter");
    await page.waitForSelector("#nodes tbody tr", { timeout: WAIT_MS });
    await page.waitForFunction(() => document.querySelector("#rooms")?.textContent.includes("lobby"), null, { timeout: WAIT_MS });
    await page.waitForFunction(() => document.querySelector("#users")?.textContent.includes("bob"), null, { timeout: WAIT_MS });
    await page.waitForFunction(() => document.querySelectorAll("#nodes tbody tr").length === 2, null, { timeout: WAIT_MS });
    assert.match(await page.textContent("#nodes"), /up/);
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, "33_dashboard-1-overview.png") });

    const [alice, bob] = clients;
    const onOther = io(node2.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user: "cy" } });
    await waitFor(onOther, "connect");
    clients.push(onOther);
    const announced = waitFor(onOther, "announcement");
    await page.fill("#broadcast [name=text]", "the dashboard says hi");
    await page.click("#broadcast button");
    assert.deepEqual(await announced, ["the dashboard says hi"]);

    const message = waitFor(alice, "message");
    await page.fill("#room-message [name=room]", "lobby");
    await page.fill("#room-message [name=text]", "hello from the dashboard");
    await page.click("#room-message button");
    const [m] = await message;
    assert.equal(m.text, "hello from the dashboard");
    assert.equal(m.from.id, "system");

    const kicked = waitFor(bob, "kicked");
    const row = page.locator("#users tbody tr", { hasText: "bob" });
    await row.locator("button").click();
    assert.ok((await kicked)[0].reason);
    await page.waitForFunction(() => !document.querySelector("#users")?.textContent.includes("bob"), null, { timeout: WAIT_MS });
    await page.screenshot({ path: path.join(artifacts, "33_dashboard-2-after-kick.png") });
    await page.close();
  });
});
