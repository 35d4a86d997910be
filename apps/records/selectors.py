"""Reads of the public records a tenant's own admins may see."""

from __future__ import annotations

from dataclasses import dataclass

from apps.records.models import AuditEntry
from apps.tenancy.models import Tenant


@dataclass
class AuditPage:
    entries: list[AuditEntry]
    has_more: bool


def tenant_audit_page(
    *, tenant: Tenant, action: str | None = None, before: int | None = None, limit: int
) -> AuditPage:
    """The tenant's audit entries, newest first; `before=<id>` pages back. Entries of a
    deleted tenant that had the same slug are not its own (they name no tenant)."""
    rows = AuditEntry.objects.filter(tenant=tenant)
    if action:
        rows = rows.filter(action=action)
    if before:
        rows = rows.filter(id__lt=before)
    found = list(rows.order_by("-id")[: limit + 1])
    return AuditPage(entries=found[:limit], has_more=len(found) > limit)
