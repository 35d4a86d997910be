"""What an identity provider's key must be for its algorithm."""

from __future__ import annotations

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from apps.accounts.models import SsoAlgorithm
from apps.core.exceptions import InvalidInput

MIN_SECRET_BYTES = 32
MIN_RSA_BITS = 2048


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput("Invalid identity provider key.", fields={field: [message]})


def secret_checked(secret: str) -> str:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise _invalid("secret", f"An HS256 secret has at least {MIN_SECRET_BYTES} bytes.")
    return secret


def _fits(algorithm: str, key: object) -> bool:
    if algorithm == SsoAlgorithm.RS256:
        return isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS
    return isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)


def public_key_checked(algorithm: str, pem: str) -> str:
    """A PEM public key that parses and suits `algorithm` (RS256: RSA of at least 2048
    bits; ES256: EC on P-256), normalised to end in one newline."""
    try:
        key = load_pem_public_key(pem.strip().encode() + b"\n")
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _invalid("publicKey", "Not a PEM public key.") from exc
    if not _fits(algorithm, key):
        wanted = f"RSA of at least {MIN_RSA_BITS} bits" if algorithm == "RS256" else "EC P-256"
        raise _invalid("publicKey", f"{algorithm} needs an {wanted} public key.")
    return pem.strip() + "\n"
