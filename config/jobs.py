"""The periodic jobs' ticker of a server process without a job runner (no
`CELERY_BROKER_URL`, as under `make run`): a daemon thread that runs the SLA sweep every
`SLA_SWEEP_SECONDS`. Each process of a deployment may run one; the sweep claims its
deadlines with SKIP LOCKED, so they never handle one twice. A failing sweep is logged
and retried after a growing pause (up to 5 minutes)."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import connections

logger = logging.getLogger("jobs")

_started: threading.Thread | None = None
_lock = threading.Lock()
MAX_BACKOFF = 300.0


def _loop(stop: threading.Event) -> None:
    from apps.chat.services import sla

    interval = settings.SLA_SWEEP_SECONDS
    delay = interval
    while not stop.wait(delay):
        try:
            result = sla.sweep()
            if result.breached or result.failed:
                logger.info("SLA sweep: %s", result)
            delay = interval
        except Exception:
            delay = min(delay * 2, MAX_BACKOFF)
            logger.exception("SLA sweep failed; next attempt in %.0f s", delay)
        finally:
            connections.close_all()  # back to the pool between ticks


def start_ticker(stop: threading.Event | None = None) -> threading.Thread:
    """Starts the ticker once per process; later calls return the running one."""
    global _started
    with _lock:
        if _started is None or not _started.is_alive():
            _started = threading.Thread(
                target=_loop, args=(stop or threading.Event(),), name="jobs-ticker", daemon=True
            )
            _started.start()
        return _started
