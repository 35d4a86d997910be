"""The production topology on loopback, as `make cluster` starts it (deploy/local.py): nginx
in front of two uvicorn workers, PgBouncer in session mode in front of the test
database, the run's Redis. Free ports, so a running `make cluster` is left alone.

- a client of one worker receives a message sent through the other;
- through nginx, REST and sockets work for two tenants at once, apart;
- a worker killed while clients send loses nothing: clients reconnect through nginx and,
  after `sync`, hold every stored message once;
- a rolling restart (SIGTERM, start again, each worker in turn) under REST and socket
  load fails no request and loses or doubles no message.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from django.conf import settings
from django_tenants.utils import schema_context

from apps.accounts.models import Role
from apps.chat.models import Message
from tests.conftest import database_url
from tests.security.servers import Client
from tests.servers import committed_accounts, free_port

from deploy import local  # isort: skip

PASSWORD = "cluster-tests-pass"
ACME, GLOBEX = "acme.localhost", "globex.localhost"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis: the workers share events"),
]


@pytest.fixture(scope="module")
def people(django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    with committed_accounts(
        django_db_blocker,
        PASSWORD,
        {
            "c-player": ("acme", Role.PARTICIPANT),
            "c-admin": ("acme", Role.TENANT_ADMIN),
            "c-admin2": ("acme", Role.TENANT_ADMIN),
            "c-gplayer": ("globex", Role.PARTICIPANT),
            "c-gadmin": ("globex", Role.TENANT_ADMIN),
        },
    ) as made:
        yield made


@pytest.fixture(scope="module")
def cluster(people: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[local.Topology]:
    try:
        local.ensure_programs(["nginx", "pgbouncer"])
    except SystemExit as missing:
        pytest.skip(str(missing))
    topology = local.Topology(
        home=Path(tmp_path_factory.mktemp("cluster")),
        nginx_port=free_port(),
        worker_ports=(free_port(), free_port()),
        pgbouncer_port=free_port(),
        database_url=database_url(),
        redis_url=settings.REDIS_URL,
        pool_size=4,
        worker_env={
            "LIMITS_REDIS_URL": settings.LIMITS_REDIS_URL,  # apart from what test runs clear
            "DB_POOL_MIN_SIZE": "1",
            "WS_DB_THREADS": "2",
            "WS_RATE_FRAMES": "10000",
            "MESSAGE_RATE": "100000/min",
            "LOGIN_RATE": "1000/min",
            "LOGIN_ACCOUNT_RATE": "1000/hour",
        },
    )
    try:
        local.start(topology, migrate=False)
        yield topology
    finally:
        local.stop(topology)  # PgBouncer lets go of the test database before it is dropped


def rest(port: int, host: str, method: str, path: str, body: Any = None, token: str = "") -> Any:
    headers = {"Host": host, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.load(response)


def login(port: int, host: str, user: Any) -> str:
    body = {"email": user.email, "password": PASSWORD}
    return str(rest(port, host, "POST", "/api/auth/login", body)["token"])


def stored(schema: str, channel_id: str) -> list[tuple[int, int, str]]:
    """(seq, id, content) of the channel's messages, in seq order."""
    with schema_context(schema):
        return list(
            Message.objects.filter(channel_id=channel_id)
            .order_by("seq")
            .values_list("seq", "id", "content")
        )


def test_a_client_of_one_worker_receives_a_message_sent_through_the_other(cluster, people):
    one, other = cluster.worker_ports
    player = login(one, ACME, people["c-player"])
    admin = login(other, ACME, people["c-admin"])
    channel = rest(
        one, ACME, "POST", "/api/chat/channels", {"type": "SUPPORT", "subject": "cluster"}, player
    )

    async def scenario() -> dict[str, Any]:
        client = Client(admin, channel["id"], host=ACME)
        await client.connect(one)
        path = f"/api/chat/channels/{channel['id']}/messages"
        await asyncio.to_thread(rest, other, ACME, "POST", path, {"content": "via 2"}, player)
        deadline = time.monotonic() + 10
        while not client.by_seq and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await client.close()
        return client.by_seq

    received = asyncio.run(scenario())
    assert [m["content"] for m in received.values()] == ["via 2"]


