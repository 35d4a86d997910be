"""Tenant counts kept in the public schema (`TenantCount`), read without entering any
tenant schema, and their platform totals (`PlatformCount`).

Writers add deltas in their own transaction. Every delta about a channel goes to the
channel's slot (`slot_of`), one of `SLOTS` rows per tenant, created on first use: two
channels of one tenant share a row only one time in `SLOTS`, so a message in one channel
does not wait for another channel's transaction to commit. Sending a message adds its
count inside the message's own statement (`message_cte`, in `apps.chat.services.timeline`).

The platform totals follow the tenant rows through a database trigger (migration
`records.0005`), whoever writes them: `PLATFORM_SLOTS` rows, so `total()` reads the same
64 rows at any number of tenants. A tenant's slot row adds to platform row
`(tenant * SLOTS + slot) % PLATFORM_SLOTS`: a tenant's slots land on different platform
rows, and two tenants' messages rarely wait on the same one. `platform_rebuild` (run by
`manage.py recount`) repairs them from the tenant rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum

from apps.records.models import PlatformCount, TenantCount, TenantTally
from apps.tenancy.models import Tenant

SLOTS = 8
PLATFORM_SLOTS = 64  # the trigger of migration records.0005 uses these two numbers
TABLE = f"{settings.PUBLIC_SCHEMA_NAME}.{TenantCount._meta.db_table}"
PLATFORM_TABLE = f"{settings.PUBLIC_SCHEMA_NAME}.{PlatformCount._meta.db_table}"
TALLY_TABLE = f"{settings.PUBLIC_SCHEMA_NAME}.{TenantTally._meta.db_table}"


@dataclass(frozen=True)
class Counts:
    channels: int = 0
    active_channels: int = 0
    escalated_channels: int = 0
    open_tickets: int = 0
    messages: int = 0

    def __sub__(self, other: Counts) -> Counts:
        return Counts(**{f: getattr(self, f) - getattr(other, f) for f in FIELDS})

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f: getattr(self, f) + getattr(other, f) for f in FIELDS})

    def __bool__(self) -> bool:
        return any(asdict(self).values())


FIELDS = tuple(f.name for f in fields(Counts))
ZERO = Counts()

_ADD_SQL = (
    f"INSERT INTO {TABLE} AS c (tenant_id, slot, {', '.join(FIELDS)}) "
    f"VALUES (%s, %s, {', '.join(['%s'] * len(FIELDS))}) "
    "ON CONFLICT (tenant_id, slot) DO UPDATE SET "
    + ", ".join(f"{f} = c.{f} + EXCLUDED.{f}" for f in FIELDS)
)


def message_cte(when: str = "TRUE") -> str:
    """One more part of a message's WITH statement: the tenant's message count, in the
    channel's slot, when the SQL condition `when` holds (a statement that may add no
    message counts only one it added). Platform tickets (public schema) pass a NULL
    tenant and count nothing."""
    return f"""
counted AS (
    INSERT INTO {TABLE} AS c (tenant_id, slot, {", ".join(FIELDS)})
    SELECT %(count_tenant)s::integer, %(count_slot)s, 0, 0, 0, 0, 1
    WHERE %(count_tenant)s::integer IS NOT NULL AND ({when})
    ON CONFLICT (tenant_id, slot) DO UPDATE SET messages = c.messages + 1
)"""


def slot_of(channel_id: UUID | str) -> int:
    return UUID(str(channel_id)).int % SLOTS


def add(tenant_id: int, channel_id: UUID | str, delta: Counts) -> None:
    """Adds `delta` to the tenant's counts, in the caller's transaction."""
    if not delta:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _ADD_SQL, [tenant_id, slot_of(channel_id), *(getattr(delta, f) for f in FIELDS)]
        )


def _counts(row: dict[str, int | None]) -> Counts:
    return Counts(**{f: int(row.get(f) or 0) for f in FIELDS})


def per_tenant(tenant_ids: Iterable[int]) -> dict[int, Counts]:
    """Each given tenant's counts (tenants without any are left out)."""
    rows = (
        TenantCount.objects.filter(tenant_id__in=list(tenant_ids))
        .values("tenant_id")
        .annotate(**{f: Sum(f) for f in FIELDS})
    )
    return {row["tenant_id"]: _counts(row) for row in rows}


# What `total` and `tenant_tally` read, for the console's figures to read in one statement.
TOTAL_SQL = (
    f"SELECT {', '.join(f'coalesce(sum({f}), 0) AS {f}' for f in FIELDS)} FROM {PLATFORM_TABLE}"
)
TALLY_SQL = f"SELECT json_object_agg(status, tenants) FROM {TALLY_TABLE} WHERE tenants > 0"


def total() -> Counts:
    """Every tenant's counts added up: the platform rows, as many at any number of
    tenants."""
    with connection.cursor() as cursor:
        cursor.execute(TOTAL_SQL)
        return Counts(*(int(n) for n in cursor.fetchone()))


_PLATFORM_REBUILD_SQL = (
    f"INSERT INTO {PLATFORM_TABLE} AS p (slot, {', '.join(FIELDS)}) "
    f"SELECT s.slot, {', '.join(f'coalesce(sum(c.{f}), 0)' for f in FIELDS)} "
    f"FROM generate_series(0, {PLATFORM_SLOTS - 1}) s (slot) "
    f"LEFT JOIN {TABLE} c ON s.slot = 0 GROUP BY s.slot "
    "ON CONFLICT (slot) DO UPDATE SET " + ", ".join(f"{f} = EXCLUDED.{f}" for f in FIELDS)
)


def platform_rebuild() -> None:
    """Sets the platform totals to the sum of the tenant rows (all in one row, the others
    zero), whatever they had drifted to. The tenant rows are SHARE-locked meanwhile: their
    writers, and so the trigger, wait the few milliseconds it takes."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {TABLE} IN SHARE MODE")
        cursor.execute(f"DELETE FROM {PLATFORM_TABLE} WHERE slot >= %s", [PLATFORM_SLOTS])
        cursor.execute(_PLATFORM_REBUILD_SQL)


def tenant_tally() -> dict[str, int]:
    """How many tenants there are in each status (statuses with none left out)."""
    with connection.cursor() as cursor:
        cursor.execute(TALLY_SQL)
        return cursor.fetchone()[0] or {}


def tenant_tally_rebuild() -> None:
    """Sets the tally to a count of the tenants table (the public tenant left out),
    whatever it had drifted to; the tenants table is SHARE-locked meanwhile."""
    tenants = f"{settings.PUBLIC_SCHEMA_NAME}.{Tenant._meta.db_table}"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {tenants} IN SHARE MODE")
        cursor.execute(f"DELETE FROM {TALLY_TABLE}")
        cursor.execute(
            f"INSERT INTO {TALLY_TABLE} (status, tenants) SELECT status, count(*) "
            f"FROM {tenants} WHERE schema_name <> %s GROUP BY status",
            [settings.PUBLIC_SCHEMA_NAME],
        )
