"""A tenant's chat data as one JSON document, produced piece by piece.

The document is streamed: channels are read 100 at a time and each channel's messages
5,000 at a time (keyset on `seq`), so memory stays flat however much the tenant holds.
Each piece is read in its own short query with the schema entered and left around it,
never held across a `yield`. The export is therefore not one snapshot: each channel's
messages are complete and in order up to the moment that channel is read; messages
sent meanwhile may or may not appear.

    {"version", "exportedAt", "tenant", "members": [...], "channels": [...],
     "platformTickets": [...], "escalations": [...], "people": [...]}

Channels and platform tickets: every field, the ticket, the participants and
`messages` oldest first (removed ones included, with `removedAt`/`removedBy`). People are
referred to by user id; `members` and `people` (everyone else the document names: former
members, super admins who answered) give each id's email, by which `manage.py
tenant_import` (`apps.platform.restore`) finds or creates the accounts in another database.

Versions: 1 had no `people` and no member `status`; 2 has them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.actors import Actor
from apps.accounts.models import Membership, User
from apps.chat.models import Channel, ChannelType, Message, Participant, SupportTicket
from apps.platform.services import audit_tenant, require_console, tenant_get
from apps.records.audit import Action
from apps.records.models import Escalation
from apps.tenancy.models import Tenant
from apps.tenancy.services import tenant_host

VERSION = 2
CHANNEL_BATCH = 100
MESSAGE_BATCH = 5000


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _message(m: Message) -> dict[str, Any]:
    return {
        "id": m.pk,
        "seq": m.seq,
        "senderId": m.sender_id,
        "senderType": m.sender_type,
        "kind": m.kind,
        "content": m.content,
        "createdAt": _iso(m.created_at),
        "removedAt": _iso(m.removed_at),
        "removedBy": m.removed_by_id,
    }


def _ticket(ticket: SupportTicket | None) -> dict[str, Any] | None:
    if ticket is None:
        return None
    return {
        "requesterId": ticket.requester_id,
        "category": ticket.category,
        "priority": ticket.priority,
        "status": ticket.status,
        "firstResponseAt": _iso(ticket.first_response_at),
        "resolvedAt": _iso(ticket.resolved_at),
        "closedAt": _iso(ticket.closed_at),
        "rating": ticket.rating,
        "ratingComment": ticket.rating_comment,
        "ratedAt": _iso(ticket.rated_at),
        "createdAt": _iso(ticket.created_at),
    }


def _channel_heads(schema: str, channels: QuerySet[Channel]) -> Iterator[list[dict[str, Any]]]:
    """Channels oldest first, a batch at a time, each without its messages."""
    after: tuple[Any, Any] | None = None
    while True:
        with schema_context(schema):
            batch = channels.order_by("created_at", "id")
            if after is not None:
                batch = batch.filter(
                    Q(created_at__gt=after[0]) | Q(created_at=after[0], id__gt=after[1])
                )
            rows = list(batch[:CHANNEL_BATCH])
            ids = [c.pk for c in rows]
            tickets = {t.channel_id: t for t in SupportTicket.objects.filter(channel_id__in=ids)}
            members: dict[Any, list[dict[str, Any]]] = {pk: [] for pk in ids}
            for p in Participant.objects.filter(channel_id__in=ids).order_by("joined_at", "id"):
                members[p.channel_id].append(
                    {
                        "userId": p.user_id,
                        "role": p.role,
                        "lastReadSeq": p.last_read_seq,
                        "joinedAt": _iso(p.joined_at),
                    }
                )
        if not rows:
            return
        after = (rows[-1].created_at, rows[-1].pk)
        yield [
            {
                "id": str(c.pk),
                "type": c.type,
                "status": c.status,
                "subject": c.subject,
                "contextId": c.context_id,
                "createdBy": c.created_by_id,
                "assignedTo": c.assigned_to_id,
                "escalationReason": c.escalation_reason,
                "escalatedAt": _iso(c.escalated_at),
                "resolvedAt": _iso(c.resolved_at),
                "archivedAt": _iso(c.archived_at),
                "createdAt": _iso(c.created_at),
                "ticket": _ticket(tickets.get(c.pk)),
                "participants": members[c.pk],
            }
            for c in rows
        ]


def _named(head: dict[str, Any]) -> set[int]:
    """The users a channel head names."""
    ids = {head["createdBy"], head["assignedTo"]}
    ids.update(p["userId"] for p in head["participants"])
    if head["ticket"]:
        ids.add(head["ticket"]["requesterId"])
    return {i for i in ids if i is not None}


def _channels(schema: str, channels: QuerySet[Channel], named: set[int]) -> Iterator[str]:
    """A JSON array of channels, each with its messages, in pieces; the users they name
    are added to `named`."""
    yield "["
    separator = ""
    for heads in _channel_heads(schema, channels):
        for head in heads:
            named.update(_named(head))
            yield separator + _dumps(head)[:-1] + ',"messages":['
            separator = ","
            last_seq, between = 0, ""
            while True:
                with schema_context(schema):
                    rows = list(
                        Message.objects.filter(channel_id=head["id"], seq__gt=last_seq).order_by(
                            "seq"
                        )[:MESSAGE_BATCH]
                    )
                if not rows:
                    break
                named.update(m.sender_id for m in rows if m.sender_id is not None)
                named.update(m.removed_by_id for m in rows if m.removed_by_id is not None)
                yield between + ",".join(_dumps(_message(m)) for m in rows)
                between, last_seq = ",", rows[-1].seq
            yield "]}"
    yield "]"


def _opening(tenant: Tenant) -> str:
    members = [
        {
            "userId": m.user_id,
            "email": m.user.email,
            "displayName": m.user.display_name,
            "role": m.role,
            "status": m.status,
            "since": _iso(m.created_at),
        }
        for m in Membership.objects.filter(tenant=tenant).select_related("user").order_by("user_id")
    ]
    head = {
        "version": VERSION,
        "exportedAt": _iso(timezone.now()),
        "tenant": {
            "slug": tenant.schema_name,
            "name": tenant.name,
            "host": tenant_host(tenant.schema_name),
            "status": tenant.status,
            "createdAt": _iso(tenant.created_at),
        },
        "members": members,
    }
    return _dumps(head)[:-1]


def _escalations(tenant: Tenant, named: set[int]) -> str:
    rows = list(Escalation.objects.filter(tenant=tenant).order_by("escalated_at", "id"))
    named.update(e.escalated_by_id for e in rows if e.escalated_by_id is not None)
    return _dumps(
        [
            {
                "id": e.pk,
                "channelId": str(e.channel_id),
                "subject": e.subject,
                "reason": e.reason,
                "escalatedBy": e.escalated_by_id,
                "escalatedAt": _iso(e.escalated_at),
                "state": e.state,
                "closedAt": _iso(e.closed_at),
            }
            for e in rows
        ]
    )


def tenant_export(*, actor: Actor, slug: str) -> Iterator[str]:
    """The pieces of the export document. The permission check, the tenant lookup and the
    audit entry happen on the first `next()`, so a caller can fail before it streams."""
    require_console(actor)
    tenant = tenant_get(slug)
    audit_tenant(actor, Action.TENANT_EXPORTED, tenant)
    yield _opening(tenant)
    named: set[int] = set()
    yield ',"channels":'
    yield from _channels(tenant.schema_name, Channel.objects.all(), named)
    yield ',"platformTickets":'
    platform = Channel.objects.filter(type=ChannelType.PLATFORM_SUPPORT, tenant=tenant)
    yield from _channels(settings.PUBLIC_SCHEMA_NAME, platform, named)
    yield ',"escalations":' + _escalations(tenant, named)
    yield ',"people":' + _people(tenant, named) + "}"


def _people(tenant: Tenant, named: set[int]) -> str:
    """Everyone the document names who is not a member, oldest account first."""
    members = Membership.objects.filter(tenant=tenant).values("user_id")
    rows = User.objects.filter(pk__in=named).exclude(pk__in=members).order_by("pk")
    return _dumps([{"userId": u.pk, "email": u.email, "displayName": u.display_name} for u in rows])
