"""Invitations (tenant host) and a person's own account: password change and reset,
sessions. Thin: the services decide."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from apps.accounts.api.serializers import LoginOutput
from apps.accounts.models import ApiToken, User
from apps.accounts.permissions import HostRequest, TenantRequest
from apps.core.api import user_agent, validated
from apps.people import selectors, services
from apps.people.api import throttles
from apps.people.api.serializers import (
    InvitationAcceptInput,
    InvitationCreateInput,
    InvitationListOutput,
    InvitationOutput,
    InvitationPreviewOutput,
    PasswordChangeInput,
    PasswordResetAcceptedOutput,
    PasswordResetConfirmInput,
    PasswordResetInput,
    PasswordResetPreviewOutput,
    SessionListOutput,
    TokenQueryInput,
)

INVITATIONS = ["invitations"]
AUTH = ["auth"]
RESET_ACCEPTED = {
    "detail": "If an account with this address may sign in here, a reset link is on its way."
}


class PublicApi(APIView):
    """Unauthenticated: the mailed token, or nothing, is the credential."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]


class InvitationsApi(APIView):
    def get_throttles(self) -> list[BaseThrottle]:
        if self.request.method == "POST":
            return [throttles.InviteThrottle(), throttles.InviteAddressThrottle()]
        return []

    @extend_schema(
        responses={200: InvitationListOutput},
        tags=INVITATIONS,
        summary="Pending invitations (tenant admins: all; management team: participants)",
    )
    def get(self, request: HostRequest) -> Response:
        invitations = selectors.invitation_list(actor=request.actor)
        return Response(InvitationListOutput({"invitations": invitations}).data)

    @extend_schema(
        request=InvitationCreateInput,
        responses={201: InvitationOutput, 200: InvitationOutput},
        tags=INVITATIONS,
        summary="Invite someone by email (201); the same pending invitation again is 200 "
        "and mails a fresh link (rate limited per user and per address)",
    )
    def post(self, request: HostRequest) -> Response:
        data = validated(InvitationCreateInput, request.data)
        sent = services.invitation_create(
            actor=request.actor,
            email=data["email"],
            role=data["role"],
            display_name=data.get("displayName", "").strip(),
        )
        return Response(InvitationOutput(sent.invitation).data, status=201 if sent.created else 200)


class InvitationApi(APIView):
    @extend_schema(responses={204: None}, tags=INVITATIONS, summary="Revoke a pending invitation")
    def delete(self, request: HostRequest, invitation_id: int) -> Response:
        services.invitation_revoke(actor=request.actor, invitation_id=invitation_id)
        return Response(status=204)


TOKEN_PARAM = OpenApiParameter("token", str, required=True, description="The mailed token.")


class InvitationAcceptApi(PublicApi):
    throttle_classes = [throttles.TokenExchangeThrottle]

    @extend_schema(
        parameters=[TOKEN_PARAM],
        responses={200: InvitationPreviewOutput},
        tags=INVITATIONS,
        summary="The invitation a mailed link names (what the mailed link opens)",
    )
    def get(self, request: TenantRequest) -> Response:
        token = validated(TokenQueryInput, request.query_params)["token"]
        invitation = services.invitation_for_token(tenant=request.tenant, token=token)
        body: dict[str, Any] = {
            "email": invitation.email,
            "role": invitation.role,
            "display_name": invitation.display_name,
            "tenant": invitation.tenant,
            "expires_at": invitation.expires_at,
            "existing_account": User.objects.filter(email__iexact=invitation.email).exists(),
        }
        return Response(InvitationPreviewOutput(body).data)

    @extend_schema(
        request=InvitationAcceptInput,
        responses={200: LoginOutput},
        tags=INVITATIONS,
        summary="Accept on the tenant's host: creates the account (or joins an existing "
        "one with its password) and signs in, as login does",
    )
    def post(self, request: TenantRequest) -> Response:
        data = validated(InvitationAcceptInput, request.data)
        accepted = services.invitation_accept(
            tenant=request.tenant,
            token=data["token"],
            password=data["password"],
            display_name=data["displayName"],
            user_agent=user_agent(request),
        )
        body = {
            "token": accepted.raw_token,
            "expiresAt": accepted.token.expires_at,
            "user": accepted.actor.user,
            "role": accepted.actor.role,
        }
        return Response(LoginOutput(body).data)


# --- own account -------------------------------------------------------------------------


class PasswordChangeApi(APIView):
    throttle_classes = [throttles.PasswordChangeThrottle]

    @extend_schema(
        request=PasswordChangeInput,
        responses={204: None},
        tags=AUTH,
        summary="Change your password; your other sessions end",
    )
    def post(self, request: HostRequest) -> Response:
        data = validated(PasswordChangeInput, request.data)
        services.password_change(
            actor=request.actor,
            current=cast(ApiToken, request.auth),
            old_password=data["currentPassword"],
            new_password=data["newPassword"],
        )
        return Response(status=204)


class PasswordResetApi(PublicApi):
    throttle_classes = [throttles.PasswordResetThrottle, throttles.PasswordResetAddressThrottle]

    @extend_schema(
        request=PasswordResetInput,
        responses={202: PasswordResetAcceptedOutput},
        tags=AUTH,
        summary="Mail a password-reset link; the same answer whether or not the account exists",
    )
    def post(self, request: TenantRequest) -> Response:
        data = validated(PasswordResetInput, request.data)
        services.password_reset_request(email=data["email"], tenant=request.tenant)
        return Response(PasswordResetAcceptedOutput(RESET_ACCEPTED).data, status=202)


class PasswordResetConfirmApi(PublicApi):
    throttle_classes = [throttles.TokenExchangeThrottle]

    @extend_schema(
        parameters=[TOKEN_PARAM],
        responses={200: PasswordResetPreviewOutput},
        tags=AUTH,
        summary="The account a mailed reset link is for (what the mailed link opens)",
    )
    def get(self, request: TenantRequest) -> Response:
        token = validated(TokenQueryInput, request.query_params)["token"]
        reset = services.reset_for_token(token=token)
        return Response(PasswordResetPreviewOutput(reset).data)

    @extend_schema(
        request=PasswordResetConfirmInput,
        responses={204: None},
        tags=AUTH,
        summary="Set a new password with the mailed token; every session of the account ends",
    )
    def post(self, request: TenantRequest) -> Response:
        data = validated(PasswordResetConfirmInput, request.data)
        services.password_reset_confirm(
            tenant=request.tenant, token=data["token"], new_password=data["newPassword"]
        )
        return Response(status=204)


class SessionsApi(APIView):
    @extend_schema(
        responses={200: SessionListOutput},
        tags=AUTH,
        summary="Your sessions (bearer tokens): created, last used, user agent, current",
    )
    def get(self, request: HostRequest) -> Response:
        sessions = selectors.session_list(user=request.actor.user)
        current = cast(ApiToken, request.auth).pk
        return Response(
            SessionListOutput({"sessions": sessions}, context={"current_id": current}).data
        )


class SessionApi(APIView):
    @extend_schema(responses={204: None}, tags=AUTH, summary="End one of your sessions")
    def delete(self, request: HostRequest, session_id: int) -> Response:
        services.session_revoke(actor=request.actor, session_id=session_id)
        return Response(status=204)
