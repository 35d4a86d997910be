from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework import authentication, exceptions

from apps.accounts.models import ApiToken, User
from apps.accounts.selectors import credential_on_host, token_lookup

# Where authentication leaves the actor it found on the host, for `IsHostMember`.
HOST_ACTOR = "credential_host_actor"


def bearer_from_header(value: str) -> str | None:
    """The secret of an `Authorization: Bearer <token>` header; None when there is none."""
    scheme, _, raw = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    raw = raw.strip()
    if not raw or " " in raw:
        raise exceptions.AuthenticationFailed("Malformed Authorization header.")
    return raw


class BearerTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: HttpRequest) -> tuple[User, ApiToken] | None:
        raw = bearer_from_header(request.META.get("HTTP_AUTHORIZATION", ""))
        if raw is None:
            return None
        tenant = getattr(request, "tenant", None)
        if tenant is None:
            token = token_lookup(raw=raw)
        else:
            found = credential_on_host(raw=raw, tenant=tenant)
            token = found[0] if found else None
            if found:
                # The DRF request proxies attribute reads to the Django request.
                setattr(getattr(request, "_request", request), HOST_ACTOR, found[1])
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return "Bearer"
