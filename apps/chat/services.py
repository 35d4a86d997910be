"""Writes. Each service takes the actor explicitly, checks permission, writes inside one
transaction and publishes its events on commit (`apps.chat.events`). REST views and
WebSocket consumers call these and nothing else that writes.

Ticket workflow (SUPPORT and PLATFORM_SUPPORT channels):

    OPEN ──first staff reply / assignment──▶ IN_PROGRESS ◀──requester replies── WAITING_ON_USER
      ▲                                        │   ▲                                ▲
      │                                        │   └───── staff sets ───────────────┘
      └── requester writes on a RESOLVED channel (channel reopens) ◀── RESOLVED ◀── resolve
    any ──archive──▶ CLOSED (final; the channel is read-only)

Staff may also set OPEN, IN_PROGRESS or WAITING_ON_USER directly (`ticket_update`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.actors import Actor
from apps.accounts.models import Membership, Role, User
from apps.chat import events
from apps.chat.locate import PUBLIC, Located, channel_located, schema_for_type
from apps.chat.models import (
    TICKET_TYPES,
    Channel,
    ChannelStatus,
    ChannelType,
    Message,
    MessageKind,
    Participant,
    ParticipantRole,
    SenderType,
    SupportTicket,
    TicketStatus,
)
from apps.chat.payloads import channel_payload, message_payload
from apps.core.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from apps.platform import audit
from apps.platform.audit import Action
from apps.platform.models import Escalation, EscalationState

MAX_CONTENT = 10_000
STAFF_ROLES = (Role.TENANT_ADMIN, Role.MANAGEMENT_TEAM)
STAFF_SETTABLE_TICKET_STATUSES = (
    TicketStatus.OPEN,
    TicketStatus.IN_PROGRESS,
    TicketStatus.WAITING_ON_USER,
)


# --- small rules -------------------------------------------------------------------------


def content_clean(content: object) -> str:
    """Message text is stored exactly as sent: 1 to 10,000 characters, not blank."""
    if not isinstance(content, str):
        raise InvalidInput(
            "Message content must be text.", fields={"content": ["Must be a string."]}
        )
    if not content.strip():
        raise InvalidInput("Message content is empty.", fields={"content": ["May not be blank."]})
    if len(content) > MAX_CONTENT:
        raise InvalidInput(
            "Message content is too long.",
            fields={"content": [f"At most {MAX_CONTENT} characters."]},
        )
    return content


def sender_type_of(actor: Actor) -> SenderType:
    if actor.is_super_admin:
        return SenderType.SUPER_ADMIN
    return SenderType(actor.role)


def _is_staff_side(actor: Actor, channel: Channel) -> bool:
    """Whether the actor answers tickets in this channel (rather than asks)."""
    if channel.type == ChannelType.PLATFORM_SUPPORT:
        return actor.is_super_admin
    return actor.is_super_admin or actor.is_staff_member


def can_administer(actor: Actor, located: Located) -> bool:
    """Escalate, assign, resolve: tenant admins; management-team members who administer the
    channel; super admins on an escalated channel. Platform tickets: super admins and the
    tenant's admins."""
    channel = located.channel
    if channel.type == ChannelType.PLATFORM_SUPPORT:
        return actor.is_super_admin or actor.is_tenant_admin
    if actor.is_tenant_admin:
        return True
    if (
        actor.role == Role.MANAGEMENT_TEAM
        and located.participant is not None
        and located.participant.role == ParticipantRole.ADMIN
    ):
        return True
    return actor.is_super_admin and channel.status == ChannelStatus.ESCALATED


def _require_admin(actor: Actor, located: Located, action: str) -> None:
    if not can_administer(actor, located):
        raise Forbidden(f"Only the channel's admins may {action} it.")


def _require_writable(channel: Channel) -> None:
    if channel.status == ChannelStatus.ARCHIVED:
        raise Conflict("This channel is archived and read-only.", code="channel_archived")


