"""SLA targets on tickets: due times, pausing, breaches and the sweep that finds them.

Each ticket of an organisation with a policy for its priority gets due times when it
opens: first response and resolution, counted around the clock or in the organisation's
business hours (`apps.chat.sla.Clock`). The clock runs while the ticket is OPEN or
IN_PROGRESS and stands still while WAITING_ON_USER or RESOLVED: leaving those moves the
due times of the targets not yet met by the counted time that passed. The ticket stores
its due times and breaches (the lists show them without computing anything), and the
public `SlaDeadline` index holds, for each ticket whose clock runs, the next due time of a
target neither met nor missed, changed in the same transaction as the ticket.

`sweep` reads only that index: it claims due rows with `FOR UPDATE SKIP LOCKED`, one at a
time, enters the ticket's schema, marks the missed targets, moves or removes the row and
commits. Two sweeps at once never claim the same row, and a row is no longer due once its
sweep commits, so each breach is handled once, even after downtime (the rows stay due
until some sweep runs)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.accounts.models import Membership, MembershipStatus, Role
from apps.chat import events, policy
from apps.chat.locate import PUBLIC, Located
from apps.chat.models import (
    Channel,
    ChannelStatus,
    ChannelType,
    SlaPolicy,
    SupportTicket,
    TicketPriority,
    TicketStatus,
)
from apps.chat.payloads import channel_payload
from apps.chat.services.counting import desk_event
from apps.chat.services.timeline import _system
from apps.chat.sla import Clock, Window, hours_payload, parse_hours, zone
from apps.core.db import on_schema
from apps.core.exceptions import InvalidInput
from apps.records import audit, desk
from apps.records.models import SlaDeadline
from apps.tenancy.models import Tenant, TenantStatus

logger = logging.getLogger(__name__)

RUNNING = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS)
PAUSED = (TicketStatus.WAITING_ON_USER, TicketStatus.RESOLVED)
MAX_MINUTES = 365 * 24 * 60
FIRST_RESPONSE = "first response"
RESOLUTION = "resolution"

_FIELDS = [
    "sla_first_response_due_at",
    "sla_resolution_due_at",
    "sla_first_response_breached_at",
    "sla_resolution_breached_at",
    "sla_breached",
    "sla_due_at",
    "sla_paused_at",
    "sla_paused_seconds",
]

_UPSERT_SQL = (
    f"INSERT INTO {PUBLIC}.{SlaDeadline._meta.db_table} AS d "
    "(tenant_id, channel_id, platform, due_at, attempts) VALUES (%s, %s, %s, %s, 0) "
    "ON CONFLICT (channel_id) DO UPDATE SET due_at = EXCLUDED.due_at, attempts = 0"
)
_DELETE_SQL = f"DELETE FROM {PUBLIC}.{SlaDeadline._meta.db_table} WHERE channel_id = %s"


@dataclass
class Place:
    """Where a ticket belongs: its organisation (a platform ticket's is the tenant that
    opened it) and whether it is a platform ticket, whose calendar is the platform's."""

    tenant_id: int
    platform: bool
    calendar: Tenant | None = field(default=None, repr=False)

    @classmethod
    def of(cls, actor: Actor, channel: Channel) -> Place:
        if channel.type == ChannelType.PLATFORM_SUPPORT:
            assert channel.tenant_id is not None
            return cls(tenant_id=channel.tenant_id, platform=True)
        return cls(tenant_id=actor.tenant.pk, platform=False, calendar=actor.tenant)

    def calendar_tenant(self) -> Tenant:
        if self.calendar is None:
            if self.platform:
                self.calendar = Tenant.objects.get(schema_name=PUBLIC)
            else:
                self.calendar = Tenant.objects.get(pk=self.tenant_id)
        return self.calendar


def _policy(priority: str) -> SlaPolicy | None:
    """The policy for a priority, in the current schema (the ticket's)."""
    return SlaPolicy.objects.filter(priority=priority).first()


