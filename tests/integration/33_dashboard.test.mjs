// The admin dashboard in Chromium (playwright-core) against adminnode, a chatnode and Redis:
// sign in with a key, see two live nodes, rooms and online users, broadcast, kick a user and
// send a room message from the page; drain and undrain a node with the Drain/Undrain button of
// its row and with the drain form, disconnect a user with the form, and see a refused action's
// error; list the webhook endpoints. Screenshots go to tests/artifacts/. Exercises web/admin/* and the REST API behind it.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";
import { startChatnode, startAdminnode, startRedis, stopAll, eventually, httpRequest, waitFor, WAIT_MS } from "./lib/harness.mjs";
import { withoutOffset } from "./lib/clients.mjs";

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
    assert.deepEqual(withoutOffset(await announced), ["the dashboard says hi"]); // recovery is on: an offset ends it

    const message = waitFor(alice, "message");
    await page.fill("#room-message [name=room]", "lobby");
    await page.fill("#room-message [name=text]", "hello from the dashboard");
    await page.click("#room-message button");
    const [m] = await message;
    assert.equal(m.text, "hello from the dashboard");
    assert.equal(m.from.id, "system");

    // the page refreshes its tables every 2 s; a row's button stays the same element, so a
    // click (press and release) that spans a refresh still lands
    const bobButton = () => [...document.querySelectorAll("#users tbody tr")].find((r) => r.textContent.includes("bob"))?.querySelector("button");
    await page.evaluate(`window.marked = (${bobButton})()`); // held by the page, not an attribute
    for (let i = 0; i < 2; i++) await page.waitForResponse((r) => r.url().includes("/api/v1/users"), { timeout: WAIT_MS });
    await page.waitForTimeout(200); // the second refresh drawn
    assert.ok(await page.evaluate(`window.marked.isConnected && window.marked === (${bobButton})()`), "bob's button kept through refreshes");

    const kicked = waitFor(bob, "kicked");
    let bobGone = null;
    bob.once("disconnect", (reason) => (bobGone = reason));
    const row = page.locator("#users tbody tr", { hasText: "bob" });
    await row.locator("button").click();
    const [why] = await kicked.catch(async (err) => {
      // what the page was told, and whether the disconnect came without the event
      const result = await page.textContent("#result").catch(() => "?");
      throw new Error(`${err.message}; page: ${JSON.stringify(result)}; bob disconnected: ${bobGone}`);
    });
    assert.ok(why.reason);
    await page.waitForFunction(() => !document.querySelector("#users")?.textContent.includes("bob"), null, { timeout: WAIT_MS });
    await page.screenshot({ path: path.join(artifacts, "33_dashboard-2-after-kick.png") });
    await page.close();
  });

  it("lists the webhook endpoints with their delivery figures", async () => {
    const auth = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };
    const added = await httpRequest(`${admin.url}/api/v1/webhooks`, {
      method: "POST", headers: auth,
      body: JSON.stringify({ id: "dash-hook", url: "http://127.0.0.1:9/hook", events: ["message"], secret: "s" }),
    });
    assert.equal(added.status, 201, added.body);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(admin.url + "/");
    await page.fill("#key", KEY);
    await page.press("#key", "Enter");
    await page.waitForFunction(() => document.querySelector("#webhooks tbody")?.textContent.includes("dash-hook"), null, { timeout: WAIT_MS });
    const row = await page.textContent("#webhooks tbody tr");
    assert.match(row, /http:\/\/127\.0\.0\.1:9\/hook/);
    assert.match(row, /message/);
    assert.match(row, /api/);
    assert.doesNotMatch(await page.content(), /"s"|secret/i);
    assert.match(await page.textContent("#webhooks-summary"), /1 endpoint/);
    await page.screenshot({ path: path.join(artifacts, "33_dashboard-webhooks.png") });
    await page.close();
    assert.equal((await httpRequest(`${admin.url}/api/v1/webhooks/dash-hook`, { method: "DELETE", headers: auth })).status, 200);
  });

  it("drains and undrains a node from its row and from the form, and disconnects a user with the form", async () => {
    const nodes = await eventually(async () => {
      const list = JSON.parse((await httpRequest(`${admin.url}/api/v1/nodes`, { headers: { authorization: `Bearer ${KEY}` } })).body).nodes;
      return list.length === 2 && list;
    }, WAIT_MS, "both nodes listed by adminnode");
    const idOf = (n) => nodes.find((x) => x.tag === `n${n.port}`).id;
    const [id1, id2] = [idOf(node), idOf(node2)];
    const stateOf = async (id) =>
      JSON.parse((await httpRequest(`${admin.url}/api/v1/nodes/${id}`, { headers: { authorization: `Bearer ${KEY}` } })).body).state;
    const connect = async (n, name) => {
      const c = io(n.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { user: name } });
      await waitFor(c, "connect");
      clients.push(c);
      return c;
    };
    const dan = await connect(node, "dan");
    const eve = await connect(node2, "eve");

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(admin.url + "/");
    await page.fill("#key", KEY);
    await page.press("#key", "Enter");
    await page.waitForFunction(() => document.querySelectorAll("#nodes tbody tr").length === 2, null, { timeout: WAIT_MS });
    const result = (text) => page.waitForFunction((t) => document.querySelector("#result")?.textContent === t, text, { timeout: WAIT_MS });
    const row = (id) => page.locator("#nodes tbody tr", { hasText: id });

    // the row's Drain button: the node refuses new sessions and moves its client off
    const moved = waitFor(dan, "disconnect");
    await row(id1).locator("button", { hasText: "Drain" }).click();
    await result(`${id1} is draining`);
    assert.equal((await moved)[0], "transport close");
    assert.equal(await stateOf(id1), "draining");
    assert.equal((await httpRequest(`${node.url}/socket.io/?EIO=4&transport=polling`)).status, 503);
    // the row now shows the state and offers Undrain
    await row(id1).locator("button", { hasText: "Undrain" }).waitFor({ timeout: WAIT_MS });
    assert.match(await row(id1).textContent(), /draining/);
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, "33_dashboard-3-draining.png") });
    await row(id1).locator("button", { hasText: "Undrain" }).click();
    await result(`${id1} accepts sessions again`);
    assert.equal(await stateOf(id1), "up");
    await row(id1).locator("button", { hasText: "Drain" }).waitFor({ timeout: WAIT_MS });
    assert.equal((await httpRequest(`${node.url}/socket.io/?EIO=4&transport=polling`)).status, 200);

    // the form: Drain, then Undrain, by node id
    const movedToo = waitFor(eve, "disconnect");
    await page.fill("#drain [name=id]", id2);
    await page.click("#drain button[value=drain]");
    await result(`${id2} is draining`);
    assert.equal((await movedToo)[0], "transport close");
    assert.equal(await stateOf(id2), "draining");
    await page.click("#drain button[value=undrain]");
    await result(`${id2} accepts sessions again`);
    assert.equal(await stateOf(id2), "up");

    // a refused action shows the API's error
    await page.fill("#drain [name=id]", "nosuch");
    await page.click("#drain button[value=drain]");
    await page.waitForFunction(() => /^Failed: .*HTTP 404, not_found/.test(document.querySelector("#result")?.textContent), null, { timeout: WAIT_MS });

    // the disconnect form: every socket of the user is kicked
    const fay = await connect(node, "fay");
    const fay2 = await connect(node2, "fay");
    const kicked = [waitFor(fay, "kicked"), waitFor(fay2, "kicked")];
    const gone = [waitFor(fay, "disconnect"), waitFor(fay2, "disconnect")];
    await page.fill("#kick [name=user]", "guest:fay");
    await page.click("#kick button");
    await result("guest:fay disconnected");
    for (const [k] of await Promise.all(kicked)) assert.ok(k.reason);
    await Promise.all(gone);
    await page.close();
  });
});
