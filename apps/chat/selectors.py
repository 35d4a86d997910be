"""Reads. Every function takes the actor; visibility is decided in `apps.chat.locate`."""

from __future__ import annotations

from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from uuid import UUID

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, F, Q, QuerySet, Subquery, Sum

from apps.accounts.actors import Actor
from apps.chat import policy
from apps.chat.locate import PUBLIC, Located, visible_scopes
from apps.chat.models import (
    CannedResponse,
    Channel,
    Message,
    MessageKind,
    Participant,
    SupportTicket,
)
from apps.core.db import Part, RowReader, fields_of, on_schema, row_reader
from apps.core.exceptions import InvalidInput, NotFound
from apps.core.fields import db_int
from apps.tenancy.models import Tenant

PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
CHANNEL_PAGE_SIZE = 50
MAX_CHANNEL_PAGE_SIZE = 200


def _with_read_state(channel: Channel, participant: Participant | None) -> Channel:
    channel.unread_count = (
        channel.last_public_seq - participant.last_read_public_seq if participant else 0
    )
    channel.my_role = participant.role if participant else None
    return channel


ACTIVITY = "activity"
SLA_DUE = "slaDue"


@dataclass(frozen=True)
class ChannelCursor:
    """Where a page of the channel list ends: its last channel's sort key (activity time,
    or the ticket's SLA due time with `sort=slaDue`) and id."""

    last_activity_at: datetime  # the sort key's value
    id: UUID
    sort: str = ACTIVITY

    def encode(self) -> str:
        prefix = "" if self.sort == ACTIVITY else f"{self.sort}|"
        raw = f"{prefix}{self.last_activity_at.isoformat()}|{self.id}".encode()
        return urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, *, sort: str = ACTIVITY) -> ChannelCursor:
        try:
            raw = urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            parts = raw.split("|")
            given = parts.pop(0) if len(parts) == 3 else ACTIVITY
            if given != sort or len(parts) != 2:
                raise ValueError(raw)
            at, pk = parts
            when = datetime.fromisoformat(at)
            if when.tzinfo is None:
                raise ValueError(at)
            return cls(last_activity_at=when, id=UUID(pk), sort=sort)
        except ValueError:
            raise InvalidInput(
                "Unknown cursor.", fields={"cursor": ["Use the `next` of a previous page."]}
            ) from None


@dataclass
class ChannelPage:
    channels: list[Channel]
    next: ChannelCursor | None


def _keyset(after: ChannelCursor | None, sort: str) -> Q:
    if after is None:
        return Q()
    if sort == SLA_DUE:
        at = after.last_activity_at
        return Q(ticket__sla_due_at__gt=at) | Q(ticket__sla_due_at=at, id__gt=after.id)
    return Q(last_activity_at__lt=after.last_activity_at) | Q(
        last_activity_at=after.last_activity_at, id__lt=after.id
    )


@cache
def _page_query() -> tuple[str, RowReader]:
    """The page's channels with all a list shows of each, in one statement whose text
    never changes (so PostgreSQL keeps it prepared): the ORM's select_related took longer
    to build this query, and to turn its rows into models, than PostgreSQL took to run it.
    Only the columns the list shows are read; each timestamp costs a parse."""
    user = get_user_model()
    brief = ("id", "display_name")
    parts = [
        Part(Channel, "c", fields_of(Channel, "updated_at")),
        Part(SupportTicket, "t", fields_of(SupportTicket, "updated_at", "sla_paused_seconds")),
        Part(user, "a", brief),
        Part(Tenant, "tn", ("id", "schema_name")),
        Part(Message, "m", fields_of(Message)),
        Part(user, "s", brief),
    ]
    columns = ", ".join(part.columns() for part in parts)
    sql = (
        f'SELECT {columns}, p."last_read_public_seq", p."role" '
        f"FROM {Channel._meta.db_table} c "
        f"LEFT JOIN {Participant._meta.db_table} p ON p.channel_id = c.id AND p.user_id = %s "
        f"LEFT JOIN {SupportTicket._meta.db_table} t ON t.channel_id = c.id "
        f"LEFT JOIN {user._meta.db_table} a ON a.id = c.assigned_to_id "
        f"LEFT JOIN {Tenant._meta.db_table} tn ON tn.id = c.tenant_id "
        f"LEFT JOIN {Message._meta.db_table} m ON m.id = c.last_message_id "
        f"LEFT JOIN {user._meta.db_table} s ON s.id = m.sender_id "
        "WHERE c.id = ANY(%s)"
    )
    return sql, row_reader(parts)


