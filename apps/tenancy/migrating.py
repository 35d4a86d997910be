"""Which schemas still have migrations to apply.

django-tenants' `migrate_schemas` runs Django's whole `migrate` command in every schema,
even when there is nothing to do: tens of milliseconds per schema, minutes at a few
thousand tenants. Each tenant row records the migration state its schema was provisioned
or migrated to (`Tenant.migration_state`); a tenant at the current state is up to date
without its schema being read. The others' (and with `--verify`, every) schema's
`django_migrations` table is read in lock-bounded batches (`apps.tenancy.schemas`): one
that already lists every migration on disk is up to date, and its state is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from apps.tenancy.models import Tenant
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


def unrecorded_schemas(state: str) -> list[str]:
    """Tenant schemas, by name, whose recorded migration state is not `state`."""
    return list(
        Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        .exclude(migration_state=state)
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )


def record_state(schemas: Iterable[str], state: str) -> None:
    schemas = list(schemas)
    for start in range(0, len(schemas), 1000):
        Tenant.objects.filter(schema_name__in=schemas[start : start + 1000]).update(
            migration_state=state
        )


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
