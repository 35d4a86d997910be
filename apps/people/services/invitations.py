"""Invitations: staff invite people to their tenant by email; the person accepts on the
tenant's host with the mailed single-use token, which creates the account (or adds the
membership to an existing account, which proves its password) and signs them in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.accounts.models import ApiToken, Invitation, Membership, Role, User
from apps.accounts.selectors import token_hash
from apps.accounts.services import InvalidCredentials, membership_set, token_issue
from apps.accounts.signals import membership_changed, send_after_commit
from apps.core.exceptions import ApplicationError, Conflict, Forbidden, InvalidInput, NotFound
from apps.people import mail, policy
from apps.people.tokens import email_normalise, token_new
from apps.records import audit
from apps.records.audit import Action
from apps.tenancy.models import Tenant


class InvitationRefused(ApplicationError):
    """An invitation token that cannot be used; `code` says why."""

    status = 400
    code = "invitation_invalid"


@dataclass
class Sent:
    invitation: Invitation
    created: bool  # False: the pending invitation to that address, mailed again


def pending(tenant: Tenant) -> QuerySet[Invitation]:
    """Neither accepted nor revoked (expired ones included: they still hold the address)."""
    return Invitation.objects.filter(tenant=tenant, accepted_at=None, revoked_at=None)


def invitation_create(*, actor: Actor, email: str, role: Role, display_name: str = "") -> Sent:
    """Invites `email` to the actor's tenant as `role` and mails the link. Inviting an
    address with a pending invitation in the same role is idempotent: the same invitation
    is mailed again with a fresh link (the previous link stops working) and a new expiry;
    in another role it is `409 invitation_pending` until revoked. An expired one is
    renewed with the new role."""
    role = Role(role)
    policy.require_invite(actor, role)
    email = email_normalise(email)
    tenant = actor.tenant
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        raise Conflict("This person is already a member.", code="already_member")
    raw, digest = token_new()
    with transaction.atomic():
        invitation = pending(tenant).select_for_update().filter(email=email).first()
        created = invitation is None
        if invitation is None:
            invitation = Invitation(tenant=tenant, email=email)
        elif invitation.role != role and invitation.expires_at > timezone.now():
            raise Conflict(
                f"This address has a pending invitation as {invitation.role}; revoke it first.",
                code="invitation_pending",
            )
        invitation.role = role
        invitation.display_name = display_name or invitation.display_name
        invitation.token_hash = digest
        invitation.invited_by = actor.user
        invitation.expires_at = timezone.now() + timedelta(seconds=settings.INVITATION_TTL_SECONDS)
        _save(invitation)
        audit.record(
            actor=actor.user,
            action=Action.INVITATION_SENT,
            tenant=tenant,
            target_type="invitation",
            target_id=invitation.pk,
            details={"email": email, "role": role.value, "again": not created},
        )
        mail.send_after_commit(_invitation_mail(invitation, actor, raw))
    return Sent(invitation=invitation, created=created)


def _save(invitation: Invitation) -> None:
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError:
        # Another request invited the same address at the same moment.
        raise Conflict(
            "This address was invited just now; try again.", code="invitation_pending"
        ) from None


def _invitation_mail(invitation: Invitation, actor: Actor, raw: str) -> mail.Mail:
    return mail.Mail(
        to=invitation.email,
        template="invitation",
        context={
            "tenant_name": actor.tenant.name,
            "inviter": actor.user.display_name,
            "display_name": invitation.display_name,
            "role_label": Role(invitation.role).label.lower(),
            "valid_days": settings.INVITATION_TTL_SECONDS // 86400,
            "link": mail.link(settings.INVITATION_URL, tenant=actor.tenant, token=raw),
        },
    )


def invitation_revoke(*, actor: Actor, invitation_id: int) -> Invitation:
    """Revokes a pending invitation of the actor's tenant: its link stops working.
    Another tenant's invitation, or one the actor may not see, is 404."""
    roles = policy.require_invitations(actor)
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .filter(tenant=actor.tenant, role__in=roles, pk=invitation_id)
            .first()
        )
        if invitation is None:
            raise NotFound("Invitation not found.", code="invitation_not_found")
        if invitation.accepted_at or invitation.revoked_at:
            raise Conflict("This invitation is no longer pending.", code="invitation_not_pending")
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit.record(
            actor=actor.user,
            action=Action.INVITATION_REVOKED,
            tenant=actor.tenant,
            target_type="invitation",
            target_id=invitation.pk,
            details={"email": invitation.email, "role": invitation.role},
        )
    return invitation


