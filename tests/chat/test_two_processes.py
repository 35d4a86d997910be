"""Two server processes sharing PostgreSQL and Redis: a message sent through one reaches a
client connected to the other, in order; each process keeps to its connection pool. Real
uvicorn processes, real sockets, loopback only."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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
from apps.platform.recount import recount
from apps.records.models import AuditEntry
from apps.tenancy.models import Tenant
from tests.conftest import database_url
from tests.servers import free_port, uvicorn, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "two-processes-pass"
POOL_SIZE = 3
MESSAGE_LIMIT = 60  # per user and minute, over both processes and both transports
SOCKET_CAP = 3  # open sockets per user, over both processes

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not settings.REDIS_URL, reason="needs Redis: processes share events through it"
    ),
]


@pytest.fixture(scope="module")
def people(django_db_blocker: Any) -> Iterator[dict[str, User]]:
    """Committed accounts (the servers cannot see the test's transaction)."""
    with django_db_blocker.unblock():
        acme = Tenant.objects.get(schema_name="acme")
        globex = Tenant.objects.get(schema_name="globex")
        made = {}
        for name, role, tenant in (
            ("admin", Role.TENANT_ADMIN, acme),
            ("player", Role.PARTICIPANT, acme),
            ("rival", Role.PARTICIPANT, globex),
        ):
            user = user_create(
                email=f"{name}-2proc@{tenant.schema_name}.test",
                password=PASSWORD,
                display_name=f"2proc {name}",
            )
            # Hashed as a real server would, not with the suite's fast test hasher.
            user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
            user.save(update_fields=["password"])
            membership_set(user=user, tenant=tenant, role=role)
            made[name] = user
        yield made
        for schema in ("acme", "globex"):
            with schema_context(schema):
                Channel.objects.filter(created_by__in=made.values()).delete()
        connection.set_schema_to_public()
        AuditEntry.objects.filter(actor__in=made.values()).delete()
        recount()  # the tenant counters, without the channels deleted behind their back
        User.objects.filter(pk__in=[u.pk for u in made.values()]).delete()


@pytest.fixture(scope="module")
def servers(people: Any, django_db_blocker: Any) -> Iterator[list[int]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "LIMITS_REDIS_URL": settings.LIMITS_REDIS_URL,  # apart from what test runs clear
        "DB_POOL_MIN_SIZE": "1",
        "DB_POOL_MAX_SIZE": str(POOL_SIZE),
        "WS_DB_THREADS": "2",  # each keeps a pooled connection; requests get the rest
        "WS_RATE_FRAMES": "1000",
        "MESSAGE_RATE": f"{MESSAGE_LIMIT}/min",
        "WS_MAX_SOCKETS_PER_USER": str(SOCKET_CAP),
    }
    ports = [free_port(), free_port()]
    processes = [uvicorn(port, env, output=subprocess.PIPE) for port in ports]
    try:
        for port, process in zip(ports, processes, strict=True):
            wait_healthy(port, process)
        yield ports
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def _rest(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    host: str = "acme.localhost",
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


async def _take_turns(
    port: int, tokens: dict[str, str], channels: dict[str, str], rounds: int
) -> dict[str, list[str]]:
    """Each tenant's socket joins its ticket; they send in turn; what each one hears."""
    sockets = {
        schema: await websockets.connect(
            f"ws://{schema}.localhost:{port}/ws/chat/?token={token}", host="127.0.0.1"
        )
        for schema, token in tokens.items()
    }
    heard: dict[str, list[str]] = {schema: [] for schema in sockets}
    try:
        for schema, socket in sockets.items():
            join = {"event": "join_channel", "data": {"channelId": channels[schema]}}
            await socket.send(json.dumps(join))
        for n in range(rounds):
            for schema, socket in sockets.items():
                content = {"channelId": channels[schema], "content": f"{schema} {n}"}
                await socket.send(json.dumps({"event": "send_message", "data": content}))
        for schema, socket in sockets.items():
            while len(heard[schema]) < rounds:
                frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
                if frame["event"] == "new_message":
                    heard[schema].append(frame["data"]["content"])
    finally:
        for socket in sockets.values():
            await socket.close()
    return heard


def test_two_tenants_sockets_on_one_process_share_database_threads_and_never_cross(servers, people):
    """The process's socket database threads keep their connection on the last tenant's
    schema between calls: two tenants' sockets sending in turn through the same threads
    each write to their own schema and hear only their own messages."""
    port = servers[0]
    sides = {"acme": people["player"], "globex": people["rival"]}
    tokens, channels = {}, {}
    for schema, user in sides.items():
        host = f"{schema}.localhost"
        login = {"email": user.email, "password": PASSWORD}
        tokens[schema] = _rest(port, "POST", "/api/auth/login", login, host=host)["token"]
        ticket = {"type": "SUPPORT", "subject": f"{schema} interleaved"}
        channels[schema] = _rest(
            port, "POST", "/api/chat/channels", ticket, tokens[schema], host=host
        )["id"]
    rounds = 15

    heard = asyncio.run(_take_turns(port, tokens, channels, rounds))
    for schema in sides:
        expected = [f"{schema} {n}" for n in range(rounds)]
        assert heard[schema] == expected
        with schema_context(schema):
            stored = Channel.objects.get(pk=channels[schema]).messages.order_by("seq")
            assert [m.content for m in stored if m.kind == "USER"] == expected
            other = "globex" if schema == "acme" else "acme"
            assert not Channel.objects.filter(subject=f"{other} interleaved").exists()


def _tokens(servers: list[int], people: dict[str, User]) -> tuple[str, str]:
    one, other = servers
    login = "/api/auth/login"
    admin = _rest(one, "POST", login, {"email": people["admin"].email, "password": PASSWORD})
    player = _rest(other, "POST", login, {"email": people["player"].email, "password": PASSWORD})
    return admin["token"], player["token"]


def test_a_burst_from_one_socket_arrives_complete_and_in_order_on_the_other_process(
    servers, people
):
    """The sender's process runs database work on several threads; its messages still
    reach clients of the other process once each, in sequence order: one that asked for
    permessage-deflate (its frames compressed one by one) and one that did not (each
    event's frame built once for all such sockets, apps.chat.wire)."""
    one, other = servers
    admin, player = _tokens(servers, people)
    channel = _rest(one, "POST", "/api/chat/channels", {"type": "SUPPORT", "subject": "b"}, player)
    count = 40
    url = f"ws://acme.localhost:{other}/ws/chat/?token={admin}"

    async def heard(reader: Any) -> list[tuple[int, str]]:
        messages: list[tuple[int, str]] = []
        while len(messages) < count:
            frame = json.loads(await asyncio.wait_for(reader.recv(), 10))
            if frame["event"] == "new_message":
                messages.append((frame["data"]["seq"], frame["data"]["content"]))
        return messages

    async def scenario() -> list[list[tuple[int, str]]]:
        async with (
            websockets.connect(url, host="127.0.0.1") as compressed,
            websockets.connect(url, host="127.0.0.1", compression=None) as plain,
            websockets.connect(
                f"ws://acme.localhost:{one}/ws/chat/?token={player}", host="127.0.0.1"
            ) as writer,
        ):
            for reader in (compressed, plain):
                await reader.send(
                    json.dumps({"event": "join_channel", "data": {"channelId": channel["id"]}})
                )
                assert json.loads(await asyncio.wait_for(reader.recv(), 5))["event"] == "joined"
            for n in range(count):
                data = {"channelId": channel["id"], "content": f"burst {n} " + "é" * n}
                await writer.send(json.dumps({"event": "send_message", "data": data}))
            return [await heard(compressed), await heard(plain)]

    compressed, plain = asyncio.run(scenario())
    assert plain == compressed
    seqs = [seq for seq, _content in plain]
    assert seqs == sorted(seqs) and len(set(seqs)) == count
    assert [content for _seq, content in plain] == [f"burst {n} " + "é" * n for n in range(count)]


def _connections_to_test_database(ours: int) -> int:
    """Connections to the test database but this one and the suite's own (`ours`)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND pid <> %s",
            [ours],
        )
        return int(cursor.fetchone()[0])


def test_concurrent_requests_wait_for_a_pooled_connection_instead_of_failing(
    servers, people, django_db_blocker
):
    one, _other = servers
    admin, _player = _tokens(servers, people)
    statuses: list[int] = []
    peak = 0
    with django_db_blocker.unblock():
        ours = connection.connection.info.backend_pid if connection.connection else 0

    def me() -> None:
        try:
            _rest(one, "GET", "/api/auth/me", token=admin)
            statuses.append(200)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)

    async def scenario() -> None:
        nonlocal peak
        loop = asyncio.get_running_loop()
        calls = [loop.run_in_executor(pool, me) for _ in range(80)]
        while not all(call.done() for call in calls):
            with django_db_blocker.unblock():
                peak = max(
                    peak, await loop.run_in_executor(None, _connections_to_test_database, ours)
                )
            await asyncio.sleep(0.02)
        await asyncio.gather(*calls)

    with ThreadPoolExecutor(max_workers=40) as pool:
        asyncio.run(scenario())
    assert statuses == [200] * 80
    # Both servers' pools, whatever the concurrency (the suite's own connections aside).
    assert 0 < peak <= 2 * POOL_SIZE


def _ws(port: int, token: str) -> Any:
    return websockets.connect(
        f"ws://acme.localhost:{port}/ws/chat/?token={token}", host="127.0.0.1"
    )


def test_the_message_limit_holds_across_processes_and_transports(servers, people):
    """Half the allowance over REST on one process, half over a socket on the other:
    the next message is refused on both."""
    one, other = servers
    admin, _player = _tokens(servers, people)
    channel = _rest(one, "POST", "/api/chat/channels", {"type": "TEAM", "subject": "l"}, admin)
    path = f"/api/chat/channels/{channel['id']}/messages"
    for n in range(MESSAGE_LIMIT // 2):
        _rest(one, "POST", path, {"content": f"rest {n}"}, admin)

    async def scenario() -> dict[str, Any]:
        async with _ws(other, admin) as socket:
            for n in range(MESSAGE_LIMIT // 2 + 1):
                data = {"channelId": channel["id"], "content": f"socket {n}"}
                await socket.send(json.dumps({"event": "send_message", "data": data, "ref": n}))
            replies = [
                json.loads(await asyncio.wait_for(socket.recv(), 10))
                for _ in range(MESSAGE_LIMIT // 2 + 1)
            ]
            assert [r["event"] for r in replies[:-1]] == ["message_sent"] * (MESSAGE_LIMIT // 2)
            return replies[-1]

    refused = asyncio.run(scenario())
    assert refused["event"] == "error" and refused["data"]["code"] == "rate_limited"
    assert refused["data"]["retryAfter"] > 0
    with pytest.raises(urllib.error.HTTPError) as over:
        _rest(one, "POST", path, {"content": "one more"}, admin)
    assert over.value.code == 429 and int(over.value.headers["Retry-After"]) > 0


def test_the_socket_cap_holds_across_processes(servers, people):
    one, other = servers
    _admin, player = _tokens(servers, people)

    async def scenario() -> None:
        held = [await _ws(port, player).__aenter__() for port in (one, one, other)]
        for port in (one, other):
            async with _ws(port, player) as refused:
                frame = json.loads(await asyncio.wait_for(refused.recv(), 5))
                assert frame["data"]["code"] == "too_many_sockets"
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(refused.recv(), 5)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
        await held[0].close()
        await asyncio.sleep(0.3)  # the server releases the closed socket's place
        async with _ws(other, player) as again:
            await again.send(json.dumps({"event": "leave_channel", "data": {"channelId": "x"}}))
            assert json.loads(await asyncio.wait_for(again.recv(), 5))["event"] == "left"
        for kept in held[1:]:
            await kept.close()

    asyncio.run(scenario())


async def _frames_until_closed(socket: Any) -> tuple[list[dict[str, Any]], int | None]:
    frames = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(socket.recv(), 5)))
    except websockets.ConnectionClosed as closed:
        return frames, closed.rcvd.code if closed.rcvd else None


def _revocation_reaches_the_other_process(
    servers: list[int], player: str, admin: str, revoke: Any
) -> tuple[list[dict[str, Any]], int | None]:
    """The player's socket on one process, joined to a ticket; `revoke()` runs against
    the other process, then the admin posts there. What did the socket get?"""
    one, other = servers
    channel = _rest(one, "POST", "/api/chat/channels", {"type": "SUPPORT", "subject": "r"}, player)

    async def scenario() -> tuple[list[dict[str, Any]], int | None]:
        async with websockets.connect(
            f"ws://acme.localhost:{other}/ws/chat/?token={player}", host="127.0.0.1"
        ) as socket:
            await socket.send(
                json.dumps({"event": "join_channel", "data": {"channelId": channel["id"]}})
            )
            assert json.loads(await asyncio.wait_for(socket.recv(), 5))["event"] == "joined"
            await asyncio.to_thread(revoke)
            path = f"/api/chat/channels/{channel['id']}/messages"
            await asyncio.to_thread(_rest, one, "POST", path, {"content": "after"}, admin)
            return await _frames_until_closed(socket)

    return asyncio.run(scenario())


def test_logout_on_one_process_closes_the_socket_on_the_other(servers, people):
    one, _other = servers
    admin, player = _tokens(servers, people)

    def logout() -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{one}/api/auth/logout",
            headers={"Host": "acme.localhost", "Authorization": f"Bearer {player}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 204

    frames, code = _revocation_reaches_the_other_process(servers, player, admin, logout)
    assert [f["event"] for f in frames] == ["error"]
    assert frames[0]["data"]["code"] == "credentials_revoked"
    assert code == 4401


def test_suspension_on_one_process_closes_the_socket_on_the_other(servers, people):
    one, _other = servers
    admin, player = _tokens(servers, people)
    member = f"/api/members/{people['player'].id}"

    def suspend() -> None:
        assert _rest(one, "PUT", f"{member}/suspend", token=admin)["status"] == "SUSPENDED"

    try:
        frames, code = _revocation_reaches_the_other_process(servers, player, admin, suspend)
    finally:
        _rest(one, "PUT", f"{member}/reactivate", token=admin)
    assert [f["event"] for f in frames] == ["error"]
    assert frames[0]["data"]["code"] == "membership_revoked"
    assert code == 4403