def _listed(ids: list[UUID], user_id: int) -> list[Channel]:
    """The channels `ids` (of the current schema) as `channel_payload` shows them, with the
    user's unread count and role, related rows cached as select_related leaves them."""
    sql, read_row = _page_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, ids])
        rows = cursor.fetchall()
    channels = []
    for row in rows:
        channel, ticket, assigned_to, tenant, last_message, sender = read_row(row)
        Channel.ticket.related.set_cached_value(channel, ticket)
        if ticket is not None:
            SupportTicket.channel.field.set_cached_value(ticket, channel)
        Channel.assigned_to.field.set_cached_value(channel, assigned_to)
        Channel.tenant.field.set_cached_value(channel, tenant)
        Channel.last_message.field.set_cached_value(channel, last_message)
        if last_message is not None:
            Message.sender.field.set_cached_value(last_message, sender)
        read, role = row[-2:]  # the participant's columns, after the models'
        channel.unread_count = channel.last_public_seq - read if read is not None else 0
        channel.my_role = role
        channels.append(channel)
    return channels


def _sort_key(channel: Channel, sort: str) -> datetime:
    if sort == SLA_DUE:
        due = channel.ticket.sla_due_at
        assert due is not None  # the list keeps only tickets with a due time
        return due
    return channel.last_activity_at


def channel_list(
    *,
    actor: Actor,
    type: str | None = None,
    status: str | None = None,
    context_id: str | None = None,
    sla_breached: bool | None = None,
    sla_due_before: datetime | None = None,
    sort: str = ACTIVITY,
    after: ChannelCursor | None = None,
    limit: int = CHANNEL_PAGE_SIZE,
) -> ChannelPage:
    """A page of the actor's channels, most recently active first (ties by id), each with
    `unread_count` and `last_message`: one query per schema, whatever the number of
    channels; `after` continues from a previous page's `next`. `sort=slaDue` lists the
    tickets whose SLA clock runs, soonest due (most overdue) first; `sla_breached` and
    `sla_due_before` filter on the tickets' stored SLA columns."""
    filters: dict[str, object] = {}
    if type:
        filters["type"] = type
    if status:
        filters["status"] = status
    if context_id:
        filters["context_id"] = context_id
    if sla_breached is not None:
        filters["ticket__sla_breached"] = sla_breached
    if sla_due_before is not None:
        filters["ticket__sla_due_at__lte"] = sla_due_before
    if sort == SLA_DUE:
        filters["ticket__sla_due_at__isnull"] = False
        order = ("ticket__sla_due_at", "id")
    else:
        order = ("-last_activity_at", "-id")
    keyset = _keyset(after, sort)
    channels: list[Channel] = []
    for schema, allowed in visible_scopes(actor):
        with on_schema(schema):
            # The page first, from the channel rows alone; then what each of its channels
            # shows, for those few only (one wide join over every channel of a busy user
            # costs more to plan and run than the page itself).
            page_ids = list(
                Channel.objects.filter(allowed, keyset, **filters)
                .order_by(*order)
                .values_list("pk", flat=True)[: limit + 1]
            )
            if page_ids:
                channels += _listed(page_ids, actor.user.pk)
    if sort == SLA_DUE:
        channels.sort(key=lambda c: (_sort_key(c, sort), c.id))
    else:
        channels.sort(key=lambda c: (c.last_activity_at, c.id), reverse=True)
    page, more = channels[:limit], len(channels) > limit
    last = page[-1] if more else None
    return ChannelPage(
        channels=page,
        next=ChannelCursor(last_activity_at=_sort_key(last, sort), id=last.id, sort=sort)
        if last
        else None,
    )


