"""Who may do what, generated from one table: (actor, action, channel, expected status).

Channels (built fresh for each case):
  SUPPORT        opened by player with the management team member; admin and team are ADMINs
  SUPPORT_ESC    the same, escalated by the admin (super admins joined)
  SUPPORT_ARCH   the same, archived
  TEAM           opened by admin with team (team is a MEMBER there)
  TOURNAMENT     opened by admin for one tournament with player (admin, team moderate)
  PLATFORM       a PLATFORM_SUPPORT ticket opened by admin (super admins joined)
Actors: admin (TENANT_ADMIN), team (MANAGEMENT_TEAM), player (PARTICIPANT in the channel
where it says), outsider (PARTICIPANT in no channel), super (super admin, tenant host).
"""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.chat.locate import PUBLIC
from apps.chat.models import Channel, Message
from tests.chat.conftest import create_channel

CREATE = [
    # (actor, channel type, expected)
    ("player", "SUPPORT", 201),
    ("team", "SUPPORT", 201),
    ("admin", "SUPPORT", 201),
    ("player", "TEAM", 403),
    ("team", "TEAM", 201),
    ("admin", "TEAM", 201),
    ("player", "TOURNAMENT", 403),
    ("team", "TOURNAMENT", 201),
    ("admin", "TOURNAMENT", 201),
    ("player", "PLATFORM_SUPPORT", 403),
    ("team", "PLATFORM_SUPPORT", 403),
    ("admin", "PLATFORM_SUPPORT", 201),
    ("super", "SUPPORT", 403),
    ("super", "TEAM", 403),
]

MATRIX = [
    # (actor, action, channel, expected)
    ("admin", "view", "SUPPORT", 200),
    ("team", "view", "SUPPORT", 200),
    ("player", "view", "SUPPORT", 200),
    ("outsider", "view", "SUPPORT", 404),
    ("super", "view", "SUPPORT", 404),
    ("super", "view", "SUPPORT_ESC", 200),
    ("player", "view", "SUPPORT_ARCH", 200),
    ("player", "view", "TEAM", 404),
    ("team", "view", "TEAM", 200),
    ("outsider", "view", "TOURNAMENT", 404),
    ("team", "view", "PLATFORM", 404),
    ("super", "view", "PLATFORM", 200),
    ("player", "post", "SUPPORT", 201),
    ("outsider", "post", "SUPPORT", 404),
    ("super", "post", "SUPPORT_ESC", 201),
    ("player", "post", "SUPPORT_ARCH", 409),
    ("admin", "post", "PLATFORM", 201),
    ("super", "post", "PLATFORM", 201),
    ("player", "post", "TOURNAMENT", 201),
    ("admin", "escalate", "SUPPORT", 200),
    ("team", "escalate", "SUPPORT", 200),
    ("player", "escalate", "SUPPORT", 403),
    ("outsider", "escalate", "SUPPORT", 404),
    ("admin", "escalate", "SUPPORT_ESC", 409),
    ("admin", "escalate", "SUPPORT_ARCH", 409),
    ("admin", "escalate", "TEAM", 400),
    ("admin", "escalate", "TOURNAMENT", 400),
    ("admin", "escalate", "PLATFORM", 400),
    ("admin", "assign", "SUPPORT", 200),
    ("team", "assign", "SUPPORT", 200),
    ("player", "assign", "SUPPORT", 403),
    ("super", "assign", "SUPPORT_ESC", 200),
    ("admin", "assign", "SUPPORT_ARCH", 409),
    ("team", "assign", "TEAM", 403),
    ("admin", "assign", "TEAM", 200),
    ("admin", "assign", "PLATFORM", 403),
    ("super", "assign", "PLATFORM", 200),
    ("admin", "resolve", "SUPPORT", 200),
    ("team", "resolve", "SUPPORT", 200),
    ("player", "resolve", "SUPPORT", 403),
    ("super", "resolve", "SUPPORT_ESC", 200),
    ("admin", "resolve", "SUPPORT_ARCH", 409),
    ("team", "resolve", "TEAM", 403),
    ("team", "resolve", "TOURNAMENT", 200),
    ("player", "resolve", "TOURNAMENT", 403),
    ("admin", "resolve", "PLATFORM", 403),
    ("super", "resolve", "PLATFORM", 200),
    ("admin", "archive", "SUPPORT", 200),
    ("team", "archive", "SUPPORT", 403),
    ("player", "archive", "SUPPORT", 403),
    ("super", "archive", "SUPPORT_ESC", 403),
    ("admin", "archive", "SUPPORT_ARCH", 409),
    ("admin", "archive", "TOURNAMENT", 200),
    ("admin", "archive", "PLATFORM", 200),
    ("super", "archive", "PLATFORM", 200),
    ("admin", "ticket", "SUPPORT", 200),
    ("team", "ticket", "SUPPORT", 200),
    ("player", "ticket", "SUPPORT", 403),
    ("admin", "ticket", "TEAM", 400),
    ("super", "ticket", "PLATFORM", 200),
    ("admin", "ticket", "PLATFORM", 403),
    ("admin", "remove", "TOURNAMENT", 200),
    ("team", "remove", "TOURNAMENT", 200),
    ("player", "remove", "TOURNAMENT", 403),
    ("admin", "remove", "SUPPORT", 403),
    ("admin", "add", "SUPPORT", 201),
    ("team", "add", "TEAM", 403),
    ("player", "add", "TOURNAMENT", 403),
    ("admin", "add", "TOURNAMENT", 201),
    ("admin", "add", "PLATFORM", 400),
    ("player", "read", "SUPPORT", 200),
    ("outsider", "read", "SUPPORT", 404),
    ("player", "read", "SUPPORT_ARCH", 200),
]


