"""The in-process ticker (`make run` without a job runner): it runs the SLA sweep every
`SLA_SWEEP_SECONDS`, and a failing sweep is logged and tried again after a pause."""

from __future__ import annotations

import threading
import time
from typing import Any

from apps.chat.services import sla
from config import jobs


def test_the_ticker_sweeps_periodically_and_survives_failures(monkeypatch, settings, caplog):
    settings.SLA_SWEEP_SECONDS = 0.05
    calls: list[float] = []

    def sweep(**_: Any) -> sla.SweepResult:
        calls.append(time.monotonic())
        if len(calls) == 2:
            raise RuntimeError("database away")
        return sla.SweepResult()

    monkeypatch.setattr(sla, "sweep", sweep)
    monkeypatch.setattr(jobs, "_started", None)
    stop = threading.Event()
    thread = jobs.start_ticker(stop)
    assert jobs.start_ticker() is thread  # one per process
    deadline = time.monotonic() + 10
    while len(calls) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(timeout=5)
    assert len(calls) >= 4
    assert "SLA sweep failed; next attempt in" in caplog.text
    # After the failure it waited twice the interval before trying again.
    assert calls[2] - calls[1] >= 0.1


def test_a_failing_job_is_retried_with_backoff_and_logged(monkeypatch, caplog):
    from apps.chat import tasks

    attempts: list[int] = []

    def sweep(**_: Any) -> sla.SweepResult:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("database away")
        return sla.SweepResult(breached=2)

    monkeypatch.setattr(sla, "sweep", sweep)
    result = tasks.sla_sweep.apply()  # eager: the retries run here, one after another
    assert result.get() == {"breached": 2, "escalated": 0, "failed": 0}
    assert len(attempts) == 3
    assert caplog.text.count("Job chat.sla_sweep failed (attempt") == 2
    assert tasks.sla_sweep.retry_backoff and tasks.sla_sweep.max_retries == 5