def _super_admins() -> list[User]:
    return list(User.objects.filter(is_super_admin=True, is_active=True).order_by("id"))


def _tenant_schema(actor: Actor, channel: Channel) -> str:
    """The schema of the tenant the channel belongs to (its own, for platform tickets)."""
    if channel.type == ChannelType.PLATFORM_SUPPORT and channel.tenant_id:
        return channel.tenant.schema_name
    return actor.tenant.schema_name


def _user_groups(actor: Actor, channel: Channel, user_ids: Iterable[int]) -> list[str]:
    schema = _tenant_schema(actor, channel)
    groups = [events.user_group(schema, uid) for uid in user_ids]
    groups += [events.user_group(PUBLIC, uid) for uid in user_ids]
    return groups


def _audit(
    actor: Actor,
    located: Located,
    on_ticket: str,
    on_escalation: str | None = None,
    **details: Any,
) -> None:
    """Super admins' actions go to the audit log: `on_ticket` on a platform ticket,
    `on_escalation` (the same when not given) on an escalated tenant channel."""
    if not actor.is_super_admin:
        return
    channel = located.channel
    platform = channel.type == ChannelType.PLATFORM_SUPPORT
    audit.record(
        actor=actor.user,
        action=on_ticket if platform else (on_escalation or on_ticket),
        tenant=channel.tenant if platform else actor.tenant,
        target_type="channel",
        target_id=channel.pk,
        details=details,
    )


def _escalation_closed(actor: Actor, channel: Channel, state: EscalationState) -> None:
    """Closes the channel's open escalation in the public index, and tells the console."""
    closed = Escalation.objects.filter(
        tenant=actor.tenant, channel_id=channel.pk, state=EscalationState.OPEN
    ).update(state=state, closed_at=timezone.now())
    if closed:
        events.publish(
            "escalation_closed",
            {"tenant": actor.tenant.schema_name, "channelId": str(channel.pk), "state": state},
            groups=[events.SUPER_ADMINS_GROUP],
        )


def _participant_ids(channel: Channel) -> list[int]:
    return list(Participant.objects.filter(channel=channel).values_list("user_id", flat=True))


# --- messages ----------------------------------------------------------------------------


def _append(
    channel: Channel,
    *,
    content: str,
    sender: User | None,
    sender_type: SenderType,
    kind: MessageKind = MessageKind.USER,
) -> Message:
    """Adds a message to a row-locked channel: the next sequence number, and the channel's
    last-message fields, in the caller's transaction."""
    now = timezone.now()
    channel.last_seq += 1
    message = Message.objects.create(
        channel=channel,
        seq=channel.last_seq,
        sender=sender,
        sender_type=sender_type,
        kind=kind,
        content=content,
        created_at=now,
    )
    channel.last_message = message
    channel.last_activity_at = now
    channel.save(update_fields=["last_seq", "last_message", "last_activity_at", "updated_at"])
    return message


def _announce(located: Located, message: Message) -> None:
    events.publish(
        "new_message",
        message_payload(message),
        groups=[events.channel_group(located.schema, located.channel.pk)],
    )


def _system(located: Located, text: str) -> Message:
    message = _append(
        located.channel,
        content=text,
        sender=None,
        sender_type=SenderType.SYSTEM,
        kind=MessageKind.SYSTEM,
    )
    _announce(located, message)
    return message


def _status_changed(actor: Actor, located: Located, text: str) -> None:
    _system(located, text)
    channel = located.channel
    data = {
        "channelId": str(channel.pk),
        "status": channel.status,
        "ticketStatus": channel.ticket.status if _has_ticket(channel) else None,
        "changedBy": actor.user.pk,
    }
    events.publish(
        "channel_status_changed",
        data,
        groups=[events.channel_group(located.schema, channel.pk)],
    )


def _has_ticket(channel: Channel) -> bool:
    return channel.type in TICKET_TYPES and hasattr(channel, "ticket")


