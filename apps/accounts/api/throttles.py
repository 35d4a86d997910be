"""Login limits: per client address (LOGIN_RATE) and per account (LOGIN_ACCOUNT_RATE,
by the normalised email), so neither a rotating X-Forwarded-For nor many addresses get
more guesses at one password; while either is exceeded even the right password is
refused (429 with Retry-After)."""

from __future__ import annotations

from typing import Any

from apps.core.throttles import AddressThrottle, LimitThrottle


class LoginAddressThrottle(AddressThrottle):
    scope = "login-address"
    rate_setting = "LOGIN_RATE"


class LoginAccountThrottle(LimitThrottle):
    scope = "login-account"
    rate_setting = "LOGIN_ACCOUNT_RATE"

    def ident(self, request: Any) -> object | None:
        data = request.data
        email = data.get("email") if isinstance(data, dict) else None
        if not isinstance(email, str) or not email.strip():
            return None  # refused by validation anyway
        return email.strip().lower()[:254]
