"""Reading a sign-in assertion from a tenant's identity provider: a JWT checked with
PyJWT against the provider's one algorithm and key. Each way an assertion can be wrong
has its own error code; nothing here touches the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from apps.accounts.models import IdentityProvider
from apps.core.exceptions import ApplicationError

# Clock skew tolerated between the platform and us, on `exp`, `nbf` and `iat`.
LEEWAY_SECONDS = 30
# An assertion may live at most this long (`exp` - `iat`, and `exp` - now).
MAX_LIFETIME_SECONDS = 300
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "jti", "email", "name", "role"]


class AssertionRefused(ApplicationError):
    status = 401
    code = "sso_invalid"


# PyJWT's errors, most specific first (a bad signature is also a decode error).
_REFUSALS: list[tuple[type[Exception], str, str]] = [
    (jwt.InvalidSignatureError, "sso_bad_signature", "The assertion's signature is not valid."),
    (jwt.ExpiredSignatureError, "sso_expired", "The assertion has expired."),
    (jwt.ImmatureSignatureError, "sso_not_yet_valid", "The assertion is not valid yet."),
    (jwt.InvalidAudienceError, "sso_wrong_audience", "The assertion is meant for another host."),
    (jwt.InvalidIssuerError, "sso_wrong_issuer", "The assertion comes from another issuer."),
    (jwt.MissingRequiredClaimError, "sso_missing_claim", "The assertion lacks a claim."),
    (jwt.InvalidAlgorithmError, "sso_bad_algorithm", "The assertion's algorithm is refused."),
    (jwt.DecodeError, "sso_malformed", "The assertion is not a well-formed JWT."),
    (jwt.InvalidTokenError, "sso_invalid_claim", "The assertion has an invalid claim."),
]


@dataclass(frozen=True)
class Claims:
    subject: str
    email: str
    name: str
    role: str
    jti: str
    expires_at: datetime


def _refusal(exc: jwt.InvalidTokenError) -> AssertionRefused:
    for kind, code, message in _REFUSALS:
        if isinstance(exc, kind):
            detail = f" ({exc})" if kind is jwt.MissingRequiredClaimError else ""
            return AssertionRefused(message + detail, code=code)
    return AssertionRefused("The assertion is not valid.")  # pragma: no cover


def _key(provider: IdentityProvider) -> str:
    return provider.secret if provider.algorithm == "HS256" else provider.public_key


def _algorithm_pinned(token: str, provider: IdentityProvider) -> None:
    """Refuses any algorithm but the provider's own before a key is used: `none`, and an
    HMAC token meant to be checked with a public key as its secret."""
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.InvalidTokenError as exc:
        raise _refusal(exc) from exc
    if algorithm != provider.algorithm:
        raise AssertionRefused(
            f"This identity provider signs with {provider.algorithm}.", code="sso_bad_algorithm"
        )


def _decoded(token: str, provider: IdentityProvider, audience: str) -> dict[str, Any]:
    try:
        return jwt.decode(
            token,
            _key(provider),
            algorithms=[provider.algorithm],
            audience=audience,
            issuer=provider.issuer,
            leeway=LEEWAY_SECONDS,
            # strict_aud: `aud` is our host name itself, not a list that merely holds it
            options={"require": REQUIRED_CLAIMS, "verify_signature": True, "strict_aud": True},
        )
    except jwt.InvalidTokenError as exc:
        raise _refusal(exc) from exc


def _text(payload: dict[str, Any], claim: str, max_length: int) -> str:
    value = payload[claim]
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise AssertionRefused(
            f"The `{claim}` claim must be a non-blank string of at most {max_length} characters.",
            code="sso_invalid_claim",
        )
    return value.strip()


def _email(payload: dict[str, Any]) -> str:
    email = _text(payload, "email", 254).lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise AssertionRefused(
            "The `email` claim is not an email address.", code="sso_invalid_claim"
        ) from exc
    return email


def _lifetime_checked(payload: dict[str, Any]) -> datetime:
    exp, iat = payload["exp"], payload["iat"]  # numbers, iat not ahead: PyJWT checked them
    now = timezone.now().timestamp()
    if exp - iat > MAX_LIFETIME_SECONDS or exp > now + MAX_LIFETIME_SECONDS + LEEWAY_SECONDS:
        raise AssertionRefused(
            f"An assertion may be valid for at most {MAX_LIFETIME_SECONDS} seconds.",
            code="sso_lifetime_too_long",
        )
    return datetime.fromtimestamp(exp, tz=UTC)


def assertion_read(token: str, *, provider: IdentityProvider, audience: str) -> Claims:
    """The claims of an assertion signed by `provider` for `audience` (the host), or
    `AssertionRefused` with a code that says what is wrong."""
    _algorithm_pinned(token, provider)
    payload = _decoded(token, provider, audience)
    expires_at = _lifetime_checked(payload)
    return Claims(
        subject=_text(payload, "sub", 255),
        email=_email(payload),
        name=_text(payload, "name", 150),
        role=_text(payload, "role", 40),
        jti=_text(payload, "jti", 255),
        expires_at=expires_at,
    )
