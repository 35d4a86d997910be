"""DRF throttles on the shared limits (`apps.core.limits`): one Redis round trip each,
shared by every process, and not failing when Redis is away."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from apps.core import limits


class LimitThrottle(BaseThrottle):
    """Counts each request against `scope` for the identity `ident` gives (None: not
    counted), at the rate of the setting named `rate_setting` (read per request)."""

    scope = ""
    rate_setting = ""
    _wait: float | None = None

    def ident(self, request: Any) -> object | None:
        raise NotImplementedError

    def allow_request(self, request: Any, view: Any) -> bool:
        ident = self.ident(request)
        if ident is None:
            return True
        self._wait = limits.hit(self.scope, ident, getattr(settings, self.rate_setting))
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class AddressThrottle(LimitThrottle):
    """Per client address: REMOTE_ADDR, or the entry NUM_PROXIES from the right of
    X-Forwarded-For (DRF's `get_ident`)."""

    def ident(self, request: Any) -> object | None:
        return self.get_ident(request)
