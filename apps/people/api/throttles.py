"""Rate limits of the people endpoints: DRF throttles counting in Django's cache (Redis
when `REDIS_URL` is set, so the counts hold across server processes). Rates are
`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`, from the environment (README: Configuration)."""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


class PerUser(SimpleRateThrottle):
    """Counts the signed-in user's requests (the client address when there is none)."""

    def get_cache_key(self, request: Request, view: Any) -> str:
        user = request.user
        ident = str(user.pk) if user and user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class PerClient(SimpleRateThrottle):
    """Counts requests per client address."""

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PerAddress(SimpleRateThrottle):
    """Counts requests naming one email address in the body (normalised), whoever sends
    them: one address cannot be flooded with mail."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        data = request.data
        email = data.get("email") if isinstance(data, dict) else None
        if not isinstance(email, str) or not email.strip():
            return None  # the view refuses it as bad input
        ident = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


class InviteThrottle(PerUser):
    scope = "invite"


class InviteAddressThrottle(PerAddress):
    scope = "invite_address"


class PasswordResetThrottle(PerClient):
    scope = "password_reset"


class PasswordResetAddressThrottle(PerAddress):
    scope = "password_reset_address"


class TokenExchangeThrottle(PerClient):
    scope = "token_exchange"


class PasswordChangeThrottle(PerUser):
    scope = "password_change"
