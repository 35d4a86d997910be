"""Logs, metrics and probes as an operator sees them: one structured line per request and
per socket session, no secret in any line, Prometheus figures, liveness apart from
readiness."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from apps.chat.hub import Hub
from apps.core.logs import RedactSecrets, formatter
from apps.core.metrics import Tally
from tests.chat.conftest import create_channel
from tests.chat.test_websocket import connect, expect, send
from tests.conftest import PASSWORD
from tests.servers import ROOT


class Captured:
    """What the root logger writes while a test runs, formatted as the configured handler
    formats (same filter, LOG_FORMAT `fmt`), line by line as it is logged."""

    def __init__(self, fmt: str) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter(fmt))
        self.handler.addFilter(RedactSecrets())

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self, logger: str | None = None) -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in self.text.splitlines() if line.strip()]
        return [line for line in parsed if logger is None or line["logger"] == logger]


@pytest.fixture
def logged(caplog: Any) -> Iterator[Callable[[str], Captured]]:
    caplog.set_level(logging.DEBUG)
    captures: list[Captured] = []

    def capture(fmt: str = "json") -> Captured:
        captured = Captured(fmt)
        logging.getLogger().addHandler(captured.handler)
        captures.append(captured)
        return captured

    yield capture
    for captured in captures:
        logging.getLogger().removeHandler(captured.handler)


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_one_json_line_per_request_with_route_tenant_user_and_request_id(
    org, other_org, client_for, logged
):
    acme = client_for(org.tenant, org.player)
    channel = create_channel(acme, type="SUPPORT", subject="Logged")
    log = logged("json")

    response = acme.get(f"/api/chat/channels/{channel['id']}/messages")
    globex = client_for(other_org.tenant, other_org.player).get(
        f"/api/chat/channels/{channel['id']}/messages", HTTP_X_REQUEST_ID="from-the-proxy-1"
    )

    assert response.status_code == 200 and globex.status_code == 404
    mine, theirs = log.lines("apps.requests")
    assert mine["event"] == "request" and mine["level"] == "info"
    assert mine["route"] == "api/chat/channels/<str:channel_id>/messages"
    assert mine["method"] == "GET" and mine["status"] == 200
    assert mine["tenant"] == "acme" and mine["user"] == org.player.pk
    assert mine["duration_ms"] > 0 and mine["timestamp"]
    assert mine["request_id"] == response["X-Request-ID"] and len(mine["request_id"]) == 32
    # Another tenant's request is its own line, with its own tenant, user and the id given.
    assert theirs["tenant"] == "globex" and theirs["user"] == other_org.player.pk
    assert theirs["status"] == 404 and theirs["request_id"] == "from-the-proxy-1"
    assert globex["X-Request-ID"] == "from-the-proxy-1"


def test_an_unusable_request_id_is_replaced(org, client_for):
    response = client_for(org.tenant).get("/livez", HTTP_X_REQUEST_ID="x" * 500)
    assert response.status_code == 200
    assert len(response["X-Request-ID"]) == 32


def test_lines_logged_while_serving_carry_the_request_id(org, client_for, logged):
    log = logged("json")
    response = client_for(org.tenant).get("/api/chat/nothing-here", HTTP_X_REQUEST_ID="abc-123")
    assert response.status_code == 404
    lines = log.lines()
    assert {line["logger"] for line in lines} >= {"django.request", "apps.requests"}
    assert {line["request_id"] for line in lines} == {"abc-123"}
    request = next(line for line in lines if line["logger"] == "apps.requests")
    assert request["route"] == "<unmatched>"  # raw paths never become routes


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_secrets_never_reach_the_log(org, client_for, logged, fmt):
    log = logged(fmt)
    anonymous = APIClient(HTTP_HOST="acme.localhost")
    login = anonymous.post(
        "/api/auth/login", {"email": org.player.email, "password": PASSWORD}, format="json"
    )
    token = login.json()["token"]
    anonymous.post("/api/auth/login", {"email": org.player.email, "password": "wrong-SECRETpw"})
    authed = APIClient(HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    authed.get(f"/api/chat/channels?token={token}")
    anonymous.get(f"/api/invitations/accept?token=SECRETinvite{token}")
    structlog_logger = __import__("structlog").get_logger("apps.test")
    structlog_logger.info("sign-in", password="SECRETpw2", token=token, url=f"/ws?ticket={token}")

    text = log.text
    assert "apps.requests" in text and "sign-in" in text
    assert token not in text and "SECRET" not in text
    assert PASSWORD not in text
    assert "[redacted]" in text


def test_the_log_format_is_json_in_production_and_text_in_development():
    assert settings.LOG_FORMAT == "text"  # the suite runs as development
    record = logging.LogRecord("apps.x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    assert json.loads(formatter("json").format(record))["event"] == "hello you"
    assert "hello you" in formatter("text").format(record)


def test_request_latency_by_route_and_status(org, client_for):
    client = client_for(org.tenant, org.player)
    labels = {"route": "api/chat/channels", "method": "GET", "status": "200"}
    before = _sample("http_request_duration_seconds_count", **labels)
    client.get("/api/chat/channels")
    client.get("/api/chat/channels")
    assert _sample("http_request_duration_seconds_count", **labels) == before + 2
    assert _sample("http_request_duration_seconds_sum", **labels) > 0


def test_messages_sent_and_provisioning_are_counted(org, client_for, super_admin):
    client = client_for(org.tenant, org.player)
    channel = create_channel(client, type="SUPPORT", subject="Counted")
    before = _sample("chat_messages_sent_total")
    response = client.post(
        f"/api/chat/channels/{channel['id']}/messages", {"content": "hi"}, format="json"
    )
    assert response.status_code == 201
    assert _sample("chat_messages_sent_total") == before + 1

    provisioned = _sample("tenant_provisioning_seconds_count")
    console = client_for(org.tenant.__class__.objects.get(schema_name="public"), super_admin)
    created = console.post(
        "/api/console/tenants",
        {"slug": "metered", "name": "M", "adminEmail": "boss@metered.test"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert _sample("tenant_provisioning_seconds_count") == provisioned + 1


class _Socket:
    def __init__(self, socket_id: str) -> None:
        self.socket_id = socket_id
        self.frames: list[str] = []

    def push(self, frame: str) -> None:
        self.frames.append(frame)


def test_events_delivered_count_every_frame_handed_to_a_socket_but_the_skipped():
    async def scenario() -> None:
        hub = Hub(layer=None)
        sockets = {_Socket("a"), _Socket("b"), _Socket("c")}
        hub.groups["g"] = sockets  # type: ignore[assignment]
        before = _sample("chat_events_delivered_total")
        hub.dispatch({"type": "hub.frame", "group": "g", "frame": "{}", "skip": "a"})
        hub.dispatch({"type": "hub.frame", "group": "g", "frame": "{}"})
        hub.dispatch({"type": "hub.frame", "group": "nobody", "frame": "{}"})
        assert _sample("chat_events_delivered_total") == before + 5
        assert sum(len(s.frames) for s in sockets) == 5

    async_to_sync(scenario)()
    assert Tally.events_delivered >= 5


@pytest.fixture
def _keep_test_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)


@pytest.mark.usefixtures("_keep_test_connection")
def test_one_line_per_socket_session_and_open_sockets_gauge(org, other_org, logged):
    log = logged("json")
    opened = _sample("websocket_connections_open")

    async def scenario() -> None:
        socket = await connect(org.tenant, org.player, header=False)
        other = await connect(other_org.tenant, other_org.player)
        await send(socket, "sync", channelId="not-a-channel")
        await expect(socket, "error")
        await send(other, "sync", channelId="not-a-channel")
        await expect(other, "error")  # both past their set-up
        assert _sample("websocket_connections_open") == opened + 2
        await socket.disconnect(code=1000)
        await other.disconnect(code=4000)

    async_to_sync(scenario)()
    assert _sample("websocket_connections_open") == opened
    lines = log.lines("apps.sockets")
    assert len(lines) == 2
    by_tenant = {line["tenant"]: line for line in lines}
    mine = by_tenant["acme"]
    assert mine["event"] == "socket" and mine["route"] == "ws/chat/"
    assert mine["user"] == org.player.pk and mine["status"] == 1000
    assert mine["frames_in"] == 1 and mine["duration_ms"] > 0 and mine["request_id"]
    assert by_tenant["globex"]["user"] == other_org.player.pk
    assert by_tenant["globex"]["status"] == 4000
    assert "token=" not in log.text or "token=[redacted]" in log.text


def test_liveness_and_readiness_are_distinct_probes_on_any_host(db):
    client = APIClient(HTTP_HOST="10.0.0.1")
    live, ready, health = client.get("/livez"), client.get("/readyz"), client.get("/healthz")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
    assert health.json() == ready.json()  # /healthz answers as before


def test_the_sample_dashboard_uses_only_metrics_the_code_exposes(monkeypatch):
    from apps.core import metrics

    stats = {"pool_size": 3, "pool_available": 1, "pool_max": 10, "requests_num": 5}
    monkeypatch.setattr(metrics, "_pool_stats", lambda: stats)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    exposed = {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in suffixes.get(family.type, ("",))
    }
    dashboard = json.loads((ROOT / "deploy/grafana/tenantchat-dashboard.json").read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b([a-z_]+)\{", target["expr"])
    }
    assert used and used <= exposed, used - exposed
    assert REGISTRY.get_sample_value("db_pool_connections", {"state": "in_use"}) == 2


def test_labels_a_client_chooses_stay_bounded(org, client_for):
    client = client_for(org.tenant, org.player)
    client.generic("BREW", "/api/chat/channels")
    client.generic("BREW2", "/api/chat/channels")
    assert (
        _sample(
            "http_request_duration_seconds_count",
            route="api/chat/channels",
            method="other",
            status="405",
        )
        >= 2
    )
    assert (
        REGISTRY.get_sample_value(
            "http_request_duration_seconds_count",
            {"route": "api/chat/channels", "method": "BREW", "status": "405"},
        )
        is None
    )
    from apps.core.metrics import close_code_label

    assert [close_code_label(c) for c in (1000, 1006, 4403, 4408, 4999, 3000)] == [
        "1000",
        "1006",
        "4403",
        "4408",
        "other",
        "other",
    ]
