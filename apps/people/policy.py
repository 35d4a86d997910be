"""Who may manage a tenant's invitations: the one place these rules are written."""

from __future__ import annotations

from apps.accounts.actors import Actor
from apps.accounts.models import Role
from apps.core.exceptions import Forbidden


def invitable_roles(actor: Actor) -> tuple[Role, ...]:
    """The roles the actor may invite people to on its tenant's host (and whose pending
    invitations it sees and revokes): tenant admins any role, the management team
    participants, nobody else (super admins included: tenants bring in their people)."""
    if actor.tenant.is_public:
        return ()
    if actor.role == Role.TENANT_ADMIN:
        return tuple(Role)
    if actor.role == Role.MANAGEMENT_TEAM:
        return (Role.PARTICIPANT,)
    return ()


def require_invitations(actor: Actor) -> tuple[Role, ...]:
    roles = invitable_roles(actor)
    if not roles:
        raise Forbidden("Only the organisation's staff manage invitations.", code="staff_only")
    return roles


def require_invite(actor: Actor, role: Role) -> None:
    if role not in require_invitations(actor):
        raise Forbidden(
            f"You may not invite people as {role.value}.",
            code="role_not_allowed",
            fields={"role": [f"Allowed: {', '.join(r.value for r in invitable_roles(actor))}."]},
        )
