"""The super-admin console on the public host: tenants and their lifecycle, the
platform-support queue, escalations from every tenant, figures and the audit log."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from apps.accounts.models import Membership, User
from apps.accounts.selectors import actor_for
from apps.chat import services as chat_services
from apps.chat.models import Channel, ChannelStatus, Message
from apps.core.exceptions import Conflict, Forbidden
from apps.platform.recount import counted
from apps.records.models import AuditEntry, Escalation, EscalationState
from apps.tenancy.models import Domain, Tenant
from apps.tenancy.services import tenant_provision
from tests.chat.conftest import create_channel, support_ticket
from tests.conftest import PASSWORD, Org

CONSOLE_ENDPOINTS = [
    ("get", "/api/console/tenants"),
    ("post", "/api/console/tenants"),
    ("get", "/api/console/tenants/acme"),
    ("delete", "/api/console/tenants/acme"),
    ("put", "/api/console/tenants/acme/suspend"),
    ("put", "/api/console/tenants/acme/reactivate"),
    ("get", "/api/console/tenants/acme/export"),
    ("get", "/api/console/figures"),
    ("get", "/api/console/tickets"),
    ("get", "/api/console/escalations"),
    ("get", "/api/console/escalations/1"),
    ("get", "/api/console/escalations/1/messages"),
    ("post", "/api/console/escalations/1/messages"),
    ("put", "/api/console/escalations/1/resolve"),
    ("put", "/api/console/escalations/1/return"),
    ("get", "/api/console/audit"),
]


@pytest.fixture
def console(client_for: Any, public_tenant: Tenant, super_admin: User) -> Any:
    return client_for(public_tenant, super_admin)


def _call(client: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return getattr(client, method)(path, body or {}, format="json")


def _body(response: Any) -> str:
    """A streamed response's body, read the way the ASGI server reads it."""

    async def read() -> bytes:
        return b"".join([piece async for piece in response.streaming_content])

    return async_to_sync(read)().decode()


def _error(response: Any) -> str:
    return response.json()["error"]["code"]


# --- who may use it ----------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), CONSOLE_ENDPOINTS)
def test_console_refuses_everyone_but_super_admins_on_the_platform_host(
    method: str,
    path: str,
    client_for: Any,
    public_tenant: Tenant,
    acme: Tenant,
    org: Org,
    super_admin: User,
) -> None:
    anonymous = _call(client_for(public_tenant), method, path)
    assert anonymous.status_code == 401

    tenant_admin_on_platform = _call(client_for(public_tenant, org.admin), method, path)
    assert tenant_admin_on_platform.status_code == 403
    assert _error(tenant_admin_on_platform) == "not_a_member"

    tenant_admin_at_home = _call(client_for(acme, org.admin), method, path)
    assert tenant_admin_at_home.status_code == 403
    assert _error(tenant_admin_at_home) == "console_only"

    super_admin_on_tenant_host = _call(client_for(acme, super_admin), method, path)
    assert super_admin_on_tenant_host.status_code == 403
    assert _error(super_admin_on_tenant_host) == "console_only"

    # Nothing was changed by any of them.
    acme.refresh_from_db()
    assert not acme.is_suspended and schema_exists("acme")
    assert not AuditEntry.objects.exists()


# --- tenants -----------------------------------------------------------------------------


def test_tenant_list_has_counts(console: Any, org: Org, other_org: Org, client_for: Any) -> None:
    support_ticket(client_for(org.tenant, org.player))
    support_ticket(client_for(org.tenant, org.player2))
    create_channel(client_for(org.tenant, org.admin), type="TEAM", participantIds=[org.team.pk])
    create_channel(
        client_for(org.tenant, org.admin), type="PLATFORM_SUPPORT", subject="Billing question"
    )

    body = console.get("/api/console/tenants").json()

    by_slug = {t["slug"]: t for t in body["tenants"]}
    assert "public" not in by_slug
    acme = by_slug["acme"]
    assert acme["host"] == f"acme.{settings.BASE_DOMAIN}" and acme["status"] == "ACTIVE"
    assert acme["counts"] == {
        "members": Membership.objects.filter(tenant=org.tenant).count(),
        "channels": 3,
        "activeChannels": 3,
        "escalatedChannels": 0,
        "openTickets": 2,
        "messages": counted(["acme"])["acme"].messages,
        "openPlatformTickets": 1,
    }
    assert by_slug["globex"]["counts"]["channels"] == 0
    assert by_slug["globex"]["counts"]["members"] == 4


