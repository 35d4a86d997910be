"""The console's reads. None reads a tenant schema: what the tenants' schemas hold
(channels, tickets, messages) comes from the counters in the public schema
(`apps.records.counters`), so the figures cost the same at any number of tenants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from apps.accounts.actors import Actor
from apps.accounts.models import Membership, User
from apps.accounts.selectors import actor_for
from apps.chat.models import (
    OPEN_TICKET_STATUSES,
    Channel,
    ChannelType,
    Participant,
    SupportTicket,
    TicketPriority,
)
from apps.core.db import public_table
from apps.core.exceptions import NotFound
from apps.records import counters
from apps.records.models import AuditEntry, Escalation, EscalationState
from apps.tenancy.models import Tenant, TenantStatus


def _counts_output(counts: counters.Counts) -> dict[str, int]:
    return {
        "channels": counts.channels,
        "activeChannels": counts.active_channels,
        "escalatedChannels": counts.escalated_channels,
        "openTickets": counts.open_tickets,
        "messages": counts.messages,
    }


def _platform_tickets() -> QuerySet[Channel]:
    return Channel.objects.filter(type=ChannelType.PLATFORM_SUPPORT)


def _tenants() -> QuerySet[Tenant]:
    return Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)


def _with_counts(tenants: list[Tenant]) -> list[Tenant]:
    ids = [t.pk for t in tenants]
    members = dict(
        Membership.objects.filter(tenant_id__in=ids)
        .values("tenant_id")
        .annotate(n=Count("id"))
        .values_list("tenant_id", "n")
    )
    platform = dict(
        _platform_tickets()
        .filter(tenant_id__in=ids, ticket__status__in=OPEN_TICKET_STATUSES)
        .values("tenant_id")
        .annotate(n=Count("id"))
        .values_list("tenant_id", "n")
    )
    counts = counters.per_tenant(ids)
    for tenant in tenants:
        tenant.counts = {
            "members": members.get(tenant.pk, 0),
            **_counts_output(counts.get(tenant.pk, counters.ZERO)),
            "openPlatformTickets": platform.get(tenant.pk, 0),
        }
    return tenants


@dataclass
class TenantPage:
    tenants: list[Tenant]
    next: str | None


def tenant_page(
    *, status: str | None = None, search: str | None = None, after: str | None = None, limit: int
) -> TenantPage:
    """Tenants by slug, `limit` at a time; `next` is the cursor for the following page."""
    tenants = _tenants().order_by("schema_name")
    if status:
        tenants = tenants.filter(status=status)
    if search:
        tenants = tenants.filter(Q(schema_name__icontains=search) | Q(name__icontains=search))
    if after:
        tenants = tenants.filter(schema_name__gt=after)
    rows = list(tenants[: limit + 1])
    page = _with_counts(rows[:limit])
    return TenantPage(tenants=page, next=page[-1].schema_name if len(rows) > limit else None)


def tenant_detail(tenant: Tenant) -> Tenant:
    return _with_counts([tenant])[0]


FIGURES_CACHE_KEY = "console.figures"


def platform_figures() -> dict[str, Any]:
    """The console's figures, shared by every request for FIGURES_CACHE_SECONDS: consoles
    poll, and each process's requests, and the processes sharing the cache, compute them
    once per interval (0: every request). Computing them reads the platform totals
    (`counters.total`), the same few rows at any number of tenants."""
    seconds = settings.FIGURES_CACHE_SECONDS
    if seconds <= 0:
        return platform_figures_now()
    figures = cache.get_or_set(FIGURES_CACHE_KEY, platform_figures_now, seconds)
    return figures if figures is not None else platform_figures_now()


def _figures_sql() -> str:
    channel, ticket = Channel._meta.db_table, SupportTicket._meta.db_table
    return f"""
    WITH totals AS ({counters.TOTAL_SQL})
    SELECT
        ({counters.TALLY_SQL}),
        totals.*,
        (SELECT json_object_agg(priority, n) FROM (
            SELECT t.priority, count(*) AS n
            FROM {public_table(channel)} c JOIN {public_table(ticket)} t ON t.channel_id = c.id
            WHERE c.type = %(platform)s AND t.status = ANY(%(open)s) GROUP BY t.priority) p),
        (SELECT count(*) FROM {public_table(Escalation._meta.db_table)}
         WHERE state = %(escalation_open)s)
    FROM totals
    """


def platform_figures_now() -> dict[str, Any]:
    """The figures in one statement over public tables: the tenants by status (the
    tally), the 64 platform totals (`counters.total`), the open platform tickets by
    priority and the escalations waiting; one round trip and no ORM, so ten consoles at
    once do not queue behind each other's Python."""
    with connection.cursor() as cursor:
        cursor.execute(
            _figures_sql(),
            {
                "platform": str(ChannelType.PLATFORM_SUPPORT),
                "open": [str(status) for status in OPEN_TICKET_STATUSES],
                "escalation_open": str(EscalationState.OPEN),
            },
        )
        by_status, *sums, open_platform, waiting = cursor.fetchone()
    by_status, open_platform = by_status or {}, open_platform or {}
    totals = counters.Counts(*(int(n) for n in sums))
    by_priority = {p: open_platform.get(p, 0) for p in TicketPriority.values}
    return {
        "tenants": {
            "total": sum(by_status.values()),
            "active": by_status.get(TenantStatus.ACTIVE, 0),
            "suspended": by_status.get(TenantStatus.SUSPENDED, 0),
        },
        "channels": totals.channels,
        "activeChannels": totals.active_channels,
        "escalatedChannels": totals.escalated_channels,
        "openTenantTickets": totals.open_tickets,
        "messages": totals.messages,
        "openPlatformTickets": {"total": sum(by_priority.values()), "byPriority": by_priority},
        "escalationsWaiting": waiting,
    }


