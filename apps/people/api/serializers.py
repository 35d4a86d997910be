"""The people endpoints' REST shapes (camelCase)."""

from __future__ import annotations

from rest_framework import serializers

from apps.accounts.api.serializers import TenantOutput
from apps.accounts.models import Role
from apps.core.fields import StrictCharField


def token_field() -> StrictCharField:
    return StrictCharField(max_length=200, help_text="The token of the mailed link.")


class InviterOutput(serializers.Serializer):
    id = serializers.IntegerField()
    displayName = serializers.CharField(source="display_name")


class InvitationCreateInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices)
    displayName = StrictCharField(max_length=150, required=False, allow_blank=True)


class InvitationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    displayName = serializers.CharField(source="display_name")
    invitedBy = InviterOutput(source="invited_by", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    expiresAt = serializers.DateTimeField(source="expires_at")


class InvitationListOutput(serializers.Serializer):
    invitations = InvitationOutput(many=True)


class TokenQueryInput(serializers.Serializer):
    token = token_field()


class InvitationPreviewOutput(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    displayName = serializers.CharField(source="display_name")
    tenant = TenantOutput()
    expiresAt = serializers.DateTimeField(source="expires_at")
    existingAccount = serializers.BooleanField(
        source="existing_account",
        help_text="True: accept with the account's password; false: choose a password.",
    )


class InvitationAcceptInput(serializers.Serializer):
    token = token_field()
    password = StrictCharField(
        max_length=256,
        trim_whitespace=False,
        required=False,
        default="",
        help_text="A new account's password, or an existing account's own password.",
    )
    displayName = StrictCharField(
        max_length=150,
        required=False,
        default="",
        help_text="A new account's name (default: the one the invitation gave).",
    )


class PasswordChangeInput(serializers.Serializer):
    currentPassword = StrictCharField(max_length=256, trim_whitespace=False)
    newPassword = StrictCharField(max_length=256, trim_whitespace=False)


class PasswordResetInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetAcceptedOutput(serializers.Serializer):
    detail = serializers.CharField()


class PasswordResetPreviewOutput(serializers.Serializer):
    email = serializers.EmailField(source="user.email")
    expiresAt = serializers.DateTimeField(source="expires_at")


class PasswordResetConfirmInput(serializers.Serializer):
    token = token_field()
    newPassword = StrictCharField(max_length=256, trim_whitespace=False)


class SessionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    createdAt = serializers.DateTimeField(source="created_at")
    lastUsedAt = serializers.DateTimeField(
        source="last_used_at",
        allow_null=True,
        help_text="Written at most once a minute.",
    )
    expiresAt = serializers.DateTimeField(source="expires_at")
    userAgent = serializers.CharField(source="user_agent")
    current = serializers.SerializerMethodField(help_text="The token of this request.")

    def get_current(self, token: object) -> bool:
        return getattr(token, "pk", None) == self.context.get("current_id")


class SessionListOutput(serializers.Serializer):
    sessions = SessionOutput(many=True)
