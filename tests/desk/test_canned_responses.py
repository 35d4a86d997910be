"""Canned responses: CRUD per host, permissions, prefix search, rendering into a message,
and no crossing between tenants or into the platform's set."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import schema_context

from apps.chat.models import CannedResponse, Message
from tests.chat.conftest import create_channel, support_ticket

URL = "/api/canned-responses"
BODY = 'Hi {requester.name}, {agent.name} here about "{ticket.subject}".'


def create(client: Any, shortcut: str = "hello", body: str = BODY) -> Any:
    return client.post(
        URL, {"shortcut": shortcut, "title": "Greeting", "body": body}, format="json"
    )


def test_admin_manages_staff_read_participants_do_not(org, client_for):
    admin = client_for(org.tenant, org.admin)
    team = client_for(org.tenant, org.team)
    player = client_for(org.tenant, org.player)
    made = create(admin)
    assert made.status_code == 201, made.json()
    rid = made.json()["id"]
    assert made.json()["shortcut"] == "hello"

    assert [r["id"] for r in team.get(URL).json()["cannedResponses"]] == [rid]
    assert team.get(f"{URL}/{rid}").json()["title"] == "Greeting"
    assert create(team, "other").status_code == 403
    assert player.get(URL).status_code == 403
    assert player.get(f"{URL}/{rid}").status_code == 403
    assert create(player, "mine").status_code == 403

    changed = admin.put(
        f"{URL}/{rid}", {"shortcut": "hi", "title": "Hi", "body": "Hello"}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["shortcut"] == "hi"
    assert team.delete(f"{URL}/{rid}").status_code == 403
    assert admin.delete(f"{URL}/{rid}").status_code == 204
    assert admin.get(f"{URL}/{rid}").status_code == 404


def test_bad_input_changes_nothing(org, client_for):
    admin = client_for(org.tenant, org.admin)
    assert create(admin, "Has Space").status_code == 400
    unknown = create(admin, "x", "Dear {requester.email}")
    assert unknown.status_code == 400 and "body" in unknown.json()["error"]["fields"]
    assert admin.post(URL, {"shortcut": "x"}, format="json").status_code == 400
    assert create(admin, "dup").status_code == 201
    assert create(admin, "dup").json()["error"]["code"] == "shortcut_taken"
    assert admin.get(f"{URL}/nope").status_code == 404
    with schema_context("acme"):
        assert CannedResponse.objects.count() == 1


def test_search_by_shortcut_prefix(org, client_for):
    admin = client_for(org.tenant, org.admin)
    for shortcut in ("refund-ok", "refund-no", "reset", "hello"):
        create(admin, shortcut)
    found = admin.get(f"{URL}?shortcut=ref").json()["cannedResponses"]
    assert [r["shortcut"] for r in found] == ["refund-no", "refund-ok"]
    assert len(admin.get(f"{URL}?shortcut=re").json()["cannedResponses"]) == 3
    assert admin.get(f"{URL}?shortcut=%25").json()["cannedResponses"] == []


def test_inserting_one_sends_the_rendered_text_as_a_normal_message(org, client_for):
    admin = client_for(org.tenant, org.admin)
    player = client_for(org.tenant, org.player)
    rid = create(admin).json()["id"]
    cid = support_ticket(player, subject="Cannot {agent.name} log in")["id"]
    sent = admin.post(
        f"/api/chat/channels/{cid}/messages", {"cannedResponseId": rid}, format="json"
    )
    assert sent.status_code == 201, sent.json()
    body = sent.json()
    assert body["kind"] == "USER"
    # Values are inserted as written: a placeholder inside the subject stays text.
    assert body["content"] == (
        'Hi acme player, acme admin here about "Cannot {agent.name} log in".'
    )
    seen = player.get(f"/api/chat/channels/{cid}").json()["messages"]["messages"]
    assert seen[0]["content"] == body["content"]
    assert player.get(f"/api/chat/channels/{cid}").json()["ticket"]["firstResponseAt"]

    # The requester may not use it; neither content and id together, nor an unknown id.
    refused = player.post(
        f"/api/chat/channels/{cid}/messages", {"cannedResponseId": rid}, format="json"
    )
    assert refused.status_code == 403
    both = admin.post(
        f"/api/chat/channels/{cid}/messages",
        {"cannedResponseId": rid, "content": "x"},
        format="json",
    )
    assert both.status_code == 400
    unknown = admin.post(
        f"/api/chat/channels/{cid}/messages", {"cannedResponseId": 999999}, format="json"
    )
    assert unknown.status_code == 400
    team_channel = create_channel(admin, type="TEAM", participantIds=[org.team.id])["id"]
    not_ticket = admin.post(
        f"/api/chat/channels/{team_channel}/messages", {"cannedResponseId": rid}, format="json"
    )
    assert not_ticket.status_code == 400
    with schema_context("acme"):
        assert Message.objects.filter(channel_id=cid, kind="USER").count() == 1


def test_sets_do_not_cross_tenants_nor_the_platform(
    org, other_org, super_admin, public_tenant, client_for
):
    acme_admin = client_for(org.tenant, org.admin)
    globex_admin = client_for(other_org.tenant, other_org.admin)
    console = client_for(public_tenant, super_admin)
    acme_id = create(acme_admin, "acme").json()["id"]
    platform = create(console, "platform", "Hello {requester.name}, this is {agent.name}.")
    assert platform.status_code == 201
    platform_id = platform.json()["id"]

    assert globex_admin.get(URL).json()["cannedResponses"] == []
    assert globex_admin.get(f"{URL}/{acme_id}").status_code == 404
    assert [r["shortcut"] for r in console.get(URL).json()["cannedResponses"]] == ["platform"]
    assert [r["shortcut"] for r in acme_admin.get(URL).json()["cannedResponses"]] == ["acme"]
    # A tenant admin on the console host has no membership there: refused.
    assert client_for(public_tenant, org.admin).get(URL).status_code in (401, 403)

    # Globex staff cannot send acme's response into their own ticket: sets are per schema.
    globex_ticket = support_ticket(client_for(other_org.tenant, other_org.player))["id"]
    sent = globex_admin.post(
        f"/api/chat/channels/{globex_ticket}/messages",
        {"cannedResponseId": acme_id},
        format="json",
    )
    assert sent.status_code == 400  # globex's own set is empty

    # Platform tickets use the platform's set, from the console.
    ticket = create_channel(acme_admin, type="PLATFORM_SUPPORT", subject="Invoice")["id"]
    answered = console.post(
        f"/api/chat/channels/{ticket}/messages", {"cannedResponseId": platform_id}, format="json"
    )
    assert answered.status_code == 201, answered.json()
    assert answered.json()["content"] == "Hello acme admin, this is Platform super."
    # The tenant admin who asked cannot use canned responses there.
    refused = acme_admin.post(
        f"/api/chat/channels/{ticket}/messages", {"cannedResponseId": platform_id}, format="json"
    )
    assert refused.status_code == 403
