"""The console's tenant lifecycle: create, suspend, reactivate, export, delete. Each takes
the super admin acting, writes in one transaction and records itself in the audit log.
Ticket and escalation work from the console goes through `apps.chat.services`, which
audits super admins' actions the same way."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.actors import Actor
from apps.accounts.models import Membership
from apps.chat import events
from apps.chat.models import Channel, ChannelType, Message, Participant, SupportTicket
from apps.chat.ws import CLOSE_FORBIDDEN, CLOSE_UNKNOWN_HOST
from apps.core.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from apps.platform import audit
from apps.platform.audit import Action
from apps.platform.models import Escalation
from apps.tenancy.models import SUSPENDED_CODE, SUSPENDED_MESSAGE, Tenant, TenantStatus
from apps.tenancy.provisioning import drop_schema
from apps.tenancy.services import Provisioned, tenant_host, tenant_provision


def _require_console(actor: Actor) -> None:
    if not (actor.is_super_admin and actor.tenant.is_public):
        raise Forbidden("Only platform super admins, on the platform host.")


def _audit(actor: Actor, action: str, tenant: Tenant, **details: Any) -> None:
    audit.record(
        actor=actor.user,
        action=action,
        tenant=tenant,
        target_type="tenant",
        target_id=tenant.schema_name,
        details=details,
    )


def tenant_get(slug: object, *, lock: bool = False) -> Tenant:
    tenants = Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
    if lock:
        tenants = tenants.select_for_update()
    tenant = tenants.filter(schema_name=str(slug)).first()
    if tenant is None:
        raise NotFound("Tenant not found.", code="tenant_not_found")
    return tenant


def tenant_create(
    *, actor: Actor, slug: str, name: str, admin_email: str, admin_name: str | None = None
) -> Provisioned:
    """The console's create: the same provisioning as `manage.py provision_tenant`."""
    _require_console(actor)
    with transaction.atomic():
        result = tenant_provision(
            slug=slug, name=name, admin_email=admin_email, admin_name=admin_name
        )
        _audit(
            actor,
            Action.TENANT_CREATED,
            result.tenant,
            name=result.tenant.name,
            adminEmail=result.admin.email,
        )
    return result


