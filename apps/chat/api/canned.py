"""Canned responses at `/api/canned-responses`: on a tenant's host its set (staff read,
tenant admins write); on the console's host the platform's set (super admins)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import HostRequest
from apps.chat import selectors
from apps.chat.services import canned as services
from apps.core.api import validated
from apps.core.fields import StrictCharField

TAGS = ["canned responses"]


class CannedResponseInput(serializers.Serializer):
    # Shapes and placeholders are the service's rules (`apps.chat.services.canned`).
    shortcut = StrictCharField(max_length=50)
    title = StrictCharField(max_length=200)
    body = StrictCharField(
        max_length=services.MAX_BODY,
        trim_whitespace=False,
        help_text="May use {requester.name}, {agent.name} and {ticket.subject}.",
    )


class CannedResponseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    shortcut = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField()
    createdBy = serializers.IntegerField(source="created_by_id")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


class CannedListInput(serializers.Serializer):
    shortcut = serializers.CharField(
        max_length=50, required=False, help_text="Prefix of the shortcut."
    )


class CannedListOutput(serializers.Serializer):
    cannedResponses = CannedResponseOutput(many=True)


class CannedResponsesApi(APIView):
    @extend_schema(
        parameters=[CannedListInput],
        responses={200: CannedListOutput},
        operation_id="canned_responses_list",
        tags=TAGS,
        summary="This host's canned responses by shortcut; ?shortcut= a prefix",
    )
    def get(self, request: HostRequest) -> Response:
        query = validated(CannedListInput, request.query_params)
        rows = selectors.canned_responses(actor=request.actor, prefix=query.get("shortcut"))
        return Response({"cannedResponses": CannedResponseOutput(rows, many=True).data})

    @extend_schema(
        request=CannedResponseInput,
        responses={201: CannedResponseOutput},
        tags=TAGS,
        summary="Save a canned response (tenant admins; super admins on the console)",
    )
    def post(self, request: HostRequest) -> Response:
        data = validated(CannedResponseInput, request.data)
        row = services.canned_response_create(actor=request.actor, **data)
        return Response(CannedResponseOutput(row).data, status=201)


class CannedResponseApi(APIView):
    @extend_schema(responses={200: CannedResponseOutput}, tags=TAGS, summary="One")
    def get(self, request: HostRequest, response_id: str) -> Response:
        row = selectors.canned_response(actor=request.actor, response_id=response_id)
        return Response(CannedResponseOutput(row).data)

    @extend_schema(
        request=CannedResponseInput,
        responses={200: CannedResponseOutput},
        tags=TAGS,
        summary="Replace its shortcut, title and body",
    )
    def put(self, request: HostRequest, response_id: str) -> Response:
        data = validated(CannedResponseInput, request.data)
        row = services.canned_response_update(actor=request.actor, response_id=response_id, **data)
        return Response(CannedResponseOutput(row).data)

    @extend_schema(request=None, responses={204: None}, tags=TAGS, summary="Delete")
    def delete(self, request: HostRequest, response_id: str) -> Response:
        services.canned_response_delete(actor=request.actor, response_id=response_id)
        return Response(status=204)
