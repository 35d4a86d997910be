"""Frames written straight to a connection (apps.chat.wire): the same bytes a client
would get through ASGI `send`, built once per event, and never ahead of frames that had
to wait for a full connection. (Every real-server test delivers through it too.)"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any

import pytest
from websockets.client import ClientProtocol
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from apps.chat import wire
from apps.chat.consumers import ChatConsumer
from apps.chat.wire import Wire


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closing


class Connection:
    """What a wire reads of uvicorn's WebSocketsSansIOProtocol, over a real websockets
    server protocol."""

    def __init__(self, extensions: Sequence[Extension] = ()) -> None:
        self.conn = ServerProtocol(state=State.OPEN)
        self.conn.extensions = list(extensions)
        self.transport = Transport()
        self.writable = asyncio.Event()
        self.writable.set()
        self.close_sent = False
        self.disconnected = False

    async def send(self, message: dict[str, Any]) -> None:  # the ASGI `send`
        raise AssertionError("a wire writes without it")


@pytest.fixture(autouse=True)
def stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "SANSIO", Connection)


def deflate() -> PerMessageDeflate:
    return PerMessageDeflate(False, False, 15, 15)


def texts(written: list[bytes], extensions: Sequence[Extension] = ()) -> list[str]:
    """What a client reads from these bytes."""
    client = ClientProtocol(parse_uri("ws://acme.localhost/ws/chat/"), state=State.OPEN)
    client.extensions = list(extensions)
    client.receive_data(b"".join(written))
    frames = [event for event in client.events_received() if isinstance(event, Frame)]
    assert all(frame.opcode == Opcode.TEXT and frame.fin for frame in frames)
    return [frame.data.decode() for frame in frames]


def through_send(text: str) -> bytes:
    """The bytes uvicorn writes for `{"type": "websocket.send", "text": text}`."""
    conn = ServerProtocol(state=State.OPEN)
    conn.send_text(text.encode())
    return b"".join(conn.data_to_send())


def test_an_event_is_built_once_for_every_connection_and_reads_as_through_send():
    frame = '{"event":"new_message","data":{"content":"héllo ✓"}}'
    connections = [Connection() for _ in range(3)]
    for connection in connections:
        wire = Wire.of(connection.send)
        assert wire is not None and wire.write(frame)
    [first], *others = (c.transport.written for c in connections)
    assert all(written == [first] and written[0] is first for written in others)
    assert first == through_send(frame)
    assert texts([first]) == [frame]


def test_a_compressing_connection_gets_a_frame_of_its_own():
    frame = '{"event":"new_message","data":{"content":"' + "so compressible " * 50 + '"}}'
    plain, compressing = Connection(), Connection([deflate()])
    for connection in (plain, compressing, compressing):
        wire = Wire.of(connection.send)
        assert wire is not None and wire.write(frame)
    assert len(compressing.transport.written[0]) < len(plain.transport.written[0]) / 5
    # The second frame reuses the connection's compression context, as through `send`.
    assert texts(compressing.transport.written, [deflate()]) == [frame, frame]


@pytest.mark.parametrize(
    "busy",
    [
        lambda c: c.writable.clear(),  # the transport's buffer is full
        lambda c: setattr(c, "close_sent", True),
        lambda c: setattr(c, "disconnected", True),
        lambda c: c.conn.send_close(1000),  # the protocol is closing
        lambda c: setattr(c.transport, "closing", True),
    ],
    ids=["not-writable", "close-sent", "disconnected", "closing", "transport-closing"],
)
def test_a_connection_that_cannot_take_a_frame_now_is_left_to_the_queue(busy):
    connection = Connection()
    busy(connection)
    before = list(connection.transport.written)
    wire = Wire.of(connection.send)
    assert wire is not None and not wire.write('{"event":"x","data":{}}')
    assert connection.transport.written == before


def test_other_servers_have_no_wire():
    async def send(message: dict[str, Any]) -> None: ...

    class Other:
        async def send(self, message: dict[str, Any]) -> None: ...

    assert Wire.of(send) is None
    assert Wire.of(Other().send) is None


async def test_frames_that_waited_for_a_full_connection_go_out_before_later_ones():
    connection = Connection()
    through_asgi: list[str] = []

    async def base_send(message: dict[str, Any]) -> None:
        await connection.writable.wait()  # as uvicorn's send does
        through_asgi.append(message["text"])

    consumer = ChatConsumer()
    consumer.socket_id, consumer.outbox, consumer.outbox_limit = "s", deque(), 10
    consumer.writer = None
    consumer.base_send = base_send
    consumer.wire = Wire.of(connection.send)

    consumer.push('"1"')  # straight out
    connection.writable.clear()
    consumer.push('"2"')  # the connection is full: queued
    consumer.push('"3"')
    connection.writable.set()
    consumer.push('"4"')  # writable again, but behind the queue, not around it
    assert consumer.writer is not None
    await consumer.writer
    assert texts(connection.transport.written) == ['"1"']
    assert through_asgi == ['"2"', '"3"', '"4"']
    consumer.push('"5"')  # the queue is empty: straight out again
    assert texts(connection.transport.written) == ['"1"', '"5"']