# --- accepting ---------------------------------------------------------------------------


def invitation_for_token(*, tenant: Tenant, token: str, lock: bool = False) -> Invitation:
    """The usable invitation a mailed token names on this host; refused with a code that
    says why otherwise (`invitation_invalid`, `invitation_other_host`,
    `invitation_revoked`, `invitation_used`, `invitation_expired`)."""
    invitations = Invitation.objects.select_related("tenant")
    if lock:
        invitations = invitations.select_for_update(of=("self",))
    invitation = invitations.filter(token_hash=token_hash(token)).first()
    if invitation is None:
        raise InvitationRefused("This invitation link is not valid.")
    if invitation.tenant_id != tenant.pk:
        raise InvitationRefused(
            "This invitation is for another organisation's address.",
            code="invitation_other_host",
        )
    if invitation.revoked_at:
        raise InvitationRefused("This invitation was revoked.", code="invitation_revoked")
    if invitation.accepted_at:
        raise InvitationRefused("This invitation was already used.", code="invitation_used")
    if invitation.expires_at <= timezone.now():
        raise InvitationRefused("This invitation has expired.", code="invitation_expired")
    return invitation


@dataclass
class Accepted:
    raw_token: str
    token: ApiToken
    actor: Actor
    new_account: bool


def invitation_accept(
    *, tenant: Tenant, token: str, password: str, display_name: str = "", user_agent: str = ""
) -> Accepted:
    """Uses the invitation: creates the account with `password` (and a display name) or,
    when the address has an account, checks `password` against it; adds the membership,
    and signs the person in. Nothing changes when any of it is refused."""
    with transaction.atomic():
        invitation = invitation_for_token(tenant=tenant, token=token, lock=True)
        user = User.objects.select_for_update().filter(email__iexact=invitation.email).first()
        new_account = user is None
        if user is None:
            user = _account_create(invitation, password, display_name)
        else:
            _account_prove(user, password, tenant)
        membership_set(user=user, tenant=tenant, role=Role(invitation.role))
        # The channel rules of the role apply (a new tenant admin joins open tickets).
        send_after_commit(membership_changed, user_id=user.pk, tenant_id=tenant.pk)
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        raw, api_token = token_issue(user=user, user_agent=user_agent)
        audit.record(
            actor=user,
            action=Action.INVITATION_ACCEPTED,
            tenant=tenant,
            target_type="invitation",
            target_id=invitation.pk,
            details={"email": user.email, "role": invitation.role, "newAccount": new_account},
        )
    actor = Actor(user=user, tenant=tenant, role=Role(invitation.role))
    return Accepted(raw_token=raw, token=api_token, actor=actor, new_account=new_account)


def _account_create(invitation: Invitation, password: str, display_name: str) -> User:
    display_name = display_name.strip() or invitation.display_name
    if not display_name:
        raise InvalidInput("Say what to call you.", fields={"displayName": ["Required."]})
    user = User(email=invitation.email, display_name=display_name)
    password_check(password, user, field="password")
    user.set_password(password)
    user.save()
    return user


def _account_prove(user: User, password: str, tenant: Tenant) -> None:
    if not user.is_active:
        raise Forbidden("This account is deactivated.", code="account_deactivated")
    if Membership.objects.filter(user=user, tenant=tenant).exists():
        raise Conflict("You are already a member.", code="already_member")
    if not password or not user.check_password(password):
        raise InvalidCredentials(
            "This address has an account: accept with its password.",
            fields={"password": ["Your account's password."]},
        )


def password_check(password: str, user: User, *, field: str) -> None:
    """Django's password validators (settings.AUTH_PASSWORD_VALIDATORS), as a 400."""
    if not password:
        raise InvalidInput("Choose a password.", fields={field: ["Required."]})
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise InvalidInput("Choose a stronger password.", fields={field: error.messages}) from None