def tenant_suspend(*, actor: Actor, slug: str, reason: str) -> Tenant:
    """Its hosts answer 403 `tenant_suspended` from now on; its open sockets are told so
    and closed (4403) once this commits. Its data stays as it is."""
    _require_console(actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why it is suspended.", fields={"reason": ["May not be blank."]})
    with transaction.atomic():
        tenant = tenant_get(slug, lock=True)
        if tenant.is_suspended:
            raise Conflict("This tenant is already suspended.", code="already_suspended")
        tenant.status = TenantStatus.SUSPENDED
        tenant.suspended_at = timezone.now()
        tenant.suspension_reason = reason
        tenant.save(update_fields=["status", "suspended_at", "suspension_reason"])
        _audit(actor, Action.TENANT_SUSPENDED, tenant, reason=reason)
        events.close_tenant_sockets(
            tenant.schema_name,
            code=CLOSE_FORBIDDEN,
            error=SUSPENDED_CODE,
            message=SUSPENDED_MESSAGE,
        )
    return tenant


def tenant_reactivate(*, actor: Actor, slug: str) -> Tenant:
    _require_console(actor)
    with transaction.atomic():
        tenant = tenant_get(slug, lock=True)
        if not tenant.is_suspended:
            raise Conflict("This tenant is not suspended.", code="not_suspended")
        tenant.status = TenantStatus.ACTIVE
        tenant.suspended_at = None
        tenant.suspension_reason = ""
        tenant.save(update_fields=["status", "suspended_at", "suspension_reason"])
        _audit(actor, Action.TENANT_REACTIVATED, tenant)
    return tenant


def tenant_delete(*, actor: Actor, slug: str, confirm: object) -> None:
    """Drops the tenant's schema (all its chat data), its domains, memberships, platform
    tickets and escalations. `confirm` must repeat the slug. The audit log keeps its
    entries about the tenant, by slug."""
    _require_console(actor)
    if confirm != slug:
        raise InvalidInput(
            "Deleting a tenant drops all its data; confirm by repeating its slug.",
            code="confirmation_required",
            fields={"confirm": [f"Must be {slug!r}."]},
        )
    with transaction.atomic():
        tenant = tenant_get(slug, lock=True)
        _audit(actor, Action.TENANT_DELETED, tenant, name=tenant.name)
        events.close_tenant_sockets(
            tenant.schema_name,
            code=CLOSE_UNKNOWN_HOST,
            error="tenant_deleted",
            message="This organisation no longer exists.",
        )
        with connection.cursor() as cursor:
            # Foreign-key checks still pending in this transaction must not hold up the
            # drop; afterwards they are deferred again, as Django's cascading delete needs.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            drop_schema(tenant.schema_name)
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        tenant.delete()  # the row, its domains, memberships, platform tickets, escalations


# --- export ------------------------------------------------------------------------------

EXPORT_VERSION = 1


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def _channels_export(channels: Any) -> list[dict[str, Any]]:
    """Channels with their ticket, participants and every message, oldest first. Reads in
    the current schema; a handful of queries whatever the number of channels."""
    channels = list(channels.order_by("created_at", "id"))
    ids = [c.pk for c in channels]
    tickets = {t.channel_id: t for t in SupportTicket.objects.filter(channel_id__in=ids)}
    participants: dict[Any, list[dict[str, Any]]] = {pk: [] for pk in ids}
    for p in Participant.objects.filter(channel_id__in=ids).order_by("joined_at", "id"):
        participants[p.channel_id].append(
            {
                "userId": p.user_id,
                "role": p.role,
                "lastReadSeq": p.last_read_seq,
                "joinedAt": _iso(p.joined_at),
            }
        )
    messages: dict[Any, list[dict[str, Any]]] = {pk: [] for pk in ids}
    rows = Message.objects.filter(channel_id__in=ids).order_by("channel_id", "seq")
    for m in rows.iterator(chunk_size=2000):
        messages[m.channel_id].append(
            {
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
        )
    out = []
    for c in channels:
        ticket = tickets.get(c.pk)
        out.append(
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
                "ticket": None
                if ticket is None
                else {
                    "requesterId": ticket.requester_id,
                    "category": ticket.category,
                    "priority": ticket.priority,
                    "status": ticket.status,
                    "firstResponseAt": _iso(ticket.first_response_at),
                    "resolvedAt": _iso(ticket.resolved_at),
                    "closedAt": _iso(ticket.closed_at),
                    "createdAt": _iso(ticket.created_at),
                },
                "participants": participants[c.pk],
                "messages": messages[c.pk],
            }
        )
    return out


def tenant_export(*, actor: Actor, slug: str) -> dict[str, Any]:
    """Everything of the tenant's chat data as one JSON document: its members, its
    channels (tickets, participants, messages, removed ones included and marked), its
    platform-support tickets and its escalations. Read in one repeatable-read snapshot."""
    _require_console(actor)
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        tenant = tenant_get(slug)
        members = [
            {
                "userId": m.user_id,
                "email": m.user.email,
                "displayName": m.user.display_name,
                "role": m.role,
                "since": _iso(m.created_at),
            }
            for m in Membership.objects.filter(tenant=tenant)
            .select_related("user")
            .order_by("user_id")
        ]
        with schema_context(tenant.schema_name):
            channels = _channels_export(Channel.objects.all())
        platform = _channels_export(
            Channel.objects.filter(type=ChannelType.PLATFORM_SUPPORT, tenant=tenant)
        )
        escalations = [
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
            for e in Escalation.objects.filter(tenant=tenant).order_by("escalated_at", "id")
        ]
        _audit(
            actor,
            Action.TENANT_EXPORTED,
            tenant,
            channels=len(channels),
            platformTickets=len(platform),
        )
    return {
        "version": EXPORT_VERSION,
        "exportedAt": _iso(timezone.now()),
        "tenant": {
            "slug": tenant.schema_name,
            "name": tenant.name,
            "host": tenant_host(tenant.schema_name),
            "status": tenant.status,
            "createdAt": _iso(tenant.created_at),
        },
        "members": members,
        "channels": channels,
        "platformTickets": platform,
        "escalations": escalations,
    }
