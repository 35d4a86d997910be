from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.actors import Actor
from apps.accounts.models import ApiToken, Invitation, User
from apps.people import policy


def invitation_list(*, actor: Actor) -> QuerySet[Invitation]:
    """The tenant's pending invitations the actor may manage, newest first: not accepted,
    not revoked, not expired."""
    roles = policy.require_invitations(actor)
    return (
        Invitation.objects.filter(
            tenant=actor.tenant,
            role__in=roles,
            accepted_at=None,
            revoked_at=None,
            expires_at__gt=timezone.now(),
        )
        .select_related("invited_by")
        .order_by("-created_at", "-id")
    )


def session_list(*, user: User) -> QuerySet[ApiToken]:
    """The user's live bearer tokens, most recently created first."""
    return ApiToken.objects.filter(user=user, expires_at__gt=timezone.now()).order_by(
        "-created_at", "-id"
    )
