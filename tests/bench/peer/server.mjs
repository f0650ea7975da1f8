// The Node.js peer: a socket.io 4.8 server with the same echo behaviour as `chatnode --app echo`,
// so that one client or load generator can drive both. Prints "listening port=N" on stderr.
import { createServer } from "node:http";
import { Server } from "socket.io";

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const port = Number(arg("port", "0"));
const httpServer = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: "ok", connections: io.engine.clientsCount }));
    return;
  }
  res.writeHead(404).end();
});
const io = new Server(httpServer, {
  pingInterval: Number(arg("ping-interval", "25000")),
  pingTimeout: Number(arg("ping-timeout", "20000")),
  maxHttpBufferSize: Number(arg("max-payload", "1000000")),
  connectTimeout: Number(arg("connect-timeout", "45000")),
  cors: { origin: "*" },
});

const onConnection = (socket) => {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...args) => socket.emit("message-back", ...args));
  socket.on("message-with-ack", (...args) => args.pop()(...args));
  socket.on("join", (room, ack) => { socket.join(room); ack?.(); });
  socket.on("leave", (room, ack) => { socket.leave(room); ack?.(); });
  socket.on("broadcast", async (room, event, ...rest) => {
    const ack = typeof rest[rest.length - 1] === "function" ? rest.pop() : null;
    const target = room === null ? socket.nsp : socket.nsp.to(room);
    const count = (await target.fetchSockets()).length;
    target.emit(event, ...rest);
    ack?.(count);
  });
};
io.on("connection", onConnection);
io.of("/custom").on("connection", onConnection);

httpServer.listen(port, "127.0.0.1", () => {
  process.stderr.write(`listening port=${httpServer.address().port}\n`);
});
const stop = () => { io.close(); httpServer.close(() => process.exit(0)); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
