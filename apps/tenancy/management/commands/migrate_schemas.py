"""django-tenants' migrate_schemas, made fast when there is little to do.

- Tenants whose recorded migration state is current are skipped without reading their
  schemas; the others' schemas are read in lock-bounded batches and skipped when they
  already record every migration on disk (`apps.tenancy.migrating`). `--verify` reads
  every tenant schema that way, whatever its recorded state (a schema changed by hand).
- The rest are migrated by django-tenants' executors: the public schema first, alone;
  then tenant schemas, in parallel worker processes when more than one needs work
  (`MIGRATION_WORKERS`, each with its own connection).
- One run at a time (a PostgreSQL advisory lock), so two deploys never interleave.
- Afterwards the provisioning template for the new migration state is built, so the
  next tenant created does not wait for it.

Options that change what migrate does (an app label or target, --fake, --plan, --check,
--prune, --schema) and --no-skip go through django-tenants' command unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django_tenants.management.commands.migrate_schemas import (
    GET_EXECUTOR_FUNCTION,
    MigrateSchemasCommand,
)
from django_tenants.utils import get_tenant_model

from apps.tenancy import migrating, provisioning

PASS_THROUGH = (
    "app_label",
    "migration_name",
    "fake",
    "fake_initial",
    "plan",
    "check_unapplied",
    "prune",
    "schema_name",
    "run_syncdb",
)
# Runs that change nothing, or only what the migrations table says: no template either.
DRY_RUNS = ("plan", "check_unapplied", "fake", "fake_initial")


class Command(MigrateSchemasCommand):
    help = (
        "Migrate the public schema and every tenant schema, skipping those already up to "
        "date; tenant schemas with work run in parallel."
    )

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--no-skip",
            action="store_true",
            help="Run Django's migrate in every schema, as django-tenants does.",
        )
        parser.add_argument(
            "--verify",
            action="store_true",
            help="Read every tenant schema's migrations table, not only those whose "
            "recorded migration state is not current.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with migrating.migrate_lock():
            if options["no_skip"] or any(options.get(name) for name in PASS_THROUGH):
                super().handle(*args, **options)
            else:
                self._migrate_pending(*args, **options)
            if not any(options.get(name) for name in DRY_RUNS):
                provisioning.template_ensure(retry_unusable=True)

    def _migrate_pending(self, *args: Any, **options: Any) -> None:
        # SyncCommon.handle reads --shared/--tenant/--executor into attributes.
        super(MigrateSchemasCommand, self).handle(*args, **options)
        started = time.perf_counter()
        public = settings.PUBLIC_SCHEMA_NAME
        expected = migrating.expected_migrations()
        if self.sync_public and migrating.pending_schemas([public], expected):
            self._executor(1).run_migrations(tenants=[public])
        total = pending = 0
        if self.sync_tenant:
            total, todo = self._tenant_schemas(expected, verify=options["verify"])
            pending = len(todo)
            if todo:
                self._executor(len(todo)).run_migrations(tenants=todo)
                migrating.record_state(todo, provisioning.migration_state())
        if int(options.get("verbosity", 1)) >= 1:
            self.stdout.write(
                f"{total} tenant schemas: {pending} migrated, {total - pending} already up to "
                f"date ({time.perf_counter() - started:.2f}s)"
            )

    def _tenant_schemas(self, expected: list[str], *, verify: bool) -> tuple[int, list[str]]:
        """How many tenants there are, and the schemas with migrations to apply."""
        state = provisioning.migration_state()
        tenants = get_tenant_model().objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
        if verify:
            candidates = list(tenants.order_by("schema_name").values_list("schema_name", flat=True))
        else:
            candidates = migrating.unrecorded_schemas(state)
        todo = migrating.pending_schemas(candidates, expected)
        pending = set(todo)
        migrating.record_state((s for s in candidates if s not in pending), state)
        return tenants.count(), todo

    def _executor(self, count: int) -> Any:
        codename = self.executor
        if codename is None:
            parallel = count > 1 and settings.TENANT_MULTIPROCESSING_MAX_PROCESSES > 1
            codename = "multiprocessing" if parallel else "standard"
        executor_for = cast("Callable[..., Any]", GET_EXECUTOR_FUNCTION)
        return executor_for(codename=codename)(self.args, self.options)
