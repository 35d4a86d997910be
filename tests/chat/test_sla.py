"""SLA targets with a controllable clock: due times on opening, breach, pause in
WAITING_ON_USER, business hours in the organisation's time zone, auto-escalation once,
catch-up after downtime, platform tickets, the list's filters and order, and isolation
between tenants. The clock is time-machine's for the requests and `now` for the sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from apps.chat.models import Message, MessageKind, SlaPolicy
from apps.chat.services import sla
from apps.records.models import AuditEntry, Escalation, SlaDeadline
from apps.tenancy.models import Tenant
from tests.chat.conftest import create_channel, support_ticket

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def set_policies(client: Any, path: str = "/api/sla-policies", **body: Any) -> dict[str, Any]:
    response = client.put(path, body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def ticket_of(client: Any, channel_id: str) -> dict[str, Any]:
    response = client.get(f"/api/chat/channels/{channel_id}")
    assert response.status_code == 200, response.json()
    return response.json()


def system_texts(schema: str, channel_id: str) -> list[str]:
    with _schema(schema):
        return list(
            Message.objects.filter(channel_id=channel_id, kind=MessageKind.SYSTEM)
            .order_by("seq")
            .values_list("content", flat=True)
        )


class _schema:
    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        from django_tenants.utils import schema_context

        self._ctx = schema_context(self.name)
        self._ctx.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)


HIGH_ESCALATING = {
    "priority": "HIGH",
    "firstResponseMinutes": 30,
    "resolutionMinutes": 240,
    "autoEscalate": True,
}


@pytest.fixture
def admin(org, client_for):
    return client_for(org.tenant, org.admin)


@pytest.fixture
def player(org, client_for):
    return client_for(org.tenant, org.player)


def test_a_new_ticket_gets_due_times_from_its_priority(admin, player):
    set_policies(admin, policies=[HIGH_ESCALATING])
    with time_machine.travel(T0, tick=False):
        high = support_ticket(player, priority="HIGH")
        low = support_ticket(player, priority="LOW")
    assert high["ticket"]["sla"] == {
        "firstResponseDueAt": iso(at(30)),
        "resolutionDueAt": iso(at(240)),
        "dueAt": iso(at(30)),
        "firstResponseBreachedAt": None,
        "resolutionBreachedAt": None,
        "breached": False,
        "paused": False,
    }
    assert low["ticket"]["sla"] is None  # no policy for LOW
    assert SlaDeadline.objects.filter(channel_id=high["id"]).get().due_at == at(30)
    assert not SlaDeadline.objects.filter(channel_id=low["id"]).exists()


def test_missed_first_response_breaches_notifies_and_escalates_once(
    org, admin, player, published, super_admin
):
    set_policies(admin, policies=[HIGH_ESCALATING])
    with time_machine.travel(T0, tick=False):
        channel = support_ticket(player, priority="HIGH")
    published.clear()

    assert sla.sweep(now=at(29)).breached == 0
    result = sla.sweep(now=at(31))
    assert (result.breached, result.escalated) == (1, 1)
    assert sla.sweep(now=at(32)).breached == 0  # once

    body = ticket_of(admin, channel["id"])
    assert body["status"] == "ESCALATED"
    assert body["escalationReason"].startswith("SLA breached: first response was due")
    assert body["ticket"]["sla"]["breached"] is True
    assert body["ticket"]["sla"]["firstResponseBreachedAt"] == iso(at(31))
    assert body["ticket"]["sla"]["resolutionBreachedAt"] is None
    texts = system_texts("acme", channel["id"])
    assert texts[0] == "SLA breached: first response was due 2026-11-23 08:30 (UTC)."
    assert texts[1].startswith("Escalated to platform support: SLA breached")
    [escalation] = Escalation.objects.filter(channel_id=channel["id"])
    assert escalation.escalated_by is None and escalation.reason.startswith("SLA breached")

    [breach] = published.named("sla_breached")
    assert f"t.acme.u.{org.admin.pk}" in breach.groups
    assert f"t.acme.u.{org.player.pk}" not in breach.groups  # the requester is not told
    assert breach.data["targets"] == [{"target": "FIRST_RESPONSE", "dueAt": at(30).isoformat()}]
    [escalated] = published.named("ticket_escalated")
    assert escalated.groups == ("platform.super",) and escalated.data["escalatedBy"] is None
    # The resolution target is still tracked, and breaches later without a second escalation.
    assert SlaDeadline.objects.get(channel_id=channel["id"]).due_at == at(240)
    assert sla.sweep(now=at(241)).breached == 1
    assert Escalation.objects.filter(channel_id=channel["id"]).count() == 1


def test_answering_in_time_meets_the_first_response_target(org, admin, player, client_for):
    set_policies(admin, policies=[HIGH_ESCALATING])
    with time_machine.travel(T0, tick=False):
        channel = support_ticket(player, priority="HIGH")
    with time_machine.travel(at(10), tick=False):
        response = admin.post(
            f"/api/chat/channels/{channel['id']}/messages", {"content": "On it"}, format="json"
        )
        assert response.status_code == 201
    assert sla.sweep(now=at(31)).breached == 0
    assert ticket_of(admin, channel["id"])["ticket"]["sla"]["dueAt"] == iso(at(240))
    # Answered late: missed all the same, even if no sweep ran in between.
    with time_machine.travel(at(0), tick=False):
        late = support_ticket(player, priority="HIGH")
    with time_machine.travel(at(45), tick=False):
        admin.post(f"/api/chat/channels/{late['id']}/messages", {"content": "Sorry"}, format="json")
    sla_body = ticket_of(admin, late["id"])["ticket"]["sla"]
    assert sla_body["breached"] is True and sla_body["firstResponseBreachedAt"] == iso(at(45))


def test_waiting_on_user_pauses_the_clock(admin, player):
    set_policies(admin, policies=[{"priority": "MEDIUM", "resolutionMinutes": 60}])
    with time_machine.travel(T0, tick=False):
        channel = support_ticket(player)
    path = f"/api/chat/channels/{channel['id']}"
    with time_machine.travel(at(10), tick=False):
        response = admin.patch(f"{path}/ticket", {"status": "WAITING_ON_USER"}, format="json")
        assert response.json()["ticket"]["sla"]["paused"] is True
    assert not SlaDeadline.objects.filter(channel_id=channel["id"]).exists()
    assert sla.sweep(now=at(100)).breached == 0  # 100 minutes later: paused, not due

    with time_machine.travel(at(100), tick=False):
        player.post(f"{path}/messages", {"content": "Here is the screenshot"}, format="json")
    sla_body = ticket_of(admin, channel["id"])["ticket"]
    assert sla_body["status"] == "IN_PROGRESS"
    # 10 minutes ran, 90 were paused: 50 left from minute 100.
    assert sla_body["sla"]["resolutionDueAt"] == iso(at(150))
    assert sla_body["sla"]["paused"] is False
    assert sla.sweep(now=at(149)).breached == 0
    assert sla.sweep(now=at(151)).breached == 1


def test_resolved_tickets_stop_the_clock_and_reopening_resumes_it(admin, player):
    set_policies(admin, policies=[{"priority": "MEDIUM", "resolutionMinutes": 60}])
    with time_machine.travel(T0, tick=False):
        channel = support_ticket(player)
    path = f"/api/chat/channels/{channel['id']}"
    with time_machine.travel(at(20), tick=False):
        assert admin.put(f"{path}/resolve").status_code == 200
    assert sla.sweep(now=at(500)).breached == 0
    with time_machine.travel(at(500), tick=False):
        player.post(f"{path}/messages", {"content": "It broke again"}, format="json")
    assert ticket_of(admin, channel["id"])["ticket"]["sla"]["resolutionDueAt"] == iso(at(540))


def test_business_hours_count_in_the_tenant_time_zone(admin, player):
    week = [
        {"day": d, "start": "09:00", "end": "17:00"} for d in ("MON", "TUE", "WED", "THU", "FRI")
    ]
    body = set_policies(
        admin,
        timeZone="Europe/Berlin",
        businessHours=week,
        policies=[
            {"priority": "URGENT", "firstResponseMinutes": 120, "businessHoursOnly": True},
            {"priority": "HIGH", "firstResponseMinutes": 120},
        ],
    )
    assert body["timeZone"] == "Europe/Berlin" and body["businessHours"] == week
    friday = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)  # 16:30 in Berlin (UTC+1)
    with time_machine.travel(friday, tick=False):
        urgent = support_ticket(player, priority="URGENT")
        high = support_ticket(player, priority="HIGH")
    # 30 minutes on Friday, 90 on Monday from 09:00 Berlin: 10:30 Berlin = 09:30 UTC.
    assert urgent["ticket"]["sla"]["firstResponseDueAt"] == "2026-11-23T09:30:00Z"
    assert high["ticket"]["sla"]["firstResponseDueAt"] == "2026-11-20T17:30:00Z"  # around the clock
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert sla.sweep(now=saturday).breached == 1  # only the HIGH one
    assert ticket_of(admin, urgent["id"])["ticket"]["sla"]["breached"] is False


def test_catch_up_after_downtime_handles_each_missed_deadline_once(admin, player, published):
    set_policies(admin, policies=[HIGH_ESCALATING])
    with time_machine.travel(T0, tick=False):
        channels = [support_ticket(player, priority="HIGH") for _ in range(3)]
    published.clear()
    # No sweep ran for five hours: both targets of every ticket are past.
    result = sla.sweep(now=at(300))
    assert (result.breached, result.escalated) == (3, 3)
    assert sla.sweep(now=at(301)).breached == 0
    for channel in channels:
        sla_body = ticket_of(admin, channel["id"])["ticket"]["sla"]
        assert sla_body["firstResponseBreachedAt"] == sla_body["resolutionBreachedAt"]
        texts = [t for t in system_texts("acme", channel["id"]) if t.startswith("SLA breached")]
        assert texts == [
            "SLA breached: first response was due 2026-11-23 08:30 (UTC); "
            "resolution was due 2026-11-23 12:00 (UTC)."
        ]
    assert len(published.named("sla_breached")) == 3
    assert len(published.named("ticket_escalated")) == 3
    assert not SlaDeadline.objects.filter(channel_id__in=[c["id"] for c in channels]).exists()


def test_a_priority_change_recounts_the_targets(admin, player):
    set_policies(
        admin,
        policies=[
            {"priority": "LOW", "resolutionMinutes": 600},
            {"priority": "URGENT", "resolutionMinutes": 60},
        ],
    )
    with time_machine.travel(T0, tick=False):
        channel = support_ticket(player, priority="LOW")
    with time_machine.travel(at(5), tick=False):
        response = admin.patch(
            f"/api/chat/channels/{channel['id']}/ticket", {"priority": "URGENT"}, format="json"
        )
    assert response.json()["ticket"]["sla"]["resolutionDueAt"] == iso(at(60))
    assert SlaDeadline.objects.get(channel_id=channel["id"]).due_at == at(60)


def test_list_filters_and_sorts_by_sla(admin, player):
    set_policies(
        admin,
        policies=[
            {"priority": "URGENT", "firstResponseMinutes": 10},
            {"priority": "HIGH", "firstResponseMinutes": 30},
            {"priority": "MEDIUM", "firstResponseMinutes": 60},
        ],
    )
    with time_machine.travel(T0, tick=False):
        medium = support_ticket(player, priority="MEDIUM")
        urgent = support_ticket(player, priority="URGENT")
        high = support_ticket(player, priority="HIGH")
        support_ticket(player, priority="LOW")  # no SLA: not in the slaDue order
        create_channel(admin, type="TEAM")
    sla.sweep(now=at(15))

    ids: list[str] = []
    cursor = None
    while True:
        query = {"sort": "slaDue", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = admin.get("/api/chat/channels", query).json()
        ids += [c["id"] for c in page["channels"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert ids == [urgent["id"], high["id"], medium["id"]]

    breached = admin.get("/api/chat/channels", {"slaBreached": "true"}).json()["channels"]
    assert [c["id"] for c in breached] == [urgent["id"]]
    soon = admin.get("/api/chat/channels", {"slaDueBefore": iso(at(30))}).json()["channels"]
    assert {c["id"] for c in soon} == {urgent["id"], high["id"]}
    # A cursor of one order is refused by the other.
    first = admin.get("/api/chat/channels", {"limit": 1}).json()["next"]
    response = admin.get("/api/chat/channels", {"sort": "slaDue", "cursor": first})
    assert response.status_code == 400


def test_platform_tickets_follow_the_platform_policy(
    org, admin, super_admin, client_for, published
):
    console = client_for(Tenant.objects.get(schema_name="public"), super_admin)
    set_policies(
        console,
        "/api/console/sla-policies",
        policies=[{"priority": "MEDIUM", "firstResponseMinutes": 240}],
    )
    set_policies(admin, policies=[{"priority": "MEDIUM", "firstResponseMinutes": 5}])
    with time_machine.travel(T0, tick=False):
        channel = create_channel(
            admin, type="PLATFORM_SUPPORT", subject="Invoice", category="BILLING"
        )
    assert channel["ticket"]["sla"]["firstResponseDueAt"] == iso(at(240))
    published.clear()
    assert sla.sweep(now=at(241)).breached == 1
    [breach] = published.named("sla_breached")
    assert "platform.super" in breach.groups
    assert published.named("ticket_escalated") == []  # platform tickets are not escalated
    assert ticket_of(console, channel["id"])["ticket"]["sla"]["breached"] is True


def test_policy_api_permissions_and_bad_input(org, client_for, super_admin):
    admin = client_for(org.tenant, org.admin)
    team = client_for(org.tenant, org.team)
    player = client_for(org.tenant, org.player)
    assert player.get("/api/sla-policies").status_code == 403
    assert team.get("/api/sla-policies").json() == {
        "timeZone": "UTC",
        "businessHours": [],
        "policies": [],
    }
    assert team.put("/api/sla-policies", {"timeZone": "UTC"}, format="json").status_code == 403
    before = (list(SlaPolicy.objects.values()), Tenant.objects.get(pk=org.tenant.pk).time_zone)
    bad_bodies = [
        {"timeZone": "Mars/Olympus"},
        {"businessHours": [{"day": "MON", "start": "17:00", "end": "09:00"}]},
        {"businessHours": [{"day": "MON", "start": "9am", "end": "17:00"}]},
        {
            "businessHours": [
                {"day": "MON", "start": "09:00", "end": "12:00"},
                {"day": "MON", "start": "11:00", "end": "13:00"},
            ]
        },
        {"policies": [{"priority": "HIGH", "firstResponseMinutes": 0}]},
        {"policies": [{"priority": "HIGH"}, {"priority": "HIGH"}]},
        {"policies": [{"priority": "SOON"}]},
        {"timeZone": "Europe/Berlin", "policies": "all"},
    ]
    for body in bad_bodies:
        response = admin.put("/api/sla-policies", body, format="json")
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "validation_error"
    after = (list(SlaPolicy.objects.values()), Tenant.objects.get(pk=org.tenant.pk).time_zone)
    assert after == before
    # The console: super admins only, and no auto-escalation of platform tickets.
    console = client_for(Tenant.objects.get(schema_name="public"), super_admin)
    response = console.put(
        "/api/console/sla-policies",
        {"policies": [{"priority": "LOW", "resolutionMinutes": 10, "autoEscalate": True}]},
        format="json",
    )
    assert response.status_code == 400
    assert admin.get("/api/console/sla-policies").status_code == 403
    set_policies(admin, policies=[HIGH_ESCALATING])
    entry = AuditEntry.objects.filter(action="sla.policies_set").latest("id")
    assert entry.tenant_slug == "acme" and entry.details["policies"][0]["priority"] == "HIGH"


def test_tenants_keep_their_own_policies_tickets_and_events(org, other_org, client_for, published):
    acme_admin = client_for(org.tenant, org.admin)
    globex_admin = client_for(other_org.tenant, other_org.admin)
    set_policies(acme_admin, policies=[HIGH_ESCALATING])
    set_policies(globex_admin, policies=[{"priority": "HIGH", "firstResponseMinutes": 120}])
    # acme's credential gets nothing of globex's settings.
    assert acme_admin.get("/api/sla-policies", HTTP_HOST="globex.localhost").status_code == 403
    assert (
        globex_admin.get("/api/sla-policies").json()["policies"][0]["firstResponseMinutes"] == 120
    )
    with time_machine.travel(T0, tick=False):
        acme_ticket = support_ticket(client_for(org.tenant, org.player), priority="HIGH")
        globex_ticket = support_ticket(
            client_for(other_org.tenant, other_org.player), priority="HIGH"
        )
    assert globex_ticket["ticket"]["sla"]["firstResponseDueAt"] == iso(at(120))
    published.clear()

    assert sla.sweep(now=at(60)).breached == 1  # acme's only
    assert ticket_of(acme_admin, acme_ticket["id"])["ticket"]["sla"]["breached"] is True
    assert ticket_of(globex_admin, globex_ticket["id"])["ticket"]["sla"]["breached"] is False
    assert ticket_of(globex_admin, globex_ticket["id"])["status"] == "ACTIVE"
    for event in published.named("sla_breached") + published.named("new_message"):
        assert all(not g.startswith("t.globex.") for g in event.groups), event
    assert sla.sweep(now=at(121)).breached == 1  # globex's, in its own schema
    [_, globex_breach] = published.named("sla_breached")
    assert globex_breach.data["tenant"] == "globex"
    assert all(not g.startswith("t.acme.") for g in globex_breach.groups)
    assert system_texts("globex", globex_ticket["id"])[-1].startswith("SLA breached")


def test_a_failing_deadline_is_postponed_with_backoff_and_logged(admin, player, caplog):
    set_policies(admin, policies=[HIGH_ESCALATING])
    with time_machine.travel(T0, tick=False):
        channel = support_ticket(player, priority="HIGH")
    original = sla._missed

    def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    sla._missed = broken
    try:
        result = sla.sweep(now=at(31))
    finally:
        sla._missed = original
    assert result.failed == 1 and result.breached == 0
    row = SlaDeadline.objects.get(channel_id=channel["id"])
    assert (row.attempts, row.due_at) == (1, at(31) + timedelta(seconds=30))
    assert "SLA deadline of channel" in caplog.text
    assert sla.sweep(now=at(31)).breached == 0  # not due again before its retry time
    assert sla.sweep(now=at(32)).breached == 1
