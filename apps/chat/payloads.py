"""Event payloads are the REST output shapes, so a message looks the same in a response
and in a `new_message` frame."""

from __future__ import annotations

from typing import Any

from apps.chat.models import Channel, Message


def message_payload(message: Message) -> dict[str, Any]:
    from apps.chat.api.serializers import MessageOutput

    return dict(MessageOutput(message).data)


def channel_payload(channel: Channel) -> dict[str, Any]:
    from apps.chat.api.serializers import ChannelOutput

    return dict(ChannelOutput(channel).data)
