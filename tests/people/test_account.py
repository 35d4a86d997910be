"""A person's own account: name, password change, password reset by mail, sessions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken, PasswordReset, User
from apps.records.models import AuditEntry
from tests.conftest import PASSWORD, host_of
from tests.people.conftest import follow, links

NEW_PASSWORD = "plum-orchard-7391"


def login(client: Any, email: str, password: str = PASSWORD, agent: str = "") -> Any:
    return client.post(
        "/api/auth/login",
        {"email": email, "password": password},
        format="json",
        HTTP_USER_AGENT=agent,
    )


def signed_in(tenant: Any, email: str, agent: str = "", password: str = PASSWORD) -> APIClient:
    client = APIClient(HTTP_HOST=host_of(tenant))
    response = login(client, email, password, agent)
    assert response.status_code == 200, response.json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['token']}")
    return client


def user_state(user: User) -> tuple[Any, ...]:
    user.refresh_from_db()
    return (
        user.password,
        user.display_name,
        sorted(ApiToken.objects.filter(user=user).values_list("pk", flat=True)),
        sorted(PasswordReset.objects.filter(user=user).values_list("pk", "used_at")),
    )


# --- name --------------------------------------------------------------------------------


def test_rename_yourself(org, client_for):
    client = client_for(org.tenant, org.player)
    response = client.patch("/api/auth/me", {"displayName": "  Ada  "}, format="json")
    assert response.status_code == 200
    assert response.json()["user"]["displayName"] == "Ada"
    assert client.get("/api/auth/me").json()["user"]["displayName"] == "Ada"


@pytest.mark.parametrize("name", ["", "   ", "x" * 151, 5, None])
def test_bad_name_changes_nothing(name, org, client_for):
    client = client_for(org.tenant, org.player)
    before = user_state(org.player)
    response = client.patch("/api/auth/me", {"displayName": name}, format="json")
    assert response.status_code == 400
    assert "displayName" in response.json()["error"]["fields"]
    assert user_state(org.player) == before


# --- password change ---------------------------------------------------------------------


def test_password_change_ends_the_other_sessions(org, globex, revoked):
    here = signed_in(org.tenant, org.player.email, "Here/1")
    elsewhere = signed_in(org.tenant, org.player.email, "Phone/2")
    other_ids = list(
        ApiToken.objects.filter(user=org.player, user_agent="Phone/2").values_list("pk", flat=True)
    )

    response = here.post(
        "/api/auth/password",
        {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        format="json",
    )

    assert response.status_code == 204, response.content
    assert here.get("/api/auth/me").status_code == 200
    assert elsewhere.get("/api/auth/me").status_code == 401
    assert revoked() == [{"user_id": org.player.pk, "token_ids": other_ids}]
    client = APIClient(HTTP_HOST=host_of(org.tenant))
    assert login(client, org.player.email).status_code == 401
    assert login(client, org.player.email, NEW_PASSWORD).status_code == 200
    entry = AuditEntry.objects.get(action="account.password_changed")
    assert (entry.actor, entry.tenant) == (org.player, org.tenant)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (
            {"currentPassword": "wrong-one-123", "newPassword": NEW_PASSWORD},
            "wrong_password",
            "currentPassword",
        ),
        ({"currentPassword": PASSWORD, "newPassword": "short"}, "validation_error", "newPassword"),
        (
            {"currentPassword": PASSWORD, "newPassword": "password1"},
            "validation_error",
            "newPassword",
        ),
        ({"currentPassword": PASSWORD}, "validation_error", "newPassword"),
        ({"newPassword": NEW_PASSWORD}, "validation_error", "currentPassword"),
    ],
)
def test_refused_password_change_changes_nothing(body, code, field, org, client_for, revoked):
    client = client_for(org.tenant, org.player)
    client_for(org.tenant, org.player)  # another session, which must survive
    before = user_state(org.player)

    response = client.post("/api/auth/password", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert field in response.json()["error"]["fields"]
    assert user_state(org.player) == before
    assert revoked() == []


# --- password reset ----------------------------------------------------------------------


def reset(client: Any, email: str) -> Any:
    return client.post("/api/auth/password-reset", {"email": email}, format="json")


def test_reset_by_mail_sets_the_password_and_ends_every_session(
    org, client_for, committed, revoked
):
    sessions = [client_for(org.tenant, org.player) for _ in range(2)]
    token_ids = sorted(ApiToken.objects.filter(user=org.player).values_list("pk", flat=True))

    response = reset(client_for(org.tenant), f"  {org.player.email.upper()} ")

    assert response.status_code == 202
    [message] = committed.outbox()
    assert message.to == [org.player.email]
    assert message.subject == "Reset your password for Acme"
    assert "expires in 60 minutes" in message.body
    text_link, html_link = links(message)
    assert text_link == html_link
    assert text_link.startswith("http://acme.localhost:8000/reset-password?token=")
    client, token, opened = follow(text_link)
    assert opened.status_code == 200
    assert opened.json()["email"] == org.player.email

    confirmed = client.post(
        "/api/auth/password-reset/confirm",
        {"token": token, "newPassword": NEW_PASSWORD},
        format="json",
    )

    assert confirmed.status_code == 204, confirmed.content
    assert all(s.get("/api/auth/me").status_code == 401 for s in sessions)
    assert [sorted(r["token_ids"]) for r in revoked()] == [token_ids]
    assert login(client, org.player.email, NEW_PASSWORD).status_code == 200
    again = client.post(
        "/api/auth/password-reset/confirm",
        {"token": token, "newPassword": "another-pass-8812"},
        format="json",
    )
    assert again.status_code == 400 and again.json()["error"]["code"] == "reset_used"
    entry = AuditEntry.objects.get(action="account.password_reset")
    assert (entry.actor, entry.tenant) == (org.player, org.tenant)


@pytest.mark.parametrize("who", ["exists", "unknown", "inactive", "not_a_member_here"])
def test_reset_answers_alike_whether_or_not_the_account_exists(
    who, org, other_org, client_for, committed
):
    email = {
        "exists": org.player.email,
        "unknown": "nobody@example.test",
        "inactive": org.player2.email,
        "not_a_member_here": other_org.player.email,
    }[who]
    User.objects.filter(pk=org.player2.pk).update(is_active=False)

    response = reset(client_for(org.tenant), email)

    assert response.status_code == 202
    assert response.json() == {
        "detail": "If an account with this address may sign in here, a reset link is on its way."
    }
    assert len(committed.outbox()) == (1 if who == "exists" else 0)
    assert PasswordReset.objects.exists() == (who == "exists")


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("wrong", "reset_invalid"),
        ("expired", "reset_expired"),
        ("used", "reset_used"),
        ("inactive", "reset_invalid"),
    ],
)
def test_unusable_reset_tokens_change_nothing(case, code, org, client_for, committed):
    reset(client_for(org.tenant), org.player.email)
    client, token, _ = follow(links(committed.outbox()[0])[0])
    stored = PasswordReset.objects.filter(user=org.player)
    if case == "wrong":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif case == "expired":
        stored.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif case == "used":
        stored.update(used_at=timezone.now())
    else:
        User.objects.filter(pk=org.player.pk).update(is_active=False)
    before = user_state(org.player)

    response = client.post(
        "/api/auth/password-reset/confirm",
        {"token": token, "newPassword": NEW_PASSWORD},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert user_state(org.player) == before


def test_weak_new_password_keeps_the_reset_usable(org, client_for, committed):
    reset(client_for(org.tenant), org.player.email)
    client, token, _ = follow(links(committed.outbox()[0])[0])
    before = user_state(org.player)
    weak = client.post(
        "/api/auth/password-reset/confirm", {"token": token, "newPassword": "123"}, format="json"
    )
    assert weak.status_code == 400 and "newPassword" in weak.json()["error"]["fields"]
    assert user_state(org.player) == before
    ok = client.post(
        "/api/auth/password-reset/confirm",
        {"token": token, "newPassword": NEW_PASSWORD},
        format="json",
    )
    assert ok.status_code == 204


def test_password_change_ends_outstanding_reset_links(org, client_for, committed):
    reset(client_for(org.tenant), org.player.email)
    client, token, _ = follow(links(committed.outbox()[0])[0])
    client_for(org.tenant, org.player).post(
        "/api/auth/password",
        {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        format="json",
    )
    response = client.post(
        "/api/auth/password-reset/confirm",
        {"token": token, "newPassword": "another-pass-8812"},
        format="json",
    )
    assert response.json()["error"]["code"] == "reset_used"


# --- sessions ----------------------------------------------------------------------------


def test_sessions_list_and_revoke(org, revoked):
    laptop = signed_in(org.tenant, org.player.email, "Laptop/1")
    signed_in(org.tenant, org.player.email, "Phone/2")
    phone_id = ApiToken.objects.get(user=org.player, user_agent="Phone/2").pk

    sessions = laptop.get("/api/auth/sessions").json()["sessions"]

    assert [(s["userAgent"], s["current"]) for s in sessions] == [
        ("Phone/2", False),
        ("Laptop/1", True),
    ]
    assert sessions[1]["lastUsedAt"] is not None  # this request
    assert sessions[0]["lastUsedAt"] is None
    assert set(sessions[0]) == {
        "id",
        "createdAt",
        "lastUsedAt",
        "expiresAt",
        "userAgent",
        "current",
    }

    assert laptop.delete(f"/api/auth/sessions/{phone_id}").status_code == 204
    assert [s["userAgent"] for s in laptop.get("/api/auth/sessions").json()["sessions"]] == [
        "Laptop/1"
    ]
    assert revoked() == [{"user_id": org.player.pk, "token_ids": [phone_id]}]
    entry = AuditEntry.objects.get(action="account.session_revoked")
    assert (entry.actor, entry.tenant, entry.target_id) == (org.player, org.tenant, str(phone_id))


def test_someone_elses_session_is_404_and_survives(org, other_org, client_for):
    theirs = signed_in(other_org.tenant, other_org.player.email, "Theirs/1")
    their_id = ApiToken.objects.get(user=other_org.player).pk
    mine = client_for(org.tenant, org.player)

    response = mine.delete(f"/api/auth/sessions/{their_id}")

    assert response.status_code == 404
    assert theirs.get("/api/auth/me").status_code == 200
    assert [s["id"] for s in mine.get("/api/auth/sessions").json()["sessions"]] == [
        ApiToken.objects.get(user=org.player).pk
    ]


def test_revoking_the_current_session_signs_out(org):
    client = signed_in(org.tenant, org.player.email)
    current = client.get("/api/auth/sessions").json()["sessions"][0]["id"]
    assert client.delete(f"/api/auth/sessions/{current}").status_code == 204
    assert client.get("/api/auth/me").status_code == 401


def test_last_use_is_written_at_most_once_a_minute(org):
    client = signed_in(org.tenant, org.player.email)
    token = ApiToken.objects.get(user=org.player)
    assert token.last_used_at is None

    def updates() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/auth/me").status_code == 200
        return sum('UPDATE "accounts_apitoken"' in q["sql"] for q in queries.captured_queries)

    assert updates() == 1
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    assert updates() == 0
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(seconds=61))
    assert updates() == 1
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first
