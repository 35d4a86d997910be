"""One host normalisation for HTTP and WebSocket: case, a trailing dot and the port do
not matter; `www.` is not stripped, so it is an unknown host on both; X-Forwarded-Host is
read only when USE_X_FORWARDED_HOST says so."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.core.closecodes import CLOSE_UNKNOWN_HOST
from tests.chat.test_websocket import _keep_test_connection, closed_with, connect, expect, run
from tests.conftest import Org

__all__ = ["_keep_test_connection"]  # the autouse fixture, for these sockets too

SAME_HOST = ["ACME.LOCALHOST", "acme.localhost.", "Acme.Localhost.:8000", "acme.localhost:443"]


@pytest.mark.parametrize("host", SAME_HOST)
def test_variants_of_a_host_reach_its_tenant_over_http_and_websocket(host: str, org: Org) -> None:
    client = APIClient(HTTP_HOST=host)
    response = client.post(
        "/api/auth/login",
        {"email": org.player.email, "password": "correct-horse-42"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["user"]["id"] == org.player.id

    async def scenario() -> None:
        socket = await connect(org.tenant, org.player, host=host)
        await socket.send_json_to({"event": "leave_channel", "data": {"channelId": "x"}})
        assert (await expect(socket, "left"))["channelId"] == "x"
        await socket.disconnect()

    run(scenario)


@pytest.mark.parametrize("host", ["www.acme.localhost", "www.localhost", "acme..localhost"])
def test_www_and_malformed_hosts_are_unknown_on_both_transports(host: str, org: Org) -> None:
    response = APIClient(HTTP_HOST=host).get("/api/auth/me")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_host"

    async def scenario() -> None:
        socket = await connect(org.tenant, org.player, host=host)
        assert await closed_with(socket) == CLOSE_UNKNOWN_HOST

    run(scenario)


def test_x_forwarded_host_is_ignored_unless_configured(org: Org, client_for: Any) -> None:
    """A client's own X-Forwarded-Host never picks the tenant (production included)."""
    client = APIClient(HTTP_HOST="evil.example", HTTP_X_FORWARDED_HOST="acme.localhost")
    response = client.post(
        "/api/auth/login",
        {"email": org.player.email, "password": "correct-horse-42"},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_host"


def test_x_forwarded_host_is_read_when_configured(org: Org, settings: Any) -> None:
    settings.USE_X_FORWARDED_HOST = True
    client = APIClient(HTTP_HOST="proxy.internal", HTTP_X_FORWARDED_HOST="acme.localhost")
    response = client.post(
        "/api/auth/login",
        {"email": org.player.email, "password": "correct-horse-42"},
        format="json",
    )
    assert response.status_code == 200


def test_sockets_remember_an_active_host_only(org: Org) -> None:
    """Socket connects remember an active tenant's host for a few seconds (they check its
    status again once subscribed); a suspended host is read afresh every time, so a
    reactivated tenant is served at once."""
    from apps.tenancy import hosts
    from apps.tenancy.models import Tenant, TenantStatus

    assert hosts.active_tenant_for_host("acme.localhost").pk == org.tenant.pk
    assert "acme.localhost" in hosts._active_hosts
    Tenant.objects.filter(pk=org.tenant.pk).update(status=TenantStatus.SUSPENDED)
    hosts._active_hosts.clear()
    assert hosts.active_tenant_for_host("acme.localhost").status == TenantStatus.SUSPENDED
    assert "acme.localhost" not in hosts._active_hosts
    Tenant.objects.filter(pk=org.tenant.pk).update(status=TenantStatus.ACTIVE)
    assert hosts.active_tenant_for_host("acme.localhost").status == TenantStatus.ACTIVE
    assert hosts.active_tenant_for_host("nobody.localhost") is None
    assert "nobody.localhost" not in hosts._active_hosts
