"""Internal notes: staff write them on tickets; requesters, participants and tenant
users on platform tickets never get them, on any read path or socket."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django_tenants.utils import schema_context

from apps.chat.models import Channel, Message
from tests.chat.conftest import create_channel, support_ticket
from tests.chat.test_websocket import _drain, commit, connect, expect, send


@pytest.fixture(autouse=True)
def _keep_test_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sockets' database work shares the test's open transaction (see
    tests/chat/test_websocket.py)."""
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)


def post(client: Any, cid: str, content: str, kind: str = "USER") -> Any:
    return client.post(
        f"/api/chat/channels/{cid}/messages", {"content": content, "kind": kind}, format="json"
    )


def contents(messages: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for m in messages]


def listed(client: Any, cid: str) -> dict[str, Any]:
    channels = client.get("/api/chat/channels").json()["channels"]
    return next(c for c in channels if c["id"] == cid)


def test_staff_note_is_invisible_to_the_requester_on_every_rest_path(org, client_for):
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(player)["id"]
    asked = post(player, cid, "help").json()
    answer = post(admin, cid, "looking").json()

    note = post(admin, cid, "secret: refund abuse", "NOTE")
    assert note.status_code == 201, note.json()
    note = note.json()
    assert note["kind"] == "NOTE" and note["seq"] == answer["seq"] + 1

    # Staff see it everywhere.
    detail = admin.get(f"/api/chat/channels/{cid}").json()
    assert "secret: refund abuse" in contents(detail["messages"]["messages"])
    after = admin.get(f"/api/chat/channels/{cid}/messages?after={asked['id']}").json()
    assert contents(after["messages"]) == ["looking", "secret: refund abuse"]

    # The requester: not in detail, history either way, lastMessage, nor unread.
    detail = player.get(f"/api/chat/channels/{cid}").json()
    assert "secret: refund abuse" not in contents(detail["messages"]["messages"])
    assert detail["lastMessage"]["id"] == answer["id"]
    assert detail["unreadCount"] == 1  # the answer only
    row = listed(player, cid)
    assert row["lastMessage"]["id"] == answer["id"] and row["unreadCount"] == 1
    assert player.get("/api/chat/unread").json()["total"] == 1
    newer = player.get(f"/api/chat/channels/{cid}/messages?after=0").json()
    assert contents(newer["messages"]) == ["help", "looking"]
    older = player.get(f"/api/chat/channels/{cid}/messages").json()
    assert "secret: refund abuse" not in contents(older["messages"])
    # A note is no cursor and no read mark for them: it does not exist.
    for query in (f"after={note['id']}", f"before={note['id']}"):
        assert player.get(f"/api/chat/channels/{cid}/messages?{query}").status_code == 400
    read = player.post(f"/api/chat/channels/{cid}/read", {"messageId": note["id"]}, format="json")
    assert read.status_code == 400

    # After a note, the requester's next message still counts as 1 unread for staff.
    post(player, cid, "thanks")
    assert listed(admin, cid)["unreadCount"] == 1
    assert listed(admin, cid)["lastMessage"]["content"] == "thanks"
    # Reading up to the last message: zero for both, notes never counted.
    last = player.get(f"/api/chat/channels/{cid}").json()["lastMessage"]
    done = admin.post(f"/api/chat/channels/{cid}/read", {"messageId": last["id"]}, format="json")
    assert done.json()["unreadCount"] == 0


def test_a_note_does_not_move_the_ticket_nor_the_list(org, client_for):
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(player)["id"]
    before = listed(player, cid)
    post(admin, cid, "internal", "NOTE")
    after = listed(player, cid)
    assert after["lastActivityAt"] == before["lastActivityAt"]
    assert after["ticket"]["firstResponseAt"] is None  # a note answers nobody
    assert after["ticket"]["status"] == "OPEN"


