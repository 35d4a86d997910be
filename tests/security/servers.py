"""Real server processes for fault tests: uvicorn on loopback ports, a private Redis the
test may stop, committed accounts, and a WebSocket client that resumes with `sync`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import websockets

from tests.conftest import database_url
from tests.servers import free_port, uvicorn, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
HOST = "acme.localhost"


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


class PrivateRedis:
    """A redis-server of the test's own on a free port (never the machine's)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        subprocess.run(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "yes"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _answers(self.port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "shutdown", "nosave"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while _answers(self.port):
            assert time.monotonic() < deadline, "redis-server did not stop"
            time.sleep(0.05)


def log_tail(process: subprocess.Popen[bytes]) -> str:
    """The end of a server's output (kept in a file: a pipe nobody reads would fill up
    and stop the server)."""
    return Path(process.log).read_text(errors="replace")[-3000:]  # type: ignore[attr-defined]


@contextlib.contextmanager
def servers(count: int, redis_url: str, **env: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` uvicorn processes on free ports (each Popen has a `.port`)."""
    environ = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "DB_POOL_MIN_SIZE": "1",
        "DB_POOL_MAX_SIZE": "4",
        "WS_DB_THREADS": "2",
        "WS_RATE_FRAMES": "10000",
        "MESSAGE_RATE": "10000/min",
        "EVENTS_PROBE_INTERVAL": "0.3",
        **env,
    }
    processes = []
    logs = tempfile.TemporaryDirectory(prefix="servers-")
    try:
        for _ in range(count):
            port = free_port()
            log = Path(logs.name) / f"{port}.log"
            process = uvicorn(port, environ, output=log.open("wb"), log_level="error")
            process.port = port  # type: ignore[attr-defined]
            process.log = log  # type: ignore[attr-defined]
            processes.append(process)
        for process in processes:
            wait_healthy(process.port, process, log_tail)  # type: ignore[attr-defined]
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
        logs.cleanup()


def rest(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    *,
    host: str = HOST,
) -> Any:
    headers = {"Host": host, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


class Client:
    """One person's socket in one channel. Records every message it learns of (by
    `new_message`, its own `message_sent`, or `sync`) and every other frame; on
    reconnect it joins again and resumes with `sync` after the highest message it has
    without a gap."""

    def __init__(self, token: str, channel_id: str, *, host: str = HOST) -> None:
        self.token = token
        self.host = host
        self.channel_id = channel_id
        self.by_seq: dict[int, dict[str, Any]] = {}
        self.synced: list[int] = []  # ids `sync` returned, in order, duplicates kept
        self.frames: list[dict[str, Any]] = []
        self.acked: list[dict[str, Any]] = []
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._refs = 0
        self._reader: asyncio.Task[None] | None = None
        self.ws: Any = None

    async def connect(self, port: int) -> None:
        if self._reader is not None:
            self._reader.cancel()
        self.ws = await websockets.connect(
            f"ws://{self.host}:{port}/ws/chat/?token={self.token}",
            host="127.0.0.1",
            open_timeout=10,
        )
        self._reader = asyncio.create_task(self._read(self.ws))
        await self.call("join_channel", channelId=self.channel_id)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()

    async def _read(self, ws: Any) -> None:
        try:
            with contextlib.suppress(websockets.ConnectionClosed):
                await self._frames(ws)
        finally:
            for future in self._replies.values():
                if not future.done():
                    future.set_exception(ConnectionError("socket closed"))
            self._replies.clear()

    async def _frames(self, ws: Any) -> None:
        async for text in ws:
            frame = json.loads(text)
            self.frames.append(frame)
            data = frame["data"]
            if frame["event"] == "new_message":
                self.by_seq[data["seq"]] = data
            ref = data.get("ref") if isinstance(data, dict) else None
            if ref in self._replies:
                self._replies.pop(ref).set_result(frame)

    async def call(self, event: str, timeout: float = 10, **data: Any) -> dict[str, Any]:
        frame = await self.request(event, timeout, **data)
        assert frame["event"] != "error", frame
        return frame

    async def request(self, event: str, timeout: float = 10, **data: Any) -> dict[str, Any]:
        """The reply to a frame, an `error` frame included."""
        self._refs += 1
        ref = f"r{self._refs}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[ref] = future
        try:
            await self.ws.send(json.dumps({"event": event, "data": data, "ref": ref}))
        except BaseException:
            self._replies.pop(ref, None)
            raise
        return await asyncio.wait_for(future, timeout)

    async def send(self, content: str) -> dict[str, Any]:
        frame = await self.call("send_message", channelId=self.channel_id, content=content)
        message = frame["data"]
        self.acked.append(message)
        self.by_seq[message["seq"]] = message
        return message

    def contiguous(self) -> int:
        """The id of the last message seen with no gap before it (0: none)."""
        seq, last_id = 1, 0
        while seq in self.by_seq:
            last_id = self.by_seq[seq]["id"]
            seq += 1
        return last_id

    async def sync(self) -> None:
        after = self.contiguous()
        while True:
            frame = await self.call("sync", channelId=self.channel_id, afterId=after)
            for message in frame["data"]["messages"]:
                self.synced.append(message["id"])
                self.by_seq[message["seq"]] = message
                after = message["id"]
            if not frame["data"]["hasMore"]:
                return

    def saw(self, event: str) -> bool:
        return any(frame["event"] == event for frame in self.frames)
