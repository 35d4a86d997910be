"""Helpers shared by the chat tests (the fixtures they use live in `tests/conftest.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import time_machine
from django.db import connection

from apps.accounts.actors import Actor
from apps.accounts.models import Role, User
from apps.accounts.services import membership_set, user_create
from apps.chat.services import channel_create, sla
from apps.records.models import AuditEntry
from apps.tenancy.models import Tenant
from apps.tenancy.services import tenant_provision


def create_channel(client: Any, **body: Any) -> dict[str, Any]:
    response = client.post("/api/chat/channels", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def support_ticket(client: Any, **extra: Any) -> dict[str, Any]:
    body = {"type": "SUPPORT", "subject": "Cannot create tournament", **extra}
    return create_channel(client, **body)


@contextmanager
def committed_due_tickets(slug: str, count: int, *, at: datetime) -> Iterator[list[str]]:
    """A tenant of its own whose HIGH tickets have a 30-minute first-response target that
    escalates, and `count` of them opened `at`, all committed (for other connections and
    processes); dropped afterwards. Call with the database unblocked."""
    tenant = tenant_provision(slug=slug, name=slug).tenant
    users: list[User] = []
    try:
        admin, player = (
            user_create(email=f"{slug}-{n}@example.test", password="x" * 12, display_name=n)
            for n in ("admin", "player")
        )
        users += [admin, player]
        membership_set(user=admin, tenant=tenant, role=Role.TENANT_ADMIN)
        membership_set(user=player, tenant=tenant, role=Role.PARTICIPANT)
        sla.sla_settings_set(
            actor=Actor(user=admin, tenant=tenant, role=Role.TENANT_ADMIN),
            policies=[{"priority": "HIGH", "firstResponseMinutes": 30, "autoEscalate": True}],
        )
        requester = Actor(user=player, tenant=tenant, role=Role.PARTICIPANT)
        with time_machine.travel(at, tick=False):
            ids = [
                str(
                    channel_create(
                        actor=requester, type="SUPPORT", subject=f"Ticket {n}", priority="HIGH"
                    ).pk
                )
                for n in range(count)
            ]
        connection.set_schema_to_public()
        yield ids
    finally:
        connection.set_schema_to_public()
        Tenant.objects.get(pk=tenant.pk).delete(force_drop=True)
        User.objects.filter(pk__in=[u.pk for u in users]).delete()
        AuditEntry.objects.filter(tenant_slug=slug).delete()  # entries outlive both