def test_only_staff_write_notes_and_only_on_tickets(org, client_for):
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(player)["id"]
    refused = post(player, cid, "let me in", "NOTE")
    assert refused.status_code == 403
    assert post(player, cid, "x", "SYSTEM").status_code == 400
    team = create_channel(admin, type="TEAM", participantIds=[org.team.id])["id"]
    assert post(admin, team, "x", "NOTE").json()["error"]["code"] == "not_a_ticket"
    with schema_context("acme"):
        assert not Message.objects.filter(kind="NOTE").exists()


def test_platform_ticket_notes_are_for_super_admins_only(
    org, super_admin, public_tenant, client_for
):
    tenant_admin = client_for(org.tenant, org.admin)
    console = client_for(public_tenant, super_admin)
    cid = create_channel(tenant_admin, type="PLATFORM_SUPPORT", subject="Invoice")["id"]
    assert post(tenant_admin, cid, "tenant note", "NOTE").status_code == 403
    answer = post(console, cid, "on it").json()
    assert post(console, cid, "check their plan", "NOTE").status_code == 201

    seen = tenant_admin.get(f"/api/chat/channels/{cid}").json()
    assert contents(seen["messages"]["messages"]) == ["on it"]
    assert seen["lastMessage"]["id"] == answer["id"]
    assert seen["unreadCount"] == 1
    staff = console.get(f"/api/chat/channels/{cid}").json()
    assert "check their plan" in contents(staff["messages"]["messages"])
    queue = console.get("/api/console/tickets").json()
    assert all(t["lastMessage"]["content"] != "check their plan" for t in queue["tickets"])


def test_escalated_channel_notes_reach_super_admins_on_the_console(org, super_admin, client_for):
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(player)["id"]
    admin.put(f"/api/chat/channels/{cid}/escalate", {"reason": "bug"}, format="json")
    post(admin, cid, "internal context", "NOTE")
    escalations = client_for(org.tenant, super_admin).get(f"/api/chat/channels/{cid}").json()
    assert "internal context" in contents(escalations["messages"]["messages"])


def test_other_tenant_sees_nothing(org, other_org, client_for):
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(client_for(org.tenant, org.player))["id"]
    post(admin, cid, "acme internal", "NOTE")
    outsider = client_for(other_org.tenant, other_org.admin)
    assert outsider.get(f"/api/chat/channels/{cid}").status_code == 404
    assert post(outsider, cid, "x", "NOTE").status_code == 404
    with schema_context("globex"):
        assert not Message.objects.filter(kind="NOTE").exists()


def test_notes_over_sockets_reach_staff_only(org, client_for):
    player_client = client_for(org.tenant, org.player)
    cid = support_ticket(player_client)["id"]
    client_for(org.tenant, org.admin).post(
        f"/api/chat/channels/{cid}/participants", {"userIds": [org.team.id]}, format="json"
    )
    _drain()

    async def scenario() -> None:
        player = await connect(org.tenant, org.player)
        admin = await connect(org.tenant, org.admin)
        team = await connect(org.tenant, org.team)
        for socket, notes in ((player, False), (admin, True), (team, True)):
            await send(socket, "join_channel", channelId=cid)
            assert (await expect(socket, "joined"))["notes"] is notes

        await send(player, "send_message", channelId=cid, content="n", kind="NOTE")
        assert (await expect(player, "error"))["code"] == "permission_denied"

        await send(admin, "send_message", channelId=cid, content="psst", kind="NOTE")
        sent = await expect(admin, "message_sent")
        assert sent["kind"] == "NOTE"
        await commit()
        assert (await expect(admin, "new_message"))["content"] == "psst"
        assert (await expect(team, "new_message"))["content"] == "psst"
        assert await player.receive_nothing(timeout=0.3)  # no frame, not even a badge

        # Reading up to a note: the receipt goes to staff only.
        await send(team, "mark_read", channelId=cid, messageId=sent["id"])
        assert (await expect(team, "read"))["unreadCount"] == 0
        await commit()
        assert (await expect(admin, "message_read"))["messageId"] == sent["id"]
        assert (await expect(team, "message_read"))["messageId"] == sent["id"]
        assert (await expect(team, "unread_changed"))["unreadCount"] == 0
        assert await player.receive_nothing(timeout=0.3)

        # Sync after a disconnect skips the note for the requester, not for staff.
        await send(player, "sync", channelId=cid, afterId=0)
        assert [m["kind"] for m in (await expect(player, "sync"))["messages"]] == ["SYSTEM"]
        await send(admin, "sync", channelId=cid, afterId=0)
        synced = (await expect(admin, "sync"))["messages"]
        assert [m["kind"] for m in synced] == ["SYSTEM", "NOTE"]

        # A normal message still reaches everyone once.
        await send(admin, "send_message", channelId=cid, content="hello")
        await expect(admin, "message_sent")
        await commit()
        for socket in (player, admin, team):
            hello = await expect(socket, "new_message")
            assert hello["content"] == "hello"
            # The requester's `seq` skips the note; `publicSeq` runs on (SYSTEM was 1).
            assert (hello["seq"], hello["publicSeq"]) == (3, 2)
        for socket in (player, admin, team):
            await socket.disconnect()

    async_to_sync(scenario)()
    with schema_context("acme"):
        channel = Channel.objects.get(pk=cid)
        assert (channel.last_seq, channel.last_public_seq) == (3, 2)


