"""Which schemas still have migrations to apply, found in one query per 500 schemas.

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
from psycopg import sql

BATCH = 500
# pg_advisory_lock key: one migrate_schemas at a time.
MIGRATE_LOCK = 0x7E4A_0018


def expected_migrations() -> list[str]:
    """Every migration a fully migrated schema records ("app.name"). Django records every
    app's migrations in each schema, also those the router keeps out of it."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return sorted(f"{app}.{name}" for app, name in loader.graph.nodes)


def _with_recorder_table(schemas: list[str]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relname = 'django_migrations' AND c.relkind = 'r'
              AND n.nspname = ANY(%s)""",
            [schemas],
        )
        return {row[0] for row in cursor.fetchall()}


def pending_schemas(schemas: Iterable[str], expected: list[str] | None = None) -> list[str]:
    """The schemas, in the order given, that lack at least one expected migration."""
    schemas = list(schemas)
    expected = expected if expected is not None else expected_migrations()
    recorded = _with_recorder_table(schemas)
    complete: set[str] = set()
    candidates = [s for s in schemas if s in recorded]
    for start in range(0, len(candidates), BATCH):
        batch = candidates[start : start + BATCH]
        query = sql.SQL(" UNION ALL ").join(
            sql.SQL(
                "SELECT {name}, count(*) FROM {schema}.django_migrations "
                "WHERE app || '.' || name = ANY(%(expected)s)"
            ).format(name=sql.Literal(schema), schema=sql.Identifier(schema))
            for schema in batch
        )
        with connection.cursor() as cursor:
            cursor.execute(query.as_string(), {"expected": expected})
            complete.update(s for s, count in cursor.fetchall() if count == len(expected))
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