def test_rest_and_sockets_through_nginx_for_two_tenants_at_once(cluster, people):
    front = cluster.nginx_port
    tenants = {
        ACME: (people["c-player"], people["c-admin"]),
        GLOBEX: (people["c-gplayer"], people["c-gadmin"]),
    }
    count = 10

    async def tenant(host: str) -> tuple[str, list[str], list[str]]:
        player_user, admin_user = tenants[host]
        player = await asyncio.to_thread(login, front, host, player_user)
        admin = await asyncio.to_thread(login, front, host, admin_user)
        body = {"type": "SUPPORT", "subject": host}
        channel = await asyncio.to_thread(
            rest, front, host, "POST", "/api/chat/channels", body, player
        )
        reader, writer = (
            Client(admin, channel["id"], host=host),
            Client(player, channel["id"], host=host),
        )
        await reader.connect(front)
        await writer.connect(front)
        path = f"/api/chat/channels/{channel['id']}/messages"
        for n in range(count):
            if n % 2:
                await writer.send(f"{host} socket {n}")
            else:
                await asyncio.to_thread(
                    rest, front, host, "POST", path, {"content": f"{host} rest {n}"}, player
                )
        deadline = time.monotonic() + 10
        while len(reader.by_seq) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        page = await asyncio.to_thread(rest, front, host, "GET", path, None, admin)
        await reader.close()
        await writer.close()
        received = [reader.by_seq[seq]["content"] for seq in sorted(reader.by_seq)]
        return channel["id"], received, [m["content"] for m in page["messages"]]

    async def both() -> list[tuple[str, list[str], list[str]]]:
        return await asyncio.gather(tenant(ACME), tenant(GLOBEX))

    results = dict(zip((ACME, GLOBEX), asyncio.run(both()), strict=True))
    for host, (_, received, listed) in results.items():
        expected = [f"{host} {'socket' if n % 2 else 'rest'} {n}" for n in range(count)]
        assert received == expected  # in order, once, none of the other tenant's
        assert sorted(listed) == sorted(expected)


def _senders_scenario(
    cluster: local.Topology, people: dict[str, Any], disrupt: Any, per_sender: int
) -> tuple[str, list[Client], dict[str, Any]]:
    """Three clients through nginx send `per_sender` messages each while
    `disrupt(channel_id)` runs; a client whose socket closes reconnects through nginx
    and resumes with `sync` (`_send` says what is sent again)."""
    front = cluster.nginx_port
    names = ("c-player", "c-admin", "c-admin2")
    tokens = [login(front, ACME, people[name]) for name in names]
    channel = rest(
        front,
        ACME,
        "POST",
        "/api/chat/channels",
        {"type": "SUPPORT", "subject": "cluster"},
        tokens[0],
    )
    stats: dict[str, Any] = {"reconnects": 0, "acked": 0, "unanswered": 0, "resent": 0, "codes": []}

    def reconnect(client: Client) -> Any:
        return _reconnect(client, front, stats)

    async def sender(client: Client, index: int) -> None:
        await client.connect(front)
        n = 0
        while n < per_sender:
            outcome = await _send(client, channel["id"], f"client {index} message {n}")
            stats[outcome] += 1
            if outcome != "resent":
                n += 1
            if outcome != "acked":
                await reconnect(client)
            await asyncio.sleep(0.02)

    async def scenario() -> list[Client]:
        clients = [Client(token, channel["id"], host=ACME) for token in tokens]
        await asyncio.gather(*(sender(c, i) for i, c in enumerate(clients)), disrupt(channel["id"]))
        await asyncio.sleep(0.5)  # the last events arrive
        for client in clients:
            if client.ws.close_code is None:
                await client.sync()
            else:  # closed after its last message (a restart): back through nginx
                await reconnect(client)
            await client.close()
        return clients

    return channel["id"], asyncio.run(scenario()), stats


async def _reconnect(client: Client, port: int, stats: dict[str, Any]) -> None:
    """Through nginx again (the next worker takes it), then `sync` from the last message
    held without a gap."""
    stats["reconnects"] += 1
    if client.ws is not None and client.ws.close_code is not None:
        stats["codes"].append(client.ws.close_code)
    deadline = time.monotonic() + 20
    while True:
        try:
            await client.connect(port)
            await client.sync()
            return
        except (ConnectionError, OSError, websockets.WebSocketException, TimeoutError):
            assert time.monotonic() < deadline, "could not reconnect through nginx"
            await asyncio.sleep(0.1)