def test_tenant_list_pages_and_filters(console: Any) -> None:
    for slug in ("pagea", "pageb", "pagec"):
        tenant_provision(slug=slug, name=f"Page {slug[-1].upper()}")

    first = console.get("/api/console/tenants?search=page&limit=2").json()
    assert [t["slug"] for t in first["tenants"]] == ["pagea", "pageb"]
    second = console.get(f"/api/console/tenants?search=page&limit=2&after={first['next']}").json()
    assert [t["slug"] for t in second["tenants"]] == ["pagec"] and second["next"] is None

    assert console.get("/api/console/tenants?status=SUSPENDED").json()["tenants"] == []
    bad = console.get("/api/console/tenants?status=SLEEPING&limit=0")
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"status", "limit"}


def test_create_tenant_from_the_console(console: Any, client_for: Any, super_admin: User) -> None:
    response = console.post(
        "/api/console/tenants",
        {"slug": "umbrella", "name": "Umbrella Quiz", "adminEmail": "chief@umbrella.test"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["host"] == f"umbrella.{settings.BASE_DOMAIN}"
    assert body["tenant"]["counts"]["members"] == 1
    assert body["admin"]["email"] == "chief@umbrella.test"
    # The new admin can sign in on the new host with the password shown once.
    umbrella = Tenant.objects.get(schema_name="umbrella")
    login = client_for(umbrella).post(
        "/api/auth/login",
        {"email": "chief@umbrella.test", "password": body["adminPassword"]},
        format="json",
    )
    assert login.status_code == 200 and login.json()["role"] == "TENANT_ADMIN"
    entry = AuditEntry.objects.get(action="tenant.created")
    assert (entry.actor, entry.tenant, entry.tenant_slug) == (super_admin, umbrella, "umbrella")


def test_create_tenant_refuses_bad_input_and_taken_slugs(console: Any) -> None:
    before = Tenant.objects.count()
    bad = console.post(
        "/api/console/tenants",
        {"slug": "No Spaces", "name": "X", "adminEmail": "x@x.test"},
        format="json",
    )
    assert bad.status_code == 400 and "slug" in bad.json()["error"]["fields"]
    missing = console.post("/api/console/tenants", {"slug": "fine"}, format="json")
    assert missing.status_code == 400
    assert set(missing.json()["error"]["fields"]) == {"name", "adminEmail"}
    taken = console.post(
        "/api/console/tenants",
        {"slug": "acme", "name": "Impostor", "adminEmail": "x@x.test"},
        format="json",
    )
    assert taken.status_code == 409 and _error(taken) == "tenant_exists"
    assert Tenant.objects.count() == before
    assert Tenant.objects.get(schema_name="acme").name == "Acme"
    assert not AuditEntry.objects.exists()


def test_suspension_closes_the_tenants_hosts_and_reactivation_reopens_them(
    console: Any, client_for: Any, org: Org, other_org: Org, public_tenant: Tenant
) -> None:
    player = client_for(org.tenant, org.player)
    assert player.get("/api/chat/channels").status_code == 200

    response = console.put(
        "/api/console/tenants/acme/suspend", {"reason": "Unpaid invoice"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "SUSPENDED"
    assert response.json()["suspensionReason"] == "Unpaid invoice"
    assert response.json()["counts"]["members"] == 4
    for attempt in (
        player.get("/api/chat/channels"),
        client_for(org.tenant).post(
            "/api/auth/login", {"email": org.admin.email, "password": PASSWORD}, format="json"
        ),
    ):
        assert attempt.status_code == 403
        assert _error(attempt) == "tenant_suspended"
    # Other tenants, and the console, carry on.
    assert (
        client_for(other_org.tenant, other_org.player).get("/api/chat/channels").status_code == 200
    )
    listed = console.get("/api/console/tenants?status=SUSPENDED").json()["tenants"]
    assert [t["slug"] for t in listed] == ["acme"]
    again = console.put("/api/console/tenants/acme/suspend", {"reason": "x"}, format="json")
    assert again.status_code == 409 and _error(again) == "already_suspended"

    reactivated = console.put("/api/console/tenants/acme/reactivate")

    assert reactivated.status_code == 200 and reactivated.json()["status"] == "ACTIVE"
    assert player.get("/api/chat/channels").status_code == 200
    assert console.put("/api/console/tenants/acme/reactivate").status_code == 409
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "tenant_slug"))
    assert actions == [("tenant.suspended", "acme"), ("tenant.reactivated", "acme")]


def test_suspend_needs_a_reason_and_an_existing_tenant(console: Any) -> None:
    blank = console.put("/api/console/tenants/acme/suspend", {"reason": "  "}, format="json")
    assert blank.status_code == 400
    unknown = console.put("/api/console/tenants/nosuch/suspend", {"reason": "x"}, format="json")
    assert unknown.status_code == 404
    public = console.put("/api/console/tenants/public/suspend", {"reason": "x"}, format="json")
    assert public.status_code == 404
    assert not Tenant.objects.filter(status="SUSPENDED").exists()


def test_export_holds_the_tenants_chat_data_and_nothing_else(
    console: Any, client_for: Any, org: Org, other_org: Org
) -> None:
    ticket = support_ticket(client_for(org.tenant, org.player), priority="HIGH")
    client_for(org.tenant, org.player).post(
        f"/api/chat/channels/{ticket['id']}/messages", {"content": "Still broken"}, format="json"
    )
    client_for(org.tenant, org.admin).put(
        f"/api/chat/channels/{ticket['id']}/escalate", {"reason": "Platform bug"}, format="json"
    )
    platform = create_channel(
        client_for(org.tenant, org.admin), type="PLATFORM_SUPPORT", subject="Invoice"
    )
    secret = support_ticket(client_for(other_org.tenant, other_org.player), subject="Globex only")

    response = console.get("/api/console/tenants/acme/export")

    assert response.status_code == 200 and response.streaming
    assert "acme-export.json" in response["Content-Disposition"]
    text = _body(response)
    document = json.loads(text)
    assert document["tenant"]["slug"] == "acme"
    assert {m["email"] for m in document["members"]} == {
        org.admin.email,
        org.team.email,
        org.player.email,
        org.player2.email,
    }
    (channel,) = document["channels"]
    assert channel["id"] == ticket["id"] and channel["ticket"]["priority"] == "HIGH"
    assert [m["content"] for m in channel["messages"]][0] == "Still broken"
    assert channel["messages"][-1]["senderType"] == "SYSTEM"
    assert {p["userId"] for p in channel["participants"]} >= {org.player.pk, org.admin.pk}
    assert [p["id"] for p in document["platformTickets"]] == [platform["id"]]
    assert [e["channelId"] for e in document["escalations"]] == [ticket["id"]]
    assert secret["id"] not in text and other_org.player.email not in text
    assert AuditEntry.objects.filter(action="tenant.exported", tenant_slug="acme").count() == 1


def test_delete_needs_the_slug_repeated_then_drops_everything(
    console: Any, client_for: Any, org: Org, super_admin: User
) -> None:
    doomed = tenant_provision(slug="doomed", name="Doomed", admin_email="a@doomed.test").tenant
    admin = User.objects.get(email="a@doomed.test")
    kept = support_ticket(client_for(org.tenant, org.player), subject="Acme keeps this")
    create_channel(client_for(doomed, admin), type="PLATFORM_SUPPORT", subject="Goodbye")
    support_ticket(client_for(doomed, admin))

    for body in ({}, {"confirm": "acme"}, {"confirm": "DOOMED"}):
        refused = console.delete("/api/console/tenants/doomed", body, format="json")
        assert refused.status_code == 400 and _error(refused) == "confirmation_required"
        assert schema_exists("doomed")

    deleted = console.delete("/api/console/tenants/doomed", {"confirm": "doomed"}, format="json")

    assert deleted.status_code == 204
    assert not Tenant.objects.filter(schema_name="doomed").exists()
    assert not schema_exists("doomed")
    assert not Domain.objects.filter(domain__startswith="doomed.").exists()
    assert not Membership.objects.filter(user=admin).exists()
    assert not Channel.objects.filter(subject="Goodbye").exists()
    assert User.objects.filter(pk=admin.pk).exists()  # people are global; only access goes
    gone = client_for(doomed).get("/api/chat/channels", HTTP_HOST=f"doomed.{settings.BASE_DOMAIN}")
    assert gone.status_code == 404 and _error(gone) == "unknown_host"
    entry = AuditEntry.objects.get(action="tenant.deleted")
    assert entry.tenant is None and entry.tenant_slug == "doomed" and entry.actor == super_admin
    assert (
        console.delete(
            "/api/console/tenants/doomed", {"confirm": "doomed"}, format="json"
        ).status_code
        == 404
    )
    # Acme is untouched.
    assert schema_exists("acme")
    with schema_context("acme"):
        assert list(Channel.objects.values_list("subject", flat=True)) == [kept["subject"]]
    mine = client_for(org.tenant, org.player).get(f"/api/chat/channels/{kept['id']}")
    assert mine.status_code == 200


# --- figures -----------------------------------------------------------------------------


def test_figures_are_shared_between_requests_for_a_few_seconds(
    console: Any, client_for: Any, org: Org, settings: Any
) -> None:
    """Consoles poll: requests within FIGURES_CACHE_SECONDS get the same figures without
    reading the counters again. Computing them reads the platform totals, never the
    tenants' own counter rows (which grow with the tenants)."""
    from django.test.utils import CaptureQueriesContext

    def reads(table: str, captured: CaptureQueriesContext) -> int:
        return sum(table in q["sql"] for q in captured.captured_queries)

    def counter_reads(captured: CaptureQueriesContext) -> int:
        return reads("records_platformcount", captured)

    settings.FIGURES_CACHE_SECONDS = 60
    with CaptureQueriesContext(connection) as computed:
        first = console.get("/api/console/figures").json()
    assert counter_reads(computed) == 1
    assert reads("records_tenantcount", computed) == 0
    support_ticket(client_for(org.tenant, org.player))
    with CaptureQueriesContext(connection) as shared:
        again = console.get("/api/console/figures").json()
    assert again == first
    assert counter_reads(shared) == 0
    settings.FIGURES_CACHE_SECONDS = 0
    now = console.get("/api/console/figures").json()
    assert now["openTenantTickets"] == first["openTenantTickets"] + 1


def test_figures(console: Any, client_for: Any, org: Org, other_org: Org) -> None:
    before = console.get("/api/console/figures").json()
    ticket = support_ticket(client_for(org.tenant, org.player))
    support_ticket(client_for(other_org.tenant, other_org.player))
    client_for(org.tenant, org.admin).put(
        f"/api/chat/channels/{ticket['id']}/escalate", {"reason": "Help"}, format="json"
    )
    for priority in ("URGENT", "URGENT", "LOW"):
        create_channel(
            client_for(org.tenant, org.admin),
            type="PLATFORM_SUPPORT",
            subject="Platform",
            priority=priority,
        )
    console.put("/api/console/tenants/globex/suspend", {"reason": "Audit"}, format="json")

    after = console.get("/api/console/figures").json()

    assert after["tenants"]["suspended"] == before["tenants"]["suspended"] + 1
    assert after["tenants"]["total"] == before["tenants"]["total"]
    # The escalated ticket is no longer ACTIVE; globex's is.
    assert after["activeChannels"] == before["activeChannels"] + 1
    assert after["openTenantTickets"] == before["openTenantTickets"] + 2
    assert after["escalatedChannels"] == before["escalatedChannels"] + 1
    assert after["messages"] == before["messages"] + 1  # the escalation's SYSTEM entry
    by_priority = after["openPlatformTickets"]["byPriority"]
    assert by_priority["URGENT"] == before["openPlatformTickets"]["byPriority"]["URGENT"] + 2
    assert by_priority["LOW"] == before["openPlatformTickets"]["byPriority"]["LOW"] + 1
    assert after["openPlatformTickets"]["total"] == before["openPlatformTickets"]["total"] + 3
    assert after["escalationsWaiting"] == before["escalationsWaiting"] + 1


# --- platform-support queue --------------------------------------------------------------


def _platform_ticket(client: Any, **body: Any) -> dict[str, Any]:
    return create_channel(client, type="PLATFORM_SUPPORT", **body)


def test_ticket_queue_filters_and_orders(
    console: Any, client_for: Any, org: Org, other_org: Org
) -> None:
    acme_admin, globex_admin = (
        client_for(org.tenant, org.admin),
        client_for(other_org.tenant, other_org.admin),
    )
    low = _platform_ticket(acme_admin, subject="Low", priority="LOW", category="BILLING")
    urgent = _platform_ticket(globex_admin, subject="Urgent", priority="URGENT")
    high = _platform_ticket(acme_admin, subject="High", priority="HIGH", category="BILLING")

    queue = console.get("/api/console/tickets").json()
    assert [t["id"] for t in queue["tickets"]] == [urgent["id"], high["id"], low["id"]]
    assert queue["total"] == 3 and queue["tickets"][0]["tenant"] == "globex"

    def ids(query: str) -> list[str]:
        response = console.get(f"/api/console/tickets?{query}")
        assert response.status_code == 200, response.json()
        return [t["id"] for t in response.json()["tickets"]]

    assert ids("tenant=acme") == [high["id"], low["id"]]
    assert ids("priority=LOW") == [low["id"]]
    assert ids("category=BILLING&tenant=acme") == [high["id"], low["id"]]
    assert ids("status=RESOLVED") == []
    assert ids("limit=1&offset=1") == [high["id"]]
    assert console.get("/api/console/tickets?priority=CRITICAL").status_code == 400


def test_working_a_platform_ticket_from_the_console_is_audited(
    console: Any, client_for: Any, org: Org, super_admin: User, make_user: Any
) -> None:
    ticket = _platform_ticket(client_for(org.tenant, org.admin), subject="Refund")
    colleague = make_user(super_admin=True, name="Colleague")
    base = f"/api/chat/channels/{ticket['id']}"

    refused = console.put(f"{base}/assign", {"assigneeId": org.admin.pk}, format="json")
    assert refused.status_code == 400
    assert (
        console.put(f"{base}/assign", {"assigneeId": colleague.pk}, format="json").status_code
        == 200
    )
    reply = console.post(f"{base}/messages", {"content": "On it"}, format="json")
    assert reply.status_code == 201 and reply.json()["senderType"] == "SUPER_ADMIN"
    waiting = console.patch(f"{base}/ticket", {"status": "WAITING_ON_USER"}, format="json")
    assert waiting.json()["ticket"]["status"] == "WAITING_ON_USER"
    assert console.get(f"/api/console/tickets?assigneeId={colleague.pk}").json()["total"] == 1
    assert console.get("/api/console/tickets?unassigned=true").json()["total"] == 0
    assert console.put(f"{base}/resolve").json()["ticket"]["status"] == "RESOLVED"

    entries = list(
        AuditEntry.objects.order_by("id").values_list("action", "tenant_slug", "actor_id")
    )
    assert [e[0] for e in entries] == [
        "ticket.assigned",
        "ticket.replied",
        "ticket.updated",
        "ticket.resolved",
    ]
    assert {(e[1], e[2]) for e in entries} == {("acme", super_admin.pk)}
    # The tenant admin's own messages are not console actions.
    client_for(org.tenant, org.admin).post(f"{base}/messages", {"content": "Thanks"}, format="json")
    assert AuditEntry.objects.count() == 4


# --- escalations -------------------------------------------------------------------------


def _escalated(
    client_for: Any, org: Org, subject: str = "Cannot create tournament"
) -> dict[str, Any]:
    ticket = support_ticket(client_for(org.tenant, org.player), subject=subject)
    response = client_for(org.tenant, org.admin).put(
        f"/api/chat/channels/{ticket['id']}/escalate",
        {"reason": "Looks like a platform bug"},
        format="json",
    )
    assert response.status_code == 200
    return ticket


def test_escalations_are_listed_across_tenants_and_filtered(
    console: Any, client_for: Any, org: Org, other_org: Org
) -> None:
    acme_ticket = _escalated(client_for, org, "Acme trouble")
    globex_ticket = _escalated(client_for, other_org, "Globex trouble")

    listed = console.get("/api/console/escalations").json()
    assert listed["total"] == 2
    assert [e["channelId"] for e in listed["escalations"]] == [
        globex_ticket["id"],
        acme_ticket["id"],
    ]
    first = listed["escalations"][1]
    assert first["tenant"] == "acme" and first["reason"] == "Looks like a platform bug"
    assert first["escalatedBy"]["id"] == org.admin.pk and first["state"] == "OPEN"
    only_acme = console.get("/api/console/escalations?tenant=acme").json()["escalations"]
    assert [e["channelId"] for e in only_acme] == [acme_ticket["id"]]
    assert console.get("/api/console/escalations?state=RESOLVED").json()["total"] == 0
    opened = AuditEntry.objects.filter(action="escalation.opened")
    assert sorted(opened.values_list("tenant_slug", flat=True)) == ["acme", "globex"]


def test_console_reads_and_answers_an_escalated_channel(
    console: Any, client_for: Any, org: Org, other_org: Org, make_user: Any
) -> None:
    ticket = _escalated(client_for, org)
    escalation = Escalation.objects.get(channel_id=ticket["id"])
    # A super admin who joined the platform after the escalation can work it too.
    newcomer = client_for(Tenant.objects.get(schema_name="public"), make_user(super_admin=True))

    detail = newcomer.get(f"/api/console/escalations/{escalation.pk}")

    assert detail.status_code == 200
    body = detail.json()
    assert body["escalation"]["tenant"] == "acme"
    assert body["channel"]["id"] == ticket["id"] and body["channel"]["status"] == "ESCALATED"
    assert body["channel"]["messages"]["messages"][0]["senderType"] == "SYSTEM"
    reply = newcomer.post(
        f"/api/console/escalations/{escalation.pk}/messages",
        {"content": "Fixing it"},
        format="json",
    )
    assert reply.status_code == 201 and reply.json()["senderType"] == "SUPER_ADMIN"
    # The tenant's people see the reply on their own host.
    seen = client_for(org.tenant, org.player).get(f"/api/chat/channels/{ticket['id']}/messages")
    assert seen.json()["messages"][0]["content"] == "Fixing it"
    history = newcomer.get(f"/api/console/escalations/{escalation.pk}/messages?after=0").json()
    assert [m["content"] for m in history["messages"]][-1] == "Fixing it"
    assert AuditEntry.objects.filter(action="escalation.replied", tenant_slug="acme").count() == 1
    # The reply landed in acme's schema, not anywhere else.
    with schema_context("globex"):
        assert not Message.objects.filter(content="Fixing it").exists()
    assert console.get("/api/console/escalations/999999").status_code == 404
    assert console.get("/api/console/escalations/abc").status_code == 404


def test_console_resolves_an_escalation(console: Any, client_for: Any, org: Org) -> None:
    ticket = _escalated(client_for, org)
    escalation = Escalation.objects.get(channel_id=ticket["id"])

    response = console.put(f"/api/console/escalations/{escalation.pk}/resolve")

    assert response.status_code == 200
    assert response.json()["escalation"]["state"] == "RESOLVED"
    assert response.json()["channel"]["status"] == "RESOLVED"
    assert response.json()["channel"]["ticket"]["status"] == "RESOLVED"
    assert console.get("/api/console/escalations").json()["total"] == 0
    assert AuditEntry.objects.filter(action="escalation.resolved").count() == 1
    again = console.put(f"/api/console/escalations/{escalation.pk}/resolve")
    assert again.status_code == 409 and _error(again) == "escalation_closed"


def test_console_hands_an_escalation_back(
    console: Any, client_for: Any, org: Org, published: Any
) -> None:
    ticket = _escalated(client_for, org)
    escalation = Escalation.objects.get(channel_id=ticket["id"])
    published.clear()

    response = console.put(
        f"/api/console/escalations/{escalation.pk}/return",
        {"note": "This is a tournament setting, not a bug."},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["escalation"]["state"] == "RETURNED" and body["escalation"]["closedAt"]
    assert body["channel"]["status"] == "ACTIVE"
    system = body["channel"]["messages"]["messages"][0]
    assert system["senderType"] == "SYSTEM" and "tournament setting" in system["content"]
    assert "Handed back" in system["content"]
    assert "channel_status_changed" in published.names()
    assert published.named("escalation_closed")[0].data["state"] == "RETURNED"
    # The tenant's staff carry on: the admin can resolve it now, and escalate it again.
    admin = client_for(org.tenant, org.admin)
    again = admin.put(
        f"/api/chat/channels/{ticket['id']}/escalate", {"reason": "Still stuck"}, format="json"
    )
    assert again.status_code == 200
    assert Escalation.objects.filter(channel_id=ticket["id"]).count() == 2
    entry = AuditEntry.objects.get(action="escalation.returned")
    assert entry.details == {"note": "This is a tournament setting, not a bug."}


def test_only_escalated_channels_can_be_handed_back(
    console: Any, client_for: Any, org: Org, super_admin: User
) -> None:
    ticket = _escalated(client_for, org)
    escalation = Escalation.objects.get(channel_id=ticket["id"])
    assert console.put(f"/api/console/escalations/{escalation.pk}/return").status_code == 200

    refused = console.put(f"/api/console/escalations/{escalation.pk}/return")

    assert refused.status_code == 409 and _error(refused) == "escalation_closed"
    on_acme = actor_for(user=super_admin, tenant=org.tenant)
    assert on_acme is not None
    with pytest.raises(Conflict) as not_escalated:
        chat_services.channel_deescalate(actor=on_acme, channel_id=ticket["id"])
    assert not_escalated.value.code == "not_escalated"
    _channel_status(ticket["id"], ChannelStatus.ACTIVE)


def test_tenant_admins_cannot_hand_an_escalation_back(
    client_for: Any, org: Org, super_admin: User
) -> None:
    ticket = _escalated(client_for, org)
    admin = actor_for(user=org.admin, tenant=org.tenant)
    assert admin is not None

    with pytest.raises(Forbidden):
        chat_services.channel_deescalate(actor=admin, channel_id=ticket["id"])

    _channel_status(ticket["id"], ChannelStatus.ESCALATED)
    assert Escalation.objects.get(channel_id=ticket["id"]).state == EscalationState.OPEN
    on_host = client_for(org.tenant, org.admin)
    escalation = Escalation.objects.get(channel_id=ticket["id"])
    from_host = on_host.put(f"/api/console/escalations/{escalation.pk}/return")
    assert from_host.status_code == 403 and _error(from_host) == "console_only"


def _channel_status(channel_id: str, status: str) -> None:
    with schema_context("acme"):
        assert Channel.objects.get(pk=channel_id).status == status


def test_super_admins_see_only_the_hosts_escalated_channels(
    client_for: Any, org: Org, other_org: Org, super_admin: User
) -> None:
    acme_ticket = _escalated(client_for, org)
    globex_ticket = _escalated(client_for, other_org)
    unescalated = support_ticket(client_for(org.tenant, org.player), subject="Ordinary")

    on_acme = client_for(org.tenant, super_admin)
    ids = {c["id"] for c in on_acme.get("/api/chat/channels").json()["channels"]}

    assert ids == {acme_ticket["id"]}
    assert on_acme.get(f"/api/chat/channels/{globex_ticket['id']}").status_code == 404
    assert on_acme.get(f"/api/chat/channels/{unescalated['id']}").status_code == 404


# --- audit log ---------------------------------------------------------------------------


def test_audit_log_lists_filters_and_pages(
    console: Any, client_for: Any, org: Org, super_admin: User
) -> None:
    _escalated(client_for, org)
    console.put("/api/console/tenants/globex/suspend", {"reason": "Check"}, format="json")
    console.put("/api/console/tenants/globex/reactivate")
    console.get("/api/console/tenants/acme/export")

    entries = console.get("/api/console/audit").json()["entries"]

    assert [e["action"] for e in entries] == [
        "tenant.exported",
        "tenant.reactivated",
        "tenant.suspended",
        "escalation.opened",
    ]
    suspended = entries[2]
    assert suspended["actorId"] == super_admin.pk and suspended["actorEmail"] == super_admin.email
    assert suspended["tenant"] == "globex" and suspended["details"] == {"reason": "Check"}
    assert suspended["at"]
    assert entries[3]["actorId"] == org.admin.pk
    only_globex = console.get("/api/console/audit?tenant=globex").json()["entries"]
    assert {e["action"] for e in only_globex} == {"tenant.suspended", "tenant.reactivated"}
    by_action = console.get("/api/console/audit?action=escalation.opened").json()["entries"]
    assert len(by_action) == 1
    page = console.get("/api/console/audit?limit=2").json()
    assert page["hasMore"] is True and len(page["entries"]) == 2
    rest = console.get(f"/api/console/audit?limit=2&before={page['entries'][-1]['id']}").json()
    assert [e["action"] for e in rest["entries"]] == ["tenant.suspended", "escalation.opened"]
    assert rest["hasMore"] is False
    assert console.get("/api/console/audit?action=tenant.eaten").status_code == 400


def test_audit_entries_roll_back_with_their_action(console: Any) -> None:
    # A suspension that fails (unknown tenant) leaves no entry.
    console.put("/api/console/tenants/nosuch/suspend", {"reason": "x"}, format="json")
    assert not AuditEntry.objects.exists()
    connection.set_schema_to_public()
    assert EscalationState.RETURNED == "RETURNED"


def test_export_pages_through_channels_and_messages(
    console: Any, client_for: Any, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.platform import export

    monkeypatch.setattr(export, "CHANNEL_BATCH", 2)
    monkeypatch.setattr(export, "MESSAGE_BATCH", 2)
    player = client_for(org.tenant, org.player)
    opened = [support_ticket(player, subject=f"Ticket {n}")["id"] for n in range(3)]
    for n in range(5):
        player.post(f"/api/chat/channels/{opened[1]}/messages", {"content": f"m{n}"}, format="json")

    document = json.loads(_body(console.get("/api/console/tenants/acme/export")))

    assert [c["id"] for c in document["channels"]] == opened
    assert [m["content"] for m in document["channels"][1]["messages"]] == [
        f"m{n}" for n in range(5)
    ]
    assert [m["seq"] for m in document["channels"][1]["messages"]] == [1, 2, 3, 4, 5]
    assert document["channels"][0]["messages"] == []
    assert console.get("/api/console/tenants/nosuch/export").status_code == 404


def test_any_super_admin_works_and_reads_closed_escalations(
    client_for: Any, org: Org, make_user: Any, public_tenant: Tenant
) -> None:
    """A super admin who is no participant (joined the platform after the escalation) can
    resolve it and still read it once it is closed."""
    ticket = _escalated(client_for, org)
    escalation = Escalation.objects.get(channel_id=ticket["id"])
    newcomer = client_for(public_tenant, make_user(super_admin=True))

    resolved = newcomer.put(f"/api/console/escalations/{escalation.pk}/resolve")

    assert resolved.status_code == 200
    assert resolved.json()["channel"]["status"] == "RESOLVED"
    later = newcomer.get(f"/api/console/escalations/{escalation.pk}")
    assert later.status_code == 200 and later.json()["escalation"]["state"] == "RESOLVED"
    history = newcomer.get(f"/api/console/escalations/{escalation.pk}/messages")
    assert history.status_code == 200


def test_a_losing_concurrent_hand_back_answers_escalation_closed(
    client_for: Any, org: Org, super_admin: User, make_user: Any
) -> None:
    """Two super admins hand the same escalation back at once: the one who loads it
    before the other's commit, and acts after, is told it is closed (as documented)."""
    from apps.platform import services as platform_services

    ticket = _escalated(client_for, org)
    seen_open = Escalation.objects.get(channel_id=ticket["id"])  # loaded before the other acts
    winner = actor_for(user=make_user(super_admin=True), tenant=org.tenant)
    loser = actor_for(user=super_admin, tenant=org.tenant)
    assert winner is not None and loser is not None
    platform_services.escalation_return(actor=winner, escalation=seen_open, note="first")

    stale = Escalation.objects.get(pk=seen_open.pk)
    stale.state = EscalationState.OPEN  # as the losing request still believes
    with pytest.raises(Conflict) as lost:
        platform_services.escalation_return(actor=loser, escalation=stale, note="second")

    assert lost.value.code == "escalation_closed"
    assert Escalation.objects.get(pk=seen_open.pk).state == EscalationState.RETURNED


@pytest.mark.parametrize("slug", ["www", "api", "admin"])
def test_reserved_slugs_are_refused_as_reserved(console: Any, slug: str) -> None:
    response = console.post(
        "/api/console/tenants", {"slug": slug, "name": "X", "adminEmail": "x@x.test"}, format="json"
    )

    assert response.status_code == 400 and _error(response) == "reserved_slug"
    assert "reserved" in response.json()["error"]["message"]
    assert not Tenant.objects.filter(schema_name=slug).exists()
