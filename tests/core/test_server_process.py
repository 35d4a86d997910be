"""What a server process sets up when it loads the application (config/asgi.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]


def test_a_server_process_freezes_its_start_up_objects_and_sets_the_collector() -> None:
    """Full collections over everything Django loaded stopped a process's sockets for
    80-150 ms under load: those objects are frozen out of them, and the thresholds come
    from GC_THRESHOLDS."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "GC_THRESHOLDS": "40000,15,25",
        "JOBS_TICKER": "false",
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    env.pop("METRICS_PORT", None)
    code = "import gc, config.asgi; print(gc.get_threshold(), gc.get_freeze_count() > 10000)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "(40000, 15, 25) True", result.stderr