async def _send(client: Client, channel_id: str, content: str) -> str:
    """Sends a message: `acked`; `resent` when it must be sent again (refused with
    `going_away`, or left unanswered by a socket closed with 1001: a process going away
    answers every frame it handles before it closes); `unanswered` when the socket
    dropped otherwise (the process died): it may or may not be stored."""
    try:
        frame = await client.request("send_message", channelId=channel_id, content=content)
    except (ConnectionError, OSError, websockets.ConnectionClosed, TimeoutError):
        return "resent" if client.ws.close_code == 1001 else "unanswered"
    if frame["event"] == "error":
        assert frame["data"]["code"] == "going_away", frame
        return "resent"
    client.acked.append(frame["data"])
    client.by_seq[frame["data"]["seq"]] = frame["data"]
    return "acked"


def _every_message_once(channel_id: str, clients: list[Client]) -> list[tuple[int, int, str]]:
    messages = stored("acme", channel_id)
    assert [seq for seq, _, _ in messages] == list(range(1, len(messages) + 1))
    ids = [i for _, i, _ in messages]
    contents = [c for _, _, c in messages]
    assert len(set(contents)) == len(contents)  # nothing sent twice
    for client in clients:
        for message in client.acked:
            assert ids.count(message["id"]) == 1
        assert {m["id"] for m in client.by_seq.values()} == set(ids)  # every message,
        assert len(client.synced) == len(set(client.synced))  # and once
    return messages


def test_a_worker_killed_while_clients_send_loses_nothing(cluster, people):
    victim_port = cluster.worker_ports[0]
    victim = local.pid_of(cluster, local.worker_name(victim_port))
    assert victim is not None

    async def kill(channel_id: str) -> None:
        await asyncio.sleep(0.8)
        local.stop_process(cluster, local.worker_name(victim_port), signal.SIGKILL)

    channel_id, clients, stats = _senders_scenario(cluster, people, kill, per_sender=40)
    try:
        assert not local.running(victim)
        assert stats["reconnects"] >= 1  # some clients were on the killed worker
        messages = _every_message_once(channel_id, clients)
        acked = sum(len(c.acked) for c in clients)
        assert acked >= 3 * 40 - stats["unanswered"]
        assert len(messages) >= acked
    finally:
        local.start_worker(cluster, victim_port, local.backend(cluster))


def test_a_rolling_restart_under_load_fails_no_request_and_loses_no_message(cluster, people):
    front = cluster.nginx_port
    admin = login(front, ACME, people["c-admin"])
    failures: list[str] = []
    rest_sent: list[str] = []

    async def rest_load(channel_id: str, stop: asyncio.Event) -> None:
        """One client posting and reading through nginx, without retries."""
        path = f"/api/chat/channels/{channel_id}/messages"
        n = 0
        while not stop.is_set():
            content = f"rest {n}"
            try:
                await asyncio.to_thread(
                    rest, front, ACME, "POST", path, {"content": content}, admin
                )
                rest_sent.append(content)
                await asyncio.to_thread(rest, front, ACME, "GET", path, None, admin)
            except (urllib.error.URLError, OSError) as error:
                failures.append(f"{content}: {error}")
            n += 1

    async def restart_each(channel_id: str) -> None:
        """`make cluster-restart` under load: each worker out of nginx, SIGTERM, started
        again, back in."""
        stop = asyncio.Event()
        load = asyncio.create_task(rest_load(channel_id, stop))
        await asyncio.sleep(0.5)
        await asyncio.to_thread(local.rolling_restart, cluster)
        stop.set()
        await load

    before = [local.pid_of(cluster, local.worker_name(port)) for port in cluster.worker_ports]
    channel_id, clients, stats = _senders_scenario(cluster, people, restart_each, per_sender=60)
    after = [local.pid_of(cluster, local.worker_name(port)) for port in cluster.worker_ports]
    assert None not in after and not set(before) & set(after)  # both restarted
    assert len(rest_sent) > 20  # under load

    assert failures == []  # no REST request failed
    assert stats["unanswered"] == 0  # every frame was answered: stored, or refused to resend
    assert stats["reconnects"] >= 1 and set(stats["codes"]) <= {1001}
    messages = _every_message_once(channel_id, clients)
    contents = [c for _, _, c in messages]
    for content in rest_sent:
        assert contents.count(content) == 1
    assert len(messages) == 3 * 60 + len(rest_sent)
