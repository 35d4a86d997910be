"""Public-schema records about tenant objects, referenced by (tenant, id)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class EscalationState(models.TextChoices):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"
    ARCHIVED = "ARCHIVED"


class Escalation(models.Model):
    """The public index of escalated tenant channels: the console lists these without
    scanning tenant schemas. One row per escalation of a channel."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    channel_id = models.UUIDField()
    subject = models.CharField(max_length=200, blank=True)
    reason = models.TextField()
    escalated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    state = models.CharField(
        max_length=10, choices=EscalationState.choices, default=EscalationState.OPEN
    )
    escalated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "-escalated_at"], name="escalation_state_idx"),
            models.Index(fields=["tenant", "channel_id"], name="escalation_tenant_channel_idx"),
        ]
