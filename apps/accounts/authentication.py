from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework import authentication, exceptions

from apps.accounts.models import ApiToken, User
from apps.accounts.selectors import credential_on_host, token_lookup
from apps.accounts.services import token_touch

# Where authentication leaves the actor it found on the host, for `IsHostMember`.
HOST_ACTOR = "credential_host_actor"
# Where tenant routing leaves the credential it read with the host, as (secret, what
# `credential_on_host` answers for it), so authentication need not ask again.
HOST_CREDENTIAL = "credential_read_with_host"


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
            # The DRF request proxies attribute reads to the Django request.
            django_request = getattr(request, "_request", request)
            read = getattr(django_request, HOST_CREDENTIAL, None)
            if read is not None and read[0] == raw:
                found = read[1]
            else:
                found = credential_on_host(raw=raw, tenant=tenant)
            token = found[0] if found else None
            if found:
                setattr(django_request, HOST_ACTOR, found[1])
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return "Bearer"