def _mark_read_to(participant: Participant | None, seq: int) -> None:
    if participant is not None and seq > participant.last_read_seq:
        participant.last_read_seq = seq
        participant.last_read_at = timezone.now()
        participant.save(update_fields=["last_read_seq", "last_read_at"])


def message_send(*, actor: Actor, channel_id: object, content: object) -> Message:
    text = content_clean(content)
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        channel = located.channel
        _require_writable(channel)
        if located.participant is None and not actor.is_super_admin:
            raise Forbidden("You are not a participant of this channel.")
        if located.participant is not None and located.participant.role == ParticipantRole.OBSERVER:
            raise Forbidden("Observers cannot post in this channel.", code="observer")
        if located.participant is None:
            # A super admin answering a platform ticket from the console joins it.
            located.participant = Participant.objects.create(
                channel=channel, user=actor.user, role=ParticipantRole.ADMIN
            )
        message = _append(
            channel, content=text, sender=actor.user, sender_type=sender_type_of(actor)
        )
        _mark_read_to(located.participant, message.seq)
        _announce(located, message)
        _badges_after_message(actor, located, message)
        _ticket_after_message(actor, located)
        _audit(
            actor,
            located,
            Action.TICKET_REPLIED,
            Action.ESCALATION_REPLIED,
            messageId=message.pk,
        )
    return message


def _badges_after_message(actor: Actor, located: Located, message: Message) -> None:
    """Every other participant's badge moves, whether or not they joined the room: one
    layer message per host, which each process fans out to its own sockets."""
    channel = located.channel
    readers = Participant.objects.filter(channel=channel).exclude(user=actor.user)
    events.publish_badges(
        schemas=[_tenant_schema(actor, channel), PUBLIC],
        channel_id=channel.pk,
        seq=message.seq,
        readers=list(readers.values_list("user_id", "last_read_seq")),
    )


def _ticket_after_message(actor: Actor, located: Located) -> None:
    channel = located.channel
    if not _has_ticket(channel):
        return
    ticket = channel.ticket
    now = timezone.now()
    if _is_staff_side(actor, channel):
        if ticket.first_response_at is None:
            ticket.first_response_at = now
        if ticket.status == TicketStatus.OPEN:
            ticket.status = TicketStatus.IN_PROGRESS
        ticket.save(update_fields=["first_response_at", "status", "updated_at"])
        return
    if channel.status == ChannelStatus.RESOLVED:
        channel.status = ChannelStatus.ACTIVE
        channel.resolved_at = None
        channel.save(update_fields=["status", "resolved_at", "updated_at"])
        ticket.status = TicketStatus.OPEN
        ticket.resolved_at = None
        ticket.save(update_fields=["status", "resolved_at", "updated_at"])
        _status_changed(actor, located, f"Reopened by {actor.user.display_name}'s message.")
    elif ticket.status == TicketStatus.WAITING_ON_USER:
        ticket.status = TicketStatus.IN_PROGRESS
        ticket.save(update_fields=["status", "updated_at"])


def message_remove(*, actor: Actor, channel_id: object, message_id: object) -> Message:
    """Moderation in TOURNAMENT channels: the message is kept, marked removed."""
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        channel = located.channel
        _require_writable(channel)
        moderator = (
            located.participant is not None and located.participant.role == ParticipantRole.ADMIN
        )
        if channel.type != ChannelType.TOURNAMENT or not (moderator or actor.is_tenant_admin):
            raise Forbidden("Only moderators of a tournament channel may remove messages.")
        try:
            message = Message.objects.select_for_update().get(
                channel=channel, pk=int(str(message_id))
            )
        except (ValueError, Message.DoesNotExist):
            raise NotFound("Message not found.") from None
        if message.removed_at is None:
            message.removed_at = timezone.now()
            message.removed_by = actor.user
            message.save(update_fields=["removed_at", "removed_by"])
            events.publish(
                "message_removed",
                message_payload(message),
                groups=[events.channel_group(located.schema, channel.pk)],
            )
    return message


