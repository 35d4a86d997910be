"""Provisioning from the recorded template, and migrate_schemas' skipping of up-to-date
schemas: a provisioned schema must be indistinguishable from a migrated one."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from apps.accounts.models import Membership, Role, User
from apps.chat.models import Channel
from apps.core.exceptions import Conflict, InvalidInput
from apps.tenancy import provisioning
from apps.tenancy.models import Domain, SchemaTemplate, Tenant
from apps.tenancy.provisioning import migration_state, schema_fingerprint
from apps.tenancy.services import tenant_provision
from tests.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]


def _migrated_the_slow_way(slug: str) -> Tenant:
    """A tenant whose schema django-tenants creates by running every migration."""
    tenant = Tenant(schema_name=slug, name=slug)
    tenant.save(verbosity=0)
    connection.set_schema_to_public()
    return tenant


def test_provisioned_schema_equals_a_migrated_one() -> None:
    _migrated_the_slow_way("slowway")
    tenant_provision(slug="fastway", name="Fast")

    migrated, provisioned = schema_fingerprint("slowway"), schema_fingerprint("fastway")

    assert provisioned == migrated
    # The comparison sees real objects: tables, their columns, constraints and indexes.
    tables = {name for name, kind, _ in provisioned["relations"] if kind == "r"}
    assert {"chat_channel", "chat_message", "chat_participant", "django_migrations"} <= tables
    assert any(c[1] == "message_channel_seq" for c in provisioned["constraints"])
    assert len(provisioned["migrations"]) > 5


def test_fingerprint_notices_a_difference() -> None:
    tenant_provision(slug="fpone", name="One")
    tenant_provision(slug="fptwo", name="Two")
    assert schema_fingerprint("fpone") == schema_fingerprint("fptwo")
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX extra_idx ON fptwo.chat_message (created_at)")
    assert schema_fingerprint("fpone") != schema_fingerprint("fptwo")


def test_provisioning_does_not_lock_out_readers_of_the_shared_tables() -> None:
    """Every request reads the accounts and tenants tables. Provisioning a tenant takes no
    lock that a reader holds up, nor one that would hold up readers until the new tenant
    commits (as creating and dropping the early migrations' foreign keys to those tables
    did: an exclusive lock on both)."""
    with psycopg.connect(database_url()) as reader:
        # A request in the middle of its transaction: it holds its read locks till the end.
        reader.execute(f"SELECT count(*) FROM {User._meta.db_table}")
        reader.execute(f"SELECT count(*) FROM {Tenant._meta.db_table}")
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")
        try:
            made = tenant_provision(slug="nolocks", name="No locks")
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")
        reader.rollback()
    assert schema_exists(made.tenant.schema_name)
    script = SchemaTemplate.objects.get(state=migration_state()).script
    assert 'REFERENCES "accounts_' not in script and 'REFERENCES "tenancy_' not in script


def test_the_template_writes_the_schema_in_its_final_form() -> None:
    recorded = [
        'CREATE TABLE "a" ("id" bigint NOT NULL PRIMARY KEY)',
        'CREATE TABLE "b" ("id" bigint NOT NULL PRIMARY KEY)',
        'ALTER TABLE "a" ADD CONSTRAINT "a_user_fk" FOREIGN KEY ("id") REFERENCES "accounts_user"',
        'ALTER TABLE "a" ADD COLUMN "n" integer DEFAULT 0 NOT NULL CHECK ("n" >= 0)',
        'ALTER TABLE "a" ALTER COLUMN "n" DROP DEFAULT',
        'SET CONSTRAINTS "a_user_fk" IMMEDIATE; ALTER TABLE "a" DROP CONSTRAINT "a_user_fk"',
        'ALTER TABLE "b" ADD COLUMN "a_id" bigint NULL CONSTRAINT "b_a_fk" REFERENCES "a" ("id")',
        'ALTER TABLE "b" ADD COLUMN "m" integer DEFAULT 0 NOT NULL',
    ]
    assert provisioning.condensed(recorded) == [
        'CREATE TABLE "a" ("id" bigint NOT NULL PRIMARY KEY, '
        '"n" integer DEFAULT 0 NOT NULL CHECK ("n" >= 0))',
        'CREATE TABLE "b" ("id" bigint NOT NULL PRIMARY KEY, "a_id" bigint NULL, '
        '"m" integer DEFAULT 0 NOT NULL)',
        'ALTER TABLE "a" ALTER COLUMN "n" DROP DEFAULT',
        # A column's foreign key stays where the column was added, under its own name.
        'ALTER TABLE "b" ADD CONSTRAINT "b_a_fk" FOREIGN KEY ("a_id") REFERENCES "a" ("id")',
    ]


def test_a_condensed_script_that_differs_gives_way_to_the_recording(
    monkeypatch: pytest.MonkeyPatch, acme: Tenant
) -> None:
    monkeypatch.setattr(provisioning, "migration_state", lambda: "2" * 64)
    monkeypatch.setattr(provisioning, "condensed", lambda statements: statements[:-3])
    template = provisioning.template_ensure()
    assert template.usable and 'REFERENCES "accounts_user"' in template.script
    tenant_provision(slug="asrecorded", name="As recorded")
    assert schema_fingerprint("asrecorded") == schema_fingerprint(acme.schema_name)


def test_provision_creates_domain_schema_and_first_admin(acme: Tenant) -> None:
    result = tenant_provision(slug="initech", name="Initech", admin_email="Boss@Initech.test")

    assert result.host == f"initech.{settings.BASE_DOMAIN}"
    assert Domain.objects.get(domain=result.host).tenant == result.tenant
    assert schema_exists("initech")
    admin = User.objects.get(email="boss@initech.test")
    assert Membership.objects.get(user=admin, tenant=result.tenant).role == Role.TENANT_ADMIN
    assert result.admin_password and admin.check_password(result.admin_password)
    # The new schema is usable, and empty.
    with schema_context("initech"):
        assert Channel.objects.count() == 0


def test_provision_reuses_an_existing_account(make_user: Any, acme: Tenant) -> None:
    person = make_user(acme, Role.PARTICIPANT, email="both@example.test")
    password_before = person.password

    result = tenant_provision(slug="second", name="Second", admin_email="both@example.test")

    assert result.admin == person and result.admin_password is None
    person.refresh_from_db()
    assert person.password == password_before
    assert Membership.objects.get(user=person, tenant=acme).role == Role.PARTICIPANT
    assert Membership.objects.get(user=person, tenant=result.tenant).role == Role.TENANT_ADMIN


@pytest.mark.parametrize("slug", ["A", "1abc", "a", "has-dash", "public", "x" * 41, ""])
def test_provision_refuses_bad_slugs(slug: str) -> None:
    before = Tenant.objects.count()
    with pytest.raises(InvalidInput):
        tenant_provision(slug=slug, name="Bad")
    assert Tenant.objects.count() == before


def test_provision_refuses_a_taken_slug_and_keeps_the_tenant(acme: Tenant) -> None:
    with pytest.raises(Conflict):
        tenant_provision(slug="acme", name="Impostor")
    acme.refresh_from_db()
    assert acme.name == "Acme"


def test_a_failed_provision_leaves_nothing(acme: Tenant) -> None:
    # The domain the new tenant needs is taken: the whole provisioning rolls back.
    Domain.objects.create(domain=f"clash.{settings.BASE_DOMAIN}", tenant=acme, is_primary=False)
    with pytest.raises(Conflict):
        tenant_provision(slug="clash", name="Clash", admin_email="new-admin@clash.test")
    assert not Tenant.objects.filter(schema_name="clash").exists()
    assert not schema_exists("clash")
    assert not User.objects.filter(email="new-admin@clash.test").exists()


def test_a_new_migration_state_builds_a_new_template(monkeypatch: pytest.MonkeyPatch) -> None:
    current = provisioning.template_ensure()
    monkeypatch.setattr(provisioning, "migration_state", lambda: "0" * 64)

    rebuilt = provisioning.template_ensure()

    assert rebuilt.state == "0" * 64 and rebuilt.usable and rebuilt.script
    # The previous state's template stays for workers of the previous release.
    assert SchemaTemplate.objects.filter(state=current.state).exists()
    tenant_provision(slug="afterdeploy", name="After")
    assert schema_fingerprint("afterdeploy")["relations"]


def test_a_slug_naming_an_existing_schema_is_refused() -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA squatter")
    with pytest.raises(Conflict) as refused:
        tenant_provision(slug="squatter", name="Squatter")
    assert refused.value.code == "schema_exists"
    assert not Tenant.objects.filter(schema_name="squatter").exists()


def test_a_failed_template_build_is_stored_unusable_and_retried(
    monkeypatch: pytest.MonkeyPatch, acme: Tenant
) -> None:
    from django.db import DatabaseError

    def broken(schema: str) -> list[str]:
        raise DatabaseError("syntax error at or near")

    monkeypatch.setattr(provisioning, "migration_state", lambda: "1" * 64)
    monkeypatch.setattr(provisioning, "migrate_recorded", broken)
    failed = provisioning.template_ensure()
    assert not failed.usable and "syntax error" in failed.problem
    # Provisioning still works, by running the migrations.
    tenant_provision(slug="despite", name="Despite")
    assert schema_fingerprint("despite") == schema_fingerprint(acme.schema_name)
    # migrate_schemas retries the build once the cause is gone.
    monkeypatch.undo()
    monkeypatch.setattr(provisioning, "migration_state", lambda: "1" * 64)
    assert provisioning.template_ensure(retry_unusable=True).usable


def test_an_unusable_template_falls_back_to_migrations(acme: Tenant) -> None:
    SchemaTemplate.objects.update(usable=False, script="")
    tenant_provision(slug="fallback", name="Fallback")
    assert schema_fingerprint("fallback") == schema_fingerprint(acme.schema_name)


def test_recording_refuses_work_that_was_rolled_back() -> None:
    recorder = provisioning._Recorder()

    def execute(*args: Any) -> None:
        return None

    recorder(execute, "CREATE TABLE t (id int)", None, False, {})
    with pytest.raises(provisioning.TemplateUnusable):
        recorder(execute, "ROLLBACK TO SAVEPOINT s1", None, False, {})
    recorder(execute, "SELECT 1", None, False, {})
    assert recorder.statements == ["CREATE TABLE t (id int)"]


# --- migrate_schemas -------------------------------------------------------------------


def _migrate(*args: str) -> str:
    out = io.StringIO()
    call_command("migrate_schemas", *args, stdout=out, stderr=io.StringIO())
    connection.set_schema_to_public()
    return out.getvalue()


def test_migrate_schemas_skips_up_to_date_schemas() -> None:
    count = Tenant.objects.exclude(schema_name="public").count()
    output = _migrate()
    assert f"{count} tenant schemas: 0 migrated, {count} already up to date" in output


def test_migrate_schemas_migrates_a_schema_that_needs_it(acme: Tenant) -> None:
    tenant = Tenant(schema_name="behind", name="Behind")
    tenant.auto_create_schema = False
    tenant.save()
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA behind")

    output = _migrate()

    assert "1 migrated" in output
    assert schema_fingerprint("behind") == schema_fingerprint(acme.schema_name)


def test_provisioning_records_the_schemas_migration_state() -> None:
    made = tenant_provision(slug="recorded", name="Recorded")
    assert made.tenant.migration_state == migration_state()
    made.tenant.refresh_from_db()
    assert made.tenant.migration_state == migration_state()


def test_a_no_op_migrate_reads_no_schema_whose_state_is_recorded(acme: Tenant) -> None:
    _migrate()  # every tenant's state recorded
    statements: list[str] = []

    def watch(execute, sql_text, params, many, context):  # type: ignore[no-untyped-def]
        statements.append(sql_text)
        return execute(sql_text, params, many, context)

    with connection.execute_wrapper(watch):
        output = _migrate()

    assert "0 migrated" in output
    assert not any('"acme".django_migrations' in text for text in statements)


def test_verify_reads_the_schemas_and_finds_one_changed_by_hand(acme: Tenant) -> None:
    _migrate()
    with connection.cursor() as cursor:  # a record removed by hand (a shared app: no DDL here)
        cursor.execute("SELECT max(name) FROM acme.django_migrations WHERE app = 'records'")
        (latest,) = cursor.fetchone()
        cursor.execute(
            "DELETE FROM acme.django_migrations WHERE app = 'records' AND name = %s", [latest]
        )
    assert "0 migrated" in _migrate()  # the recorded state says acme is up to date

    output = _migrate("--verify")

    assert "1 migrated" in output
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM acme.django_migrations WHERE app = 'records' AND name = %s",
            [latest],
        )
        assert cursor.fetchone()[0] == 1
    assert "0 migrated" in _migrate()


PARALLEL_SLUGS = ["parone", "partwo", "parthree"]


@pytest.fixture(scope="module")
def committed_empty_tenants(django_db_blocker: Any) -> Any:
    """Three committed tenants whose schemas exist but are empty (a server process cannot
    see a test's transaction)."""
    with django_db_blocker.unblock():
        for slug in PARALLEL_SLUGS:
            tenant = Tenant(schema_name=slug, name=slug)
            tenant.auto_create_schema = False
            tenant.save()
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE SCHEMA {slug}")
        yield PARALLEL_SLUGS
        connection.set_schema_to_public()
        for tenant in Tenant.objects.filter(schema_name__in=PARALLEL_SLUGS):
            tenant.delete(force_drop=True)


@pytest.mark.skipif(
    settings.TENANT_MULTIPROCESSING_MAX_PROCESSES < 2, reason="one migration worker"
)
def test_migrate_schemas_migrates_many_schemas_in_parallel(
    committed_empty_tenants: list[str],
) -> None:
    """A real run in its own process: the parallel executor forks worker processes, each
    migrating schemas on its own connection."""
    env = {**os.environ, "DATABASE_URL": database_url()}
    run = subprocess.run(
        [sys.executable, "manage.py", "migrate_schemas", "-v", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    assert "multiprocessing:parthree" in run.stdout
    assert "3 migrated" in run.stdout
    reference = schema_fingerprint("acme")
    for slug in committed_empty_tenants:
        assert schema_fingerprint(slug) == reference


def test_provision_tenant_command_prints_the_host() -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "provision_tenant",
        "cmdco",
        "--name",
        "Command Co",
        "--admin-email",
        "owner@cmdco.test",
        stdout=out,
        stderr=err,
    )
    assert out.getvalue().strip() == f"cmdco.{settings.BASE_DOMAIN}"
    assert "owner@cmdco.test" in err.getvalue() and "initial password" in err.getvalue()
    tenant = Tenant.objects.get(schema_name="cmdco")
    assert tenant.name == "Command Co"
    assert Membership.objects.get(tenant=tenant).role == Role.TENANT_ADMIN

    with pytest.raises(CommandError, match="already exists"):
        call_command(
            "provision_tenant", "cmdco", "--name", "Again", "--admin-email", "x@cmdco.test"
        )
    with pytest.raises(CommandError, match="slug"):
        call_command("provision_tenant", "Bad!", "--name", "Bad", "--admin-email", "x@bad.test")


CONCURRENT_SLUGS = ["conca", "concb", "concc", "concd"]


@pytest.fixture(scope="module")
def provisioned_concurrently(django_db_blocker: Any) -> Any:
    """Four tenants provisioned at once from four threads, each on its own connection,
    committed; and the same slug twice at once."""
    import threading

    results: dict[str, Any] = {}

    def provision(key: str, slug: str) -> None:
        try:
            results[key] = tenant_provision(slug=slug, name=slug).host
        except Exception as exc:  # the test looks at what happened
            results[key] = exc
        finally:
            connection.close()

    with django_db_blocker.unblock():
        provisioning.template_ensure()
        jobs = [(slug, slug) for slug in CONCURRENT_SLUGS] + [("twice", "conca")]
        threads = [threading.Thread(target=provision, args=job) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        yield results
        connection.set_schema_to_public()
        for tenant in Tenant.objects.filter(schema_name__in=CONCURRENT_SLUGS):
            tenant.delete(force_drop=True)


def test_concurrent_provisioning_neither_deadlocks_nor_duplicates(
    provisioned_concurrently: dict[str, Any],
) -> None:
    hosts = [provisioned_concurrently[slug] for slug in CONCURRENT_SLUGS]
    losers = [v for v in [hosts[0], provisioned_concurrently["twice"]] if isinstance(v, Exception)]
    assert len(losers) == 1 and isinstance(losers[0], Conflict)
    assert all(isinstance(h, str) for h in hosts[1:])
    assert Tenant.objects.filter(schema_name__in=CONCURRENT_SLUGS).count() == 4
    for slug in CONCURRENT_SLUGS:
        assert schema_fingerprint(slug) == schema_fingerprint("acme")
