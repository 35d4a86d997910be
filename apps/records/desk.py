"""Support-desk rollups (`DeskRollup`): events of tenants' SUPPORT tickets counted per
UTC day, tenant, category, priority and metric, in the public schema. The writer adds
one in the transaction of the ticket write; the console sums them over all tenants.

Times are kept as histograms: bucket b holds durations d (seconds) with
floor(4 * log2(d + 1)) = b, so a bucket spans a factor of 2^(1/4) (19%); a percentile
read from them is the geometric middle of its bucket, within 10% of the exact figure.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from django.conf import settings
from django.db import connection

from apps.records.models import DeskRollup

TABLE = f"{settings.PUBLIC_SCHEMA_NAME}.{DeskRollup._meta.db_table}"

OPENED = "opened"
RESOLVED = "resolved"
ESCALATED = "escalated"
BREACHED = "breached"
FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
RATING = "rating"

_ADD_SQL = (
    f"INSERT INTO {TABLE} AS r (tenant_id, day, category, priority, metric, bucket, count) "
    "VALUES (%s, %s, %s, %s, %s, %s, 1) "
    "ON CONFLICT (day, tenant_id, category, priority, metric, bucket) "
    "DO UPDATE SET count = r.count + 1"
)


def bucket_of(seconds: float) -> int:
    return int(math.floor(4 * math.log2(max(seconds, 0.0) + 1)))


def bucket_middle(bucket: int) -> float:
    """The geometric middle of a time bucket, in seconds."""
    return float(2 ** ((bucket + 0.5) / 4) - 1)


def utc_day(at: datetime) -> date:
    return at.astimezone(UTC).date()


def add(
    *,
    tenant_id: int,
    at: datetime,
    category: str,
    priority: str,
    metric: str,
    bucket: int = 0,
) -> None:
    """One event, in the caller's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(_ADD_SQL, [tenant_id, utc_day(at), category, priority, metric, bucket])


def add_duration(
    *, tenant_id: int, at: datetime, category: str, priority: str, metric: str, seconds: float
) -> None:
    add(
        tenant_id=tenant_id,
        at=at,
        category=category,
        priority=priority,
        metric=metric,
        bucket=bucket_of(seconds),
    )


_GROUP_COLUMNS = {
    "day": "day",
    "tenant": "tenant_id",
    "category": "category",
    "priority": "priority",
}
GROUPS = tuple(_GROUP_COLUMNS)


def _percentile(histogram: list[tuple[int, int]], fraction: float) -> float | None:
    """The bucket holding the `fraction` point of the (bucket, count) pairs."""
    total = sum(count for _bucket, count in histogram)
    if not total:
        return None
    rank = fraction * total
    seen = 0
    for bucket, count in sorted(histogram):
        seen += count
        if seen >= rank:
            return round(bucket_middle(bucket), 3)
    return round(bucket_middle(sorted(histogram)[-1][0]), 3)


def _figures(rows: list[tuple[str, int, int]]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    histograms: dict[str, list[tuple[int, int]]] = {}
    for metric, bucket, count in rows:
        counts[metric] = counts.get(metric, 0) + count
        histograms.setdefault(metric, []).append((bucket, count))
    ratings = histograms.get(RATING, [])
    rated = sum(c for _b, c in ratings)
    opened = counts.get(OPENED, 0)
    return {
        "opened": opened,
        "resolved": counts.get(RESOLVED, 0),
        "escalated": counts.get(ESCALATED, 0),
        "firstResponseSeconds": {
            "median": _percentile(histograms.get(FIRST_RESPONSE, []), 0.5),
            "p90": _percentile(histograms.get(FIRST_RESPONSE, []), 0.9),
        },
        "resolutionSeconds": {
            "median": _percentile(histograms.get(RESOLUTION, []), 0.5),
            "p90": _percentile(histograms.get(RESOLUTION, []), 0.9),
        },
        # Null until SLA breaches are counted into the rollups (`BREACHED`).
        "slaBreachRate": (
            round(counts.get(BREACHED, 0) / opened, 4) if opened and BREACH_COUNTED else None
        ),
        "csat": {
            "average": round(sum(b * c for b, c in ratings) / rated, 3) if rated else None,
            "count": rated,
        },
    }


# Ticket writes add `BREACHED` events: the SLA sweep, once per breached ticket.
BREACH_COUNTED = True


def report(*, start: date, end: date, group: str | None) -> dict[str, Any]:
    """Figures over every tenant for the days in [start, end), by `group` if given: one
    indexed range read of the public table, grouped in Python (a few rows a day)."""
    column = _GROUP_COLUMNS[group] if group else "NULL"
    sql = (
        f"SELECT {column}, metric, bucket, sum(count) FROM {TABLE} "
        "WHERE day >= %s AND day < %s GROUP BY 1, 2, 3"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [start, end])
        rows = cursor.fetchall()
    everything: list[tuple[str, int, int]] = []
    grouped: dict[Any, list[tuple[str, int, int]]] = {}
    for key, metric, bucket, count in rows:
        everything.append((metric, bucket, int(count)))
        grouped.setdefault(key, []).append((metric, bucket, int(count)))
    groups = []
    if group:
        for key in sorted(grouped, key=lambda k: (k is None, k if k is not None else 0)):
            shown = key.isoformat() if isinstance(key, date) else key
            groups.append({"key": None if shown is None else str(shown), **_figures(grouped[key])})
    return {"totals": _figures(everything), "groups": groups}
