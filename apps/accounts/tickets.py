"""Socket tickets: a short-lived, single-use credential for opening a WebSocket, so the
bearer token never travels in a URL (where proxies and servers log it).

`POST /api/auth/ws-ticket` issues one for the caller's token on the request's host; the
socket connects with `?ticket=`. The ticket is kept hashed in the cache (Redis when
configured, so any process can redeem it), bound to the user, the token and the tenant,
and lives WS_TICKET_TTL_SECONDS. Redeeming it deletes it; the socket then acts for the
token, which must still be valid, and is closed when that token is revoked.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.accounts.selectors import token_hash
from apps.core.exceptions import ServiceUnavailable

logger = logging.getLogger(__name__)
_PREFIX = "ws-ticket:"


def _key(raw: str) -> str:
    return _PREFIX + token_hash(raw)


def ticket_issue(*, token: ApiToken, tenant_id: int) -> tuple[str, datetime]:
    """A new ticket for `token` on the tenant's host, and when it expires."""
    raw = secrets.token_urlsafe(32)
    ttl = settings.WS_TICKET_TTL_SECONDS
    value = {"user": token.user_id, "token": token.pk, "tenant": tenant_id}
    try:
        cache.set(_key(raw), value, timeout=ttl)
    except Exception as error:  # the cache (Redis) is away
        logger.warning("Socket ticket not stored: %s", error)
        raise ServiceUnavailable(
            "Socket tickets are briefly unavailable; retry shortly or connect with the token."
        ) from None
    return raw, timezone.now() + timedelta(seconds=ttl)


def ticket_redeem(*, raw: str, tenant_id: int) -> ApiToken | None:
    """The token a ticket stands for, once: None when the ticket is unknown, used,
    expired, for another host, or its token is no longer valid."""
    key = _key(raw)
    try:
        value: dict[str, Any] | None = cache.get(key)
        if value is None or not cache.delete(key):  # deleted by someone else first: used
            return None
    except Exception as error:  # the cache (Redis) is away: the ticket cannot be checked
        logger.warning("Socket ticket not redeemed: %s", error)
        return None
    if value["tenant"] != tenant_id:
        return None
    return (
        ApiToken.objects.select_related("user")
        .filter(
            pk=value["token"],
            user_id=value["user"],
            expires_at__gt=timezone.now(),
            user__is_active=True,
        )
        .first()
    )
