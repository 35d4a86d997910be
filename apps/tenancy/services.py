from __future__ import annotations

import re

from django.conf import settings
from django.db import transaction

from apps.core.exceptions import Conflict, InvalidInput
from apps.tenancy.models import Domain, Tenant

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9]{1,39}$")
RESERVED_SLUGS = {"public", "www", "api", "admin", "pg", "information_schema"}


def tenant_host(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def public_tenant_ensure() -> Tenant:
    """The public tenant serves the base domain (the super-admin console)."""
    tenant, _ = Tenant.objects.get_or_create(
        schema_name=settings.PUBLIC_SCHEMA_NAME, defaults={"name": "Platform"}
    )
    Domain.objects.get_or_create(
        domain=settings.BASE_DOMAIN, defaults={"tenant": tenant, "is_primary": True}
    )
    return tenant


def tenant_create(*, slug: str, name: str) -> Tenant:
    """Creates the tenant, its schema (migrated) and its primary domain."""
    if not SLUG_PATTERN.match(slug) or slug in RESERVED_SLUGS:
        raise InvalidInput(
            "Invalid tenant slug.",
            fields={"slug": ["2-40 lowercase letters or digits, starting with a letter."]},
        )
    if Tenant.objects.filter(schema_name=slug).exists():
        raise Conflict(f"Tenant {slug!r} already exists.", code="tenant_exists")
    with transaction.atomic():
        tenant = Tenant(schema_name=slug, name=name)
        tenant.save(verbosity=0)
        Domain.objects.create(domain=tenant_host(slug), tenant=tenant, is_primary=True)
    return tenant
