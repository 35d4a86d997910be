"""Tenant A's objects asked for from tenant B's host: nothing is found, nothing leaks."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.chat.models import Channel, Participant
from tests.chat.conftest import create_channel, support_ticket

SECRET = "acme-secret-subject-7391"


@pytest.fixture
def acme_data(org: Any, client_for: Any) -> dict[str, Any]:
    player = client_for(org.tenant, org.player)
    channel = support_ticket(player, subject=SECRET)
    message = player.post(
        f"/api/chat/channels/{channel['id']}/messages", {"content": SECRET}, format="json"
    ).json()
    return {"channel": channel, "message": message}


def _requests(cid: str, mid: int, user_id: int) -> list[tuple[str, str, dict[str, Any] | None]]:
    base = f"/api/chat/channels/{cid}"
    return [
        ("get", base, None),
        ("delete", base, None),
        ("get", f"{base}/messages", None),
        ("get", f"{base}/messages?after={mid}", None),
        ("post", f"{base}/messages", {"content": "hi"}),
        ("delete", f"{base}/messages/{mid}", None),
        ("put", f"{base}/escalate", {"reason": "x"}),
        ("put", f"{base}/assign", {"assigneeId": user_id}),
        ("put", f"{base}/resolve", None),
        ("patch", f"{base}/ticket", {"status": "WAITING_ON_USER"}),
        ("post", f"{base}/read", {"messageId": mid}),
        ("post", f"{base}/participants", {"userIds": [user_id]}),
    ]


@pytest.mark.parametrize("who", ["admin", "team", "player"])
def test_every_channel_endpoint_answers_404_from_other_host(
    who, acme_data, org, other_org, client_for
):
    intruder = getattr(other_org, who)
    client = client_for(other_org.tenant, intruder)
    cid, mid = acme_data["channel"]["id"], acme_data["message"]["id"]
    with schema_context("acme"):
        before = Channel.objects.values("status", "last_seq", "assigned_to_id").get(pk=cid)

    for method, path, body in _requests(cid, mid, intruder.id):
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
        text = response.content.decode()
        assert SECRET not in text and cid not in text

    with schema_context("acme"):
        assert Channel.objects.values("status", "last_seq", "assigned_to_id").get(pk=cid) == before
        assert not Participant.objects.filter(channel_id=cid, user=intruder).exists()


def test_acme_token_on_globex_host_is_refused_everywhere(acme_data, org, other_org, client_for):
    client = client_for(other_org.tenant, org.admin)
    cid, mid = acme_data["channel"]["id"], acme_data["message"]["id"]
    paths = [("get", "/api/chat/channels", None), ("get", "/api/chat/unread", None)]
    paths += [("post", "/api/chat/channels", {"type": "SUPPORT", "subject": "x"})]
    for method, path, body in paths + _requests(cid, mid, org.team.id):
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "not_a_member"
        assert SECRET not in response.content.decode()


def test_lists_and_badges_stay_in_their_tenant(acme_data, org, other_org, client_for):
    globex_admin = client_for(other_org.tenant, other_org.admin)
    own = support_ticket(client_for(other_org.tenant, other_org.player))

    listed = globex_admin.get("/api/chat/channels").json()["channels"]
    assert [c["id"] for c in listed] == [own["id"]]
    assert globex_admin.get("/api/chat/unread").json() == {"total": 0, "channels": 0}
    acme_listed = client_for(org.tenant, org.admin).get("/api/chat/channels").json()["channels"]
    assert [c["id"] for c in acme_listed] == [acme_data["channel"]["id"]]


@pytest.mark.parametrize("field", ["participantIds", "assigneeId", "userIds"])
def test_other_tenant_user_ids_are_refused(field, acme_data, org, other_org, client_for):
    admin = client_for(org.tenant, org.admin)
    cid = acme_data["channel"]["id"]
    outsider = other_org.team.id
    with schema_context("acme"):
        channels_before = Channel.objects.count()
        participants_before = Participant.objects.count()

    if field == "participantIds":
        response = admin.post(
            "/api/chat/channels",
            {"type": "TEAM", "participantIds": [org.team.id, outsider]},
            format="json",
        )
    elif field == "assigneeId":
        response = admin.put(
            f"/api/chat/channels/{cid}/assign", {"assigneeId": outsider}, format="json"
        )
    else:
        response = admin.post(
            f"/api/chat/channels/{cid}/participants", {"userIds": [outsider]}, format="json"
        )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["fields"]
    # An unknown id and another tenant's id get the same answer.
    assert other_org.team.email not in response.content.decode()
    with schema_context("acme"):
        assert Channel.objects.count() == channels_before
        assert Participant.objects.count() == participants_before


def test_platform_tickets_are_seen_by_their_tenant_and_the_console_only(
    org, other_org, super_admin, public_tenant, client_for
):
    acme_ticket = create_channel(
        client_for(org.tenant, org.admin), type="PLATFORM_SUPPORT", subject=SECRET
    )
    globex_ticket = create_channel(
        client_for(other_org.tenant, other_org.admin), type="PLATFORM_SUPPORT", subject="Globex"
    )
    globex_admin = client_for(other_org.tenant, other_org.admin)

    listed = globex_admin.get("/api/chat/channels").json()["channels"]
    assert [c["id"] for c in listed] == [globex_ticket["id"]]
    assert globex_admin.get(f"/api/chat/channels/{acme_ticket['id']}").status_code == 404
    assert (
        globex_admin.post(
            f"/api/chat/channels/{acme_ticket['id']}/messages", {"content": "x"}, format="json"
        ).status_code
        == 404
    )

    console = client_for(public_tenant, super_admin)
    console_ids = {c["id"] for c in console.get("/api/chat/channels").json()["channels"]}
    assert console_ids == {acme_ticket["id"], globex_ticket["id"]}
    refused = client_for(public_tenant, org.admin).get("/api/chat/channels")
    assert refused.status_code == 403


def test_tenant_channels_never_reach_the_public_schema(acme_data):
    with schema_context("public"):
        assert not Channel.objects.filter(pk=acme_data["channel"]["id"]).exists()
