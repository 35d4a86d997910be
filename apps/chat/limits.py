"""The chat's shared limits: messages per user, counted together over REST and sockets
(`apps.core.limits`; through Redis when it is configured)."""

from __future__ import annotations

from django.conf import settings

from apps.core import limits

MESSAGES_SCOPE = "messages"


def message_allowed(user_id: int) -> None:
    """Counts one message of the user; RateLimited past MESSAGE_RATE (one Redis call)."""
    limits.enforce(MESSAGES_SCOPE, user_id, settings.MESSAGE_RATE, "Too many messages; slow down.")
