"""The hub when its channel layer fails and comes back: sockets are told, rooms joined
meanwhile are kept and subscribed on return. An in-memory layer that can be switched
off stands in for Redis (the fault test in tests/security runs the real thing)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.layers import InMemoryChannelLayer
from prometheus_client import REGISTRY

from apps.chat.hub import Hub


class FlakyLayer(InMemoryChannelLayer):
    def __init__(self) -> None:
        super().__init__(group_expiry=10**9)
        self.down = False
        self.subscribed: list[str] = []

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("layer unreachable")

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        self._check()
        await super().send(channel, message)

    async def group_add(self, group: str, channel: str) -> None:
        self._check()
        self.subscribed.append(group)
        await super().group_add(group, channel)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self._check()
        await super().group_send(group, message)


class FakeSocket:
    socket_id = "s1"
    schema = "acme"
    user_id = 1

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def push(self, frame: str) -> None:
        self.frames.append(json.loads(frame))

    def events(self) -> list[str]:
        return [f["event"] for f in self.frames]


async def _until(condition: Any) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def test_sockets_hear_of_an_outage_and_rooms_joined_during_it_work_after(settings):
    settings.EVENTS_PROBE_INTERVAL = 0.02
    layer = FlakyLayer()
    hub = Hub(layer)
    socket = FakeSocket()
    await hub.register(socket)
    await hub.join("room.before", socket)
    await asyncio.sleep(0.1)
    assert socket.events() == []  # probes come back: nothing to say

    def errors(operation: str) -> float:
        return (
            REGISTRY.get_sample_value("channel_layer_errors_total", {"operation": operation}) or 0
        )

    probes, subscribes = errors("probe"), errors("subscribe")
    layer.down = True
    await _until(lambda: "events_delayed" in socket.events())
    await hub.join("room.during", socket)  # kept, not raised
    assert socket.events() == ["events_delayed"]  # once
    assert errors("probe") > probes and errors("subscribe") == subscribes + 1  # counted

    layer.down = False
    await _until(lambda: "events_resumed" in socket.events())
    assert "room.during" in layer.subscribed
    frame = '{"event":"new_message","data":{"n":1}}'
    await layer.group_send(
        "room.during", {"type": "hub.frame", "group": "room.during", "frame": frame}
    )
    await _until(lambda: "new_message" in socket.events())
    assert socket.events() == ["events_delayed", "events_resumed", "new_message"]
    await hub.unregister(socket, ["room.before", "room.during"])
