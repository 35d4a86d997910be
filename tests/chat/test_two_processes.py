"""Two server processes sharing PostgreSQL and Redis: a message sent through one reaches a
client connected to the other. Real uvicorn processes, real sockets, loopback only."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection
from django_tenants.utils import schema_context

from apps.accounts.models import Role, User
from apps.accounts.services import membership_set, user_create
from apps.chat.models import Channel
from apps.tenancy.models import Tenant
from tests.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "two-processes-pass"

pytestmark = pytest.mark.skipif(
    not settings.REDIS_URL, reason="needs Redis: processes share events through it"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on {port} exited: {process.stdout.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not start")


@pytest.fixture(scope="module")
def people(django_db_blocker: Any) -> Iterator[dict[str, User]]:
    """Committed accounts (the servers cannot see the test's transaction)."""
    with django_db_blocker.unblock():
        acme = Tenant.objects.get(schema_name="acme")
        made = {}
        for name, role in (("admin", Role.TENANT_ADMIN), ("player", Role.PARTICIPANT)):
            user = user_create(
                email=f"{name}-2proc@acme.test", password=PASSWORD, display_name=f"2proc {name}"
            )
            # Hashed as a real server would, not with the suite's fast test hasher.
            user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
            user.save(update_fields=["password"])
            membership_set(user=user, tenant=acme, role=role)
            made[name] = user
        yield made
        with schema_context("acme"):
            Channel.objects.filter(created_by__in=made.values()).delete()
        connection.set_schema_to_public()
        User.objects.filter(pk__in=[u.pk for u in made.values()]).delete()


@pytest.fixture(scope="module")
def servers(people: Any, django_db_blocker: Any) -> Iterator[list[int]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
    }
    ports = [_free_port(), _free_port()]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lifespan",
                "off",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for port in ports
    ]
    try:
        for port, process in zip(ports, processes, strict=True):
            _wait_healthy(port, process)
        yield ports
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def _rest(port: int, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Host": "acme.localhost", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_message_through_one_process_reaches_a_client_of_the_other(servers, people):
    one, other = servers
    admin = _rest(
        one, "POST", "/api/auth/login", {"email": people["admin"].email, "password": PASSWORD}
    )["token"]
    player = _rest(
        other, "POST", "/api/auth/login", {"email": people["player"].email, "password": PASSWORD}
    )["token"]
    channel = _rest(
        one, "POST", "/api/chat/channels", {"type": "SUPPORT", "subject": "two"}, player
    )

    async def scenario() -> dict[str, Any]:
        async with (
            websockets.connect(
                f"ws://acme.localhost:{other}/ws/chat/",
                host="127.0.0.1",
                additional_headers={"Authorization": f"Bearer {admin}"},
            ) as admin_socket,
            websockets.connect(
                f"ws://acme.localhost:{one}/ws/chat/?token={player}", host="127.0.0.1"
            ) as player_socket,
        ):
            await admin_socket.send(
                json.dumps({"event": "join_channel", "data": {"channelId": channel["id"]}})
            )
            assert json.loads(await asyncio.wait_for(admin_socket.recv(), 5))["event"] == "joined"
            await player_socket.send(
                json.dumps(
                    {
                        "event": "send_message",
                        "data": {"channelId": channel["id"], "content": "across processes"},
                    }
                )
            )
            while True:
                frame = json.loads(await asyncio.wait_for(admin_socket.recv(), 5))
                if frame["event"] == "new_message":
                    return frame["data"]

    message = asyncio.run(scenario())
    assert message["content"] == "across processes"
    assert message["sender"]["id"] == people["player"].id
