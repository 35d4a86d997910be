"""The job runner: Celery on Redis (README: Job runner).

Tasks carry the schema they were sent from (tenant-schemas-celery adds it to each
message's headers) and the worker enters it before running them, so a task sent from
a tenant's request runs in that tenant's schema. Without `CELERY_BROKER_URL` nothing is
sent anywhere: tasks run in the process that asks for them (`task_always_eager`) and the
server's in-process ticker (`config.jobs`) runs the periodic work."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery.signals import task_failure, task_retry
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = CeleryApp("tenantchat")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger("jobs")


@task_retry.connect
def _log_retry(request: Any = None, reason: Any = None, **_: Any) -> None:
    task = getattr(request, "task", "?")
    retries = getattr(request, "retries", 0)
    logger.warning("Job %s failed (attempt %s), retrying: %s", task, retries + 1, reason)


@task_failure.connect
def _log_failure(sender: Any = None, task_id: Any = None, exception: Any = None, **_: Any) -> None:
    name = getattr(sender, "name", "?")
    logger.error("Job %s (%s) failed for good: %r", name, task_id, exception)
