"""Two workers sweeping at the same moment, on two database connections against real
PostgreSQL: every missed deadline is handled once, every ticket escalated once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.chat.models import Message, MessageKind
from apps.chat.services import sla
from apps.records.models import Escalation, SlaDeadline
from tests.chat.conftest import committed_due_tickets

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TICKETS = 12


@pytest.fixture(scope="module")
def due_tickets(django_db_blocker: Any) -> Iterator[list[str]]:
    """Tickets whose first response was due at T0 + 30 min, in a tenant of their own,
    committed (each worker has its own connection and cannot see the test's)."""
    with django_db_blocker.unblock(), committed_due_tickets("slarace", TICKETS, at=T0) as ids:
        yield ids


def test_two_workers_escalate_each_missed_deadline_exactly_once(
    due_tickets, django_db_blocker, monkeypatch
):
    now = T0 + timedelta(minutes=31)
    start = threading.Barrier(2)
    results: list[sla.SweepResult] = []
    errors: list[BaseException] = []
    missed = sla._missed

    def slow_missed(*args: Any) -> Any:
        time.sleep(0.05)  # each ticket takes long enough for the workers to overlap
        return missed(*args)

    monkeypatch.setattr(sla, "_missed", slow_missed)

    def worker() -> None:
        try:
            start.wait(timeout=5)
            results.append(sla.sweep(now=now))
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        # And a third sweep later (a worker that started after an outage) finds nothing.
        late = sla.sweep(now=now + timedelta(hours=5))
        escalations = Escalation.objects.filter(channel_id__in=due_tickets).count()
        deadlines = SlaDeadline.objects.filter(channel_id__in=due_tickets).count()
        with schema_context("slarace"):
            breach_messages = Message.objects.filter(
                kind=MessageKind.SYSTEM, content__startswith="SLA breached"
            ).count()

    assert all(r.breached for r in results)  # both workers took part
    assert sum(r.breached for r in results) == TICKETS
    assert sum(r.escalated for r in results) == TICKETS
    assert late.breached == 0
    assert escalations == TICKETS
    assert breach_messages == TICKETS
    assert deadlines == 0
