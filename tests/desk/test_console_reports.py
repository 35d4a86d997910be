"""Reports in the console: one tenant (its schema), and every tenant from the public
rollups without entering any tenant schema."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.chat.models import Channel
from apps.platform.recount import recount
from apps.records import desk
from apps.records.models import DeskRollup
from tests.chat.conftest import create_channel, support_ticket


@pytest.fixture(autouse=True)
def _no_other_tickets() -> None:
    """Tickets and rollups other tests committed (through real servers) are set aside for
    this test: deleted in its transaction, so back afterwards."""
    for schema in ("acme", "globex", "public"):
        with schema_context(schema):
            Channel.objects.all().delete()
    DeskRollup.objects.all().delete()


def day_range() -> str:
    today = timezone.now().astimezone(UTC).date()
    return f"from={today.isoformat()}T00:00:00Z&to={(today + timedelta(1)).isoformat()}T00:00:00Z"


def activity(org: Any, other_org: Any, super_admin: Any, public_tenant: Any, client_for: Any):  # type: ignore[no-untyped-def]
    player = client_for(org.tenant, org.player)
    admin = client_for(org.tenant, org.admin)
    cid = support_ticket(player)["id"]
    admin.post(f"/api/chat/channels/{cid}/messages", {"content": "on it"}, format="json")
    admin.put(f"/api/chat/channels/{cid}/resolve")
    rated = player.post(f"/api/chat/channels/{cid}/rating", {"rating": 4}, format="json")
    assert rated.status_code == 200
    other = support_ticket(client_for(other_org.tenant, other_org.player))["id"]
    client_for(other_org.tenant, other_org.admin).put(
        f"/api/chat/channels/{other}/escalate", {"reason": "bug"}, format="json"
    )
    platform = create_channel(admin, type="PLATFORM_SUPPORT", subject="Invoice")["id"]
    client_for(public_tenant, super_admin).post(
        f"/api/chat/channels/{platform}/messages", {"content": "hello"}, format="json"
    )


def test_every_tenant_from_rollups_without_entering_a_schema(
    org, other_org, super_admin, public_tenant, client_for, monkeypatch
):
    activity(org, other_org, super_admin, public_tenant, client_for)
    console = client_for(public_tenant, super_admin)

    entered: list[str] = []
    wrapper = type(connections["default"])
    original = wrapper.set_schema

    def recording(self, schema_name, *args, **kwargs):  # type: ignore[no-untyped-def]
        entered.append(schema_name)
        return original(self, schema_name, *args, **kwargs)

    monkeypatch.setattr(wrapper, "set_schema", recording)
    response = console.get(f"/api/console/reports?{day_range()}")
    assert response.status_code == 200, response.json()
    assert not {"acme", "globex"} & set(entered)
    # (The recording works: one tenant's report enters that tenant's schema.)
    console.get(f"/api/console/tenants/acme/reports?{day_range()}")
    assert "acme" in entered and "globex" not in entered
    monkeypatch.undo()

    body = response.json()
    tenants = body["tenants"]["totals"]
    assert (tenants["opened"], tenants["resolved"], tenants["escalated"]) == (2, 1, 1)
    assert tenants["csat"] == {"average": 4.0, "count": 1}
    assert tenants["firstResponseSeconds"]["median"] is not None
    assert body["platformTickets"]["totals"]["opened"] == 1
    assert body["platformTickets"]["totals"]["firstResponseSeconds"]["median"] is not None

    by_tenant = console.get(f"/api/console/reports?{day_range()}&groupBy=tenant").json()
    assert {g["key"]: g["opened"] for g in by_tenant["tenants"]["groups"]} == {
        "acme": 1,
        "globex": 1,
    }
    assert [g["key"] for g in by_tenant["platformTickets"]["groups"]] == ["acme"]

    # A range ending today at midnight holds none of today's events (whole days, [from, to)).
    today = timezone.now().astimezone(UTC).date()
    before = console.get(
        f"/api/console/reports?from={(today - timedelta(1)).isoformat()}&to={today.isoformat()}"
    ).json()
    assert before["tenants"]["totals"]["opened"] == 0


def test_one_tenant(org, other_org, super_admin, public_tenant, client_for):
    activity(org, other_org, super_admin, public_tenant, client_for)
    console = client_for(public_tenant, super_admin)
    body = console.get(f"/api/console/tenants/acme/reports?{day_range()}").json()
    assert body["tenant"] == "acme"
    assert (body["desk"]["totals"]["opened"], body["desk"]["totals"]["escalated"]) == (1, 0)
    assert body["desk"]["totals"]["csat"] == {"average": 4.0, "count": 1}
    assert body["platformTickets"]["totals"]["opened"] == 1
    globex = console.get(f"/api/console/tenants/globex/reports?{day_range()}").json()
    assert globex["desk"]["totals"]["escalated"] == 1
    assert globex["platformTickets"]["totals"]["opened"] == 0
    grouped = console.get(f"/api/console/tenants/acme/reports?{day_range()}&groupBy=assignee")
    assert grouped.status_code == 200
    assert console.get(f"/api/console/tenants/nobody/reports?{day_range()}").status_code == 404


def test_console_reports_are_for_super_admins_on_the_console(
    org, super_admin, public_tenant, client_for
):
    for client in (
        client_for(org.tenant, org.admin),
        client_for(org.tenant, super_admin),
        client_for(public_tenant, org.admin),
    ):
        assert client.get(f"/api/console/reports?{day_range()}").status_code in (401, 403)
        assert client.get(f"/api/console/tenants/acme/reports?{day_range()}").status_code in (
            401,
            403,
        )
    console = client_for(public_tenant, super_admin)
    assert console.get(f"/api/console/reports?{day_range()}&groupBy=assignee").status_code == 400
    assert console.get("/api/console/reports?from=2026-01-02&to=2026-01-01").status_code == 400


def test_rollup_percentiles_within_ten_percent(org):
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    for seconds in (60, 120, 300):
        desk.add_duration(
            tenant_id=org.tenant.pk,
            at=at,
            category="OTHER",
            priority="LOW",
            metric=desk.FIRST_RESPONSE,
            seconds=seconds,
        )
    figures = desk.report(start=date(2026, 3, 1), end=date(2026, 3, 2), group=None)
    # Exact: median 120, p90 264 (percentile_cont over 60, 120, 300).
    median = figures["totals"]["firstResponseSeconds"]["median"]
    p90 = figures["totals"]["firstResponseSeconds"]["p90"]
    assert median == pytest.approx(120, rel=0.1)
    assert p90 == pytest.approx(264, rel=0.1)
    empty = desk.report(start=date(2026, 3, 2), end=date(2026, 3, 3), group="day")
    assert empty["groups"] == [] and empty["totals"]["opened"] == 0


def test_recount_rebuilds_the_rollups_the_writes_kept(
    org, other_org, super_admin, public_tenant, client_for
):
    activity(org, other_org, super_admin, public_tenant, client_for)
    columns = ("tenant_id", "day", "category", "priority", "metric", "bucket", "count")
    kept = sorted(DeskRollup.objects.values_list(*columns))
    assert {row[4] for row in kept} == {
        "opened",
        "first_response",
        "resolved",
        "resolution",
        "rating",
        "escalated",
    }
    DeskRollup.objects.all().delete()
    recount()
    assert sorted(DeskRollup.objects.values_list(*columns)) == kept
