"""Report figures against hand-computed fixtures, at the range's boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.chat import reports
from apps.chat.models import Channel, ChannelType, SupportTicket

T = datetime(2026, 3, 1, tzinfo=UTC)
RANGE = "from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z"


def ticket(
    schema: str,
    user: Any,
    *,
    created: datetime,
    first: float | None = None,
    resolved: datetime | None = None,
    escalated: datetime | None = None,
    rating: int | None = None,
    rated: datetime | None = None,
    category: str = "OTHER",
    priority: str = "MEDIUM",
    assignee: Any = None,
    channel_type: str = ChannelType.SUPPORT,
    tenant: Any = None,
) -> None:
    with schema_context(schema):
        channel = Channel.objects.create(
            type=channel_type,
            created_by=user,
            subject="s",
            assigned_to=assignee,
            escalated_at=escalated,
            resolved_at=resolved,
            created_at=created,
            tenant=tenant,
        )
        SupportTicket.objects.create(
            channel=channel,
            requester=user,
            category=category,
            priority=priority,
            status="RESOLVED" if resolved else "OPEN",
            first_response_at=created + timedelta(seconds=first) if first else None,
            resolved_at=resolved,
            rating=rating,
            rated_at=rated,
            created_at=created,
        )


def fixtures(org: Any, schema: str = "acme", **extra: Any) -> None:
    user = org.player
    # A: opened and resolved on day 1, rated on day 1.
    ticket(
        schema,
        user,
        created=T + timedelta(hours=10),
        first=60,
        resolved=T + timedelta(hours=12),
        rating=5,
        rated=T + timedelta(hours=13),
        category="TECHNICAL",
        priority="HIGH",
        assignee=org.admin,
        **extra,
    )
    # B: opened at the last second of day 1, resolved a day later, rated exactly at `to`.
    ticket(
        schema,
        user,
        created=T + timedelta(days=1, seconds=-1),
        first=120,
        resolved=T + timedelta(days=2, seconds=-1),
        rating=3,
        rated=T + timedelta(days=2),
        category="BILLING",
        priority="LOW",
        assignee=org.team,
        **extra,
    )
    # C: opened exactly at the start of day 2, escalated an hour later, open.
    ticket(
        schema,
        user,
        created=T + timedelta(days=1),
        first=300,
        escalated=T + timedelta(days=1, hours=1),
        category="TECHNICAL",
        priority="HIGH",
        **extra,
    )
    # D: opened a second before `from`; resolved and rated exactly at `from`; escalated
    # before it.
    ticket(
        schema,
        user,
        created=T - timedelta(seconds=1),
        first=30,
        resolved=T,
        rating=4,
        rated=T,
        escalated=T - timedelta(microseconds=1),
        category="OTHER",
        priority="LOW",
        **extra,
    )
    # E: opened exactly at `to`: in nothing.
    ticket(
        schema,
        user,
        created=T + timedelta(days=2),
        first=10,
        resolved=T + timedelta(days=3),
        category="ACCOUNT",
        **extra,
    )


BREACH = None if reports.BREACH_COLUMN is None else 0.0


def figures(
    opened: int,
    resolved: int,
    escalated: int,
    fr: tuple[Any, Any],
    rs: tuple[Any, Any],
    csat: tuple[Any, int],
    breach: Any = BREACH,
) -> dict[str, Any]:
    return {
        "opened": opened,
        "resolved": resolved,
        "escalated": escalated,
        "firstResponseSeconds": {"median": fr[0], "p90": fr[1]},
        "resolutionSeconds": {"median": rs[0], "p90": rs[1]},
        "slaBreachRate": breach if opened else None,
        "csat": {"average": csat[0], "count": csat[1]},
    }


# By hand: first responses of A, B, C = 60, 120, 300 -> median 120, p90 at rank 1.8:
# 120 + 0.8 * 180 = 264. Resolutions of D, A, B = 1, 7200, 86400 -> median 7200,
# p90: 7200 + 0.8 * 79200 = 70560. Ratings in range: A 5, D 4 (B's is at `to`).
TOTALS = figures(3, 3, 1, (120.0, 264.0), (7200.0, 70560.0), (4.5, 2))


def get(client: Any, query: str) -> Any:
    response = client.get(f"/api/reports?{query}")
    assert response.status_code == 200, response.json()
    return response.json()


def test_totals_and_boundaries(org, client_for):
    fixtures(org)
    body = get(client_for(org.tenant, org.admin), RANGE)
    assert body["totals"] == TOTALS
    assert body["groups"] == []
    assert body["from"].startswith("2026-03-01T00:00:00")


def test_by_day(org, client_for):
    fixtures(org)
    body = get(client_for(org.tenant, org.admin), RANGE + "&groupBy=day")
    assert body["totals"] == TOTALS
    # Day 1: A and B opened (60, 120: median 90, p90 60 + 0.9 * 60 = 114); A and D
    # resolved (1, 7200: median 3600.5, p90 1 + 0.9 * 7199 = 6480.1); A and D rated.
    # Day 2: C opened (300) and escalated; B resolved (86400).
    assert body["groups"] == [
        {"key": "2026-03-01", **figures(2, 2, 0, (90.0, 114.0), (3600.5, 6480.1), (4.5, 2))},
        {"key": "2026-03-02", **figures(1, 1, 1, (300.0, 300.0), (86400.0, 86400.0), (None, 0))},
    ]


def test_by_category_priority_and_assignee(org, client_for):
    fixtures(org)
    admin = client_for(org.tenant, org.admin)
    by_category = {g["key"]: g for g in get(admin, RANGE + "&groupBy=category")["groups"]}
    assert set(by_category) == {"BILLING", "OTHER", "TECHNICAL"}
    technical = by_category["TECHNICAL"]  # A and C
    assert (technical["opened"], technical["resolved"], technical["escalated"]) == (2, 1, 1)
    assert technical["firstResponseSeconds"] == {"median": 180.0, "p90": 276.0}
    assert technical["csat"] == {"average": 5.0, "count": 1}
    other = by_category["OTHER"]  # D: resolved and rated at `from`, opened before it
    assert (other["opened"], other["resolved"], other["csat"]["count"]) == (0, 1, 1)
    assert other["slaBreachRate"] is None and other["firstResponseSeconds"]["median"] is None

    by_priority = {g["key"]: g for g in get(admin, RANGE + "&groupBy=priority")["groups"]}
    assert {k: g["opened"] for k, g in by_priority.items()} == {"HIGH": 2, "LOW": 1}
    assert by_priority["LOW"]["resolved"] == 2  # B and D

    body = get(admin, RANGE + "&groupBy=assignee")
    by_assignee = {g["key"]: g for g in body["groups"]}
    assert set(by_assignee) == {str(org.admin.pk), str(org.team.pk), None}
    assert by_assignee[None]["opened"] == 1 and by_assignee[None]["escalated"] == 1
    assert body["totals"] == TOTALS


def test_only_tenant_admins_and_bad_input(org, client_for):
    for user in (org.team, org.player):
        assert client_for(org.tenant, user).get(f"/api/reports?{RANGE}").status_code == 403
    admin = client_for(org.tenant, org.admin)
    for query in (
        "to=2026-03-03",
        "from=2026-03-03&to=2026-03-01",
        "from=2026-03-01&to=2026-03-01",
        "from=2020-01-01&to=2026-01-01",
        RANGE + "&groupBy=tenant",
        "from=yesterday&to=today",
    ):
        response = admin.get(f"/api/reports?{query}")
        assert response.status_code == 400, query
        assert response.json()["error"]["code"] == "validation_error"


def test_a_tenant_sees_only_its_own_tickets(org, other_org, client_for):
    fixtures(org)
    body = get(client_for(other_org.tenant, other_org.admin), RANGE)
    assert body["totals"]["opened"] == 0 and body["totals"]["csat"]["count"] == 0
    refused = client_for(org.tenant, other_org.admin).get(f"/api/reports?{RANGE}")
    assert refused.status_code in (401, 403)


@pytest.mark.parametrize("group", [None, "day", "category", "priority", "assignee"])
def test_empty_range(org, client_for, group):
    query = RANGE + (f"&groupBy={group}" if group else "")
    body = get(client_for(org.tenant, org.admin), query)
    assert body["totals"] == figures(0, 0, 0, (None, None), (None, None), (None, 0))
    assert body["groups"] == []
