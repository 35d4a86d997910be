from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models.functions import Upper


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        """A platform super admin (what `manage.py createsuperuser` creates)."""
        extra["is_super_admin"] = True
        extra.setdefault("display_name", email.split("@")[0])
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)


class User(AbstractBaseUser):
    """One global identity per person (public schema). Tenant roles come from memberships;
    `is_super_admin` is the platform role."""

    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=150)
    is_super_admin = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(auto_now_add=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    class Meta:
        # Sign-in, invitations and provisioning find people by email whatever its case
        # (`email__iexact`, UPPER(email)): without this index each of them reads every
        # account.
        indexes = [models.Index(Upper("email"), name="user_email_upper_idx")]

    def __str__(self) -> str:
        return self.email


class Role(models.TextChoices):
    TENANT_ADMIN = "TENANT_ADMIN"
    MANAGEMENT_TEAM = "MANAGEMENT_TEAM"
    PARTICIPANT = "PARTICIPANT"


# The tenant's support staff.
STAFF_ROLES = (Role.TENANT_ADMIN, Role.MANAGEMENT_TEAM)


class MembershipStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"  # the member cannot use the tenant's host until reactivated


class Membership(models.Model):
    """A user's single role in one tenant."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(
        "tenancy.Tenant", on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    status = models.CharField(
        max_length=10, choices=MembershipStatus.choices, default=MembershipStatus.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_user_tenant_unique")
        ]
        indexes = [models.Index(fields=["tenant", "role"], name="membership_tenant_role_idx")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.tenant_id}:{self.role}"


class ApiToken(models.Model):
    """A bearer credential. Only the SHA-256 of the secret is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="apitoken_expires_idx")]


class Invitation(models.Model):
    """An emailed offer to join a tenant in a role. Only the SHA-256 of the single-use
    token is stored. Pending while neither accepted nor revoked, and not expired."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    display_name = models.CharField(max_length=150, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "email"], name="invitation_tenant_email_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_pending_per_email",
            )
        ]


class PasswordReset(models.Model):
    """A single-use password-reset token (SHA-256 stored)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class SsoAlgorithm(models.TextChoices):
    HS256 = "HS256"
    RS256 = "RS256"
    ES256 = "ES256"


class IdentityProvider(models.Model):
    """A tenant's tournament platform as identity provider: it signs short-lived JWT
    assertions that `POST /api/auth/sso` exchanges for a bearer token. HS256 uses
    `secret`; RS256 and ES256 use `public_key` (PEM)."""

    tenant = models.OneToOneField(
        "tenancy.Tenant", on_delete=models.CASCADE, related_name="identity_provider"
    )
    issuer = models.CharField(max_length=255)
    algorithm = models.CharField(max_length=5, choices=SsoAlgorithm.choices)
    secret = models.TextField(blank=True)
    public_key = models.TextField(blank=True)
    # Membership roles an assertion's `role` claim may grant.
    allowed_roles = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class SsoIdentity(models.Model):
    """Links the platform's user id (`sub`) in one tenant to an account."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sso_identities")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "subject"], name="sso_identity_unique")
        ]


class SsoAssertionUse(models.Model):
    """A `jti` already exchanged, kept until its assertion expires, so replays fail."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+")
    jti = models.CharField(max_length=255)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "jti"], name="sso_jti_unique")]
        indexes = [models.Index(fields=["expires_at"], name="sso_jti_expires_idx")]
