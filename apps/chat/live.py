"""Live authorization: open sockets follow the changes that end or narrow a person's
right to be connected (`apps.accounts.signals`, sent once the change has committed).

- credentials revoked (logout, session revocation, password change, deactivation): the
  sockets opened with those tokens, on every host, get an `error` frame and close 4401;
- membership revoked (removal, suspension): the person's sockets on that tenant's host
  get an `error` frame and close 4403 (a super admin stays, in no role);
- membership changed (a new role): the sockets act in the new role and leave the rooms
  they may no longer see, after the person's channels have followed the role.

Each command is published before the caller goes on, on the same layer as events, so
an event published after it never reaches the socket it closed or narrowed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from apps.accounts.models import Membership, MembershipStatus, Role, User
from apps.accounts.signals import credentials_revoked, membership_changed, membership_revoked
from apps.chat import events
from apps.chat.services.members import participation_follow
from apps.core.closecodes import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from apps.tenancy.models import Tenant

logger = logging.getLogger(__name__)


def _logged(receiver: Callable[..., None]) -> Callable[..., None]:
    """The change has committed and its request must still get its answer: a failure
    here is logged (the sockets close at the latest when their token expires)."""

    @functools.wraps(receiver)
    def run(sender: Any, **kwargs: Any) -> None:
        try:
            receiver(sender, **kwargs)
        except Exception:
            logger.exception("Could not apply %s to open sockets: %s", receiver.__name__, kwargs)

    return run


@_logged
def _on_credentials_revoked(
    sender: Any, *, user_id: int, token_ids: list[int] | None, **_: Any
) -> None:
    events.revoke_credentials(user_id=user_id, token_ids=token_ids, code=CLOSE_UNAUTHENTICATED)


def _revoke_membership(tenant: Tenant, user_id: int) -> None:
    if User.objects.filter(pk=user_id, is_super_admin=True).exists():
        events.member_changed(schema=tenant.schema_name, user_id=user_id, role=None)
    else:
        events.close_member_sockets(
            schema=tenant.schema_name, user_id=user_id, code=CLOSE_FORBIDDEN
        )


@_logged
def _on_membership_revoked(sender: Any, *, user_id: int, tenant_id: int, **_: Any) -> None:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is not None:
        _revoke_membership(tenant, user_id)


@_logged
def _on_membership_changed(sender: Any, *, user_id: int, tenant_id: int, **_: Any) -> None:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return
    membership = Membership.objects.filter(user_id=user_id, tenant=tenant).first()
    if membership is None or membership.status == MembershipStatus.SUSPENDED:
        _revoke_membership(tenant, user_id)
        return
    # Whoever changed the role, the person's channels follow it (nothing to do when the
    # members API already did, in the role change's own transaction).
    participation_follow(tenant=tenant, user_id=user_id, role=Role(membership.role))
    events.member_changed(schema=tenant.schema_name, user_id=user_id, role=membership.role)


def connect() -> None:
    credentials_revoked.connect(_on_credentials_revoked, dispatch_uid="chat.live.credentials")
    membership_revoked.connect(_on_membership_revoked, dispatch_uid="chat.live.membership")
    membership_changed.connect(_on_membership_changed, dispatch_uid="chat.live.role")
