from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from rest_framework import authentication, exceptions

from apps.accounts.models import ApiToken, User
from apps.accounts.selectors import token_lookup
from apps.accounts.services import token_touch


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
        token = token_lookup(raw=raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request: Any) -> str:
        return "Bearer"
