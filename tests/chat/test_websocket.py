"""The WebSocket gateway through the full ASGI stack (middleware included), against the
configured channel layer (Redis when it answers).

Each scenario runs in `async_to_sync` from the test's thread, so the consumers' database
work (thread-sensitive) shares the test's transaction. That transaction never commits, so
`commit()` runs the queued on-commit callbacks by hand, as the end of each service's
transaction would.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django_tenants.utils import schema_context

from apps.accounts.services import token_issue
from apps.chat.models import Message
from config.asgi import application
from tests.chat.conftest import support_ticket
from tests.conftest import host_of


@pytest.fixture(autouse=True)
def _keep_test_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Channels closes "old" connections around each database call; here that connection
    is the test's open transaction, which must stay."""
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)


def _drain() -> None:
    while connection.run_on_commit:
        _sids, callback, _robust = connection.run_on_commit.pop(0)
        callback()


async def commit() -> None:
    await database_sync_to_async(_drain)()


async def connect(tenant: Any, user: Any = None, *, header: bool = True, host: str | None = None):  # type: ignore[no-untyped-def]
    headers = [(b"host", (host or host_of(tenant)).encode())]
    path = "/ws/chat/"
    if user is not None:
        raw, _ = await database_sync_to_async(token_issue)(user=user)
        if header:
            headers.append((b"authorization", f"Bearer {raw}".encode()))
        else:
            path += f"?token={raw}"
    socket = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await socket.connect()
    assert connected
    return socket


async def send(
    socket: WebsocketCommunicator, event: str, *, ref: str | None = None, **data: Any
) -> None:
    frame: dict[str, Any] = {"event": event, "data": data}
    if ref is not None:
        frame["ref"] = ref
    await socket.send_to(text_data=json.dumps(frame))


async def receive(socket: WebsocketCommunicator) -> dict[str, Any]:
    return json.loads(await socket.receive_from(timeout=2))


async def expect(socket: WebsocketCommunicator, event: str) -> dict[str, Any]:
    frame = await receive(socket)
    assert frame["event"] == event, frame
    return frame["data"]


async def closed_with(socket: WebsocketCommunicator) -> int:
    output = await socket.receive_output(timeout=2)
    assert output["type"] == "websocket.close"
    return output["code"]


def run(scenario: Any) -> None:
    async_to_sync(scenario)()


def test_connection_refusals(org, other_org, client_for):
    async def scenario() -> None:
        assert await closed_with(await connect(org.tenant, host="nobody.localhost")) == 4404
        assert await closed_with(await connect(org.tenant)) == 4401
        socket = WebsocketCommunicator(
            application, "/ws/chat/?token=wrong", headers=[(b"host", b"acme.localhost")]
        )
        await socket.connect()
        assert await closed_with(socket) == 4401
        assert await closed_with(await connect(other_org.tenant, org.player)) == 4403
        evil = WebsocketCommunicator(
            application,
            "/ws/chat/",
            headers=[(b"host", b"acme.localhost"), (b"origin", b"https://evil.example.org")],
        )
        await evil.connect()
        assert await closed_with(evil) == 4403

    run(scenario)


def test_messages_reach_joined_sockets_and_typing_is_not_echoed(org, client_for):
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        player = await connect(org.tenant, org.player, header=False)
        admin = await connect(org.tenant, org.admin)
        for socket in (player, admin):
            await send(socket, "join_channel", channelId=cid)
            assert (await expect(socket, "joined"))["channelId"] == cid

        await send(admin, "typing", channelId=cid)
        typing = await expect(player, "user_typing")
        assert typing["userId"] == org.admin.id
        assert await admin.receive_nothing(timeout=0.2)
        await send(admin, "stop_typing", channelId=cid)
        assert (await expect(player, "user_stop_typing"))["userId"] == org.admin.id
        assert await admin.receive_nothing(timeout=0.2)

        await send(player, "send_message", channelId=cid, content="over the socket")
        sent = await expect(player, "message_sent")
        await commit()
        for socket in (player, admin):
            message = await expect(socket, "new_message")
            assert message["content"] == "over the socket"
            assert message["senderType"] == "PARTICIPANT"
        # A joined room shows the message itself; no badge frame on top.
        assert await admin.receive_nothing(timeout=0.2)
        assert message == sent  # the same shape as the REST response

        await send(admin, "mark_read", channelId=cid, messageId=message["id"], ref="r1")
        assert await expect(admin, "read") == {
            "channelId": cid,
            "lastReadSeq": message["seq"],
            "unreadCount": 0,
            "ref": "r1",
        }
        await commit()
        receipt = await expect(player, "message_read")
        assert receipt["userId"] == org.admin.id
        await player.disconnect()
        await admin.disconnect()

    run(scenario)
    with schema_context("acme"):
        assert Message.objects.filter(channel_id=cid, content="over the socket").count() == 1


