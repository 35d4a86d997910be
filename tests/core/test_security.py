"""Security headers, `check --deploy` with production settings, secrets kept out of logs,
and a database outage answered 503 with Retry-After (from a view and from the tenant
routing that queries before any view)."""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import InterfaceError, OperationalError
from psycopg_pool import PoolTimeout
from rest_framework.test import APIClient

from apps.core.logs import install_on_server_loggers
from tests.conftest import Org, database_url

ROOT = Path(__file__).resolve().parents[2]


def test_api_answers_carry_security_headers(org: Org, client_for: Any) -> None:
    for response in (
        client_for(org.tenant, org.player).get("/api/auth/me"),
        APIClient(HTTP_HOST="nobody.localhost").get("/api/auth/me"),  # answered early
        APIClient(HTTP_HOST="acme.localhost").get("/api/auth/me"),  # 401
    ):
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "no-referrer"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert "Strict-Transport-Security" not in response  # not in development


def test_hsts_and_https_redirect_when_configured(org: Org, settings: Any) -> None:
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_SSL_REDIRECT = True
    plain = APIClient(HTTP_HOST="acme.localhost").get("/api/auth/me")
    assert plain.status_code == 301 and plain["Location"].startswith("https://acme.localhost/")
    secure = APIClient(HTTP_HOST="acme.localhost").get("/api/auth/me", secure=True)
    assert secure.status_code == 401
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000; includeSubDomains")
    probe = APIClient(HTTP_HOST="127.0.0.1").get("/healthz")
    assert probe.status_code == 200  # load balancers probe over plain HTTP


def test_check_deploy_passes_with_production_settings() -> None:
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url(),
        "BASE_DOMAIN": "example.com",
        "ALLOWED_HOSTS": "example.com,.example.com",
        "DEBUG": "false",
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_trusts_no_forwarded_host_by_default() -> None:
    env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(50)}
    env["DATABASE_URL"] = database_url()
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.USE_X_FORWARDED_HOST)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize("logger_name", ["uvicorn.access", "uvicorn.error", "django.request"])
def test_tokens_and_tickets_never_reach_the_logs(logger_name: str, caplog: Any) -> None:
    install_on_server_loggers()
    logger = logging.getLogger(logger_name)
    caplog.set_level(logging.INFO, logger=logger_name)
    # uvicorn's own formats: the access line and the WebSocket handshake line.
    logger.info(
        '%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "GET", "/ws/chat/?token=SECRET1&x=1", "1.1", 101
    )
    logger.info('%s - "WebSocket %s" [accepted]', "1.2.3.4:5", "/ws/chat/?ticket=SECRET2")
    logger.info("GET /api/x?a=1&TOKEN=SECRET3 and /ws/chat/?access_token=SECRET4")

    text = caplog.text
    if logger_name == "django.request":  # records reaching our handler, not caplog's
        handler = logging.getLogger().handlers[0]
        text = "".join(handler.format(r) for r in caplog.records if handler.filter(r))
    assert "SECRET" not in text
    # uvicorn's per-socket "[accepted]" line is not logged at all on its error logger
    # (each socket session gets one line of our own instead).
    accepted_dropped = logger_name == "uvicorn.error"
    assert text.count("[redacted]") == (3 if accepted_dropped else 4)
    assert ("[accepted]" in text) is not accepted_dropped
    assert "x=1" in text


@pytest.mark.parametrize(
    "failure",
    [
        OperationalError("connection to server failed"),
        InterfaceError("connection already closed"),
        PoolTimeout("couldn't get a connection after 30.00 sec"),
    ],
)
def test_a_database_outage_answers_503_with_retry_after(
    failure: Exception, org: Org, client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = client_for(org.tenant, org.player)

    def down(*args: Any, **kwargs: Any) -> Any:
        raise failure

    client.raise_request_exception = False
    monkeypatch.setattr("apps.chat.selectors.channel_list", down)
    in_view = client.get("/api/chat/channels")
    monkeypatch.undo()
    # The tenant middleware queries first: the host alone, or with the bearer token.
    monkeypatch.setattr("apps.tenancy.middleware.tenant_and_credential", down)
    in_routing = client.get("/api/auth/me")
    monkeypatch.undo()
    monkeypatch.setattr("apps.tenancy.middleware.tenant_for_host", down)
    anonymous = client_for(org.tenant)
    anonymous.raise_request_exception = False
    in_routing_anonymous = anonymous.post(
        "/api/auth/login", {"email": org.player.email, "password": "wrong"}, format="json"
    )
    monkeypatch.undo()
    recovered = client.get("/api/auth/me")

    for response in (in_view, in_routing, in_routing_anonymous):
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "service_unavailable"
        assert int(response["Retry-After"]) > 0
    assert recovered.status_code == 200
