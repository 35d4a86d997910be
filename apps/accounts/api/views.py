from __future__ import annotations

from typing import cast

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import services, tickets
from apps.accounts.api.serializers import LoginInput, LoginOutput, MeOutput, WsTicketOutput
from apps.accounts.api.throttles import LoginAccountThrottle, LoginAddressThrottle
from apps.accounts.models import ApiToken
from apps.accounts.permissions import HostRequest, TenantRequest


class LoginApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginAddressThrottle, LoginAccountThrottle]

    @extend_schema(request=LoginInput, responses={200: LoginOutput}, tags=["auth"])
    def post(self, request: TenantRequest) -> Response:
        data = LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        raw, token, actor = services.login(
            email=data.validated_data["email"],
            password=data.validated_data["password"],
            tenant=request.tenant,
        )
        body = {"token": raw, "expiresAt": token.expires_at, "user": actor.user, "role": actor.role}
        return Response(LoginOutput(body).data)


class MeApi(APIView):
    @extend_schema(responses={200: MeOutput}, tags=["auth"])
    def get(self, request: HostRequest) -> Response:
        actor = request.actor
        return Response(
            MeOutput({"user": actor.user, "tenant": actor.tenant, "role": actor.role}).data
        )


class LogoutApi(APIView):
    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request: Request) -> Response:
        services.token_revoke(token=cast(ApiToken, request.auth))
        return Response(status=204)


class WsTicketApi(APIView):
    @extend_schema(
        request=None,
        responses={201: WsTicketOutput},
        tags=["auth"],
        summary="A single-use socket ticket for this host (valid WS_TICKET_TTL_SECONDS, "
        "default 30 s): connect with /ws/chat/?ticket=<ticket> instead of ?token=",
    )
    def post(self, request: HostRequest) -> Response:
        raw, expires_at = tickets.ticket_issue(
            token=cast(ApiToken, request.auth), tenant_id=request.tenant.pk
        )
        return Response(WsTicketOutput({"ticket": raw, "expiresAt": expires_at}).data, status=201)
