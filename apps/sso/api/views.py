"""Single sign-on on a tenant's host: the exchange (unauthenticated) and the tenant
admins' identity provider settings."""

from __future__ import annotations

from django.http.request import split_domain_port
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from apps.accounts.api.serializers import LoginOutput
from apps.accounts.permissions import HostRequest, TenantRequest
from apps.sso import services
from apps.sso.api.serializers import ProviderInput, ProviderOutput, SsoExchangeInput
from apps.sso.exchange import sso_exchange

TAGS = ["auth"]

EXCHANGE_REFUSALS = (
    "401 with one code per reason: `sso_not_configured`, `sso_malformed`, "
    "`sso_bad_algorithm`, `sso_bad_signature`, `sso_expired`, `sso_not_yet_valid`, "
    "`sso_lifetime_too_long`, `sso_wrong_audience`, `sso_wrong_issuer`, "
    "`sso_missing_claim`, `sso_invalid_claim`, `sso_replayed`. 403 `sso_role_not_allowed`, "
    "`sso_account_shared`, `account_deactivated`, `membership_suspended`; 409 "
    "`sso_email_taken`; 429 `rate_limited`."
)


class SsoExchangeApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "sso"

    @extend_schema(
        request=SsoExchangeInput,
        responses={200: LoginOutput, 401: OpenApiResponse(description=EXCHANGE_REFUSALS)},
        tags=TAGS,
        summary="Exchange an identity provider's signed assertion for a bearer token",
        description="The assertion's `aud` must be this host's name. " + EXCHANGE_REFUSALS,
    )
    def post(self, request: TenantRequest) -> Response:
        data = SsoExchangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        host, _ = split_domain_port(request.get_host())
        signed_in = sso_exchange(
            tenant=request.tenant, audience=host, assertion=data.validated_data["assertion"]
        )
        body = {
            "token": signed_in.raw_token,
            "expiresAt": signed_in.token.expires_at,
            "user": signed_in.actor.user,
            "role": signed_in.actor.role,
        }
        return Response(LoginOutput(body).data)


class ProviderApi(APIView):
    """Tenant admins only, on their tenant's host."""

    @extend_schema(responses={200: ProviderOutput}, tags=TAGS, summary="The identity provider")
    def get(self, request: HostRequest) -> Response:
        provider = services.provider_get(actor=request.actor, tenant=request.tenant)
        return Response(ProviderOutput(provider).data)

    @extend_schema(
        request=ProviderInput,
        responses={200: ProviderOutput},
        tags=TAGS,
        summary="Create or replace the identity provider",
    )
    def put(self, request: HostRequest) -> Response:
        data = ProviderInput(data=request.data)
        data.is_valid(raise_exception=True)
        provider = services.provider_put(
            actor=request.actor, tenant=request.tenant, settings=data.provider_settings()
        )
        return Response(ProviderOutput(provider).data)

    @extend_schema(
        request=None, responses={204: None}, tags=TAGS, summary="Remove the identity provider"
    )
    def delete(self, request: HostRequest) -> Response:
        services.provider_delete(actor=request.actor, tenant=request.tenant)
        return Response(status=204)
