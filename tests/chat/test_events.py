"""What each action publishes: once, after commit, to the right groups; nothing for a
refused or rolled-back action."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context
from rest_framework import serializers

from apps.accounts.selectors import actor_for
from apps.chat import events, payloads, selectors, services
from apps.chat.models import Message
from apps.chat.payloads import ChannelOutput, MessageOutput, channel_payload, message_payload
from tests.chat.conftest import create_channel, support_ticket


def room(cid: str, schema: str = "acme") -> str:
    return events.channel_group(schema, cid)


def test_channel_created_reaches_each_participant(org, client_for, published):
    channel = support_ticket(client_for(org.tenant, org.player), participantIds=[org.team.id])
    [event] = published.named("channel_created")
    assert event.data["id"] == channel["id"]
    for user in (org.player, org.admin, org.team):
        assert events.user_group("acme", user.id) in event.groups
    assert events.user_group("acme", org.player2.id) not in event.groups
    assert published.names() == ["channel_created"]


def test_new_message_payload_is_the_rest_body(org, client_for, published):
    player = client_for(org.tenant, org.player)
    channel = support_ticket(player)
    published.clear()

    body = player.post(
        f"/api/chat/channels/{channel['id']}/messages", {"content": "hi"}, format="json"
    ).json()

    event, badge = published.events
    assert event.name == "new_message"
    assert event.data == body
    assert event.groups == (room(channel["id"]),)
    # Every other participant's badge moves: one event for the whole room, which each
    # process fans out to its sockets (the sender is not a reader).
    assert badge.name == "unread_changed"
    assert badge.data == {"channelId": channel["id"], "seq": 1, "readers": [[org.admin.id, 0]]}
    assert badge.groups == (events.badge_group("acme"), events.badge_group("public"))


def test_escalation_events(org, super_admin, client_for, published):
    channel = support_ticket(client_for(org.tenant, org.player))
    published.clear()

    client_for(org.tenant, org.admin).put(
        f"/api/chat/channels/{channel['id']}/escalate", {"reason": "help"}, format="json"
    )

    assert published.names() == ["new_message", "channel_status_changed", "ticket_escalated"]
    system, status, escalated = published.events
    assert system.data["kind"] == "SYSTEM" and "help" in system.data["content"]
    assert status.data["status"] == "ESCALATED"
    assert status.groups == (room(channel["id"]),)
    assert escalated.groups == (events.SUPER_ADMINS_GROUP,)  # super admins only
    assert escalated.data["reason"] == "help"
    assert escalated.data["tenant"] == "acme"
    assert escalated.data["channel"]["id"] == channel["id"]


@pytest.mark.parametrize("action", ["resolve", "archive"])
def test_status_change_events(action, org, client_for, published):
    admin = client_for(org.tenant, org.admin)
    channel = support_ticket(client_for(org.tenant, org.player))
    published.clear()

    if action == "resolve":
        admin.put(f"/api/chat/channels/{channel['id']}/resolve")
    else:
        admin.delete(f"/api/chat/channels/{channel['id']}")

    assert published.names() == ["new_message", "channel_status_changed"]
    expected = {"resolve": "RESOLVED", "archive": "ARCHIVED"}[action]
    assert published.events[1].data["status"] == expected


def test_reopen_publishes_status_change(org, client_for, published):
    player = client_for(org.tenant, org.player)
    channel = support_ticket(player)
    client_for(org.tenant, org.admin).put(f"/api/chat/channels/{channel['id']}/resolve")
    published.clear()

    player.post(f"/api/chat/channels/{channel['id']}/messages", {"content": "again"}, format="json")

    assert published.names() == [
        "new_message",
        "unread_changed",
        "new_message",
        "channel_status_changed",
    ]
    assert published.events[3].data["status"] == "ACTIVE"
    assert published.events[3].data["ticketStatus"] == "OPEN"


def test_assignment_reaches_room_and_assignee(org, client_for, published):
    channel = support_ticket(client_for(org.tenant, org.player))
    published.clear()

    client_for(org.tenant, org.admin).put(
        f"/api/chat/channels/{channel['id']}/assign", {"assigneeId": org.team.id}, format="json"
    )

    assert published.names() == ["new_message", "channel_assigned"]
    assigned = published.events[1]
    assert assigned.data["assignee"]["id"] == org.team.id
    assert room(channel["id"]) in assigned.groups
    assert events.user_group("acme", org.team.id) in assigned.groups


def test_read_receipt_and_removal(org, client_for, published):
    admin = client_for(org.tenant, org.admin)
    tour = create_channel(admin, type="TOURNAMENT", contextId="c", participantIds=[org.player.id])
    message = (
        client_for(org.tenant, org.player)
        .post(f"/api/chat/channels/{tour['id']}/messages", {"content": "x"}, format="json")
        .json()
    )
    published.clear()

    admin.post(f"/api/chat/channels/{tour['id']}/read", {"messageId": message["id"]}, format="json")
    admin.post(f"/api/chat/channels/{tour['id']}/read", {"messageId": message["id"]}, format="json")
    admin.delete(f"/api/chat/channels/{tour['id']}/messages/{message['id']}")

    # Re-reading the same message publishes nothing.
    assert published.names() == ["message_read", "unread_changed", "message_removed"]
    read, badge, removed = published.events
    assert read.data == {
        "channelId": tour["id"],
        "userId": org.admin.id,
        "messageId": message["id"],
        "seq": message["seq"],
        "unreadCount": 0,
    }
    assert read.groups == (room(tour["id"]),)
    assert events.user_group("acme", org.admin.id) in badge.groups  # the badge updates
    assert badge.data == {"channelId": tour["id"], "unreadCount": 0}
    assert removed.data["content"] is None


def test_platform_ticket_events(org, super_admin, client_for, published):
    ticket = create_channel(client_for(org.tenant, org.admin), type="PLATFORM_SUPPORT", subject="s")
    [created] = published.events
    assert events.SUPER_ADMINS_GROUP in created.groups
    published.clear()
    client_for(org.tenant, org.admin).post(
        f"/api/chat/channels/{ticket['id']}/messages", {"content": "x"}, format="json"
    )
    assert published.events[0].groups == (room(ticket["id"], "public"),)


def test_refused_actions_publish_nothing(org, client_for, published):
    player = client_for(org.tenant, org.player)
    channel = support_ticket(player)
    client_for(org.tenant, org.admin).delete(f"/api/chat/channels/{channel['id']}")
    published.clear()

    assert (
        player.post(
            f"/api/chat/channels/{channel['id']}/messages", {"content": "x"}, format="json"
        ).status_code
        == 409
    )
    assert (
        player.put(
            f"/api/chat/channels/{channel['id']}/escalate", {"reason": "r"}, format="json"
        ).status_code
        == 409
    )
    assert player.post("/api/chat/channels", {"type": "TEAM"}, format="json").status_code == 403

    assert published.events == []


def test_rolled_back_transaction_publishes_nothing(org, client_for, published):
    channel = support_ticket(client_for(org.tenant, org.player))
    published.clear()
    actor = actor_for(user=org.admin, tenant=org.tenant)
    assert actor is not None

    with pytest.raises(RuntimeError), transaction.atomic():
        services.message_send(actor=actor, channel_id=channel["id"], content="never sent")
        services.channel_escalate(actor=actor, channel_id=channel["id"], reason="nope")
        raise RuntimeError("the caller's transaction fails afterwards")

    assert published.events == []
    page = client_for(org.tenant, org.admin).get(f"/api/chat/channels/{channel['id']}").json()
    assert page["status"] == "ACTIVE"
    assert page["messages"]["messages"] == []


def test_each_event_is_delivered_once_per_commit(org, client_for, published: Any):
    player = client_for(org.tenant, org.player)
    channel = support_ticket(player)
    for n in range(3):
        player.post(
            f"/api/chat/channels/{channel['id']}/messages", {"content": str(n)}, format="json"
        )
    contents = [e.data["content"] for e in published.named("new_message")]
    assert contents == ["0", "1", "2"]


def test_message_payload_matches_the_documented_serializer(org, client_for):
    """Messages are built by hand for speed; the OpenAPI schema documents MessageOutput.
    Both must give the same body for a member's, a SYSTEM and a removed message."""
    admin = client_for(org.tenant, org.admin)
    tournament = create_channel(admin, type="TOURNAMENT", contextId="cup-final")
    sent = admin.post(
        f"/api/chat/channels/{tournament['id']}/messages", {"content": "gone soon"}, format="json"
    ).json()
    admin.delete(f"/api/chat/channels/{tournament['id']}/messages/{sent['id']}")
    channel = support_ticket(client_for(org.tenant, org.player))
    admin.put(f"/api/chat/channels/{channel['id']}/escalate", {"reason": "help"}, format="json")

    with tenant_context(org.tenant):
        messages = list(Message.objects.select_related("sender"))
    kinds = {(m.kind, m.sender_id is None, m.removed_at is not None) for m in messages}
    assert ("SYSTEM", True, False) in kinds and any(removed for *_, removed in kinds)
    for message in messages:
        assert message_payload(message) == dict(MessageOutput(message).data)


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 30, 5, tzinfo=UTC),  # no fraction
        datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("Europe/Berlin")),  # another zone
    ],
)
def test_payload_times_are_written_as_the_serializer_writes_them(when):
    assert payloads._time(when) == serializers.DateTimeField().to_representation(when)


