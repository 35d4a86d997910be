from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.records.audit import Action


class AuditEntryOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    actorId = serializers.IntegerField(source="actor_id", allow_null=True)
    actorEmail = serializers.CharField(source="actor_email")
    action = serializers.ChoiceField(choices=[(a, a) for a in Action.ALL])
    tenant = serializers.CharField(source="tenant_slug")
    targetType = serializers.CharField(source="target_type")
    targetId = serializers.CharField(source="target_id")
    details = serializers.DictField()


class TenantAuditListInput(serializers.Serializer[Any]):
    action = serializers.ChoiceField(choices=[(a, a) for a in Action.ALL], required=False)
    before = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text="An entry id."
    )
    limit = serializers.IntegerField(min_value=1, max_value=100, default=50)


class TenantAuditPageOutput(serializers.Serializer[Any]):
    entries = AuditEntryOutput(many=True)
    hasMore = serializers.BooleanField(source="has_more")