def _clock(place: Place, sla_policy: SlaPolicy | None) -> Clock:
    calendar = place.calendar_tenant()
    try:
        tz = zone(calendar.time_zone)
        windows = parse_hours(calendar.business_hours or [])
    except ValueError:  # stored by the services, which validate; never fail a ticket on it
        logger.warning("Unreadable SLA calendar of %s; counting in UTC", calendar.schema_name)
        return Clock(tz=zone("UTC"))
    if sla_policy is None or not sla_policy.business_hours_only:
        return Clock(tz=tz)
    return Clock(tz=tz, windows=tuple(windows))


def _has_sla(ticket: SupportTicket) -> bool:
    return bool(ticket.sla_first_response_due_at or ticket.sla_resolution_due_at)


def ticket_opened(place: Place, ticket: SupportTicket) -> None:
    """A new ticket: due times from its organisation's policy for its priority."""
    sla_policy = _policy(ticket.priority)
    if sla_policy is None:
        return
    _set_targets(place, ticket, sla_policy)
    _refresh(place, ticket)


def _set_targets(place: Place, ticket: SupportTicket, sla_policy: SlaPolicy | None) -> None:
    """Due times counted from the ticket's opening, past the time its clock stood still."""
    clock = _clock(place, sla_policy)
    paused = ticket.sla_paused_seconds

    def due(minutes: int | None) -> datetime | None:
        return None if minutes is None else clock.add(ticket.created_at, minutes * 60 + paused)

    if sla_policy is None:
        ticket.sla_first_response_due_at = ticket.sla_resolution_due_at = None
        return
    ticket.sla_first_response_due_at = due(sla_policy.first_response_minutes)
    ticket.sla_resolution_due_at = due(sla_policy.resolution_minutes)


def ticket_changed(
    place: Place, ticket: SupportTicket, *, was: str, repriced: bool = False
) -> None:
    """After a ticket write (status, first response, priority), in its transaction: the
    clock stops or starts again, late targets are marked, and the index follows."""
    if not repriced and not _has_sla(ticket):
        return
    now = timezone.now()
    sla_policy = _policy(ticket.priority)
    clock = _clock(place, sla_policy)
    if was in RUNNING and ticket.status in PAUSED:
        ticket.sla_paused_at = now
    elif ticket.status in RUNNING and ticket.sla_paused_at is not None:
        _resume(ticket, clock, now)
    elif ticket.status == TicketStatus.CLOSED:
        ticket.sla_paused_at = None
    if repriced:
        # While paused, stored due times are those the clock would reach had it gone on
        # running; resuming moves them. So recounting from the opening fits either way.
        _set_targets(place, ticket, sla_policy)
    _mark_late_met(ticket)
    _refresh(place, ticket)


def _shift(
    ticket: SupportTicket, clock: Clock, *, since: datetime, to: datetime, after: datetime
) -> None:
    """Each due time later than `after` keeps the counted time it had left from `since`,
    counted from `to` instead."""
    for name in ("sla_first_response_due_at", "sla_resolution_due_at"):
        due = getattr(ticket, name)
        if due is not None and due > after:
            setattr(ticket, name, clock.add(to, clock.between(since, due)))


def _resume(ticket: SupportTicket, clock: Clock, now: datetime) -> None:
    """The clock runs again: the due times move by the counted time it stood still."""
    since = ticket.sla_paused_at
    assert since is not None
    _shift(ticket, clock, since=since, to=now, after=since)
    ticket.sla_paused_seconds += int(clock.between(since, now))
    ticket.sla_paused_at = None


def _mark_late_met(ticket: SupportTicket) -> None:
    """A target met after its due time, before a sweep saw it, is missed all the same."""
    due = ticket.sla_first_response_due_at
    met = ticket.first_response_at
    if due and met and met > due and ticket.sla_first_response_breached_at is None:
        ticket.sla_first_response_breached_at = met
    due = ticket.sla_resolution_due_at
    met = ticket.resolved_at if ticket.status == TicketStatus.RESOLVED else None
    if due and met and met > due and ticket.sla_resolution_breached_at is None:
        ticket.sla_resolution_breached_at = met


