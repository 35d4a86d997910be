"""The one way domain events leave the chat services.

`publish` queues an event on the current transaction; it is delivered only after the
transaction commits (never for a write that rolled back), once, to every sink. The
default sink encodes the frame once and hands it to the channel layer for each group it
names; each process's hub (`apps.chat.hub`) delivers it to its own sockets. Tests add a
recording sink. Group names carry the schema, because the Redis layer is shared.

Publishing never waits for Redis: from a worker thread the layer calls are handed to the
event loop that serves this process's sockets, in order, and the thread goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from uuid import UUID

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from apps.chat import hub
from apps.core.metrics import LAYER_ERRORS

logger = logging.getLogger(__name__)

SUPER_ADMINS_GROUP = "platform.super"


def channel_group(schema: str, channel_id: UUID | str) -> str:
    return f"t.{schema}.ch.{UUID(str(channel_id)).hex}"


def notes_group(schema: str, channel_id: UUID | str) -> str:
    """A ticket's internal notes: joined, beside the channel's group, only by the sockets
    of people who see notes, so no socket is filtered when a message is delivered."""
    return f"{channel_group(schema, channel_id)}.n"


def tenant_group(schema: str) -> str:
    """Every socket open on the tenant's host."""
    return f"t.{schema}.all"


badge_group = hub.badge_group
user_group = hub.user_group
account_group = hub.account_group


def encode(name: str, data: dict[str, Any]) -> str:
    """A server frame, as sent on the wire."""
    return json.dumps({"event": name, "data": data}, cls=DjangoJSONEncoder, separators=(",", ":"))


@dataclass(frozen=True)
class Event:
    name: str
    data: dict[str, Any]
    groups: tuple[str, ...] = field(default_factory=tuple)
    kind: str = "hub.frame"  # how the hubs deliver it (see apps.chat.hub)
    # A frame that travels inside the next event's layer message (`carry` there): the
    # sinks see both events; the layer gets one message.
    carried: bool = False
    carry: Event | None = None  # on a `hub.badges` event: the room's frame it delivers too

    def layer_messages(self) -> list[tuple[str, dict[str, Any]]]:
        if self.carried:
            return []
        if self.kind == "hub.frame":
            body: dict[str, Any] = {"type": self.kind, "frame": encode(self.name, self.data)}
        else:
            body = {"type": self.kind, **self.data}
        if self.carry is not None:
            (room,) = self.carry.groups
            body.update(room=room, frame=encode(self.carry.name, self.carry.data))
        # When and by which process it was published: a hub measures how long its own
        # process's events take to come back (one clock, whatever the hosts' clocks say).
        body.update(at=time.monotonic(), by=hub.PROCESS)
        # One layer message per carrier (`hub.carrier`): an event for many people on one
        # host is one publish, naming their groups.
        carried: dict[str, list[str]] = {}
        for group in self.groups:
            carried.setdefault(hub.carrier(group), []).append(group)
        return [
            (
                layer_group,
                {**body, "group": groups[0]} if len(groups) == 1 else {**body, "groups": groups},
            )
            for layer_group, groups in carried.items()
        ]


Sink = Callable[[Event], None]