def test_channel_payload_matches_the_documented_serializer(org, client_for):
    """Channels too: with and without a ticket, an assignee, an escalation, a last
    message, the caller's read state; a platform ticket carries its tenant."""
    admin = client_for(org.tenant, org.admin)
    create_channel(admin, type="TOURNAMENT", contextId="cup-quiet")
    ticket = support_ticket(client_for(org.tenant, org.player))
    url = f"/api/chat/channels/{ticket['id']}"
    admin.put(f"{url}/assign", {"assigneeId": org.team.id}, format="json")
    admin.put(f"{url}/escalate", {"reason": "help"}, format="json")
    create_channel(admin, type="PLATFORM_SUPPORT", subject="Invoice", category="BILLING")

    actor = actor_for(user=org.admin, tenant=org.tenant)
    page = selectors.channel_list(actor=actor)
    assert len(page.channels) == 3
    shapes = {(c.type, c.last_message is None, c.assigned_to is None) for c in page.channels}
    assert ("TOURNAMENT", True, True) in shapes and ("SUPPORT", False, False) in shapes
    for channel in page.channels:
        assert channel_payload(channel) == dict(ChannelOutput(channel).data)
    bare = page.channels[0]
    del bare.unread_count, bare.my_role
    assert channel_payload(bare) == dict(ChannelOutput(bare).data)


