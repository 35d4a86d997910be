"""HTTP for the ASGI server: Django's WSGI handler on a fixed pool of threads, with one
hand-off between the event loop and a thread per request.

The event loop reads the request's body first (only a declared length up to
MAX_BODY_BYTES: a larger one is refused by BodyLimitMiddleware without being read, and
Django reads nothing of a body without a length). A thread then runs the handler to the
end, response and close included, and hands status, headers and body back at once.
Streamed responses (files, exports) go out chunk by chunk, the thread waiting for each
chunk to be sent, so a slow client holds back the producer instead of memory filling up.

a2wsgi's WSGIMiddleware, which this replaces, handed each of those steps (reading the
body, the status line, each chunk, the end) to the loop and waited for it: under load a
request's thread spent about 60% of its time in those waits."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import io
import itertools
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from a2wsgi.wsgi import build_environ

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ThreadedWSGI:
    def __init__(self, app: WSGIApp, *, workers: int, max_body: int) -> None:
        self.app = app
        self.max_body = max_body
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="http")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # websockets and lifespan are routed elsewhere
            raise ValueError(f"ThreadedWSGI serves HTTP only, not {scope['type']!r}")
        body = await self._body(scope, receive)
        environ: dict[str, Any] = build_environ(scope, io.BytesIO(body))  # type: ignore[arg-type, assignment]
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        work = functools.partial(context.run, self._respond, environ, loop, send)
        answer = await loop.run_in_executor(self.executor, work)
        if answer is not None:  # buffered: everything in one go
            status, headers, content = answer
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": content})

    async def _body(self, scope: dict[str, Any], receive: Any) -> bytes:
        length = 0
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    return b""
        if length <= 0 or length > self.max_body:
            return b""
        chunks: list[bytes] = []
        size = 0
        while size < length:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                break
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _respond(
        self, environ: dict[str, Any], loop: asyncio.AbstractEventLoop, send: Any
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """In a thread: runs the handler; returns the buffered answer, or None when it has
        streamed the answer itself."""
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            started[:] = [
                int(status.split(" ", 1)[0]),
                [
                    (name.lower().encode("latin1"), value.encode("latin1"))
                    for name, value in headers
                ],
            ]
            return written.append

        iterable = self.app(environ, start_response)
        try:
            if getattr(iterable, "streaming", False):
                self._stream(started, written, iterable, loop, send)
                return None
            return started[0], started[1], b"".join([*written, *iterable])
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()  # Django's request_finished, in the thread that has the connection

    @staticmethod
    def _stream(
        started: list[Any],
        written: list[bytes],
        iterable: Iterable[bytes],
        loop: asyncio.AbstractEventLoop,
        send: Any,
    ) -> None:
        def out(message: dict[str, Any]) -> None:
            asyncio.run_coroutine_threadsafe(send(message), loop).result()

        out({"type": "http.response.start", "status": started[0], "headers": started[1]})
        for chunk in itertools.chain(written, iterable):
            if chunk:
                out({"type": "http.response.body", "body": chunk, "more_body": True})
        out({"type": "http.response.body", "body": b""})
