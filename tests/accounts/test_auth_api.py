from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import ApiToken, Role
from tests.conftest import PASSWORD


def login(client, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/api/auth/login", {"email": email, "password": password}, format="json")


def test_login_returns_token_that_authenticates_me(acme, make_user, client_for):
    user = make_user(acme, Role.TENANT_ADMIN)
    client = client_for(acme)

    response = login(client, user.email)

    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {
        "id": user.id,
        "email": user.email,
        "displayName": user.display_name,
        "isSuperAdmin": False,
    }
    assert body["role"] == "TENANT_ADMIN"
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    me = client.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["role"] == "TENANT_ADMIN"
    assert me.json()["tenant"]["slug"] == "acme"


def test_login_email_is_case_insensitive(acme, make_user, client_for):
    user = make_user(acme)
    assert login(client_for(acme), user.email.upper()).status_code == 200


def test_token_is_stored_hashed(acme, make_user, client_for):
    user = make_user(acme)
    raw = login(client_for(acme), user.email).json()["token"]
    stored = ApiToken.objects.get(user=user)
    assert raw not in stored.key_hash
    assert len(stored.key_hash) == 64


@pytest.mark.parametrize("case", ["wrong_password", "unknown_email", "other_tenant"])
def test_login_failures_look_identical(case, acme, globex, make_user, client_for):
    acme_user = make_user(acme)
    globex_user = make_user(globex)
    email, password = {
        "wrong_password": (acme_user.email, "not-the-password"),
        "unknown_email": ("nobody@example.test", PASSWORD),
        "other_tenant": (globex_user.email, PASSWORD),
    }[case]

    response = login(client_for(acme), email, password)

    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "invalid_credentials", "message": "Invalid email or password."}
    }
    assert not ApiToken.objects.exists()


def test_logout_revokes_the_token(acme, make_user, client_for):
    client = client_for(acme, make_user(acme))
    assert client.post("/api/auth/logout").status_code == 204
    response = client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_expired_token_is_refused(acme, make_user, client_for):
    user = make_user(acme)
    client = client_for(acme, user)
    ApiToken.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/auth/me").status_code == 401


def test_inactive_user_token_is_refused(acme, make_user, client_for):
    user = make_user(acme)
    client = client_for(acme, user)
    user.is_active = False
    user.save()
    assert client.get("/api/auth/me").status_code == 401


def test_acme_token_gets_nothing_on_globex_host(acme, globex, make_user, client_for):
    user = make_user(acme, Role.TENANT_ADMIN)
    client = client_for(globex, user)

    response = client.get("/api/auth/me")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_a_member"
    assert "acme" not in response.content.decode()


def test_member_token_refused_on_public_host(acme, public_tenant, make_user, client_for):
    client = client_for(public_tenant, make_user(acme, Role.TENANT_ADMIN))
    assert client.get("/api/auth/me").status_code == 403


def test_person_in_two_tenants_has_a_role_in_each(acme, globex, make_user, client_for):
    from apps.accounts.services import membership_set

    user = make_user(acme, Role.PARTICIPANT)
    membership_set(user=user, tenant=globex, role=Role.MANAGEMENT_TEAM)

    assert client_for(acme, user).get("/api/auth/me").json()["role"] == "PARTICIPANT"
    assert client_for(globex, user).get("/api/auth/me").json()["role"] == "MANAGEMENT_TEAM"


def test_super_admin_accepted_on_every_host(acme, globex, public_tenant, make_user, client_for):
    admin = make_user(super_admin=True)
    for tenant in (public_tenant, acme, globex):
        response = login(client_for(tenant), admin.email)
        assert response.status_code == 200, tenant
        me = client_for(tenant, admin).get("/api/auth/me")
        assert me.status_code == 200
        assert me.json()["user"]["isSuperAdmin"] is True
        assert me.json()["role"] is None


def test_the_host_and_the_credential_are_read_in_one_statement(acme, globex, make_user, client_for):
    """Every API request with a token: the tenant of the host and what the token gives
    there come from one statement, on both tenants' hosts, with the right answer each."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.accounts.services import membership_set

    user = make_user(acme, Role.PARTICIPANT)
    membership_set(user=user, tenant=globex, role=Role.MANAGEMENT_TEAM)
    for tenant, role in ((acme, "PARTICIPANT"), (globex, "MANAGEMENT_TEAM"), (acme, "PARTICIPANT")):
        client = client_for(tenant, user)
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/api/auth/me")
        assert response.status_code == 200
        assert response.json()["role"] == role
        reads = [q["sql"] for q in captured.captured_queries if "accounts_apitoken" in q["sql"]]
        hosts = [q["sql"] for q in captured.captured_queries if "tenancy_domain" in q["sql"]]
        assert len(hosts) == 1
        assert [sql for sql in reads if sql.lstrip().startswith("SELECT")] == hosts


def test_an_unknown_host_with_a_valid_token_is_still_an_unknown_host(acme, make_user, client_for):
    client = client_for(acme, make_user(acme, Role.TENANT_ADMIN))
    response = client.get("/api/auth/me", HTTP_HOST="nowhere.localhost")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_host"


def test_a_token_on_a_host_where_the_membership_is_suspended_gets_nothing(
    acme, globex, make_user, client_for
):
    from apps.accounts.models import Membership, MembershipStatus

    user = make_user(acme, Role.PARTICIPANT)
    client = client_for(acme, user)
    assert client.get("/api/auth/me").status_code == 200
    Membership.objects.filter(user=user, tenant=acme).update(status=MembershipStatus.SUSPENDED)
    response = client.get("/api/auth/me")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_a_member"


def test_malformed_authorization_header(acme, client_for):
    client = client_for(acme)
    client.credentials(HTTP_AUTHORIZATION="Bearer two words")
    response = client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_login_is_rate_limited(acme, make_user, client_for):
    client = client_for(acme)
    statuses = [login(client, "x@example.test", "bad").status_code for _ in range(25)]
    assert statuses[0] == 401
    assert statuses[-1] == 429
    response = login(client, "x@example.test", "bad")
    assert response.json()["error"]["code"] == "rate_limited"
    assert "Retry-After" in response.headers
