"""A person's own account: password change, password reset by mail, sessions (their
bearer tokens). Every change is audited with the tenant of the host it was made on."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.accounts.models import ApiToken, PasswordReset, User
from apps.accounts.selectors import actor_for, token_hash
from apps.accounts.services import token_revoke, tokens_revoke_all
from apps.core.exceptions import ApplicationError, InvalidInput, NotFound
from apps.people import mail
from apps.people.services.invitations import password_check
from apps.people.tokens import email_normalise, token_new
from apps.records import audit
from apps.records.audit import Action
from apps.tenancy.models import Tenant


class ResetRefused(ApplicationError):
    """A password-reset token that cannot be used; `code` says why."""

    status = 400
    code = "reset_invalid"


def _tenant_or_none(tenant: Tenant) -> Tenant | None:
    return None if tenant.is_public else tenant


def _password_set(user: User, password: str, *, keep: ApiToken | None) -> None:
    """Sets the password, ends outstanding reset links and every other session."""
    user.set_password(password)
    user.save(update_fields=["password"])
    PasswordReset.objects.filter(user=user, used_at=None).update(used_at=timezone.now())
    tokens_revoke_all(user=user, keep=keep)


def password_change(
    *, actor: Actor, current: ApiToken, old_password: str, new_password: str
) -> None:
    """The caller's other sessions end; the one making the change stays signed in."""
    user = actor.user
    if not user.check_password(old_password):
        raise InvalidInput(
            "Your current password is not right.",
            code="wrong_password",
            fields={"currentPassword": ["Not your current password."]},
        )
    password_check(new_password, user, field="newPassword")
    with transaction.atomic():
        _password_set(user, new_password, keep=current)
        audit.record(
            actor=user,
            action=Action.PASSWORD_CHANGED,
            tenant=_tenant_or_none(actor.tenant),
            target_type="user",
            target_id=user.pk,
        )


# --- reset by mail -----------------------------------------------------------------------


def password_reset_request(*, email: str, tenant: Tenant) -> None:
    """Mails a single-use reset link when the address has an active account that may
    sign in on this host; otherwise does nothing. Either way the caller learns nothing:
    the same token work is done, and the mail leaves on a background thread after
    commit."""
    raw, digest = token_new()
    user = User.objects.filter(email__iexact=email_normalise(email), is_active=True).first()
    if user is None or actor_for(user=user, tenant=tenant) is None:
        return
    ttl = timedelta(seconds=settings.PASSWORD_RESET_TTL_SECONDS)
    with transaction.atomic():
        PasswordReset.objects.create(user=user, token_hash=digest, expires_at=timezone.now() + ttl)
        mail.send_after_commit(
            mail.Mail(
                to=user.email,
                template="password_reset",
                context={
                    "display_name": user.display_name,
                    "email": user.email,
                    "site_name": "" if tenant.is_public else tenant.name,
                    "valid_minutes": settings.PASSWORD_RESET_TTL_SECONDS // 60,
                    "link": mail.link(settings.PASSWORD_RESET_URL, tenant=tenant, token=raw),
                },
            )
        )


def password_setup_send(*, user: User, tenant: Tenant, inviter: User, ttl: timedelta) -> None:
    """Mails a new super admin the console's address and a single-use link to choose a
    password (a reset token valid for `ttl`); without a link for an account that has one."""
    link = ""
    if not user.has_usable_password():
        raw, digest = token_new()
        PasswordReset.objects.create(user=user, token_hash=digest, expires_at=timezone.now() + ttl)
        link = mail.link(settings.PASSWORD_RESET_URL, tenant=tenant, token=raw)
    mail.send_after_commit(
        mail.Mail(
            to=user.email,
            template="super_admin_welcome",
            context={
                "display_name": user.display_name,
                "email": user.email,
                "inviter": inviter.display_name,
                "console": mail.host_base(tenant) + "/api/docs/",
                "link": link,
                "valid_days": max(1, int(ttl.total_seconds()) // 86400),
            },
        )
    )


def reset_for_token(*, token: str, lock: bool = False) -> PasswordReset:
    """The usable reset a mailed token names; refused with `reset_invalid`, `reset_used`
    or `reset_expired` otherwise."""
    resets = PasswordReset.objects.select_related("user")
    if lock:
        resets = resets.select_for_update(of=("self",))
    reset = resets.filter(token_hash=token_hash(token)).first()
    if reset is None or not reset.user.is_active:
        raise ResetRefused("This reset link is not valid.")
    if reset.used_at:
        raise ResetRefused("This reset link was already used.", code="reset_used")
    if reset.expires_at <= timezone.now():
        raise ResetRefused("This reset link has expired.", code="reset_expired")
    return reset


def password_reset_confirm(*, tenant: Tenant, token: str, new_password: str) -> User:
    """Sets the new password and signs the account out everywhere."""
    with transaction.atomic():
        reset = reset_for_token(token=token, lock=True)
        user = reset.user
        password_check(new_password, user, field="newPassword")
        _password_set(user, new_password, keep=None)
        audit.record(
            actor=user,
            action=Action.PASSWORD_RESET,
            tenant=_tenant_or_none(tenant),
            target_type="user",
            target_id=user.pk,
        )
    return user


# --- sessions ----------------------------------------------------------------------------


def session_revoke(*, actor: Actor, session_id: int) -> None:
    """Ends one of the caller's own sessions (the current one included); anyone else's is
    404. Sockets opened with it close once this commits."""
    with transaction.atomic():
        token = (
            ApiToken.objects.select_for_update()
            .filter(user=actor.user, pk=session_id, expires_at__gt=timezone.now())
            .first()
        )
        if token is None:
            raise NotFound("Session not found.", code="session_not_found")
        audit.record(
            actor=actor.user,
            action=Action.SESSION_REVOKED,
            tenant=_tenant_or_none(actor.tenant),
            target_type="session",
            target_id=token.pk,
            details={"userAgent": token.user_agent},
        )
        token_revoke(token=token)
