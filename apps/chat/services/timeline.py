"""A channel's timeline: appending messages (the next sequence number, the channel's
last-message fields) and SYSTEM entries, and announcing them."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import connection
from django.utils import timezone
from django_tenants.utils import quote_schema_name

from apps.accounts.actors import Actor
from apps.accounts.models import User
from apps.chat import events
from apps.chat.locate import PUBLIC, Located
from apps.chat.models import (
    ID_SEQUENCE,
    Channel,
    ChannelStatus,
    ChannelType,
    Message,
    MessageKind,
    Participant,
    ParticipantRole,
    SenderType,
)
from apps.chat.payloads import message_payload
from apps.core.db import cursor_as_it_stands
from apps.records import counters
from apps.tenancy.models import Tenant


def _tenant_schema(actor: Actor, channel: Channel) -> str:
    """The schema of the tenant the channel belongs to (its own, for platform tickets)."""
    if channel.type == ChannelType.PLATFORM_SUPPORT and channel.tenant is not None:
        return channel.tenant.schema_name
    return actor.tenant.schema_name


def _user_groups(actor: Actor, channel: Channel, user_ids: Iterable[int]) -> list[str]:
    schema = _tenant_schema(actor, channel)
    groups = [events.user_group(schema, uid) for uid in user_ids]
    groups += [events.user_group(PUBLIC, uid) for uid in user_ids]
    return groups


@dataclass
class Appended:
    message: Message
    # Every other participant: (user id, last read public seq), to set against
    # `message.public_seq` for their badge; empty for a note (no badge moves).
    readers: list[tuple[int, int]]


# Every participant but the sender, with their read mark: the badges a message moves.
_READERS = """ARRAY(SELECT ARRAY[user_id, last_read_public_seq] FROM {t}chat_participant
             WHERE channel_id = %(channel)s AND user_id IS DISTINCT FROM %(sender)s
               AND NOT %(note)s)"""

# One round trip: the message, the channel's last-message fields, the author's read mark,
# the other participants' read marks (for their badges) and the tenant's message count
# (in the channel's counter slot), all in the caller's transaction on the row-locked channel.
# A note takes the next `seq` but leaves the conversation's fields alone: the public
# count, the last message, the activity time (the list's order) and everyone's badge.
_APPEND_SQL = """
WITH new_message AS (
    INSERT INTO chat_message
        (channel_id, seq, public_seq, sender_id, sender_type, kind, content, created_at,
         removed_at, removed_by_id)
    VALUES (%(channel)s, %(seq)s, %(public_seq)s, %(sender)s, %(sender_type)s, %(kind)s,
            %(content)s, %(now)s, NULL, NULL)
    RETURNING id
), moved_channel AS (
    UPDATE chat_channel
    SET last_seq = %(seq)s, last_public_seq = %(public_seq)s,
        last_message_id = CASE WHEN %(note)s THEN last_message_id
                               ELSE (SELECT id FROM new_message) END,
        last_activity_at = CASE WHEN %(note)s THEN last_activity_at ELSE %(now)s END,
        updated_at = %(now)s
    WHERE id = %(channel)s
), read_by_author AS (
    UPDATE chat_participant
    SET last_read_seq = %(seq)s, last_read_public_seq = %(public_seq)s, last_read_at = %(now)s
    WHERE id = %(participant)s AND last_read_seq < %(seq)s
),{counted}
SELECT (SELECT id FROM new_message), {readers}
""".replace("{counted}", counters.message_cte()).replace("{readers}", _READERS.replace("{t}", ""))


def _append(
    channel: Channel,
    *,
    content: str,
    sender: User | None,
    sender_type: SenderType,
    kind: MessageKind = MessageKind.USER,
    author: Participant | None = None,
    tenant_id: int | None = None,
) -> Appended:
    """Adds a message to a row-locked channel: the next sequence number, the channel's
    last-message fields and, given the `author`'s participant row, their read mark; the
    message counts for `tenant_id` (None: a platform ticket, counted nowhere)."""
    now = timezone.now()
    seq = channel.last_seq + 1
    note = kind == MessageKind.NOTE
    public_seq = channel.last_public_seq + (0 if note else 1)
    params: dict[str, Any] = {
        "channel": channel.pk,
        "seq": seq,
        "public_seq": public_seq,
        "note": note,
        "sender": sender.pk if sender else None,
        "sender_type": str(sender_type),
        "kind": str(kind),
        "content": content,
        "now": now,
        "participant": author.pk if author else None,
        "count_tenant": tenant_id,
        "count_slot": counters.slot_of(channel.pk),
    }
    with connection.cursor() as cursor:
        cursor.execute(_APPEND_SQL, params)
        message_id, readers = cursor.fetchone()
    appended = _appended(
        message_id,
        seq,
        public_seq,
        readers,
        sender=sender,
        kind=kind,
        params=params,
        channel=channel,
    )
    message = appended.message
    channel.last_seq, channel.last_public_seq = seq, public_seq
    channel.updated_at = now
    if not note:
        channel.last_message = message
        channel.last_activity_at = now
    if author is not None and author.last_read_seq < seq:
        author.last_read_seq, author.last_read_at = seq, now
        author.last_read_public_seq = public_seq
    return appended


def _appended(
    message_id: int,
    seq: int,
    public_seq: int,
    readers: list[list[int]],
    *,
    sender: User | None,
    kind: MessageKind,
    params: dict[str, Any],
    **channel: Any,
) -> Appended:
    """The message a statement stored (its `channel`, or `channel_id`), as loaded from
    the database, and the read marks it returned."""
    message = Message(
        id=message_id,
        seq=seq,
        public_seq=public_seq,
        sender=sender,
        sender_type=params["sender_type"],
        kind=kind,
        content=params["content"],
        created_at=params["now"],
        **channel,
    )
    message._state.adding = False
    message._state.db = connection.alias
    return Appended(message=message, readers=[(user, read) for user, read in readers])


# The common message in ONE statement, its own transaction: a member's USER message in a
# team or tournament channel that is not archived. The UPDATE takes the channel's row lock
# (a concurrent send waits, then counts on from the row it left) and the message's id from
# the schema's shared sequence; the message, the author's read mark and the tenant's count
# follow from its row. No row when any condition fails: the caller takes the general path,
# which decides and explains. Every table is named with its schema ({t}: the tenant's,
# `_post_sql`), so the statement runs on whatever search path the connection is on.
_POST_SQL = f"""
WITH moved_channel AS (
    UPDATE {{t}}chat_channel c
    SET last_seq = c.last_seq + 1, last_public_seq = c.last_public_seq + 1,
        last_message_id = nextval(%(id_sequence)s::regclass),
        last_activity_at = %(now)s, updated_at = %(now)s
    WHERE c.id = %(channel)s
      AND c.type IN ('{ChannelType.TEAM}', '{ChannelType.TOURNAMENT}')
      AND c.status <> '{ChannelStatus.ARCHIVED}'
      AND EXISTS (SELECT 1 FROM {{t}}chat_participant p
                  WHERE p.channel_id = c.id AND p.user_id = %(sender)s
                    AND p.role <> '{ParticipantRole.OBSERVER}')
    RETURNING c.last_message_id AS id, c.last_seq AS seq, c.last_public_seq AS public_seq
), new_message AS (
    INSERT INTO {{t}}chat_message
        (id, channel_id, seq, public_seq, sender_id, sender_type, kind, content, created_at,
         removed_at, removed_by_id)
    SELECT id, %(channel)s, seq, public_seq, %(sender)s, %(sender_type)s,
           '{MessageKind.USER}', %(content)s, %(now)s, NULL, NULL
    FROM moved_channel
    RETURNING id, seq, public_seq
), read_by_author AS (
    UPDATE {{t}}chat_participant p
    SET last_read_seq = m.seq, last_read_public_seq = m.public_seq, last_read_at = %(now)s
    FROM new_message m
    WHERE p.channel_id = %(channel)s AND p.user_id = %(sender)s AND p.last_read_seq < m.seq
),{{counted}}
SELECT m.id, m.seq, m.public_seq, {{readers}} FROM new_message m
""".replace("{counted}", counters.message_cte("EXISTS (SELECT 1 FROM new_message)")).replace(
    "{readers}", _READERS
)


@functools.lru_cache(maxsize=1024)
def _post_sql(schema: str) -> str:
    """`_POST_SQL` on the schema: one text per tenant, which PostgreSQL keeps planned."""
    return _POST_SQL.replace("{t}", f"{quote_schema_name(schema)}.")


def _post(
    channel_id: UUID, *, content: str, sender: User, sender_type: SenderType, tenant: Tenant
) -> Appended | None:
    """A member's message in a team or tournament channel of `tenant`, in one statement
    (`_POST_SQL`) that names the tenant's schema in every table; None when the channel is
    not one, or is archived, or the sender may not post in it (not found, or an
    observer).

    The statement leaves the connection's search path as it stands (`cursor_as_it_stands`):
    PostgreSQL plans a prepared statement again whenever the search path changed since, so
    a thread serving many tenants' sends in turn would otherwise pay a plan per send."""
    now = timezone.now()
    params: dict[str, Any] = {
        "channel": channel_id,
        "note": False,
        "sender": sender.pk,
        "sender_type": str(sender_type),
        "content": content,
        "now": now,
        "id_sequence": f"{quote_schema_name(tenant.schema_name)}.{ID_SEQUENCE}",
        "count_tenant": tenant.pk,
        "count_slot": counters.slot_of(channel_id),
    }
    with cursor_as_it_stands() as cursor:
        cursor.execute(_post_sql(tenant.schema_name), params)
        row = cursor.fetchone()
    if row is None:
        return None
    return _appended(
        *row, sender=sender, kind=MessageKind.USER, params=params, channel_id=channel_id
    )


