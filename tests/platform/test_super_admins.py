"""The console's accounts: super admins listed, invited (created or promoted) and
deactivated; any account deactivated. `createsuperuser` makes a super admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken, User
from apps.records.models import AuditEntry
from tests.conftest import PASSWORD
from tests.people.conftest import follow, links

NEW_PASSWORD = "plum-orchard-7391"


@pytest.fixture
def console(client_for: Any, public_tenant: Any, super_admin: User) -> Any:
    return client_for(public_tenant, super_admin)


def accounts() -> list[tuple[Any, ...]]:
    return sorted(User.objects.values_list("email", "is_super_admin", "is_active", "password"))


def test_list_super_admins(console, super_admin, make_user, org):
    other = make_user(super_admin=True, email="zed@platform.test")
    User.objects.filter(pk=other.pk).update(is_active=False)
    response = console.get("/api/console/super-admins")
    assert response.status_code == 200
    rows = response.json()["superAdmins"]
    assert [(r["email"], r["isActive"]) for r in rows] == [
        (super_admin.email, True),
        ("zed@platform.test", False),
    ]


def test_invite_a_new_super_admin_who_sets_a_password_from_the_mail(
    console, super_admin, committed
):
    response = console.post(
        "/api/console/super-admins",
        {"email": " New.Super@Platform.TEST ", "displayName": "Nova"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["email"] == "new.super@platform.test"
    assert response.json()["isSuperAdmin"] is True
    user = User.objects.get(email="new.super@platform.test")
    assert not user.has_usable_password()
    [message] = committed.outbox()
    assert message.to == ["new.super@platform.test"]
    assert message.subject == "You are a platform super admin"
    text_link, html_link = links(message)
    assert text_link == html_link
    assert text_link.startswith("http://localhost:8000/reset-password?token=")
    assert "expires in 7 days" in message.body

    client, token, opened = follow(text_link)
    assert opened.status_code == 200
    set_password = client.post(
        "/api/auth/password-reset/confirm",
        {"token": token, "newPassword": NEW_PASSWORD},
        format="json",
    )
    assert set_password.status_code == 204
    login = client.post(
        "/api/auth/login", {"email": user.email, "password": NEW_PASSWORD}, format="json"
    )
    assert login.status_code == 200 and login.json()["user"]["isSuperAdmin"] is True
    entry = AuditEntry.objects.get(action="super_admin.invited")
    assert (entry.actor, entry.target_id, entry.tenant) == (super_admin, str(user.pk), None)


def test_inviting_an_existing_account_promotes_it(console, org, committed):
    response = console.post("/api/console/super-admins", {"email": org.player.email}, format="json")
    assert response.status_code == 200
    org.player.refresh_from_db()
    assert org.player.is_super_admin and org.player.check_password(PASSWORD)
    [message] = committed.outbox()
    assert "Sign in there with your account" in message.body
    assert "token=" not in message.body
    assert AuditEntry.objects.filter(action="super_admin.promoted").count() == 1


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("already", 409, "already_super_admin"),
        ("inactive", 409, "account_deactivated"),
        ("bad_email", 400, "validation_error"),
    ],
)
def test_refused_invitations_change_nothing(case, status, code, console, make_user, committed):
    existing = make_user(super_admin=case == "already", email="x@platform.test")
    if case == "inactive":
        User.objects.filter(pk=existing.pk).update(is_active=False)
    email = "not an email" if case == "bad_email" else "X@platform.test"
    before = accounts()

    response = console.post("/api/console/super-admins", {"email": email}, format="json")

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert accounts() == before
    assert committed.outbox() == []


def test_deactivate_a_super_admin(console, make_user, public_tenant, revoked):
    other = make_user(super_admin=True)
    session = APIClient(HTTP_HOST="localhost")
    session.credentials(HTTP_AUTHORIZATION="Bearer " + _token(other))

    response = console.put(f"/api/console/super-admins/{other.pk}/deactivate")

    assert response.status_code == 200, response.json()
    assert response.json()["isActive"] is False
    assert session.get("/api/auth/me").status_code == 401
    assert not ApiToken.objects.filter(user=other).exists()
    assert revoked() == [{"user_id": other.pk, "token_ids": None}]
    login = session.post(
        "/api/auth/login", {"email": other.email, "password": PASSWORD}, format="json"
    )
    assert login.status_code == 401
    entry = AuditEntry.objects.get(action="account.deactivated")
    assert entry.details == {"email": other.email, "superAdmin": True}


def test_deactivate_any_account(console, org, client_for):
    player = client_for(org.tenant, org.player)
    response = console.put(f"/api/console/accounts/{org.player.pk}/deactivate")
    assert response.status_code == 200
    assert player.get("/api/auth/me").status_code == 401


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("self", 409, "cannot_deactivate_self"),
        ("already", 409, "already_deactivated"),
        ("not_super_admin", 404, "account_not_found"),
        ("unknown", 404, "account_not_found"),
    ],
)
def test_refused_deactivations_change_nothing(case, status, code, console, super_admin, org):
    target = {
        "self": super_admin.pk,
        "already": org.player.pk,
        "not_super_admin": org.admin.pk,
        "unknown": 999_999,
    }[case]
    if case == "already":
        User.objects.filter(pk=target).update(is_active=False, is_super_admin=True)
    before = accounts()
    tokens = ApiToken.objects.count()

    response = console.put(f"/api/console/super-admins/{target}/deactivate")

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert accounts() == before
    assert ApiToken.objects.count() == tokens


def test_the_last_active_super_admin_stays(super_admin, public_tenant):
    """The console answers only active super admins, so only a race can reach this: the
    service refuses when the target is the one active super admin left."""
    from apps.accounts.actors import Actor
    from apps.core.exceptions import Conflict
    from apps.platform.super_admins import account_deactivate

    User.objects.filter(is_super_admin=True).exclude(pk=super_admin.pk).update(is_active=False)
    ghost = User.objects.create_user("ghost@platform.test", PASSWORD, display_name="Ghost")
    ghost.is_super_admin = True  # the actor, deactivated by another super admin meanwhile
    actor = Actor(user=ghost, tenant=public_tenant, role=None)

    with pytest.raises(Conflict) as refused:
        account_deactivate(actor=actor, user_id=super_admin.pk, super_admin=True)

    assert refused.value.code == "last_super_admin"
    assert User.objects.get(pk=super_admin.pk).is_active


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/console/super-admins"),
        ("post", "/api/console/super-admins"),
        ("put", "/api/console/super-admins/1/deactivate"),
        ("put", "/api/console/accounts/1/deactivate"),
    ],
)
def test_only_super_admins_on_the_console_host(
    method, path, org, client_for, super_admin, public_tenant
):
    before = accounts()
    on_tenant_host = getattr(client_for(org.tenant, super_admin), method)(path, {}, format="json")
    tenant_admin = getattr(client_for(public_tenant, org.admin), method)(path, {}, format="json")
    anonymous = getattr(client_for(public_tenant), method)(path, {}, format="json")
    assert on_tenant_host.status_code == 403
    assert on_tenant_host.json()["error"]["code"] == "console_only"
    assert tenant_admin.status_code == 403
    assert anonymous.status_code == 401
    assert accounts() == before


def test_createsuperuser_makes_a_super_admin(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", NEW_PASSWORD)
    call_command(
        "createsuperuser",
        interactive=False,
        email="Root@Platform.test",
        display_name="Root",
        verbosity=0,
    )
    user = User.objects.get(email="root@platform.test")
    assert user.is_super_admin and user.is_active
    assert user.check_password(NEW_PASSWORD)
    client = APIClient(HTTP_HOST="localhost")
    login = client.post(
        "/api/auth/login", {"email": user.email, "password": NEW_PASSWORD}, format="json"
    )
    assert login.status_code == 200


def _token(user: User) -> str:
    from apps.accounts.services import token_issue

    return token_issue(user=user)[0]
