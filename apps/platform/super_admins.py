"""The console's account writes: invite (create or promote) super admins, deactivate
accounts. Each takes the super admin acting and records itself in the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from apps.accounts.actors import Actor
from apps.accounts.models import User
from apps.accounts.services import user_deactivate
from apps.core.exceptions import Conflict, NotFound
from apps.people import services as people
from apps.people.tokens import email_normalise
from apps.platform.services import require_console
from apps.records import audit
from apps.records.audit import Action


@dataclass
class Invited:
    user: User
    created: bool  # False: an existing account was promoted


def super_admin_invite(*, actor: Actor, email: str, display_name: str = "") -> Invited:
    """Makes the address's account a super admin, creating it (with no password) when
    there is none, and mails the console's address, with a link to choose a password
    for a new account (valid as long as an invitation)."""
    require_console(actor)
    email = email_normalise(email)
    with transaction.atomic():
        user = User.objects.select_for_update().filter(email__iexact=email).first()
        created = user is None
        if user is None:
            name = display_name.strip() or email.split("@")[0]
            user = User.objects.create_user(email, None, display_name=name, is_super_admin=True)
        elif not user.is_active:
            raise Conflict("This account is deactivated.", code="account_deactivated")
        elif user.is_super_admin:
            raise Conflict("This account is already a super admin.", code="already_super_admin")
        else:
            user.is_super_admin = True
            user.save(update_fields=["is_super_admin"])
        audit.record(
            actor=actor.user,
            action=Action.SUPER_ADMIN_INVITED if created else Action.SUPER_ADMIN_PROMOTED,
            tenant=None,
            target_type="user",
            target_id=user.pk,
            details={"email": user.email},
        )
        people.password_setup_send(
            user=user,
            tenant=actor.tenant,
            inviter=actor.user,
            ttl=timedelta(seconds=settings.INVITATION_TTL_SECONDS),
        )
    return Invited(user=user, created=created)


def account_deactivate(*, actor: Actor, user_id: int, super_admin: bool = False) -> User:
    """The account can no longer sign in; its tokens end and its sockets close once this
    commits. `super_admin`: only a super admin's account (404 otherwise). Nobody
    deactivates themselves, nor the last active super admin (409)."""
    require_console(actor)
    with transaction.atomic():
        # Super admins' rows first, in one order: two super admins deactivating each other
        # at once take turns, and the second sees the first's change.
        active_super_admins = list(
            User.objects.select_for_update()
            .filter(is_super_admin=True, is_active=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        accounts = User.objects.select_for_update()
        if super_admin:
            accounts = accounts.filter(is_super_admin=True)
        user = accounts.filter(pk=user_id).first()
        if user is None:
            raise NotFound("Account not found.", code="account_not_found")
        _check_deactivatable(actor, user, active_super_admins)
        user_deactivate(user=user)
        audit.record(
            actor=actor.user,
            action=Action.ACCOUNT_DEACTIVATED,
            tenant=None,
            target_type="user",
            target_id=user.pk,
            details={"email": user.email, "superAdmin": user.is_super_admin},
        )
    return user


def _check_deactivatable(actor: Actor, user: User, active_super_admins: list[int]) -> None:
    if user.pk == actor.user.pk:
        raise Conflict("You cannot deactivate your own account.", code="cannot_deactivate_self")
    if not user.is_active:
        raise Conflict("This account is already deactivated.", code="already_deactivated")
    if user.is_super_admin and active_super_admins == [user.pk]:
        raise Conflict("The last active super admin stays.", code="last_super_admin")
