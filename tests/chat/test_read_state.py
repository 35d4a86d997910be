"""Unread counts in the channel list and the navbar badge."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.chat.conftest import create_channel, support_ticket


def send(client, cid, content="x"):  # type: ignore[no-untyped-def]
    response = client.post(
        f"/api/chat/channels/{cid}/messages", {"content": content}, format="json"
    )
    assert response.status_code == 201
    return response.json()


def unread_of(client, cid):  # type: ignore[no-untyped-def]
    channels = client.get("/api/chat/channels").json()["channels"]
    return next(c["unreadCount"] for c in channels if c["id"] == cid)


def test_unread_counts_others_and_system_messages_not_own(org, client_for):
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(player)["id"]

    send(player, cid)
    send(player, cid)
    assert unread_of(admin, cid) == 2
    assert unread_of(player, cid) == 0  # own messages are read

    send(admin, cid)  # answering marks everything before it read
    assert unread_of(admin, cid) == 0
    assert unread_of(player, cid) == 1

    admin.put(f"/api/chat/channels/{cid}/resolve")  # a SYSTEM message
    assert unread_of(player, cid) == 2
    assert unread_of(admin, cid) == 1


def test_mark_read_never_moves_backwards(org, client_for):
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(player)["id"]
    first, _, third = (send(player, cid, str(n)) for n in range(3))

    assert (
        admin.post(
            f"/api/chat/channels/{cid}/read", {"messageId": third["id"]}, format="json"
        ).json()["unreadCount"]
        == 0
    )
    back = admin.post(f"/api/chat/channels/{cid}/read", {"messageId": first["id"]}, format="json")
    assert back.status_code == 200
    assert back.json()["lastReadSeq"] == third["seq"]
    assert unread_of(admin, cid) == 0


def test_badge_sums_every_channel_per_user(org, client_for):
    player = client_for(org.tenant, org.player)
    player2 = client_for(org.tenant, org.player2)
    admin = client_for(org.tenant, org.admin)
    a = support_ticket(player)["id"]
    b = support_ticket(player2)["id"]
    send(player, a)
    send(player, a)
    send(player2, b)
    ticket = create_channel(admin, type="PLATFORM_SUPPORT", subject="s")["id"]

    assert admin.get("/api/chat/unread").json() == {"total": 3, "channels": 2}
    assert player.get("/api/chat/unread").json() == {"total": 0, "channels": 0}
    assert player2.get("/api/chat/unread").json() == {"total": 0, "channels": 0}

    send(admin, a)
    assert admin.get("/api/chat/unread").json() == {"total": 1, "channels": 1}
    assert player.get("/api/chat/unread").json() == {"total": 1, "channels": 1}
    assert ticket  # the admin's own platform ticket adds nothing until someone answers


def test_platform_ticket_replies_count_for_the_tenant_admin(
    org, super_admin, public_tenant, client_for
):
    admin = client_for(org.tenant, org.admin)
    ticket = create_channel(admin, type="PLATFORM_SUPPORT", subject="s")["id"]
    send(client_for(public_tenant, super_admin), ticket)
    assert admin.get("/api/chat/unread").json() == {"total": 1, "channels": 1}
    assert unread_of(admin, ticket) == 1


def _statements(captured: CaptureQueriesContext) -> int:
    """Queries, less `SET search_path`: whether one is needed depends on the schema the
    previous request left the connection on, not on the request."""
    return sum(not q["sql"].startswith("SET search_path") for q in captured.captured_queries)


def _list_queries(client) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/chat/channels")
    assert response.status_code == 200
    return _statements(captured)


def test_channel_list_costs_the_same_queries_for_3_or_30_channels(org, client_for):
    admin = client_for(org.tenant, org.admin)
    for n in range(3):
        cid = create_channel(admin, type="TEAM", participantIds=[org.team.id])["id"]
        send(admin, cid, f"m{n}")
    few = _list_queries(admin)
    for n in range(27):
        cid = create_channel(admin, type="TEAM", participantIds=[org.team.id])["id"]
        send(admin, cid, f"m{n}")
    assert len(admin.get("/api/chat/channels").json()["channels"]) == 30
    assert _list_queries(admin) == few
    with CaptureQueriesContext(connection) as captured:
        admin.get("/api/chat/unread")
    badge = _statements(captured)
    assert badge <= few
