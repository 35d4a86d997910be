"""Support-desk report over a tenant holding 100,000 tickets. Prints one JSON object.

    python bench/reports.py [--tickets 100000] [--repeat 10]

Uses `DATABASE_URL` when set, else a `tenantchat_bench_reports` database on the local
server (127.0.0.1:5432), creating it and the tickets (bulk SQL, spread over a year) once;
later runs reuse them. Times `GET /api/reports` over the whole year for every `groupBy`,
through the full Django stack (authentication, tenant routing, the SQL, the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tenantchat_bench_reports")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

SCHEMA = "reports"
YEAR_START = "2025-01-01T00:00:00+00:00"
YEAR_END = "2026-01-01T00:00:00+00:00"


def ensure_database() -> None:
    import psycopg

    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def populate(tickets: int) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.accounts.models import Role, User
    from apps.accounts.services import membership_set, user_create
    from apps.tenancy.models import Tenant
    from apps.tenancy.services import public_tenant_ensure, tenant_provision

    call_command("migrate_schemas", verbosity=0)
    public_tenant_ensure()
    if not Tenant.objects.filter(schema_name=SCHEMA).exists():
        tenant_provision(slug=SCHEMA, name="Reports")
    tenant = Tenant.objects.get(schema_name=SCHEMA)
    admin = User.objects.filter(email="admin@reports.test").first() or user_create(
        email="admin@reports.test", password="x" * 12, display_name="Admin"
    )
    membership_set(user=admin, tenant=tenant, role=Role.TENANT_ADMIN)
    agents = []
    for n in range(5):
        email = f"agent{n}@reports.test"
        agent = User.objects.filter(email=email).first() or user_create(
            email=email, password="x" * 12, display_name=f"Agent {n}"
        )
        membership_set(user=agent, tenant=tenant, role=Role.MANAGEMENT_TEAM)
        agents.append(agent.pk)
    with schema_context(SCHEMA), connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM chat_supportticket")
        if cur.fetchone()[0] == tickets:
            return
        cur.execute("TRUNCATE chat_channel, chat_supportticket, chat_message CASCADE")
        # Opened evenly over the year; 90% answered within minutes to hours; 70% resolved
        # within days; 10% escalated; half of the resolved rated.
        cur.execute(
            """
            CREATE TEMP TABLE gen AS
            SELECT g, gen_random_uuid() AS id,
                   %(start)s::timestamptz + (g::float8 / %(n)s) * interval '365 days' AS opened,
                   random() AS r1, random() AS r2, random() AS r3, random() AS r4
            FROM generate_series(1, %(n)s) g
            """,
            {"start": YEAR_START, "n": tickets},
        )
        cur.execute(
            """
            INSERT INTO chat_channel (id, type, status, subject, created_by_id, assigned_to_id,
                escalation_reason, escalated_at, resolved_at, last_seq, last_public_seq,
                last_activity_at, created_at, updated_at)
            SELECT id, 'SUPPORT', CASE WHEN r2 < 0.7 THEN 'RESOLVED' ELSE 'ACTIVE' END,
                   'Ticket ' || g, %(admin)s, (%(agents)s::int[])[1 + g %% 5], '',
                   CASE WHEN r3 < 0.1 THEN opened + interval '2 hours' END,
                   CASE WHEN r2 < 0.7 THEN opened + r2 * interval '5 days' END,
                   0, 0, opened, opened, opened
            FROM gen
            """,
            {"admin": admin.pk, "agents": agents},
        )
        cur.execute(
            """
            INSERT INTO chat_supportticket (channel_id, requester_id, category, priority,
                status, first_response_at, resolved_at, rating, rating_comment, rated_at,
                sla_breached, sla_paused_seconds, created_at, updated_at)
            SELECT id, %(admin)s,
                   (ARRAY['TECHNICAL','BILLING','FEATURE_REQUEST','TOURNAMENT_ISSUE',
                          'ACCOUNT','OTHER'])[1 + g %% 6],
                   (ARRAY['LOW','MEDIUM','HIGH','URGENT'])[1 + g %% 4],
                   CASE WHEN r2 < 0.7 THEN 'RESOLVED' ELSE 'IN_PROGRESS' END,
                   CASE WHEN r1 < 0.9 THEN opened + r1 * interval '8 hours' END,
                   CASE WHEN r2 < 0.7 THEN opened + r2 * interval '5 days' END,
                   CASE WHEN r2 < 0.35 THEN 1 + floor(r4 * 5)::int END, '',
                   CASE WHEN r2 < 0.35 THEN opened + r2 * interval '5 days' + interval '1 hour'
                   END,
                   r1 > 0.85, 0,
                   opened, opened
            FROM gen
            """,
            {"admin": admin.pk},
        )
        cur.execute("DROP TABLE gen")
        cur.execute("ANALYZE chat_channel")
        cur.execute("ANALYZE chat_supportticket")


def measure(repeat: int) -> dict[str, object]:
    from rest_framework.test import APIClient

    from apps.accounts.models import User
    from apps.accounts.services import token_issue

    raw, _ = token_issue(user=User.objects.get(email="admin@reports.test"))
    client = APIClient(HTTP_HOST=f"{SCHEMA}.localhost", HTTP_AUTHORIZATION=f"Bearer {raw}")
    results: dict[str, object] = {}
    totals: object = None
    for group in ("none", "day", "category", "priority", "assignee"):
        query = f"/api/reports?from={YEAR_START}&to={YEAR_END}".replace("+", "%2B")
        if group != "none":
            query += f"&groupBy={group}"
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            response = client.get(query)
            samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.content[:300]
        body = response.json()
        totals = body["totals"]
        results[group] = {
            "ms_median": round(statistics.median(samples), 1),
            "ms_min": round(min(samples), 1),
            "ms_max": round(max(samples), 1),
            "groups": len(body["groups"]),
        }
    return {"by_group": results, "totals": totals, "repeat": repeat}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    ensure_database()

    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    started = time.perf_counter()
    populate(args.tickets)
    setup_s = time.perf_counter() - started
    result = {
        "benchmark": "reports",
        "tickets": args.tickets,
        "setup_s": round(setup_s, 1),
        **measure(args.repeat),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
