"""Creating a tenant's schema in milliseconds, however many tenants there are.

django-tenants creates a schema by running every migration in it: hundreds of
milliseconds per tenant, more with every migration the project adds. Here the migrations
run once per *migration state* (the exact set of migration files on disk): in a scratch
schema, with every state-changing statement they execute recorded. The recording is then
replayed into a second scratch schema, and both schemas' catalogs must be equal before the
script is stored (`SchemaTemplate`); a script that fails that check is stored as unusable
and provisioning falls back to running the migrations. A new tenant's schema is the stored
script, sent in one round trip inside the provisioning transaction: no migration graph,
no introspection, no per-migration savepoints, and nothing half-made if any step fails.

`migrate_schemas` builds the template for the new state after it migrates, so the first
tenant provisioned after a deploy does not pay for it either.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from django_tenants.utils import get_tenant_base_migrate_command_class
from psycopg import sql

from apps.core.db import tenant_connection
from apps.tenancy.models import SchemaTemplate

logger = logging.getLogger(__name__)

TEMPLATE_KEEP = timedelta(days=30)
# pg_advisory_lock key: one template build at a time across processes.
TEMPLATE_LOCK = 0x7E4A_0017
# Statements a migration run sends that change nothing in the schema.
_READ_OR_CONTROL = re.compile(
    r"^\s*(SELECT|SHOW|SAVEPOINT|RELEASE\s+SAVEPOINT|SET\s+search_path)\b", re.IGNORECASE
)
_ROLLBACK_TO = re.compile(r"^\s*ROLLBACK\s+TO\s+SAVEPOINT\b", re.IGNORECASE)
_STATE_CHANGING_SELECT = re.compile(r"\b(setval|nextval)\s*\(", re.IGNORECASE)
# Between statements: the newline ends a trailing `--` comment before the semicolon.
SEPARATOR = "\n;\n"
# pg_advisory_xact_lock key: tenants are provisioned one at a time. Replaying DDL that
# references public tables takes locks on them after the tenant row's insert; two
# provisioning transactions interleaving would deadlock.
PROVISION_LOCK = 0x7E4A_0019


class TemplateUnusable(Exception):
    """The recording cannot stand in for running the migrations."""


@lru_cache(maxsize=1)
def migration_state() -> str:
    """A digest of every migration file on disk (and Django's version). Changes whenever a
    migration is added or edited, so a stale script is never replayed."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    digest = hashlib.sha256(f"django {django.get_version()}".encode())
    for app_label, name in sorted(loader.disk_migrations):
        module = sys.modules[loader.disk_migrations[app_label, name].__module__]
        digest.update(f"\0{app_label}.{name}\0".encode())
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()


# --- recording ---------------------------------------------------------------------------


class _Recorder:
    """A connection execute wrapper that keeps every statement that changes state, with its
    parameters bound into the text."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(
        self, execute: Callable[..., Any], sql_text: str, params: Any, many: bool, context: Any
    ) -> Any:
        result = execute(sql_text, params, many, context)
        if _ROLLBACK_TO.match(sql_text):
            raise TemplateUnusable("A migration rolled back part of its work.")
        if _READ_OR_CONTROL.match(sql_text) and not _STATE_CHANGING_SELECT.search(sql_text):
            return result
        for one in params if many else [params]:
            self.statements.append(tenant_connection().ops.compose_sql(sql_text, one))
        return result


def _run_migrations(schema: str) -> None:
    """What django-tenants does for a new schema: the recorder's table in the schema
    itself, then Django's migrate with the schema first on the search path."""
    tenant_connection().set_schema(schema, include_public=False)
    MigrationRecorder(connection).ensure_schema()
    tenant_connection().set_schema(schema)
    try:
        call_command(
            get_tenant_base_migrate_command_class()(),
            interactive=False,
            verbosity=0,
            skip_checks=True,
        )
    finally:
        tenant_connection().set_schema_to_public()


def migrate_recorded(schema: str) -> list[str]:
    """Creates `schema` by running the migrations; returns the statements they ran that
    changed something, in order: replayed, they recreate it."""
    recorder = _Recorder()
    _create_schema(schema)
    with connection.execute_wrapper(recorder):
        _run_migrations(schema)
    if any(schema in statement for statement in recorder.statements):
        raise TemplateUnusable("A migration names its schema explicitly.")
    return recorder.statements


def condensed(statements: list[str]) -> list[str]:
    """The same schema in fewer, cheaper steps: constraints a later migration drops left
    out with their drops, and columns added to a table the script creates written into
    its `CREATE TABLE`. Only a candidate: the build keeps it if the schema it makes
    equals the migrated one."""
    return _without_undone_constraints(_with_columns_in_create(statements))


_ADD_CONSTRAINT = re.compile(
    r'^\s*ALTER TABLE (?P<table>"[^"]+") ADD CONSTRAINT (?P<name>"[^"]+") ', re.IGNORECASE
)
_DROP_CONSTRAINT = re.compile(
    r'^\s*(?:SET CONSTRAINTS "[^"]+" IMMEDIATE;\s*)?'
    r'ALTER TABLE (?P<table>"[^"]+") DROP CONSTRAINT (?P<name>"[^"]+")\s*$',
    re.IGNORECASE,
)


def _without_undone_constraints(statements: list[str]) -> list[str]:
    """The recording less each constraint a later migration drops again, and its drop,
    when nothing in between names it. Foreign keys to public tables (users, tenants),
    added by the first migrations and dropped by later ones, would otherwise make every
    provisioning create and then remove triggers on those shared tables: an exclusive
    lock on the accounts and tenants tables, which every request reads, until the new
    tenant commits. (The replayed schema is still compared with the migrated one.)"""
    added: dict[tuple[str, str], int] = {}
    undone: set[int] = set()
    for i, statement in enumerate(statements):
        if match := _ADD_CONSTRAINT.match(statement):
            added[match["table"], match["name"]] = i
            continue
        match = _DROP_CONSTRAINT.match(statement)
        start = added.pop((match["table"], match["name"]), None) if match else None
        if match and start is not None:
            between = statements[start + 1 : i]
            if not any(match["name"] in other for other in between):
                undone |= {start, i}
    return [statement for i, statement in enumerate(statements) if i not in undone]


_CREATE_TABLE = re.compile(r'^\s*CREATE TABLE (?P<table>"[^"]+") \(', re.IGNORECASE)
_ADD_COLUMN = re.compile(
    r'^\s*ALTER TABLE (?P<table>"[^"]+") ADD COLUMN (?P<column>.+?)\s*$',
    re.IGNORECASE | re.DOTALL,
)


_INLINE_REFERENCE = re.compile(
    r'^(?P<column>"[^"]+") (?P<type>[^"]+?) CONSTRAINT (?P<name>"[^"]+") '
    r"REFERENCES (?P<target>.+)$",
    re.DOTALL,
)


def _with_columns_in_create(statements: list[str]) -> list[str]:
    """Each `ADD COLUMN` to a table created earlier in the script moved into that table's
    `CREATE TABLE`, in order, so the columns get the numbers they would have had; a
    column's foreign key stays where the column was added. Adding a NOT NULL or
    defaulted column to an existing table makes PostgreSQL look through the catalogs for
    uses of the table's row type, which costs more the more tenants the database holds
    (12-25 ms each at 4,000-7,000 tenants, eleven such columns per tenant)."""
    created: dict[str, int] = {}
    out = list(statements)
    moved: set[int] = set()
    for i, statement in enumerate(statements):
        if match := _CREATE_TABLE.match(statement):
            if statement.rstrip().endswith(")"):
                created[match["table"]] = i
            continue
        match = _ADD_COLUMN.match(statement)
        if not match or match["table"] not in created:
            continue
        column = match["column"]
        if "REFERENCES" in column:
            # The column moves; its foreign key (the other table may not exist yet at the
            # CREATE TABLE) stays here, as a constraint of its own with the same name.
            reference = _INLINE_REFERENCE.match(column)
            if reference is None:  # stays as it is, and so do the table's later columns
                del created[match["table"]]
                continue
            column = f"{reference['column']} {reference['type']}"
            out[i] = (
                f"ALTER TABLE {match['table']} ADD CONSTRAINT {reference['name']} "
                f"FOREIGN KEY ({reference['column']}) REFERENCES {reference['target']}"
            )
        else:
            moved.add(i)
        at = created[match["table"]]
        out[at] = f"{out[at].rstrip()[:-1]}, {column})"
    return [statement for i, statement in enumerate(out) if i not in moved]


# --- replaying ---------------------------------------------------------------------------


def _create_schema(schema: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)).as_string())