def read_mark(*, actor: Actor, channel_id: object, message_id: object) -> Participant:
    """Read state moves forward only: marking an older message read changes nothing."""
    with transaction.atomic(), channel_located(actor, channel_id) as located:
        participant = located.participant
        if participant is None:
            raise Forbidden("You are not a participant of this channel.")
        try:
            seq = Message.objects.values_list("seq", flat=True).get(
                channel=located.channel, pk=int(str(message_id))
            )
        except (ValueError, Message.DoesNotExist):
            raise InvalidInput(
                "Unknown message.", fields={"messageId": ["No such message in this channel."]}
            ) from None
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        if seq > participant.last_read_seq:
            _mark_read_to(participant, seq)
            channel = located.channel
            data = {
                "channelId": str(channel.pk),
                "userId": actor.user.pk,
                "messageId": int(str(message_id)),
                "seq": seq,
                "unreadCount": max(channel.last_seq - seq, 0),
            }
            events.publish(
                "message_read", data, groups=[events.channel_group(located.schema, channel.pk)]
            )
            # The reader's other tabs and devices update their badge.
            events.publish(
                "unread_changed",
                {"channelId": data["channelId"], "unreadCount": data["unreadCount"]},
                groups=_user_groups(actor, channel, [actor.user.pk]),
            )
        participant.unread_count = max(located.channel.last_seq - participant.last_read_seq, 0)
    return participant


# --- channels ----------------------------------------------------------------------------


def _members(
    tenant_id: int, user_ids: Sequence[int], field: str = "participantIds"
) -> dict[int, Role]:
    roles = dict(
        Membership.objects.filter(
            tenant_id=tenant_id, user_id__in=user_ids, user__is_active=True
        ).values_list("user_id", "role")
    )
    unknown = [uid for uid in user_ids if uid not in roles]
    if unknown:
        # The same answer for an unknown id and another tenant's user: nothing leaks.
        raise InvalidInput(
            "Some participants are not members of this organisation.",
            fields={field: [f"Not a member: {uid}" for uid in unknown]},
        )
    return {uid: Role(role) for uid, role in roles.items()}


def _tenant_admin_ids(tenant_id: int) -> list[int]:
    return list(
        Membership.objects.filter(
            tenant_id=tenant_id, role=Role.TENANT_ADMIN, user__is_active=True
        ).values_list("user_id", flat=True)
    )


def _staff_ids(tenant_id: int) -> list[int]:
    return list(
        Membership.objects.filter(
            tenant_id=tenant_id, role__in=STAFF_ROLES, user__is_active=True
        ).values_list("user_id", flat=True)
    )


def _plan_participants(
    actor: Actor, channel_type: str, requested: Sequence[int]
) -> dict[int, ParticipantRole]:
    """Who joins a new channel, in which role; raises for what the rules forbid."""
    tenant_id = actor.tenant.pk
    others = [uid for uid in dict.fromkeys(requested) if uid != actor.user.pk]
    roles = _members(tenant_id, others)
    plan: dict[int, ParticipantRole] = {}

    if channel_type == ChannelType.SUPPORT:
        if actor.role == Role.PARTICIPANT and any(r not in STAFF_ROLES for r in roles.values()):
            raise InvalidInput(
                "A support request can only include the organisation's staff.",
                fields={"participantIds": ["Only admins or management team members."]},
            )
        plan[actor.user.pk] = (
            ParticipantRole.ADMIN if actor.is_staff_member else ParticipantRole.MEMBER
        )
        for uid, role in roles.items():
            plan[uid] = ParticipantRole.ADMIN if role in STAFF_ROLES else ParticipantRole.MEMBER
        for uid in _tenant_admin_ids(tenant_id):
            plan[uid] = ParticipantRole.ADMIN
    elif channel_type == ChannelType.TEAM:
        if not actor.is_staff_member:
            raise Forbidden("Only admins and the management team use team channels.")
        if any(r not in STAFF_ROLES for r in roles.values()):
            raise InvalidInput(
                "Team channels are for admins and the management team only.",
                fields={"participantIds": ["Only admins or management team members."]},
            )
        plan[actor.user.pk] = ParticipantRole.ADMIN
        for uid, role in roles.items():
            admin = role == Role.TENANT_ADMIN
            plan[uid] = ParticipantRole.ADMIN if admin else ParticipantRole.MEMBER
    elif channel_type == ChannelType.TOURNAMENT:
        if not actor.is_staff_member:
            raise Forbidden("Only admins and the management team open tournament channels.")
        for uid, role in roles.items():
            plan[uid] = ParticipantRole.ADMIN if role in STAFF_ROLES else ParticipantRole.MEMBER
        for uid in _staff_ids(tenant_id):  # the moderators
            plan[uid] = ParticipantRole.ADMIN
        plan[actor.user.pk] = ParticipantRole.ADMIN
    elif channel_type == ChannelType.PLATFORM_SUPPORT:
        if not actor.is_tenant_admin:
            raise Forbidden("Only tenant admins open platform-support tickets.")
        if any(r != Role.TENANT_ADMIN for r in roles.values()):
            raise InvalidInput(
                "Platform tickets can only include the organisation's admins.",
                fields={"participantIds": ["Only tenant admins."]},
            )
        plan[actor.user.pk] = ParticipantRole.MEMBER
        for uid in roles:
            plan[uid] = ParticipantRole.MEMBER
        for admin in _super_admins():
            plan[admin.pk] = ParticipantRole.ADMIN
    return plan


