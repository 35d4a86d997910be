"""Opening channels, and who takes part in them in which role."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django_tenants.utils import schema_context

from apps.accounts.actors import Actor
from apps.accounts.models import Membership, Role, User
from apps.chat import events, policy
from apps.chat.locate import PUBLIC, channel_located, schema_for_type
from apps.chat.models import (
    TICKET_TYPES,
    Channel,
    ChannelType,
    Participant,
    ParticipantRole,
    SupportTicket,
)
from apps.chat.payloads import channel_payload
from apps.chat.services import sla
from apps.chat.services.counting import contribution, desk_event
from apps.chat.services.timeline import _system, _user_groups
from apps.core.exceptions import Conflict, InvalidInput
from apps.records import counters, desk


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


def _holders(tenant_id: int, roles: tuple[Role, ...]) -> list[int]:
    """The active members of the tenant holding one of these roles."""
    return list(
        Membership.objects.filter(
            tenant_id=tenant_id, role__in=roles, user__is_active=True
        ).values_list("user_id", flat=True)
    )


def _plan_participants(
    actor: Actor, channel_type: str, requested: Sequence[int]
) -> dict[int, ParticipantRole]:
    """Who joins a new channel, in which role; raises for what the rules forbid."""
    tenant_id = actor.tenant.pk
    others = [uid for uid in dict.fromkeys(requested) if uid != actor.user.pk]
    roles = _members(tenant_id, others)
    policy.can_open(actor, channel_type).enforce()
    policy.can_include(actor, channel_type, roles.values(), "participantIds").enforce()
    plan = {actor.user.pk: policy.opener_role(channel_type, actor)}
    for uid, role in roles.items():
        plan[uid] = policy.participant_role(channel_type, role)
    for uid in _holders(tenant_id, policy.joining_at_opening(channel_type)):
        plan[uid] = ParticipantRole.ADMIN
    if policy.super_admins_join(channel_type):
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
    policy.can_open_channels(actor).enforce()
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
            ticket = SupportTicket.objects.create(
                channel=channel,
                requester=actor.user,
                category=category or SupportTicket._meta.get_field("category").default,
                priority=priority or SupportTicket._meta.get_field("priority").default,
            )
            sla.ticket_opened(sla.Place.of(actor, channel), ticket)
            if schema != PUBLIC:
                desk_event(actor.tenant.pk, ticket, desk.OPENED, ticket.created_at)
        channel = Channel.objects.select_related("ticket", "tenant").get(pk=channel.pk)
        if schema != PUBLIC:
            counters.add(actor.tenant.pk, channel.pk, contribution(channel))
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
        policy.can_add_participants(actor, located).enforce()
        roles = _members(actor.tenant.pk, list(dict.fromkeys(user_ids)), "userIds")
        policy.can_include(actor, channel.type, roles.values(), "userIds").enforce()
        existing = set(_participant_ids(channel))
        added = Participant.objects.bulk_create(
            [
                Participant(
                    channel=channel,
                    user_id=uid,
                    role=policy.added_role(channel.type, member_role, role),
                )
                for uid, member_role in roles.items()
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
