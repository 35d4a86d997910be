"""Reading the same table in many tenant schemas: one UNION ALL statement per 500
schemas, never one query per tenant."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import ProgrammingError, connection, transaction
from psycopg import sql

BATCH = 500


def with_table(schemas: Iterable[str], table: str) -> list[str]:
    """The given schemas, in order, that hold `table`."""
    schemas = list(schemas)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relname = %s AND c.relkind IN ('r', 'p') AND n.nspname = ANY(%s)""",
            [table, schemas],
        )
        present = {row[0] for row in cursor.fetchall()}
    return [s for s in schemas if s in present]


def _run(query: sql.Composable, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    with transaction.atomic(), connection.cursor() as cursor:  # a savepoint inside a transaction
        cursor.execute(query.as_string(), params)
        return cursor.fetchall()


def rows_per_schema(
    schemas: Iterable[str], table: str, part: str, params: Mapping[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    """`part` is one SELECT with `{name}` (the schema's name as a literal) and `{schema}`
    (its identifier) in it, run for every given schema that holds `table`. A schema
    dropped meanwhile (a tenant deleted) is left out rather than failing the read."""
    params = params or {}
    template = sql.SQL(part)
    rows: list[tuple[Any, ...]] = []
    present = with_table(schemas, table)
    for start in range(0, len(present), BATCH):
        batch = present[start : start + BATCH]
        for attempt in (1, 2):
            query = sql.SQL(" UNION ALL ").join(
                template.format(name=sql.Literal(s), schema=sql.Identifier(s)) for s in batch
            )
            try:
                rows.extend(_run(query, params))
                break
            except ProgrammingError:
                if attempt == 2:
                    raise
                batch = with_table(batch, table)
    return rows
