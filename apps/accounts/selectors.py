from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from django.db import connection
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.accounts.models import ApiToken, Membership, MembershipStatus, Role, User

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


def _columns(model: type[ApiToken] | type[User], alias: str) -> tuple[list[str], str]:
    fields = [field for field in model._meta.concrete_fields]
    quote = connection.ops.quote_name
    return [f.attname for f in fields], ", ".join(f"{alias}.{quote(f.column)}" for f in fields)


_TOKEN_FIELDS, _TOKEN_COLUMNS = _columns(ApiToken, "t")
_USER_FIELDS, _USER_COLUMNS = _columns(User, "u")
# Every request and socket connect asks this: one statement, written out, instead of two
# ORM queries (their compilation cost more than the database's work).
_CREDENTIAL_SQL = f"""
    SELECT {_TOKEN_COLUMNS}, {_USER_COLUMNS}, m.role
    FROM accounts_apitoken t
    JOIN accounts_user u ON u.id = t.user_id
    LEFT JOIN accounts_membership m
        ON m.user_id = u.id AND m.tenant_id = %s AND m.status = '{MembershipStatus.ACTIVE}'
    WHERE t.key_hash = %s AND t.expires_at > %s AND u.is_active
"""


def credential_on_host(*, raw: str, tenant: Tenant) -> tuple[ApiToken, Actor | None] | None:
    """The live token for a raw bearer secret (its user loaded), and the actor it gives on
    the tenant's host (None when it does not work there); None when the token is unknown
    or expired. Same answers as `token_lookup` then `actor_for`, in one query."""
    tenant_id = None if tenant.is_public else tenant.pk
    with connection.cursor() as cursor:
        cursor.execute(_CREDENTIAL_SQL, [tenant_id, token_hash(raw), timezone.now()])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(_TOKEN_FIELDS)
    token = ApiToken.from_db(connection.alias, _TOKEN_FIELDS, row[:split])
    user = User.from_db(connection.alias, _USER_FIELDS, row[split:-1])
    token.user = user
    return token, _actor(user=user, tenant=tenant, role=row[-1])


def actor_for(*, user: User, tenant: Tenant) -> Actor | None:
    """The user's actor on this tenant's host, or None when the credential does not work
    there (no active membership, and not a super admin)."""
    role = None
    if not tenant.is_public:
        role = (
            Membership.objects.filter(user=user, tenant=tenant, status=MembershipStatus.ACTIVE)
            .values_list("role", flat=True)
            .first()
        )
    return _actor(user=user, tenant=tenant, role=role)


def _actor(*, user: User, tenant: Tenant, role: str | None) -> Actor | None:
    if role is None and not user.is_super_admin:
        return None
    return Actor(user=user, tenant=tenant, role=Role(role) if role else None)
