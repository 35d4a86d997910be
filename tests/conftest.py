"""Shared test foundation: the test tenants are created once per run (schema creation is
slow); each test runs in a transaction that is rolled back, so users, memberships and chat
data never leak between tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from rest_framework.test import APIClient

from apps.accounts.models import Role, User
from apps.accounts.services import membership_set, token_issue, user_create
from apps.accounts.signals import credentials_revoked
from apps.chat import events
from apps.core import limits
from apps.core.db import cursor_as_it_stands
from apps.tenancy import hosts
from apps.tenancy.models import Tenant
from apps.tenancy.services import public_tenant_ensure, tenant_host, tenant_provision

PASSWORD = "correct-horse-42"
_emails = itertools.count(1)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock():
        public_tenant_ensure()
        for slug, name in (("acme", "Acme"), ("globex", "Globex")):
            if not Tenant.objects.filter(schema_name=slug).exists():
                tenant_provision(slug=slug, name=name)
        connection.set_schema_to_public()


def _cache_clear() -> None:
    """Empties this run's cache. On Redis only the run's keys (its REDIS_PREFIX): the
    cache's own `clear()` empties the whole database, other runs' keys included."""
    if not settings.REDIS_URL:
        cache.clear()
        return
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{settings.REDIS_PREFIX}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _clean_state(db: None) -> Iterator[None]:
    connection.set_schema_to_public()
    _cache_clear()
    limits.reset()  # the shared limits' counters, under the run's Redis prefix
    limits.SocketLeases.reset()
    hosts._active_hosts.clear()  # tenants made and deleted by earlier tests
    yield
    connection.set_schema_to_public()


@pytest.fixture
def public_tenant() -> Tenant:
    return Tenant.objects.get(schema_name="public")


@pytest.fixture
def acme() -> Tenant:
    return Tenant.objects.get(schema_name="acme")


@pytest.fixture
def globex() -> Tenant:
    return Tenant.objects.get(schema_name="globex")


MakeUser = Callable[..., User]


@pytest.fixture
def make_user() -> MakeUser:
    """make_user(tenant, role) -> a user with that membership; make_user(super_admin=True)."""

    def make(
        tenant: Tenant | None = None,
        role: Role | str = Role.PARTICIPANT,
        *,
        super_admin: bool = False,
        email: str | None = None,
        name: str | None = None,
    ) -> User:
        number = next(_emails)
        user = user_create(
            email=email or f"user{number}@example.test",
            password=PASSWORD,
            display_name=name or f"User {number}",
            is_super_admin=super_admin,
        )
        if tenant is not None:
            membership_set(user=user, tenant=tenant, role=Role(role))
        return user

    return make


def database_url() -> str:
    """The test database as a DATABASE_URL, for server and command processes the suite
    starts (a socket directory as host is percent-encoded, as dj-database-url reads it)."""
    db = connection.settings_dict
    host = db["HOST"] or "127.0.0.1"
    if host.startswith("/"):
        host = quote(host, safe="")
    return f"postgres://{db['USER']}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def statements_run() -> Iterator[list[str]]:
    """Every statement the connection runs, `SET search_path` included, whitespace
    collapsed. Unlike a debug cursor's capture, which opens a cursor of its own to render
    each statement (and with it sets a pending search path), it changes nothing."""
    ran: list[str] = []

    def record(execute: Any, sql: str, *args: Any) -> Any:
        ran.append(" ".join(sql.split()))
        return execute(sql, *args)

    with connection.execute_wrapper(record):
        yield ran


def search_path() -> str:
    """The connection's search path as PostgreSQL has it now (no `SET` first)."""
    with cursor_as_it_stands() as cursor:
        cursor.execute("SHOW search_path")
        return str(cursor.fetchone()[0])


def host_of(tenant: Tenant) -> str:
    return "localhost" if tenant.is_public else tenant_host(tenant.schema_name)


MakeClient = Callable[..., APIClient]


@pytest.fixture
def client_for() -> MakeClient:
    """client_for(tenant, user=None) -> an API client on the tenant's host, signed in as
    `user` with a fresh bearer token when one is given."""

    def make(tenant: Tenant, user: User | None = None) -> APIClient:
        client = APIClient(HTTP_HOST=host_of(tenant))
        if user is not None:
            raw, _ = token_issue(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


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

    Tests run inside one transaction that never commits, so the callbacks queued on
    commit are captured (pytest-django's `django_capture_on_commit_callbacks`) and run
    whenever the test looks: each action's callbacks run as if its own transaction had
    committed. Callbacks of a rolled-back block are dropped by Django before they get
    here, just as in production."""

    def __init__(self, capture: Callable[..., AbstractContextManager[Any]]) -> None:
        self._capture = capture
        self._pending = ExitStack()
        self._pending.enter_context(capture(execute=True))
        self._events: list[events.Event] = []

    def __call__(self, event: events.Event) -> None:
        self._events.append(event)

    def _drain(self) -> None:
        self._pending.close()  # runs what was captured
        self._pending.enter_context(self._capture(execute=True))

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

    def close(self) -> None:
        self._pending.close()


@pytest.fixture
def published(django_capture_on_commit_callbacks: Any) -> Iterator[Recorder]:
    recorder = Recorder(django_capture_on_commit_callbacks)
    events.sinks.append(recorder)
    yield recorder
    events.sinks.remove(recorder)
    recorder.close()


class Committed:
    """Runs what the requests queued for after their commit (mails, signals) whenever
    the test looks: the test's own transaction never commits."""

    def __init__(self, capture: Callable[..., AbstractContextManager[Any]]) -> None:
        self._capture = capture
        self._pending = ExitStack()
        self._pending.enter_context(capture(execute=True))

    def run(self) -> None:
        self._pending.close()
        self._pending.enter_context(self._capture(execute=True))

    def outbox(self) -> list[EmailMultiAlternatives]:
        self.run()
        return list(mail.outbox)

    def close(self) -> None:
        self._pending.close()


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Iterator[Committed]:
    mail.outbox.clear()
    done = Committed(django_capture_on_commit_callbacks)
    yield done
    done.close()


@pytest.fixture
def revoked(committed: Committed) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """revoked() -> the credentials_revoked signals sent so far (committed)."""
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append({k: v for k, v in kwargs.items() if k != "signal"})

    credentials_revoked.connect(receiver, weak=False)

    def read() -> list[dict[str, Any]]:
        committed.run()
        return seen

    yield read
    credentials_revoked.disconnect(receiver)
