"""`make run`'s embedded PostgreSQL runs with the settings for many tenant schemas."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from config import database

pytestmark = pytest.mark.slow

WANTED = {
    "max_locks_per_transaction": "128",
    "autovacuum_naptime": "15s",
    "autovacuum_vacuum_scale_factor": "0.05",
}


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Beside the development data directory: pytest's own temporary directories are
    private to this user, and the server may run as another (pgserver, under root)."""
    parent = database.EMBEDDED_DATA_DIR.parent
    parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="test-pgdata-", dir=parent))
    yield scratch / "pgdata"
    shutil.rmtree(scratch, ignore_errors=True)


def _settings(server: object) -> dict[str, str]:
    with psycopg.connect(server.get_uri()) as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
            [list(WANTED)],
        ).fetchall()
    return dict(rows)


def test_the_embedded_server_starts_with_the_settings_for_many_schemas(data_dir: Path) -> None:
    server = database.embedded_server(data_dir)
    try:
        assert _settings(server) == WANTED
        assert (data_dir / database.EMBEDDED_SETTINGS).read_text() == (
            database.TENANT_SETTINGS.read_text()
        )
    finally:
        server._stop()


def test_a_data_directory_from_before_gets_them_at_its_next_start(data_dir: Path) -> None:
    """A server initialised and left running without the settings: the next process
    writes them and, with no other client connected, restarts it to apply them."""
    server = again = database.embedded_server(data_dir)
    try:
        (data_dir / "postgresql.conf").write_text(
            (data_dir / "postgresql.conf").read_text().replace(database.EMBEDDED_INCLUDE, "")
        )
        (data_dir / database.EMBEDDED_SETTINGS).unlink()
        server._stop()
        server._postmaster_info = None
        server.ensure_postgres_running()
        assert _settings(server)["max_locks_per_transaction"] == "64"

        type(server)._instances.pop(server.pgdata)  # as a new process would find it
        again = database.embedded_server(data_dir)
        assert _settings(again) == WANTED
    finally:
        again._stop()
        server._stop()
