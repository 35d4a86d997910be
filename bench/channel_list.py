"""Channel list and unread badge for a user in 1,000 channels of a tenant holding a
million messages. Prints one JSON object.

    python bench/channel_list.py [--channels 1000] [--messages 1000000] [--repeat 20]

Uses `DATABASE_URL` when set, else a `tenantchat_bench` database on the local server
(127.0.0.1:5432), creating it and the data once; later runs reuse them.
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
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tenantchat_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def ensure_database() -> None:
    import psycopg

    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def populate(channels: int, messages: int) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.accounts.models import Role, User
    from apps.accounts.services import membership_set, user_create
    from apps.tenancy.models import Tenant
    from apps.tenancy.services import public_tenant_ensure, tenant_provision

    call_command("migrate_schemas", verbosity=0)
    public_tenant_ensure()
    tenant = (
        Tenant.objects.filter(schema_name="bench").first()
        or tenant_provision(slug="bench", name="Bench").tenant
    )
    user = User.objects.filter(email="reader@bench.test").first() or user_create(
        email="reader@bench.test", password="x" * 12, display_name="Reader"
    )
    other = User.objects.filter(email="writer@bench.test").first() or user_create(
        email="writer@bench.test", password="x" * 12, display_name="Writer"
    )
    few = User.objects.filter(email="few@bench.test").first() or user_create(
        email="few@bench.test", password="x" * 12, display_name="Few"
    )
    membership_set(user=user, tenant=tenant, role=Role.TENANT_ADMIN)
    membership_set(user=other, tenant=tenant, role=Role.PARTICIPANT)
    membership_set(user=few, tenant=tenant, role=Role.TENANT_ADMIN)
    with schema_context("bench"), connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM chat_message")
        if cur.fetchone()[0] >= messages:
            cur.execute("SELECT count(*) FROM chat_participant WHERE user_id = %s", [few.pk])
            if cur.fetchone()[0]:
                return
        per_channel = messages // channels
        cur.execute(
            "TRUNCATE chat_channel, chat_message, chat_participant, chat_supportticket CASCADE"
        )
        cur.execute(
            """
            INSERT INTO chat_channel (id, type, status, subject, created_by_id, escalation_reason,
                last_seq, last_activity_at, created_at, updated_at)
            SELECT gen_random_uuid(), 'TEAM', 'ACTIVE', 'Channel ' || g, %s, '', %s,
                now() - (g || ' minutes')::interval, now(), now()
            FROM generate_series(1, %s) g
            """,
            [other.pk, per_channel, channels],
        )
        cur.execute(
            """
            INSERT INTO chat_participant (channel_id, user_id, role, last_read_seq, joined_at)
            SELECT c.id, u.uid, 'ADMIN', CASE WHEN u.uid = %s THEN (random() * %s)::int ELSE 0 END,
                now()
            FROM chat_channel c CROSS JOIN (VALUES (%s), (%s)) AS u(uid)
            """,
            [user.pk, per_channel, user.pk, other.pk],
        )
        # A second reader in only 10 of the channels, for comparison within one run.
        cur.execute(
            """
            INSERT INTO chat_participant (channel_id, user_id, role, last_read_seq, joined_at)
            SELECT id, %s, 'ADMIN', 0, now() FROM chat_channel ORDER BY id LIMIT 10
            """,
            [few.pk],
        )
        cur.execute(
            """
            INSERT INTO chat_message (channel_id, seq, sender_id, sender_type, kind, content,
                created_at)
            SELECT c.id, s, %s, 'PARTICIPANT', 'USER', 'message ' || s, now()
            FROM chat_channel c CROSS JOIN generate_series(1, %s) s
            """,
            [other.pk, per_channel],
        )
        cur.execute(
            """
            UPDATE chat_channel c SET last_message_id = m.id
            FROM chat_message m WHERE m.channel_id = c.id AND m.seq = c.last_seq
            """
        )
        cur.execute("ANALYZE")


def measure(repeat: int) -> dict[str, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from apps.accounts.models import User
    from apps.accounts.services import token_issue

    def client_of(email: str) -> APIClient:
        raw, _ = token_issue(user=User.objects.get(email=email))
        return APIClient(HTTP_HOST="bench.localhost", HTTP_AUTHORIZATION=f"Bearer {raw}")

    def timed(path: str, client: APIClient) -> tuple[list[float], int, object]:
        samples = []
        body: object = None
        queries = 0
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                response = client.get(path)
                samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.content[:300]
            body, queries = response.json(), len(ctx)
        return samples, queries, body

    reader, few = client_of("reader@bench.test"), client_of("few@bench.test")
    list_ms, list_queries, listing = timed("/api/chat/channels", reader)
    badge_ms, badge_queries, badge = timed("/api/chat/unread", reader)
    few_ms, few_queries, few_listing = timed("/api/chat/channels", few)
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM bench.chat_message")
        total_messages = cur.fetchone()[0]
    return {
        "channels_listed": len(listing["channels"]),
        "messages_in_tenant": total_messages,
        "unread_total": badge["total"],
        "list_ms_median": round(statistics.median(list_ms), 2),
        "list_ms_p95": round(sorted(list_ms)[int(0.95 * (len(list_ms) - 1))], 2),
        "list_queries": list_queries,
        "unread_ms_median": round(statistics.median(badge_ms), 2),
        "unread_queries": badge_queries,
        "list_10_channels_ms_median": round(statistics.median(few_ms), 2),
        "list_10_channels_queries": few_queries,
        "channels_listed_small": len(few_listing["channels"]),
        "repeat": repeat,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    ensure_database()

    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    started = time.perf_counter()
    populate(args.channels, args.messages)
    setup_s = time.perf_counter() - started
    result = {"benchmark": "channel_list", "setup_s": round(setup_s, 1), **measure(args.repeat)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
