"""Tenants at scale: provisioning, migrate_schemas and the console as tenants grow to
`--tenants` (10,000 in under 15 minutes on 2 idle cores). Prints one JSON object per line.

    python bench/provisioning.py [--tenants 10000] [--sample 10] [--keep]

- provision_migrations: ms per tenant with django-tenants' default (every migration run
  in the new schema), `--sample` tenants, for comparison;
- provision: ms per tenant with the recorded template (tenant, schema, domain, first admin
  membership), per 1,000-tenant bucket;
- after each bucket of 1,000 (`--bucket`): migrate_noop, `migrate_schemas` with nothing
  to apply, in process (the command's own time) and as a whole process (with Django's
  start-up); and the console's figures and tenant page (below);
- migrate_verify: the same with `--verify` (every schema's migrations table read);
- recount: `manage.py recount` over every tenant schema;
- console_figures (every tenant's counters filled to all slots, the worst case): cold
  (a new connection per request, so a cold catalog cache), warm, and 10 threads at
  once, each on its own connection opened beforehand (as a server's threads keep theirs);
  errors counted;
- console_tenant_page: a page of 50 tenants with their counts;
- footprint: the database's size, pg_class rows, and per tenant: relations by kind and
  bytes (its tables with their indexes and TOAST, and its sequences; and with its share of
  the catalogs).

The database is `BENCH_DATABASE` (default `tenantchat_bench_provisioning`) on
`DATABASE_URL`'s server (default: the local one); created at the start and dropped at the
end unless `--keep`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x").rsplit("/", 1)[0]
DATABASE = os.environ.get("BENCH_DATABASE", "tenantchat_bench_provisioning")
os.environ["DATABASE_URL"] = f"{SERVER}/{DATABASE}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def database(*, create: bool) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        if create:
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
        "max_ms": round(ordered[-1], 2),
    }


def manage(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True, capture_output=True)
    return round(time.perf_counter() - started, 3)


def timed(fn: Callable[[], Any], times: int = 20, *, cold: bool = False) -> list[float]:
    from django.db import connection

    result = []
    for _ in range(times):
        if cold:
            connection.close()
        started = time.perf_counter()
        fn()
        result.append((time.perf_counter() - started) * 1000)
    return result


def migrate_noop(tenants: int) -> None:
    from django.core.management import call_command

    in_process = timed(lambda: call_command("migrate_schemas", "-v", "0"), times=3)
    emit(
        bench="migrate_noop",
        tenants=tenants,
        in_process_s=round(min(in_process) / 1000, 3),
        process_s=manage("migrate_schemas", "-v", "0"),
    )


def concurrent(fn: Callable[[], Any], threads: int = 10, each: int = 5) -> dict[str, Any]:
    from django.db import connection

    times: list[float] = []
    errors: list[str] = []
    start = threading.Barrier(threads)

    def worker() -> None:
        try:
            # Connected first, as a server's threads are (each keeps its pooled
            # connection), then all at once.
            connection.ensure_connection()
            start.wait()
            for _ in range(each):
                started = time.perf_counter()
                try:
                    fn()
                    times.append((time.perf_counter() - started) * 1000)
                except Exception as exc:  # counted, not raised: the point is how many fail
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
        finally:
            connection.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return {"threads": threads, "errors": len(errors), "first_error": errors[:1], **summary(times)}


def footprint(tenants: int, empty_size: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_database_size(current_database()), (SELECT count(*) FROM pg_class)"
        )
        size, pg_class = cursor.fetchone()
        cursor.execute(
            "SELECT relkind, count(*) FROM pg_class "
            "WHERE relnamespace = 't00000'::regnamespace GROUP BY 1 ORDER BY 1"
        )
        kinds = dict(cursor.fetchall())
        cursor.execute(
            "SELECT count(*) FROM pg_class t WHERE t.relnamespace = 'pg_toast'::regnamespace "
            "AND t.oid IN (SELECT reltoastrelid FROM pg_class WHERE relnamespace = "
            "'t00000'::regnamespace) "
        )
        (toast,) = cursor.fetchone()
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "WHERE c.relnamespace = 't00000'::regnamespace AND c.relkind IN ('r', 'S')"
        )
        (own_bytes,) = cursor.fetchone()
    emit(
        bench="footprint",
        tenants=tenants,
        database_mb=round(size / 2**20, 1),
        pg_class_rows=pg_class,
        per_tenant={
            "relations": sum(kinds.values()) + 2 * toast,
            "by_kind": {**kinds, "toast_tables_and_indexes": 2 * toast},
            "bytes_own_relations": int(own_bytes),
            "bytes_with_catalog_share": int((size - empty_size) / max(1, tenants)),
        },
    )


def fill_counters() -> None:
    """The worst case for the figures: every tenant with all its counter slots in use."""
    from django.db import connection

    from apps.records import counters

    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {counters.TABLE} (tenant_id, slot, channels, active_channels, "
            "escalated_channels, open_tickets, messages) "
            "SELECT t.id, s, 3, 2, 1, 1, 40 FROM tenancy_tenant t, generate_series(0, %s) s "
            "WHERE t.schema_name <> 'public' ON CONFLICT DO NOTHING",
            [counters.SLOTS - 1],
        )
        cursor.execute(f"ANALYZE {counters.TABLE}")


def console(tenants: int) -> None:
    from apps.platform import selectors

    fill_counters()
    emit(
        bench="console_figures",
        mode="cold",
        tenants=tenants,
        **summary(timed(selectors.platform_figures_now, cold=True)),
    )
    emit(
        bench="console_figures",
        mode="warm",
        tenants=tenants,
        **summary(timed(selectors.platform_figures_now, 50)),
    )
    emit(
        bench="console_figures",
        mode="concurrent",
        tenants=tenants,
        **concurrent(selectors.platform_figures_now),
    )
    emit(
        bench="console_tenant_page",
        tenants=tenants,
        limit=50,
        **summary(timed(lambda: selectors.tenant_page(limit=50, after="t05000"), 20)),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=10000)
    parser.add_argument("--sample", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument("--bucket", type=int, default=1000, help="Tenants per bucket.")
    options = parser.parse_args()
    database(create=True)
    try:
        run(options.tenants, options.sample, options.bucket)
    finally:
        from django.db import connections

        connections.close_all()
        if not options.keep:
            database(create=False)


def run(count: int, sample: int, bucket: int) -> None:
    manage("migrate_schemas", "-v", "0")  # public schema, and the template

    import django

    django.setup()
    from django.db import connection

    from apps.accounts.services import user_create
    from apps.tenancy.models import Tenant
    from apps.tenancy.services import public_tenant_ensure, tenant_provision

    public_tenant_ensure()
    admin = user_create(email="admin@bench.test", password="x" * 12, display_name="Admin")
    times = []
    for i in range(sample):
        started = time.perf_counter()
        Tenant(schema_name=f"early{i}", name="Migrated").save(verbosity=0)
        times.append((time.perf_counter() - started) * 1000)
        connection.set_schema_to_public()
    emit(bench="provision_migrations", **summary(times))
    for tenant in Tenant.objects.filter(schema_name__startswith="early"):
        tenant.delete(force_drop=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        (empty_size,) = cursor.fetchone()

    times = []
    for i in range(count):
        started = time.perf_counter()
        tenant_provision(slug=f"t{i:05d}", name=f"Tenant {i}", admin_email=admin.email)
        times.append((time.perf_counter() - started) * 1000)
        if (i + 1) % bucket == 0 or i + 1 == count:
            emit(bench="provision", tenants=f"{i + 2 - len(times)}-{i + 1}", **summary(times))
            times = []
            migrate_noop(i + 1)
            console(i + 1)
    from django.core.management import call_command

    from apps.platform.recount import recount

    verify = timed(lambda: call_command("migrate_schemas", "--verify", "-v", "0"), times=1)
    emit(bench="migrate_verify", tenants=count, s=round(verify[0] / 1000, 2))
    started = time.perf_counter()
    recount()
    emit(bench="recount", tenants=count, s=round(time.perf_counter() - started, 2))
    footprint(count, empty_size)


if __name__ == "__main__":
    main()
