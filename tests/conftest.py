"""Shared test foundation: the test tenants are created once per run (schema creation is
slow); each test runs in a transaction that is rolled back, so users, memberships and chat
data never leak between tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from apps.accounts.models import Role, User
from apps.accounts.services import membership_set, token_issue, user_create
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


@pytest.fixture(autouse=True)
def _clean_state(db: None) -> Iterator[None]:
    connection.set_schema_to_public()
    cache.clear()
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
