"""The job runner's own check (Celery; see config/celery.py)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from apps.core.db import tenant_connection


@shared_task(name="core.ping", ignore_result=False)
def ping() -> dict[str, Any]:
    """Answers the schema the worker entered for it (the sender's): a deployment check
    that workers run and carry tenants (`celery -A config call core.ping`)."""
    return {"schema": str(tenant_connection().schema_name)}
