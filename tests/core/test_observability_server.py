"""Logs, metrics and probes of a real server process (uvicorn as deployed): the metrics
listener apart from the application's port, JSON lines on its output, and liveness that
holds while the database is away."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from tests.conftest import database_url
from tests.servers import free_port, uvicorn, wait_healthy

pytestmark = pytest.mark.slow


def _get(url: str, host: str = "acme.localhost", **headers: str) -> tuple[int, str, Any]:
    request = urllib.request.Request(url, headers={"Host": host, **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers


class Server:
    def __init__(
        self, env: dict[str, str], *, database_away: bool = False, metrics_port: int = 0
    ) -> None:
        self.port, self.metrics_port = free_port(), metrics_port or free_port()
        self.output = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop)
        self.process = uvicorn(
            self.port,
            {
                **os.environ,
                "REDIS_URL": settings.REDIS_URL,
                "LOG_FORMAT": "json",
                "METRICS_PORT": str(self.metrics_port),
                "METRICS_PORTS": "2",
                "DB_POOL_MIN_SIZE": "1",
                "DB_POOL_MAX_SIZE": "4",
                "WS_DB_THREADS": "1",
                **env,
            },
            output=self.output,
            log_level="info",
            args=("--no-access-log",),
        )
        try:
            if database_away:
                self._wait_live()
            else:
                wait_healthy(self.port, self.process, lambda _p: self.lines_text())
        except BaseException:
            self.stop()  # a server that never answered is not left running
            raise

    def _wait_live(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.lines_text()
            try:
                urllib.request.urlopen(self.url("/livez"), timeout=1)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(self.lines_text())

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def lines_text(self) -> str:
        self.output.seek(0)
        return self.output.read().decode(errors="replace")

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines_text().splitlines() if line.strip()]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.output.close()


@pytest.fixture(scope="module")
def server(django_db_blocker: Any) -> Iterator[Server]:
    with django_db_blocker.unblock():
        url = database_url()
    started = Server({"DATABASE_URL": url})
    try:
        yield started
    finally:
        started.stop()


def test_metrics_are_served_apart_from_the_application(server):
    status, _, _ = _get(server.url("/api/chat/channels?token=SECRETquery"))
    assert status == 401
    scraped = urllib.request.urlopen(
        f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5
    ).read()
    metrics = scraped.decode()
    assert (
        'http_request_duration_seconds_count{method="GET",route="api/chat/channels",'
        'status="401"} 1.0' in metrics
    )
    for name in (
        "websocket_connections_open",
        "chat_messages_sent_total",
        "chat_events_delivered_total",
        "channel_layer_errors_total",
        "tenant_provisioning_seconds_count",
        'db_pool_connections{state="in_use"}',
        "db_pool_max_connections 4.0",
        "db_pool_requests_waiting",
    ):
        assert name in metrics, name
    # Not on the application's port, whatever the host.
    for host in ("acme.localhost", "localhost", "127.0.0.1"):
        status, body, _ = _get(server.url("/metrics"), host=host)
        assert status == 404 and "http_request_duration" not in body


def test_one_json_line_per_request_and_no_access_line_nor_secret(server):
    status, _, headers = _get(
        server.url("/api/chat/channels?token=SECRETtoken"),
        **{"X-Request-ID": "probe-42", "Authorization": "Bearer SECRETbearer"},
    )
    assert status == 401 and headers["X-Request-ID"] == "probe-42"
    text = server.lines_text()
    assert "SECRET" not in text
    mine = [line for line in server.lines() if line.get("request_id") == "probe-42"]
    requests = [line for line in mine if line["logger"] == "apps.requests"]
    assert len(requests) == 1
    assert requests[0]["route"] == "api/chat/channels" and requests[0]["tenant"] == "acme"
    assert not [line for line in server.lines() if line["logger"] == "uvicorn.access"]


def test_liveness_holds_while_the_database_is_away_and_readiness_fails():
    # A server whose database never answers (a port nobody listens on).
    away = Server(
        {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/nothing",
            "DB_POOL_TIMEOUT": "1",
        },
        database_away=True,
    )
    try:
        live, _, _ = _get(away.url("/livez"), host="10.0.0.1")
        ready, body, _ = _get(away.url("/readyz"), host="10.0.0.1")
        assert live == 200
        assert ready == 503 and json.loads(body)["database"].startswith("error")
    finally:
        away.stop()


def _serves_metrics(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            return b"http_request_duration_seconds" in answer.read()
    except OSError:
        return False


def test_workers_sharing_a_metrics_range_take_a_port_each(server, django_db_blocker):
    """As the workers of `uvicorn --workers 2` do: the second takes the next port."""
    with django_db_blocker.unblock():
        url = database_url()
    base = server.metrics_port
    if _serves_metrics(base + 1):
        pytest.skip("the next port is taken by something else")
    second = Server({"DATABASE_URL": url}, metrics_port=base)
    try:
        assert _serves_metrics(base) and _serves_metrics(base + 1)
        assert f"Metrics served on http://127.0.0.1:{base + 1}/metrics" in second.lines_text()
    finally:
        second.stop()


def test_a_socket_session_is_one_line_of_ours_not_the_servers_three(server):
    """uvicorn's per-socket INFO lines (accepted, open, closed) are dropped: the session's
    own line says what they said, and more."""
    import asyncio

    import websockets

    async def refused() -> int | None:
        async with websockets.connect(
            f"ws://acme.localhost:{server.port}/ws/chat/", host="127.0.0.1"
        ) as socket:
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(socket.recv(), 5)
            return socket.close_code

    assert asyncio.run(refused()) == 4401
    deadline = time.monotonic() + 5
    while not [line for line in server.lines() if line["logger"] == "apps.sockets"]:
        assert time.monotonic() < deadline, server.lines_text()
        time.sleep(0.1)
    events = [line["event"] for line in server.lines() if line["logger"] == "uvicorn.error"]
    assert not [e for e in events if "connection open" in e or "[accepted]" in e], events
