"""The console's REST shapes (camelCase, like the chat API)."""

from __future__ import annotations

from rest_framework import serializers

from apps.chat.api.serializers import ChannelDetailOutput
from apps.chat.models import TicketCategory, TicketPriority, TicketStatus
from apps.chat.payloads import ChannelOutput, UserBrief
from apps.core.fields import BIGINT_MAX, StrictCharField
from apps.records.api.serializers import AuditEntryOutput
from apps.records.audit import Action
from apps.records.models import EscalationState
from apps.tenancy.models import TenantStatus
from apps.tenancy.services import tenant_host


class TenantCountsOutput(serializers.Serializer):
    members = serializers.IntegerField()
    channels = serializers.IntegerField()
    activeChannels = serializers.IntegerField()
    escalatedChannels = serializers.IntegerField()
    openTickets = serializers.IntegerField(help_text="The tenant's own SUPPORT tickets.")
    openPlatformTickets = serializers.IntegerField(help_text="Its tickets to the platform.")


class ConsoleTenantOutput(serializers.Serializer):
    slug = serializers.CharField(source="schema_name")
    name = serializers.CharField()
    host = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=TenantStatus.choices)
    suspendedAt = serializers.DateTimeField(source="suspended_at", allow_null=True)
    suspensionReason = serializers.CharField(source="suspension_reason")
    createdAt = serializers.DateTimeField(source="created_at")
    counts = TenantCountsOutput()

    def get_host(self, tenant: object) -> str:
        return tenant_host(tenant.schema_name)  # type: ignore[attr-defined]


class TenantPageOutput(serializers.Serializer):
    tenants = ConsoleTenantOutput(many=True)
    next = serializers.CharField(allow_null=True, help_text="Pass as ?after= for the next page.")


class TenantListInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=TenantStatus.choices, required=False)
    search = serializers.CharField(max_length=100, required=False)
    after = serializers.CharField(max_length=63, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)


class TenantCreateInput(serializers.Serializer):
    slug = StrictCharField(max_length=40, help_text="Subdomain: lowercase letters and digits.")
    name = StrictCharField(max_length=200)
    adminEmail = serializers.EmailField()
    adminName = StrictCharField(max_length=150, required=False)


class AdminOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    displayName = serializers.CharField(source="display_name")


class TenantCreatedOutput(serializers.Serializer):
    tenant = ConsoleTenantOutput()
    host = serializers.CharField()
    admin = AdminOutput()
    adminPassword = serializers.CharField(
        source="admin_password",
        allow_null=True,
        help_text="Only when the admin's account was created now; shown once, not stored.",
    )


class SuspendInput(serializers.Serializer):
    reason = StrictCharField(max_length=2000)


class DeleteInput(serializers.Serializer):
    confirm = serializers.CharField(
        max_length=63, required=False, default="", help_text="Must repeat the tenant's slug."
    )


class PriorityCountsOutput(serializers.Serializer):
    LOW = serializers.IntegerField()
    MEDIUM = serializers.IntegerField()
    HIGH = serializers.IntegerField()
    URGENT = serializers.IntegerField()


class OpenPlatformTicketsOutput(serializers.Serializer):
    total = serializers.IntegerField()
    byPriority = PriorityCountsOutput()


class TenantTotalsOutput(serializers.Serializer):
    total = serializers.IntegerField()
    active = serializers.IntegerField()
    suspended = serializers.IntegerField()


class FiguresOutput(serializers.Serializer):
    tenants = TenantTotalsOutput()
    channels = serializers.IntegerField()
    activeChannels = serializers.IntegerField()
    openTenantTickets = serializers.IntegerField()
    openPlatformTickets = OpenPlatformTicketsOutput()
    escalationsWaiting = serializers.IntegerField()


class TicketQueueInput(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=TicketStatus.choices, required=False, help_text="Default: the open statuses."
    )
    priority = serializers.ChoiceField(choices=TicketPriority.choices, required=False)
    category = serializers.ChoiceField(choices=TicketCategory.choices, required=False)
    tenant = serializers.CharField(max_length=63, required=False, help_text="Tenant slug.")
    assigneeId = serializers.IntegerField(max_value=BIGINT_MAX, min_value=1, required=False)
    unassigned = serializers.BooleanField(required=False, default=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)
    offset = serializers.IntegerField(max_value=BIGINT_MAX, min_value=0, default=0)


class TicketPageOutput(serializers.Serializer):
    tickets = ChannelOutput(many=True)
    total = serializers.IntegerField()


class EscalationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    tenant = serializers.CharField(source="tenant.schema_name")
    tenantName = serializers.CharField(source="tenant.name")
    channelId = serializers.UUIDField(source="channel_id")
    subject = serializers.CharField()
    reason = serializers.CharField()
    escalatedBy = UserBrief(source="escalated_by")
    escalatedAt = serializers.DateTimeField(source="escalated_at")
    state = serializers.ChoiceField(choices=EscalationState.choices)
    closedAt = serializers.DateTimeField(source="closed_at", allow_null=True)


class EscalationListInput(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=EscalationState.choices, required=False, help_text="Default: OPEN."
    )
    tenant = serializers.CharField(max_length=63, required=False, help_text="Tenant slug.")
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)
    offset = serializers.IntegerField(max_value=BIGINT_MAX, min_value=0, default=0)


class EscalationPageOutput(serializers.Serializer):
    escalations = EscalationOutput(many=True)
    total = serializers.IntegerField()


class EscalationDetailOutput(serializers.Serializer):
    escalation = EscalationOutput()
    channel = ChannelDetailOutput()


class DeescalateInput(serializers.Serializer):
    note = StrictCharField(max_length=2000, required=False, default="", allow_blank=True)


class AuditListInput(serializers.Serializer):
    tenant = serializers.CharField(max_length=63, required=False, help_text="Tenant slug.")
    action = serializers.ChoiceField(choices=[(a, a) for a in Action.ALL], required=False)
    actorId = serializers.IntegerField(max_value=BIGINT_MAX, min_value=1, required=False)
    before = serializers.IntegerField(
        max_value=BIGINT_MAX, min_value=1, required=False, help_text="An entry id."
    )
    limit = serializers.IntegerField(min_value=1, max_value=200, default=50)


class AuditPageOutput(serializers.Serializer):
    entries = AuditEntryOutput(many=True)
    hasMore = serializers.BooleanField(source="has_more")
