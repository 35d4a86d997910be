"""Graceful shutdown of a real uvicorn process on SIGTERM: the frames a socket sent get
their replies (stored, or refused with `going_away`, never lost unanswered), sockets
close with 1001, no new connection is accepted, answers on kept-alive HTTP connections
say `Connection: close`, and then the process exits."""

from __future__ import annotations

import asyncio
import http.client
import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from django.conf import settings
from django_tenants.utils import schema_context

from apps.accounts.models import Role
from apps.chat.models import Message
from tests.security.servers import HOST, rest, servers
from tests.servers import committed_accounts

PASSWORD = "shutdown-tests-pass"
FRAMES = 20

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def people(django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    with committed_accounts(
        django_db_blocker, PASSWORD, {"shutdown-player": ("acme", Role.PARTICIPANT)}
    ) as made:
        yield made


async def _replies_and_close(ws: Any) -> tuple[dict[Any, dict[str, Any]], int | None]:
    replies: dict[Any, dict[str, Any]] = {}
    try:
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            ref = frame["data"].get("ref")
            if ref is not None:
                replies[ref] = frame
    except websockets.ConnectionClosed as closed:
        return replies, closed.rcvd.code if closed.rcvd else None


def test_sigterm_answers_every_frame_then_closes_sockets_with_1001(people):
    with servers(1, settings.REDIS_URL, SHUTDOWN_DRAIN_SECONDS="2") as (server,):
        port = server.port  # type: ignore[attr-defined]
        login = {"email": people["shutdown-player"].email, "password": PASSWORD}
        token = rest(port, "POST", "/api/auth/login", login)["token"]
        channel = rest(
            port, "POST", "/api/chat/channels", {"type": "SUPPORT", "subject": "bye"}, token
        )

        async def scenario() -> dict[str, Any]:
            url = f"ws://{HOST}:{port}/ws/chat/?token={token}"
            sender = await websockets.connect(url, host="127.0.0.1")
            idle = await websockets.connect(url, host="127.0.0.1")
            await idle.send(json.dumps({"event": "join_channel", "data": {"channelId": "x"}}))
            await asyncio.wait_for(idle.recv(), 5)
            kept = http.client.HTTPConnection("127.0.0.1", port, timeout=5)  # kept alive
            assert _healthz(kept) is None
            for n in range(FRAMES):
                data = {"channelId": channel["id"], "content": f"last words {n}"}
                await sender.send(json.dumps({"event": "send_message", "data": data, "ref": n}))
            # The signal once the server is at work on the frames (sent at once, it could
            # come before the server has read any of them, on a busy machine).
            first: dict[str, Any] = {"data": {}}
            while first["data"].get("ref") is None:  # events may come first
                first = json.loads(await asyncio.wait_for(sender.recv(), 10))
            server.send_signal(signal.SIGTERM)
            replies, sender_code = await _replies_and_close(sender)
            replies[first["data"]["ref"]] = first
            _, idle_code = await _replies_and_close(idle)
            # Within the drain: no new connection is accepted, and the answers on a
            # kept-alive one ask the proxy to close it.
            with pytest.raises(ConnectionRefusedError):
                await websockets.connect(url, host="127.0.0.1", open_timeout=2)
            answer = await asyncio.to_thread(_healthz, kept)
            kept.close()
            return {"replies": replies, "codes": (sender_code, idle_code), "healthz": answer}

        outcome = asyncio.run(scenario())
        started = time.monotonic()
        server.wait(timeout=15)
        assert time.monotonic() - started < 10

    assert outcome["codes"] == (1001, 1001)
    assert outcome["healthz"] == "close"
    replies = outcome["replies"]
    # Every frame answered: stored (message_sent) or refused as the process went away.
    assert sorted(replies) == list(range(FRAMES))
    sent = [r["data"]["id"] for r in replies.values() if r["event"] == "message_sent"]
    refused = [r for r in replies.values() if r["event"] == "error"]
    assert all(r["data"]["code"] == "going_away" for r in refused)
    with schema_context("acme"):
        stored = list(Message.objects.filter(channel_id=channel["id"]).values_list("id", flat=True))
    assert sorted(stored) == sorted(sent)


def _healthz(connection: http.client.HTTPConnection) -> str | None:
    """The `Connection` header of a `/healthz` answer on that connection."""
    connection.request("GET", "/healthz", headers={"Host": HOST})
    response = connection.getresponse()
    response.read()
    return response.getheader("Connection")
