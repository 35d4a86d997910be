"""`make run` fires SLA timers by itself: a server process started without a job runner
sweeps on its ticker, and handles once the deadlines that passed while it was down."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.chat.models import Message, MessageKind
from apps.records.models import Escalation, SlaDeadline
from tests.chat.conftest import committed_due_tickets
from tests.conftest import database_url
from tests.servers import free_port, uvicorn, wait_healthy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def overdue(django_db_blocker: Any) -> Iterator[list[str]]:
    """Tickets whose first response was due an hour ago, before any server ran."""
    opened = timezone.now() - timedelta(hours=2)
    with django_db_blocker.unblock(), committed_due_tickets("slarun", 3, at=opened) as ids:
        yield ids


def test_a_server_without_a_job_runner_fires_missed_deadlines_once(overdue, django_db_blocker):
    env = {**os.environ, "DATABASE_URL": database_url(), "SLA_SWEEP_SECONDS": "0.5"}
    env.pop("CELERY_BROKER_URL", None)
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    port = free_port()
    server = uvicorn(port, env, output=subprocess.PIPE)
    try:
        wait_healthy(port, server)
        deadline = time.monotonic() + 30
        with django_db_blocker.unblock():
            while time.monotonic() < deadline:
                if not SlaDeadline.objects.filter(channel_id__in=overdue).exists():
                    break
                time.sleep(0.3)
            time.sleep(1.5)  # a few more sweeps: nothing is handled twice
            escalations = Escalation.objects.filter(channel_id__in=overdue).count()
            with schema_context("slarun"):
                breaches = Message.objects.filter(
                    kind=MessageKind.SYSTEM, content__startswith="SLA breached"
                ).count()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert (escalations, breaches) == (3, 3)
