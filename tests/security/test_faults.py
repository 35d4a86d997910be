"""Faults, on loopback, bounded in time: Redis stopped under traffic, and a server process
killed while clients send. Real uvicorn processes, real sockets, committed data."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from django.contrib.auth.hashers import make_password
from django.db import connection
from django_tenants.utils import schema_context

from apps.accounts.models import Role, User
from apps.accounts.services import membership_set, user_create
from apps.chat.models import Channel, Message
from apps.tenancy.models import Tenant
from tests.security.servers import Client, PrivateRedis, log_tail, rest, servers

PASSWORD = "fault-tests-pass"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def people(django_db_blocker: Any) -> Iterator[dict[str, User]]:
    """Committed accounts (the servers cannot see the test's transaction)."""
    with django_db_blocker.unblock():
        acme = Tenant.objects.get(schema_name="acme")
        made = {}
        for name, role in (
            ("admin", Role.TENANT_ADMIN),
            ("admin2", Role.TENANT_ADMIN),
            ("player", Role.PARTICIPANT),
        ):
            user = user_create(
                email=f"{name}-faults-{os.getpid()}@acme.test",
                password=PASSWORD,
                display_name=f"faults {name}",
            )
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
def redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


def _login(port: int, user: User) -> str:
    return rest(port, "POST", "/api/auth/login", {"email": user.email, "password": PASSWORD})[
        "token"
    ]


def _stored(channel_id: str) -> list[tuple[int, int, str]]:
    """(seq, id, content) of every stored message of the channel, in seq order."""
    with schema_context("acme"):
        return list(
            Message.objects.filter(channel_id=channel_id)
            .order_by("seq")
            .values_list("seq", "id", "content")
        )


async def _until(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_redis_stopped_mid_traffic(people, redis):
    """REST keeps storing and answering; sockets stay open and hear `events_delayed`;
    when Redis returns they hear `events_resumed`, events flow again, and `sync` gives
    each missed message once."""
    with servers(2, redis.url) as (one, other):
        admin, player = _login(one.port, people["admin"]), _login(other.port, people["player"])
        channel = rest(
            one.port, "POST", "/api/chat/channels", {"type": "SUPPORT", "subject": "faults"}, player
        )
        cid = channel["id"]

        async def scenario() -> tuple[Client, Client]:
            reader, writer = Client(admin, cid), Client(player, cid)
            await reader.connect(other.port)
            await writer.connect(one.port)
            first = await writer.send("before the outage")
            await _until(lambda: first["seq"] in reader.by_seq, 5)

            redis.stop()
            during = [
                rest(one.port, "POST", f"/api/chat/channels/{cid}/messages",
                     {"content": f"during the outage {n}"}, player)
                for n in range(3)
            ]  # fmt: skip
            assert [m["content"] for m in during] == [f"during the outage {n}" for n in range(3)]
            history = rest(other.port, "GET", f"/api/chat/channels/{cid}/messages", token=admin)
            assert len(history["messages"]) == 4  # stored, and read back on either process
            await writer.send("over the socket during the outage")
            await _until(lambda: reader.saw("events_delayed") and writer.saw("events_delayed"), 10)

            redis.start()
            try:
                await _until(
                    lambda: reader.saw("events_resumed") and writer.saw("events_resumed"), 20
                )
            except AssertionError:
                print(log_tail(one), log_tail(other))
                raise
            after = await writer.send("after the outage")
            await _until(lambda: after["seq"] in reader.by_seq, 5)  # events flow again
            await reader.sync()
            await reader.close()
            await writer.close()
            return reader, writer

        reader, _writer = asyncio.run(scenario())

    stored = _stored(cid)
    assert [seq for seq, _, _ in stored] == list(range(1, 7))
    assert {m["id"] for m in reader.by_seq.values()} == {i for _, i, _ in stored}
    assert len(reader.synced) == len(set(reader.synced))  # once each
    assert set(reader.synced) >= {i for _, i, c in stored if "during" in c}


SENDERS = 3
PER_SENDER = 30


def test_server_killed_while_clients_send(people, redis):
    """SIGKILL one of two processes while its clients send. No message is half written
    (seqs 1..N without gap or duplicate); every acknowledged message is stored once; the
    clients of the killed process reconnect to the other and, after `sync`, every client
    holds every stored message exactly once."""
    with servers(2, redis.url) as (victim, survivor):
        tokens = [_login(survivor.port, people[name]) for name in ("player", "admin", "admin2")]
        cid = rest(
            survivor.port,
            "POST",
            "/api/chat/channels",
            {"type": "SUPPORT", "subject": "faults"},
            tokens[0],
        )["id"]
        ports = [victim.port, survivor.port, victim.port]  # two clients lose their process
        resumed_at: list[int] = []  # how many each had sent when it moved to the survivor

        acknowledged = [0, 0, 0]
        halfway = asyncio.Event()

        async def sender(client: Client, index: int) -> None:
            await client.connect(ports[index])
            n = 0
            while n < PER_SENDER:
                try:
                    await client.send(f"client {index} message {n}")
                    n += 1
                    acknowledged[index] = n
                    if min(acknowledged) >= PER_SENDER // 3:
                        halfway.set()
                    await asyncio.sleep(0.01)
                except (ConnectionError, OSError, EOFError, websockets.WebSocketException):
                    n += 1  # unacknowledged: it may or may not be stored; not sent again
                    resumed_at.append(n)
                    await client.connect(survivor.port)
                    await client.sync()

        async def killer() -> None:
            # While every client is still sending, whatever the machine's speed.
            await asyncio.wait_for(halfway.wait(), 30)
            victim.kill()  # SIGKILL: no shutdown, no cleanup

        async def scenario() -> list[Client]:
            clients = [Client(token, cid) for token in tokens]
            await asyncio.gather(*(sender(c, i) for i, c in enumerate(clients)), killer())
            await asyncio.sleep(0.5)  # the last events arrive
            for client in clients:
                await client.sync()
                await client.close()
            return clients

        clients = asyncio.run(scenario())
        assert victim.poll() is not None  # it was killed mid-run,
        assert len(resumed_at) == 2 and max(resumed_at) < PER_SENDER  # while its clients sent

    stored = _stored(cid)
    assert [seq for seq, _, _ in stored] == list(range(1, len(stored) + 1))
    ids = [i for _, i, _ in stored]
    assert len(ids) == len(set(ids))
    for client in clients:
        for message in client.acked:
            assert ids.count(message["id"]) == 1
        assert {m["id"] for m in client.by_seq.values()} == set(ids)
        assert len(client.synced) == len(set(client.synced))
    acked = sum(len(c.acked) for c in clients)
    assert acked >= SENDERS * PER_SENDER - SENDERS  # at most one lost in flight per client
    assert len(stored) >= acked
