"""Who may do what in a channel, as the services check it."""

from __future__ import annotations

from apps.accounts.actors import Actor
from apps.accounts.models import Role
from apps.chat.locate import Located
from apps.chat.models import Channel, ChannelStatus, ChannelType, ParticipantRole
from apps.core.exceptions import Conflict, Forbidden

STAFF_ROLES = (Role.TENANT_ADMIN, Role.MANAGEMENT_TEAM)


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
