"""Which schemas still have migrations to apply, found in one query per 500 schemas
(`apps.tenancy.schemas`).

django-tenants' `migrate_schemas` runs Django's whole `migrate` command in every schema,
even when there is nothing to do: tens of milliseconds per schema, minutes at a few
thousand tenants. A schema whose `django_migrations` table already lists every migration
on disk is up to date and can be skipped without entering it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import connection
from django.db.migrations.loader import MigrationLoader

from apps.tenancy.schemas import rows_per_schema

# pg_advisory_lock key: one migrate_schemas at a time.
MIGRATE_LOCK = 0x7E4A_0018


def expected_migrations() -> list[str]:
    """Every migration a fully migrated schema records ("app.name"). Django records every
    app's migrations in each schema, also those the router keeps out of it."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return sorted(f"{app}.{name}" for app, name in loader.graph.nodes)


def pending_schemas(schemas: Iterable[str], expected: list[str] | None = None) -> list[str]:
    """The schemas, in the order given, that lack at least one expected migration."""
    schemas = list(schemas)
    expected = expected if expected is not None else expected_migrations()
    counts = rows_per_schema(
        schemas,
        "django_migrations",
        "SELECT {name}, count(*) FROM {schema}.django_migrations "
        "WHERE app || '.' || name = ANY(%(expected)s)",
        {"expected": expected},
    )
    complete = {schema for schema, count in counts if count == len(expected)}
    return [s for s in schemas if s not in complete]


@contextmanager
def migrate_lock() -> Iterator[None]:
    """Held on a connection of its own, which survives the executors closing Django's (the
    parallel executor does, before it forks), so two deploys never migrate at once."""
    raw = connection.get_new_connection(connection.get_connection_params())
    try:
        raw.autocommit = True
        raw.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK])
        yield
    finally:
        raw.close()
