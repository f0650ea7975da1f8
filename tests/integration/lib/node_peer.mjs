// The Node.js peer for cluster tests: a socket.io 4.8 server with @socket.io/redis-adapter 8.x
// on a given Redis, serving the same echo events as `chatnode --app echo`, in the test process.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";

export async function startNodePeer({ redisUrl, key = "socket.io", requestsTimeout = 5000 }) {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const http = createServer();
  const io = new Server(http, {
    adapter: createAdapter(pub, sub, { key, requestsTimeout }),
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
