"""Happy paths of every chat endpoint, and the support workflow a user walks through."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from apps.chat.models import Channel, Message
from apps.records.models import Escalation
from tests.chat.conftest import create_channel, support_ticket


def post(client, channel_id, content):  # type: ignore[no-untyped-def]
    response = client.post(
        f"/api/chat/channels/{channel_id}/messages", {"content": content}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_support_ticket_starts_with_the_tenant_admins(org, client_for):
    channel = support_ticket(
        client_for(org.tenant, org.player), category="TOURNAMENT_ISSUE", priority="HIGH"
    )

    assert channel["type"] == "SUPPORT"
    assert channel["status"] == "ACTIVE"
    assert channel["ticket"]["status"] == "OPEN"
    assert channel["ticket"]["category"] == "TOURNAMENT_ISSUE"
    assert channel["ticket"]["priority"] == "HIGH"
    assert channel["myRole"] == "MEMBER"
    detail = client_for(org.tenant, org.admin).get(f"/api/chat/channels/{channel['id']}").json()
    roles = {p["user"]["id"]: p["role"] for p in detail["participants"]}
    assert roles == {org.player.id: "MEMBER", org.admin.id: "ADMIN"}


def test_ticket_defaults(org, client_for):
    channel = support_ticket(client_for(org.tenant, org.player))
    assert channel["ticket"]["category"] == "OTHER"
    assert channel["ticket"]["priority"] == "MEDIUM"


def test_send_and_read_back_messages(org, client_for):
    player = client_for(org.tenant, org.player)
    channel = support_ticket(player)

    first = post(player, channel["id"], "Hello")
    reply = post(client_for(org.tenant, org.admin), channel["id"], "Hi, how can I help?")

    assert first["senderType"] == "PARTICIPANT"
    assert reply["senderType"] == "TENANT_ADMIN"
    assert reply["seq"] == first["seq"] + 1
    detail = player.get(f"/api/chat/channels/{channel['id']}").json()
    assert [m["content"] for m in detail["messages"]["messages"]] == [
        "Hi, how can I help?",
        "Hello",
    ]
    assert detail["lastMessage"]["id"] == reply["id"]
    assert detail["unreadCount"] == 1


def test_channel_list_filters(org, client_for):
    admin = client_for(org.tenant, org.admin)
    support = support_ticket(client_for(org.tenant, org.player))
    team = create_channel(admin, type="TEAM", participantIds=[org.team.id], subject="Planning")
    tour = create_channel(admin, type="TOURNAMENT", contextId="t-2026-spring")
    admin.put(f"/api/chat/channels/{support['id']}/resolve")

    def ids(query: str) -> set[str]:
        response = admin.get(f"/api/chat/channels{query}")
        assert response.status_code == 200
        return {c["id"] for c in response.json()["channels"]}

    assert ids("") == {support["id"], team["id"], tour["id"]}
    assert ids("?type=TEAM") == {team["id"]}
    assert ids("?status=RESOLVED") == {support["id"]}
    assert ids("?contextId=t-2026-spring") == {tour["id"]}
    assert ids("?type=SUPPORT&status=ACTIVE") == set()


def test_list_is_ordered_by_latest_activity(org, client_for):
    admin = client_for(org.tenant, org.admin)
    older = create_channel(admin, type="TEAM", participantIds=[org.team.id], subject="A")
    newer = create_channel(admin, type="TEAM", participantIds=[org.team.id], subject="B")
    assert [c["id"] for c in admin.get("/api/chat/channels").json()["channels"]] == [
        newer["id"],
        older["id"],
    ]
    post(admin, older["id"], "bump")
    assert admin.get("/api/chat/channels").json()["channels"][0]["id"] == older["id"]


def test_escalate_assign_resolve_archive(org, super_admin, client_for):
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    channel = support_ticket(player)
    cid = channel["id"]

    assigned = admin.put(
        f"/api/chat/channels/{cid}/assign", {"assigneeId": org.team.id}, format="json"
    )
    assert assigned.status_code == 200
    assert assigned.json()["assignedTo"] == {
        "id": org.team.id,
        "displayName": org.team.display_name,
    }
    assert assigned.json()["ticket"]["status"] == "IN_PROGRESS"

    escalated = admin.put(
        f"/api/chat/channels/{cid}/escalate", {"reason": "Bug in scoring"}, format="json"
    )
    assert escalated.status_code == 200
    assert escalated.json()["status"] == "ESCALATED"
    assert escalated.json()["escalationReason"] == "Bug in scoring"
    assert Escalation.objects.filter(tenant=org.tenant, channel_id=cid, state="OPEN").exists()

    superc = client_for(org.tenant, super_admin)
    answer = post(superc, cid, "Looking into it")
    assert answer["senderType"] == "SUPER_ADMIN"
    resolved = superc.put(f"/api/chat/channels/{cid}/resolve")
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "RESOLVED"
    assert resolved.json()["ticket"]["status"] == "RESOLVED"
    assert Escalation.objects.get(channel_id=cid).state == "RESOLVED"

    archived = admin.delete(f"/api/chat/channels/{cid}")
    assert archived.status_code == 200
    assert archived.json()["status"] == "ARCHIVED"
    assert archived.json()["ticket"]["status"] == "CLOSED"
    with schema_context("acme"):
        assert Channel.objects.filter(pk=cid).exists()  # archived, not deleted
        system = list(
            Message.objects.filter(channel_id=cid, kind="SYSTEM").values_list("content", flat=True)
        )
    assert len(system) == 4  # assigned, escalated, resolved, archived
    assert "Bug in scoring" in system[1]

    refused = post_raw(player, cid, "still there?")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "channel_archived"


def post_raw(client, channel_id, content):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/chat/channels/{channel_id}/messages", {"content": content}, format="json"
    )


def test_mark_read_and_badge(org, client_for):
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    channel = support_ticket(player)
    m1 = post(player, channel["id"], "one")
    post(player, channel["id"], "two")

    assert admin.get("/api/chat/unread").json() == {"total": 2, "channels": 1}
    read = admin.post(
        f"/api/chat/channels/{channel['id']}/read", {"messageId": m1["id"]}, format="json"
    )
    assert read.status_code == 200
    assert read.json() == {"channelId": channel["id"], "lastReadSeq": 1, "unreadCount": 1}
    assert admin.get("/api/chat/unread").json() == {"total": 1, "channels": 1}


def test_add_participants_and_observer(org, client_for):
    admin = client_for(org.tenant, org.admin)
    tour = create_channel(
        admin, type="TOURNAMENT", contextId="cup-1", participantIds=[org.player.id]
    )
    added = admin.post(
        f"/api/chat/channels/{tour['id']}/participants",
        {"userIds": [org.player2.id], "role": "OBSERVER"},
        format="json",
    )
    assert added.status_code == 201
    assert added.json()[0]["user"]["id"] == org.player2.id
    assert added.json()[0]["role"] == "OBSERVER"

    observer = client_for(org.tenant, org.player2)
    assert observer.get(f"/api/chat/channels/{tour['id']}").status_code == 200
    refused = post_raw(observer, tour["id"], "hi")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "observer"


def test_tournament_channel_moderation(org, client_for):
    admin = client_for(org.tenant, org.admin)
    tour = create_channel(
        admin, type="TOURNAMENT", contextId="cup-2", participantIds=[org.player.id]
    )
    detail = admin.get(f"/api/chat/channels/{tour['id']}").json()
    roles = {p["user"]["id"]: p["role"] for p in detail["participants"]}
    assert roles[org.team.id] == "ADMIN"  # the management team moderates from the start
    assert roles[org.player.id] == "MEMBER"

    bad = post(client_for(org.tenant, org.player), tour["id"], "rude words")
    team = client_for(org.tenant, org.team)
    removed = team.delete(f"/api/chat/channels/{tour['id']}/messages/{bad['id']}")
    assert removed.status_code == 200
    assert removed.json()["content"] is None
    assert removed.json()["removedBy"] == org.team.id
    assert removed.json()["removedAt"] is not None
    with schema_context("acme"):
        assert Message.objects.get(pk=bad["id"]).content == "rude words"  # kept

    duplicate = admin.post(
        "/api/chat/channels", {"type": "TOURNAMENT", "contextId": "cup-2"}, format="json"
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "tournament_channel_exists"


def test_platform_ticket_round_trip(org, super_admin, public_tenant, client_for):
    admin = client_for(org.tenant, org.admin)
    ticket = create_channel(admin, type="PLATFORM_SUPPORT", subject="Invoice", category="BILLING")
    assert ticket["tenant"] == "acme"
    with schema_context("public"):
        assert Channel.objects.filter(pk=ticket["id"], tenant=org.tenant).exists()
    with schema_context("acme"):
        assert not Channel.objects.filter(pk=ticket["id"]).exists()

    post(admin, ticket["id"], "We were charged twice")
    console = client_for(public_tenant, super_admin)
    listed = console.get("/api/chat/channels").json()["channels"]
    assert [c["id"] for c in listed] == [ticket["id"]]
    assert listed[0]["unreadCount"] == 1
    reply = post(console, ticket["id"], "Refunded")
    assert reply["senderType"] == "SUPER_ADMIN"

    mine = admin.get("/api/chat/channels?type=PLATFORM_SUPPORT").json()["channels"]
    assert mine[0]["id"] == ticket["id"]
    assert mine[0]["ticket"]["status"] == "IN_PROGRESS"
    assert mine[0]["unreadCount"] == 1
    # Staff on a platform ticket are the super admins: the tenant admin who asked cannot
    # resolve it or change it.
    refused = admin.put(f"/api/chat/channels/{ticket['id']}/resolve")
    assert refused.status_code == 403
    raised = admin.patch(
        f"/api/chat/channels/{ticket['id']}/ticket", {"priority": "URGENT"}, format="json"
    )
    assert raised.status_code == 403
    resolved = console.put(f"/api/chat/channels/{ticket['id']}/resolve")
    assert resolved.status_code == 200
    assert resolved.json()["ticket"]["status"] == "RESOLVED"
    assert resolved.json()["ticket"]["priority"] != "URGENT"


def test_ticket_update(org, client_for):
    admin = client_for(org.tenant, org.admin)
    channel = support_ticket(client_for(org.tenant, org.player))
    response = admin.patch(
        f"/api/chat/channels/{channel['id']}/ticket",
        {"status": "WAITING_ON_USER", "priority": "URGENT"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["ticket"]["status"] == "WAITING_ON_USER"
    assert response.json()["ticket"]["priority"] == "URGENT"


def test_channel_list_pages_follow_the_cursor_across_schemas(org, other_org, client_for):
    """Pages of `limit` channels, newest activity first, tenant channels and platform
    tickets merged; following `next` lists each channel once, and only the caller's."""
    admin = client_for(org.tenant, org.admin)
    opened = [
        create_channel(admin, type="TEAM", participantIds=[org.team.id], subject=f"T{i}")
        for i in range(4)
    ]
    opened.append(create_channel(admin, type="PLATFORM_SUPPORT", subject="Billing"))
    create_channel(client_for(other_org.tenant, other_org.admin), type="TEAM", subject="Theirs")

    seen: list[str] = []
    query = "?limit=2"
    while True:
        body = admin.get(f"/api/chat/channels{query}").json()
        assert len(body["channels"]) <= 2
        seen += [channel["id"] for channel in body["channels"]]
        if body["next"] is None:
            break
        query = f"?limit=2&cursor={body['next']}"

    assert seen == [channel["id"] for channel in reversed(opened)]


@pytest.mark.parametrize("query", ["?cursor=nonsense", "?cursor=MjAyNnxub3Q", "?limit=0"])
def test_channel_list_refuses_bad_paging(org, client_for, query):
    response = client_for(org.tenant, org.admin).get(f"/api/chat/channels{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
