from __future__ import annotations

from rest_framework import serializers

from apps.accounts.models import Role, User


class UserOutput(serializers.ModelSerializer):
    displayName = serializers.CharField(source="display_name")
    isSuperAdmin = serializers.BooleanField(source="is_super_admin")

    class Meta:
        model = User
        fields = ["id", "email", "displayName", "isSuperAdmin"]


class LoginInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=256, trim_whitespace=False)


class LoginOutput(serializers.Serializer):
    token = serializers.CharField()
    expiresAt = serializers.DateTimeField()
    user = UserOutput()
    role = serializers.ChoiceField(choices=Role.choices, allow_null=True)


class TenantOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    isPublic = serializers.BooleanField(source="is_public")


class MeOutput(serializers.Serializer):
    user = UserOutput()
    tenant = TenantOutput()
    role = serializers.ChoiceField(
        choices=Role.choices,
        allow_null=True,
        help_text="The caller's role in the host's tenant; null for a super admin without one.",
    )


class WsTicketOutput(serializers.Serializer):
    ticket = serializers.CharField(help_text="Connect with /ws/chat/?ticket=<ticket>, once.")
    expiresAt = serializers.DateTimeField()
