"""The console's writes. The tenant lifecycle: create, suspend, reactivate, export, delete;
each takes the super admin acting, writes in one transaction and records itself in the
audit log. Work on an escalation goes through `apps.chat.services`, which audits super
admins' actions the same way; here only the console's rule that a closed escalation is
not worked any more."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.chat import events
from apps.chat import services as chat_services
from apps.core.closecodes import CLOSE_FORBIDDEN, CLOSE_UNKNOWN_HOST
from apps.core.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from apps.records import audit
from apps.records.audit import Action
from apps.records.models import Escalation, EscalationState
from apps.tenancy.models import SUSPENDED_CODE, SUSPENDED_MESSAGE, Tenant, TenantStatus
from apps.tenancy.provisioning import drop_schema, template_ensure
from apps.tenancy.services import Provisioned, tenant_provision


def require_console(actor: Actor) -> None:
    """The console: platform super admins, on the platform's own host."""
    if not actor.tenant.is_public:
        raise Forbidden("The console is served on the platform host.", code="console_only")
    if not actor.is_super_admin:
        raise Forbidden("Only platform super admins.", code="super_admin_only")


def audit_tenant(actor: Actor, action: str, tenant: Tenant, **details: Any) -> None:
    audit.record(
        actor=actor.user,
        action=action,
        tenant=tenant,
        target_type="tenant",
        target_id=tenant.schema_name,
        details=details,
    )


MAX_SLUG_LENGTH = 63  # PostgreSQL's longest identifier


def tenant_get(slug: object, *, lock: bool = False) -> Tenant:
    if not isinstance(slug, str) or "\x00" in slug or len(slug) > MAX_SLUG_LENGTH:
        raise NotFound("Tenant not found.", code="tenant_not_found")  # never a schema name
    tenants = Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
    if lock:
        tenants = tenants.select_for_update()
    tenant = tenants.filter(schema_name=slug).first()
    if tenant is None:
        raise NotFound("Tenant not found.", code="tenant_not_found")
    return tenant


def tenant_create(
    *, actor: Actor, slug: str, name: str, admin_email: str, admin_name: str | None = None
) -> Provisioned:
    """The console's create: the same provisioning as `manage.py provision_tenant`."""
    require_console(actor)
    template_ensure()  # outside the transaction, so other processes see a fresh template
    with transaction.atomic():
        result = tenant_provision(
            slug=slug, name=name, admin_email=admin_email, admin_name=admin_name
        )
        assert result.admin is not None  # an admin email was given
        audit_tenant(
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
    require_console(actor)
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
        audit_tenant(actor, Action.TENANT_SUSPENDED, tenant, reason=reason)
        events.close_tenant_sockets(
            tenant.schema_name,
            code=CLOSE_FORBIDDEN,
            error=SUSPENDED_CODE,
            message=SUSPENDED_MESSAGE,
        )
    return tenant


def tenant_reactivate(*, actor: Actor, slug: str) -> Tenant:
    require_console(actor)
    with transaction.atomic():
        tenant = tenant_get(slug, lock=True)
        if not tenant.is_suspended:
            raise Conflict("This tenant is not suspended.", code="not_suspended")
        tenant.status = TenantStatus.ACTIVE
        tenant.suspended_at = None
        tenant.suspension_reason = ""
        tenant.save(update_fields=["status", "suspended_at", "suspension_reason"])
        audit_tenant(actor, Action.TENANT_REACTIVATED, tenant)
    return tenant


def tenant_delete(*, actor: Actor, slug: str, confirm: object) -> None:
    """Drops the tenant's schema (all its chat data), its domains, memberships, platform
    tickets and escalations. `confirm` must repeat the slug. The audit log keeps its
    entries about the tenant, by slug."""
    require_console(actor)
    if confirm != slug:
        raise InvalidInput(
            "Deleting a tenant drops all its data; confirm by repeating its slug.",
            code="confirmation_required",
            fields={"confirm": [f"Must be {slug!r}."]},
        )
    with transaction.atomic():
        tenant = tenant_get(slug, lock=True)
        audit_tenant(actor, Action.TENANT_DELETED, tenant, name=tenant.name)
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


# --- escalations -------------------------------------------------------------------------


def _closed(escalation: Escalation) -> Conflict:
    return Conflict(
        f"This escalation is already closed ({escalation.state}).", code="escalation_closed"
    )


@contextmanager
def _while_open(escalation: Escalation) -> Iterator[None]:
    """Refuses a closed escalation with 409, also when another super admin closed it
    between this check and the action."""
    if escalation.state != EscalationState.OPEN:
        raise _closed(escalation)
    try:
        yield
    except (Forbidden, Conflict):
        # Lost a race: another super admin closed it first (the channel is then no longer
        # escalated, so the action was refused as forbidden or `not_escalated`).
        escalation.refresh_from_db()
        if escalation.state != EscalationState.OPEN:
            raise _closed(escalation) from None
        raise


def escalation_resolve(*, actor: Actor, escalation: Escalation) -> Escalation:
    """Resolves the escalated channel (and its ticket); `actor` acts on its tenant."""
    with _while_open(escalation):
        chat_services.channel_resolve(actor=actor, channel_id=escalation.channel_id)
    escalation.refresh_from_db()
    return escalation


def escalation_return(*, actor: Actor, escalation: Escalation, note: str) -> Escalation:
    """Hands the channel back to the tenant's staff; `actor` acts on its tenant."""
    with _while_open(escalation):
        chat_services.channel_deescalate(actor=actor, channel_id=escalation.channel_id, note=note)
    escalation.refresh_from_db()
    return escalation
