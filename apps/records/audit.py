"""The audit log's one writer. Entries are written in the caller's transaction, so an
action that rolls back leaves no entry, and one that commits always has its entry."""

from __future__ import annotations

from typing import Any

from apps.accounts.models import User
from apps.records.models import AuditEntry
from apps.tenancy.models import Tenant


class Action:
    TENANT_CREATED = "tenant.created"
    TENANT_SUSPENDED = "tenant.suspended"
    TENANT_REACTIVATED = "tenant.reactivated"
    TENANT_EXPORTED = "tenant.exported"
    TENANT_DELETED = "tenant.deleted"
    TENANT_IMPORTED = "tenant.imported"
    TICKET_REPLIED = "ticket.replied"
    TICKET_ASSIGNED = "ticket.assigned"
    TICKET_UPDATED = "ticket.updated"
    TICKET_RESOLVED = "ticket.resolved"
    TICKET_ARCHIVED = "ticket.archived"
    ESCALATION_OPENED = "escalation.opened"
    ESCALATION_REPLIED = "escalation.replied"
    ESCALATION_ASSIGNED = "escalation.assigned"
    ESCALATION_RESOLVED = "escalation.resolved"
    ESCALATION_RETURNED = "escalation.returned"
    SSO_PROVIDER_SAVED = "sso.provider_saved"
    SSO_PROVIDER_DELETED = "sso.provider_deleted"
    SSO_ACCOUNT_CREATED = "sso.account_created"
    SSO_MEMBERSHIP_CREATED = "sso.membership_created"
    SSO_ROLE_CHANGED = "sso.role_changed"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    MEMBER_SUSPENDED = "member.suspended"
    MEMBER_REACTIVATED = "member.reactivated"
    MEMBER_REMOVED = "member.removed"
    INVITATION_SENT = "invitation.sent"
    INVITATION_ACCEPTED = "invitation.accepted"
    INVITATION_REVOKED = "invitation.revoked"
    PASSWORD_CHANGED = "account.password_changed"
    PASSWORD_RESET = "account.password_reset"
    SESSION_REVOKED = "account.session_revoked"
    ACCOUNT_DEACTIVATED = "account.deactivated"
    SUPER_ADMIN_INVITED = "super_admin.invited"
    SUPER_ADMIN_PROMOTED = "super_admin.promoted"
    SLA_POLICIES_SET = "sla.policies_set"

    ALL = (
        TENANT_CREATED,
        TENANT_SUSPENDED,
        TENANT_REACTIVATED,
        TENANT_EXPORTED,
        TENANT_DELETED,
        TENANT_IMPORTED,
        TICKET_REPLIED,
        TICKET_ASSIGNED,
        TICKET_UPDATED,
        TICKET_RESOLVED,
        TICKET_ARCHIVED,
        ESCALATION_OPENED,
        ESCALATION_REPLIED,
        ESCALATION_ASSIGNED,
        ESCALATION_RESOLVED,
        ESCALATION_RETURNED,
        SSO_PROVIDER_SAVED,
        SSO_PROVIDER_DELETED,
        SSO_ACCOUNT_CREATED,
        SSO_MEMBERSHIP_CREATED,
        SSO_ROLE_CHANGED,
        MEMBER_ROLE_CHANGED,
        MEMBER_SUSPENDED,
        MEMBER_REACTIVATED,
        MEMBER_REMOVED,
        INVITATION_SENT,
        INVITATION_ACCEPTED,
        INVITATION_REVOKED,
        PASSWORD_CHANGED,
        PASSWORD_RESET,
        SESSION_REVOKED,
        ACCOUNT_DEACTIVATED,
        SUPER_ADMIN_INVITED,
        SUPER_ADMIN_PROMOTED,
        SLA_POLICIES_SET,
    )


def record(
    *,
    actor: User | None,
    action: str,
    tenant: Tenant | None,
    target_type: str = "",
    target_id: object = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor,
        actor_email=actor.email if actor else "",
        action=action,
        tenant=tenant,
        tenant_slug=tenant.schema_name if tenant else "",
        target_type=target_type,
        target_id=str(target_id),
        details=details or {},
    )
