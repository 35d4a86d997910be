"""Satisfaction ratings: the requester, once, after resolve, within 7 days."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import schema_context

from apps.chat.models import SupportTicket
from tests.chat.conftest import support_ticket


def rate(client, cid, rating=5, comment="Quick and kind"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/chat/channels/{cid}/rating", {"rating": rating, "comment": comment}, format="json"
    )


def test_requester_rates_once_after_resolve(org, client_for, published):
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(player)["id"]

    assert rate(player, cid).json()["error"]["code"] == "not_resolved"
    admin.put(f"/api/chat/channels/{cid}/resolve")
    assert rate(admin, cid).status_code == 403  # staff do not rate
    assert rate(player, cid, rating=6).status_code == 400
    assert rate(player, cid, rating=0).status_code == 400
    with schema_context("acme"):
        assert SupportTicket.objects.get(pk=cid).rating is None

    published.clear()
    rated = rate(player, cid, rating=4)
    assert rated.status_code == 200, rated.json()
    assert rated.json()["ticket"]["rating"] == 4
    assert rated.json()["ticket"]["ratingComment"] == "Quick and kind"
    assert [e.data["rating"] for e in published.named("ticket_rated")] == [4]
    # Staff see it in the ticket detail.
    detail = admin.get(f"/api/chat/channels/{cid}").json()
    assert detail["ticket"]["rating"] == 4 and detail["ticket"]["ratedAt"]

    again = rate(player, cid, rating=1)
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_rated"
    with schema_context("acme"):
        assert SupportTicket.objects.get(pk=cid).rating == 4


def test_rating_window_closes_after_seven_days(org, client_for):
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(player)["id"]
    admin.put(f"/api/chat/channels/{cid}/resolve")
    with schema_context("acme"):
        SupportTicket.objects.filter(pk=cid).update(
            resolved_at=timezone.now() - timedelta(days=7, minutes=1)
        )
    closed = rate(player, cid)
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "rating_closed"
    with schema_context("acme"):
        SupportTicket.objects.filter(pk=cid).update(
            resolved_at=timezone.now() - timedelta(days=6, hours=23)
        )
    assert rate(player, cid).status_code == 200


def test_a_reopened_ticket_cannot_be_rated_until_resolved_again(org, client_for):
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(player)["id"]
    admin.put(f"/api/chat/channels/{cid}/resolve")
    player.post(f"/api/chat/channels/{cid}/messages", {"content": "still broken"}, format="json")
    assert rate(player, cid).json()["error"]["code"] == "not_resolved"


def test_others_cannot_rate(org, other_org, client_for):
    player = client_for(org.tenant, org.player)
    cid = support_ticket(player)["id"]
    client_for(org.tenant, org.admin).put(f"/api/chat/channels/{cid}/resolve")
    assert rate(client_for(org.tenant, org.player2), cid).status_code == 404
    assert rate(client_for(other_org.tenant, other_org.player), cid).status_code == 404
    assert rate(client_for(other_org.tenant, org.player), cid).status_code in (403, 404)
    with schema_context("acme"):
        assert SupportTicket.objects.get(pk=cid).rating is None
