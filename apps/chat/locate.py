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
from functools import cache
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection
from django.db.models import Q

from apps.accounts.actors import Actor
from apps.chat.models import Channel, ChannelType, Participant
from apps.core.db import Part, fields_of, on_schema, row_reader, tenant_connection
from apps.core.exceptions import NotFound
from apps.records.models import Escalation

PUBLIC = settings.PUBLIC_SCHEMA_NAME


@dataclass
class Located:
    channel: Channel
    participant: Participant | None  # the actor's own row; None for a console super admin
    schema: str
    # The tenant whose schema holds the channel; None for a platform ticket (public).
    tenant_id: int | None = None


def _owner(actor: Actor, schema: str) -> int | None:
    return None if schema == PUBLIC else actor.tenant.pk


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


def channel_pk(channel_id: object) -> UUID:
    """The channel's key; NotFound when `channel_id` cannot be one."""
    try:
        return UUID(str(channel_id))
    except ValueError:
        raise NotFound("Channel not found.") from None


_MEMBER_PARTS = (
    Part(Channel, "c", fields_of(Channel)),
    Part(Participant, "p", fields_of(Participant)),
)
_member_row = row_reader(_MEMBER_PARTS)


@cache
def _member_lookup_sql(*, platform: bool, lock: bool) -> str:
    """A channel and the actor's participant row in one query: what members (everyone
    but super admins) may see is exactly the channels they take part in."""
    where = "c.id = %s"
    if platform:
        where += f" AND c.type = '{ChannelType.PLATFORM_SUPPORT}' AND c.tenant_id = %s"
    return (
        f"SELECT {', '.join(part.columns() for part in _MEMBER_PARTS)} "
        "FROM chat_channel c JOIN chat_participant p ON p.channel_id = c.id AND p.user_id = %s "
        f"WHERE {where}" + (" FOR UPDATE OF c" if lock else "")
    )


def _member_located(actor: Actor, pk: UUID, *, lock: bool) -> Located | None:
    """The fast path of `channel_located` for members, on the current schema."""
    schema = str(tenant_connection().schema_name)
    platform = schema == PUBLIC
    params: list[Any] = [actor.user.pk, pk]
    if platform:
        params.append(actor.tenant.pk)
    with connection.cursor() as cursor:
        cursor.execute(_member_lookup_sql(platform=platform, lock=lock), params)
        row = cursor.fetchone()
    if row is None:
        return None
    channel, participant = _member_row(row)
    participant.channel = channel
    return Located(
        channel=channel, participant=participant, schema=schema, tenant_id=_owner(actor, schema)
    )


@contextmanager
def channel_located(actor: Actor, channel_id: object, *, lock: bool = False) -> Iterator[Located]:
    """Yields the channel (row-locked when `lock`, which needs a transaction) with the
    connection on its schema; raises NotFound when the actor may not see it."""
    pk = channel_pk(channel_id)
    if not actor.is_super_admin:
        for schema, _allowed in _visible(actor):
            with on_schema(schema):
                located = _member_located(actor, pk, lock=lock)
                if located is not None:
                    yield located
                    return
        raise NotFound("Channel not found.")
    for schema, allowed in _visible(actor):
        with on_schema(schema):
            channels = Channel.objects.select_related("ticket", "assigned_to").filter(
                allowed, pk=pk
            )
            if lock:
                channels = channels.select_for_update(of=("self",))
            channel = channels.first()
            if channel is None:
                continue
            participant = Participant.objects.filter(channel=channel, user=actor.user).first()
            yield Located(
                channel=channel,
                participant=participant,
                schema=schema,
                tenant_id=_owner(actor, schema),
            )
            return
    raise NotFound("Channel not found.")
