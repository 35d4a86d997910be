"""Opening channels, and who takes part in them in which role."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django_tenants.utils import schema_context

from apps.accounts.actors import Actor
from apps.accounts.models import Membership, Role, User
from apps.chat import events
from apps.chat.locate import channel_located, schema_for_type
from apps.chat.models import (
    TICKET_TYPES,
    Channel,
    ChannelType,
    Participant,
    ParticipantRole,
    SupportTicket,
)
from apps.chat.payloads import channel_payload
from apps.chat.services._rules import STAFF_ROLES, _require_admin, _require_writable
from apps.chat.services.timeline import _system, _user_groups
from apps.core.exceptions import Conflict, Forbidden, InvalidInput


def _super_admins() -> list[User]:
    return list(User.objects.filter(is_super_admin=True, is_active=True).order_by("id"))


def _participant_ids(channel: Channel) -> list[int]:
    return list(Participant.objects.filter(channel=channel).values_list("user_id", flat=True))


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