def _pending(ticket: SupportTicket, *, unbreached: bool) -> list[datetime]:
    """Due times of the targets not met yet, while the clock runs (`unbreached`: of
    those not missed yet either)."""
    if ticket.status not in RUNNING:
        return []
    dues = []
    first = ticket.sla_first_response_due_at
    if (
        first
        and ticket.first_response_at is None
        and not (unbreached and ticket.sla_first_response_breached_at)
    ):
        dues.append(first)
    resolution = ticket.sla_resolution_due_at
    if resolution and not (unbreached and ticket.sla_resolution_breached_at):
        dues.append(resolution)
    return dues


def _refresh(place: Place, ticket: SupportTicket) -> None:
    """Saves the ticket's SLA columns and moves its index row (or removes it)."""
    ticket.sla_breached = bool(
        ticket.sla_first_response_breached_at or ticket.sla_resolution_breached_at
    )
    ticket.sla_due_at = min(_pending(ticket, unbreached=False), default=None)
    ticket.save(update_fields=_FIELDS)
    next_due = min(_pending(ticket, unbreached=True), default=None)
    with connection.cursor() as cursor:
        if next_due is None:
            cursor.execute(_DELETE_SQL, [ticket.pk])
        else:
            cursor.execute(_UPSERT_SQL, [place.tenant_id, ticket.pk, place.platform, next_due])


# --- the sweep ------------------------------------------------------------------------------


RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(hours=1)


@dataclass
class SweepResult:
    breached: int = 0  # tickets with a target marked missed
    escalated: int = 0
    failed: int = 0


def sweep(*, now: datetime | None = None, limit: int = 500) -> SweepResult:
    """Handles every deadline due at `now` (up to `limit`): one short transaction each."""
    now = now or timezone.now()
    result = SweepResult()
    passed: list[int] = []  # rows whose channel a request holds: next sweep
    for _ in range(limit):
        with on_schema(PUBLIC), transaction.atomic():
            row = (
                SlaDeadline.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("tenant")
                .filter(due_at__lte=now, tenant__status=TenantStatus.ACTIVE)
                .exclude(pk__in=passed)
                .order_by("due_at")
                .first()
            )
            if row is None:
                break
            try:
                with transaction.atomic():
                    outcome = _handle(row, now)
            except Exception:
                logger.exception("SLA deadline of channel %s failed", row.channel_id)
                result.failed += 1
                _postpone(row, now)
                continue
        if outcome is None:
            passed.append(row.pk)
        elif outcome:
            result.breached += 1
            result.escalated += int(outcome == "escalated")
    return result


def _postpone(row: SlaDeadline, now: datetime) -> None:
    row.attempts = min(row.attempts + 1, 30)
    row.due_at = now + min(RETRY_BASE * 2 ** (row.attempts - 1), RETRY_MAX)
    row.save(update_fields=["attempts", "due_at"])


def _handle(row: SlaDeadline, now: datetime) -> str | None:
    """One due row, in the ticket's schema: '' nothing was due after all, 'breached',
    'escalated', or None when a request holds the channel (left for the next sweep)."""
    tenant = row.tenant
    schema = PUBLIC if row.platform else tenant.schema_name
    place = Place(tenant_id=tenant.pk, platform=row.platform, calendar=None)
    if not row.platform:
        place.calendar = tenant
    with on_schema(schema):
        channel = (
            Channel.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("ticket", "tenant", "assigned_to")
            .filter(pk=row.channel_id)
            .first()
        )
        if channel is None:
            if not Channel.objects.filter(pk=row.channel_id).exists():
                row.delete()
                return ""
            return None
        if not channel.has_ticket:
            row.delete()
            return ""
        ticket = channel.ticket
        missed = _missed(ticket, now)
        _refresh(place, ticket)
        if not missed:
            return ""
        located = Located(
            channel=channel,
            participant=None,
            schema=schema,
            tenant_id=None if row.platform else tenant.pk,
        )
        return _breached(place, located, tenant, missed)


