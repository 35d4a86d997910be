"""`POST /api/auth/sso`: a platform's signed assertion becomes a bearer token on the
tenant's host; every refusal has its own code and leaves nothing behind."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.accounts.models import (
    ApiToken,
    Membership,
    MembershipStatus,
    Role,
    SsoAssertionUse,
    SsoIdentity,
    User,
)
from apps.accounts.signals import membership_changed
from apps.records.models import AuditEntry
from apps.tenancy.models import Tenant
from tests.conftest import host_of
from tests.sso.conftest import Platform, Register


def exchange(client_for: Any, tenant: Tenant, assertion: Any) -> Any:
    return client_for(tenant).post("/api/auth/sso", {"assertion": assertion}, format="json")


def state() -> tuple[int, ...]:
    """Everything an exchange may write."""
    return tuple(
        model.objects.count()
        for model in (User, Membership, SsoIdentity, SsoAssertionUse, ApiToken, AuditEntry)
    )


def refused(client_for: Any, tenant: Tenant, assertion: Any, status: int, code: str) -> None:
    before = state()
    response = exchange(client_for, tenant, assertion)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert state() == before, "a refused assertion changed something"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWT signed outside PyJWT (which rightly refuses to make these)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if key else b""
    return f"{signing_input}.{b64(signature)}"


# --- the happy path ----------------------------------------------------------------------


def test_first_exchange_creates_the_account_and_membership_and_signs_in(
    client_for, acme, platform: Platform, register: Register
):
    register(acme, platform)
    response = exchange(client_for, acme, platform.sign(acme, role="MANAGEMENT_TEAM"))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["role"] == "MANAGEMENT_TEAM"
    assert body["user"]["email"] == "quizzer@platform-users.test"
    assert body["user"]["displayName"] == "Quiz Zer"
    user = User.objects.get(email="quizzer@platform-users.test")
    assert not user.has_usable_password()
    assert SsoIdentity.objects.get(tenant=acme, subject="platform-user-1").user == user
    me = client_for(acme).get("/api/auth/me", HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert me.status_code == 200 and me.json()["role"] == "MANAGEMENT_TEAM"
    actions = set(AuditEntry.objects.filter(tenant=acme).values_list("action", flat=True))
    assert {"sso.account_created", "sso.membership_created"} <= actions


def test_second_exchange_reuses_the_account_and_updates_name_and_role(
    client_for, acme, platform: Platform, register: Register, django_capture_on_commit_callbacks
):
    register(acme, platform)
    first = exchange(client_for, acme, platform.sign(acme)).json()
    changed: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        changed.append(kwargs)

    membership_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            second = exchange(
                client_for, acme, platform.sign(acme, name="Quiz Master", role="MANAGEMENT_TEAM")
            )
    finally:
        membership_changed.disconnect(receiver)
    assert second.status_code == 200
    assert second.json()["user"]["id"] == first["user"]["id"]
    assert second.json()["user"]["displayName"] == "Quiz Master"
    assert User.objects.filter(email="quizzer@platform-users.test").count() == 1
    membership = Membership.objects.get(user_id=first["user"]["id"], tenant=acme)
    assert membership.role == Role.MANAGEMENT_TEAM
    entry = AuditEntry.objects.get(action="sso.role_changed")
    assert entry.details == {"previous": "PARTICIPANT", "role": "MANAGEMENT_TEAM"}
    assert changed and changed[0]["user_id"] == first["user"]["id"]


def test_clock_skew_within_the_leeway_is_tolerated(client_for, acme, platforms, register):
    platform = platforms["HS256"]
    register(acme, platform)
    now = int(time.time())
    late = platform.sign(acme, iat=now - 130, exp=now - 10)  # expired 10 s ago
    assert exchange(client_for, acme, late).status_code == 200
    early = platform.sign(acme, iat=now + 10, exp=now + 100, jti="early")  # issued "in 10 s"
    assert exchange(client_for, acme, early).status_code == 200


# --- refusals: 401, a code each, nothing created -----------------------------------------


def test_expired_assertion(client_for, acme, platform: Platform, register: Register):
    register(acme, platform)
    now = int(time.time())
    refused(client_for, acme, platform.sign(acme, iat=now - 200, exp=now - 60), 401, "sso_expired")


def test_not_yet_valid_assertion(client_for, acme, platform: Platform, register: Register):
    register(acme, platform)
    now = int(time.time())
    early = platform.sign(acme, iat=now, nbf=now + 120, exp=now + 240)
    refused(client_for, acme, early, 401, "sso_not_yet_valid")
    issued_later = platform.sign(acme, iat=now + 120, exp=now + 240)
    refused(client_for, acme, issued_later, 401, "sso_not_yet_valid")


def test_too_long_lived_assertion(client_for, acme, platform: Platform, register: Register):
    register(acme, platform)
    now = int(time.time())
    refused(
        client_for, acme, platform.sign(acme, iat=now, exp=now + 301), 401, "sso_lifetime_too_long"
    )
    # iat set back does not stretch it: exp may not be more than 5 minutes from now either
    backdated = platform.sign(acme, iat=now + 3600 - 300, exp=now + 3600)
    assert exchange(client_for, acme, backdated).status_code == 401


def test_replayed_assertion(client_for, acme, platform: Platform, register: Register):
    register(acme, platform)
    assertion = platform.sign(acme)
    assert exchange(client_for, acme, assertion).status_code == 200
    refused(client_for, acme, assertion, 401, "sso_replayed")
    assert ApiToken.objects.count() == 1


def test_wrong_audience(client_for, acme, globex, platform: Platform, register: Register):
    register(acme, platform)
    register(globex, platform)  # the same platform serves both tenants
    for_globex = platform.sign(acme, aud=host_of(globex))
    refused(client_for, acme, for_globex, 401, "sso_wrong_audience")
    for_both = platform.sign(acme, aud=[host_of(acme), host_of(globex)])
    refused(client_for, acme, for_both, 401, "sso_wrong_audience")
    with_port = platform.sign(acme, aud=f"{host_of(acme)}:8000")
    refused(client_for, acme, with_port, 401, "sso_wrong_audience")
    assert exchange(client_for, globex, for_globex).status_code == 200


def test_wrong_issuer(client_for, acme, platform: Platform, register: Register):
    register(acme, platform)
    refused(client_for, acme, platform.sign(acme, iss="https://evil.test"), 401, "sso_wrong_issuer")


@pytest.mark.parametrize("algorithm", ["HS256", "RS256", "ES256"])
def test_another_tenants_key(client_for, acme, globex, platforms, register, algorithm):
    register(acme, platforms[algorithm])
    register(globex, platforms[f"other-{algorithm}"])
    globex_signed = platforms[f"other-{algorithm}"].sign(acme)  # claims aimed at acme
    refused(client_for, acme, globex_signed, 401, "sso_bad_signature")
    meant_for_globex = platforms[f"other-{algorithm}"].sign(globex)
    refused(client_for, acme, meant_for_globex, 401, "sso_bad_signature")


def test_tampered_payload(client_for, acme, platform: Platform, register: Register):
    register(acme, platform)
    header, _, signature = platform.sign(acme).split(".")
    forged = b64(json.dumps(platform.claims(acme, role="MANAGEMENT_TEAM")).encode())
    refused(client_for, acme, f"{header}.{forged}.{signature}", 401, "sso_bad_signature")


def test_alg_none(client_for, acme, platform: Platform, register: Register):
    register(acme, platform)
    unsigned = handmade({"alg": "none", "typ": "JWT"}, platform.claims(acme), None)
    refused(client_for, acme, unsigned, 401, "sso_bad_algorithm")


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_hmac_token_keyed_with_the_public_key(client_for, acme, platforms, register, algorithm):
    """Algorithm confusion: the public key (which anyone may know) as an HMAC secret."""
    platform = platforms[algorithm]
    register(acme, platform)
    pem = platform.config["publicKey"].encode()
    forged = handmade({"alg": "HS256", "typ": "JWT"}, platform.claims(acme), pem)
    refused(client_for, acme, forged, 401, "sso_bad_algorithm")


def test_another_asymmetric_algorithm(client_for, acme, platforms, register):
    register(acme, platforms["RS256"])
    refused(client_for, acme, platforms["ES256"].sign(acme), 401, "sso_bad_algorithm")


@pytest.mark.parametrize(
    "claim", ["iss", "aud", "sub", "exp", "iat", "jti", "email", "name", "role"]
)
def test_missing_claim(client_for, acme, platforms, register, claim):
    platform = platforms["HS256"]
    register(acme, platform)
    refused(client_for, acme, platform.sign(acme, **{claim: None}), 401, "sso_missing_claim")


@pytest.mark.parametrize(
    "overrides",
    [{"email": "not-an-email"}, {"name": "   "}, {"sub": 42}, {"name": "x" * 151}],
)
def test_invalid_claim(client_for, acme, platforms, register, overrides):
    platform = platforms["HS256"]
    register(acme, platform)
    refused(client_for, acme, platform.sign(acme, **overrides), 401, "sso_invalid_claim")


@pytest.mark.parametrize("assertion", ["not-a-jwt", "a.b.c", ""])
def test_malformed(client_for, acme, platforms, register, assertion):
    register(acme, platforms["HS256"])
    if assertion:
        refused(client_for, acme, assertion, 401, "sso_malformed")
    else:
        refused(client_for, acme, assertion, 400, "validation_error")


def test_no_provider_or_disabled(client_for, acme, public_tenant, platforms, register):
    platform = platforms["HS256"]
    refused(client_for, acme, platform.sign(acme), 401, "sso_not_configured")
    register(acme, platform, enabled=False)
    refused(client_for, acme, platform.sign(acme), 401, "sso_not_configured")
    refused(client_for, public_tenant, platform.sign(public_tenant), 401, "sso_not_configured")


# --- what a tenant's provider may not do -------------------------------------------------


@pytest.mark.parametrize("role", ["SUPER_ADMIN", "TENANT_ADMIN", "superuser", "participant"])
def test_role_escalation_is_refused(client_for, acme, platform: Platform, register, role):
    register(acme, platform, allowed_roles=("PARTICIPANT",))
    refused(client_for, acme, platform.sign(acme, role=role), 403, "sso_role_not_allowed")
    assert not User.objects.filter(is_super_admin=True).exists()


def test_role_escalation_of_a_linked_account_keeps_its_role(client_for, acme, platforms, register):
    platform = platforms["RS256"]
    register(acme, platform, allowed_roles=("PARTICIPANT",))
    user_id = exchange(client_for, acme, platform.sign(acme)).json()["user"]["id"]
    refused(client_for, acme, platform.sign(acme, role="TENANT_ADMIN"), 403, "sso_role_not_allowed")
    assert Membership.objects.get(user_id=user_id, tenant=acme).role == Role.PARTICIPANT


def test_an_existing_account_is_never_taken_over_by_email(
    client_for, acme, platforms, register, make_user, super_admin
):
    platform = platforms["HS256"]
    register(acme, platform)
    member = make_user(acme, Role.PARTICIPANT, email="member@acme.test")
    for email in (member.email, "MEMBER@acme.test", super_admin.email):
        refused(client_for, acme, platform.sign(acme, email=email), 409, "sso_email_taken")
    assert not SsoIdentity.objects.exists()


def test_a_linked_account_follows_the_platforms_email(client_for, acme, platforms, register):
    platform = platforms["HS256"]
    register(acme, platform)
    user_id = exchange(client_for, acme, platform.sign(acme)).json()["user"]["id"]
    moved = exchange(client_for, acme, platform.sign(acme, email="Quizzer@New-Home.test"))
    assert moved.json()["user"] == {
        "id": user_id,
        "email": "quizzer@new-home.test",
        "displayName": "Quiz Zer",
        "isSuperAdmin": False,
    }


def test_a_linked_account_may_not_take_an_email_in_use(
    client_for, acme, platforms, register, make_user
):
    platform = platforms["HS256"]
    register(acme, platform)
    exchange(client_for, acme, platform.sign(acme))
    other = make_user(acme, email="someone@acme.test")
    refused(client_for, acme, platform.sign(acme, email=other.email), 409, "sso_email_taken")


def test_a_linked_account_that_is_also_a_member_elsewhere_is_refused(
    client_for, acme, globex, platforms, register
):
    platform = platforms["HS256"]
    register(acme, platform)
    user_id = exchange(client_for, acme, platform.sign(acme)).json()["user"]["id"]
    Membership.objects.create(user_id=user_id, tenant=globex, role=Role.TENANT_ADMIN)
    refused(client_for, acme, platform.sign(acme), 403, "sso_account_shared")
    User.objects.filter(pk=user_id).update(is_super_admin=True)
    Membership.objects.filter(tenant=globex).delete()
    refused(client_for, acme, platform.sign(acme), 403, "sso_account_shared")


def test_suspended_membership_and_deactivated_account(client_for, acme, platforms, register):
    platform = platforms["ES256"]
    register(acme, platform)
    user_id = exchange(client_for, acme, platform.sign(acme)).json()["user"]["id"]
    Membership.objects.filter(user_id=user_id).update(status=MembershipStatus.SUSPENDED)
    refused(client_for, acme, platform.sign(acme), 403, "membership_suspended")
    Membership.objects.filter(user_id=user_id).update(status=MembershipStatus.ACTIVE)
    User.objects.filter(pk=user_id).update(is_active=False)
    refused(client_for, acme, platform.sign(acme), 403, "account_deactivated")


def test_a_platform_user_is_one_account_per_tenant_link(
    client_for, acme, globex, platforms, register
):
    """The same `sub` at two tenants is two links; the second tenant cannot reach the
    first one's account through its email."""
    platform = platforms["HS256"]
    register(acme, platform)
    register(globex, platform)
    assert exchange(client_for, acme, platform.sign(acme)).status_code == 200
    refused(client_for, globex, platform.sign(globex), 409, "sso_email_taken")
    assert (
        exchange(client_for, globex, platform.sign(globex, email="q@globex.test")).status_code
        == 200
    )
    assert SsoIdentity.objects.filter(subject="platform-user-1").count() == 2


