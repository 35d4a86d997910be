from __future__ import annotations

import hashlib
import json
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from apps.accounts import member_rules
from apps.accounts.actors import Actor
from apps.accounts.models import ApiToken, Membership, MembershipStatus, Role, User
from apps.core.db import Part, cursor_as_it_stands, fields_of, public_table, row_reader
from apps.core.exceptions import InvalidInput, NotFound

if TYPE_CHECKING:
    from apps.tenancy.models import Tenant

MEMBER_PAGE_SIZE = 50
MAX_MEMBER_PAGE_SIZE = 100


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_lookup(*, raw: str) -> ApiToken | None:
    """The live token for a raw bearer secret, with its user; None when unknown or expired."""
    return (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(raw), expires_at__gt=timezone.now(), user__is_active=True)
        .first()
    )


# The credential rules, for every statement that reads a credential: the token `k` of
# an active user `u` (TOKEN_USER), live for a secret's hash at a time (LIVE_TOKEN: two
# parameters), and the user's active membership `m` (ACTIVE_MEMBERSHIP, to be narrowed to
# a tenant with `AND m.tenant_id = ...`).
TOKEN_USER = (
    f"{public_table(ApiToken._meta.db_table)} k "
    f"JOIN {public_table(User._meta.db_table)} u ON u.id = k.user_id AND u.is_active"
)
LIVE_TOKEN = "k.key_hash = %s AND k.expires_at > %s"
ACTIVE_MEMBERSHIP = (
    f"{public_table(Membership._meta.db_table)} m "
    f"ON m.user_id = u.id AND m.status = '{MembershipStatus.ACTIVE}'"
)
CREDENTIAL_PARTS = (Part(ApiToken, "k", fields_of(ApiToken)), Part(User, "u", fields_of(User)))
CREDENTIAL_COLUMNS = f"{', '.join(part.columns() for part in CREDENTIAL_PARTS)}, m.role"
_credential_row = row_reader(CREDENTIAL_PARTS)
# Every request and socket connect asks this: one statement, written out, instead of two
# ORM queries (their compilation cost more than the database's work).
_CREDENTIAL_SQL = f"""
    SELECT {CREDENTIAL_COLUMNS}
    FROM {TOKEN_USER}
    LEFT JOIN {ACTIVE_MEMBERSHIP} AND m.tenant_id = %s
    WHERE {LIVE_TOKEN}
"""


def credential_on_host(*, raw: str, tenant: Tenant) -> tuple[ApiToken, Actor | None] | None:
    """The live token for a raw bearer secret (its user loaded), and the actor it gives on
    the tenant's host (None when it does not work there); None when the token is unknown
    or expired. Same answers as `token_lookup` then `actor_for`, in one query."""
    tenant_id = None if tenant.is_public else tenant.pk
    with cursor_as_it_stands() as cursor:
        cursor.execute(_CREDENTIAL_SQL, [tenant_id, token_hash(raw), timezone.now()])
        row = cursor.fetchone()
    if row is None:
        return None
    token, user = _credential_row(row)
    return credential_of(token, user, tenant=tenant, role=row[-1])


def credential_of(
    token: ApiToken, user: User, *, tenant: Tenant, role: str | None
) -> tuple[ApiToken, Actor | None]:
    """`credential_on_host`'s answer from a token and its user as read from the database
    with the user's active membership role on the tenant (None when there is none)."""
    token.user = user
    return token, _actor(user=user, tenant=tenant, role=role)


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


@dataclass(frozen=True)
class MemberCursor:
    """Where a page of members ends: its last member's display name (lowercased) and id."""

    name: str
    user_id: int

    def encode(self) -> str:
        raw = json.dumps([self.name, self.user_id]).encode()
        return urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> MemberCursor:
        try:
            name, user_id = json.loads(urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            valid_id = isinstance(user_id, int) and 0 <= user_id < 2**31
            if not isinstance(name, str) or "\x00" in name or not valid_id:
                raise ValueError(text)
            return cls(name=name, user_id=user_id)
        except (ValueError, TypeError):  # bad base64, JSON or shape
            raise InvalidInput(
                "Unknown cursor.", fields={"after": ["Use the `next` of a previous page."]}
            ) from None


@dataclass
class MemberPage:
    members: Sequence[Membership]
    next: MemberCursor | None


def member_page(
    *,
    actor: Actor,
    search: str | None = None,
    role: str | None = None,
    status: str | None = None,
    after: MemberCursor | None = None,
    limit: int = MEMBER_PAGE_SIZE,
) -> MemberPage:
    """The tenant's members the actor may see (`member_rules`), by display name; `search`
    is a case-insensitive prefix of the display name (or of the email, for those who see
    emails)."""
    member_rules.require_tenant_host(actor)
    details = member_rules.sees_details(actor)
    rows = Membership.objects.filter(
        tenant=actor.tenant, user__is_active=True, role__in=member_rules.visible_roles(actor)
    )
    if not details:
        rows = rows.filter(status=MembershipStatus.ACTIVE)
    if role:
        rows = rows.filter(role=role)
    if status:
        rows = rows.filter(status=status)
    if search:
        matches = Q(user__display_name__istartswith=search)
        if details:
            matches |= Q(user__email__istartswith=search)
        rows = rows.filter(matches)
    rows = rows.select_related("user").annotate(sort_name=Lower("user__display_name"))
    if after is not None:
        rows = rows.filter(
            Q(sort_name__gt=after.name) | Q(sort_name=after.name, user_id__gt=after.user_id)
        )
    found = list(rows.order_by("sort_name", "user_id")[: limit + 1])
    cursor = None
    if len(found) > limit:
        last = found[limit - 1]
        cursor = MemberCursor(name=last.sort_name, user_id=last.user_id)
    return MemberPage(members=found[:limit], next=cursor)


def member_get(*, actor: Actor, user_id: int) -> Membership:
    """One member of the actor's tenant (an admin's view); 404 for anyone else."""
    member_rules.require_member_admin(actor)
    membership = (
        Membership.objects.select_related("user")
        .filter(tenant=actor.tenant, user_id=user_id)
        .first()
    )
    if membership is None:
        raise NotFound("Member not found.")
    return membership
