"""Ticket workflow (SUPPORT and PLATFORM_SUPPORT channels):

    OPEN ──first staff reply / assignment──▶ IN_PROGRESS ◀──requester replies── WAITING_ON_USER
      ▲                                        │   ▲                                ▲
      │                                        │   └───── staff sets ───────────────┘
      └── requester writes on a RESOLVED channel (channel reopens) ◀── RESOLVED ◀── resolve
    any ──archive──▶ CLOSED (final; the channel is read-only)

Staff may also set OPEN, IN_PROGRESS or WAITING_ON_USER directly (`ticket_update`).
Assignment, resolve and archive apply to every channel; on a ticket they move it too.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.accounts.models import Membership, User
from apps.chat import events, policy
from apps.chat.locate import Located, channel_located
from apps.chat.models import (
    OPEN_TICKET_STATUSES,
    Channel,
    ChannelStatus,
    ChannelType,
    Participant,
    ParticipantRole,
    TicketStatus,
)
from apps.chat.payloads import channel_payload
from apps.chat.services import sla
from apps.chat.services.counting import counted, desk_event
from apps.chat.services.escalations import _audit, _escalation_closed
from apps.chat.services.timeline import _status_changed, _system, _user_groups
from apps.core.exceptions import InvalidInput
from apps.core.fields import db_int, storable_text
from apps.records import desk
from apps.records.audit import Action
from apps.records.models import EscalationState


def _ticket_after_message(actor: Actor, located: Located) -> None:
    channel = located.channel
    if not channel.has_ticket:
        return
    ticket = channel.ticket
    was = ticket.status
    now = timezone.now()
    if policy.answers_tickets(actor, channel):
        first = ticket.first_response_at is None
        if first:
            ticket.first_response_at = now
            desk_event(
                located.tenant_id,
                ticket,
                desk.FIRST_RESPONSE,
                ticket.created_at,
                seconds=(now - ticket.created_at).total_seconds(),
            )
        if ticket.status == TicketStatus.OPEN:
            ticket.status = TicketStatus.IN_PROGRESS
        ticket.save(update_fields=["first_response_at", "status", "updated_at"])
        if first or ticket.status != was:
            sla.ticket_changed(sla.Place.of(actor, channel), ticket, was=was)
        return
    if channel.status == ChannelStatus.RESOLVED:
        with counted(located):
            channel.status = ChannelStatus.ACTIVE
            channel.resolved_at = None
            channel.save(update_fields=["status", "resolved_at", "updated_at"])
            ticket.status = TicketStatus.OPEN
            ticket.resolved_at = None
            ticket.save(update_fields=["status", "resolved_at", "updated_at"])
        sla.ticket_changed(sla.Place.of(actor, channel), ticket, was=was)
        _status_changed(actor, located, f"Reopened by {actor.user.display_name}'s message.")
    elif ticket.status == TicketStatus.WAITING_ON_USER:
        ticket.status = TicketStatus.IN_PROGRESS
        ticket.save(update_fields=["status", "updated_at"])
        sla.ticket_changed(sla.Place.of(actor, channel), ticket, was=was)


def channel_assign(*, actor: Actor, channel_id: object, assignee_id: object) -> Channel:
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        channel = located.channel
        policy.can_assign(actor, located).enforce()
        assignee = _assignable(actor, channel, assignee_id)
        channel.assigned_to = assignee
        channel.save(update_fields=["assigned_to", "updated_at"])
        participant, created = Participant.objects.get_or_create(
            channel=channel, user=assignee, defaults={"role": ParticipantRole.ADMIN}
        )
        if not created and participant.role != ParticipantRole.ADMIN:
            participant.role = ParticipantRole.ADMIN
            participant.save(update_fields=["role"])
        if channel.has_ticket and channel.ticket.status == TicketStatus.OPEN:
            channel.ticket.status = TicketStatus.IN_PROGRESS
            channel.ticket.save(update_fields=["status", "updated_at"])
            sla.ticket_changed(sla.Place.of(actor, channel), channel.ticket, was=TicketStatus.OPEN)
        _system(located, f"Assigned to {assignee.display_name} by {actor.user.display_name}.")
        _audit(
            actor,
            located,
            Action.TICKET_ASSIGNED,
            Action.ESCALATION_ASSIGNED,
            assigneeId=assignee.pk,
        )
        events.publish(
            "channel_assigned",
            {
                "channelId": str(channel.pk),
                "assignee": {"id": assignee.pk, "displayName": assignee.display_name},
                "assignedBy": actor.user.pk,
                "channel": channel_payload(channel),
            },
            groups=[events.channel_group(located.schema, channel.pk)]
            + _user_groups(actor, channel, [assignee.pk]),
        )
    return channel


def _assignable(actor: Actor, channel: Channel, assignee_id: object) -> User:
    invalid = InvalidInput(
        "This person cannot be assigned.",
        fields={"assigneeId": ["Must be an admin or management team member of this organisation."]},
    )
    try:
        uid = db_int(assignee_id)
    except ValueError:
        raise invalid from None
    if channel.type == ChannelType.PLATFORM_SUPPORT:
        assignee = User.objects.filter(pk=uid, is_super_admin=True, is_active=True).first()
        if assignee is None:
            raise InvalidInput(
                "This person cannot be assigned.",
                fields={"assigneeId": ["Must be a platform super admin."]},
            )
        return assignee
    member = (
        Membership.objects.filter(
            tenant=actor.tenant,
            user_id=uid,
            role__in=policy.assignable_roles(channel.type),
            user__is_active=True,
        )
        .select_related("user")
        .first()
    )
    if member is None:
        raise invalid
    return member.user


def channel_resolve(*, actor: Actor, channel_id: object) -> Channel:
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        channel = located.channel
        policy.can_resolve(actor, located).enforce()
        _close(
            actor,
            located,
            status=ChannelStatus.RESOLVED,
            ticket_status=TicketStatus.RESOLVED,
            escalation=EscalationState.RESOLVED,
            text=f"Resolved by {actor.user.display_name}.",
        )
        _audit(actor, located, Action.TICKET_RESOLVED, Action.ESCALATION_RESOLVED)
    return channel


def channel_archive(*, actor: Actor, channel_id: object) -> Channel:
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        channel = located.channel
        policy.can_archive(actor, located).enforce()
        _close(
            actor,
            located,
            status=ChannelStatus.ARCHIVED,
            ticket_status=TicketStatus.CLOSED,
            escalation=EscalationState.ARCHIVED,
            text=f"Archived by {actor.user.display_name}.",
        )
        _audit(actor, located, Action.TICKET_ARCHIVED)
    return channel


def _close(
    actor: Actor,
    located: Located,
    *,
    status: ChannelStatus,
    ticket_status: TicketStatus,
    escalation: EscalationState,
    text: str,
) -> None:
    """Resolve or archive: the channel, its ticket and its open escalation, stamped now."""
    now = timezone.now()
    channel = located.channel
    stamp = "resolved_at" if status == ChannelStatus.RESOLVED else "archived_at"
    with counted(located):
        channel.status = status
        setattr(channel, stamp, now)
        channel.save(update_fields=["status", stamp, "updated_at"])
        if channel.has_ticket:
            ticket = channel.ticket
            ticket_stamp = "resolved_at" if ticket_status == TicketStatus.RESOLVED else "closed_at"
            was = ticket.status
            ticket.status = ticket_status
            setattr(ticket, ticket_stamp, now)
            ticket.save(update_fields=["status", ticket_stamp, "updated_at"])
            if ticket_status == TicketStatus.RESOLVED:
                desk_event(located.tenant_id, ticket, desk.RESOLVED, now)
                seconds = (now - ticket.created_at).total_seconds()
                desk_event(located.tenant_id, ticket, desk.RESOLUTION, now, seconds=seconds)
            sla.ticket_changed(sla.Place.of(actor, channel), ticket, was=was)
    _escalation_closed(actor, channel, escalation)
    _status_changed(actor, located, text)


def ticket_update(
    *,
    actor: Actor,
    channel_id: object,
    status: str | None = None,
    priority: str | None = None,
    category: str | None = None,
) -> Channel:
    """Staff changes to a ticket's fields. RESOLVED and CLOSED are reached through
    resolve and archive, which also change the channel."""
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        channel = located.channel
        policy.can_edit_ticket(actor, located).enforce()
        ticket = channel.ticket
        changes: dict[str, Any] = {}
        if status is not None and status != ticket.status:
            if status not in OPEN_TICKET_STATUSES:
                raise InvalidInput(
                    "Use resolve or archive for that.",
                    fields={"status": ["Settable: OPEN, IN_PROGRESS, WAITING_ON_USER."]},
                )
            changes["status"] = status
        if priority is not None and priority != ticket.priority:
            changes["priority"] = priority
        if category is not None and category != ticket.category:
            changes["category"] = category
        if not changes:
            return channel
        with counted(located):
            was = ticket.status
            for name, value in changes.items():
                setattr(ticket, name, value)
            ticket.save(update_fields=[*changes, "updated_at"])
            sla.ticket_changed(
                sla.Place.of(actor, channel), ticket, was=was, repriced="priority" in changes
            )
            reopened = "status" in changes and channel.status == ChannelStatus.RESOLVED
            if reopened:
                channel.status = ChannelStatus.ACTIVE
                channel.resolved_at = None
                channel.save(update_fields=["status", "resolved_at", "updated_at"])
        summary = ", ".join(f"{name} {value}" for name, value in changes.items())
        _status_changed(actor, located, f"Ticket updated by {actor.user.display_name}: {summary}.")
        _audit(actor, located, Action.TICKET_UPDATED, **changes)
    return channel


RATING_COMMENT_MAX = 2_000


def _rating_cleaned(rating: object, comment: object) -> tuple[int, str]:
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise InvalidInput("Invalid rating.", fields={"rating": ["A whole number from 1 to 5."]})
    if comment is None:
        comment = ""
    if not isinstance(comment, str) or len(comment) > RATING_COMMENT_MAX:
        raise InvalidInput(
            "Invalid comment.",
            fields={"comment": [f"Text of at most {RATING_COMMENT_MAX} characters."]},
        )
    if not storable_text(comment):
        raise InvalidInput(
            "Invalid comment.", fields={"comment": ["No NUL characters or lone surrogates."]}
        )
    return rating, comment


def ticket_rate(
    *, actor: Actor, channel_id: object, rating: object, comment: object = ""
) -> Channel:
    """The requester rates a resolved ticket, once, within `policy.RATING_WINDOW` of its
    resolution. Staff see the rating on the ticket; reports count it on the day given."""
    score, text = _rating_cleaned(rating, comment)
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        policy.can_rate(actor, located, now=timezone.now()).enforce()
        ticket = located.channel.ticket
        ticket.rating, ticket.rating_comment, ticket.rated_at = score, text, timezone.now()
        ticket.save(update_fields=["rating", "rating_comment", "rated_at", "updated_at"])
        desk_event(located.tenant_id, ticket, desk.RATING, ticket.rated_at, bucket=score)
        channel = located.channel
        events.publish(
            "ticket_rated",
            {"channelId": str(channel.pk), "rating": score, "comment": text},
            groups=[events.channel_group(located.schema, channel.pk)],
        )
    return channel
