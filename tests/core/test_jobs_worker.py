"""A real Celery worker (solo pool) on the machine's Redis, against the test database:
a task sent from a tenant's schema runs in that schema, and the SLA sweep runs as a job.
Redis database 6 and a key prefix of this run keep it apart from everything else."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest
from django.conf import settings
from django_tenants.utils import schema_context
from tenant_schemas_celery.app import CeleryApp

from tests.conftest import database_url
from tests.servers import ROOT

pytestmark = pytest.mark.slow

REDIS = "redis://127.0.0.1:6379/6"


@pytest.fixture(scope="module")
def worker() -> Iterator[tuple[CeleryApp, str]]:
    if not settings.REDIS_URL:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    prefix = f"jobs{os.getpid()}"
    queue = f"{prefix}-queue"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": REDIS,
        "CELERY_RESULT_BACKEND": REDIS,
        "CELERY_QUEUE": queue,
        "REDIS_PREFIX": prefix,
    }
    env.pop("REDIS_URL", None)
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed when the worker has stopped)
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
         "--loglevel", "INFO", "-Q", queue, "--without-gossip", "--without-mingle",
         "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    # Not the current app: shared tasks elsewhere in the suite keep the project's.
    app = CeleryApp("jobs-test", broker=REDIS, backend=REDIS, set_as_current=False)
    app.conf.broker_transport_options = {"global_keyprefix": f"{prefix}celery:"}
    try:
        yield app, queue
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.seek(0)
        print(log.read().decode(errors="replace")[-3000:])
        log.close()


def test_a_task_runs_in_the_schema_it_was_sent_from(worker):
    app, queue = worker
    started = time.monotonic()
    with schema_context("acme"):
        acme = app.send_task("core.ping", queue=queue)
    with schema_context("globex"):
        globex = app.send_task("core.ping", queue=queue)
    assert acme.get(timeout=60) == {"schema": "acme"}
    assert globex.get(timeout=30) == {"schema": "globex"}
    sweep = app.send_task("chat.sla_sweep", queue=queue)
    sweep.forget()  # its result is not kept (ignore_result); it ran if the next one did
    assert app.send_task("core.ping", queue=queue).get(timeout=30) == {"schema": "public"}
    assert time.monotonic() - started < 90
