// The chat page (web/chat, served by chatnode --static) in Debian's Chromium through
// playwright-core, against two chatnodes running the chat app through one Redis: two users
// sign in on different nodes (one by name, one by token), join a room, see each other's
// messages, typing and private messages; a later join shows the history and the presence list.
// Screenshots go to tests/artifacts/. Exercises web/chat/*, chatnode/static_files.c and the
// chat app as a browser uses them.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { chatnodeBin, startChatnode, startRedis, stopAll, eventually, httpRequest, WAIT_MS } from "./lib/harness.mjs";
import { signToken } from "./lib/jwt.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = path.resolve(here, "../artifacts");
const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const SECRET = "secret-of-the-page-test";
const ROOM = "lobby";

const token = (claims) => signToken(claims, SECRET);

/** The page directory of the chatnode under test: its build tree's web/chat. */
function pageDir() {
  const dir = path.resolve(path.dirname(chatnodeBin()), "../web/chat");
  if (!existsSync(path.join(dir, "socket.io.min.js"))) {
    throw new Error(`${dir}/socket.io.min.js is missing: build the chat_page target (cmake --build)`);
  }
  return dir;
}

let redis, tmp, n1, n2, browser, nodeFlags;

async function openPage(node, { recordSockets = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  if (recordSockets) {
    await page.addInitScript(() => {
      const Native = window.WebSocket;
      window.__sockets = [];
      window.WebSocket = class extends Native {
        constructor(...args) {
          super(...args);
          window.__sockets.push(this);
        }
      };
    });
  }
  const problems = [];
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  // Answers that are errors, except on the Engine.IO path: a polling request of a session that
  // just ended is answered 400 there, as by any Socket.IO server.
  page.on("response", (res) => {
    if (res.status() >= 400 && !new URL(res.url()).pathname.startsWith("/socket.io/")) {
      problems.push(`${res.status()} ${res.url()}`);
    }
  });
  page.on("requestfailed", (req) => {
    if (!new URL(req.url()).pathname.startsWith("/socket.io/")) problems.push(`failed: ${req.url()}`);
  });

  page.problems = problems;
  await page.goto(node.url + "/");
  await page.waitForSelector("#signin-form");
  return page;
}

async function signIn(page, { name = "", tok = "" }) {
  await page.fill("#name", name);
  await page.fill("#token", tok);
  await page.click("#signin-btn");
  await page.waitForSelector('#conn[data-state="connected"]', { timeout: WAIT_MS });
  await page.waitForSelector("#chat-view:not([hidden])");
}

async function join(page, room) {
  await page.fill("#room-input", room);
  await page.click("#join-btn");
  await page.waitForSelector(`#room-list li[data-room="${room}"].current`, { timeout: WAIT_MS });
  await page.waitForSelector("#composer-input:not([disabled])");
}

async function send(page, text) {
  await page.fill("#composer-input", text);
  await page.press("#composer-input", "Enter");
  // Sent once the server's answer gave it its id (no longer "pending").
  await page.waitForFunction(
    (t) => [...document.querySelectorAll("#messages li.message:not(.pending)")].some((li) => li.querySelector(".text").textContent === t),
    text,
    { timeout: WAIT_MS },
  );
}

/** The visible conversation's messages as [from, text]. */
function messages(page) {
  return page.$$eval("#messages li.message", (lis) =>
    lis.map((li) => [li.querySelector(".from").textContent, li.querySelector(".text").textContent]),
  );
}

function members(page) {
  return page.$$eval("#member-list li", (lis) => lis.map((li) => li.dataset.user).sort());
}

async function waitForMessage(page, from, text) {
  await eventually(
    async () => (await messages(page)).some(([f, t]) => f === from && t === text),
    WAIT_MS,
    `"${text}" from ${from}`,
  );
}

async function shot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, `15_chat_page-${name}.png`) });
}