# --- housekeeping and abuse --------------------------------------------------------------


def test_expired_jtis_are_forgotten(client_for, acme, globex, platforms, register):
    platform = platforms["HS256"]
    register(acme, platform)
    old = timezone.now() - timedelta(minutes=5)
    SsoAssertionUse.objects.create(tenant=globex, jti="old", expires_at=old)
    SsoAssertionUse.objects.create(tenant=acme, jti="recent", expires_at=timezone.now())
    assert exchange(client_for, acme, platform.sign(acme)).status_code == 200
    assert set(SsoAssertionUse.objects.values_list("jti", flat=True)) >= {"recent"}
    assert not SsoAssertionUse.objects.filter(jti="old").exists()


# The suite's Redis is shared by parallel runs, each of which flushes it between tests;
# a cache of this test's own keeps the count its own.
@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
def test_exchanges_are_rate_limited_per_address(client_for, acme, platforms, register):
    register(acme, platforms["HS256"])
    client = client_for(acme)
    statuses = [
        client.post("/api/auth/sso", {"assertion": "x.y.z"}, format="json").status_code
        for _ in range(61)
    ]
    assert statuses[0] == 401 and statuses[-1] == 429
    response = client.post("/api/auth/sso", {"assertion": "x.y.z"}, format="json")
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0
    other = client_for(acme)
    other.defaults["REMOTE_ADDR"] = "203.0.113.7"
    assert other.post("/api/auth/sso", {"assertion": "x.y.z"}, format="json").status_code == 401
