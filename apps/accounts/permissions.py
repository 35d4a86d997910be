from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.accounts.actors import Actor
from apps.accounts.authentication import HOST_ACTOR
from apps.accounts.models import User
from apps.accounts.selectors import actor_for

if TYPE_CHECKING:
    from apps.tenancy.models import Tenant


class TenantRequest(Request):
    """A request on a tenant's host: the tenancy middleware sets its tenant."""

    tenant: Tenant


class HostRequest(TenantRequest):
    """A request that passed `IsHostMember`: it carries the actor."""

    actor: Actor


class IsHostMember(BasePermission):
    """The credential works on this host: a membership in the host's tenant, or a super
    admin. Sets `request.actor` for the view and the services it calls."""

    message = "Your account has no access to this organisation."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not isinstance(user, User) or not user.is_authenticated:
            return False
        host = cast(HostRequest, request)
        actor = getattr(request, HOST_ACTOR, None)
        if actor is None or actor.user is not user or actor.tenant is not host.tenant:
            actor = actor_for(user=user, tenant=host.tenant)
        if actor is None:
            self.code = "not_a_member"
            return False
        host.actor = actor
        return True
