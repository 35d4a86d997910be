from __future__ import annotations

import pytest
from django.db import connection

from apps.accounts.models import Role


def test_unknown_host_answers_json_404(client_for, acme):
    from rest_framework.test import APIClient

    client = APIClient(HTTP_HOST="nobody.localhost")
    response = client.get("/api/auth/me")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "unknown_host", "message": "No tenant is served on this host."}
    }


def test_disallowed_host_answers_json_404():
    from rest_framework.test import APIClient

    response = APIClient(HTTP_HOST="evil.example.org").get("/api/auth/me")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_host"


@pytest.mark.parametrize("slug", ["acme", "globex"])
def test_host_routes_to_its_schema(slug, make_user, client_for, request):
    tenant = request.getfixturevalue(slug)
    client = client_for(tenant, make_user(tenant))
    response = client.get("/api/auth/me")
    assert response.status_code == 200
    assert response.json()["tenant"]["slug"] == slug
    assert connection.schema_name == slug


def test_error_shapes(acme, make_user, client_for):
    anonymous = client_for(acme)
    member = client_for(acme, make_user(acme, Role.PARTICIPANT))

    bad = anonymous.post("/api/auth/login", {"email": "not-an-email"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "validation_error"
    assert set(bad.json()["error"]["fields"]) == {"email", "password"}

    unparsable = anonymous.post("/api/auth/login", "{", content_type="application/json")
    assert unparsable.status_code == 400
    assert unparsable.json()["error"]["code"] == "parse_error"

    assert anonymous.get("/api/auth/me").json()["error"]["code"] == "not_authenticated"
    assert anonymous.get("/api/auth/me").status_code == 401

    missing = member.get("/api/no/such/thing")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "Not found."}}

    wrong_method = member.delete("/api/auth/me")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_health_reports_database(client_for, acme):
    from rest_framework.test import APIClient

    response = APIClient(HTTP_HOST="10.0.0.1").get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"] in {"ok", "not_configured"}


def test_openapi_schema_is_served(client_for, public_tenant):
    response = client_for(public_tenant).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/auth/login" in paths
    docs = client_for(public_tenant).get("/api/docs/")
    assert docs.status_code == 200
