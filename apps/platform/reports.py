"""Support-desk reports in the console.

- One tenant (`tenant_report`): its desk computed in SQL over its schema (one schema,
  the one asked for) and its platform tickets over the public schema.
- Every tenant (`platform_report`): never a tenant schema (a request must not grow with
  the number of tenants). The tenants' desks come from the public rollups kept in the
  ticket writes' transactions (`apps.records.desk`: whole UTC days, percentiles from
  histograms); the platform's own desk (every platform-support ticket) is exact SQL over
  the public schema.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django_tenants.utils import schema_context

from apps.accounts.actors import Actor
from apps.chat import reports
from apps.chat.locate import PUBLIC
from apps.platform.services import require_console, tenant_get
from apps.records import desk
from apps.tenancy.models import Tenant

TENANT_GROUPS = reports.GROUPS
PLATFORM_GROUPS = ("day", "category", "priority", "tenant")


def _day_on_or_after(at: datetime) -> date:
    """The first UTC day starting at or after `at`: [from, to) in whole days."""
    utc = at.astimezone(UTC)
    day = utc.date()
    return day if utc == datetime.combine(day, time(), tzinfo=UTC) else day + timedelta(1)


def tenant_report(
    *, actor: Actor, slug: str, start: datetime, end: datetime, group: str | None
) -> dict[str, Any]:
    require_console(actor)
    tenant = tenant_get(slug)
    with schema_context(tenant.schema_name):
        own = reports.ticket_report(start=start, end=end, group=group)
    platform_group = None if group == "assignee" else group
    with schema_context(PUBLIC):
        platform = reports.ticket_report(
            start=start, end=end, group=platform_group, scope=reports.Scope(tenant_id=tenant.pk)
        )
    return {"tenant": tenant.schema_name, "desk": own, "platformTickets": platform}


def platform_report(
    *, actor: Actor, start: datetime, end: datetime, group: str | None
) -> dict[str, Any]:
    require_console(actor)
    with schema_context(PUBLIC):
        tenants = desk.report(start=_day_on_or_after(start), end=_day_on_or_after(end), group=group)
        platform = reports.ticket_report(start=start, end=end, group=group)
        if group == "tenant":
            slugs = dict(Tenant.objects.values_list("pk", "schema_name"))
            for part in (tenants, platform):
                for row in part["groups"]:
                    row["key"] = slugs.get(int(row["key"]), row["key"])
    return {"tenants": tenants, "platformTickets": platform}
