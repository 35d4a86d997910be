"""Sockets never die on bad input, and limits hold across sockets and transports: each
frame gets its reply or an `error` frame (NUL characters, lone surrogates, frames nested
30,000 deep, oversized frames, a failing handler, the database away), messages per user
count REST and sockets together, and a user holds at most WS_MAX_SOCKETS_PER_USER."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import OperationalError
from django_tenants.utils import schema_context

from apps.chat import consumers
from apps.chat.models import Message
from apps.core import limits
from apps.core.closecodes import CLOSE_TOO_MANY
from tests.chat.conftest import support_ticket
from tests.chat.test_websocket import (
    _drain,
    _keep_test_connection,
    closed_with,
    connect,
    expect,
    run,
    send,
)
from tests.conftest import Org

__all__ = ["_keep_test_connection"]


def _stored(cid: str) -> int:
    with schema_context("acme"):
        return Message.objects.filter(channel_id=cid).count()


async def _still_open(socket: Any, cid: str) -> None:
    await send(socket, "join_channel", channelId=cid)
    await expect(socket, "joined")


BAD_CONTENT = [
    ('"a\\u0000b"', "validation_error"),
    ('"a\\ud800b"', "validation_error"),
    ('"\\udfff"', "validation_error"),
]


@pytest.mark.parametrize(("content", "code"), BAD_CONTENT)
def test_unstorable_content_is_refused_like_rest(
    content: str, code: str, org: Org, client_for: Any
) -> None:
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        socket = await connect(org.tenant, org.player)
        data = f'{{"channelId": "{cid}", "content": {content}}}'
        await socket.send_to(text_data='{"event": "send_message", "ref": 7, "data": ' + data + "}")
        error = await expect(socket, "error")
        assert error["code"] == code and "content" in error["fields"] and error["ref"] == 7
        await _still_open(socket, cid)
        await socket.disconnect()

    run(scenario)
    assert _stored(cid) == 0


@pytest.mark.parametrize("depth", [33, 30_000, 100_000])
def test_deeply_nested_frames_get_an_error(
    depth: int, org: Org, client_for: Any, settings: Any
) -> None:
    settings.WS_MAX_FRAME_BYTES = 1_000_000
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        socket = await connect(org.tenant, org.player)
        nested = "[" * depth + "]" * depth
        await socket.send_to(text_data='{"event": "sync", "data": {"x": ' + nested + "}}")
        assert (await expect(socket, "error"))["code"] == "bad_request"
        await _still_open(socket, cid)
        await socket.disconnect()

    run(scenario)


def test_frames_over_the_size_limit_get_an_error(org: Org, client_for: Any, settings: Any) -> None:
    settings.WS_MAX_FRAME_BYTES = 1000
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        socket = await connect(org.tenant, org.player)
        await send(socket, "send_message", channelId=cid, content="é" * 600)  # 1,200 bytes
        assert (await expect(socket, "error"))["code"] == "frame_too_large"
        await _still_open(socket, cid)
        await socket.disconnect()

    run(scenario)
    assert _stored(cid) == 0


def test_an_unexpected_failure_is_answered_and_the_socket_stays(
    org: Org, client_for: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(consumers, "_sync", broken)

    async def scenario() -> None:
        socket = await connect(org.tenant, org.player)
        await send(socket, "sync", ref="r1", channelId=cid)
        error = await expect(socket, "error")
        assert error == {"code": "internal_error", "message": "Internal server error.", "ref": "r1"}
        await _still_open(socket, cid)
        await socket.disconnect()

    run(scenario)
    assert "Socket frame failed" in caplog.text and "a bug" in caplog.text


def test_the_database_away_gives_service_unavailable_and_the_socket_stays(
    org: Org, client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()
    down = {"now": True}
    real = consumers._send_message

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if down["now"]:
            raise OperationalError("connection refused")
        return real(*args, **kwargs)

    monkeypatch.setattr(consumers, "_send_message", flaky)

    async def scenario() -> None:
        socket = await connect(org.tenant, org.player)
        await send(socket, "send_message", channelId=cid, content="hello")
        error = await expect(socket, "error")
        assert error["code"] == "service_unavailable" and error["retryAfter"] > 0
        down["now"] = False  # the database is back: no reconnect needed
        await send(socket, "send_message", channelId=cid, content="hello")
        assert (await expect(socket, "message_sent"))["content"] == "hello"
        await socket.disconnect()

    run(scenario)
    assert _stored(cid) == 1


def test_message_limit_counts_rest_and_every_socket_together(
    org: Org, client_for: Any, settings: Any
) -> None:
    settings.MESSAGE_RATE = "4/min"
    rest = client_for(org.tenant, org.player)
    cid = support_ticket(rest)["id"]
    _drain()
    for n in range(2):
        assert (
            rest.post(
                f"/api/chat/channels/{cid}/messages", {"content": f"r{n}"}, format="json"
            ).status_code
            == 201
        )

    async def scenario() -> None:
        one = await connect(org.tenant, org.player)
        two = await connect(org.tenant, org.player)
        await send(one, "send_message", channelId=cid, content="s1")
        await expect(one, "message_sent")
        await send(two, "send_message", channelId=cid, content="s2")
        await expect(two, "message_sent")
        await send(one, "send_message", channelId=cid, content="s3")
        error = await expect(one, "error")
        assert error["code"] == "rate_limited" and 0 < error["retryAfter"] <= 60
        await one.disconnect()
        await two.disconnect()

    run(scenario)
    refused = rest.post(f"/api/chat/channels/{cid}/messages", {"content": "r3"}, format="json")
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert _stored(cid) == 4
    # Another user's messages are counted apart.
    admin = client_for(org.tenant, org.admin)
    assert (
        admin.post(
            f"/api/chat/channels/{cid}/messages", {"content": "a"}, format="json"
        ).status_code
        == 201
    )


def test_a_user_holds_at_most_the_socket_cap(org: Org, settings: Any) -> None:
    settings.WS_MAX_SOCKETS_PER_USER = 2

    async def scenario() -> None:
        first = await connect(org.tenant, org.player)
        second = await connect(org.tenant, org.player)
        third = await connect(org.tenant, org.player)
        refusal = await expect(third, "error")
        assert refusal["code"] == "too_many_sockets"
        assert await closed_with(third) == CLOSE_TOO_MANY
        other = await connect(org.tenant, org.admin)  # another user is not held up
        assert await other.receive_nothing(timeout=0.2)
        await first.disconnect()
        again = await connect(org.tenant, org.player)  # a closed socket frees its place
        assert await again.receive_nothing(timeout=0.2)
        for socket in (second, again, other):
            await socket.disconnect()

    run(scenario)


def test_leases_of_a_process_that_died_lapse(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dead process never releases its sockets' leases, and stops renewing them."""
    monkeypatch.setattr(limits, "LEASE_SECONDS", 1)
    assert limits.SocketLeases.acquire(424242, "dead-1", 2)
    assert limits.SocketLeases.acquire(424242, "dead-2", 2)
    assert not limits.SocketLeases.acquire(424242, "new", 2)
    limits.SocketLeases.mine.clear()  # the process is gone: nothing renews or releases

    time.sleep(1.2)

    assert limits.SocketLeases.acquire(424242, "new", 2)


def test_renewed_leases_do_not_lapse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "LEASE_SECONDS", 1)
    assert limits.SocketLeases.acquire(434343, "alive", 1)
    time.sleep(0.6)
    limits.SocketLeases.renew()
    time.sleep(0.6)
    assert not limits.SocketLeases.acquire(434343, "another", 1)
    limits.SocketLeases.release("alive")
    assert limits.SocketLeases.acquire(434343, "another", 1)
