"""Invitations, password resets and token exchanges are rate limited per user or client
address and per email address, with 429 and Retry-After; nothing is sent past a limit."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.throttling import SimpleRateThrottle

from apps.accounts.models import Invitation, PasswordReset


@pytest.fixture
def rates(monkeypatch: pytest.MonkeyPatch) -> Any:
    def set_rate(scope: str, rate: str) -> None:
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, rate)

    return set_rate


def refused(response: Any) -> None:
    assert response.status_code == 429, response.content
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


def invite(client: Any, email: str) -> Any:
    return client.post("/api/invitations", {"email": email, "role": "PARTICIPANT"}, format="json")


def test_invitations_per_address(org, client_for, rates, committed):
    rates("invite_address", "2/hour")
    admin, team = client_for(org.tenant, org.admin), client_for(org.tenant, org.team)
    assert invite(admin, "a@example.test").status_code == 201
    assert invite(team, "A@example.test ").status_code == 200

    refused(invite(admin, "a@example.test"))

    assert len(committed.outbox()) == 2
    assert invite(admin, "b@example.test").status_code == 201  # another address


def test_invitations_per_user(org, client_for, rates):
    rates("invite", "3/hour")
    admin = client_for(org.tenant, org.admin)
    for n in range(3):
        assert invite(admin, f"p{n}@example.test").status_code == 201
    refused(invite(admin, "p9@example.test"))
    assert not Invitation.objects.filter(email="p9@example.test").exists()
    assert invite(client_for(org.tenant, org.team), "p9@example.test").status_code == 201
    assert admin.get("/api/invitations").status_code == 200  # listing is not counted


def test_password_resets_per_address_and_per_client(org, client_for, rates, committed):
    rates("password_reset_address", "2/hour")
    rates("password_reset", "4/hour")
    client = client_for(org.tenant)

    def reset(email: str) -> Any:
        return client.post("/api/auth/password-reset", {"email": email}, format="json")

    assert [reset(org.player.email).status_code for _ in range(2)] == [202, 202]
    refused(reset(org.player.email.upper()))
    assert reset("nobody@example.test").status_code == 202  # the client's 4th
    refused(reset("someone@example.test"))  # the client's 5th
    assert PasswordReset.objects.count() == 2
    assert len(committed.outbox()) == 2


def test_token_exchanges_per_client(org, client_for, rates):
    rates("token_exchange", "3/min")
    client = client_for(org.tenant)
    for _ in range(2):
        response = client.post("/api/invitations/accept", {"token": "guess"}, format="json")
        assert response.json()["error"]["code"] == "invitation_invalid"
    reset = client.post(
        "/api/auth/password-reset/confirm", {"token": "guess", "newPassword": "x"}, format="json"
    )
    assert reset.json()["error"]["code"] == "reset_invalid"
    refused(client.post("/api/invitations/accept", {"token": "guess"}, format="json"))
    refused(client.get("/api/auth/password-reset/confirm?token=guess"))


def test_password_changes_per_user(org, client_for, rates):
    rates("password_change", "2/hour")
    client = client_for(org.tenant, org.player)
    body = {"currentPassword": "wrong-guess-1", "newPassword": "plum-orchard-7391"}
    for _ in range(2):
        assert client.post("/api/auth/password", body, format="json").status_code == 400
    refused(client.post("/api/auth/password", body, format="json"))
