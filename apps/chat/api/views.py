"""Thin REST views: parse input, call a service or selector, shape the output."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import HostRequest
from apps.chat import selectors, services
from apps.chat.api.bodies import channel_detail_body, history_body
from apps.chat.api.serializers import (
    AssignInput,
    ChannelCreateInput,
    ChannelDetailOutput,
    ChannelFilterInput,
    ChannelListOutput,
    EscalateInput,
    HistoryInput,
    MessageCreateInput,
    MessagePageOutput,
    ParticipantOutput,
    ParticipantsAddInput,
    RatingInput,
    ReadInput,
    ReadOutput,
    TicketUpdateInput,
    UnreadOutput,
)
from apps.chat.limits import MESSAGES_SCOPE
from apps.chat.locate import channel_located
from apps.chat.payloads import ChannelOutput, MessageOutput, channel_payload, message_payload
from apps.core.api import validated
from apps.core.throttles import LimitThrottle

TAGS = ["chat"]


def _channel(request: HostRequest, channel_id: str) -> Response:
    """The channel as the caller now sees it (status, ticket, unread)."""
    with channel_located(request.actor, channel_id) as located:
        channel = selectors.channel_read_state(located=located)
        return Response(channel_payload(channel))


class MessageThrottle(LimitThrottle):
    """MESSAGE_RATE per user, counted with the user's socket sends (`limits.hit`)."""

    scope = MESSAGES_SCOPE
    rate_setting = "MESSAGE_RATE"

    def ident(self, request: Any) -> object | None:
        return request.user.pk if request.user.is_authenticated else None


class ChannelListApi(APIView):
    @extend_schema(
        parameters=[ChannelFilterInput],
        responses={200: ChannelListOutput},
        operation_id="chat_channels_list",
        tags=TAGS,
        summary="Your channels, newest activity first (or `sort=slaDue`), with unreadCount "
        "and lastMessage; `limit` a page (50, at most 200), `cursor=<next>` for the next",
    )
    def get(self, request: HostRequest) -> Response:
        filters = validated(ChannelFilterInput, request.query_params)
        cursor = filters.get("cursor")
        page = selectors.channel_list(
            actor=request.actor,
            type=filters.get("type"),
            status=filters.get("status"),
            context_id=filters.get("contextId"),
            sla_breached=filters.get("slaBreached"),
            sla_due_before=filters.get("slaDueBefore"),
            sort=filters["sort"],
            after=selectors.ChannelCursor.decode(cursor, sort=filters["sort"]) if cursor else None,
            limit=filters["limit"],
        )
        return Response(
            {
                "channels": [channel_payload(channel) for channel in page.channels],
                "next": page.next.encode() if page.next else None,
            }
        )

    @extend_schema(
        request=ChannelCreateInput,
        responses={201: ChannelOutput},
        tags=TAGS,
        summary="Open a channel (a PLATFORM_SUPPORT ticket is stored on the platform)",
    )
    def post(self, request: HostRequest) -> Response:
        data = validated(ChannelCreateInput, request.data)
        channel = services.channel_create(
            actor=request.actor,
            type=data["type"],
            participant_ids=data["participantIds"],
            subject=data["subject"],
            category=data.get("category"),
            priority=data.get("priority"),
            context_id=data.get("contextId"),
        )
        return _created_channel(request, channel.pk)


def _created_channel(request: HostRequest, channel_id: Any) -> Response:
    response = _channel(request, str(channel_id))
    response.status_code = 201
    return response


class ChannelDetailApi(APIView):
    @extend_schema(
        responses={200: ChannelDetailOutput},
        tags=TAGS,
        summary="Channel, participants and newest messages",
    )
    def get(self, request: HostRequest, channel_id: str) -> Response:
        return Response(channel_detail_body(request.actor, channel_id))

    @extend_schema(
        responses={200: ChannelOutput},
        tags=TAGS,
        summary="Archive (read-only from now on; not a delete)",
    )
    def delete(self, request: HostRequest, channel_id: str) -> Response:
        services.channel_archive(actor=request.actor, channel_id=channel_id)
        return _channel(request, channel_id)


class MessagesApi(APIView):
    def get_throttles(self) -> list[Any]:
        return [MessageThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        parameters=[HistoryInput],
        responses={200: MessagePageOutput},
        tags=TAGS,
        summary="History: before=<messageId> pages back; after=<messageId> resumes forward",
    )
    def get(self, request: HostRequest, channel_id: str) -> Response:
        return Response(history_body(request.actor, channel_id, request.query_params))

    @extend_schema(
        request=MessageCreateInput,
        responses={201: MessageOutput},
        tags=TAGS,
        summary="Send a message",
    )
    def post(self, request: HostRequest, channel_id: str) -> Response:
        data = validated(MessageCreateInput, request.data)
        message = services.message_send(
            actor=request.actor,
            channel_id=channel_id,
            content=data.get("content"),
            kind=data["kind"],
            canned_response_id=data.get("cannedResponseId"),
        )
        return Response(message_payload(message), status=201)


