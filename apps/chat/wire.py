"""Frames written straight to a socket's connection, under uvicorn's websockets-sansio
protocol (uvicorn's default with the `websockets` package).

Through ASGI, each frame to each socket is a coroutine chain: the socket's writer task,
`send`, the protocol's frame building, the transport. An event reaching 25 local members
went down that chain 25 times, and the frame's bytes were built 25 times over. Here the
frame is built once per event (the bytes of an unmasked, uncompressed text frame are the
same for every socket) and written to each member's transport from the hub's dispatch.

Only while the connection takes it at once: open, no close sent, and writable (uvicorn
pauses writing when the transport's buffer is full). Otherwise, and under any other server
(the suite's in-process communicator, another uvicorn protocol), `write` returns False and
the socket queues the frame for its writer task, which waits on the ASGI `send` as before.
A connection that negotiated permessage-deflate compresses each frame with its own
context: its frames go through the protocol, still without the coroutine chain.
"""

from __future__ import annotations

from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State

SANSIO: type | None
try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

    SANSIO = WebSocketsSansIOProtocol
except ImportError:  # an older uvicorn
    SANSIO = None

# The text a hub handed out last, its UTF-8 and (once a connection without compression
# asked) its unmasked frame: a hub hands the same text object to every local member in
# turn, so each event is encoded and framed once.
_last: tuple[str | None, bytes, bytes | None] = (None, b"", None)


def _utf8(text: str) -> bytes:
    global _last
    if _last[0] is not text:
        _last = (text, text.encode(), None)
    return _last[1]


def _framed(text: str) -> bytes:
    global _last
    data = _utf8(text)
    frame = _last[2]
    if frame is None:
        frame = Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])
        _last = (text, data, frame)
    return frame


class Wire:
    """The server side of one WebSocket connection, written without ASGI `send`."""

    __slots__ = ("protocol",)

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol

    @classmethod
    def of(cls, send: Any) -> Wire | None:
        """The connection behind an ASGI `send`, when it is uvicorn's sans-I/O protocol."""
        protocol = getattr(send, "__self__", None)
        if SANSIO is None or type(protocol) is not SANSIO:
            return None
        return cls(protocol)

    def write(self, text: str) -> bool:
        """Writes a text frame now, or returns False when the connection cannot take it
        now (the caller queues it and waits on `send`)."""
        protocol = self.protocol
        conn = protocol.conn
        if (
            not protocol.writable.is_set()
            or protocol.close_sent
            or protocol.disconnected
            or conn.state is not State.OPEN
            or protocol.transport.is_closing()
        ):
            return False
        if conn.extensions:  # compressed with the connection's own context
            conn.send_text(_utf8(text))
            protocol.transport.write(b"".join(conn.data_to_send()))
        else:
            protocol.transport.write(_framed(text))
        return True
