"""Restoring a tenant (`manage.py tenant_import`) of `--messages` messages: the time it
takes and the process's peak memory. Prints one JSON object.

    python bench/tenant_import.py [--messages 100000] [--channels 100] [--keep]

The export is made up (members, support tickets with participants, messages spread over
the channels) and written to a file, then imported by the command in a process of its
own, timed from the outside and its peak RSS read from the OS. The database is
`BENCH_DATABASE` (default `tenantchat_bench_import`) on `DATABASE_URL`'s server (default:
the local one), created and migrated at the start and dropped at the end unless `--keep`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x").rsplit("/", 1)[0]
DATABASE = os.environ.get("BENCH_DATABASE", "tenantchat_bench_import")
ENV = {**os.environ, "DATABASE_URL": f"{SERVER}/{DATABASE}", "LOG_LEVEL": "WARNING"}


def database(*, create: bool) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')


def manage(*args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=ENV, check=True, capture_output=True
    )


def document(messages: int, channels: int) -> dict[str, Any]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    members = [
        {
            "userId": n,
            "email": f"member{n}@bench.test",
            "displayName": f"Member {n}",
            "role": "TENANT_ADMIN" if n == 1 else "PARTICIPANT",
            "status": "ACTIVE",
            "since": start.isoformat(),
        }
        for n in range(1, 21)
    ]
    rows: list[dict[str, Any]] = []
    per_channel = messages // channels
    for c in range(channels):
        requester = 2 + c % 19
        at = start + timedelta(minutes=c)
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "type": "SUPPORT",
                "status": "ACTIVE",
                "subject": f"Ticket {c}",
                "contextId": None,
                "createdBy": requester,
                "assignedTo": 1,
                "escalationReason": "",
                "escalatedAt": None,
                "resolvedAt": None,
                "archivedAt": None,
                "createdAt": at.isoformat(),
                "ticket": {
                    "requesterId": requester,
                    "category": "OTHER",
                    "priority": "MEDIUM",
                    "status": "OPEN",
                    "firstResponseAt": None,
                    "resolvedAt": None,
                    "closedAt": None,
                    "createdAt": at.isoformat(),
                },
                "participants": [
                    {"userId": u, "role": "MEMBER", "lastReadSeq": 0, "joinedAt": at.isoformat()}
                    for u in (requester, 1)
                ],
                "messages": [
                    {
                        "id": c * per_channel + s,
                        "seq": s,
                        "senderId": requester if s % 2 else 1,
                        "senderType": "PARTICIPANT" if s % 2 else "TENANT_ADMIN",
                        "kind": "USER",
                        "content": f"Message {s} of ticket {c}: " + "lorem ipsum " * 8,
                        "createdAt": (at + timedelta(seconds=s)).isoformat(),
                        "removedAt": None,
                        "removedBy": None,
                    }
                    for s in range(1, per_channel + 1)
                ],
            }
        )
    return {
        "version": 2,
        "exportedAt": start.isoformat(),
        "tenant": {
            "slug": "benchimport",
            "name": "Bench import",
            "host": "benchimport.localhost",
            "status": "ACTIVE",
            "createdAt": start.isoformat(),
        },
        "members": members,
        "channels": rows,
        "platformTickets": [],
        "escalations": [],
        "people": [],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    database(create=True)
    try:
        manage("migrate_schemas", "-v", "0")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
            json.dump(document(args.messages, args.channels), file)
        size = Path(file.name).stat().st_size
        started = time.perf_counter()
        manage("tenant_import", file.name)
        seconds = time.perf_counter() - started
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        Path(file.name).unlink()
        print(
            json.dumps(
                {
                    "bench": "tenant_import",
                    "messages": args.messages,
                    "channels": args.channels,
                    "document_mb": round(size / 2**20, 1),
                    "seconds": round(seconds, 2),
                    "peak_rss_mb": round(peak_kib / 1024, 1),
                }
            )
        )
    finally:
        if not args.keep:
            database(create=False)


if __name__ == "__main__":
    main()
