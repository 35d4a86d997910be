"""Who may do what in a channel, as the services check it."""

from __future__ import annotations

from apps.chat.models import Channel, ChannelStatus
from apps.core.exceptions import Conflict


def _require_writable(channel: Channel) -> None:
    if channel.status == ChannelStatus.ARCHIVED:
        raise Conflict("This channel is archived and read-only.", code="channel_archived")
