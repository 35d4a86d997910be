"""Reading one table across many tenant schemas in one statement."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.chat.models import Channel
from apps.platform import recount as recount_module
from apps.tenancy import schemas
from apps.tenancy.models import Tenant
from apps.tenancy.services import tenant_provision

COUNT = "SELECT {name}, count(*) FROM {schema}.chat_channel"


def test_rows_per_schema_reads_each_schema(acme: Tenant, make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user(acme)
    with schema_context("acme"):
        Channel.objects.create(type="TEAM", created_by=user)
    rows = dict(schemas.rows_per_schema(["acme", "globex"], "chat_channel", COUNT))
    assert rows == {"acme": 1, "globex": 0}


def test_missing_schemas_are_left_out() -> None:
    rows = dict(schemas.rows_per_schema(["acme", "nosuchschema"], "chat_channel", COUNT))
    assert set(rows) == {"acme"}


def test_a_schema_dropped_between_listing_and_reading_is_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = schemas.with_table
    calls = []

    def stale_first(names, table):  # type: ignore[no-untyped-def]
        calls.append(list(names))
        found = real(names, table)
        return found + ["droppedmeanwhile"] if len(calls) == 1 else found

    monkeypatch.setattr(schemas, "with_table", stale_first)
    rows = dict(schemas.rows_per_schema(["acme", "globex"], "chat_channel", COUNT))
    assert set(rows) == {"acme", "globex"} and len(calls) == 2


# --- lock-bounded batches ------------------------------------------------------------------

_SCHEMA_IN_STATEMENT = re.compile(r'FROM "([a-z0-9_]+)"\.')


def _locks_on(schemas_named: set[str]) -> int:
    """Locks this session holds on relations of the given schemas (tables and indexes)."""
    raw = connection.connection
    row = raw.execute(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE l.pid = pg_backend_pid() AND n.nspname = ANY(%s)",
        [list(schemas_named)],
    ).fetchone()
    return int(row[0])


LOCK_SLUGS = [f"lockb{i}" for i in range(7)]


@pytest.fixture(scope="module")
def committed_tenants(django_db_blocker: Any) -> Any:
    """Tenants committed before the test, so that the test's transaction holds no lock
    on their schemas but those the reads take."""
    with django_db_blocker.unblock():
        for slug in LOCK_SLUGS:
            tenant_provision(slug=slug, name=slug)
        yield LOCK_SLUGS
        connection.set_schema_to_public()
        for tenant in Tenant.objects.filter(schema_name__in=LOCK_SLUGS):
            tenant.delete(force_drop=True)


def test_many_schema_reads_hold_no_more_locks_than_the_budget(
    committed_tenants: list[str],
) -> None:
    """Each statement over many schemas, and the recount batch around it, locks at most
    LOCK_BUDGET relations of those schemas: with every one of PostgreSQL's default 100
    connections doing the same, its default 64 locks per transaction would not run out."""
    slugs = committed_tenants
    per_statement: list[tuple[int, int]] = []

    def watch(execute, sql_text, params, many, context):  # type: ignore[no-untyped-def]
        result = execute(sql_text, params, many, context)
        named = set(_SCHEMA_IN_STATEMENT.findall(sql_text)) & set(slugs)
        if "UNION ALL" in sql_text or len(named) == 1:
            per_statement.append((len(named), _locks_on(named)))
        return result

    tables = recount_module.TABLES
    size = recount_module.batch_size()
    assert size * (schemas.locks_per_schema(tables) + len(tables)) <= schemas.LOCK_BUDGET
    with connection.execute_wrapper(watch):
        for batch in schemas.batches(slugs, size):
            recount_module.recount_batch(list(Tenant.objects.filter(schema_name__in=batch)))
            # Everything the batch's transaction holds on its schemas (here the test's
            # transaction goes on; recount commits after each batch).
            assert _locks_on(set(batch)) <= schemas.LOCK_BUDGET
    assert len(per_statement) >= 2
    # More than one schema per statement (batched, not one query per tenant), and more
    # than one statement (7 schemas do not fit one batch's locks).
    assert max(n for n, _ in per_statement) > 1
    for _, locks in per_statement:
        assert locks <= schemas.LOCK_BUDGET
    # The prediction the batch size rests on (with the SHARE locks taken before the
    # read) is not an underestimate.
    predicted = schemas.locks_per_schema(tables) + len(tables)
    assert max(locks / n for n, locks in per_statement if n) <= predicted


def test_schema_lookups_do_not_scan_pg_class() -> None:
    assert schemas.schema_exists("acme") and not schemas.schema_exists("nosuchschema")
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN SELECT s FROM unnest(%s::text[]) AS s "
            "WHERE to_regclass(format('%%I.%%I', s, 'chat_channel')) IS NOT NULL",
            [["acme", "globex"]],
        )
        plan = " ".join(row[0] for row in cursor.fetchall())
    assert "pg_class" not in plan
