"""What the metrics cost on the message path, in CPU time per operation: the hub's
delivery loop with and without its count, and each per-operation metric.

    .venv/bin/python bench/metrics_overhead.py
"""

from __future__ import annotations

import os
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Nothing here touches the database; a URL keeps settings from starting an embedded one.
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/unused")

import django

django.setup()

from apps.chat.hub import Hub  # noqa: E402
from apps.core.metrics import (  # noqa: E402
    HTTP_LATENCY,
    LAYER_ERRORS,
    MESSAGES_SENT,
    SOCKETS_OPEN,
    Tally,
)

ROUNDS = 15


class Socket:
    __slots__ = ("socket_id", "outbox")

    def __init__(self, socket_id: str) -> None:
        self.socket_id = socket_id
        self.outbox: list[str] = []

    def push(self, frame: str) -> None:
        self.outbox.append(frame)
        if len(self.outbox) > 64:
            self.outbox.clear()


def frame_uncounted(message, members):  # type: ignore[no-untyped-def]
    """The delivery loop as it was before the count."""
    frame, skip = message["frame"], message.get("skip")
    for socket in members:
        if socket.socket_id != skip:
            socket.push(frame)


def frame_counter_per_frame(message, members):  # type: ignore[no-untyped-def]
    """What the count would cost as a prometheus_client Counter.inc() per frame."""
    frame, skip = message["frame"], message.get("skip")
    for socket in members:
        if socket.socket_id != skip:
            socket.push(frame)
            MESSAGES_SENT.inc()


def added_statements(members):  # type: ignore[no-untyped-def]
    """Only what the count adds to the loop (per event)."""
    delivered = len(members)
    Tally.events_delivered += delivered


def nothing(members):  # type: ignore[no-untyped-def]
    """The call itself, subtracted from the above."""


def best(statement, number: int) -> float:  # type: ignore[no-untyped-def]
    """Seconds per call, the best of ROUNDS."""
    return min(timeit.repeat(statement, number=number, repeat=ROUNDS)) / number


def main() -> None:
    hub = Hub.__new__(Hub)  # the delivery method only: no loop, no layer
    message = {"type": "hub.frame", "group": "g", "frame": '{"event":"x"}', "skip": "s3"}
    members = {Socket(f"s{i}") for i in range(100)}
    added = best(lambda: added_statements(members), 2_000_000) - best(
        lambda: nothing(members), 2_000_000
    )
    print(f"the count's own statements: {added * 1e9:.0f} ns per event, whatever its size")
    print("hub.frame delivery, ns per event: uncounted / as shipped / a Counter.inc() per frame")
    for size in (1, 10, 100, 1000):
        members = {Socket(f"s{i}") for i in range(size)}
        number = max(1_000_000 // size, 500)
        before = best(lambda m=members: frame_uncounted(message, m), number)
        after = best(lambda m=members: Hub._frame(hub, message, m), number)
        naive = best(lambda m=members: frame_counter_per_frame(message, m), number)
        print(
            f"  {size:>5} sockets: {before * 1e9:9.0f} / {after * 1e9:9.0f} / {naive * 1e9:9.0f}"
            f"   ({(after - before) / before:+6.1%} / {(naive - before) / before:+7.1%})"
        )
    print("per-operation metrics (ns per call):")
    child = HTTP_LATENCY.labels("api/chat/channels/<str:channel_id>/messages", "POST", "201")
    for name, call in (
        ("messages sent: Counter.inc()", MESSAGES_SENT.inc),
        ("open sockets: Gauge.inc()+dec()", lambda: (SOCKETS_OPEN.inc(), SOCKETS_OPEN.dec())),
        (
            "request: labels(route,method,status).observe()",
            lambda: HTTP_LATENCY.labels(
                "api/chat/channels/<str:channel_id>/messages", "POST", "201"
            ).observe(0.004),
        ),
        ("  of which observe() alone", lambda: child.observe(0.004)),
        ("layer error: labels(op).inc()", lambda: LAYER_ERRORS.labels("publish").inc()),
    ):
        print(f"  {name:<48} {best(call, 200_000) * 1e9:7.0f}")
    request_line()


def request_line() -> None:
    """The request middleware's whole cost (id, latency, one JSON line to a null stream)
    around a view that does nothing."""
    import io
    import logging

    from django.http import HttpResponse
    from django.test import RequestFactory

    from apps.core.logs import formatter
    from apps.core.middleware import RequestLogMiddleware

    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(formatter("json"))
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [handler]
    answer = HttpResponse()
    bare = RequestLogMiddleware(lambda request: answer)
    factory = RequestFactory()
    request = factory.get("/api/chat/channels", HTTP_X_REQUEST_ID="r-1")
    try:
        cost = best(lambda: bare(request), 20_000)
    finally:
        root.handlers = saved
    print(f"  {'request middleware + JSON line, per request':<48} {cost * 1e9:7.0f}")


if __name__ == "__main__":
    main()
