"""Support-desk reports, computed in SQL over one schema's tickets.

Every figure counts an event in the half-open range [from, to) by the time it happened:

- `opened`: tickets created in the range; `firstResponse` times (median, p90, seconds:
  the first staff reply minus the opening) and the `slaBreachRate` are over those;
- `resolved`: tickets whose current resolution (`resolved_at`) falls in the range, with
  their `resolution` times (resolution minus opening); a ticket reopened since counts
  again when it is resolved again;
- `escalated`: tickets escalated in the range (the latest escalation of each);
- `csat`: ratings given in the range (average and count).

`groupBy=day` puts each event on the UTC day it happened; `category`, `priority` and
`assignee` group by the ticket's current value. A tenant's report reads its SUPPORT
tickets (its schema); the platform's desk reads the PLATFORM_SUPPORT tickets (public
schema), optionally for one tenant. One statement: each event kind is selected through
its own index on the range, then grouped once (with the totals as a grouping set).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction

from apps.chat.models import SupportTicket

GROUPS = ("day", "category", "priority", "assignee")
PLATFORM_GROUPS = (*GROUPS, "tenant")

# The SLA breach flag, once tickets carry one (`sla_breached`); until then the breach
# rate is null.
_FIELDS = {f.name for f in SupportTicket._meta.get_fields()}
BREACH_COLUMN: str | None = "sla_breached" if "sla_breached" in _FIELDS else None

_KEYS = {
    "category": "t.category",
    "priority": "t.priority",
    "assignee": "c.assigned_to_id::text",
    "tenant": "c.tenant_id::text",
}


@dataclass(frozen=True)
class Scope:
    """Which tickets: those of the connection's current schema (a tenant's SUPPORT
    tickets, or in the public schema the PLATFORM_SUPPORT ones), there optionally one
    tenant's. Chat tables hold nothing else in either, so no filter on the type."""

    tenant_id: int | None = None


def _seconds_between(later: str, earlier: str) -> str:
    # date_part is float8; EXTRACT would be numeric, several times slower to sort.
    return f"date_part('epoch', {later}) - date_part('epoch', {earlier})"


def _sql(group: str | None, scope: Scope) -> str:
    """One statement: each kind of event read through its own index on the range, with
    only the joins its key or scope needs, then grouped once (totals as a grouping set)."""
    channel_needed = scope.tenant_id is not None or group in ("assignee", "tenant")
    ticket_needed = group in ("category", "priority")
    tenant = " AND c.tenant_id = %(tenant)s" if scope.tenant_id is not None else ""

    def key(stamp: str) -> str:
        if group is None:
            return "NULL::text"
        if group == "day":
            # The UTC day as a date: sorting dates is cheap, formatting every row is not.
            return f"(({stamp}) AT TIME ZONE 'UTC')::date"
        # Byte order: a collation-aware sort of every event costs more than the rest.
        return f'({_KEYS[group]}) COLLATE "C"'

    def tickets(stamp: str) -> str:
        joined = " JOIN chat_channel c ON c.id = t.channel_id" if channel_needed else ""
        return (
            f"FROM chat_supportticket t{joined} "
            f"WHERE {stamp} >= %(from)s AND {stamp} < %(to)s{tenant}"
        )

    def channels(stamp: str) -> str:
        joined = " JOIN chat_supportticket t ON t.channel_id = c.id" if ticket_needed else ""
        return f"FROM chat_channel c{joined} WHERE {stamp} >= %(from)s AND {stamp} < %(to)s{tenant}"

    breached = f"t.{BREACH_COLUMN}::int" if BREACH_COLUMN else "NULL::int"
    return f"""
WITH events AS (
    SELECT {key("t.created_at")} AS k, 1 AS opened, 0 AS resolved, 0 AS escalated,
           {_seconds_between("t.first_response_at", "t.created_at")} AS first_response,
           NULL::float8 AS resolution, {breached} AS breached, NULL::int AS rating
    {tickets("t.created_at")}
    UNION ALL
    SELECT {key("t.resolved_at")}, 0, 1, 0, NULL,
           {_seconds_between("t.resolved_at", "t.created_at")}, NULL, NULL
    {tickets("t.resolved_at")}
    UNION ALL
    SELECT {key("c.escalated_at")}, 0, 0, 1, NULL, NULL, NULL, NULL
    {channels("c.escalated_at")}
    UNION ALL
    SELECT {key("t.rated_at")}, 0, 0, 0, NULL, NULL, NULL, t.rating
    {tickets("t.rated_at")}
)
SELECT {"GROUPING(k)" if group else "1"} AS total, {"k" if group else "NULL"},
       sum(opened), sum(resolved), sum(escalated),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY first_response),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY first_response),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY resolution),
       avg(breached::float8), avg(rating::float8), count(rating)
FROM events
{"GROUP BY GROUPING SETS ((k), ()) ORDER BY GROUPING(k), k" if group else ""}
"""