_PRIORITY_RANK = Case(
    *(When(ticket__priority=p, then=Value(rank)) for rank, p in enumerate(TicketPriority.values)),
    output_field=IntegerField(),
)


@dataclass
class Page:
    items: list[Any]
    total: int


def ticket_queue(
    *,
    user_id: int,
    status: str | None = None,
    priority: str | None = None,
    category: str | None = None,
    tenant: str | None = None,
    assignee: int | None = None,
    unassigned: bool = False,
    limit: int,
    offset: int = 0,
) -> Page:
    """Platform-support tickets, most urgent first, then longest waiting. Without a status
    filter: the open ones (OPEN, IN_PROGRESS, WAITING_ON_USER)."""
    tickets = _platform_tickets().select_related(
        "ticket", "tenant", "assigned_to", "last_message", "last_message__sender"
    )
    tickets = (
        tickets.filter(ticket__status=status)
        if status
        else tickets.filter(ticket__status__in=OPEN_TICKET_STATUSES)
    )
    if priority:
        tickets = tickets.filter(ticket__priority=priority)
    if category:
        tickets = tickets.filter(ticket__category=category)
    if tenant:
        tickets = tickets.filter(tenant__schema_name=tenant)
    if assignee:
        tickets = tickets.filter(assigned_to_id=assignee)
    if unassigned:
        tickets = tickets.filter(assigned_to__isnull=True)
    total = tickets.count()
    rows = list(
        tickets.annotate(rank=_PRIORITY_RANK).order_by("-rank", "created_at", "id")[
            offset : offset + limit
        ]
    )
    reads = dict(
        Participant.objects.filter(
            user_id=user_id, channel_id__in=[c.pk for c in rows]
        ).values_list("channel_id", "last_read_public_seq")
    )
    for channel in rows:
        channel.unread_count = channel.last_public_seq - reads.get(channel.pk, 0)
        channel.my_role = None
    return Page(items=rows, total=total)


@dataclass
class AuditPage:
    items: list[AuditEntry]
    has_more: bool


def escalation_list(
    *, state: str | None = None, tenant: str | None = None, limit: int, offset: int = 0
) -> Page:
    """The public escalation index, newest first; by default the OPEN ones."""
    rows = Escalation.objects.select_related("tenant", "escalated_by").filter(
        state=state or EscalationState.OPEN
    )
    if tenant:
        rows = rows.filter(tenant__schema_name=tenant)
    total = rows.count()
    return Page(
        items=list(rows.order_by("-escalated_at", "-id")[offset : offset + limit]), total=total
    )


@dataclass
class ConsoleEscalation:
    escalation: Escalation
    actor: Actor  # the super admin, acting on the escalation's tenant


def escalation_for(*, actor: Actor, escalation_id: int) -> ConsoleEscalation:
    """An escalation, and the console's super admin as an actor of its tenant (through
    which the console reads and works the tenant's channel)."""
    escalation = (
        Escalation.objects.select_related("tenant", "escalated_by").filter(pk=escalation_id).first()
    )
    if escalation is None:
        raise NotFound("Escalation not found.")
    on_tenant = actor_for(user=actor.user, tenant=escalation.tenant)
    assert on_tenant is not None  # a super admin has an actor on every host
    return ConsoleEscalation(escalation=escalation, actor=on_tenant)


def audit_page(
    *,
    tenant: str | None = None,
    action: str | None = None,
    actor: int | None = None,
    before: int | None = None,
    limit: int,
) -> AuditPage:
    """Audit entries, newest first; `before=<id>` pages back."""
    rows = AuditEntry.objects.all()
    if tenant:
        rows = rows.filter(tenant_slug=tenant)
    if action:
        rows = rows.filter(action=action)
    if actor:
        rows = rows.filter(actor_id=actor)
    if before:
        rows = rows.filter(id__lt=before)
    items = list(rows.order_by("-id")[: limit + 1])
    return AuditPage(items=items[:limit], has_more=len(items) > limit)


def super_admin_list() -> QuerySet[User]:
    """Every super admin, active first, then by email."""
    return User.objects.filter(is_super_admin=True).order_by("-is_active", "email")