describe("the chat page in Chromium, two nodes", { timeout: 180_000 }, () => {
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), "chat-page-"));
    writeFileSync(path.join(tmp, "secret"), SECRET);
    redis = await startRedis();
    const flags = nodeFlags = ["--app", "chat", "--allow-anonymous", "--redis", redis.url, "--static", pageDir(),
      "--jwt-secret-file", path.join(tmp, "secret"), "--ping-interval", "5000", "--ping-timeout", "5000"];
    [n1, n2] = await Promise.all([startChatnode(flags), startChatnode(flags)]);
    for (const n of [n1, n2]) {
      await eventually(async () => {
        const h = JSON.parse((await httpRequest(`${n.url}/healthz`)).body);
        return h.bus?.command === "connected" && h.bus?.subscriber === "connected";
      }, WAIT_MS, "the bus to connect");
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  after(async () => {
    await browser?.close();
    await stopAll(n1, n2);
    await redis?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  let alice, bob;

  it("shows the sign-in form and refuses a token the server cannot check", async () => {
    alice = await openPage(n1);
    assert.equal(await alice.getAttribute("#conn", "data-state"), "disconnected");
    await shot(alice, "1-signin");
    await alice.fill("#token", "not.a.token");
    await alice.click("#signin-btn");
    await alice.waitForSelector("#signin-error:not([hidden])", { timeout: WAIT_MS });
    assert.match(await alice.textContent("#signin-error"), /Sign-in refused: invalid token/);
    assert.equal(await alice.isVisible("#signin-form"), true);
  });

  it("signs in a name on node 1 and a token on node 2", async () => {
    await signIn(alice, { name: "alice" });
    assert.equal(await alice.textContent("#me-name"), "alice");
    bob = await openPage(n2);
    await signIn(bob, { tok: token({ sub: "u-bob", name: "Bob", exp: Math.floor(Date.now() / 1000) + 3600 }) });
    assert.equal(await bob.textContent("#me-name"), "Bob");
    assert.equal(await bob.textContent("#me-id"), "(u-bob)");
  });

  it("exchanges messages in a room across the nodes, with presence and typing", async () => {
    await join(alice, ROOM);
    await send(alice, "first, before Bob is here");
    await join(bob, ROOM);
    // Bob's join brought the history, and both members.
    await waitForMessage(bob, "alice", "first, before Bob is here");
    assert.deepEqual(await members(bob), ["guest:alice", "u-bob"]);
    await eventually(async () => (await members(alice)).join() === "guest:alice,u-bob", WAIT_MS, "Bob in Alice's member list");

    await send(bob, "hi Alice, Bob here");
    await waitForMessage(alice, "Bob", "hi Alice, Bob here");
    await send(alice, "hello Bob, on another node");
    await waitForMessage(bob, "alice", "hello Bob, on another node");
    assert.deepEqual(await messages(alice), await messages(bob));

    // Bob's own messages are his, Alice's are not.
    const mine = await bob.$$eval("#messages li.message.mine .text", (els) => els.map((e) => e.textContent));
    assert.deepEqual(mine, ["hi Alice, Bob here"]);

    await bob.type("#composer-input", "typing…");
    await alice.waitForFunction(() => /Bob is typing/.test(document.getElementById("typing").textContent), null, { timeout: WAIT_MS });
    await shot(alice, "2-room-alice");
    await bob.fill("#composer-input", "");
    await shot(bob, "2-room-bob");
  });

  it("sends private messages to a user id", async () => {
    await alice.fill("#dm-input", "u-bob");
    await alice.click("#dm-btn");
    await alice.waitForSelector('#dm-list li[data-private="u-bob"].current');
    await send(alice, "a word in private");
    // Bob sees a new conversation with an unread badge, then the message in it.
    await bob.waitForSelector('#dm-list li[data-private="guest:alice"] .badge', { timeout: WAIT_MS });
    await bob.click('#dm-list li[data-private="guest:alice"]');
    await waitForMessage(bob, "alice", "a word in private");
    await send(bob, "private answer");
    await waitForMessage(alice, "Bob", "private answer");
    await shot(bob, "3-private-bob");
    await bob.click(`#room-list li[data-room="${ROOM}"]`);
  });

  it("shows the history and the members to a later join", async () => {
    const carol = await openPage(n1);
    await signIn(carol, { name: "carol" });
    await join(carol, ROOM);
    await eventually(async () => (await messages(carol)).length === 3, WAIT_MS, "three messages of history");
    assert.deepEqual(await messages(carol), [
      ["alice", "first, before Bob is here"],
      ["Bob", "hi Alice, Bob here"],
      ["alice", "hello Bob, on another node"],
    ]);
    assert.deepEqual(await members(carol), ["guest:alice", "guest:carol", "u-bob"]);
    await eventually(async () => (await members(bob)).join() === "guest:alice,guest:carol,u-bob", WAIT_MS, "carol in Bob's member list");
    await shot(carol, "4-later-join");

    // Leaving shows on the other node's member list.
    await carol.click("#leave-btn");
    await eventually(async () => (await members(bob)).join() === "guest:alice,u-bob", WAIT_MS, "carol gone from Bob's list");
    assert.deepEqual(carol.problems, []);
    await carol.context().close();
  });

  it("comes back recovered after its connection drops, with the messages it missed", async () => {
    // Carol's page records its WebSockets, so that the test can close them as a network
    // drop would; the page reconnects by itself after its reconnection delay.
    const carol = await openPage(n1, { recordSockets: true });
    await signIn(carol, { name: "carol" });
    await join(carol, ROOM);
    await carol.waitForFunction(() => document.getElementById("conn-detail").textContent === "websocket",
      null, { timeout: WAIT_MS });
    const before = (await messages(carol)).length;
    await alice.click(`#room-list li[data-room="${ROOM}"]`);
    await eventually(async () => (await members(alice)).includes("guest:carol"), WAIT_MS, "Carol in Alice's list");
    const joinedOrLeft = () => alice.$$eval("#messages li.system", (lis) => lis.map((li) => li.textContent));
    await eventually(async () => (await joinedOrLeft()).includes("carol joined"), WAIT_MS, "Carol's arrival shown");
    const notices = await joinedOrLeft();
    await carol.evaluate(() => window.__sockets.forEach((ws) => ws.close()));
    await carol.waitForSelector('#conn[data-state="reconnecting"]', { timeout: WAIT_MS });
    await send(alice, "while Carol was away");
    await carol.waitForSelector('#conn[data-state="connected"]', { timeout: 20_000 });
    assert.match(await carol.textContent("#conn-detail"), /recovered/);
    await waitForMessage(carol, "alice", "while Carol was away");
    await send(bob, "after Carol is back");
    await waitForMessage(carol, "Bob", "after Carol is back");
    const texts = (await messages(carol)).map(([, t]) => t);
    assert.equal(texts.length, before + 2, JSON.stringify(texts));
    assert.equal(texts.filter((t) => t === "while Carol was away").length, 1);
    assert.deepEqual(await joinedOrLeft(), notices, "no one saw Carol leave or join again");
    await shot(carol, "5-recovered");
    assert.deepEqual(carol.problems, []);
    await carol.context().close();
  });

  it("sends a message cut off by a lost connection again once back, stored once", async () => {
    // Bob's node stops answering (SIGSTOP), Bob sends, the node dies with the message unread
    // and comes back on the same port: the page reconnects, joins again and resends.
    await alice.click(`#room-list li[data-room="${ROOM}"]`);
    n2.pause();
    await bob.fill("#composer-input", "sent as the node died");
    await bob.press("#composer-input", "Enter");
    await bob.waitForSelector("#messages li.message.pending", { timeout: WAIT_MS });
    process.kill(n2.pid, "SIGKILL");
    await n2.exited;
    await bob.waitForSelector('#conn[data-state="reconnecting"]', { timeout: WAIT_MS });
    n2 = await startChatnode([...nodeFlags, "--port", String(n2.port)]);
    await bob.waitForSelector('#conn[data-state="connected"]', { timeout: 20_000 });
    await waitForMessage(alice, "Bob", "sent as the node died").catch(async (err) => {
      await shot(bob, "6-resend-failed");
      throw new Error(`${err.message}; Bob's page: ${await bob.getAttribute("#conn", "data-state")}, ` +
        `error "${await bob.textContent("#chat-error")}", messages ${JSON.stringify(await messages(bob))}`);
    });
    await bob.waitForFunction(() => document.querySelectorAll("#messages li.message.pending").length === 0, null, { timeout: WAIT_MS });
    assert.equal(await bob.isVisible("#chat-error"), false, await bob.textContent("#chat-error"));
    const count = async (page) => (await messages(page)).filter(([, t]) => t === "sent as the node died").length;
    assert.equal(await count(alice), 1);
    assert.equal(await count(bob), 1);
  });

  it("shows the connection state when the node goes away", async () => {
    await n2.stop();
    await bob.waitForSelector('#conn:is([data-state="reconnecting"],[data-state="disconnected"])', { timeout: WAIT_MS });
    await shot(bob, "5-node-gone");
    assert.deepEqual(alice.problems, []);
  });
});