def channel_create(
    *,
    actor: Actor,
    type: str,
    participant_ids: Sequence[int] = (),
    subject: str = "",
    category: str | None = None,
    priority: str | None = None,
    context_id: str | None = None,
) -> Channel:
    if actor.tenant.is_public:
        raise InvalidInput("Channels are opened on an organisation's host.", code="wrong_host")
    if actor.role is None:
        raise Forbidden("Super admins answer channels; members of the organisation open them.")
    is_ticket = type in TICKET_TYPES
    if is_ticket and not subject.strip():
        raise InvalidInput(
            "A ticket needs a subject.", fields={"subject": ["This field is required."]}
        )
    if not is_ticket and (category or priority):
        raise InvalidInput(
            "Only support tickets have a category and priority.",
            fields={
                "category" if category else "priority": ["Only for SUPPORT and PLATFORM_SUPPORT."]
            },
        )
    if type == ChannelType.TOURNAMENT and not context_id:
        raise InvalidInput(
            "A tournament channel needs the tournament's id.",
            fields={"contextId": ["Required for TOURNAMENT channels."]},
        )
    plan = _plan_participants(actor, type, participant_ids)
    schema = schema_for_type(actor, type)
    with schema_context(schema), transaction.atomic():
        channel = Channel(
            type=type,
            subject=subject.strip(),
            context_id=context_id or None,
            created_by=actor.user,
            tenant=actor.tenant if type == ChannelType.PLATFORM_SUPPORT else None,
        )
        try:
            with transaction.atomic():
                channel.save(force_insert=True)
        except IntegrityError:
            raise Conflict(
                "This tournament already has a channel.", code="tournament_channel_exists"
            ) from None
        Participant.objects.bulk_create(
            [Participant(channel=channel, user_id=uid, role=role) for uid, role in plan.items()]
        )
        if is_ticket:
            SupportTicket.objects.create(
                channel=channel,
                requester=actor.user,
                category=category or SupportTicket._meta.get_field("category").default,
                priority=priority or SupportTicket._meta.get_field("priority").default,
            )
        channel = Channel.objects.select_related("ticket", "tenant").get(pk=channel.pk)
        events.publish(
            "channel_created",
            channel_payload(channel),
            groups=_user_groups(actor, channel, plan)
            + ([events.SUPER_ADMINS_GROUP] if type == ChannelType.PLATFORM_SUPPORT else []),
        )
    return channel


