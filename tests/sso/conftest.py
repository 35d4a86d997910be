"""Signing keys the tests generate, and a signer that plays the tournament platform."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from apps.accounts.models import IdentityProvider, Role
from apps.tenancy.models import Tenant
from tests.conftest import host_of

ISSUER = "https://quiz-platform.test"


def public_pem(private_key: Any) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class Platform:
    """One identity provider's signing side: `config` is what the tenant registers."""

    algorithm: str
    signing_key: Any
    config: dict[str, Any]
    issuer: str = ISSUER
    subjects: dict[str, str] = field(default_factory=dict)

    def claims(self, tenant: Tenant, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": host_of(tenant),
            "sub": "platform-user-1",
            "email": "quizzer@platform-users.test",
            "name": "Quiz Zer",
            "role": "PARTICIPANT",
            "iat": now,
            "exp": now + 120,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, tenant: Tenant, **overrides: Any) -> str:
        return jwt.encode(self.claims(tenant, **overrides), self.signing_key, self.algorithm)


def _rsa() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _platform(algorithm: str) -> Platform:
    if algorithm == "HS256":
        secret = "s3cret-" + uuid.uuid4().hex  # 39 bytes
        return Platform("HS256", secret, {"algorithm": "HS256", "secret": secret})
    key = _rsa() if algorithm == "RS256" else ec.generate_private_key(ec.SECP256R1())
    return Platform(algorithm, key, {"algorithm": algorithm, "publicKey": public_pem(key)})


@pytest.fixture(scope="session")
def platforms() -> dict[str, Platform]:
    """One platform per algorithm, and a second set (`other-…`) with other keys."""
    made = {alg: _platform(alg) for alg in ("HS256", "RS256", "ES256")}
    made.update({f"other-{alg}": _platform(alg) for alg in ("HS256", "RS256", "ES256")})
    return made


@pytest.fixture(params=["HS256", "RS256", "ES256"])
def platform(request: pytest.FixtureRequest, platforms: dict[str, Platform]) -> Platform:
    return platforms[request.param]


Register = Callable[..., IdentityProvider]


@pytest.fixture
def register() -> Register:
    """register(tenant, platform, allowed_roles=..., enabled=True): the tenant trusts it."""

    def make(
        tenant: Tenant,
        platform: Platform,
        allowed_roles: tuple[str, ...] = (Role.PARTICIPANT, Role.MANAGEMENT_TEAM),
        enabled: bool = True,
    ) -> IdentityProvider:
        return IdentityProvider.objects.create(
            tenant=tenant,
            issuer=platform.issuer,
            algorithm=platform.algorithm,
            secret=platform.config.get("secret", ""),
            public_key=platform.config.get("publicKey", ""),
            allowed_roles=list(allowed_roles),
            enabled=enabled,
        )

    return make
