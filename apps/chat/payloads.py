"""The shapes of a message and a channel, the same in a REST response and in an event
(`new_message`, `channel_created`, ...). The REST layer uses these serializers; event
payloads come from here, below it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from rest_framework import serializers

from apps.chat.models import Channel, Message, ParticipantRole


class UserBrief(serializers.Serializer):
    id = serializers.IntegerField()
    displayName = serializers.CharField(source="display_name")


class MessageOutput(serializers.Serializer):
    id = serializers.IntegerField()
    channelId = serializers.UUIDField(source="channel_id")
    seq = serializers.IntegerField(help_text="Position in the channel: 1, 2, 3, ...")
    publicSeq = serializers.IntegerField(
        source="public_seq",
        help_text="How many messages that are not internal notes the channel holds up to "
        "this one: consecutive for those who do not see notes (whose `seq` has gaps).",
    )
    sender = UserBrief(allow_null=True, help_text="Null for SYSTEM messages.")
    senderType = serializers.CharField(source="sender_type")
    kind = serializers.CharField()
    content = serializers.SerializerMethodField(help_text="Null once a moderator removed it.")
    createdAt = serializers.DateTimeField(source="created_at")
    removedAt = serializers.DateTimeField(source="removed_at", allow_null=True)
    removedBy = serializers.IntegerField(source="removed_by_id", allow_null=True)

    def get_content(self, message: Message) -> str | None:
        return None if message.removed_at else message.content


class SlaOutput(serializers.Serializer):
    firstResponseDueAt = serializers.DateTimeField(allow_null=True)
    resolutionDueAt = serializers.DateTimeField(allow_null=True)
    dueAt = serializers.DateTimeField(
        allow_null=True, help_text="The earliest due time of a target not met, while it runs."
    )
    firstResponseBreachedAt = serializers.DateTimeField(allow_null=True)
    resolutionBreachedAt = serializers.DateTimeField(allow_null=True)
    breached = serializers.BooleanField()
    paused = serializers.BooleanField(help_text="WAITING_ON_USER or RESOLVED: the clock stands.")


class TicketOutput(serializers.Serializer):
    requesterId = serializers.IntegerField(source="requester_id")
    category = serializers.CharField()
    priority = serializers.CharField()
    status = serializers.CharField()
    firstResponseAt = serializers.DateTimeField(source="first_response_at", allow_null=True)
    resolvedAt = serializers.DateTimeField(source="resolved_at", allow_null=True)
    closedAt = serializers.DateTimeField(source="closed_at", allow_null=True)
    rating = serializers.IntegerField(allow_null=True, help_text="The requester's 1-5, once.")
    ratingComment = serializers.CharField(source="rating_comment")
    ratedAt = serializers.DateTimeField(source="rated_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    sla = SlaOutput(allow_null=True, help_text="Null when no SLA target applies.")


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


_ZONE = ZoneInfo(settings.TIME_ZONE)


def _time(value: datetime | None) -> str | None:
    """What `serializers.DateTimeField().to_representation` gives for a stored (aware)
    time, in the server's zone, at a tenth of its cost: a page of 50 channels formats a few
    hundred of these."""
    if value is None:
        return None
    text = value.astimezone(_ZONE).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def message_payload(message: Message) -> dict[str, Any]:
    """`MessageOutput(message).data`, built directly: every message sent and every history
    page goes through here, and the serializer costs ten times as much."""
    return {
        "id": message.pk,
        "channelId": str(message.channel_id),
        "seq": message.seq,
        "publicSeq": message.public_seq,
        "sender": _user_brief(message.sender),
        "senderType": message.sender_type,
        "kind": message.kind,
        "content": None if message.removed_at else message.content,
        "createdAt": _time(message.created_at),
        "removedAt": _time(message.removed_at),
        "removedBy": message.removed_by_id,
    }


def _user_brief(user: Any) -> dict[str, Any] | None:
    return None if user is None else {"id": user.pk, "displayName": user.display_name}


def _ticket_payload(channel: Channel) -> dict[str, Any] | None:
    try:
        ticket = channel.ticket
    except ObjectDoesNotExist:
        return None
    return {
        "requesterId": ticket.requester_id,
        "category": ticket.category,
        "priority": ticket.priority,
        "status": ticket.status,
        "firstResponseAt": _time(ticket.first_response_at),
        "resolvedAt": _time(ticket.resolved_at),
        "closedAt": _time(ticket.closed_at),
        "rating": ticket.rating,
        "ratingComment": ticket.rating_comment,
        "ratedAt": _time(ticket.rated_at),
        "createdAt": _time(ticket.created_at),
        "sla": _sla_payload(ticket),
    }


def _sla_payload(ticket: Any) -> dict[str, Any] | None:
    """The ticket's stored SLA columns, as they are (nothing is computed per request)."""
    if not (ticket.sla_first_response_due_at or ticket.sla_resolution_due_at):
        return None
    return {
        "firstResponseDueAt": _time(ticket.sla_first_response_due_at),
        "resolutionDueAt": _time(ticket.sla_resolution_due_at),
        "dueAt": _time(ticket.sla_due_at),
        "firstResponseBreachedAt": _time(ticket.sla_first_response_breached_at),
        "resolutionBreachedAt": _time(ticket.sla_resolution_breached_at),
        "breached": ticket.sla_breached,
        "paused": ticket.sla_paused_at is not None,
    }


def channel_payload(channel: Channel) -> dict[str, Any]:
    """`ChannelOutput(channel).data`, built directly (a page of 50 channels through the
    nested serializers cost more than the queries behind it)."""
    last = channel.last_message
    unread = getattr(channel, "unread_count", None)
    return {
        "id": str(channel.pk),
        "type": channel.type,
        "status": channel.status,
        "subject": channel.subject,
        "contextId": channel.context_id,
        "tenant": None if channel.tenant is None else channel.tenant.schema_name,
        "createdBy": channel.created_by_id,
        "assignedTo": _user_brief(channel.assigned_to),
        "escalationReason": channel.escalation_reason,
        "escalatedAt": _time(channel.escalated_at),
        "resolvedAt": _time(channel.resolved_at),
        "archivedAt": _time(channel.archived_at),
        "createdAt": _time(channel.created_at),
        "lastActivityAt": _time(channel.last_activity_at),
        "ticket": _ticket_payload(channel),
        "lastMessage": None if last is None else message_payload(last),
        "unreadCount": None if unread is None else int(unread),
        "myRole": getattr(channel, "my_role", None),
    }
