"""Reading the same tables in many tenant schemas: one UNION ALL statement per batch of
schemas, never one query per tenant, and never more locks at a time than the lock table
can spare.

Every relation a statement touches stays locked until its transaction ends, and planning
a query locks each table it reads *and every index of that table*. PostgreSQL's lock
table holds `max_locks_per_transaction` (64 by default) × `max_connections` (100)
entries, shared by all sessions: a statement over 500 schemas took thousands of them and
failed other sessions with "out of shared memory". A batch here holds at most
`LOCK_BUDGET` locks, so every connection could run one at once and the table would
still not fill. Callers that keep a transaction open across batches hold the locks of
all of them; they must commit between batches (as `recount` does).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from django.db import ProgrammingError, connection, transaction
from psycopg import sql

# PostgreSQL's default max_locks_per_transaction, less a margin for the public tables the
# same transaction touches.
DEFAULT_MAX_LOCKS_PER_TRANSACTION = 64
LOCK_BUDGET = DEFAULT_MAX_LOCKS_PER_TRANSACTION - 14


def with_table(schemas: Iterable[str], table: str) -> list[str]:
    """The given schemas, in order, that hold `table`. One `to_regclass` per schema: an
    index lookup in the catalog cache, never a scan of pg_class, and no lock taken."""
    schemas = list(schemas)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s FROM unnest(%s::text[]) AS s "
            "WHERE to_regclass(format('%%I.%%I', s, %s::text)) IS NOT NULL",
            [schemas, table],
        )
        present = {row[0] for row in cursor.fetchall()}
    return [s for s in schemas if s in present]


def schema_exists(schema: str) -> bool:
    """Looked up by name in pg_namespace's index (django-tenants' lookup lowercases the
    name, which scans the whole catalog)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regnamespace(%s) IS NOT NULL", [_quoted(schema)])
        (exists,) = cursor.fetchone()
    return bool(exists)


def _quoted(schema: str) -> str:
    return sql.Identifier(schema).as_string()


def locks_per_schema(tables: Sequence[str]) -> int:
    """Relations a statement reading `tables` in one schema locks: each table and each of
    its indexes (TOAST tables are locked only when a value is read out of them, and
    then one more each). Counted in the public schema's copy when it has the tables."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM unnest(%s::text[]) AS t "
            "LEFT JOIN pg_index i ON i.indrelid = to_regclass(format('public.%%I', t))",
            [list(tables)],
        )
        (indexes_and_bare_tables,) = cursor.fetchone()
    # A table appears once per index (once if it has none); add each table itself.
    return int(indexes_and_bare_tables) + len(tables)


def batch_size(tables: Sequence[str], *, extra_per_schema: int = 0) -> int:
    """Schemas per statement reading `tables`, within `LOCK_BUDGET`; `extra_per_schema`:
    more locks the caller takes in each schema (a LOCK TABLE in another mode is one more
    per table)."""
    return max(1, LOCK_BUDGET // max(1, locks_per_schema(tables) + extra_per_schema))


T = TypeVar("T")


def batches(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _run(query: sql.Composable, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(query.as_string(), params)
        return cursor.fetchall()


def rows_per_schema(
    schemas: Iterable[str],
    table: str,
    part: str,
    params: Mapping[str, Any] | None = None,
    *,
    tables: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """`part` is one SELECT with `{name}` (the schema's name as a literal) and `{schema}`
    (its identifier) in it, run for every given schema that holds `table`, in batches
    within the lock budget (`tables`: every table `part` reads, when more than `table`).
    Without a transaction open, each batch is its own, so its locks go when it ends.
    A schema dropped meanwhile (a tenant deleted) is left out rather than failing."""
    params = params or {}
    template = sql.SQL(part)
    rows: list[tuple[Any, ...]] = []
    present = with_table(schemas, table)
    for batch in batches(present, batch_size(tables or [table])):
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