def test_badges_without_joining_skip_notes(org, client_for):
    player_client = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(player_client)["id"]
    _drain()

    async def scenario() -> None:
        player = await connect(org.tenant, org.player)
        from channels.db import database_sync_to_async

        await database_sync_to_async(post)(admin, cid, "hidden", "NOTE")
        await commit()
        assert await player.receive_nothing(timeout=1.3)
        await database_sync_to_async(post)(admin, cid, "visible")
        await commit()
        badge = await expect(player, "unread_changed")
        assert badge == {"channelId": cid, "unreadCount": 1}
        await player.disconnect()

    async_to_sync(scenario)()


def test_losing_the_staff_role_leaves_the_notes_room(org, client_for):
    player_client = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(player_client)["id"]
    client_for(org.tenant, org.admin).post(
        f"/api/chat/channels/{cid}/participants",
        {"userIds": [org.team.id], "role": "ADMIN"},
        format="json",
    )
    _drain()

    async def scenario() -> None:
        from channels.db import database_sync_to_async

        team = await connect(org.tenant, org.team)
        await send(team, "join_channel", channelId=cid)
        await expect(team, "joined")
        changed = await database_sync_to_async(admin.patch)(
            f"/api/members/{org.team.id}", {"role": "PARTICIPANT"}, format="json"
        )
        assert changed.status_code == 200, changed.json()
        await commit()
        await database_sync_to_async(post)(admin, cid, "after demotion", "NOTE")
        await commit()
        while not await team.receive_nothing(timeout=0.5):
            frame = await expect_any(team)
            assert frame.get("data", {}).get("content") != "after demotion", frame
        await team.disconnect()

    async_to_sync(scenario)()


async def expect_any(socket: Any) -> dict[str, Any]:
    import json

    return json.loads(await socket.receive_from(timeout=0.5))


def test_console_escalation_reply_as_a_note(org, super_admin, public_tenant, client_for):
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(player)["id"]
    admin.put(f"/api/chat/channels/{cid}/escalate", {"reason": "bug"}, format="json")
    console = client_for(public_tenant, super_admin)
    escalation = console.get("/api/console/escalations").json()["escalations"][0]["id"]
    url = f"/api/console/escalations/{escalation}/messages"
    noted = console.post(url, {"content": "platform-side note", "kind": "NOTE"}, format="json")
    assert noted.status_code == 201, noted.json()
    assert console.post(url, {"kind": "NOTE"}, format="json").status_code == 400
    seen = player.get(f"/api/chat/channels/{cid}").json()["messages"]["messages"]
    assert "platform-side note" not in [m["content"] for m in seen]
    staff = admin.get(f"/api/chat/channels/{cid}").json()["messages"]["messages"]
    assert "platform-side note" in [m["content"] for m in staff]