def channel_escalate(*, actor: Actor, channel_id: object, reason: str) -> Channel:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why it is escalated.", fields={"reason": ["May not be blank."]})
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        channel = located.channel
        _require_writable(channel)
        _require_admin(actor, located, "escalate")
        if channel.type != ChannelType.SUPPORT:
            raise InvalidInput("Only support channels can be escalated.", code="not_escalatable")
        if channel.status == ChannelStatus.ESCALATED:
            raise Conflict("This channel is already escalated.", code="already_escalated")
        now = timezone.now()
        channel.status = ChannelStatus.ESCALATED
        channel.escalation_reason = reason
        channel.escalated_at = now
        channel.resolved_at = None
        channel.save(
            update_fields=[
                "status",
                "escalation_reason",
                "escalated_at",
                "resolved_at",
                "updated_at",
            ]
        )
        admins = _super_admins()
        existing = set(_participant_ids(channel))
        Participant.objects.bulk_create(
            [
                Participant(channel=channel, user=admin, role=ParticipantRole.ADMIN)
                for admin in admins
                if admin.pk not in existing
            ]
        )
        escalation = Escalation.objects.create(
            tenant=actor.tenant,
            channel_id=channel.pk,
            subject=channel.subject,
            reason=reason,
            escalated_by=actor.user,
            escalated_at=now,
        )
        audit.record(
            actor=actor.user,
            action=Action.ESCALATION_OPENED,
            tenant=actor.tenant,
            target_type="channel",
            target_id=channel.pk,
            details={"escalationId": escalation.pk, "reason": reason},
        )
        _status_changed(
            actor, located, f"Escalated to platform support by {actor.user.display_name}: {reason}"
        )
        events.publish(
            "ticket_escalated",
            {
                "tenant": actor.tenant.schema_name,
                "channel": channel_payload(channel),
                "reason": reason,
                "escalatedBy": actor.user.pk,
            },
            groups=[events.SUPER_ADMINS_GROUP],
        )
    return channel


