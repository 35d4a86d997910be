// Socket.IO peer for `make bench`: rooms through the Redis adapter, each message stored
// with one INSERT (pg pool) before it is emitted to the room.
//
//   PORT=8520 DATABASE_URL=postgres://... REDIS_URL=redis://127.0.0.1:6379/3 node server.js
//
// Client events: `join` (roomId, ack) and `message` ({room, content}); the room receives
// `message` ({room, content}).
"use strict";

const { createServer } = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");
const { Pool } = require("pg");

async function main() {
  const db = new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.PG_POOL || 10) });
  await db.query(
    "CREATE TABLE IF NOT EXISTS peer_message (id bigserial PRIMARY KEY, room text NOT NULL, " +
      "content text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
  );
  const pub = createClient({ url: process.env.REDIS_URL || "redis://127.0.0.1:6379/3" });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);

  const httpServer = createServer();
  const io = new Server(httpServer, { adapter: createAdapter(pub, sub) });
  io.on("connection", (socket) => {
    socket.on("join", (room, ack) => {
      socket.join(String(room));
      if (typeof ack === "function") ack({ room });
    });
    socket.on("message", async (message) => {
      const room = String(message && message.room);
      const content = String(message && message.content);
      try {
        await db.query("INSERT INTO peer_message (room, content) VALUES ($1, $2)", [room, content]);
      } catch (error) {
        socket.emit("failed", { error: String(error.message || error) });
        return;
      }
      io.to(room).emit("message", { room, content });
    });
  });
  const port = Number(process.env.PORT || 8520);
  httpServer.listen(port, "127.0.0.1", () => console.log(`socket.io peer on 127.0.0.1:${port}`));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
