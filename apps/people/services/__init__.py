"""Writes about people: invitations (`invitations`) and a person's own account
(`account`: password change and reset, sessions)."""

from apps.people.services.account import (
    ResetRefused,
    password_change,
    password_reset_confirm,
    password_reset_request,
    password_setup_send,
    reset_for_token,
    session_revoke,
)
from apps.people.services.invitations import (
    Accepted,
    InvitationRefused,
    Sent,
    invitation_accept,
    invitation_create,
    invitation_for_token,
    invitation_revoke,
    password_check,
)

__all__ = [
    "Accepted",
    "InvitationRefused",
    "ResetRefused",
    "Sent",
    "invitation_accept",
    "invitation_create",
    "invitation_for_token",
    "invitation_revoke",
    "password_change",
    "password_check",
    "password_reset_confirm",
    "password_reset_request",
    "password_setup_send",
    "reset_for_token",
    "session_revoke",
]
