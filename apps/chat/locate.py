"""Finding a channel the actor may see, and entering the schema it lives in.

Tenant channels live in the host tenant's schema; PLATFORM_SUPPORT channels live in the
public schema. Every read or write of one channel goes through `channel_located`, which
answers 404 for a channel that does not exist *or* is not the actor's to see, and keeps
the connection on the channel's schema for the duration of the block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.db.models import Q
from django_tenants.utils import schema_context

from apps.accounts.actors import Actor
from apps.chat.models import Channel, ChannelType, Participant
from apps.core.exceptions import NotFound
from apps.records.models import Escalation

PUBLIC = settings.PUBLIC_SCHEMA_NAME


@dataclass
class Located:
    channel: Channel
    participant: Participant | None  # the actor's own row; None for a console super admin
    schema: str


def schema_for_type(actor: Actor, channel_type: str) -> str:
    return PUBLIC if channel_type == ChannelType.PLATFORM_SUPPORT else actor.tenant.schema_name


def _visible(actor: Actor) -> list[tuple[str, Q]]:
    """(schema, filter) pairs, in lookup order, of the channels this actor may see."""
    mine = Q(participants__user=actor.user)
    platform = Q(type=ChannelType.PLATFORM_SUPPORT)
    if actor.tenant.is_public:
        # The console: super admins see every platform ticket.
        return [(PUBLIC, platform)] if actor.is_super_admin else []
    if actor.is_super_admin:
        # Super admins see the tenant's channels that were ever escalated (the public
        # index), whether or not they joined them: the console opens any escalation.
        # Subqueries, not joins, so a channel is not listed once per member.
        joined = Participant.objects.filter(user=actor.user).values("channel_id")
        escalated = Escalation.objects.filter(tenant=actor.tenant).values("channel_id")
        mine = Q(pk__in=joined) | Q(pk__in=escalated)
    return [
        (actor.tenant.schema_name, mine),
        (PUBLIC, platform & Q(tenant=actor.tenant) & mine),
    ]


def visible_scopes(actor: Actor) -> list[tuple[str, Q]]:
    return _visible(actor)


def _parse(channel_id: object) -> UUID:
    try:
        return UUID(str(channel_id))
    except ValueError:
        raise NotFound("Channel not found.") from None


@contextmanager
def channel_located(actor: Actor, channel_id: object, *, lock: bool = False) -> Iterator[Located]:
    """Yields the channel (row-locked when `lock`, which needs a transaction) with the
    connection on its schema; raises NotFound when the actor may not see it."""
    pk = _parse(channel_id)
    for schema, allowed in _visible(actor):
        with schema_context(schema):
            if not Channel.objects.filter(allowed, pk=pk).exists():
                continue
            channels = Channel.objects.select_related("ticket", "assigned_to")
            if lock:
                channels = channels.select_for_update(of=("self",))
            channel = channels.get(pk=pk)
            participant = Participant.objects.filter(channel=channel, user=actor.user).first()
            yield Located(channel=channel, participant=participant, schema=schema)
            return
    raise NotFound("Channel not found.")