def test_rest_actions_produce_the_same_frames(org, super_admin, public_tenant, client_for):
    player_client = client_for(org.tenant, org.player)
    cid = support_ticket(player_client)["id"]
    admin = client_for(org.tenant, org.admin)
    _drain()

    async def scenario() -> None:
        player = await connect(org.tenant, org.player)
        console = await connect(public_tenant, super_admin)
        team = await connect(org.tenant, org.team)
        await send(player, "join_channel", channelId=cid)
        await expect(player, "joined")

        await database_sync_to_async(admin.put)(
            f"/api/chat/channels/{cid}/escalate", {"reason": "platform bug"}, format="json"
        )
        await commit()
        assert (await expect(player, "new_message"))["kind"] == "SYSTEM"
        assert (await expect(player, "channel_status_changed"))["status"] == "ESCALATED"
        escalated = await expect(console, "ticket_escalated")
        assert escalated["reason"] == "platform bug"
        assert await player.receive_nothing(timeout=0.2)  # super admins only

        await database_sync_to_async(admin.put)(
            f"/api/chat/channels/{cid}/assign", {"assigneeId": org.team.id}, format="json"
        )
        await commit()
        assigned = await expect(team, "channel_assigned")  # without joining: per-user delivery
        assert assigned["assignee"]["id"] == org.team.id
        for socket in (player, console, team):
            await socket.disconnect()

    run(scenario)


def test_joining_someone_elses_channel_is_refused(org, other_org, client_for):
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        outsider = await connect(org.tenant, org.player2)
        await send(outsider, "join_channel", channelId=cid)
        assert (await expect(outsider, "error"))["code"] == "not_found"
        await send(outsider, "send_message", channelId=cid, content="let me in")
        assert (await expect(outsider, "error"))["code"] == "not_found"
        globex = await connect(other_org.tenant, other_org.admin)
        await send(globex, "join_channel", channelId=cid)
        assert (await expect(globex, "error"))["code"] == "not_found"
        await outsider.disconnect()
        await globex.disconnect()

    run(scenario)
    with schema_context("acme"):
        assert not Message.objects.filter(channel_id=cid).exists()


def test_two_tenants_interleaving_never_cross(org, other_org, client_for):
    acme_cid = support_ticket(client_for(org.tenant, org.player))["id"]
    globex_cid = support_ticket(client_for(other_org.tenant, other_org.player))["id"]
    _drain()

    async def scenario() -> None:
        acme = await connect(org.tenant, org.player)
        globex = await connect(other_org.tenant, other_org.player)
        await send(acme, "join_channel", channelId=acme_cid)
        await send(globex, "join_channel", channelId=globex_cid)
        await expect(acme, "joined")
        await expect(globex, "joined")
        for n in range(10):
            await send(acme, "send_message", channelId=acme_cid, content=f"acme {n}")
            await send(globex, "send_message", channelId=globex_cid, content=f"globex {n}")
            # Each tenant's socket also tries the other's channel: always not found.
            await send(acme, "join_channel", channelId=globex_cid)
            await send(globex, "join_channel", channelId=acme_cid)
        replies = [await receive(acme) for _ in range(20)] + [
            await receive(globex) for _ in range(20)
        ]
        await commit()
        acme_contents = [(await expect(acme, "new_message"))["content"] for _ in range(10)]
        globex_contents = [(await expect(globex, "new_message"))["content"] for _ in range(10)]
        assert acme_contents == [f"acme {n}" for n in range(10)]
        assert globex_contents == [f"globex {n}" for n in range(10)]
        errors = [f for f in replies if f["event"] == "error"]
        assert len(errors) == 20 and all(e["data"]["code"] == "not_found" for e in errors)
        assert sum(f["event"] == "message_sent" for f in replies) == 20
        await acme.disconnect()
        await globex.disconnect()

    run(scenario)
    with schema_context("acme"):
        assert sorted(
            Message.objects.filter(channel_id=acme_cid).values_list("content", flat=True)
        ) == sorted(f"acme {n}" for n in range(10))
    with schema_context("globex"):
        assert not Message.objects.filter(content__startswith="acme").exists()


