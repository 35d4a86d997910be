"""Who sees which members of a tenant, and who manages them: the one place these rules
are written (the listing, the member endpoints and the services ask here).

- Every member sees the tenant's staff (so a participant can pick whom to add to a
  support request); the staff see everyone.
- Tenant admins (and super admins) also see emails, suspended members, and search by
  email; everyone else searches by display name only and sees active members only.
- Tenant admins alone change roles, suspend, reactivate and remove members.
"""

from __future__ import annotations

from apps.accounts.actors import Actor
from apps.accounts.models import STAFF_ROLES, Role
from apps.core.exceptions import Forbidden, InvalidInput


def require_tenant_host(actor: Actor) -> None:
    if actor.tenant.is_public:
        raise InvalidInput("Members are listed on an organisation's host.", code="wrong_host")


def visible_roles(actor: Actor) -> tuple[Role, ...]:
    if actor.is_staff_member or actor.is_super_admin:
        return tuple(Role)
    return STAFF_ROLES


def sees_details(actor: Actor) -> bool:
    """Emails and suspended members."""
    return actor.is_tenant_admin or actor.is_super_admin


def require_member_admin(actor: Actor) -> None:
    require_tenant_host(actor)
    if not actor.is_tenant_admin:
        raise Forbidden("Only the organisation's admins manage its members.")