async def _send_all(messages: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group, message in messages:
        try:
            await layer.group_send(group, message)
        except Exception as error:  # the database has it; clients resync from there
            logger.warning("Could not deliver %s to %s: %s", message["type"], group, error)
            LAYER_ERRORS.labels("publish").inc()
            hub.events_failed()


COMMAND_WAIT = 5.0  # seconds a revocation waits for its command to reach the layer


def send_to_layer(messages: list[tuple[str, dict[str, Any]]], *, wait: bool = False) -> None:
    """Hands layer messages to the loop serving this process's sockets without waiting
    (or, with `wait`, until they are published); with no such loop (a command, a process
    serving only HTTP) sends them and waits."""
    if not messages:  # an event carried inside another's layer message
        return
    loop = hub.serving_loop()
    if loop is None:
        async_to_sync(_send_all)(messages)
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _spawn(loop, messages)
    elif wait:
        # Behind what this process published before (FIFO, as below), and published
        # before the caller goes on.
        sent = asyncio.run_coroutine_threadsafe(_send_all(messages), loop)
        try:
            sent.result(timeout=COMMAND_WAIT)
        except TimeoutError:
            logger.warning("A socket command is still waiting for the layer")
    else:
        # FIFO: events published one after another leave in that order.
        loop.call_soon_threadsafe(_spawn, loop, messages)


_sending: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks


def _spawn(loop: asyncio.AbstractEventLoop, messages: list[tuple[str, dict[str, Any]]]) -> None:
    task = loop.create_task(_send_all(messages))
    _sending.add(task)
    task.add_done_callback(_sending.discard)


def _layer_sink(event: Event) -> None:
    send_to_layer(event.layer_messages())


sinks: list[Sink] = [_layer_sink]


def _deliver(event: Event) -> None:
    for sink in list(sinks):
        sink(event)


def _on_commit(event: Event) -> None:
    transaction.on_commit(partial(_deliver, event))


def publish(name: str, data: dict[str, Any], *, groups: Iterable[str]) -> None:
    _on_commit(Event(name=name, data=data, groups=tuple(dict.fromkeys(groups))))


def publish_badges(
    *, schemas: Iterable[str], channel_id: UUID | str, seq: int, readers: list[tuple[int, int]]
) -> None:
    """A message with `seq` arrived: each reader (user id, last read seq) that has a socket
    on one of `schemas`' hosts, and has not joined the channel there, gets a coalesced
    `unread_changed`. One layer message per host, whatever the number of readers."""
    data = {"channelId": str(channel_id), "seq": seq, "readers": [list(r) for r in readers]}
    groups = tuple(hub.badge_group(schema) for schema in dict.fromkeys(schemas))
    _on_commit(Event(name="unread_changed", data=data, groups=groups, kind="hub.badges"))


def publish_message(
    *,
    data: dict[str, Any],
    group: str,
    schema: str,
    channel_id: UUID | str,
    seq: int,
    readers: list[tuple[int, int]],
) -> None:
    """`new_message` to the room `group` and the readers' badges on `schema`'s host, in
    ONE layer message to the host's badge group: for channels only that host shows, so
    every process with a socket in the room is subscribed to that group already. Each
    process delivers the frame to its members of the room, then the badges; two events
    for the sinks, one publish instead of two."""
    message = Event(name="new_message", data=data, groups=(group,), carried=True)
    _on_commit(message)
    badges = {"channelId": str(channel_id), "seq": seq, "readers": [list(r) for r in readers]}
    _on_commit(
        Event(
            name="unread_changed",
            data=badges,
            groups=(hub.badge_group(schema),),
            kind="hub.badges",
            carry=message,
        )
    )


def publish_read(*, channel_id: UUID | str, unread: int, groups: Iterable[str]) -> None:
    """The reader's sockets get `unread_changed` at once, replacing any coalesced badge
    update for the channel still waiting on them."""
    data = {"channelId": str(channel_id), "unreadCount": unread}
    _on_commit(
        Event(
            name="unread_changed", data=data, groups=tuple(dict.fromkeys(groups)), kind="hub.read"
        )
    )


def leave_rooms(*, schema: str, user_id: int, channel_ids: Iterable[UUID | str]) -> None:
    """After the transaction commits, the user's sockets on the tenant's host leave these
    channels' rooms (and drop their waiting badge updates) before the next event."""
    channels = [str(cid) for cid in channel_ids]
    if channels:
        data = {"channels": channels}
        _on_commit(
            Event(name="left", data=data, groups=(user_group(schema, user_id),), kind="hub.leave")
        )


def _command_now(kind: str, group: str, data: dict[str, Any]) -> None:
    """A command to sockets, sent now (the change it follows has committed) and published
    before the caller goes on: any event published after it reaches the sockets after it."""
    send_to_layer(
        Event(name=kind, data=data, groups=(group,), kind=kind).layer_messages(), wait=True
    )


def revoke_credentials(*, user_id: int, token_ids: list[int] | None, code: int) -> None:
    """The user's sockets opened with these tokens (all of them when None), on every host,
    get an `error` frame `credentials_revoked` and are closed with `code`."""
    data = {
        "tokenIds": token_ids,
        "code": code,
        "error": "credentials_revoked",
        "message": "Your session has ended; sign in again.",
    }
    _command_now("hub.revoke", account_group(user_id), data)


def close_member_sockets(*, schema: str, user_id: int, code: int) -> None:
    """The user's sockets on the tenant's host get an `error` frame `membership_revoked`
    and are closed with `code`."""
    data = {
        "code": code,
        "error": "membership_revoked",
        "message": "Your access to this organisation has ended.",
    }
    _command_now("hub.close", user_group(schema, user_id), data)


def member_changed(*, schema: str, user_id: int, role: str | None) -> None:
    """The user's sockets on the tenant's host act in `role` from now on and leave the
    rooms they may no longer see."""
    _command_now("hub.member", user_group(schema, user_id), {"role": role})


def close_tenant_sockets(schema: str, *, code: int, error: str, message: str) -> None:
    """After the transaction commits, every socket on the tenant's host gets an `error`
    frame and is closed with `code`."""
    data = {"code": code, "error": error, "message": message}
    event = Event(name="close", data=data, groups=(tenant_group(schema),), kind="hub.close")
    transaction.on_commit(partial(_layer_sink, event))
