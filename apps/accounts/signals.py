"""What changes a person's right to be connected. Accounts and tenancy send these once
the change is committed (use `send_after_commit`); the chat app listens and closes or
narrows the person's open sockets, in every server process."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import Signal

# Bearer tokens stopped working: logout, password change or reset, session revocation,
# account deactivation. kwargs: user_id, token_ids (list of ApiToken ids, or None for
# every token of the user). Sockets opened with them are closed with 4401.
credentials_revoked = Signal()

# A membership stopped working: removal or suspension. kwargs: user_id, tenant_id.
# The user's sockets on that tenant's host are closed with 4403.
membership_revoked = Signal()

# A membership's role changed. kwargs: user_id, tenant_id. Sockets re-derive their
# actor and leave the rooms the new role no longer allows.
membership_changed = Signal()


def send_after_commit(signal: Signal, **kwargs: Any) -> None:
    transaction.on_commit(lambda: signal.send(sender=None, **kwargs))
