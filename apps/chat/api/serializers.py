"""REST input and output shapes. The shapes events share (a message, a channel) are defined
in `apps.chat.payloads` and used here as they are."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.chat.models import (
    ChannelStatus,
    ChannelType,
    MessageKind,
    ParticipantRole,
    TicketCategory,
    TicketPriority,
    TicketStatus,
)
from apps.chat.payloads import ChannelOutput, MessageOutput, UserBrief
from apps.chat.selectors import (
    ACTIVITY,
    CHANNEL_PAGE_SIZE,
    MAX_CHANNEL_PAGE_SIZE,
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    SLA_DUE,
)
from apps.core.fields import BIGINT_MAX, StrictCharField


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
    next = serializers.CharField(
        allow_null=True, help_text="The `cursor` of the next page; null on the last page."
    )


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
    slaBreached = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Tickets that missed a target."
    )
    slaDueBefore = serializers.DateTimeField(
        required=False, help_text="Tickets whose running SLA target is due by then."
    )
    sort = serializers.ChoiceField(
        choices=[ACTIVITY, SLA_DUE],
        default=ACTIVITY,
        help_text="activity: newest activity first; slaDue: tickets whose SLA clock runs, "
        "soonest due first.",
    )
    cursor = serializers.CharField(max_length=200, required=False)
    limit = serializers.IntegerField(
        min_value=1, max_value=MAX_CHANNEL_PAGE_SIZE, default=CHANNEL_PAGE_SIZE
    )


class ChannelCreateInput(serializers.Serializer):
    type = serializers.ChoiceField(choices=ChannelType.choices)
    participantIds = serializers.ListField(
        child=serializers.IntegerField(max_value=BIGINT_MAX, min_value=1),
        max_length=500,
        default=list,
    )
    subject = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    category = serializers.ChoiceField(choices=TicketCategory.choices, required=False)
    priority = serializers.ChoiceField(choices=TicketPriority.choices, required=False)
    contextId = StrictCharField(max_length=100, required=False)


class MessageCreateInput(serializers.Serializer):
    # Length and blankness are the service's rule (shared with WebSocket): see content_clean.
    content = StrictCharField(
        allow_blank=True,
        trim_whitespace=False,
        required=False,
        help_text="Required unless cannedResponseId is given.",
    )
    kind = serializers.ChoiceField(
        choices=[MessageKind.USER, MessageKind.NOTE],
        default=MessageKind.USER,
        help_text="NOTE: an internal note on a ticket, shown to its staff only.",
    )
    cannedResponseId = serializers.IntegerField(
        min_value=1,
        max_value=BIGINT_MAX,
        required=False,
        help_text="Send this canned response, its placeholders filled in for the ticket.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "content" not in attrs and "cannedResponseId" not in attrs:
            raise serializers.ValidationError({"content": ["This field is required."]})
        return attrs


class RatingInput(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = StrictCharField(
        allow_blank=True, trim_whitespace=False, required=False, max_length=2000, default=""
    )


class HistoryInput(serializers.Serializer):
    before = serializers.IntegerField(max_value=BIGINT_MAX, min_value=1, required=False)
    after = serializers.IntegerField(max_value=BIGINT_MAX, min_value=0, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=PAGE_SIZE)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "before" in attrs and "after" in attrs:
            raise serializers.ValidationError({"before": ["Give either before or after."]})
        return attrs


class EscalateInput(serializers.Serializer):
    reason = StrictCharField(max_length=2000)


class AssignInput(serializers.Serializer):
    assigneeId = serializers.IntegerField(max_value=BIGINT_MAX, min_value=1)


class ReadInput(serializers.Serializer):
    messageId = serializers.IntegerField(max_value=BIGINT_MAX, min_value=1)


class TicketUpdateInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=TicketStatus.choices, required=False)
    priority = serializers.ChoiceField(choices=TicketPriority.choices, required=False)
    category = serializers.ChoiceField(choices=TicketCategory.choices, required=False)


class ParticipantsAddInput(serializers.Serializer):
    userIds = serializers.ListField(
        child=serializers.IntegerField(max_value=BIGINT_MAX, min_value=1),
        min_length=1,
        max_length=500,
    )
    role = serializers.ChoiceField(choices=ParticipantRole.choices, default=ParticipantRole.MEMBER)
