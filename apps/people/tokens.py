"""Single-use tokens mailed to people (invitations, password resets). Only their SHA-256
is stored, as for bearer tokens."""

from __future__ import annotations

import secrets

from apps.accounts.selectors import token_hash


def token_new() -> tuple[str, str]:
    """A fresh secret and the digest to store."""
    raw = secrets.token_urlsafe(32)
    return raw, token_hash(raw)


def email_normalise(email: str) -> str:
    return email.strip().lower()
