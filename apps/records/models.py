"""Public-schema records about tenant objects, referenced by (tenant, id). Chat writes
them and the console reads them; they live only in the public schema, so they cannot
be chat's tables (those exist in every tenant schema). The tables keep the names they
were created with."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class EscalationState(models.TextChoices):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"
    RETURNED = "RETURNED"  # handed back to the tenant (de-escalated)
    ARCHIVED = "ARCHIVED"


class Escalation(models.Model):
    """The public index of escalated tenant channels: the console lists these without
    scanning tenant schemas. One row per escalation of a channel."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    channel_id = models.UUIDField()
    subject = models.CharField(max_length=200, blank=True)
    reason = models.TextField()
    # None: escalated by the system (a missed SLA target).
    escalated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(
        max_length=10, choices=EscalationState.choices, default=EscalationState.OPEN
    )
    escalated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "platform_escalation"
        indexes = [
            models.Index(fields=["state", "-escalated_at"], name="escalation_state_idx"),
            models.Index(fields=["tenant", "channel_id"], name="escalation_tenant_channel_idx"),
        ]


class AuditEntry(models.Model):
    """Who did what to which tenant, when: every console action and every escalation.
    The actor's email and the tenant's slug are copied, so an entry outlives both."""

    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=40)
    tenant = models.ForeignKey(
        "tenancy.Tenant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tenant_slug = models.CharField(max_length=63, blank=True)
    target_type = models.CharField(max_length=20, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "platform_auditentry"
        indexes = [
            models.Index(fields=["tenant_slug", "-id"], name="audit_tenant_idx"),
            models.Index(fields=["action", "-id"], name="audit_action_idx"),
            models.Index(fields=["actor", "-id"], name="audit_actor_idx"),
        ]


class TenantCount(models.Model):
    """What the console shows of a tenant's own schema, kept in the public schema so that
    neither the figures nor the tenant list ever read a tenant schema. Changed in the
    transaction of the write that changes what it counts (`apps.records.counters`).

    A tenant's counts are spread over up to `counters.SLOTS` rows (slot = its channel's
    slot), summed when read: messages in different channels of one tenant then rarely
    wait on the same row. `manage.py recount` rebuilds the rows from the schemas. A
    database trigger adds every change of these rows to the platform totals
    (`PlatformCount`)."""

    tenant = models.ForeignKey(
        "tenancy.Tenant", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    slot = models.PositiveSmallIntegerField()
    channels = models.BigIntegerField(default=0)
    active_channels = models.BigIntegerField(default=0)
    escalated_channels = models.BigIntegerField(default=0)
    open_tickets = models.BigIntegerField(default=0)
    messages = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slot"], name="tenantcount_tenant_slot")
        ]


class PlatformCount(models.Model):
    """Every tenant's counts added up, for the console's figures: a fixed number of rows
    (`counters.PLATFORM_SLOTS`), summed when read, so the figures cost the same at any
    number of tenants.

    A trigger on the `TenantCount` table (migration `records.0005`) keeps them equal to
    the sum of its rows, in the transaction of the write: it follows every writer, the
    statements of `apps.records.counters` and the message's, a recount and a deleted
    tenant's cascade alike. The changes of a tenant's slot row go to platform row
    `(tenant * SLOTS + slot) % PLATFORM_SLOTS`, so messages in different tenants'
    channels rarely wait on the same row. `manage.py recount` rebuilds them too."""

    slot = models.PositiveSmallIntegerField(primary_key=True)
    channels = models.BigIntegerField(default=0)
    active_channels = models.BigIntegerField(default=0)
    escalated_channels = models.BigIntegerField(default=0)
    open_tickets = models.BigIntegerField(default=0)
    messages = models.BigIntegerField(default=0)


class TenantTally(models.Model):
    """How many tenants there are in each status, for the console's figures: one row per
    status, so counting them costs the same at any number of tenants. A trigger on the
    tenants table (migration `records.0006`) keeps the rows equal to a count, in the
    transaction that provisions, suspends, reactivates or deletes a tenant;
    `manage.py recount` rebuilds them (`counters.tenant_tally_rebuild`)."""

    status = models.CharField(max_length=20, primary_key=True)
    tenants = models.BigIntegerField(default=0)


class DeskRollup(models.Model):
    """The support desks of every tenant, counted per UTC day in the public schema, so the
    console's report over all tenants never reads a tenant schema. Written in the
    transaction of the ticket write it counts (`apps.records.desk`).

    `metric` names the event (`opened`, `resolved`, `escalated`, `breached`, and the
    histograms `first_response`, `resolution` and `rating`); `bucket` is 0 for counts, the
    rating for `rating`, and for times a logarithmic bucket of the seconds (each a
    quarter of a doubling wide), from which medians and p90s are estimated."""

    tenant = models.ForeignKey(
        "tenancy.Tenant", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    day = models.DateField()
    category = models.CharField(max_length=20)
    priority = models.CharField(max_length=10)
    metric = models.CharField(max_length=20)
    bucket = models.SmallIntegerField(default=0)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "tenant", "category", "priority", "metric", "bucket"],
                name="deskrollup_key",
            )
        ]


class SlaDeadline(models.Model):
    """The public index of SLA deadlines: one row per ticket whose clock runs, with the
    next due time of a target not yet met nor missed. The sweep (`apps.chat.services.sla`)
    reads only this table to find what is due, so its cost follows the tickets due, not
    the number of tenants. Written in the transaction of the ticket write it follows."""

    # The ticket's organisation; a platform ticket (public schema) names the tenant that
    # opened it and sets `platform`.
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    channel_id = models.UUIDField(unique=True)
    platform = models.BooleanField(default=False)
    due_at = models.DateTimeField()
    # Failed attempts to process it; each failure puts it back with a growing delay.
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["due_at"], name="sladeadline_due_idx")]
