"""Inputs that used to answer 500 answer a clear 4xx in the error shape, and nothing is
stored: oversized bodies (413), JSON nested too deeply (400), integers past what the
database holds (400 in a query, 404 in a path), NUL characters in a path (404)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.chat.models import Message
from apps.tenancy.models import Tenant
from tests.chat.conftest import support_ticket
from tests.conftest import Org

HUGE = "99999999999999999999"


@pytest.fixture
def console(client_for: Any, public_tenant: Tenant, super_admin: User) -> Any:
    return client_for(public_tenant, super_admin)


def _code(response: Any) -> str:
    return response.json()["error"]["code"]


def test_a_body_over_the_limit_answers_413_and_stores_nothing(
    org: Org, client_for: Any, settings: Any
) -> None:
    client = client_for(org.tenant, org.player)
    channel = support_ticket(client)
    body = json.dumps({"content": "x" * (10 * 1024 * 1024)})

    response = client.post(
        f"/api/chat/channels/{channel['id']}/messages", body, content_type="application/json"
    )

    assert response.status_code == 413 and _code(response) == "payload_too_large"
    # The limit is the setting's, not fixed.
    settings.MAX_BODY_BYTES = settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
    raised = client.post(
        f"/api/chat/channels/{channel['id']}/messages", body, content_type="application/json"
    )
    assert raised.status_code == 400  # past the limit: now the content's own length check
    with schema_context("acme"):
        assert not Message.objects.filter(channel_id=channel["id"]).exists()


def test_login_with_an_oversized_body_is_413_too(org: Org) -> None:
    from rest_framework.test import APIClient

    body = json.dumps({"email": org.player.email, "password": "p" * (2 * 1024 * 1024)})
    response = APIClient(HTTP_HOST="acme.localhost").post(
        "/api/auth/login", body, content_type="application/json"
    )
    assert response.status_code == 413 and _code(response) == "payload_too_large"


@pytest.mark.parametrize("depth", [33, 5_000, 100_000])
def test_json_nested_too_deeply_answers_400(depth: int, org: Org, client_for: Any) -> None:
    client = client_for(org.tenant, org.player)
    channel = support_ticket(client)
    body = '{"content": ' + "[" * depth + "]" * depth + "}"

    response = client.post(
        f"/api/chat/channels/{channel['id']}/messages", body, content_type="application/json"
    )

    assert response.status_code == 400 and _code(response) == "bad_request"
    with schema_context("acme"):
        assert not Message.objects.filter(channel_id=channel["id"]).exists()


def test_json_within_the_depth_limit_is_read(org: Org, client_for: Any) -> None:
    client = client_for(org.tenant, org.player)
    channel = support_ticket(client)
    body = '{"content": "hi", "x": ' + "[" * 30 + "]" * 30 + "}"
    response = client.post(
        f"/api/chat/channels/{channel['id']}/messages", body, content_type="application/json"
    )
    assert response.status_code == 201


CONSOLE_QUERIES = [
    "/api/console/tickets?offset=",
    "/api/console/tickets?limit=",
    "/api/console/tickets?assigneeId=",
    "/api/console/escalations?offset=",
    "/api/console/escalations?limit=",
    "/api/console/tenants?limit=",
    "/api/console/audit?actorId=",
    "/api/console/audit?before=",
    "/api/console/audit?limit=",
]


@pytest.mark.parametrize("path", CONSOLE_QUERIES)
@pytest.mark.parametrize("value", [HUGE, "-" + HUGE, "9223372036854775808"])
def test_console_integer_parameters_past_bigint_answer_400(
    path: str, value: str, console: Any
) -> None:
    response = console.get(path + value)
    assert response.status_code == 400, response.content
    assert _code(response) == "validation_error"


@pytest.mark.parametrize("query", ["limit", "before", "after"])
def test_chat_integer_parameters_past_bigint_answer_400(
    query: str, org: Org, client_for: Any
) -> None:
    client = client_for(org.tenant, org.player)
    channel = support_ticket(client)
    history = client.get(f"/api/chat/channels/{channel['id']}/messages?{query}={HUGE}")
    assert history.status_code == 400
    if query == "limit":
        assert client.get(f"/api/chat/channels?limit={HUGE}").status_code == 400


def test_ids_past_bigint_in_bodies_and_paths(org: Org, client_for: Any, console: Any) -> None:
    admin = client_for(org.tenant, org.admin)
    channel = support_ticket(client_for(org.tenant, org.player))
    base = f"/api/chat/channels/{channel['id']}"

    assert admin.post(f"{base}/read", {"messageId": int(HUGE)}, format="json").status_code == 400
    assert admin.put(f"{base}/assign", {"assigneeId": int(HUGE)}, format="json").status_code == 400
    added = admin.post(f"{base}/participants", {"userIds": [int(HUGE)]}, format="json")
    assert added.status_code == 400
    assert admin.delete(f"{base}/messages/{HUGE}").status_code in (403, 404)
    for path in ("", "/messages", "/resolve", "/return"):
        response = console.get(f"/api/console/escalations/{HUGE}{path}")
        assert response.status_code in (404, 405) and _code(response) in (
            "not_found",
            "method_not_allowed",
        )


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("put", "/suspend"), ("put", "/reactivate"), ("get", "/export")],
)
def test_nul_in_a_tenant_slug_answers_404(method: str, suffix: str, console: Any) -> None:
    response = getattr(console, method)(
        f"/api/console/tenants/ac%00me{suffix}", {"reason": "x", "confirm": "x"}, format="json"
    )
    assert response.status_code == 404 and _code(response) == "tenant_not_found"


def test_deleting_a_slug_with_nul_is_refused(console: Any) -> None:
    response = console.delete("/api/console/tenants/ac%00me", {"confirm": "acme"}, format="json")
    assert response.status_code == 400 and _code(response) == "confirmation_required"
    assert Tenant.objects.filter(schema_name="acme").exists()


def test_nul_and_lone_surrogates_in_content_answer_400_over_rest(org: Org, client_for: Any) -> None:
    client = client_for(org.tenant, org.player)
    channel = support_ticket(client)
    for content in ('"a\\u0000b"', '"a\\ud800b"'):
        response = client.post(
            f"/api/chat/channels/{channel['id']}/messages",
            '{"content": ' + content + "}",
            content_type="application/json",
        )
        assert response.status_code == 400
    with schema_context("acme"):
        assert not Message.objects.filter(channel_id=channel["id"]).exists()
