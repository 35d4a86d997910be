"""The tenant's members, as its admins manage them: a new role, suspension, reactivation
and removal, each in one transaction with its audit entry and its consequences for the
member's channels.

A member's channels follow their membership (`participation_follow`, by the rules of
`policy.role_after_change` and `policy.joining_at_opening`): a new tenant admin joins
every SUPPORT channel that is not archived as `ADMIN`, a new staff member every such
TOURNAMENT channel; a demoted one keeps only what the new role allows; a removed member
leaves every channel of the tenant (their messages stay). A suspended member keeps their
channels for when they are reactivated. The member's sockets leave the rooms they lost
as soon as the change commits.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Exists, OuterRef
from django_tenants.utils import schema_context

from apps.accounts import member_rules, memberships
from apps.accounts.actors import Actor
from apps.accounts.models import Membership, Role
from apps.chat import events, policy
from apps.chat.locate import PUBLIC
from apps.chat.models import Channel, ChannelStatus, ChannelType, Participant, ParticipantRole
from apps.chat.payloads import channel_payload
from apps.records.audit import Action, record
from apps.tenancy.models import Tenant


def _follow_in_schema(schema: str, tenant: Tenant, user_id: int, role: Role | None) -> list[str]:
    """Updates the user's participant rows in one schema; answers the channels left."""
    rows = Participant.objects.filter(user_id=user_id).select_related("channel")
    if schema == PUBLIC:
        rows = rows.filter(channel__tenant=tenant)  # that tenant's platform tickets
    leaving: list[int] = []
    changes: dict[str, list[int]] = {}
    for participant in rows:
        channel = participant.channel
        kept = policy.role_after_change(
            channel.type, role, participant.role, opened=channel.created_by_id == user_id
        )
        if kept is None:
            leaving.append(participant.pk)
        elif kept != participant.role:
            changes.setdefault(kept, []).append(participant.pk)
    for new_role, pks in changes.items():
        Participant.objects.filter(pk__in=pks).update(role=new_role)
    left = list(Participant.objects.filter(pk__in=leaving).values_list("channel_id", flat=True))
    Participant.objects.filter(pk__in=leaving).delete()
    if role not in policy.assignable_roles(ChannelType.SUPPORT):
        Channel.objects.filter(assigned_to_id=user_id).exclude(
            type=ChannelType.PLATFORM_SUPPORT
        ).update(assigned_to=None)
    return [str(channel_id) for channel_id in left]


def _join_by_role(tenant: Tenant, user_id: int, role: Role) -> list[Channel]:
    """Joins the channels everyone in `role` takes part in (as when they open), caught
    up to their last message."""
    types = [t for t in ChannelType if role in policy.joining_at_opening(t)]
    if not types:
        return []
    mine = Participant.objects.filter(channel=OuterRef("pk"), user_id=user_id)
    channels = list(
        Channel.objects.filter(type__in=types)
        .exclude(status=ChannelStatus.ARCHIVED)
        .exclude(Exists(mine))
        .select_related("ticket", "assigned_to", "last_message__sender")
    )
    Participant.objects.bulk_create(
        [
            Participant(
                channel=c,
                user_id=user_id,
                role=ParticipantRole.ADMIN,
                last_read_seq=c.last_seq,
                last_read_public_seq=c.last_public_seq,
            )
            for c in channels
        ]
    )
    return channels


def participation_follow(*, tenant: Tenant, user_id: int, role: Role | None) -> None:
    """Makes the user's channels of the tenant match their membership `role` (None: not a
    member any more). Does nothing when they match already."""
    with transaction.atomic():
        left: list[str] = []
        for schema in (tenant.schema_name, PUBLIC):
            with schema_context(schema):
                left += _follow_in_schema(schema, tenant, user_id, role)
        joined: list[Channel] = []
        if role is not None:
            with schema_context(tenant.schema_name):
                joined = _join_by_role(tenant, user_id, role)
                for channel in joined:
                    events.publish(
                        "channel_joined",
                        channel_payload(channel),
                        groups=[events.user_group(tenant.schema_name, user_id)],
                    )
        events.leave_rooms(schema=tenant.schema_name, user_id=user_id, channel_ids=left)


def _audit(actor: Actor, action: str, membership: Membership, **details: object) -> None:
    record(
        actor=actor.user,
        action=action,
        tenant=actor.tenant,
        target_type="user",
        target_id=membership.user_id,
        details={"email": membership.user.email, **details},
    )


def member_role_change(*, actor: Actor, user_id: int, role: Role) -> Membership:
    member_rules.require_member_admin(actor)
    with transaction.atomic():
        membership, previous = memberships.membership_role_change(
            tenant=actor.tenant, user_id=user_id, role=role
        )
        if previous != role:
            participation_follow(tenant=actor.tenant, user_id=user_id, role=role)
            _audit(actor, Action.MEMBER_ROLE_CHANGED, membership, **{"from": previous, "to": role})
    return membership


def member_suspend(*, actor: Actor, user_id: int) -> Membership:
    member_rules.require_member_admin(actor)
    with transaction.atomic():
        membership = memberships.membership_suspend(tenant=actor.tenant, user_id=user_id)
        _audit(actor, Action.MEMBER_SUSPENDED, membership)
    return membership


def member_reactivate(*, actor: Actor, user_id: int) -> Membership:
    member_rules.require_member_admin(actor)
    with transaction.atomic():
        membership = memberships.membership_reactivate(tenant=actor.tenant, user_id=user_id)
        _audit(actor, Action.MEMBER_REACTIVATED, membership)
    return membership


def member_remove(*, actor: Actor, user_id: int) -> None:
    member_rules.require_member_admin(actor)
    with transaction.atomic():
        membership = memberships.membership_remove(tenant=actor.tenant, user_id=user_id)
        participation_follow(tenant=actor.tenant, user_id=user_id, role=None)
        _audit(actor, Action.MEMBER_REMOVED, membership, role=membership.role)