def test_resume_after_disconnect_misses_nothing(org, client_for):
    player_client = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(player_client)["id"]
    _drain()

    def send_while_away() -> None:
        for n in range(3):
            admin.post(
                f"/api/chat/channels/{cid}/messages", {"content": f"missed {n}"}, format="json"
            )
        _drain()  # committed and published while nobody of the player's is listening

    async def scenario() -> None:
        player = await connect(org.tenant, org.player)
        await send(player, "join_channel", channelId=cid)
        await expect(player, "joined")
        await send(player, "send_message", channelId=cid, content="before")
        seen = await expect(player, "message_sent")
        await commit()
        await expect(player, "new_message")
        await player.disconnect()

        await database_sync_to_async(send_while_away)()

        player = await connect(org.tenant, org.player)
        await send(player, "join_channel", channelId=cid)
        await expect(player, "joined")
        await send(player, "sync", channelId=cid, afterId=seen["id"])
        synced = await expect(player, "sync")
        assert [m["content"] for m in synced["messages"]] == ["missed 0", "missed 1", "missed 2"]
        assert synced["hasMore"] is False
        assert await player.receive_nothing(timeout=0.2)  # each missed message once
        await player.disconnect()

    run(scenario)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ('{"event": "dance", "data": {}}', "unknown_event"),
        ('{"event": "send_message", "data": {}}', "validation_error"),
        ('{"event": "send_message", "data": "x"}', "bad_frame"),
        (
            '{"event": "send_message", "data": {"channelId": "CID", "content": 5}}',
            "validation_error",
        ),
        (
            '{"event": "send_message", "data": {"channelId": "CID", "content": "   "}}',
            "validation_error",
        ),
        ('{"event": "typing", "data": {"channelId": "CID"}}', "not_joined"),
    ],
)
def test_bad_frames_get_an_error_and_the_socket_stays_open(frame, code, org, client_for):
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        socket = await connect(org.tenant, org.player)
        await socket.send_to(text_data=frame.replace("CID", cid))
        assert (await expect(socket, "error"))["code"] == code
        await send(socket, "join_channel", channelId=cid)  # still open and working
        await expect(socket, "joined")
        await socket.disconnect()

    run(scenario)
    with schema_context("acme"):
        assert not Message.objects.filter(channel_id=cid).exists()


def test_oversized_content_and_rate_limit(org, client_for):
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        socket = await connect(org.tenant, org.player)
        await send(socket, "send_message", channelId=cid, content="x" * 10_001)
        error = await expect(socket, "error")
        assert error["code"] == "validation_error" and "content" in error["fields"]
        codes = []
        for _ in range(40):
            await send(socket, "leave_channel", channelId=cid)
            frame = await receive(socket)
            codes.append(frame["data"].get("code") if frame["event"] == "error" else frame["event"])
        assert "rate_limited" in codes
        assert codes[0] == "left"
        await socket.disconnect()

    run(scenario)


def test_typing_expires_by_itself(org, client_for, monkeypatch):
    monkeypatch.setattr("apps.chat.consumers.TYPING_TTL", 0.2)
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    _drain()

    async def scenario() -> None:
        player = await connect(org.tenant, org.player)
        admin = await connect(org.tenant, org.admin)
        for socket in (player, admin):
            await send(socket, "join_channel", channelId=cid)
            await expect(socket, "joined")
        await send(player, "typing", channelId=cid)
        await expect(admin, "user_typing")
        stopped = await expect(admin, "user_stop_typing")  # no stop_typing was sent
        assert stopped["userId"] == org.player.id
        await player.disconnect()
        await admin.disconnect()

    run(scenario)