class MessageRemoveApi(APIView):
    @extend_schema(
        request=None,
        responses={200: MessageOutput},
        tags=TAGS,
        summary="Moderator removes a tournament message (kept, marked removed)",
    )
    def delete(self, request: HostRequest, channel_id: str, message_id: str) -> Response:
        message = services.message_remove(
            actor=request.actor, channel_id=channel_id, message_id=message_id
        )
        return Response(message_payload(message))


class EscalateApi(APIView):
    @extend_schema(
        request=EscalateInput,
        responses={200: ChannelOutput},
        tags=TAGS,
        summary="Escalate to the platform's super admins",
    )
    def put(self, request: HostRequest, channel_id: str) -> Response:
        data = validated(EscalateInput, request.data)
        services.channel_escalate(actor=request.actor, channel_id=channel_id, reason=data["reason"])
        return _channel(request, channel_id)


class AssignApi(APIView):
    @extend_schema(
        request=AssignInput,
        responses={200: ChannelOutput},
        tags=TAGS,
        summary="Assign to an admin or management-team member",
    )
    def put(self, request: HostRequest, channel_id: str) -> Response:
        data = validated(AssignInput, request.data)
        services.channel_assign(
            actor=request.actor, channel_id=channel_id, assignee_id=data["assigneeId"]
        )
        return _channel(request, channel_id)


class ResolveApi(APIView):
    @extend_schema(request=None, responses={200: ChannelOutput}, tags=TAGS, summary="Mark resolved")
    def put(self, request: HostRequest, channel_id: str) -> Response:
        services.channel_resolve(actor=request.actor, channel_id=channel_id)
        return _channel(request, channel_id)


class TicketApi(APIView):
    @extend_schema(
        request=TicketUpdateInput,
        responses={200: ChannelOutput},
        tags=TAGS,
        summary="Change a ticket's status, priority or category",
    )
    def patch(self, request: HostRequest, channel_id: str) -> Response:
        data = validated(TicketUpdateInput, request.data)
        services.ticket_update(actor=request.actor, channel_id=channel_id, **data)
        return _channel(request, channel_id)


class RatingApi(APIView):
    @extend_schema(
        request=RatingInput,
        responses={200: ChannelOutput},
        tags=TAGS,
        summary="The requester rates a resolved ticket (1-5, once, within 7 days)",
    )
    def post(self, request: HostRequest, channel_id: str) -> Response:
        data = validated(RatingInput, request.data)
        services.ticket_rate(
            actor=request.actor,
            channel_id=channel_id,
            rating=data["rating"],
            comment=data["comment"],
        )
        return _channel(request, channel_id)


class ReadApi(APIView):
    @extend_schema(
        request=ReadInput,
        responses={200: ReadOutput},
        tags=TAGS,
        summary="Mark read up to a message",
    )
    def post(self, request: HostRequest, channel_id: str) -> Response:
        data = validated(ReadInput, request.data)
        participant = services.read_mark(
            actor=request.actor, channel_id=channel_id, message_id=data["messageId"]
        )
        return Response(ReadOutput(participant).data)


class ParticipantsApi(APIView):
    @extend_schema(
        request=ParticipantsAddInput,
        responses={201: ParticipantOutput(many=True)},
        tags=TAGS,
        summary="Add members of the organisation",
    )
    def post(self, request: HostRequest, channel_id: str) -> Response:
        data = validated(ParticipantsAddInput, request.data)
        added = services.participants_add(
            actor=request.actor, channel_id=channel_id, user_ids=data["userIds"], role=data["role"]
        )
        with channel_located(request.actor, channel_id) as located:
            added_ids = {p.user_id for p in added}
            rows = [
                p for p in selectors.channel_participants(located=located) if p.user_id in added_ids
            ]
        return Response(ParticipantOutput(rows, many=True).data, status=201)


class UnreadApi(APIView):
    @extend_schema(
        responses={200: UnreadOutput}, tags=TAGS, summary="Total unread, for the navbar badge"
    )
    def get(self, request: HostRequest) -> Response:
        return Response(UnreadOutput(selectors.unread_total(actor=request.actor)).data)
