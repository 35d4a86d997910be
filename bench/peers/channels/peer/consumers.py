"""The tutorial's AsyncWebsocketConsumer, plus one INSERT per message before the
group_send. Connections come from a small per-process pool (DATABASE_URL, PG_POOL); the
table `peer_message` is created by the bench runner."""

import asyncio
import json
import os

import psycopg
from channels.generic.websocket import AsyncWebsocketConsumer

_pool: asyncio.Queue | None = None
_pool_lock = asyncio.Lock()


async def _connections() -> asyncio.Queue:
    global _pool
    if _pool is not None:
        return _pool
    async with _pool_lock:
        if _pool is None:
            queue: asyncio.Queue = asyncio.Queue()
            for _ in range(int(os.environ.get("PG_POOL", "10"))):
                queue.put_nowait(
                    await psycopg.AsyncConnection.connect(
                        os.environ["DATABASE_URL"], autocommit=True
                    )
                )
            _pool = queue
    return _pool


async def store(room: str, content: str) -> None:
    pool = await _connections()
    conn = await pool.get()
    try:
        await conn.execute(
            "INSERT INTO peer_message (room, content) VALUES (%s, %s)", [room, content]
        )
    finally:
        pool.put_nowait(conn)


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = f"chat_{self.room_name}"
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, close_code):
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    async def receive(self, text_data):
        message = json.loads(text_data)["message"]
        await store(self.room_name, message)
        await self.channel_layer.group_send(
            self.room_group_name, {"type": "chat.message", "message": message}
        )

    async def chat_message(self, event):
        await self.send(text_data=json.dumps({"message": event["message"]}))
