"""Prometheus metrics (prometheus_client), served per process on a port of its own.

Each server process serves its own metrics on a listener apart from the application's,
on METRICS_BIND (127.0.0.1 by default): nginx never proxies to it and the public hosts
cannot reach it, so it needs no token; bind it to an address only the scraper reaches.
The worker processes of one uvicorn (`--workers N`) each take the first free port of
METRICS_PORT .. METRICS_PORT + METRICS_PORTS - 1, so Prometheus scrapes that range and
sums over the `instance` label. (Per-process listeners rather than prometheus_client's
multiprocess mode: every figure stays a plain in-process value, the hub's count included,
with no shared files to write or to clean after a worker dies.)

The hot paths pay next to nothing: the hub counts the frames it hands to sockets in a
plain integer of the event loop's thread (one addition per event, none per socket), read
when scraped (`Tally`); the database pool's figures are read from psycopg_pool when
scraped. Everything else (requests, sockets opened and closed, messages sent,
provisioning) is counted once per operation, which costs well under a microsecond against
milliseconds of work.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from apps.core import closecodes

logger = logging.getLogger(__name__)
_OUR_CLOSE_CODES = frozenset(
    value for name, value in vars(closecodes).items() if name.startswith("CLOSE_")
)

# Seconds: a REST call is a few milliseconds here; slow ones wait for a pooled connection.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP requests by route (the URL pattern), method and status, and how long they took.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
SOCKETS_OPEN = Gauge("websocket_connections_open", "Chat sockets open in this process.")
SOCKET_SESSIONS = Counter(
    "websocket_sessions_total", "Chat socket sessions ended, by close code.", ["code"]
)
LOOP_LAG = Gauge(
    "event_loop_lag_seconds",
    "How late the socket event loop of this process ran its last lag timer (apps.chat.hub).",
)
EVENT_DELAY = Gauge(
    "chat_event_delay_seconds",
    "How long events took from their publisher to this process's hub, lately (apps.chat.hub).",
)
MESSAGES_SENT = Counter("chat_messages_sent_total", "Messages stored (REST and sockets).")
LAYER_ERRORS = Counter(
    "channel_layer_errors_total",
    "Channel-layer (Redis) operations that failed: publish, subscribe, probe.",
    ["operation"],
)
PROVISIONING = Histogram(
    "tenant_provisioning_seconds",
    "Time to provision a tenant (schema, domain, first admin).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


# Label values a client chooses are bounded, so nobody can grow the series without end.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str | None) -> str:
    return method if method in METHODS else "other"


def close_code_label(code: int) -> str:
    """RFC 6455's codes and ours as they are; any other a client sends, as `other`."""
    return str(code) if 1000 <= code <= 1015 or code in _OUR_CLOSE_CODES else "other"


class Tally:
    """Counts kept by the event loop's thread alone, as plain integers: no lock, no label
    lookup. Read (racily, which a counter tolerates) when scraped."""

    events_delivered = 0  # frames handed to sockets by the hubs of this process


class _ScrapeTime(Collector):
    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "chat_events_delivered",
            "Event frames the hubs of this process handed to local sockets.",
            value=Tally.events_delivered,
        )
        stats = _pool_stats()
        if stats is None:
            return
        size, available = stats.get("pool_size", 0), stats.get("pool_available", 0)
        in_use = GaugeMetricFamily(
            "db_pool_connections", "Pooled database connections by state.", labels=["state"]
        )
        in_use.add_metric(["in_use"], size - available)
        in_use.add_metric(["idle"], available)
        yield in_use
        yield GaugeMetricFamily(
            "db_pool_max_connections", "The pool's maximum size.", value=stats.get("pool_max", 0)
        )
        yield GaugeMetricFamily(
            "db_pool_requests_waiting",
            "Requests waiting for a pooled connection now.",
            value=stats.get("requests_waiting", 0),
        )
        yield CounterMetricFamily(
            "db_pool_requests",
            "Connections asked of the pool.",
            value=stats.get("requests_num", 0),
        )
        yield CounterMetricFamily(
            "db_pool_requests_queued",
            "Connections asked of the pool that had to wait.",
            value=stats.get("requests_queued", 0),
        )
        yield CounterMetricFamily(
            "db_pool_requests_wait_seconds",
            "Time spent waiting for a pooled connection.",
            value=stats.get("requests_wait_ms", 0) / 1000,
        )
        yield CounterMetricFamily(
            "db_pool_errors",
            "Connection requests that failed (timeout) and connections that could not be made.",
            value=stats.get("requests_errors", 0) + stats.get("connections_errors", 0),
        )


def _pool_stats() -> dict[str, Any] | None:
    """The default database's psycopg pool figures, when this process has a pool (server
    processes do; commands and the suite do not)."""
    from django.db import connections

    wrapper = connections["default"]
    pools: dict[str, Any] = getattr(type(wrapper), "_connection_pools", {})
    pool = pools.get(wrapper.alias)
    if pool is None:
        return None
    return dict(pool.get_stats())


REGISTRY.register(_ScrapeTime())


def serve(*, port: int, bind: str, ports: int = 1) -> int | None:
    """Starts this process's metrics listener on the first free port of `ports` from
    `port`; which one, or None (and a warning) when every one is taken."""
    for candidate in range(port, port + max(ports, 1)):
        try:
            start_http_server(candidate, addr=bind)
        except OSError:
            continue
        logger.info("Metrics served on http://%s:%s/metrics", bind, candidate)
        return candidate
    logger.warning("Metrics not served: ports %s-%s on %s taken", port, port + ports - 1, bind)
    return None
