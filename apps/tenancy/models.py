from __future__ import annotations

from django.conf import settings
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class TenantStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


# What a suspended tenant's hosts answer (HTTP 403, or an error frame and close 4403).
SUSPENDED_CODE = "tenant_suspended"
SUSPENDED_MESSAGE = "This organisation is suspended. Contact the platform's support."


class Tenant(TenantMixin):
    """A customer organisation. Its schema name is its slug; it is served on
    `<slug>.<BASE_DOMAIN>`. The public tenant (schema `public`) serves the console.
    A suspended tenant's hosts refuse every request and socket."""

    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=TenantStatus.choices, default=TenantStatus.ACTIVE
    )
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The migration state (`provisioning.migration_state`) its schema was provisioned or
    # migrated to: migrate_schemas skips a schema whose state is current without reading it.
    migration_state = models.CharField(max_length=64, blank=True, default="")
    # The organisation's calendar for SLA targets counted in business hours: an IANA time
    # zone and weekly hours `[{"day": "MON", "start": "09:00", "end": "17:00"}, ...]` in it.
    # The public tenant's are the platform's.
    time_zone = models.CharField(max_length=64, default="UTC")
    business_hours = models.JSONField(default=list, blank=True)

    auto_create_schema = True
    auto_drop_schema = True

    counts: dict[str, int]  # set by the console's selectors

    def __str__(self) -> str:
        return self.schema_name

    @property
    def slug(self) -> str:
        return self.schema_name

    @property
    def is_public(self) -> bool:
        return self.schema_name == settings.PUBLIC_SCHEMA_NAME

    @property
    def is_suspended(self) -> bool:
        return self.status == TenantStatus.SUSPENDED


class Domain(DomainMixin):
    def __str__(self) -> str:
        return self.domain


class SchemaTemplate(models.Model):
    """The statements that build a tenant schema at one migration state
    (`apps.tenancy.provisioning`). One row per state; rows older than 30 days are
    deleted when a new state's template is built."""

    state = models.CharField(max_length=64, primary_key=True)
    script = models.TextField(blank=True)
    usable = models.BooleanField(default=True)
    problem = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