@pytest.fixture
def people(org: Any, super_admin: Any, make_user: Any) -> dict[str, Any]:
    return {
        "admin": org.admin,
        "team": org.team,
        "player": org.player,
        "outsider": org.player2,
        "super": super_admin,
    }


def _build(kind: str, org: Any, client_for: Any) -> dict[str, Any]:
    admin = client_for(org.tenant, org.admin)
    if kind.startswith("SUPPORT"):
        channel = create_channel(
            client_for(org.tenant, org.player),
            type="SUPPORT",
            subject="Help",
            participantIds=[org.team.id],
        )
        if kind == "SUPPORT_ESC":
            admin.put(
                f"/api/chat/channels/{channel['id']}/escalate", {"reason": "x"}, format="json"
            )
        if kind == "SUPPORT_ARCH":
            admin.delete(f"/api/chat/channels/{channel['id']}")
    elif kind == "TEAM":
        channel = create_channel(admin, type="TEAM", participantIds=[org.team.id])
    elif kind == "TOURNAMENT":
        channel = create_channel(
            admin, type="TOURNAMENT", contextId="cup", participantIds=[org.player.id]
        )
    else:
        channel = create_channel(admin, type="PLATFORM_SUPPORT", subject="Billing")
    message = (
        admin.post(
            f"/api/chat/channels/{channel['id']}/messages", {"content": "first"}, format="json"
        ).json()
        if kind != "SUPPORT_ARCH"
        else None
    )
    if message is None:  # archived: write the message through the ORM, the API refuses
        with schema_context("acme"):
            message = {"id": Message.objects.filter(channel_id=channel["id"]).first().id}
    return {"channel": channel, "message": message}


def _act(client: Any, action: str, made: dict[str, Any], org: Any, super_admin: Any) -> Any:
    base = f"/api/chat/channels/{made['channel']['id']}"
    message_id = made["message"]["id"]
    platform = made["channel"]["type"] == "PLATFORM_SUPPORT"
    assignee = super_admin.id if platform else org.team.id
    requests: dict[str, tuple[str, str, dict[str, Any] | None]] = {
        "view": ("get", base, None),
        "post": ("post", f"{base}/messages", {"content": "hello"}),
        "escalate": ("put", f"{base}/escalate", {"reason": "need help"}),
        "assign": ("put", f"{base}/assign", {"assigneeId": assignee}),
        "resolve": ("put", f"{base}/resolve", None),
        "archive": ("delete", base, None),
        "ticket": ("patch", f"{base}/ticket", {"priority": "URGENT"}),
        "remove": ("delete", f"{base}/messages/{message_id}", None),
        "add": ("post", f"{base}/participants", {"userIds": [org.player2.id]}),
        "read": ("post", f"{base}/read", {"messageId": message_id}),
    }
    method, path, body = requests[action]
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, format="json")


def _snapshot(channel_id: str, platform: bool) -> tuple[Any, ...]:
    with schema_context(PUBLIC if platform else "acme"):
        channel = Channel.objects.select_related("ticket").get(pk=channel_id)
        ticket = getattr(channel, "ticket", None)
        return (
            channel.status,
            channel.assigned_to_id,
            channel.last_seq,
            channel.participants.count(),
            ticket and (ticket.status, ticket.priority),
            Message.objects.filter(channel=channel, removed_at__isnull=False).count(),
        )


@pytest.mark.parametrize(
    ("actor", "channel_type", "expected"), CREATE, ids=[f"{a}-creates-{t}" for a, t, _ in CREATE]
)
def test_create(actor, channel_type, expected, people, client_for, org):
    body: dict[str, Any] = {"type": channel_type, "subject": "Subject"}
    if channel_type == "TOURNAMENT":
        body["contextId"] = "t-1"
    response = client_for(org.tenant, people[actor]).post("/api/chat/channels", body, format="json")
    assert response.status_code == expected, response.json()


@pytest.mark.parametrize(
    ("actor", "action", "channel", "expected"),
    MATRIX,
    ids=[f"{a}-{act}-{c}" for a, act, c, _ in MATRIX],
)
def test_matrix(actor, action, channel, expected, people, org, super_admin, client_for):
    made = _build(channel, org, client_for)
    platform = channel == "PLATFORM"
    before = _snapshot(made["channel"]["id"], platform)

    response = _act(client_for(org.tenant, people[actor]), action, made, org, super_admin)

    assert response.status_code == expected, response.json()
    if expected >= 400:
        assert set(response.json()) == {"error"}
        assert _snapshot(made["channel"]["id"], platform) == before, "a refusal changed state"


def test_staff_added_after_opening_hold_the_role_they_hold_when_added_at_opening(org, client_for):
    """A management-team member added to a support ticket later is its ADMIN, as when
    included at opening, and so may escalate it."""
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    ticket = create_channel(player, type="SUPPORT", subject="Scores are wrong")
    base = f"/api/chat/channels/{ticket['id']}"

    added = admin.post(f"{base}/participants", {"userIds": [org.team.id]}, format="json")

    assert added.status_code == 201, added.json()
    assert added.json()[0]["role"] == "ADMIN"
    team = client_for(org.tenant, org.team)
    escalated = team.put(f"{base}/escalate", {"reason": "Needs the platform"}, format="json")
    assert escalated.status_code == 200, escalated.json()
    assert escalated.json()["status"] == "ESCALATED"