def _missed(ticket: SupportTicket, now: datetime) -> list[tuple[str, datetime]]:
    if ticket.status not in RUNNING:
        return []
    missed = []
    due = ticket.sla_first_response_due_at
    if (
        due
        and due <= now
        and ticket.first_response_at is None
        and ticket.sla_first_response_breached_at is None
    ):
        ticket.sla_first_response_breached_at = now
        missed.append((FIRST_RESPONSE, due))
    due = ticket.sla_resolution_due_at
    if due and due <= now and ticket.sla_resolution_breached_at is None:
        ticket.sla_resolution_breached_at = now
        missed.append((RESOLUTION, due))
    return missed


def _breached(
    place: Place, located: Located, tenant: Tenant, missed: list[tuple[str, datetime]]
) -> str:
    """A SYSTEM message, `sla_breached` to the assignee and the organisation's admins (the
    super admins for a platform ticket), and the escalation if the policy asks for it."""
    channel = located.channel
    tz = _clock(place, None).tz
    parts = [
        f"{target} was due {due.astimezone(tz):%Y-%m-%d %H:%M} ({tz.key})" for target, due in missed
    ]
    reason = "SLA breached: " + "; ".join(parts) + "."
    _system(located, reason)
    ticket = channel.ticket
    targets = {target for target, _due in missed}
    breached_before = (
        ticket.sla_first_response_breached_at is not None and FIRST_RESPONSE not in targets
    ) or (ticket.sla_resolution_breached_at is not None and RESOLUTION not in targets)
    if not place.platform and not breached_before:
        # The desk rollups count each breached ticket once, on the day it opened (the
        # breach rate is over the tickets opened).
        desk_event(place.tenant_id, ticket, desk.BREACHED, ticket.created_at)
    recipients = {channel.assigned_to_id} if channel.assigned_to_id else set()
    if place.platform:
        groups = [events.SUPER_ADMINS_GROUP]
    else:
        recipients |= set(
            Membership.objects.filter(
                tenant_id=tenant.pk,
                role=Role.TENANT_ADMIN,
                status=MembershipStatus.ACTIVE,
                user__is_active=True,
            ).values_list("user_id", flat=True)
        )
        groups = []
    for uid in sorted(recipients):
        groups += [events.user_group(tenant.schema_name, uid), events.user_group(PUBLIC, uid)]
    sla_policy = _policy(channel.ticket.priority)
    outcome = "breached"
    if (
        sla_policy is not None
        and sla_policy.auto_escalate
        and channel.type == ChannelType.SUPPORT
        and channel.status == ChannelStatus.ACTIVE
    ):
        # Here, not at the top: escalations sit beside the channel services, which open
        # tickets through this module.
        from apps.chat.services.escalations import escalate_by_system

        escalate_by_system(located, tenant=tenant, reason=reason.removesuffix("."))
        outcome = "escalated"
    events.publish(
        "sla_breached",
        {
            "tenant": tenant.schema_name,
            "channelId": str(channel.pk),
            "targets": [
                {"target": target.replace(" ", "_").upper(), "dueAt": due.isoformat()}
                for target, due in missed
            ],
            "channel": channel_payload(channel),
        },
        groups=groups,
    )
    return outcome


# --- the organisation's policies ------------------------------------------------------------


@dataclass
class SlaSettings:
    time_zone: str
    business_hours: list[Window]
    policies: list[SlaPolicy]

    def payload(self) -> dict[str, Any]:
        order = list(TicketPriority.values)
        return {
            "timeZone": self.time_zone,
            "businessHours": hours_payload(self.business_hours),
            "policies": [
                {
                    "priority": p.priority,
                    "firstResponseMinutes": p.first_response_minutes,
                    "resolutionMinutes": p.resolution_minutes,
                    "businessHoursOnly": p.business_hours_only,
                    "autoEscalate": p.auto_escalate,
                }
                for p in sorted(self.policies, key=lambda p: order.index(p.priority))
            ],
        }


def _settings_of(tenant: Tenant) -> SlaSettings:
    with on_schema(tenant.schema_name):
        policies = list(SlaPolicy.objects.all())
    try:
        hours = parse_hours(tenant.business_hours or [])
    except ValueError:
        hours = []
    return SlaSettings(time_zone=tenant.time_zone, business_hours=hours, policies=policies)


