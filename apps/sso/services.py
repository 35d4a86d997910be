"""Single sign-on from the tournament platform: a tenant's identity provider settings, and
the exchange of a signed assertion for a bearer token, creating or updating the account
and membership just in time. Every write is audited in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from apps.accounts.actors import Actor
from apps.accounts.models import IdentityProvider, SsoAlgorithm
from apps.core.exceptions import Forbidden, InvalidInput, NotFound
from apps.records import audit
from apps.records.audit import Action
from apps.sso import keys
from apps.tenancy.models import Tenant


def require_provider_admin(actor: Actor, tenant: Tenant) -> None:
    """A tenant's identity provider is managed by its tenant admins on its own host, and
    by super admins in the console (the public host)."""
    if tenant.is_public:
        raise Forbidden("Identity providers belong to a tenant's host.", code="tenant_host_only")
    if actor.tenant.is_public and actor.is_super_admin:
        return
    if actor.tenant.pk != tenant.pk or not actor.is_tenant_admin:
        raise Forbidden("Only the tenant's admins.", code="tenant_admin_only")


def provider_get(*, actor: Actor, tenant: Tenant) -> IdentityProvider:
    require_provider_admin(actor, tenant)
    provider = IdentityProvider.objects.filter(tenant=tenant).first()
    if provider is None:
        raise NotFound("No identity provider is configured.", code="sso_not_configured")
    return provider


@dataclass(frozen=True)
class ProviderSettings:
    issuer: str
    algorithm: str
    allowed_roles: list[str]
    enabled: bool = True
    secret: str | None = None  # HS256; None keeps the stored one
    public_key: str | None = None  # RS256, ES256 (PEM); None keeps the stored one


def _kept(value: str | None, stored: str, same_algorithm: bool, field: str, name: str) -> str:
    if value is not None:
        return value
    if same_algorithm and stored:
        return stored
    raise InvalidInput(f"A {name} is required.", fields={field: [f"Required: {name}."]})


def _key_material(new: ProviderSettings, old: IdentityProvider | None) -> tuple[str, str]:
    """(secret, public_key) for the new settings: the one the algorithm uses, the other
    blank. A key left out is kept when the algorithm does not change."""
    same = old is not None and old.algorithm == new.algorithm
    if new.algorithm == SsoAlgorithm.HS256:
        if new.public_key is not None:
            raise InvalidInput("HS256 uses a secret.", fields={"publicKey": ["Not for HS256."]})
        secret = _kept(new.secret, old.secret if old else "", same, "secret", "secret")
        return keys.secret_checked(secret), ""
    if new.secret is not None:
        raise InvalidInput(
            f"{new.algorithm} uses a public key.", fields={"secret": ["HS256 only."]}
        )
    pem = _kept(new.public_key, old.public_key if old else "", same, "publicKey", "public key")
    return "", keys.public_key_checked(new.algorithm, pem)


def _described(provider: IdentityProvider, **extra: Any) -> dict[str, Any]:
    return {
        "issuer": provider.issuer,
        "algorithm": provider.algorithm,
        "allowedRoles": provider.allowed_roles,
        "enabled": provider.enabled,
        **extra,
    }


def provider_put(*, actor: Actor, tenant: Tenant, settings: ProviderSettings) -> IdentityProvider:
    """Creates or replaces the tenant's identity provider."""
    require_provider_admin(actor, tenant)
    with transaction.atomic():
        old = IdentityProvider.objects.select_for_update().filter(tenant=tenant).first()
        secret, public_key = _key_material(settings, old)
        key_changed = old is None or (old.secret, old.public_key) != (secret, public_key)
        provider = old or IdentityProvider(tenant=tenant)
        provider.issuer = settings.issuer
        provider.algorithm = settings.algorithm
        provider.secret, provider.public_key = secret, public_key
        provider.allowed_roles = sorted(set(settings.allowed_roles))
        provider.enabled = settings.enabled
        provider.save()
        audit.record(
            actor=actor.user,
            action=Action.SSO_PROVIDER_SAVED,
            tenant=tenant,
            target_type="identity_provider",
            target_id=tenant.schema_name,
            details=_described(provider, created=old is None, keyChanged=key_changed),
        )
    return provider


def provider_delete(*, actor: Actor, tenant: Tenant) -> None:
    with transaction.atomic():
        provider = provider_get(actor=actor, tenant=tenant)
        provider.delete()
        audit.record(
            actor=actor.user,
            action=Action.SSO_PROVIDER_DELETED,
            tenant=tenant,
            target_type="identity_provider",
            target_id=tenant.schema_name,
            details=_described(provider),
        )
