"""PostgreSQL restarted mid-traffic, against a real uvicorn server: REST answers 503 with
the error shape and Retry-After while the database is away (never 500), open sockets get
an `error` frame `service_unavailable` and stay open, and both recover once it is back,
without restarting the app. The server's log holds no bearer token.

The database is a throwaway cluster of this test's own (initdb into a temporary
directory, on a free loopback port): the machine's shared PostgreSQL is never touched.
Loopback only; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from glob import glob
from pathlib import Path
from typing import Any

import pytest
import websockets
from django.conf import settings

from tests.servers import free_port, uvicorn, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "demo-pass-123"  # seed_demo's accounts
HOST = "acme.localhost"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not settings.REDIS_URL, reason="serves with Redis, as deployed"),
]


class Cluster:
    """A PostgreSQL cluster in a temporary directory, run by the `postgres` system user
    when this runs as root (PostgreSQL refuses root)."""

    def __init__(self) -> None:
        binaries = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
        if not binaries:
            pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
        self.bin = Path(binaries[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="pg-restart-test-"))
        self.data = self.dir / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=50"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.dir / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        with_suppressed = subprocess.run  # stop if still running, then delete
        command = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        with_suppressed(command, capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    made = Cluster()
    try:
        made.init()
        made.start()
        yield made
    finally:
        made.remove()


@pytest.fixture(scope="module")
def server(cluster: Cluster) -> Iterator[dict[str, Any]]:
    env = {
        **os.environ,
        "DATABASE_URL": cluster.url,
        "REDIS_URL": settings.REDIS_URL,
        "LIMITS_REDIS_URL": settings.LIMITS_REDIS_URL,  # apart from what test runs clear
        "REDIS_PREFIX": f"{settings.REDIS_PREFIX}pgrestart",
        "DB_POOL_MIN_SIZE": "1",
        "DB_POOL_MAX_SIZE": "4",
        "DB_POOL_TIMEOUT": "2",
        "WS_DB_THREADS": "2",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    for command in (["migrate_schemas", "-v", "0"], ["seed_demo"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
    port = free_port()
    log = open(cluster.dir / "server.log", "wb")  # noqa: SIM115 - closed below
    # access and handshake lines included: they must hold no token
    process = uvicorn(port, env, output=log, log_level="info")
    try:
        wait_healthy(port, process)
        yield {"port": port, "log": cluster.dir / "server.log"}
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _call(
    port: int, method: str, path: str, body: Any = None, token: str = ""
) -> tuple[int, Any, Any]:
    headers = {"Host": HOST, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), error.headers


class Traffic(threading.Thread):
    """Keeps asking while the database restarts; records every status."""

    def __init__(self, port: int, token: str) -> None:
        super().__init__(daemon=True)
        self.port, self.token = port, token
        self.statuses: list[int] = []
        self.bad: list[Any] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            status, body, headers = _call(self.port, "GET", "/api/auth/me", token=self.token)
            self.statuses.append(status)
            if status != 200 and (
                status != 503
                or body["error"]["code"] != "service_unavailable"
                or not headers.get("Retry-After")
            ):
                self.bad.append((status, body))
            time.sleep(0.05)


async def _frame(socket: Any, event: str | None = None) -> dict[str, Any]:
    frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=10))
    assert event is None or frame["event"] == event, frame
    return frame


async def _until(check: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result is not None:
            return result
        assert time.monotonic() < deadline, "no recovery in time"
        await asyncio.sleep(0.5)


def test_postgresql_restart_gives_503_and_error_frames_then_recovers(
    cluster: Cluster, server: dict[str, Any]
) -> None:
    port = server["port"]
    status, body, _ = _call(
        port, "POST", "/api/auth/login", {"email": "player@acme.test", "password": PASSWORD}
    )
    assert status == 200, body
    token = body["token"]
    status, channel, _ = _call(
        port, "POST", "/api/chat/channels", {"type": "SUPPORT", "subject": "restart"}, token
    )
    assert status == 201, channel
    cid = channel["id"]
    traffic = Traffic(port, token)

    async def scenario() -> None:
        url = f"ws://{HOST}:{port}/ws/chat/?token={token}"
        async with websockets.connect(url, host="127.0.0.1") as socket:
            await socket.send(json.dumps({"event": "join_channel", "data": {"channelId": cid}}))
            await _frame(socket, "joined")
            traffic.start()

            cluster.stop()
            status, body, headers = _call(port, "GET", "/api/auth/me", token=token)
            assert status == 503 and body["error"]["code"] == "service_unavailable"
            assert int(headers["Retry-After"]) > 0
            posted = _call(
                port, "POST", f"/api/chat/channels/{cid}/messages", {"content": "x"}, token
            )
            assert posted[0] == 503
            send = {"event": "send_message", "data": {"channelId": cid, "content": "during"}}
            await socket.send(json.dumps(send))
            error = await _frame(socket, "error")
            assert (
                error["data"]["code"] == "service_unavailable" and error["data"]["retryAfter"] > 0
            )

            cluster.start()

            async def rest_back() -> Any:
                status, _, _ = _call(port, "GET", "/api/auth/me", token=token)
                return status if status == 200 else None

            await _until(rest_back)

            async def socket_back() -> Any:
                send["data"]["content"] = "after"
                await socket.send(json.dumps(send))
                frame = await _frame(socket)
                while frame["event"] == "new_message":
                    frame = await _frame(socket)
                return frame if frame["event"] == "message_sent" else None

            sent = await _until(socket_back)
            assert sent["data"]["content"] == "after"  # the same socket, never reopened

    try:
        asyncio.run(scenario())
    finally:
        traffic.stop.set()
        if traffic.is_alive():
            traffic.join(timeout=15)

    assert not traffic.bad, traffic.bad[:3]
    assert 503 in traffic.statuses and traffic.statuses[-1] == 200
    # Read as a client would: a 503 right after the database came back (the pool still
    # reconnecting) is retried after its Retry-After.
    deadline = time.monotonic() + 30
    while True:
        status, history, headers = _call(
            port, "GET", f"/api/chat/channels/{cid}/messages", token=token
        )
        if status != 503 or time.monotonic() > deadline:
            break
        time.sleep(min(float(headers.get("Retry-After", 1)), 1))
    assert status == 200, (status, history)
    contents = [m["content"] for m in history["messages"]]
    assert "during" not in contents and "x" not in contents  # refused, so not stored
    assert "after" in contents
    log = server["log"].read_text()
    assert token not in log, "a bearer token reached the server's log"
    assert '"GET /api/auth/me HTTP/1.1" 503' in log  # the access lines were written
