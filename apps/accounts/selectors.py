from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.utils import timezone

from apps.accounts.actors import Actor
from apps.accounts.models import ApiToken, Membership, Role, User

if TYPE_CHECKING:
    from apps.tenancy.models import Tenant


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_lookup(*, raw: str) -> ApiToken | None:
    """The live token for a raw bearer secret, with its user; None when unknown or expired."""
    return (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(raw), expires_at__gt=timezone.now(), user__is_active=True)
        .first()
    )


def actor_for(*, user: User, tenant: Tenant) -> Actor | None:
    """The user's actor on this tenant's host, or None when the credential does not work
    there (no membership, and not a super admin)."""
    role = None
    if not tenant.is_public:
        role = (
            Membership.objects.filter(user=user, tenant=tenant)
            .values_list("role", flat=True)
            .first()
        )
    if role is None and not user.is_super_admin:
        return None
    return Actor(user=user, tenant=tenant, role=Role(role) if role else None)
