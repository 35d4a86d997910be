"""The one way domain events leave the chat services.

`publish` queues an event on the current transaction; it is delivered only after the
transaction commits (never for a write that rolled back), once, to every sink. The
default sink sends it through the Channels layer to the groups named below; tests add a
recording sink. Group names carry the schema, because the Redis layer is shared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from uuid import UUID

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

SUPER_ADMINS_GROUP = "platform.super"


def channel_group(schema: str, channel_id: UUID | str) -> str:
    return f"t.{schema}.ch.{UUID(str(channel_id)).hex}"


def user_group(schema: str, user_id: int) -> str:
    return f"t.{schema}.u.{user_id}"


def tenant_group(schema: str) -> str:
    """Every socket open on the tenant's host."""
    return f"t.{schema}.all"


@dataclass(frozen=True)
class Event:
    name: str
    data: dict[str, Any]
    groups: tuple[str, ...] = field(default_factory=tuple)


Sink = Callable[[Event], None]


def _layer_sink(event: Event) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "chat.event", "event": event.name, "data": event.data}
    for group in event.groups:
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # the database has it; a client resyncs from there
            logger.exception("Could not deliver %s to %s", event.name, group)


sinks: list[Sink] = [_layer_sink]


def _deliver(event: Event) -> None:
    for sink in list(sinks):
        sink(event)


def publish(name: str, data: dict[str, Any], *, groups: Iterable[str]) -> None:
    event = Event(name=name, data=data, groups=tuple(dict.fromkeys(groups)))
    transaction.on_commit(partial(_deliver, event))


def _close_sockets(group: str, code: int, error: str, message: str) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            group, {"type": "sockets.close", "code": code, "error": error, "message": message}
        )
    except Exception:  # the hosts refuse every request and new socket regardless
        logger.exception("Could not close the sockets of %s", group)


def close_tenant_sockets(schema: str, *, code: int, error: str, message: str) -> None:
    """After the transaction commits, every socket on the tenant's host gets an `error`
    frame and is closed with `code`."""
    transaction.on_commit(partial(_close_sockets, tenant_group(schema), code, error, message))
