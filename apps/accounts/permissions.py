from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from apps.accounts.selectors import actor_for


class IsHostMember(BasePermission):
    """The credential works on this host: a membership in the host's tenant, or a super
    admin. Sets `request.actor` for the view and the services it calls."""

    message = "Your account has no access to this organisation."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return False
        actor = actor_for(user=user, tenant=request.tenant)
        if actor is None:
            self.code = "not_a_member"
            return False
        request.actor = actor
        return True
