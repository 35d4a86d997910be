"""The default connection as what it is at run time: django-tenants' PostgreSQL backend,
which adds the schema methods (`set_schema`, `set_schema_to_public`, ...)."""

from __future__ import annotations

from typing import cast

from django.db import connection
from django_tenants.postgresql_backend.base import DatabaseWrapper


def tenant_connection() -> DatabaseWrapper:
    return cast(DatabaseWrapper, connection)
