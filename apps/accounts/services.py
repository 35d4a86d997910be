from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import authenticate
from django.db.models import Q
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.accounts.models import ApiToken, Membership, Role, User
from apps.accounts.selectors import actor_for, token_hash
from apps.accounts.signals import credentials_revoked, send_after_commit
from apps.core.exceptions import ApplicationError

if TYPE_CHECKING:
    from apps.tenancy.models import Tenant


class InvalidCredentials(ApplicationError):
    status = 401
    code = "invalid_credentials"


def login(
    *, email: str, password: str, tenant: Tenant, user_agent: str = ""
) -> tuple[str, ApiToken, Actor]:
    """Checks the password and that the user may use this host; issues a token.

    Every failure gives the same error, so a caller cannot learn whether the email
    exists or belongs to this tenant.
    """
    user = authenticate(username=email.strip().lower(), password=password)
    actor = actor_for(user=user, tenant=tenant) if isinstance(user, User) else None
    if actor is None:
        raise InvalidCredentials("Invalid email or password.")
    raw, token = token_issue(user=actor.user, user_agent=user_agent)
    return raw, token, actor


def token_issue(*, user: User, user_agent: str = "") -> tuple[str, ApiToken]:
    """A new bearer token; `user_agent` (the client's, cut to fit) names the session."""
    raw = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        key_hash=token_hash(raw),
        expires_at=timezone.now() + timedelta(seconds=settings.TOKEN_TTL_SECONDS),
        user_agent=user_agent[: ApiToken._meta.get_field("user_agent").max_length or 255],
    )
    return raw, token


# A token's last use is written at most this often: authentication runs on every request.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def token_touch(*, token: ApiToken) -> None:
    """Records that the token was used now, unless that was recorded less than a minute
    ago. The loaded row answers most requests with no query; the UPDATE is conditional,
    so concurrent requests of one token write it once."""
    now = timezone.now()
    stale = now - TOKEN_TOUCH_INTERVAL
    if token.last_used_at is not None and token.last_used_at > stale:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale)
    ).update(last_used_at=now)
    token.last_used_at = now


def token_revoke(*, token: ApiToken) -> None:
    """Ends one credential; its sockets close once the change commits."""
    token_id = token.pk
    token.delete()
    send_after_commit(credentials_revoked, user_id=token.user_id, token_ids=[token_id])


def tokens_revoke_all(*, user: User, keep: ApiToken | None = None) -> None:
    """Ends every credential of the user but `keep`; their sockets close on commit."""
    tokens = ApiToken.objects.filter(user=user)
    if keep is not None:
        tokens = tokens.exclude(pk=keep.pk)
    token_ids = list(tokens.values_list("pk", flat=True))
    tokens.delete()
    send_after_commit(credentials_revoked, user_id=user.pk, token_ids=token_ids)


def user_deactivate(*, user: User) -> None:
    """The account can no longer sign in anywhere; its tokens and sockets end on commit.
    Accounts are never deleted (chat rows refer to them)."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    ApiToken.objects.filter(user=user).delete()
    send_after_commit(credentials_revoked, user_id=user.pk, token_ids=None)


def user_rename(*, user: User, display_name: str) -> User:
    user.display_name = display_name
    user.save(update_fields=["display_name"])
    return user


def user_create(
    *, email: str, password: str | None, display_name: str, is_super_admin: bool = False
) -> User:
    """`password` None: an unusable one (the owner sets one with a password reset)."""
    return User.objects.create_user(
        email=email, password=password, display_name=display_name, is_super_admin=is_super_admin
    )


def membership_set(*, user: User, tenant: Tenant, role: Role) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        user=user, tenant=tenant, defaults={"role": role}
    )
    return membership