def test_team_and_tournament_badges_go_to_the_tenant_host_only(org, client_for, published):
    """The console never shows team or tournament channels: their badges are not
    published to the public host's processes."""
    admin = client_for(org.tenant, org.admin)
    channel = create_channel(
        admin, type="TOURNAMENT", contextId="cup-badges", participantIds=[org.player.id]
    )
    published.clear()

    admin.post(f"/api/chat/channels/{channel['id']}/messages", {"content": "go"}, format="json")

    [badge] = published.named("unread_changed")
    assert badge.groups == (events.badge_group("acme"),)
    assert [org.player.id, 0] in badge.data["readers"]


def test_a_team_message_is_one_layer_message_with_its_badges(org, client_for, published):
    """Channels only the tenant's host shows: the sinks see `new_message` and the badges
    as for any channel; the layer gets one message, to the host's badge group, carrying
    the room's frame."""
    admin = client_for(org.tenant, org.admin)
    team = admin.post(
        "/api/chat/channels", {"type": "TEAM", "participantIds": [org.team.id]}, format="json"
    ).json()
    published.clear()

    body = admin.post(
        f"/api/chat/channels/{team['id']}/messages", {"content": "plan"}, format="json"
    ).json()

    message, badge = published.events
    assert (message.name, message.data) == ("new_message", body)
    assert message.groups == (room(team["id"]),)
    assert message.layer_messages() == []
    [(group, layer_message)] = badge.layer_messages()
    assert group == events.badge_group("acme")
    assert layer_message["room"] == room(team["id"])
    assert json.loads(layer_message["frame"]) == {"event": "new_message", "data": body}
    assert layer_message["readers"] == [[org.team.id, 0]]
