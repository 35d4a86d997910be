"""Response bodies more than one endpoint returns: a channel's detail and a page of its
history. The chat endpoints and the console (on an escalated channel) both build them
here, so both show a channel the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apps.accounts.actors import Actor
from apps.chat import selectors
from apps.chat.api.serializers import HistoryInput, ParticipantOutput
from apps.chat.locate import channel_located
from apps.chat.payloads import channel_payload, message_payload
from apps.core.api import validated


def channel_detail_body(actor: Actor, channel_id: object) -> dict[str, Any]:
    """The channel as the actor sees it, its participants and its newest messages."""
    with channel_located(actor, channel_id) as located:
        body = channel_payload(selectors.channel_read_state(located=located))
        participants = selectors.channel_participants(located=located)
        body["participants"] = ParticipantOutput(participants, many=True).data
        body["messages"] = page_body(selectors.message_page(actor=actor, located=located))
    return body


def history_body(actor: Actor, channel_id: object, query: Mapping[str, Any]) -> dict[str, Any]:
    """One page of history for the `before=` / `after=` / `limit=` query parameters."""
    params = validated(HistoryInput, query)
    with channel_located(actor, channel_id) as located:
        page = selectors.message_page(
            actor=actor,
            located=located,
            before=params.get("before"),
            after=params.get("after"),
            limit=params["limit"],
        )
        return page_body(page)


def page_body(page: selectors.MessagePage) -> dict[str, Any]:
    """`MessagePageOutput(page).data`, with each message built by `message_payload`."""
    return {
        "messages": [message_payload(message) for message in page.messages],
        "hasMore": page.has_more,
        "direction": page.direction,
    }
