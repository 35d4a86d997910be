"""Graceful shutdown of a server process on SIGTERM (a rolling restart, `make cluster-stop`,
systemd, Docker).

uvicorn alone, on SIGTERM, stops accepting, lets HTTP requests in flight finish, and closes
every socket at once with 1012, a frame half handled included: its reply never leaves.
Before handing the signal to uvicorn, this module lets the process go away in order:

1. From the signal on, the process is *going away*: it stops accepting connections (the
   proxy takes new ones to another process; a socket that still connects is closed with
   1001 at once), and every HTTP answer carries `Connection: close`, so the proxy sends
   no more requests on its kept-alive connections to this process.
2. Each open socket stops taking frames (one that arrives gets `error` `going_away`:
   nothing was done, send it again after reconnecting), finishes the frame it is
   handling (its reply is sent), hands its client the frames already queued, and
   closes with 1001 (going away): the client reconnects elsewhere at once and resumes
   with `sync`.
3. After at least SHUTDOWN_DRAIN_SECONDS from the signal (longer than the proxy keeps an
   idle upstream connection, so none is left for uvicorn to cut under a request), uvicorn
   gets the signal: it finishes the HTTP requests in flight and exits.

Connections the kernel completed but the process had not yet accepted when it stopped
listening are reset: a proxy does not resend a POST it has sent. A rolling restart
therefore takes the process out of the proxy first (`deploy/local.py cluster-restart`
does, with nginx), then sends SIGTERM.

A second SIGTERM goes to uvicorn straight away.

The handler is installed from the serving event loop on the first ASGI call (the server's
own SIGTERM handler is in place by then), in front of it: it works with any uvicorn
command line, `--workers` included. Without a server that handles SIGTERM (the test
suite's communicators) nothing is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

GOING_AWAY_ERROR = {
    "code": "going_away",
    "message": "This server is restarting; reconnect and send it again.",
    "retryAfter": 0,
}
SOCKETS_TIMEOUT = 10.0  # seconds the sockets get to finish their frames and close


class _State:
    installed = False
    going_away = False


def going_away() -> bool:
    return _State.going_away


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Puts the shutdown in front of the server's SIGTERM handler (once per process)."""
    if _State.installed or threading.current_thread() is not threading.main_thread():
        return
    _State.installed = True
    server_handler = signal.getsignal(signal.SIGTERM)
    if not callable(server_handler):
        return  # nobody handles SIGTERM here: not served by uvicorn

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if _State.going_away:
            server_handler(signum, frame)
            return
        _State.going_away = True
        _stop_accepting(server_handler)
        loop.call_soon_threadsafe(
            lambda: loop.create_task(_go_away(lambda: server_handler(signum, None)))
        )

    signal.signal(signal.SIGTERM, on_sigterm)


def _stop_accepting(server_handler: Callable[..., Any]) -> None:
    """Closes the listening sockets now (uvicorn's handler is its `Server`'s method, which
    holds them): connections the proxy opens from here on are refused, and it takes them
    to another process at once. uvicorn closes them again later; that is harmless."""
    for server in getattr(getattr(server_handler, "__self__", None), "servers", ()):
        server.close()


async def _go_away(then: Callable[[], None]) -> None:
    from apps.chat.hub import local_hub

    loop = asyncio.get_running_loop()
    started = loop.time()
    found = local_hub()
    count = found.sockets if found is not None else 0
    logger.warning("SIGTERM: closing %d sockets with 1001, then stopping", count)
    try:
        if found is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(found.go_away(), SOCKETS_TIMEOUT)
        await asyncio.sleep(max(settings.SHUTDOWN_DRAIN_SECONDS - (loop.time() - started), 0))
    finally:
        then()


class GracefulShutdown:
    """ASGI wrapper: installs the handler from the serving loop, and while the process is
    going away asks the proxy (`Connection: close`) not to reuse connections to it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if not _State.installed:
            install(asyncio.get_running_loop())
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_closing(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and _State.going_away:
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        return await self.app(scope, receive, send_closing)
