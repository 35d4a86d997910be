"""REST output shapes, reused verbatim as WebSocket event payloads (apps.chat.payloads)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.chat.models import (
    ChannelStatus,
    ChannelType,
    Message,
    ParticipantRole,
    TicketCategory,
    TicketPriority,
    TicketStatus,
)
from apps.chat.selectors import MAX_PAGE_SIZE, PAGE_SIZE
from apps.core.fields import StrictCharField


class UserBrief(serializers.Serializer):
    id = serializers.IntegerField()
    displayName = serializers.CharField(source="display_name")


class MessageOutput(serializers.Serializer):
    id = serializers.IntegerField()
    channelId = serializers.UUIDField(source="channel_id")
    seq = serializers.IntegerField(help_text="Position in the channel: 1, 2, 3, ...")
    sender = UserBrief(allow_null=True, help_text="Null for SYSTEM messages.")
    senderType = serializers.CharField(source="sender_type")
    kind = serializers.CharField()
    content = serializers.SerializerMethodField(help_text="Null once a moderator removed it.")
    createdAt = serializers.DateTimeField(source="created_at")
    removedAt = serializers.DateTimeField(source="removed_at", allow_null=True)
    removedBy = serializers.IntegerField(source="removed_by_id", allow_null=True)

    def get_content(self, message: Message) -> str | None:
        return None if message.removed_at else message.content


class TicketOutput(serializers.Serializer):
    requesterId = serializers.IntegerField(source="requester_id")
    category = serializers.CharField()
    priority = serializers.CharField()
    status = serializers.CharField()
    firstResponseAt = serializers.DateTimeField(source="first_response_at", allow_null=True)
    resolvedAt = serializers.DateTimeField(source="resolved_at", allow_null=True)
    closedAt = serializers.DateTimeField(source="closed_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")


class ChannelOutput(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField()
    status = serializers.CharField()
    subject = serializers.CharField()
    contextId = serializers.CharField(source="context_id", allow_null=True)
    tenant = serializers.CharField(
        source="tenant.schema_name",
        allow_null=True,
        help_text="The opening organisation, on PLATFORM_SUPPORT tickets.",
    )
    createdBy = serializers.IntegerField(source="created_by_id")
    assignedTo = UserBrief(source="assigned_to", allow_null=True)
    escalationReason = serializers.CharField(source="escalation_reason")
    escalatedAt = serializers.DateTimeField(source="escalated_at", allow_null=True)
    resolvedAt = serializers.DateTimeField(source="resolved_at", allow_null=True)
    archivedAt = serializers.DateTimeField(source="archived_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    lastActivityAt = serializers.DateTimeField(source="last_activity_at")
    ticket = TicketOutput(allow_null=True)
    lastMessage = MessageOutput(source="last_message", allow_null=True)
    unreadCount = serializers.IntegerField(
        source="unread_count", default=None, allow_null=True, help_text="For the caller."
    )
    myRole = serializers.ChoiceField(
        source="my_role", choices=ParticipantRole.choices, default=None, allow_null=True
    )


class ParticipantOutput(serializers.Serializer):
    user = UserBrief()
    role = serializers.CharField()
    lastReadSeq = serializers.IntegerField(source="last_read_seq")
    joinedAt = serializers.DateTimeField(source="joined_at")


class MessagePageOutput(serializers.Serializer):
    messages = MessageOutput(many=True)
    hasMore = serializers.BooleanField(source="has_more")
    direction = serializers.ChoiceField(
        choices=["older", "newer"],
        help_text="older: newest first (no cursor, or before=); newer: oldest first (after=).",
    )


class ChannelDetailOutput(ChannelOutput):
    participants = ParticipantOutput(many=True)
    messages = MessagePageOutput(help_text="The newest 50 messages, newest first.")


class ChannelListOutput(serializers.Serializer):
    channels = ChannelOutput(many=True)


class UnreadOutput(serializers.Serializer):
    total = serializers.IntegerField(help_text="Unread messages over all your channels.")
    channels = serializers.IntegerField(help_text="Channels with unread messages.")


class ReadOutput(serializers.Serializer):
    channelId = serializers.UUIDField(source="channel_id")
    lastReadSeq = serializers.IntegerField(source="last_read_seq")
    unreadCount = serializers.IntegerField(source="unread_count")


# --- inputs ------------------------------------------------------------------------------


class ChannelFilterInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=ChannelType.choices, required=False)
    status = serializers.ChoiceField(choices=ChannelStatus.choices, required=False)
    contextId = serializers.CharField(max_length=100, required=False)


class ChannelCreateInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=ChannelType.choices)
    participantIds = serializers.ListField(
        child=serializers.IntegerField(min_value=1), max_length=500, default=list
    )
    subject = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    category = serializers.ChoiceField(choices=TicketCategory.choices, required=False)
    priority = serializers.ChoiceField(choices=TicketPriority.choices, required=False)
    contextId = StrictCharField(max_length=100, required=False)


class MessageCreateInput(serializers.Serializer):
    # Length and blankness are the service's rule (shared with WebSocket): see content_clean.
    content = StrictCharField(allow_blank=True, trim_whitespace=False)


class HistoryInput(serializers.Serializer):
    before = serializers.IntegerField(min_value=1, required=False)
    after = serializers.IntegerField(min_value=0, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=PAGE_SIZE)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "before" in attrs and "after" in attrs:
            raise serializers.ValidationError({"before": ["Give either before or after."]})
        return attrs


class EscalateInput(serializers.Serializer):
    reason = StrictCharField(max_length=2000)


class AssignInput(serializers.Serializer):
    assigneeId = serializers.IntegerField(min_value=1)


class ReadInput(serializers.Serializer):
    messageId = serializers.IntegerField(min_value=1)


class TicketUpdateInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=TicketStatus.choices, required=False)
    priority = serializers.ChoiceField(choices=TicketPriority.choices, required=False)
    category = serializers.ChoiceField(choices=TicketCategory.choices, required=False)


class ParticipantsAddInput(serializers.Serializer):
    userIds = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=500
    )
    role = serializers.ChoiceField(choices=ParticipantRole.choices, default=ParticipantRole.MEMBER)
