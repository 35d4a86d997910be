from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from apps.accounts.models import Role, User
from apps.accounts.services import membership_set, user_create
from apps.core.exceptions import Conflict, InvalidInput
from apps.core.metrics import PROVISIONING
from apps.tenancy import provisioning
from apps.tenancy.models import Domain, SchemaTemplate, Tenant
from apps.tenancy.schemas import schema_exists

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


@dataclass
class Provisioned:
    tenant: Tenant
    host: str
    admin: User | None
    # Set only when the admin's account was created here: shown once, never stored.
    admin_password: str | None = None


def _slug_clean(slug: object) -> str:
    if isinstance(slug, str) and slug in RESERVED_SLUGS:
        raise InvalidInput(
            f"The slug {slug!r} is reserved.",
            code="reserved_slug",
            fields={"slug": [f"Reserved for the platform: {', '.join(sorted(RESERVED_SLUGS))}."]},
        )
    if not isinstance(slug, str) or not SLUG_PATTERN.match(slug):
        raise InvalidInput(
            "Invalid tenant slug.",
            fields={"slug": ["2-40 lowercase letters or digits, starting with a letter."]},
        )
    return slug


def _email_clean(email: str) -> str:
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(
            "Invalid admin email.", fields={"adminEmail": ["Enter a valid email address."]}
        ) from None
    return email


def tenant_provision(
    *, slug: str, name: str, admin_email: str | None = None, admin_name: str | None = None
) -> Provisioned:
    """Creates the tenant, its schema, its domain `<slug>.<BASE_DOMAIN>` and its first
    tenant admin, all in one transaction: on any failure nothing is left behind. The schema
    comes from the migration template (`apps.tenancy.provisioning`); an existing account
    with the admin's email becomes the admin, otherwise one is created with a random
    password that is returned once. Tenants are provisioned one at a time."""
    slug = _slug_clean(slug)
    name = (name or "").strip()
    if not name:
        raise InvalidInput("A tenant needs a name.", fields={"name": ["May not be blank."]})
    email = _email_clean(admin_email) if admin_email else None
    started = time.perf_counter()
    template = provisioning.template_ensure()
    try:
        provisioned = _provision(slug, name, email, admin_name, template)
    except IntegrityError:
        # The domain is already served (for another tenant): nothing was kept.
        raise Conflict(f"The host of {slug!r} is taken.", code="tenant_exists") from None
    PROVISIONING.observe(time.perf_counter() - started)
    return provisioned


def _provision(
    slug: str, name: str, email: str | None, admin_name: str | None, template: SchemaTemplate
) -> Provisioned:
    admin, password = None, None
    with transaction.atomic():
        provisioning.provision_lock()
        if Tenant.objects.filter(schema_name=slug).exists():
            raise Conflict(f"Tenant {slug!r} already exists.", code="tenant_exists")
        if schema_exists(slug):
            raise Conflict(f"The name {slug!r} is taken.", code="schema_exists")
        tenant = Tenant(schema_name=slug, name=name, migration_state=template.state)
        tenant.auto_create_schema = False  # created below, in this transaction
        tenant.save()
        provisioning.schema_create(slug, template)
        Domain.objects.create(domain=tenant_host(slug), tenant=tenant, is_primary=True)
        if email:
            admin = User.objects.filter(email__iexact=email).first()
            if admin is None:
                password = secrets.token_urlsafe(12)
                admin = user_create(
                    email=email, password=password, display_name=admin_name or f"{name} Admin"
                )
            membership_set(user=admin, tenant=tenant, role=Role.TENANT_ADMIN)
    return Provisioned(tenant=tenant, host=tenant_host(slug), admin=admin, admin_password=password)
