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
