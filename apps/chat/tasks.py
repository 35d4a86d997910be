"""Chat's jobs (Celery tasks; see config/celery.py)."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from apps.chat.services import sla


@shared_task(
    name="chat.sla_sweep",
    autoretry_for=(Exception,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)
def sla_sweep() -> dict[str, int]:
    """Marks the SLA targets missed by now (periodic, from beat). Reads only the public
    deadline index; each ticket is handled in its own schema and transaction."""
    return asdict(sla.sweep())
