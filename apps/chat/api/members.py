"""The tenant's members, on its host (`/api/members`): everyone lists whom they may see;
tenant admins read one member, change roles, suspend, reactivate and remove. Role
changes and removals reach the member's channels (`apps.chat.services.members`), which
is why these endpoints sit above chat."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import member_rules, selectors
from apps.accounts.models import Membership, MembershipStatus, Role
from apps.accounts.permissions import HostRequest
from apps.chat.services import members as services
from apps.core.api import validated
from apps.core.exceptions import NotFound

TAGS = ["members"]


class MemberListInput(serializers.Serializer):
    search = serializers.CharField(
        max_length=100, required=False, help_text="Prefix of the display name (or email)."
    )
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    status = serializers.ChoiceField(choices=MembershipStatus.choices, required=False)
    after = serializers.CharField(
        max_length=400, required=False, help_text="The `next` of the previous page."
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=selectors.MAX_MEMBER_PAGE_SIZE, default=selectors.MEMBER_PAGE_SIZE
    )


class MemberOutput(serializers.Serializer):
    id = serializers.IntegerField(source="user_id")
    displayName = serializers.CharField(source="user.display_name")
    email = serializers.SerializerMethodField(help_text="Shown to tenant admins only.")
    role = serializers.ChoiceField(choices=Role.choices)
    status = serializers.ChoiceField(choices=MembershipStatus.choices)
    joinedAt = serializers.DateTimeField(source="created_at")

    @extend_schema_field(OpenApiTypes.EMAIL)  # null unless the caller sees emails
    def get_email(self, membership: Membership) -> str | None:
        return membership.user.email if self.context.get("emails") else None


class MemberPageOutput(serializers.Serializer):
    members = MemberOutput(many=True)
    next = serializers.CharField(allow_null=True)


class RoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


def _user_id(text: str) -> int:
    """A user id from the path; anything else is a member that does not exist."""
    if not text.isascii() or not text.isdigit() or int(text) >= 2**31:
        raise NotFound("Member not found.")
    return int(text)


def _member(request: HostRequest, membership: Membership) -> Response:
    context = {"emails": member_rules.sees_details(request.actor)}
    return Response(MemberOutput(membership, context=context).data)


class MembersApi(APIView):
    @extend_schema(
        parameters=[MemberListInput],
        responses={200: MemberPageOutput},
        operation_id="members_list",
        tags=TAGS,
        summary="Members by display name: everyone sees the staff, the staff see everyone, "
        "tenant admins also see emails and suspended members; `after=<next>` pages on",
    )
    def get(self, request: HostRequest) -> Response:
        params = validated(MemberListInput, request.query_params)
        after = params.get("after")
        page = selectors.member_page(
            actor=request.actor,
            search=params.get("search"),
            role=params.get("role"),
            status=params.get("status"),
            after=selectors.MemberCursor.decode(after) if after else None,
            limit=params["limit"],
        )
        body: dict[str, Any] = {
            "members": page.members,
            "next": page.next.encode() if page.next else None,
        }
        context = {"emails": member_rules.sees_details(request.actor)}
        return Response(MemberPageOutput(body, context=context).data)


class MemberApi(APIView):
    @extend_schema(responses={200: MemberOutput}, tags=TAGS, summary="One member (tenant admins)")
    def get(self, request: HostRequest, user_id: str) -> Response:
        return _member(
            request, selectors.member_get(actor=request.actor, user_id=_user_id(user_id))
        )

    @extend_schema(
        request=RoleInput,
        responses={200: MemberOutput},
        tags=TAGS,
        summary="Change a member's role; their channels follow (tenant admins; "
        "409 last_admin for the last active admin)",
    )
    def patch(self, request: HostRequest, user_id: str) -> Response:
        uid = _user_id(user_id)
        data = validated(RoleInput, request.data)
        membership = services.member_role_change(
            actor=request.actor, user_id=uid, role=Role(data["role"])
        )
        return _member(request, membership)

    @extend_schema(
        request=None,
        responses={204: None},
        tags=TAGS,
        summary="Remove a member from the organisation; the account and its messages stay "
        "(tenant admins; 409 last_admin)",
    )
    def delete(self, request: HostRequest, user_id: str) -> Response:
        services.member_remove(actor=request.actor, user_id=_user_id(user_id))
        return Response(status=204)


class MemberSuspendApi(APIView):
    @extend_schema(
        request=None,
        responses={200: MemberOutput},
        tags=TAGS,
        summary="Suspend a member: no access until reactivated; open sockets close "
        "(tenant admins; 409 already_suspended, last_admin)",
    )
    def put(self, request: HostRequest, user_id: str) -> Response:
        membership = services.member_suspend(actor=request.actor, user_id=_user_id(user_id))
        return _member(request, membership)


class MemberReactivateApi(APIView):
    @extend_schema(
        request=None,
        responses={200: MemberOutput},
        tags=TAGS,
        summary="Reactivate a suspended member (tenant admins; 409 not_suspended)",
    )
    def put(self, request: HostRequest, user_id: str) -> Response:
        membership = services.member_reactivate(actor=request.actor, user_id=_user_id(user_id))
        return _member(request, membership)