def channel_assign(*, actor: Actor, channel_id: object, assignee_id: object) -> Channel:
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        channel = located.channel
        _require_writable(channel)
        _require_admin(actor, located, "assign")
        assignee = _assignable(actor, channel, assignee_id)
        channel.assigned_to = assignee
        channel.save(update_fields=["assigned_to", "updated_at"])
        participant, created = Participant.objects.get_or_create(
            channel=channel, user=assignee, defaults={"role": ParticipantRole.ADMIN}
        )
        if not created and participant.role != ParticipantRole.ADMIN:
            participant.role = ParticipantRole.ADMIN
            participant.save(update_fields=["role"])
        if _has_ticket(channel) and channel.ticket.status == TicketStatus.OPEN:
            channel.ticket.status = TicketStatus.IN_PROGRESS
            channel.ticket.save(update_fields=["status", "updated_at"])
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
        uid = int(str(assignee_id))
    except ValueError:
        raise invalid from None
    if channel.type == ChannelType.PLATFORM_SUPPORT:
        if not actor.is_super_admin:
            raise Forbidden("Only super admins assign platform tickets.")
        assignee = User.objects.filter(pk=uid, is_super_admin=True, is_active=True).first()
        if assignee is None:
            raise InvalidInput(
                "This person cannot be assigned.",
                fields={"assigneeId": ["Must be a platform super admin."]},
            )
        return assignee
    member = (
        Membership.objects.filter(
            tenant=actor.tenant, user_id=uid, role__in=STAFF_ROLES, user__is_active=True
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
        _require_writable(channel)
        _require_admin(actor, located, "resolve")
        if channel.status == ChannelStatus.RESOLVED:
            raise Conflict("This channel is already resolved.", code="already_resolved")
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


def channel_deescalate(*, actor: Actor, channel_id: object, note: str = "") -> Channel:
    """A super admin hands an escalated channel back to the tenant's staff: the channel is
    ACTIVE again (its ticket keeps its status), the escalation is closed as RETURNED, and
    a SYSTEM message says so."""
    note = (note or "").strip()
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        channel = located.channel
        _require_writable(channel)
        if not actor.is_super_admin:
            raise Forbidden("Only platform super admins hand an escalation back.")
        if channel.status != ChannelStatus.ESCALATED:
            raise Conflict("This channel is not escalated.", code="not_escalated")
        channel.status = ChannelStatus.ACTIVE
        channel.save(update_fields=["status", "updated_at"])
        _escalation_closed(actor, channel, EscalationState.RETURNED)
        text = f"Handed back to {actor.tenant.name} by {actor.user.display_name}"
        _status_changed(actor, located, f"{text}: {note}" if note else f"{text}.")
        _audit(actor, located, Action.ESCALATION_RETURNED, note=note)
    return channel


def channel_archive(*, actor: Actor, channel_id: object) -> Channel:
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        channel = located.channel
        _require_writable(channel)
        platform = channel.type == ChannelType.PLATFORM_SUPPORT
        if not (actor.is_tenant_admin or (platform and actor.is_super_admin)):
            raise Forbidden("Only tenant admins may archive a channel.")
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
    channel.status = status
    setattr(channel, stamp, now)
    channel.save(update_fields=["status", stamp, "updated_at"])
    if _has_ticket(channel):
        ticket = channel.ticket
        ticket_stamp = "resolved_at" if ticket_status == TicketStatus.RESOLVED else "closed_at"
        ticket.status = ticket_status
        setattr(ticket, ticket_stamp, now)
        ticket.save(update_fields=["status", ticket_stamp, "updated_at"])
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
        _require_writable(channel)
        if not _has_ticket(channel):
            raise InvalidInput("This channel is not a ticket.", code="not_a_ticket")
        _require_admin(actor, located, "update")
        ticket = channel.ticket
        changes: dict[str, Any] = {}
        if status is not None and status != ticket.status:
            if status not in STAFF_SETTABLE_TICKET_STATUSES:
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
        for name, value in changes.items():
            setattr(ticket, name, value)
        ticket.save(update_fields=[*changes, "updated_at"])
        reopened = "status" in changes and channel.status == ChannelStatus.RESOLVED
        if reopened:
            channel.status = ChannelStatus.ACTIVE
            channel.resolved_at = None
            channel.save(update_fields=["status", "resolved_at", "updated_at"])
        summary = ", ".join(f"{name} {value}" for name, value in changes.items())
        _status_changed(actor, located, f"Ticket updated by {actor.user.display_name}: {summary}.")
        _audit(actor, located, Action.TICKET_UPDATED, **changes)
    return channel


def participants_add(
    *, actor: Actor, channel_id: object, user_ids: Sequence[int], role: str = ParticipantRole.MEMBER
) -> list[Participant]:
    """Admins add members of the tenant (for example a tournament's players)."""
    with transaction.atomic(), channel_located(actor, channel_id, lock=True) as located:
        channel = located.channel
        _require_writable(channel)
        _require_admin(actor, located, "add people to")
        if channel.type == ChannelType.PLATFORM_SUPPORT:
            raise InvalidInput(
                "Platform tickets have fixed participants.", code="fixed_participants"
            )
        roles = _members(actor.tenant.pk, list(dict.fromkeys(user_ids)), "userIds")
        if channel.type == ChannelType.TEAM and any(r not in STAFF_ROLES for r in roles.values()):
            raise InvalidInput(
                "Team channels are for admins and the management team only.",
                fields={"userIds": ["Only admins or management team members."]},
            )
        existing = set(_participant_ids(channel))
        added = Participant.objects.bulk_create(
            [
                Participant(channel=channel, user_id=uid, role=role)
                for uid in roles
                if uid not in existing
            ]
        )
        if added:
            names = ", ".join(
                User.objects.filter(pk__in=[p.user_id for p in added]).values_list(
                    "display_name", flat=True
                )
            )
            _system(located, f"{actor.user.display_name} added {names}.")
            events.publish(
                "channel_joined",
                channel_payload(channel),
                groups=_user_groups(actor, channel, [p.user_id for p in added]),
            )
    return added
