// Socket.IO v5 conformance, byte by byte, over raw WebSockets and raw HTTP long-polling,
// against `chatnode --app echo` (the protocol's reference server) with the reference timings.
// Engine.IO pings are answered by the helpers and kept out of the way, so every packet a test
// reads is one the Socket.IO layer sent.
// Exercises chatnode/sio.c, app_echo.c and, underneath, eio_session.c.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  startChatnode,
  stopAll,
  REFERENCE_FLAGS,
  PollingClient,
  openWsSession,
  eventually,
  assertPollingClosed,
  SEP,
} from "./lib/harness.mjs";

const PATH = "/socket.io/";
const CONNECT_TIMEOUT = 1000;

let srv;

/** Parses a CONNECT answer `40[<nsp>,]{"sid":...}`, checks it, and returns the socket id. */
function assertConnected(packet, nsp = "/") {
  const prefix = nsp === "/" ? "40" : `40${nsp},`;
  assert.equal(typeof packet, "string");
  assert.ok(packet.startsWith(prefix), `expected ${prefix}{...}, got ${JSON.stringify(packet)}`);
  const data = JSON.parse(packet.slice(prefix.length));
  assert.deepEqual(Object.keys(data), ["sid"]);
  assert.equal(typeof data.sid, "string");
  assert.ok(data.sid.length > 0);
  return data.sid;
}

/** A raw WebSocket session connected to the main namespace (CONNECT and "auth" consumed). */
async function connectedWs() {
  const { sock, handshake } = await openWsSession(srv.wsUrl, PATH);
  sock.send("40");
  assertConnected(await sock.next());
  assert.equal(await sock.next(), '42["auth",{}]');
  return { sock, handshake };
}

const bytes = (buf) => (Buffer.isBuffer(buf) ? [...buf] : `not binary: ${JSON.stringify(buf)}`);