def sla_settings(*, actor: Actor) -> SlaSettings:
    """The host's organisation's targets and calendar (on the console: the platform's)."""
    policy.can_read_sla(actor).enforce()
    return _settings_of(actor.tenant)


def sla_settings_set(
    *,
    actor: Actor,
    time_zone: str | None = None,
    business_hours: Sequence[Any] | None = None,
    policies: Sequence[dict[str, Any]] | None = None,
) -> SlaSettings:
    """Replaces what is given: the time zone, the weekly hours, the whole set of policies
    (a priority left out has no targets). Applies to tickets opened or re-prioritised
    from now on. Validated whole before anything is written."""
    policy.can_set_sla(actor).enforce()
    tenant = actor.tenant
    errors: dict[str, list[str]] = {}
    changed = _calendar_clean(time_zone, business_hours, errors)
    rows = None if policies is None else _policies_clean(policies, tenant, errors)
    if errors:
        raise InvalidInput("Invalid SLA settings.", fields=errors)
    with transaction.atomic():
        if changed:
            Tenant.objects.filter(pk=tenant.pk).update(**changed)
        tenant = Tenant.objects.get(pk=tenant.pk)
        if rows is not None:
            with on_schema(tenant.schema_name):
                SlaPolicy.objects.all().delete()
                SlaPolicy.objects.bulk_create(rows)
        audit.record(
            actor=actor.user,
            action=audit.Action.SLA_POLICIES_SET,
            tenant=tenant,
            target_type="sla",
            details={
                k: v
                for k, v in _settings_of(tenant).payload().items()
                if {"timeZone": time_zone, "businessHours": business_hours, "policies": policies}[k]
                is not None
            },
        )
    actor.tenant.time_zone, actor.tenant.business_hours = tenant.time_zone, tenant.business_hours
    return _settings_of(tenant)


def _calendar_clean(
    time_zone: str | None, business_hours: Sequence[Any] | None, errors: dict[str, list[str]]
) -> dict[str, Any]:
    """The tenant's columns to change; problems go to `errors`."""
    changed: dict[str, Any] = {}
    if time_zone is not None:
        try:
            zone(time_zone)
            changed["time_zone"] = time_zone
        except ValueError as error:
            errors["timeZone"] = [str(error)]
    if business_hours is not None and len(business_hours) > 7 * 24:
        errors["businessHours"] = ["At most 168 entries."]
    elif business_hours is not None:
        try:
            changed["business_hours"] = hours_payload(parse_hours(business_hours))
        except ValueError as error:
            errors["businessHours"] = [str(error)]
    return changed


def _policies_clean(
    items: Sequence[dict[str, Any]], tenant: Tenant, errors: dict[str, list[str]]
) -> list[SlaPolicy]:
    rows: list[SlaPolicy] = []
    seen: set[str] = set()
    problems: list[str] = []
    for item in items:
        priority = item.get("priority")
        if priority not in TicketPriority.values:
            problems.append(f"priority is one of {', '.join(TicketPriority.values)}.")
            continue
        if priority in seen:
            problems.append(f"{priority} is given twice.")
            continue
        seen.add(str(priority))
        first, resolution = item.get("firstResponseMinutes"), item.get("resolutionMinutes")
        for value in (first, resolution):
            if value is not None and not 1 <= value <= MAX_MINUTES:
                problems.append(f"{priority}: targets are 1 to {MAX_MINUTES} minutes.")
        if item.get("autoEscalate") and tenant.is_public:
            problems.append("Platform tickets are not escalated: autoEscalate must be false.")
        rows.append(
            SlaPolicy(
                priority=priority,
                first_response_minutes=first,
                resolution_minutes=resolution,
                business_hours_only=bool(item.get("businessHoursOnly")),
                auto_escalate=bool(item.get("autoEscalate")),
            )
        )
    if problems:
        errors["policies"] = list(dict.fromkeys(problems))
    return rows
