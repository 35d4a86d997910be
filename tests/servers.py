"""Real server processes for the tests that need them (two processes sharing Redis,
database and Redis faults, the browser tests): uvicorn as deployed, on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def uvicorn(
    port: int,
    env: dict[str, str],
    *,
    output: IO[Any] | int,
    log_level: str = "warning",
    args: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """`config.asgi:application` on 127.0.0.1:`port`, its output to `output`."""
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--lifespan", "off", "--log-level", log_level, *args],
        cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
    )  # fmt: skip


def piped_output(process: subprocess.Popen[bytes]) -> str:
    return process.stdout.read().decode(errors="replace")[-2000:] if process.stdout else ""


def wait_healthy(
    port: int,
    process: subprocess.Popen[bytes],
    output: Callable[[subprocess.Popen[bytes]], str] = piped_output,
) -> None:
    """Until `/healthz` answers (a 503 too: it only says Redis or the database is down)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on {port} exited: {output(process)}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not start")


@contextmanager
def committed_accounts(
    blocker: Any, password: str, people: dict[str, tuple[str, str]]
) -> Iterator[dict[str, Any]]:
    """Accounts the servers can see (committed, not in a test's transaction), by name:
    `{name: (tenant schema, role)}`, with `password` hashed as a real server hashes; their
    channels, audit entries and accounts are removed afterwards."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.accounts.services import membership_set, user_create
    from apps.chat.models import Channel
    from apps.platform.recount import recount
    from apps.records.models import AuditEntry
    from apps.tenancy.models import Tenant

    with blocker.unblock():
        made = {}
        for name, (schema, role) in people.items():
            user = user_create(
                email=f"{name}-{os.getpid()}@{schema}.test", password=password, display_name=name
            )
            user.password = make_password(password, hasher="pbkdf2_sha256")
            user.save(update_fields=["password"])
            membership_set(user=user, tenant=Tenant.objects.get(schema_name=schema), role=role)
            made[name] = user
        try:
            yield made
        finally:
            for schema in {schema for schema, _ in people.values()}:
                with schema_context(schema):
                    Channel.objects.filter(created_by__in=made.values()).delete()
            connection.set_schema_to_public()
            AuditEntry.objects.filter(actor__in=made.values()).delete()
            recount()
            User.objects.filter(pk__in=[u.pk for u in made.values()]).delete()