describe("Socket.IO v5 conformance (echo app)", { timeout: 120_000 }, () => {
  before(async () => {
    srv = await startChatnode(["--app", "echo", "--echo-test-events", "--path", PATH, ...REFERENCE_FLAGS]);
  });
  after(() => stopAll(srv));

  describe("connect (websocket)", () => {
    it("connects to the main namespace; the echo app emits the empty auth", async () => {
      const { sock, handshake } = await openWsSession(srv.wsUrl, PATH);
      try {
        sock.send("40");
        const sid = assertConnected(await sock.next());
        assert.notEqual(sid, handshake.sid, "the Socket.IO id must differ from the Engine.IO sid");
        assert.equal(await sock.next(), '42["auth",{}]');
      } finally {
        sock.close();
      }
    });

    it("connects to the main namespace with an auth payload", async () => {
      const { sock } = await openWsSession(srv.wsUrl, PATH);
      try {
        sock.send('40{"token":"123"}');
        assertConnected(await sock.next());
        assert.equal(await sock.next(), '42["auth",{"token":"123"}]');
      } finally {
        sock.close();
      }
    });

    it("connects to a custom namespace", async () => {
      const { sock } = await openWsSession(srv.wsUrl, PATH);
      try {
        sock.send("40/custom,");
        assertConnected(await sock.next(), "/custom");
        assert.equal(await sock.next(), '42/custom,["auth",{}]');
      } finally {
        sock.close();
      }
    });

    it("connects to a custom namespace with an auth payload", async () => {
      const { sock } = await openWsSession(srv.wsUrl, PATH);
      try {
        sock.send('40/custom,{"token":"abc"}');
        assertConnected(await sock.next(), "/custom");
        assert.equal(await sock.next(), '42/custom,["auth",{"token":"abc"}]');
      } finally {
        sock.close();
      }
    });

    it("refuses an unknown namespace with CONNECT_ERROR and keeps the connection", async () => {
      const { sock } = await openWsSession(srv.wsUrl, PATH);
      try {
        sock.send("40/random");
        assert.equal(await sock.next(), '44/random,{"message":"Invalid namespace"}');
        sock.send("40");
        assertConnected(await sock.next());
        assert.equal(await sock.next(), '42["auth",{}]');
      } finally {
        sock.close();
      }
    });

    it("connects two namespaces over one connection, each with its own auth", async () => {
      const { sock } = await openWsSession(srv.wsUrl, PATH);
      try {
        sock.send('40{"who":"main"}');
        const a = assertConnected(await sock.next());
        assert.equal(await sock.next(), '42["auth",{"who":"main"}]');
        sock.send('40/custom,{"who":"custom"}');
        const b = assertConnected(await sock.next(), "/custom");
        assert.equal(await sock.next(), '42/custom,["auth",{"who":"custom"}]');
        assert.notEqual(a, b);
        // an ack in the custom namespace carries the namespace and the id
        sock.send('42/custom,7["join","r41"]');
        assert.equal(await sock.next(), "43/custom,7[]");
        sock.send('421["message-with-ack","main"]');
        assert.equal(await sock.next(), '431["main"]');
      } finally {
        sock.close();
      }
    });

    it("closes the connection when the first packet is not a valid CONNECT", async () => {
      const { sock } = await openWsSession(srv.wsUrl, PATH);
      sock.send("4abc");
      await sock.waitClose();
    });

    it("closes the connection when no CONNECT arrives within connectTimeout", async () => {
      const { sock } = await openWsSession(srv.wsUrl, PATH);
      const t0 = Date.now();
      await sock.waitClose();
      // pings were answered, so only the connect timeout can have closed it (never early)
      assert.ok(Date.now() - t0 >= CONNECT_TIMEOUT * 0.8, `closed after ${Date.now() - t0} ms`);
      assert.equal(sock.queue.length, 0);
    });
  });

  describe("disconnect (websocket)", () => {
    it("a DISCONNECT from the main namespace gets no answer and keeps the connection", async () => {
      const { sock } = await connectedWs();
      try {
        sock.send("41");
        const pings = sock.pings;
        // a ping after the DISCONNECT shows that the Engine.IO session is alive
        await eventually(() => sock.pings > pings, 5000, "a ping after the DISCONNECT");
        assert.deepEqual(sock.queue, []);
        assert.ok(sock.isOpen);
        // and the namespace can be joined again
        sock.send("40");
        assertConnected(await sock.next());
        assert.equal(await sock.next(), '42["auth",{}]');
      } finally {
        sock.close();
      }
    });

    it("connects then disconnects a custom namespace; the main one keeps working", async () => {
      const { sock } = await connectedWs();
      try {
        sock.send("40/custom,");
        assertConnected(await sock.next(), "/custom");
        assert.equal(await sock.next(), '42/custom,["auth",{}]');
        sock.send("41/custom,");
        sock.send('42["message","to the main namespace"]');
        assert.equal(await sock.next(), '42["message-back","to the main namespace"]');
      } finally {
        sock.close();
      }
    });
  });

  describe("messages (websocket)", () => {
    it("echoes a plain-text event", async () => {
      const { sock } = await connectedWs();
      try {
        sock.send('42["message",1,"2",{"3":[true]}]');
        assert.equal(await sock.next(), '42["message-back",1,"2",{"3":[true]}]');
      } finally {
        sock.close();
      }
    });

    it("echoes a binary event with two attachments as one text frame and two binary frames", async () => {
      const { sock } = await connectedWs();
      try {
        sock.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
        sock.send(Uint8Array.from([1, 2, 3]));
        sock.send(Uint8Array.from([4, 5, 6]));
        const [head, a, b] = await sock.take(3);
        assert.equal(head, '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
        assert.deepEqual(bytes(a), [1, 2, 3]);
        assert.deepEqual(bytes(b), [4, 5, 6]);
      } finally {
        sock.close();
      }
    });

    it("acknowledges an event with the same arguments", async () => {
      const { sock } = await connectedWs();
      try {
        sock.send('42456["message-with-ack",1,"2",{"3":[false]}]');
        assert.equal(await sock.next(), '43456[1,"2",{"3":[false]}]');
      } finally {
        sock.close();
      }
    });

    it("acknowledges a binary event with a binary ack", async () => {
      const { sock } = await connectedWs();
      try {
        sock.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
        sock.send(Uint8Array.from([1, 2, 3]));
        sock.send(Uint8Array.from([4, 5, 6]));
        const [head, a, b] = await sock.take(3);
        assert.equal(head, '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
        assert.deepEqual(bytes(a), [1, 2, 3]);
        assert.deepEqual(bytes(b), [4, 5, 6]);
      } finally {
        sock.close();
      }
    });

    it("takes the client's ACK (text, then binary) for an event the server sent with an id", async () => {
      const { sock } = await connectedWs();
      try {
        sock.send('42["request-ack","a",1]');
        const req = await sock.next();
        const m = /^42(\d+)\["ack-request","a",1\]$/.exec(req);
        assert.ok(m, `expected 42<id>["ack-request","a",1], got ${JSON.stringify(req)}`);
        sock.send(`43${m[1]}["x",{"y":2}]`);
        assert.equal(await sock.next(), '42["ack-response","x",{"y":2}]');

        sock.send('42["request-ack"]');
        const req2 = await sock.next();
        const m2 = /^42(\d+)\["ack-request"\]$/.exec(req2);
        assert.ok(m2, `expected 42<id>["ack-request"], got ${JSON.stringify(req2)}`);
        assert.notEqual(m2[1], m[1], "ack ids must not be reused");
        sock.send(`461-${m2[1]}[{"_placeholder":true,"num":0}]`);
        sock.send(Uint8Array.from([7, 7]));
        const [head, bin] = await sock.take(2);
        assert.equal(head, '451-["ack-response",{"_placeholder":true,"num":0}]');
        assert.deepEqual(bytes(bin), [7, 7]);
      } finally {
        sock.close();
      }
    });

    const invalid = [
      ["an unknown packet type", "4abc"],
      ["an unknown packet type digit", "49[]"],
      ["an event payload that is not an array", "42{}"],
      ["an empty event array", "42[]"],
      ["an event name that is neither string nor number", '42[{"a":1}]'],
      ["an invalid ack id", '42abc["message-with-ack",1,"2",{"3":[false]}]'],
      ["truncated JSON", '42["message",'],
      ["a binary event without an attachment count", '45-["message",{"_placeholder":true,"num":0}]'],
      ["a DISCONNECT with a payload", '41{"a":1}'],
      ["a CONNECT with a non-object payload", '40/custom,"token"'],
      ["a binary frame nobody announced", Uint8Array.from([1, 2, 3])],
    ];
    for (const [what, packet] of invalid) {
      it(`closes the connection upon invalid format: ${what}`, async () => {
        const { sock } = await connectedWs();
        sock.send(packet);
        await sock.waitClose();
      });
    }
  });

  describe("session state and limits (websocket)", () => {
    it("a second CONNECT to a namespace already joined closes the session", async () => {
      const { sock } = await connectedWs();
      sock.send("40");
      await sock.waitClose();
    });

    it("a CONNECT_ERROR sent by the client closes the session", async () => {
      const { sock } = await connectedWs();
      sock.send('44{"message":"nope"}');
      await sock.waitClose();
    });

    it("only the newest 1024 server-to-client acks are remembered", async () => {
      const { sock } = await connectedWs();
      try {
        const N = 1100;
        for (let i = 0; i < N; i++) sock.send(`42["request-ack",${i}]`);
        for (let i = 0; i < N; i++) assert.equal(await sock.next(), `42${i}["ack-request",${i}]`);
        sock.send('430["late"]'); // the oldest was forgotten: no answer
        sock.send(`43${N - 1}["last"]`);
        assert.equal(await sock.next(), '42["ack-response","last"]');
        sock.send(`43${N - 1}["again"]`); // answered once only
        sock.send('42["message","sync"]');
        assert.equal(await sock.next(), '42["message-back","sync"]');
      } finally {
        sock.close();
      }
    });

    it("attachments held for one packet are bounded by --max-queue", async () => {
      const own = await startChatnode(["--app", "echo", "--path", PATH, "--max-queue", "1024", "--recovery-window", "0"]);
      try {
        const { sock } = await openWsSession(own.wsUrl, PATH);
        sock.send("40");
        assertConnected(await sock.next());
        await sock.next(); // auth
        sock.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
        sock.send(Buffer.alloc(800, 1));
        sock.send(Buffer.alloc(800, 2));
        await sock.waitClose();
        // within the bound, the same packet goes through
        const ok = await openWsSession(own.wsUrl, PATH);
        ok.sock.send("40");
        assertConnected(await ok.sock.next());
        await ok.sock.next();
        ok.sock.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
        ok.sock.send(Buffer.alloc(400, 1));
        ok.sock.send(Buffer.alloc(400, 2));
        assert.match(await ok.sock.next(), /^452-\["message-back"/);
        ok.sock.close();
      } finally {
        await own.stop();
      }
    });
  });

  describe("over HTTP long-polling", () => {
    /** A polling session connected to "/" with `auth`; returns the client. */
    async function connectedPolling(auth) {
      const c = await PollingClient.open(srv.url, PATH);
      assert.deepEqual(c.handshake.upgrades, ["websocket"]);
      const post = await c.post(auth ? `40${JSON.stringify(auth)}` : "40");
      assert.equal(post.status, 200);
      assert.equal(post.body, "ok");
      assertConnected(await c.nextPacket());
      assert.equal(await c.nextPacket(), `42["auth",${JSON.stringify(auth ?? {})}]`);
      return c;
    }

    it("connects with an auth payload", async () => {
      await connectedPolling({ token: "123" });
    });

    it("refuses an unknown namespace", async () => {
      const c = await PollingClient.open(srv.url, PATH);
      await c.post("40/random,");
      assert.equal(await c.nextPacket(), '44/random,{"message":"Invalid namespace"}');
    });

    it("echoes a plain-text event and acks one sent in the same payload", async () => {
      const c = await connectedPolling();
      const post = await c.post(`42["message",1,"2",{"3":[true]}]${SEP}4212["message-with-ack","x"]`);
      assert.equal(post.status, 200);
      assert.deepEqual(await c.take(2), ['42["message-back",1,"2",{"3":[true]}]', '4312["x"]']);
    });

    it("echoes binary attachments as base64 packets", async () => {
      const c = await connectedPolling();
      await c.post(`452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]${SEP}bAQID${SEP}bBAUG`);
      assert.deepEqual(await c.take(3), [
        '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
        "bAQID",
        "bBAUG",
      ]);
      await c.post(`451-5["message-with-ack",{"_placeholder":true,"num":0}]${SEP}bAQID`);
      assert.deepEqual(await c.take(2), ['461-5[{"_placeholder":true,"num":0}]', "bAQID"]);
    });

    it("an invalid Socket.IO packet closes the session", async () => {
      const c = await connectedPolling();
      try {
        await c.post("42{}");
      } catch {
        // dropping the connection is acceptable too
      }
      await assertPollingClosed(c);
    });
  });
});
