"""The default connection as what it is at run time: django-tenants' PostgreSQL backend,
which adds the schema methods (`set_schema`, `set_schema_to_public`, ...)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from django.db import connection
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
