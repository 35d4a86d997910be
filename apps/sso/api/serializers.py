from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.accounts.models import Role, SsoAlgorithm
from apps.sso.services import ProviderSettings


class ProviderInput(serializers.Serializer):
    issuer = serializers.CharField(max_length=255, help_text="The `iss` every assertion carries.")
    algorithm = serializers.ChoiceField(choices=SsoAlgorithm.choices)
    secret = serializers.CharField(
        required=False,
        max_length=1024,
        trim_whitespace=False,
        help_text="HS256: the shared secret, at least 32 bytes. Write-only; left out, the "
        "stored one is kept while the algorithm stays HS256.",
    )
    publicKey = serializers.CharField(
        required=False,
        max_length=16384,
        help_text="RS256 (RSA, 2048 bits or more) or ES256 (P-256): the PEM public key. "
        "Left out, the stored one is kept while the algorithm stays the same.",
    )
    allowedRoles = serializers.ListField(
        child=serializers.ChoiceField(choices=Role.choices),
        min_length=1,
        max_length=len(Role.choices),
        help_text="The membership roles an assertion's `role` claim may grant.",
    )
    enabled = serializers.BooleanField(default=True)

    def provider_settings(self) -> ProviderSettings:
        data: dict[str, Any] = self.validated_data
        return ProviderSettings(
            issuer=data["issuer"],
            algorithm=data["algorithm"],
            allowed_roles=[str(role) for role in data["allowedRoles"]],
            enabled=data["enabled"],
            secret=data.get("secret"),
            public_key=data.get("publicKey"),
        )


class ProviderOutput(serializers.Serializer):
    issuer = serializers.CharField()
    algorithm = serializers.ChoiceField(choices=SsoAlgorithm.choices)
    publicKey = serializers.CharField(source="public_key", help_text="Blank for HS256.")
    hasSecret = serializers.SerializerMethodField(help_text="The secret itself is never shown.")
    allowedRoles = serializers.ListField(
        source="allowed_roles", child=serializers.ChoiceField(choices=Role.choices)
    )
    enabled = serializers.BooleanField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    def get_hasSecret(self, provider: Any) -> bool:
        return bool(provider.secret)


class SsoExchangeInput(serializers.Serializer):
    assertion = serializers.CharField(
        max_length=8192, help_text="The JWT the tenant's identity provider signed."
    )