def unread_total(*, actor: Actor) -> dict[str, int]:
    """For the navbar badge: unread messages over all the actor's channels, and how many
    channels have any."""
    total = channels = 0
    for schema, allowed in visible_scopes(actor):
        with on_schema(schema):
            rows = Participant.objects.filter(
                user=actor.user, channel__in=Channel.objects.filter(allowed).values("pk")
            ).annotate(unread=F("channel__last_public_seq") - F("last_read_public_seq"))
            unread = Q(unread__gt=0)
            totals = rows.aggregate(
                total=Sum("unread", filter=unread), channels=Count("pk", filter=unread)
            )
            total += totals["total"] or 0
            channels += totals["channels"]
    return {"total": total, "channels": channels}


def channel_read_state(*, located: Located) -> Channel:
    """The located channel with the actor's unread count and role."""
    return _with_read_state(located.channel, located.participant)


def channel_participants(*, located: Located) -> list[Participant]:
    return list(
        Participant.objects.filter(channel=located.channel)
        .select_related("user")
        .order_by("joined_at", "id")
    )


@dataclass
class MessagePage:
    messages: list[Message]
    has_more: bool
    direction: str  # "older": newest first; "newer": oldest first


def _cursor_id(message_id: object, field: str) -> int:
    try:
        return db_int(message_id)
    except ValueError:
        raise InvalidInput("Invalid cursor.", fields={field: ["Must be a message id."]}) from None


def _cursor_seq(messages: QuerySet[Message], pk: int) -> Subquery:
    """The cursor message's `seq`, read inside the page's own query (one round trip
    however deep the page); NULL, so no rows, for a message not in `messages`."""
    return Subquery(messages.filter(pk=pk).values("seq")[:1])


def message_page(
    *,
    actor: Actor,
    located: Located,
    before: object = None,
    after: object = None,
    limit: int = PAGE_SIZE,
) -> MessagePage:
    """Keyset pages over (channel, seq). Without a cursor or with `before`: the newest
    messages older than the cursor, newest first. With `after` (resuming after a
    disconnect): the messages after the cursor, oldest first, so they can be appended.
    Internal notes only for an actor who sees them (`policy.sees_notes`, asked here for
    every reader); for everyone else a note does not exist, not even as a cursor."""
    if before is not None and after is not None:
        raise InvalidInput(
            "Give either before or after, not both.", fields={"before": ["Conflicts with after."]}
        )
    messages = Message.objects.filter(channel=located.channel)
    if not policy.sees_notes(actor, located.channel):
        messages = messages.exclude(kind=MessageKind.NOTE)
    cursor: tuple[str, int] | None = None
    page = messages.select_related("sender")
    if after is not None:
        pk = _cursor_id(after, "after")
        if pk != 0:  # after=0: from the very first message
            cursor = ("after", pk)
            page = page.filter(seq__gt=_cursor_seq(messages, pk))
        rows = list(page.order_by("seq")[: limit + 1])
        direction = "newer"
    else:
        if before is not None:
            cursor = ("before", _cursor_id(before, "before"))
            page = page.filter(seq__lt=_cursor_seq(messages, cursor[1]))
        rows = list(page.order_by("-seq")[: limit + 1])
        direction = "older"
    if not rows and cursor is not None and not messages.filter(pk=cursor[1]).exists():
        field = cursor[0]
        raise InvalidInput("Invalid cursor.", fields={field: ["No such message in this channel."]})
    return MessagePage(messages=rows[:limit], has_more=len(rows) > limit, direction=direction)


MAX_CANNED = 200


def canned_responses(*, actor: Actor, prefix: str | None = None) -> list[CannedResponse]:
    """The host's canned responses by shortcut; `prefix`: those whose shortcut starts so."""
    policy.can_read_canned(actor).enforce()
    schema = PUBLIC if actor.tenant.is_public else actor.tenant.schema_name
    with on_schema(schema):
        rows = CannedResponse.objects.order_by("shortcut")
        if prefix:
            rows = rows.filter(shortcut__startswith=prefix.lower())
        return list(rows[:MAX_CANNED])


def canned_response(*, actor: Actor, response_id: object) -> CannedResponse:
    policy.can_read_canned(actor).enforce()
    schema = PUBLIC if actor.tenant.is_public else actor.tenant.schema_name
    with on_schema(schema):
        try:
            return CannedResponse.objects.get(pk=db_int(response_id))
        except (ValueError, CannedResponse.DoesNotExist):
            raise NotFound("Canned response not found.") from None
