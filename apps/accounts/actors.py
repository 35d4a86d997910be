from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from apps.accounts.models import STAFF_ROLES, Role, User

if TYPE_CHECKING:
    from apps.tenancy.models import Tenant


@dataclass(frozen=True)
class Actor:
    """Who is acting, on which tenant's host, in which role. Built from the credential and
    the host only, never from client input."""

    user: User
    tenant: Tenant
    role: Role | None  # membership role in `tenant`; None for a super admin without one

    @property
    def is_super_admin(self) -> bool:
        return self.user.is_super_admin

    @property
    def is_tenant_admin(self) -> bool:
        return self.role == Role.TENANT_ADMIN

    @property
    def is_staff_member(self) -> bool:
        """Tenant admins and the management team: the tenant's support staff."""
        return self.role in STAFF_ROLES
