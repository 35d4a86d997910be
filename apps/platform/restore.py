"""Restoring a tenant from its console export (`apps.platform.export`), in any database
running this release: this is also how a tenant moves between databases.

Everything happens in one transaction, so a refused or failing import leaves nothing:
the tenant is provisioned as any new one is (`apps.tenancy.services.tenant_provision`:
schema from the migration template, domain `<slug>.<BASE_DOMAIN>`), then its members,
channels (with tickets, participants and messages, their sequence numbers and read
positions as exported), platform tickets and escalations are written, and its counters
are rebuilt (`apps.platform.recount`).

People are matched by email: the export names each user it refers to (`members`, and
`people` for the others), and an existing account with that email stands for them;
otherwise an account is created with an unusable password (its owner sets one with a
password reset, or signs in through the tenant's identity provider). An imported account
is never a super admin.

Ids: channel ids are kept (links to a channel keep working); so are message ids in the
tenant's own schema. Platform tickets live in the shared public schema: their messages get
new ids, and a ticket whose id is taken there (the tenant imported beside its original)
gets a new one. Escalations get new ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_tenants.utils import schema_context

from apps.accounts.models import Membership, MembershipStatus, Role, User
from apps.accounts.services import user_create
from apps.chat.models import (
    ID_SEQUENCE,
    ID_SEQUENCE_MODELS,
    Channel,
    ChannelType,
    Message,
    MessageKind,
    Participant,
    SupportTicket,
)
from apps.core.exceptions import Conflict, InvalidInput
from apps.platform.recount import recount_batch
from apps.records import audit
from apps.records.audit import Action
from apps.records.models import Escalation
from apps.tenancy import provisioning
from apps.tenancy.models import Tenant, TenantStatus
from apps.tenancy.services import tenant_host, tenant_provision

VERSIONS = (1, 2)  # what this release reads (`apps.platform.export.VERSION` writes)
BATCH = 5000  # rows per INSERT


class NotAnExport(InvalidInput):
    pass


@dataclass
class Imported:
    tenant: Tenant
    host: str
    channels: int = 0
    messages: int = 0
    platform_tickets: int = 0
    escalations: int = 0
    members: int = 0
    accounts_created: list[str] = field(default_factory=list)


def _at(value: Any) -> datetime:
    when = _when(value)
    if when is None:
        raise NotAnExport("A required timestamp is missing.", code="invalid_export")
    return when


def _when(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise NotAnExport(f"Not a timestamp: {value!r}.", code="invalid_export")
    return parsed


def _version(document: Any) -> int:
    if not isinstance(document, dict) or "tenant" not in document:
        raise NotAnExport("This is not a tenant export.", code="invalid_export")
    version = document.get("version")
    if version not in VERSIONS:
        raise NotAnExport(
            f"Unknown export format version {version!r}: this release reads versions "
            f"{', '.join(map(str, VERSIONS))}. Import it with a release that knows it.",
            code="unknown_export_version",
        )
    return int(version)


class _People:
    """Exported user ids -> accounts here, found by email or created."""

    def __init__(self, named: Iterable[dict[str, Any]]) -> None:
        self.ids: dict[int, int] = {}
        self.created: list[str] = []
        by_email: dict[str, list[int]] = {}
        names: dict[str, str] = {}
        for person in named:
            email = str(person["email"]).strip().lower()
            by_email.setdefault(email, []).append(int(person["userId"]))
            names[email] = person.get("displayName") or email.split("@")[0]
        found = {u.email: u.pk for u in User.objects.filter(email__in=list(by_email))}
        for email, old_ids in by_email.items():
            pk = found.get(email)
            if pk is None:
                pk = user_create(email=email, password=None, display_name=names[email]).pk
                self.created.append(email)
            for old in old_ids:
                self.ids[old] = pk

    def maybe(self, old: Any) -> int | None:
        return None if old is None else self(old)

    def __call__(self, old: Any) -> int:
        try:
            return self.ids[int(old)]
        except KeyError:
            raise NotAnExport(
                f"The export refers to user {old} without their email (exports before "
                "version 2 name members only): export the tenant again with this release.",
                code="invalid_export",
            ) from None


def tenant_import(*, document: Any, slug: str | None = None) -> Imported:
    """Restores the exported tenant as `slug` (by default its exported slug). Refused
    when that tenant exists or the document's format version is unknown; nothing is
    written then, nor when anything else fails."""
    version = _version(document)
    head = document["tenant"]
    slug = slug or head.get("slug")
    if Tenant.objects.filter(schema_name=slug).exists():
        raise Conflict(
            f"Tenant {slug!r} already exists: delete it first, or import under another "
            "slug (--slug).",
            code="tenant_exists",
        )
    provisioning.template_ensure()  # outside the transaction, as provisioning wants
    try:
        with transaction.atomic():
            return _import(document, version, str(slug))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise NotAnExport(
            f"The export is incomplete or malformed ({type(error).__name__}: {error}).",
            code="invalid_export",
        ) from None


def _import(document: dict[str, Any], version: int, slug: str) -> Imported:
    head = document["tenant"]
    tenant = tenant_provision(slug=slug, name=head["name"]).tenant
    status = head.get("status") or TenantStatus.ACTIVE
    Tenant.objects.filter(pk=tenant.pk).update(
        created_at=_when(head["createdAt"]) or timezone.now(),
        status=status,
        suspended_at=timezone.now() if status == TenantStatus.SUSPENDED else None,
    )
    tenant.refresh_from_db()
    members = document.get("members") or []
    people = _People([*members, *(document.get("people") or [])])
    result = Imported(tenant=tenant, host=tenant_host(slug), accounts_created=people.created)

    memberships = Membership.objects.bulk_create(
        Membership(
            user_id=people(m["userId"]),
            tenant=tenant,
            role=Role(m["role"]),
            status=MembershipStatus(m.get("status") or MembershipStatus.ACTIVE),
        )
        for m in members
    )
    for membership, exported in zip(memberships, members, strict=True):
        membership.created_at = _when(exported.get("since")) or membership.created_at
    Membership.objects.bulk_update(memberships, ["created_at"])
    result.members = len(memberships)

    with schema_context(slug):
        result.channels, result.messages = _channels(document["channels"], people, keep=True)
        _ids_continue()
    platform = document.get("platformTickets") or []
    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        taken = set(
            Channel.objects.filter(pk__in=[uuid.UUID(c["id"]) for c in platform]).values_list(
                "pk", flat=True
            )
        )
        result.platform_tickets, _ = _channels(
            platform, people, keep=False, tenant=tenant, taken=taken
        )
    escalations = document.get("escalations") or []
    Escalation.objects.bulk_create(
        Escalation(
            tenant=tenant,
            channel_id=uuid.UUID(e["channelId"]),
            subject=e.get("subject") or "",
            reason=e.get("reason") or "",
            escalated_by_id=people.maybe(e["escalatedBy"]),
            escalated_at=_at(e["escalatedAt"]),
            state=e["state"],
            closed_at=_when(e.get("closedAt")),
        )
        for e in escalations
    )
    result.escalations = len(escalations)
    recount_batch([tenant])
    audit.record(
        actor=None,
        action=Action.TENANT_IMPORTED,
        tenant=tenant,
        target_type="tenant",
        target_id=slug,
        details={
            "fromSlug": head.get("slug"),
            "exportedAt": document.get("exportedAt"),
            "version": version,
            "channels": result.channels,
            "messages": result.messages,
            "accountsCreated": len(people.created),
        },
    )
    return result


def _channels(
    exported: list[dict[str, Any]],
    people: _People,
    *,
    keep: bool,
    tenant: Tenant | None = None,
    taken: set[uuid.UUID] | None = None,
) -> tuple[int, int]:
    """Writes channels with their tickets, participants and messages in the current
    schema. `keep`: message ids as exported (the tenant's own schema)."""
    channels: list[Channel] = []
    tickets: list[SupportTicket] = []
    participants: list[Participant] = []
    messages: list[Message] = []
    for c in exported:
        pk = uuid.UUID(c["id"])
        if taken and pk in taken:
            pk = uuid.uuid4()
        rows = c.get("messages") or []
        created = _when(c["createdAt"]) or timezone.now()
        channels.append(
            Channel(
                id=pk,
                type=ChannelType(c["type"]),
                status=c["status"],
                subject=c.get("subject") or "",
                context_id=c.get("contextId"),
                tenant=tenant,
                created_by_id=people(c["createdBy"]),
                assigned_to_id=people.maybe(c.get("assignedTo")),
                escalation_reason=c.get("escalationReason") or "",
                escalated_at=_when(c.get("escalatedAt")),
                resolved_at=_when(c.get("resolvedAt")),
                archived_at=_when(c.get("archivedAt")),
                created_at=created,
                last_seq=max((int(m["seq"]) for m in rows), default=0),
                last_activity_at=_at(rows[-1]["createdAt"]) if rows else created,
            )
        )
        if c.get("ticket"):
            t = c["ticket"]
            tickets.append(
                SupportTicket(
                    channel_id=pk,
                    requester_id=people(t["requesterId"]),
                    category=t["category"],
                    priority=t["priority"],
                    status=t["status"],
                    first_response_at=_when(t.get("firstResponseAt")),
                    resolved_at=_when(t.get("resolvedAt")),
                    closed_at=_when(t.get("closedAt")),
                    rating=t.get("rating"),
                    rating_comment=t.get("ratingComment") or "",
                    rated_at=_when(t.get("ratedAt")),
                    created_at=_when(t.get("createdAt")) or created,
                )
            )
        participants.extend(
            Participant(
                channel_id=pk,
                user_id=people(p["userId"]),
                role=p["role"],
                last_read_seq=int(p.get("lastReadSeq") or 0),
                joined_at=_when(p.get("joinedAt")) or created,
            )
            for p in c.get("participants") or []
        )
        messages.extend(
            Message(
                id=int(m["id"]) if keep else None,
                channel_id=pk,
                seq=int(m["seq"]),
                sender_id=people.maybe(m.get("senderId")),
                sender_type=m["senderType"],
                kind=m["kind"],
                content=m["content"],
                created_at=_at(m["createdAt"]),
                removed_at=_when(m.get("removedAt")),
                removed_by_id=people.maybe(m.get("removedBy")),
            )
            for m in rows
        )
    Channel.objects.bulk_create(channels, batch_size=BATCH)
    SupportTicket.objects.bulk_create(tickets, batch_size=BATCH)
    Participant.objects.bulk_create(participants, batch_size=BATCH)
    Message.objects.bulk_create(messages, batch_size=BATCH)
    _last_messages([c.pk for c in channels])
    return len(channels), len(messages)


def _last_messages(channel_ids: list[uuid.UUID]) -> None:
    """The counters of the messages that are not internal notes (`public_seq` on each
    message, the channel's `last_public_seq`, each participant's read mark in them) and
    each channel's `last_message`: its last message that is not a note."""
    if not channel_ids:
        return
    channel, message = Channel._meta.db_table, Message._meta.db_table
    participant = Participant._meta.db_table
    note = MessageKind.NOTE
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {message} m SET public_seq = x.p FROM ("
            f"SELECT id, count(*) FILTER (WHERE kind <> '{note}') "
            "OVER (PARTITION BY channel_id ORDER BY seq) AS p "
            f"FROM {message} WHERE channel_id = ANY(%s)) x WHERE m.id = x.id",
            [channel_ids],
        )
        cursor.execute(
            f"UPDATE {channel} c SET last_public_seq = coalesce(("
            f"SELECT max(public_seq) FROM {message} m WHERE m.channel_id = c.id), 0), "
            f"last_message_id = (SELECT m.id FROM {message} m WHERE m.channel_id = c.id "
            f"AND m.kind <> '{note}' ORDER BY m.seq DESC LIMIT 1) WHERE c.id = ANY(%s)",
            [channel_ids],
        )
        cursor.execute(
            f"UPDATE {participant} p SET last_read_public_seq = coalesce(("
            f"SELECT m.public_seq FROM {message} m WHERE m.channel_id = p.channel_id "
            "AND m.seq <= p.last_read_seq ORDER BY m.seq DESC LIMIT 1), 0) "
            "WHERE p.channel_id = ANY(%s)",
            [channel_ids],
        )


def _ids_continue() -> None:
    """New messages (and participants and canned responses, which share their sequence)
    in the schema take ids after the imported ones."""
    highest = ", ".join(f"(SELECT max(id) FROM {m._meta.db_table})" for m in ID_SEQUENCE_MODELS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT setval('{ID_SEQUENCE}', greatest({highest}, 0) + 1, false)")