def drop_schema(schema: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)).as_string()
        )


def replay(schema: str, script: str) -> None:
    """Creates `schema` from a recorded script, in the caller's transaction, with the
    search path the migrations ran with (the schema, then public). The script goes in
    one round trip: without parameters, Django's client-side-binding psycopg cursor sends
    it as one simple query, however many statements it holds."""
    if not connection.in_atomic_block:
        raise RuntimeError("replay runs inside the provisioning transaction")
    _create_schema(schema)
    search_path = sql.SQL("SELECT set_config('search_path', {}, true)").format(
        sql.Literal(
            f"{sql.Identifier(schema).as_string()}, "
            f"{sql.Identifier(settings.PUBLIC_SCHEMA_NAME).as_string()}"
        )
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path')")
        (previous,) = cursor.fetchone()
        cursor.execute(search_path.as_string())
        cursor.execute(script)  # on failure the transaction, search path included, rolls back
        cursor.execute("SELECT set_config('search_path', %s, true)", [previous])


def schema_create(schema: str, template: SchemaTemplate) -> None:
    """The new tenant's schema, in the caller's transaction: replayed from the template,
    or, when the template is unusable, by running the migrations (as django-tenants
    would, without going through migrate_schemas and its lock)."""
    if template.usable:
        replay(schema, template.script)
        return
    _create_schema(schema)
    _run_migrations(schema)


def provision_lock() -> None:
    """Held until the caller's transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PROVISION_LOCK])


# --- the template ------------------------------------------------------------------------


@contextmanager
def _template_lock() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [TEMPLATE_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [TEMPLATE_LOCK])


def template_ensure(*, retry_unusable: bool = False) -> SchemaTemplate:
    """The template for the current migration state, built (once, under a lock shared by
    every process) when missing; with `retry_unusable`, also rebuilt when an earlier
    build failed. Call it outside any transaction, so other processes see the result."""
    state = migration_state()
    template = SchemaTemplate.objects.filter(state=state).first()
    if template is not None and (template.usable or not retry_unusable):
        return template
    with _template_lock():
        template = SchemaTemplate.objects.filter(state=state).first()
        if template is None or (retry_unusable and not template.usable):
            template = _template_build(state)
    return template


def _template_build(state: str) -> SchemaTemplate:
    migrated, replayed = f"_tpl_{state[:20]}", f"_tplcheck_{state[:20]}"
    for schema in (migrated, replayed):
        drop_schema(schema)
    script, usable, problem = "", False, ""
    try:
        with transaction.atomic():
            statements = migrate_recorded(migrated)
            migrated_fingerprint = schema_fingerprint(migrated)
            # The condensed script if it makes the same schema, else the recording as is.
            for candidate in (condensed(statements), statements):
                script = SEPARATOR.join(candidate)
                with transaction.atomic():
                    replay(replayed, script)
                    usable = schema_fingerprint(replayed) == migrated_fingerprint
                    transaction.set_rollback(True)
                if usable:
                    break
            if not usable:
                problem = "the replayed schema differs from the migrated one"
            transaction.set_rollback(True)  # neither scratch schema is kept
    except (TemplateUnusable, DatabaseError) as exc:
        usable, problem = False, f"{type(exc).__name__}: {exc}"
    finally:
        tenant_connection().set_schema_to_public()
    if not usable:
        logger.error("Schema template unusable (%s); provisioning runs migrations.", problem)
    template, _ = SchemaTemplate.objects.update_or_create(
        state=state,
        defaults={"script": script if usable else "", "usable": usable, "problem": problem},
    )
    # Older states' templates stay a while: during a rolling deploy, workers of the
    # previous release may still provision with theirs.
    SchemaTemplate.objects.filter(created_at__lt=timezone.now() - TEMPLATE_KEEP).delete()
    return template


# --- comparing schemas -------------------------------------------------------------------

_CATALOG_QUERIES = {
    "relations": """
        SELECT c.relname, c.relkind, c.relpersistence
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s ORDER BY 1""",
    "columns": """
        SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, a.attidentity, a.attgenerated, a.attisdropped,
               pg_get_expr(d.adbin, d.adrelid), a.attcollation::regcollation::text
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = %(schema)s AND a.attnum > 0 ORDER BY 1, 2""",
    "constraints": """
        SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid),
               k.condeferrable, k.condeferred
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s ORDER BY 1, 2""",
    "indexes": """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname = %(schema)s ORDER BY 1, 2""",
    "sequences": """
        SELECT sequencename, data_type::text, start_value, increment_by, min_value,
               max_value, cycle
        FROM pg_sequences WHERE schemaname = %(schema)s ORDER BY 1""",
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND NOT t.tgisinternal ORDER BY 1, 2""",
}


def schema_fingerprint(schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the catalog says about a schema's objects, with the schema's own name
    replaced, plus the migrations it records as applied: equal fingerprints mean two
    schemas a tenant cannot tell apart."""

    def neutral(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(f'"{schema}".', "<schema>.").replace(f"{schema}.", "<schema>.")
        return value

    result: dict[str, list[tuple[Any, ...]]] = {}
    with connection.cursor() as cursor:
        for name, query in _CATALOG_QUERIES.items():
            cursor.execute(query, {"schema": schema})
            result[name] = [tuple(neutral(v) for v in row) for row in cursor.fetchall()]
        cursor.execute(
            sql.SQL("SELECT app, name FROM {}.django_migrations ORDER BY 1, 2")
            .format(sql.Identifier(schema))
            .as_string()
        )
        result["migrations"] = cursor.fetchall()
    return result
