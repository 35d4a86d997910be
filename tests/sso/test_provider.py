"""The identity provider settings: tenant admins on their host, super admins in the
console. The secret is write-only; keys are checked; refusals change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from apps.accounts.models import IdentityProvider, Role
from apps.records.models import AuditEntry
from tests.sso.conftest import ISSUER, Platform, public_pem

PATH = "/api/auth/sso/provider"


def body(platform: Platform, **overrides: Any) -> dict[str, Any]:
    data = {"issuer": ISSUER, "allowedRoles": ["PARTICIPANT"], **platform.config, **overrides}
    return {k: v for k, v in data.items() if v is not None}


def stored() -> list[tuple[Any, ...]]:
    rows = IdentityProvider.objects.order_by("tenant_id").values_list(
        "tenant_id", "issuer", "algorithm", "secret", "public_key", "allowed_roles", "enabled"
    )
    return [*rows, AuditEntry.objects.count()]


def test_tenant_admin_configures_reads_and_removes_the_provider(
    client_for, org, platform: Platform
):
    admin = client_for(org.tenant, org.admin)
    assert admin.get(PATH).json()["error"]["code"] == "sso_not_configured"
    response = admin.put(
        PATH, body(platform, allowedRoles=["PARTICIPANT", "TENANT_ADMIN"]), format="json"
    )
    assert response.status_code == 200, response.json()
    shown = admin.get(PATH).json()
    assert shown["algorithm"] == platform.algorithm
    assert shown["allowedRoles"] == ["PARTICIPANT", "TENANT_ADMIN"]
    assert shown["enabled"] is True
    assert "secret" not in shown and "secret" not in response.json()
    assert shown["hasSecret"] is (platform.algorithm == "HS256")
    assert shown["publicKey"] == platform.config.get("publicKey", "")
    entry = AuditEntry.objects.get(action="sso.provider_saved", tenant=org.tenant)
    assert entry.actor == org.admin and entry.details["created"] is True
    assert "secret" not in entry.details
    if "secret" in platform.config:
        assert platform.config["secret"] not in str(entry.details)
    assert admin.delete(PATH).status_code == 204
    assert admin.get(PATH).status_code == 404
    assert AuditEntry.objects.filter(action="sso.provider_deleted", tenant=org.tenant).exists()
    assert admin.delete(PATH).status_code == 404


def test_a_configured_provider_signs_people_in(client_for, org, platforms):
    platform = platforms["ES256"]
    client_for(org.tenant, org.admin).put(PATH, body(platform), format="json")
    response = client_for(org.tenant).post(
        "/api/auth/sso", {"assertion": platform.sign(org.tenant)}, format="json"
    )
    assert response.status_code == 200 and response.json()["role"] == "PARTICIPANT"


def test_a_put_without_the_key_keeps_it_while_the_algorithm_stays(client_for, org, platforms):
    admin = client_for(org.tenant, org.admin)
    hs = platforms["HS256"]
    admin.put(PATH, body(hs), format="json")
    response = admin.put(PATH, body(hs, secret=None, enabled=False), format="json")
    assert response.status_code == 200 and response.json()["enabled"] is False
    assert IdentityProvider.objects.get(tenant=org.tenant).secret == hs.config["secret"]
    before = stored()
    switched = admin.put(PATH, body(hs, secret=None, algorithm="RS256"), format="json")
    assert switched.status_code == 400 and "publicKey" in switched.json()["error"]["fields"]
    assert stored() == before
    rs = platforms["RS256"]
    assert admin.put(PATH, body(rs), format="json").status_code == 200
    provider = IdentityProvider.objects.get(tenant=org.tenant)
    assert (provider.secret, provider.algorithm) == ("", "RS256")


def _rsa_1024_pem() -> str:
    return public_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))


BAD_BODIES = {
    "short secret": ({"secret": "x" * 31}, "secret"),
    "secret with a public key alg": ({"algorithm": "RS256", "publicKey": None}, "secret"),
    "alg none": ({"algorithm": "none"}, "algorithm"),
    "alg HS512": ({"algorithm": "HS512"}, "algorithm"),
    "super admin role": ({"allowedRoles": ["SUPER_ADMIN"]}, "allowedRoles.0"),
    "no roles": ({"allowedRoles": []}, "allowedRoles"),
    "no issuer": ({"issuer": None}, "issuer"),
    "blank issuer": ({"issuer": "  "}, "issuer"),
    "public key for HS256": ({"publicKey": "-----BEGIN PUBLIC KEY-----"}, "publicKey"),
    "secret not a string": ({"secret": ["x" * 40]}, "secret"),
}


@pytest.mark.parametrize("case", BAD_BODIES)
def test_bad_hs256_settings_change_nothing(client_for, org, platforms, case):
    admin = client_for(org.tenant, org.admin)
    admin.put(PATH, body(platforms["HS256"]), format="json")
    before = stored()
    overrides, field = BAD_BODIES[case]
    response = admin.put(PATH, body(platforms["HS256"], **overrides), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert stored() == before


BAD_KEYS = {
    "garbage": ("RS256", "not a key"),
    "truncated": ("RS256", "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"),
    "EC key for RS256": ("RS256", "ES256"),
    "RSA key for ES256": ("ES256", "RS256"),
    "RSA 1024": ("RS256", "rsa1024"),
    "private key": ("RS256", "private"),
    "no key": ("ES256", None),
}


@pytest.mark.parametrize("case", BAD_KEYS)
def test_bad_public_keys_change_nothing(client_for, org, platforms, case):
    from cryptography.hazmat.primitives import serialization

    algorithm, key = BAD_KEYS[case]
    pem = {
        "ES256": platforms["ES256"].config["publicKey"],
        "RS256": platforms["RS256"].config["publicKey"],
        "rsa1024": _rsa_1024_pem(),
        "private": platforms["RS256"]
        .signing_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode(),
    }.get(key or "", key)
    before = stored()
    response = client_for(org.tenant, org.admin).put(
        PATH,
        {
            "issuer": ISSUER,
            "algorithm": algorithm,
            "publicKey": pem,
            "allowedRoles": ["PARTICIPANT"],
        },
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert "publicKey" in response.json()["error"]["fields"]
    assert stored() == before


@pytest.mark.parametrize("who", ["team", "player"])
def test_only_tenant_admins_manage_it(client_for, org, platforms, who):
    client_for(org.tenant, org.admin).put(PATH, body(platforms["HS256"]), format="json")
    before = stored()
    client = client_for(org.tenant, getattr(org, who))
    for response in (
        client.get(PATH),
        client.put(PATH, body(platforms["RS256"]), format="json"),
        client.delete(PATH),
    ):
        assert (
            response.status_code == 403 and response.json()["error"]["code"] == "tenant_admin_only"
        )
    assert client_for(org.tenant).get(PATH).status_code == 401
    assert stored() == before


def test_acmes_provider_is_invisible_and_unchangeable_from_globex(
    client_for, org, other_org, platforms
):
    client_for(org.tenant, org.admin).put(PATH, body(platforms["HS256"]), format="json")
    before = stored()
    globex_admin_home = client_for(other_org.tenant, other_org.admin)
    assert globex_admin_home.get(PATH).json()["error"]["code"] == "sso_not_configured"
    assert globex_admin_home.delete(PATH).status_code == 404
    globex_admin_on_acme = client_for(org.tenant, other_org.admin)
    for response in (
        globex_admin_on_acme.get(PATH),
        globex_admin_on_acme.put(PATH, body(platforms["RS256"]), format="json"),
        globex_admin_on_acme.delete(PATH),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "not_a_member"
    assert stored() == before
    # globex's own provider is its own
    assert globex_admin_home.put(PATH, body(platforms["RS256"]), format="json").status_code == 200
    providers = dict(IdentityProvider.objects.values_list("tenant__schema_name", "algorithm"))
    assert providers == {"acme": "HS256", "globex": "RS256"}


def test_super_admins_manage_it_in_the_console_only(
    client_for, org, public_tenant, super_admin, platforms
):
    console = client_for(public_tenant, super_admin)
    url = "/api/console/tenants/acme/identity-provider"
    assert console.get(url).status_code == 404
    response = console.put(
        url, body(platforms["ES256"], allowedRoles=["MANAGEMENT_TEAM"]), format="json"
    )
    assert response.status_code == 200, response.json()
    assert client_for(org.tenant, org.admin).get(PATH).json()["algorithm"] == "ES256"
    assert console.get(url).json()["allowedRoles"] == ["MANAGEMENT_TEAM"]
    assert AuditEntry.objects.get(action="sso.provider_saved").actor == super_admin
    before = stored()
    assert (
        console.put(url, body(platforms["ES256"], publicKey="junk"), format="json").status_code
        == 400
    )
    assert console.get("/api/console/tenants/nope/identity-provider").status_code == 404
    assert console.get("/api/console/tenants/public/identity-provider").status_code == 404
    on_public_host = console.get(PATH)
    assert on_public_host.json()["error"]["code"] == "tenant_host_only"
    assert console.put(PATH, body(platforms["HS256"]), format="json").status_code == 403
    admin_on_console = client_for(public_tenant, org.admin)
    assert admin_on_console.put(url, body(platforms["HS256"]), format="json").status_code == 403
    assert stored() == before
    assert console.delete(url).status_code == 204
    assert not IdentityProvider.objects.exists()
    assert org.admin.memberships.get().role == Role.TENANT_ADMIN
