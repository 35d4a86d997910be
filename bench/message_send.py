"""What one message costs: `message_send` in a loop, in process, one channel after another.
Prints one JSON object per line.

    python bench/message_send.py [--messages 2000] [--channels 8]

Each round sends one message in each of `--channels` TEAM channels of one tenant, so the
loop also crosses the tenant's counter slots. As on a server's socket thread, the
connection stays on the tenant's schema, and events are encoded for the layer but not
sent (a server hands them to its event loop; here there is none, and asgiref's
`async_to_sync` would cost more than the message). `cpu_ms` is the process's CPU per
message. Uses the `tenantchat_bench_messages`
database on `DATABASE_URL`'s server (default: the local one), created and dropped here.
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
DATABASE = "tenantchat_bench_messages"
os.environ["DATABASE_URL"] = f"{SERVER}/{DATABASE}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def database(action: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        if action == "create":
            conn.execute(f'CREATE DATABASE "{DATABASE}"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=8)
    options = parser.parse_args()
    database("create")
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate_schemas", "-v", "0"], cwd=ROOT, check=True
        )
        run(options.messages, options.channels)
    finally:
        from django.db import connections

        connections.close_all()
        database("drop")


def run(messages: int, channel_count: int) -> None:
    import django

    django.setup()
    from django.db import connection

    from apps.accounts.selectors import actor_for
    from apps.chat import events
    from apps.chat.services import channel_create, message_send
    from apps.tenancy.services import public_tenant_ensure, tenant_provision

    public_tenant_ensure()
    made = tenant_provision(slug="bench", name="Bench", admin_email="admin@bench.test")
    assert made.admin is not None
    actor = actor_for(user=made.admin, tenant=made.tenant)
    assert actor is not None
    channels = [channel_create(actor=actor, type="TEAM").pk for _ in range(channel_count)]
    connection.set_tenant(made.tenant)
    events.sinks[:] = [lambda event: event.layer_messages()]
    for channel in channels:  # warm up
        message_send(actor=actor, channel_id=channel, content="warm")
    times: list[float] = []
    statement: list[float] = []

    def timed_append(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if "new_message AS" in sql:
                statement.append((time.perf_counter() - started) * 1000)

    cpu_started = time.process_time()
    with connection.execute_wrapper(timed_append):
        for i in range(messages):
            started = time.perf_counter()
            message_send(actor=actor, channel_id=channels[i % channel_count], content=f"m{i}")
            times.append((time.perf_counter() - started) * 1000)
    cpu_ms = (time.process_time() - cpu_started) * 1000 / messages
    for name, values in (("message_send", times), ("append_statement", statement)):
        ordered = sorted(values)
        fields = {
            "bench": name,
            "messages": messages,
            "channels": channel_count,
            "mean_ms": round(statistics.fmean(ordered), 3),
            "p50_ms": round(ordered[len(ordered) // 2], 3),
            "p95_ms": round(ordered[int(len(ordered) * 0.95)], 3),
        }
        if name == "message_send":
            fields["cpu_ms"] = round(cpu_ms, 3)
        print(json.dumps(fields), flush=True)


if __name__ == "__main__":
    main()
