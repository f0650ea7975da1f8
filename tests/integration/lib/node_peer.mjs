// The Node.js peer for cluster tests: a socket.io 4.8 server with @socket.io/redis-adapter 8.x
// on a given Redis, serving the same echo events as `chatnode --app echo`, in the test process.
// adapter "classic" is createAdapter (PUBLISH/PSUBSCRIBE, the `key` prefix) on a redis:// URL;
// "sharded" is createShardedAdapter (SPUBLISH/SSUBSCRIBE, `key` as its channelPrefix) on a
// redis:// URL (Redis 7) or, over node-redis's cluster client, on a
// redis+cluster://[user:password@]host:port[,host:port...] URL.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createClient, createCluster } from "redis";

/** A connected node-redis client for url: a cluster client for redis+cluster://. */
async function redisClient(url) {
  const m = /^redis\+cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+)\/?$/.exec(url);
  let client;
  if (m) {
    const defaults = {};
    if (m[1]) defaults.username = decodeURIComponent(m[1]);
    if (m[2] !== undefined) defaults.password = decodeURIComponent(m[2]);
    client = createCluster({ rootNodes: m[3].split(",").map((seed) => ({ url: `redis://${seed}` })), defaults });
  } else {
    client = createClient({ url });
  }
  client.on("error", () => {});
  await client.connect();
  return client;
}

/**
 * Starts the peer; resolves with { io, port, url, close() }. subscriptionMode ("static",
 * "dynamic" or "dynamic-private") is for the sharded adapter; requestsTimeout for the classic.
 */
export async function startNodePeer({ redisUrl, key = "socket.io", requestsTimeout = 5000, adapter = "classic",
  subscriptionMode = "dynamic" }) {
  if (adapter !== "classic" && adapter !== "sharded") throw new Error(`unknown adapter ${adapter}`);
  if (adapter === "classic" && redisUrl.startsWith("redis+cluster:")) throw new Error("the classic adapter needs a redis:// URL");
  const pub = await redisClient(redisUrl);
  const sub = pub.duplicate();
  sub.on("error", () => {});
  await sub.connect();
  const http = createServer();
  const io = new Server(http, {
    adapter: adapter === "sharded"
      ? createShardedAdapter(pub, sub, { channelPrefix: key, subscriptionMode })
      : createAdapter(pub, sub, { key, requestsTimeout }),
    pingInterval: 5000,
    pingTimeout: 5000,
  });
  const onConnection = (socket) => {
    socket.emit("auth", socket.handshake.auth);
    socket.on("message", (...args) => socket.emit("message-back", ...args));
    socket.on("message-with-ack", (...args) => args.pop()(...args));
    socket.on("join", (room, ack) => {
      socket.join(room);
      ack?.();
    });
    socket.on("leave", (room, ack) => {
      socket.leave(room);
      ack?.();
    });
  };
  io.on("connection", onConnection);
  io.of("/custom").on("connection", onConnection);
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  const port = http.address().port;
  return {
    io,
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      io.close();
      await new Promise((resolve) => http.close(resolve));
      await Promise.allSettled([pub.quit(), sub.quit()]);
    },
  };
}
