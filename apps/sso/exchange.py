"""`POST /api/auth/sso`: a signed assertion from the tenant's identity provider becomes a
bearer token. The account and membership are created or updated just in time, linked by
(tenant, `sub`); the whole exchange is one transaction, so a refused assertion leaves
nothing behind, and its `jti` is recorded first so that two concurrent uses of one
assertion cannot both pass.

Where a tenant's provider may not reach (the provider is the tenant's to configure, so a
tenant must not gain any account it does not own):
- it never takes over an account that exists already: an unlinked account with the
  asserted email is refused (`409 sso_email_taken`), never linked;
- a linked account that is a super admin or a member of another tenant is refused
  (`403 sso_account_shared`): a bearer token works on every host where its user is a
  member, so the tenant's provider would speak for it there too;
- the `role` claim grants only a membership role the provider allows; anything else,
  super admin included, is refused (`403 sso_role_not_allowed`), never lowered."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.accounts.models import (
    ApiToken,
    IdentityProvider,
    Membership,
    MembershipStatus,
    Role,
    SsoAssertionUse,
    SsoIdentity,
    User,
)
from apps.accounts.services import token_issue
from apps.accounts.signals import membership_changed, send_after_commit
from apps.core.exceptions import Conflict, Forbidden
from apps.records import audit
from apps.records.audit import Action
from apps.sso.assertion import LEEWAY_SECONDS, AssertionRefused, Claims, assertion_read
from apps.tenancy.models import Tenant

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignedIn:
    raw_token: str
    token: ApiToken
    actor: Actor


def _provider(tenant: Tenant) -> IdentityProvider:
    provider = IdentityProvider.objects.filter(tenant=tenant, enabled=True).first()
    if provider is None:
        raise AssertionRefused(
            "Single sign-on is not enabled on this host.", code="sso_not_configured"
        )
    return provider


def _role(provider: IdentityProvider, claimed: str) -> Role:
    if claimed not in Role.values or claimed not in provider.allowed_roles:
        raise Forbidden(
            f"This identity provider may not grant the role {claimed!r}.",
            code="sso_role_not_allowed",
        )
    return Role(claimed)


def _jti_spend(tenant: Tenant, claims: Claims) -> None:
    """Records the assertion as used, before anything else is written: a concurrent
    exchange of the same `jti` waits on the unique index and then fails here."""
    try:
        with transaction.atomic():
            SsoAssertionUse.objects.create(
                tenant=tenant, jti=claims.jti, expires_at=claims.expires_at
            )
    except IntegrityError as exc:
        raise AssertionRefused("This assertion was already used.", code="sso_replayed") from exc


def _audit(user: User, action: str, tenant: Tenant, **details: object) -> None:
    audit.record(
        actor=user,
        action=action,
        tenant=tenant,
        target_type="user",
        target_id=user.pk,
        details=dict(details),
    )


def _email_free(email: str, *, exclude: User | None = None) -> None:
    taken = User.objects.filter(email__iexact=email)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise Conflict(
            "An account with this email exists and is not linked to this identity provider.",
            code="sso_email_taken",
        )


def _account_created(tenant: Tenant, claims: Claims) -> User:
    _email_free(claims.email)
    user = User.objects.create_user(
        email=claims.email, password=None, display_name=claims.name
    )  # no password: an unusable one
    SsoIdentity.objects.create(tenant=tenant, subject=claims.subject, user=user)
    _audit(user, Action.SSO_ACCOUNT_CREATED, tenant, subject=claims.subject, email=user.email)
    return user


def _account_usable(user: User, tenant: Tenant) -> None:
    if not user.is_active:
        raise Forbidden("This account is deactivated.", code="account_deactivated")
    elsewhere = Membership.objects.filter(user=user).exclude(tenant=tenant).exists()
    if user.is_super_admin or elsewhere:
        raise Forbidden(
            "This account is also used outside this organisation; sign in with its password.",
            code="sso_account_shared",
        )


def _profile_updated(user: User, claims: Claims) -> None:
    if (user.email, user.display_name) == (claims.email, claims.name):
        return
    _email_free(claims.email, exclude=user)
    user.email, user.display_name = claims.email, claims.name
    user.save(update_fields=["email", "display_name"])


def _account(tenant: Tenant, claims: Claims) -> User:
    identity = (
        SsoIdentity.objects.select_related("user")
        .select_for_update()
        .filter(tenant=tenant, subject=claims.subject)
        .first()
    )
    if identity is None:
        return _account_created(tenant, claims)
    _account_usable(identity.user, tenant)
    _profile_updated(identity.user, claims)
    return identity.user


def _membership(user: User, tenant: Tenant, role: Role) -> None:
    membership = Membership.objects.select_for_update().filter(user=user, tenant=tenant).first()
    if membership is None:
        Membership.objects.create(user=user, tenant=tenant, role=role)
        _audit(user, Action.SSO_MEMBERSHIP_CREATED, tenant, role=role.value)
    elif membership.status == MembershipStatus.SUSPENDED:
        raise Forbidden("Your membership here is suspended.", code="membership_suspended")
    elif membership.role != role:
        _audit(user, Action.SSO_ROLE_CHANGED, tenant, previous=membership.role, role=role.value)
        membership.role = role
        membership.save(update_fields=["role"])
        send_after_commit(membership_changed, user_id=user.pk, tenant_id=tenant.pk)


def _expired_uses_delete() -> None:
    """Forgets used `jti`s whose assertions can no longer pass `exp` anyway. Housekeeping
    only: on a lock conflict another exchange is doing it."""
    cutoff = timezone.now() - timedelta(seconds=LEEWAY_SECONDS)
    try:
        with transaction.atomic():
            SsoAssertionUse.objects.filter(expires_at__lt=cutoff).delete()
    except DatabaseError:
        logger.warning("Used SSO assertions not cleaned up this time", exc_info=True)


def sso_exchange(*, tenant: Tenant, audience: str, assertion: str) -> SignedIn:
    """Checks the assertion (signature, algorithm, issuer, audience = the host, lifetime,
    single use) and signs its subject in on the tenant's host."""
    provider = _provider(tenant)
    claims = assertion_read(assertion, provider=provider, audience=audience)
    role = _role(provider, claims.role)
    try:
        with transaction.atomic():
            _jti_spend(tenant, claims)
            user = _account(tenant, claims)
            _membership(user, tenant, role)
            raw, token = token_issue(user=user)
    except IntegrityError as exc:  # a concurrent first sign-in of the same person
        raise Conflict("A concurrent sign-in won; retry.", code="sso_conflict") from exc
    _expired_uses_delete()
    return SignedIn(raw_token=raw, token=token, actor=Actor(user=user, tenant=tenant, role=role))
