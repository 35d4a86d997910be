"""Tenant provisioning and migrate_schemas as the number of tenants grows to 1,000.
Prints one JSON object per line.

    python bench/provisioning.py [--tenants 1000] [--sample 20]

- provision: milliseconds per tenant with the recorded template (tenant, schema, domain,
  first admin membership), for the 1st, the 2nd-100th and the 901st-1000th tenant;
- provision_migrations: the same with django-tenants' default (every migration run in the
  new schema), `--sample` tenants at the start and at the end;
- migrate_noop: `manage.py migrate_schemas` with nothing to apply at 1, 100 and 1,000
  tenants (whole command, in a fresh process), ours and django-tenants' (--no-skip);
- console_figures, console_tenant_page: the console's platform figures (counted over
  every tenant schema) and a page of 50 tenants with their counts, at 1,000 tenants;
- migrate_real: 50 tenants' schemas emptied and migrated, one worker vs parallel workers.

Uses a `tenantchat_bench_provisioning` database on the local server (127.0.0.1:5432),
dropped and created at every run, or `DATABASE_URL`'s server with that database name.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x").rsplit("/", 1)[0]
DATABASE = "tenantchat_bench_provisioning"
os.environ["DATABASE_URL"] = f"{SERVER}/{DATABASE}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def fresh_database() -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def summary(times_ms: list[float]) -> dict[str, float]:
    ordered = sorted(times_ms)
    return {
        "n": len(ordered),
        "mean_ms": round(statistics.fmean(ordered), 2),
        "p50_ms": round(ordered[len(ordered) // 2], 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2),
    }


def manage(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True, capture_output=True)
    return round(time.perf_counter() - started, 3)


def migrate_noop(tenants: int) -> None:
    manage("migrate_schemas", "-v", "0")  # warm the page cache
    ours = min(manage("migrate_schemas", "-v", "0") for _ in range(3))
    stock = manage("migrate_schemas", "--no-skip", "-v", "0")
    emit(
        bench="migrate_noop",
        tenants=tenants,
        ours_s=ours,
        django_tenants_s=stock,
        speedup=round(stock / ours, 1),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=20)
    options = parser.parse_args()

    fresh_database()
    manage("migrate_schemas", "-v", "0")  # public schema, and the template

    import django

    django.setup()
    from django.db import connection

    from apps.accounts.services import user_create
    from apps.tenancy.models import Tenant
    from apps.tenancy.services import public_tenant_ensure, tenant_provision

    public_tenant_ensure()
    admin = user_create(email="admin@bench.test", password="x" * 12, display_name="Admin")

    def by_migrations(prefix: str) -> list[float]:
        times = []
        for i in range(options.sample):
            started = time.perf_counter()
            Tenant(schema_name=f"{prefix}{i}", name="Migrated").save(verbosity=0)
            times.append((time.perf_counter() - started) * 1000)
            connection.set_schema_to_public()
        return times

    emit(bench="provision_migrations", at_tenants=0, **summary(by_migrations("early")))
    for tenant in Tenant.objects.filter(schema_name__startswith="early"):
        tenant.delete(force_drop=True)

    times: list[float] = []
    for i in range(options.tenants):
        started = time.perf_counter()
        tenant_provision(slug=f"t{i:05d}", name=f"Tenant {i}", admin_email=admin.email)
        times.append((time.perf_counter() - started) * 1000)
        if i + 1 in (1, 100, options.tenants):
            migrate_noop(Tenant.objects.count() - 1)
    emit(bench="provision", tenant="1st", **summary(times[:1]))
    emit(bench="provision", tenant="2nd-100th", **summary(times[1:100]))
    late = times[-100:]
    emit(bench="provision", tenant=f"last 100 of {options.tenants}", **summary(late))
    emit(
        bench="provision_growth",
        late_over_early=round(statistics.fmean(late) / statistics.fmean(times[1:100]), 2),
    )
    from apps.platform import selectors

    def timed(fn: object, **kwargs: object) -> list[float]:
        times = []
        for _ in range(10):
            started = time.perf_counter()
            fn(**kwargs)  # type: ignore[operator]
            times.append((time.perf_counter() - started) * 1000)
        return times

    at = Tenant.objects.count() - 1
    emit(bench="console_figures", tenants=at, **summary(timed(selectors.platform_figures)))
    emit(
        bench="console_tenant_page",
        tenants=at,
        limit=50,
        **summary(timed(selectors.tenant_page, limit=50)),
    )
    emit(
        bench="provision_migrations",
        at_tenants=Tenant.objects.count() - 1,
        **summary(by_migrations("late")),
    )

    # Real migrations: 50 schemas emptied, as if a new migration had to run in each.
    slugs = [f"t{i:05d}" for i in range(50)]

    def empty_schemas() -> None:
        with connection.cursor() as cursor:
            for slug in slugs:
                cursor.execute(f'DROP SCHEMA "{slug}" CASCADE; CREATE SCHEMA "{slug}"')

    empty_schemas()
    serial = manage("migrate_schemas", "--executor", "standard", "-v", "0")
    empty_schemas()
    parallel = manage("migrate_schemas", "-v", "0")
    from django.conf import settings

    emit(
        bench="migrate_real",
        schemas=len(slugs),
        one_worker_s=serial,
        parallel_s=parallel,
        workers=settings.TENANT_MULTIPROCESSING_MAX_PROCESSES,
    )


if __name__ == "__main__":
    main()
