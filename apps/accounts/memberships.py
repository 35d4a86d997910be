"""Membership writes on one tenant: a new role, suspension, reactivation, removal.

Each locks the tenant's admin memberships (then the member's own) for the rest of the
caller's transaction, so two admins demoting, suspending or removing each other at once
are served one after the other: the last active tenant admin is never demoted,
suspended or removed (409 `last_admin`). The person's open sockets learn of the change
once it commits (`apps.accounts.signals`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from apps.accounts.models import Membership, MembershipStatus, Role
from apps.accounts.signals import membership_changed, membership_revoked, send_after_commit
from apps.core.exceptions import Conflict, NotFound

if TYPE_CHECKING:
    from apps.tenancy.models import Tenant


class LastAdmin(Conflict):
    code = "last_admin"


def _active_admin(membership: Membership) -> bool:
    return (
        membership.role == Role.TENANT_ADMIN
        and membership.status == MembershipStatus.ACTIVE
        and membership.user.is_active
    )


def _locked(tenant: Tenant, user_id: int) -> tuple[Membership, list[Membership]]:
    """The member's membership and the tenant's admin memberships, row-locked (admins
    first, in id order, so concurrent callers never wait on each other in a cycle)."""
    lock = Membership.objects.select_for_update(of=("self",)).select_related("user")
    admins = list(lock.filter(tenant=tenant, role=Role.TENANT_ADMIN).order_by("pk"))
    membership = next((m for m in admins if m.user_id == user_id), None)
    if membership is None:
        membership = lock.filter(tenant=tenant, user_id=user_id).first()
    if membership is None:
        raise NotFound("Member not found.")
    return membership, admins


def _keep_an_admin(membership: Membership, admins: list[Membership], doing: str) -> None:
    others = [a for a in admins if a.pk != membership.pk and _active_admin(a)]
    if _active_admin(membership) and not others:
        raise LastAdmin(f"The organisation's last active admin cannot be {doing}.")


def membership_role_change(*, tenant: Tenant, user_id: int, role: Role) -> tuple[Membership, Role]:
    """Gives the member `role`; answers the membership and its previous role."""
    with transaction.atomic():
        membership, admins = _locked(tenant, user_id)
        previous = Role(membership.role)
        if previous != role:
            if role != Role.TENANT_ADMIN:
                _keep_an_admin(membership, admins, "demoted")
            membership.role = role
            membership.save(update_fields=["role"])
            send_after_commit(membership_changed, user_id=user_id, tenant_id=tenant.pk)
    return membership, previous


def membership_suspend(*, tenant: Tenant, user_id: int) -> Membership:
    """The member can no longer use the tenant's host, until reactivated."""
    with transaction.atomic():
        membership, admins = _locked(tenant, user_id)
        if membership.status == MembershipStatus.SUSPENDED:
            raise Conflict("This member is already suspended.", code="already_suspended")
        _keep_an_admin(membership, admins, "suspended")
        membership.status = MembershipStatus.SUSPENDED
        membership.save(update_fields=["status"])
        send_after_commit(membership_revoked, user_id=user_id, tenant_id=tenant.pk)
    return membership


def membership_reactivate(*, tenant: Tenant, user_id: int) -> Membership:
    with transaction.atomic():
        membership, _admins = _locked(tenant, user_id)
        if membership.status != MembershipStatus.SUSPENDED:
            raise Conflict("This member is not suspended.", code="not_suspended")
        membership.status = MembershipStatus.ACTIVE
        membership.save(update_fields=["status"])
    return membership


def membership_remove(*, tenant: Tenant, user_id: int) -> Membership:
    """Ends the membership; the account stays (and its messages)."""
    with transaction.atomic():
        membership, admins = _locked(tenant, user_id)
        _keep_an_admin(membership, admins, "removed")
        membership.delete()
        send_after_commit(membership_revoked, user_id=user_id, tenant_id=tenant.pk)
    return membership
