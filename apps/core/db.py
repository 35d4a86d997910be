"""The default connection as what it is at run time: django-tenants' PostgreSQL backend,
which adds the schema methods (`set_schema`, `set_schema_to_public`, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model
from django_tenants.postgresql_backend.base import DatabaseWrapper
from django_tenants.utils import schema_context


def tenant_connection() -> DatabaseWrapper:
    return cast(DatabaseWrapper, connection)


@contextmanager
def on_schema(schema_name: str) -> Iterator[None]:
    """`schema_context`, without the switch (and its `SET search_path` round trip) when
    the connection is on that schema already."""
    if tenant_connection().schema_name == schema_name:
        yield
        return
    with schema_context(schema_name):
        yield


@contextmanager
def cursor_as_it_stands() -> Iterator[Any]:
    """A cursor on the connection's search path as it stands, for a statement that names
    the schema of every table it touches: no `SET search_path` for the tenant entered
    (django-tenants issues one before the first statement after each switch). The
    connection's tenant is unchanged, so the next unqualified query still sets it.

    It matters for prepared statements: PostgreSQL plans one again whenever the search
    path changed since its plan."""
    connection = tenant_connection()
    setting = connection._setting_search_path
    # django-tenants' own guard while it sets the path: the cursor is opened without it.
    connection._setting_search_path = True
    try:
        cursor = connection.cursor()
    finally:
        connection._setting_search_path = setting
    with cursor:
        yield cursor


def enter_tenant(tenant: Any) -> None:
    """Puts this thread's connection on the tenant's schema for the work that follows.
    When it is on that schema already, only the tenant object is swapped: no search-path
    reset, so no `SET search_path` round trip before the next query."""
    connection = tenant_connection()
    if connection.schema_name == tenant.schema_name:
        connection.tenant = tenant
    else:
        connection.set_tenant(tenant)


def public_table(db_table: str) -> str:
    """A public-schema table's name, qualified: the query reads the same whatever schema
    the connection is on (a tenant's search path ends with public, but says so
    explicitly), so nobody needs to switch to public for it."""
    quote = connection.ops.quote_name
    return f"{quote(settings.PUBLIC_SCHEMA_NAME)}.{quote(db_table)}"


def keep_connection() -> None:
    """After a unit of work on one of a serving process's fixed threads (HTTP_THREADS,
    WS_DB_THREADS): the thread keeps its pooled connection for the next one, unless it
    broke. The threads together hold no more connections than the pool has, so keeping
    them starves nobody, and saves each unit of work the pool's check-out and return and
    the `SET search_path` a connection fresh from the pool needs."""
    kept = connections[DEFAULT_DB_ALIAS]
    kept.close_at = None  # not obsolete: this thread's own, for good
    kept.close_if_unusable_or_obsolete()


def fields_of(model: type[Model], *skipped: str) -> tuple[str, ...]:
    """The model's concrete fields (attribute names), but `skipped`."""
    return tuple(f.attname for f in model._meta.concrete_fields if f.attname not in skipped)


@dataclass(frozen=True)
class Part:
    """One model's share of a hand-written, joined row: the model, its alias in the
    statement, and the fields read (`fields_of(model)` for all of them)."""

    model: type[Model]
    alias: str
    fields: tuple[str, ...]

    def columns(self) -> str:
        column = {f.attname: f.column for f in self.model._meta.concrete_fields}
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(column[name])}" for name in self.fields)


RowReader = Callable[[Sequence[Any]], list[Any]]


def row_reader(parts: Sequence[Part]) -> RowReader:
    """Reads rows of a statement that selects `parts`' columns first, in order: one model
    per part, as loaded from the database, or None where the part's key is NULL (an outer
    join found no row). Columns after them are the caller's."""
    slices = []
    at = 0
    for part in parts:
        pk = at + part.fields.index(part.model._meta.pk.attname)
        slices.append((part.model, part.fields, at, at + len(part.fields), pk))
        at += len(part.fields)

    def read(row: Sequence[Any]) -> list[Any]:
        alias = connection.alias
        return [
            None if row[pk] is None else model.from_db(alias, fields, row[start:end])
            for model, fields, start, end, pk in slices
        ]

    return read
