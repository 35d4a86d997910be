"""Writes. Each service takes the actor explicitly, checks permission, writes inside one
transaction and publishes its events on commit (`apps.chat.events`). REST views and
WebSocket consumers call these and nothing else that writes.

One module per concern: `messages`, `channels_and_participants`, `tickets` (the ticket
workflow), `escalations`, and `timeline` (appending messages and SYSTEM entries), which
the others share.
"""

from apps.chat.services.channels_and_participants import channel_create, participants_add
from apps.chat.services.escalations import channel_deescalate, channel_escalate
from apps.chat.services.messages import (
    MAX_CONTENT,
    content_clean,
    message_remove,
    message_send,
    read_mark,
    sender_type_of,
)
from apps.chat.services.tickets import (
    channel_archive,
    channel_assign,
    channel_resolve,
    ticket_rate,
    ticket_update,
)

__all__ = [
    "MAX_CONTENT",
    "channel_archive",
    "channel_assign",
    "channel_create",
    "channel_deescalate",
    "channel_escalate",
    "channel_resolve",
    "content_clean",
    "message_remove",
    "message_send",
    "participants_add",
    "read_mark",
    "sender_type_of",
    "ticket_rate",
    "ticket_update",
]