def _announce(located: Located, message: Message) -> None:
    """`new_message` to the channel's room; a note to its notes room only, which only the
    sockets of people who see notes join (see `apps.chat.consumers`)."""
    if message.kind == MessageKind.NOTE:
        group = events.notes_group(located.schema, located.channel.pk)
    else:
        group = events.channel_group(located.schema, located.channel.pk)
    events.publish("new_message", message_payload(message), groups=[group])


def _system(located: Located, text: str) -> Message:
    message = _append(
        located.channel,
        content=text,
        sender=None,
        sender_type=SenderType.SYSTEM,
        kind=MessageKind.SYSTEM,
        tenant_id=located.tenant_id,
    ).message
    _announce(located, message)
    return message


def _status_changed(actor: Actor, located: Located, text: str) -> None:
    _status_changed_by(located, text, actor.user.pk)


def _status_changed_by(located: Located, text: str, changed_by: int | None) -> None:
    """A SYSTEM entry and `channel_status_changed`; `changed_by` None: the system did it."""
    _system(located, text)
    channel = located.channel
    data = {
        "channelId": str(channel.pk),
        "status": channel.status,
        "ticketStatus": channel.ticket.status if channel.has_ticket else None,
        "changedBy": changed_by,
    }
    events.publish(
        "channel_status_changed",
        data,
        groups=[events.channel_group(located.schema, channel.pk)],
    )