def _sql_one_pass(group: str | None, scope: Scope) -> str:
    """Grouped by a ticket's own value (or not at all): one pass over the tickets any of
    whose events falls in the range, each figure filtered to its own event."""
    tenant = " AND c.tenant_id = %(tenant)s" if scope.tenant_id is not None else ""
    key = "NULL::text" if group is None else f'({_KEYS[group]}) COLLATE "C"'

    def within(stamp: str) -> str:
        return f"({stamp} >= %(from)s AND {stamp} < %(to)s)"

    breached = f"t.{BREACH_COLUMN}::int" if BREACH_COLUMN else "NULL::int"
    grouped = "GROUP BY GROUPING SETS ((k), ()) ORDER BY GROUPING(k), k" if group else ""
    return f"""
WITH picked AS (
    SELECT {key} AS k,
           {within("t.created_at")} AS o, {within("t.resolved_at")} AS r,
           {within("c.escalated_at")} AS e, {within("t.rated_at")} AS q,
           {_seconds_between("t.first_response_at", "t.created_at")} AS first_response,
           {_seconds_between("t.resolved_at", "t.created_at")} AS resolution,
           {breached} AS breached, t.rating
    FROM chat_supportticket t JOIN chat_channel c ON c.id = t.channel_id
    WHERE ({within("t.created_at")} OR {within("t.resolved_at")} OR {within("c.escalated_at")}
           OR {within("t.rated_at")}){tenant}
)
SELECT {"GROUPING(k)" if group else "1"}, {"k" if group else "NULL"},
       count(*) FILTER (WHERE o), count(*) FILTER (WHERE r), count(*) FILTER (WHERE e),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY first_response) FILTER (WHERE o),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY first_response) FILTER (WHERE o),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY resolution) FILTER (WHERE r),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY resolution) FILTER (WHERE r),
       avg(breached::float8) FILTER (WHERE o), avg(rating::float8) FILTER (WHERE q),
       count(rating) FILTER (WHERE q)
FROM picked
{grouped}
"""


# Sorting a year of events for the percentiles stays in memory (the default 4 MB spills).
_WORK_MEM = "SET LOCAL work_mem = '64MB'"


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def _figures(row: tuple[Any, ...]) -> dict[str, Any]:
    (opened, resolved, escalated, fr50, fr90, rs50, rs90, breach, csat, csat_count) = row
    return {
        "opened": int(opened or 0),
        "resolved": int(resolved or 0),
        "escalated": int(escalated or 0),
        "firstResponseSeconds": {"median": _seconds(fr50), "p90": _seconds(fr90)},
        "resolutionSeconds": {"median": _seconds(rs50), "p90": _seconds(rs90)},
        "slaBreachRate": None if breach is None else round(float(breach), 4),
        "csat": {
            "average": None if csat is None else round(float(csat), 3),
            "count": int(csat_count or 0),
        },
    }


EMPTY = _figures((0, 0, 0, None, None, None, None, None, None, 0))


def ticket_report(
    *, start: datetime, end: datetime, group: str | None, scope: Scope = Scope()
) -> dict[str, Any]:
    """Figures for [start, end) over the tickets of `scope` in the connection's schema:
    `{"totals": {...}, "groups": [{"key", ...figures}]}`."""
    params = {"from": start, "to": end, "tenant": scope.tenant_id}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_WORK_MEM)
        # Each event kind through its own index when the key depends on the event (day) or
        # there is no key; one pass over the tickets when grouping by a ticket's value.
        sql = _sql if group in (None, "day") else _sql_one_pass
        cursor.execute(sql(group, scope), params)
        rows = cursor.fetchall()
    totals = dict(EMPTY)
    groups = []
    for total, key, *figures in rows:
        if total:
            totals = _figures(tuple(figures))
        elif group is not None:
            shown = key.isoformat() if isinstance(key, date) else key
            groups.append({"key": shown, **_figures(tuple(figures))})
    return {"totals": totals, "groups": groups}
