from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection

from apps.accounts.models import Role, User
from apps.chat import events
from apps.tenancy.models import Tenant


@dataclass
class Org:
    tenant: Tenant
    admin: User
    team: User
    player: User
    player2: User


def _org(tenant: Tenant, make_user: Any) -> Org:
    return Org(
        tenant=tenant,
        admin=make_user(tenant, Role.TENANT_ADMIN, name=f"{tenant.schema_name} admin"),
        team=make_user(tenant, Role.MANAGEMENT_TEAM, name=f"{tenant.schema_name} team"),
        player=make_user(tenant, Role.PARTICIPANT, name=f"{tenant.schema_name} player"),
        player2=make_user(tenant, Role.PARTICIPANT, name=f"{tenant.schema_name} player2"),
    )


@pytest.fixture
def org(acme: Tenant, make_user: Any) -> Org:
    """Acme's people: one of each role."""
    return _org(acme, make_user)


@pytest.fixture
def other_org(globex: Tenant, make_user: Any) -> Org:
    """Globex's people, for cross-tenant checks."""
    return _org(globex, make_user)


@pytest.fixture
def super_admin(make_user: Any) -> User:
    return make_user(super_admin=True, name="Platform super")


class Recorder:
    """What the services published and would have delivered on commit.

    Tests run inside one transaction that never commits, so the on-commit queue is
    drained by hand whenever the test looks: each action's callbacks run as if its own
    transaction had committed. Callbacks of a rolled-back block are dropped by Django
    before they get here, just as in production."""

    def __init__(self) -> None:
        self.start = len(connection.run_on_commit)
        self._events: list[events.Event] = []

    def __call__(self, event: events.Event) -> None:
        self._events.append(event)

    def _drain(self) -> None:
        pending = connection.run_on_commit[self.start :]
        del connection.run_on_commit[self.start :]
        for _sids, callback, _robust in pending:
            callback()

    @property
    def events(self) -> list[events.Event]:
        self._drain()
        return self._events

    def named(self, name: str) -> list[events.Event]:
        return [e for e in self.events if e.name == name]

    def names(self) -> list[str]:
        return [e.name for e in self.events]

    def clear(self) -> None:
        self._drain()
        self._events.clear()


@pytest.fixture
def published() -> Iterator[Recorder]:
    recorder = Recorder()
    events.sinks.append(recorder)
    yield recorder
    events.sinks.remove(recorder)


def create_channel(client: Any, **body: Any) -> dict[str, Any]:
    response = client.post("/api/chat/channels", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def support_ticket(client: Any, **extra: Any) -> dict[str, Any]:
    body = {"type": "SUPPORT", "subject": "Cannot create tournament", **extra}
    return create_channel(client, **body)
