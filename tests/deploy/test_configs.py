"""What deploy/ ships, read as files: the nginx site, the compose file and the Dockerfile,
PgBouncer's pool mode; `docker compose config` where Docker can run it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import local

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _proxy_directives(text: str) -> list[str]:
    """The `location /` block's directives, comments left out, whitespace normalised."""
    block = text.split("location / {", 1)[1].split("}", 1)[0]
    lines = (line.split("#", 1)[0].strip() for line in block.splitlines())
    return [" ".join(line.split()) for line in lines if line]


def test_the_site_redirects_port_80_and_sets_the_forwarding_headers_itself():
    site = (DEPLOY / "nginx.conf").read_text()
    plain = site.split("server {")[1]
    assert "listen 80;" in plain and "return 301 https://$host$request_uri;" in plain
    directives = _proxy_directives(site)
    # Set by nginx from the connection, never the client's own values.
    assert "proxy_set_header X-Forwarded-Host $host;" in directives
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in directives
    assert 'proxy_set_header Forwarded "";' in directives
    assert "proxy_set_header Connection $connection_upgrade;" in directives
    assert not re.search(r"\$http_x_forwarded", site)


def test_the_cluster_and_compose_proxy_as_the_site_does():
    site = _proxy_directives((DEPLOY / "nginx.conf").read_text())
    topology = local.Topology(home=Path("/nonexistent"))
    assert _proxy_directives(local.nginx_conf(topology)) == site
    assert _proxy_directives((DEPLOY / "compose" / "nginx.conf").read_text()) == site
    for text in (
        (DEPLOY / "nginx.conf").read_text(),
        local.nginx_conf(topology),
        (DEPLOY / "compose" / "nginx.conf").read_text(),
    ):
        # Idle upstream connections end before a stopping worker's drain does.
        assert "keepalive_timeout 1s;" in text


def test_pgbouncer_runs_in_session_mode_with_the_reason_beside_it():
    shipped = (DEPLOY / "pgbouncer.ini").read_text()
    assert local.POOL_MODE_SETTING in shipped
    assert "search_path" in local.POOL_MODE_SETTING
    server = {"host": "h", "port": "5432", "dbname": "d", "user": "u", "password": ""}
    generated = local.pgbouncer_ini(local.Topology(), server)
    for text in (shipped, generated, (DEPLOY / "compose" / "pgbouncer.ini").read_text()):
        modes = re.findall(r"^pool_mode\s*=\s*(\w+)", text, re.MULTILINE)
        assert modes == ["session"]


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


def test_compose_runs_the_topology_with_healthchecks():
    services = _compose()["services"]
    assert set(services) == {"postgres", "pgbouncer", "redis", "migrate", "app", "worker", "nginx"}
    for name, service in services.items():
        if name != "migrate":  # runs once, then exits
            assert service["healthcheck"]["test"], name
    assert services["nginx"]["ports"] == ["8080:80"]
    assert services["app"]["ports"] == ["8001:8000"]
    assert services["worker"]["ports"] == ["8002:8000"]
    for name in ("app", "worker", "migrate"):
        environment = services[name]["environment"]
        assert "@pgbouncer:6432/" in environment["DATABASE_URL"]  # never PostgreSQL directly
        assert environment["REDIS_URL"].startswith("redis://redis:")
    for name in ("app", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["pgbouncer"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    nginx_needs = services["nginx"]["depends_on"]
    assert {k: v["condition"] for k, v in nginx_needs.items()} == {
        "app": "service_healthy",
        "worker": "service_healthy",
    }


def test_the_image_runs_as_a_user_with_dependencies_in_their_own_layer():
    steps = [
        line.split(None, 1)
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line and not line.startswith((" ", "#"))
    ]
    app = steps[: next(i for i, s in enumerate(steps[1:], 1) if s[0] == "FROM")]
    assert app[0] == ["FROM", "python:3.11-slim AS app"]
    instructions = [" ".join(step) for step in app]
    install = next(i for i, s in enumerate(instructions) if s.startswith("RUN python -c"))
    assert instructions[install - 1] == "COPY pyproject.toml ./"
    first_source = instructions.index("COPY manage.py ./")
    assert install < first_source  # code changes do not reinstall the dependencies
    user = next(s for s in instructions if s.startswith("USER "))
    assert user != "USER root" and instructions.index(user) > first_source


def _docker_compose_runs() -> bool:
    if shutil.which("docker") is None:
        return False
    result = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, check=False, timeout=30
    )
    return result.returncode == 0


@pytest.mark.skipif(not _docker_compose_runs(), reason="needs the docker compose plugin")
def test_docker_compose_accepts_the_file():
    result = subprocess.run(
        ["docker", "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
