"""Rebuilding the tenant counters (`apps.records.counters`) from the tenant schemas.

Tenants are recounted a batch at a time (`apps.tenancy.schemas`: as many schemas as the
lock budget allows), each batch in its own short transaction that first takes SHARE locks
on the counted tables of its schemas: writes to those tenants wait the few milliseconds
the batch takes, so no write falls between the reading and the rewriting of its
counters. A tenant's counters become one row (slot 0) with its counts. The platform totals
follow those rows by themselves (a trigger); at the end the rows of tenants that no longer
exist are dropped and the totals rebuilt from the rest (`counters.platform_rebuild`), which
repairs any drift; so is the tally of tenants by status (`counters.tenant_tally_rebuild`).

Messages are counted as the sum of the channels' `last_seq`: every message takes the next
sequence number of its channel and none is ever deleted (removal only marks it), so the
sum is the count without reading the messages table.

The support-desk rollups (`apps.records.desk`) are rebuilt in the same batch from the
tickets as they are now (one row per day, category, priority, metric and bucket): what
tickets held before the rollups existed is counted, and a resolution undone by a reopen
is no longer counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from django.conf import settings
from django.db import connection, transaction
from psycopg import sql

from apps.chat.models import OPEN_TICKET_STATUSES, Channel, ChannelStatus, SupportTicket
from apps.records import counters, desk
from apps.records.models import DeskRollup, TenantCount
from apps.tenancy import schemas
from apps.tenancy.models import Tenant

TABLES = (Channel._meta.db_table, SupportTicket._meta.db_table)
_PART = (
    "SELECT {name}, count(*), count(*) FILTER (WHERE c.status = %(active)s), "
    "count(*) FILTER (WHERE c.status = %(escalated)s), "
    "(SELECT count(*) FROM {schema}." + SupportTicket._meta.db_table + " t "
    "WHERE t.status = ANY(%(open)s)), "
    "coalesce(sum(c.last_seq), 0) FROM {schema}." + Channel._meta.db_table + " c"
)
_PARAMS = {
    "active": ChannelStatus.ACTIVE,
    "escalated": ChannelStatus.ESCALATED,
    "open": list(OPEN_TICKET_STATUSES),
}


def counted(schema_names: Sequence[str]) -> dict[str, counters.Counts]:
    """Counts read from the schemas (schemas without chat tables are left out), in
    batches within the lock budget."""
    rows = schemas.rows_per_schema(
        schema_names, Channel._meta.db_table, _PART, _PARAMS, tables=TABLES
    )
    return {
        name: counters.Counts(
            channels=channels,
            active_channels=active,
            escalated_channels=escalated,
            open_tickets=tickets,
            messages=int(messages),
        )
        for name, channels, active, escalated, tickets, messages in rows
    }


_DAY = "(({}) AT TIME ZONE 'UTC')::date"
_BUCKET = (
    "floor(4 * ln(greatest(date_part('epoch', {later}) - date_part('epoch', {earlier}), 0)"
    " + 1) / ln(2))::int"
)
_DESK_SQL = f"""
INSERT INTO {desk.TABLE} (tenant_id, day, category, priority, metric, bucket, count)
SELECT %(tenant)s, day, category, priority, metric, bucket, count(*) FROM (
    SELECT {_DAY.format("t.created_at")} AS day, t.category, t.priority,
           '{desk.OPENED}' AS metric, 0 AS bucket
    FROM {{schema}}.chat_supportticket t
    UNION ALL
    SELECT {_DAY.format("t.created_at")}, t.category, t.priority, '{desk.FIRST_RESPONSE}',
           {_BUCKET.format(later="t.first_response_at", earlier="t.created_at")}
    FROM {{schema}}.chat_supportticket t WHERE t.first_response_at IS NOT NULL
    UNION ALL
    SELECT {_DAY.format("t.resolved_at")}, t.category, t.priority, '{desk.RESOLVED}', 0
    FROM {{schema}}.chat_supportticket t WHERE t.resolved_at IS NOT NULL
    UNION ALL
    SELECT {_DAY.format("t.resolved_at")}, t.category, t.priority, '{desk.RESOLUTION}',
           {_BUCKET.format(later="t.resolved_at", earlier="t.created_at")}
    FROM {{schema}}.chat_supportticket t WHERE t.resolved_at IS NOT NULL
    UNION ALL
    SELECT {_DAY.format("c.escalated_at")}, t.category, t.priority, '{desk.ESCALATED}', 0
    FROM {{schema}}.chat_channel c JOIN {{schema}}.chat_supportticket t ON t.channel_id = c.id
    WHERE c.escalated_at IS NOT NULL
    UNION ALL
    SELECT {_DAY.format("t.rated_at")}, t.category, t.priority, '{desk.RATING}', t.rating
    FROM {{schema}}.chat_supportticket t WHERE t.rated_at IS NOT NULL
    UNION ALL
    SELECT {_DAY.format("t.created_at")}, t.category, t.priority, '{desk.BREACHED}', 0
    FROM {{schema}}.chat_supportticket t WHERE t.sla_breached
) e
GROUP BY day, category, priority, metric, bucket
"""


def _rebuild_desk(tenants: Sequence[Tenant], present: Sequence[str]) -> None:
    DeskRollup.objects.filter(tenant_id__in=[t.pk for t in tenants]).delete()
    with connection.cursor() as cursor:
        for tenant in tenants:
            if tenant.schema_name in present:
                query = sql.SQL(_DESK_SQL).format(schema=sql.Identifier(tenant.schema_name))
                cursor.execute(query.as_string(), {"tenant": tenant.pk})


def _lock(schema_names: Sequence[str]) -> None:
    """SHARE locks: writers of these tables wait until the batch commits."""
    if not schema_names:
        return
    names = sql.SQL(", ").join(
        sql.Identifier(schema, table) for schema in schema_names for table in TABLES
    )
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(names).as_string())


def recount_batch(tenants: Sequence[Tenant]) -> None:
    with transaction.atomic():
        present = schemas.with_table([t.schema_name for t in tenants], Channel._meta.db_table)
        _lock(present)
        found = counted(present)
        ids = [t.pk for t in tenants]
        TenantCount.objects.filter(tenant_id__in=ids).delete()
        TenantCount.objects.bulk_create(
            TenantCount(tenant_id=t.pk, slot=0, **asdict(found[t.schema_name]))
            for t in tenants
            if found.get(t.schema_name)
        )
        _rebuild_desk(tenants, present)


def batch_size() -> int:
    """Tenants per batch: their tables' and indexes' read locks and the SHARE locks."""
    return schemas.batch_size(TABLES, extra_per_schema=len(TABLES))


def recount() -> int:
    """Every tenant's counters, rebuilt; returns how many tenants were recounted."""
    tenants = list(
        Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME).order_by("schema_name")
    )
    size = batch_size()
    for batch in schemas.batches(tenants, size):
        recount_batch(batch)
    # Rows of a tenant deleted without its cascade (the table has no foreign key).
    TenantCount.objects.exclude(tenant_id__in=Tenant.objects.values("pk")).delete()
    counters.platform_rebuild()
    counters.tenant_tally_rebuild()
    return len(tenants)