def test_badge_updates_without_joining(org, client_for):
    player_client = client_for(org.tenant, org.player)
    cid = support_ticket(player_client)["id"]
    _drain()

    async def scenario() -> None:
        admin = await connect(org.tenant, org.admin)  # joins nothing
        # Its connect has finished (groups joined) once a frame is answered.
        await send(admin, "join_channel", channelId="not-a-uuid", ref="settled")
        assert (await expect(admin, "error"))["ref"] == "settled"
        await database_sync_to_async(player_client.post)(
            f"/api/chat/channels/{cid}/messages", {"content": "anyone?"}, format="json"
        )
        await commit()
        assert await expect(admin, "unread_changed") == {"channelId": cid, "unreadCount": 1}
        assert await admin.receive_nothing(timeout=0.2)  # no room traffic without joining
        await admin.disconnect()

    run(scenario)


def test_suspension_closes_the_tenants_open_sockets_and_refuses_new_ones(
    org, other_org, super_admin, public_tenant, client_for
):
    console = client_for(public_tenant, super_admin)

    async def scenario() -> None:
        acme_player = await connect(org.tenant, org.player)
        acme_admin = await connect(org.tenant, org.admin)
        globex_player = await connect(other_org.tenant, other_org.player)

        response = await database_sync_to_async(console.put)(
            "/api/console/tenants/acme/suspend", {"reason": "Unpaid"}, format="json"
        )
        assert response.status_code == 200
        await commit()

        for socket in (acme_player, acme_admin):
            error = await expect(socket, "error")
            assert error["code"] == "tenant_suspended"
            assert await closed_with(socket) == 4403
        # Another tenant's socket is untouched and still answers.
        assert await globex_player.receive_nothing(timeout=0.2)
        await send(globex_player, "join_channel", channelId="not-a-uuid", ref="x")
        assert (await expect(globex_player, "error"))["ref"] == "x"

        refused = await connect(org.tenant, org.player)
        assert (await expect(refused, "error"))["code"] == "tenant_suspended"
        assert await closed_with(refused) == 4403

        await database_sync_to_async(console.put)("/api/console/tenants/acme/reactivate")
        await commit()
        welcome = await connect(org.tenant, org.player)
        await send(welcome, "join_channel", channelId="not-a-uuid", ref="y")
        assert (await expect(welcome, "error"))["code"] == "not_found"
        await welcome.disconnect()
        await globex_player.disconnect()

    run(scenario)


def test_deleting_a_tenant_closes_its_sockets(super_admin, public_tenant, client_for):
    from apps.accounts.models import User
    from apps.tenancy.services import tenant_provision

    doomed = tenant_provision(slug="wsdoomed", name="Doomed", admin_email="a@wsdoomed.test")
    admin = User.objects.get(email="a@wsdoomed.test")
    console = client_for(public_tenant, super_admin)

    async def scenario() -> None:
        socket = await connect(doomed.tenant, admin)
        response = await database_sync_to_async(console.delete)(
            "/api/console/tenants/wsdoomed", {"confirm": "wsdoomed"}, format="json"
        )
        assert response.status_code == 204
        await commit()
        assert (await expect(socket, "error"))["code"] == "tenant_deleted"
        assert await closed_with(socket) == 4404

    run(scenario)


def test_a_socket_that_raced_a_suspension_is_closed_on_connect(org, monkeypatch):
    """The handshake read the tenant just before the suspension committed; the socket
    missed the close order, so it checks once more after joining its groups."""
    from apps.chat import ws
    from apps.tenancy.models import Tenant

    stale = Tenant.objects.get(pk=org.tenant.pk)  # read while still ACTIVE
    Tenant.objects.filter(pk=org.tenant.pk).update(status="SUSPENDED")
    monkeypatch.setattr(ws, "active_tenant_for_host", lambda host: stale)

    async def scenario() -> None:
        socket = await connect(org.tenant, org.player)
        assert (await expect(socket, "error"))["code"] == "tenant_suspended"
        assert await closed_with(socket) == 4403

    run(scenario)
