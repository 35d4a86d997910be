"""The production topology on one machine, for testing, and stopping what `make run` left.

    python deploy/local.py cluster-start   # make cluster
    python deploy/local.py cluster-restart # make cluster-restart: a rolling restart
    python deploy/local.py cluster-stop    # make cluster-stop
    python deploy/local.py stop            # make stop: `make run`'s server, embedded PostgreSQL

`cluster-start` runs, as user processes with their files under `var/cluster/` (configs,
logs, pid files), never as the system's services:

    client ─▶ nginx :8080 ─┬─▶ uvicorn worker :8001 ─┬─▶ PgBouncer :6432 ─▶ PostgreSQL
     (*.localhost)         └─▶ uvicorn worker :8002 ─┘     (session mode)
                                         └───────────────▶ Redis :6380 (layer, cache, limits)

PostgreSQL is `DATABASE_URL`'s, or the embedded one `make run` uses (`var/pgdata`, the
same data). Redis is `REDIS_URL`'s, or a `redis-server` of the cluster's own. nginx,
PgBouncer and redis-server come from Debian's packages (`nginx-light` or `nginx`,
`pgbouncer`, `redis-server`): missing ones are installed with apt-get when this runs as
root (or with password-less sudo); otherwise it says which are missing and stops.
Migrations run and the demo data is loaded (once: `seed_demo` keeps what exists) through
PgBouncer before the workers start. Every worker is also reachable directly.

The tests (`tests/deploy/`) start the same topology on free ports with a `Topology` of
their own.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.database import (  # noqa: E402
    EMBEDDED_DATA_DIR,
    database_config,
    embedded_running,
    stop_embedded,
)

PYTHON = sys.executable
# Debian packages giving each program.
PACKAGES = {"nginx": "nginx-light", "pgbouncer": "pgbouncer", "redis-server": "redis-server"}
SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


@dataclass
class Topology:
    home: Path = ROOT / "var" / "cluster"
    nginx_port: int = 8080
    worker_ports: tuple[int, ...] = (8001, 8002)
    pgbouncer_port: int = 6432
    redis_port: int = 6380
    # None: DATABASE_URL, or the embedded server. A URL: PgBouncer's backend.
    database_url: str | None = None
    # None: REDIS_URL, or a redis-server of the cluster's own on redis_port.
    redis_url: str | None = None
    base_domain: str = "localhost"
    worker_env: dict[str, str] = field(default_factory=dict)
    # Connections per worker process (its psycopg pool), as in production.
    pool_size: int = 10

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def pidfile(self, name: str) -> Path:
        return self.home / f"{name}.pid"


# --- programs ------------------------------------------------------------------------------


def find(program: str) -> str | None:
    found = shutil.which(program)
    if found:
        return found
    for directory in SBIN:
        candidate = Path(directory) / program
        if candidate.exists():
            return str(candidate)
    return None


def ensure_programs(programs: list[str]) -> dict[str, str]:
    """Each program's path; missing ones installed from Debian's packages when allowed."""
    missing = [program for program in programs if find(program) is None]
    if missing and shutil.which("apt-get"):
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        if os.geteuid() == 0 or shutil.which("sudo"):
            packages = [PACKAGES[program] for program in missing]
            print(f"Installing {' '.join(packages)} (apt-get)", flush=True)
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            install = [*sudo, "apt-get", "install", "-y", "-qq", *packages]
            if subprocess.run(install, env=env, check=False).returncode != 0:
                subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, check=False)
                subprocess.run(install, env=env, check=False)
    missing = [program for program in programs if find(program) is None]
    if missing:
        needed = " ".join(PACKAGES[program] for program in missing)
        raise SystemExit(
            f"Missing: {', '.join(missing)}. Install them with: sudo apt-get install -y {needed}"
        )
    return {program: str(find(program)) for program in programs}


# --- configuration -------------------------------------------------------------------------


def backend(topology: Topology) -> dict[str, str]:
    """Where PgBouncer connects: host (or socket directory), port, database, user, password."""
    url = topology.database_url or os.environ.get("DATABASE_URL")
    if url:
        parts = urlsplit(url)
        return {
            "host": unquote(parts.hostname or "127.0.0.1"),
            "port": str(parts.port or 5432),
            "dbname": parts.path.lstrip("/") or "postgres",
            "user": unquote(parts.username or "postgres"),
            "password": unquote(parts.password or ""),
        }
    config = database_config(prefer_local_server=False)  # starts the embedded server
    return {
        "host": config["HOST"] or "127.0.0.1",
        "port": config["PORT"] or "5432",
        "dbname": config["NAME"],
        "user": config["USER"],
        "password": config["PASSWORD"],
    }


def pgbouncer_ini(topology: Topology, server: dict[str, str]) -> str:
    workers = len(topology.worker_ports)
    password = f" password={server['password']}" if server["password"] else ""
    return f"""\
;; Generated by deploy/local.py for the local cluster; see deploy/pgbouncer.ini.
[databases]
{server["dbname"]} = host={server["host"]} port={server["port"]} dbname={server["dbname"]} \
user={server["user"]}{password}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {topology.pgbouncer_port}
unix_socket_dir =
;; Loopback only, for testing: clients are not authenticated here; PgBouncer logs in to
;; PostgreSQL as the user above. (deploy/pgbouncer.ini authenticates with scram.)
auth_type = any
{POOL_MODE_SETTING}
;; Session mode holds one server connection per client connection: size it for every
;; worker's pool ({workers} x {topology.pool_size}) plus the commands run beside them.
default_pool_size = {workers * topology.pool_size + 10}
max_client_conn = 500
server_reset_query = DISCARD ALL
ignore_startup_parameters = extra_float_digits
logfile =
"""


# One text for the local cluster and deploy/pgbouncer.ini (a test keeps them equal).
POOL_MODE_SETTING = """\
;; Session mode, because of the schema per tenant. django-tenants selects a tenant with
;; `SET search_path = <tenant>, public` once per switch (TENANT_LIMIT_SET_CALLS) and
;; relies on the server session keeping it; each worker's psycopg pool hands out such
;; sessions for many requests. In transaction mode the next transaction of the same
;; client could run on another server connection, whose search_path names another
;; tenant: queries would read and write the wrong tenant's tables. psycopg also
;; prepares statements per server session. Session mode keeps every client on one
;; server connection until it disconnects, and DISCARD ALL then resets the path.
pool_mode = session"""


def nginx_conf(topology: Topology, down: frozenset[int] = frozenset()) -> str:
    """`down`: workers taken out of the proxy (a rolling restart)."""
    home = topology.home
    servers = "\n".join(
        f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=2s{' down' * (port in down)};"
        for port in topology.worker_ports
    )
    temp = "\n".join(
        f"    {kind}_temp_path {home}/nginx/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    domain = topology.base_domain
    return f"""\
# Generated by deploy/local.py: the proxy of deploy/nginx.conf, on plain HTTP for testing.
daemon off;
worker_processes 2;
pid {home}/nginx/nginx.pid;
error_log {topology.logs}/nginx-error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log {topology.logs}/nginx-access.log;
{temp}

    upstream tenantchat {{
{servers}
        keepalive 32;
        # Below the workers' SHUTDOWN_DRAIN_SECONDS (1.5): see deploy/nginx.conf.
        keepalive_timeout 1s;
    }}

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ""      "";
    }}

    server {{
        listen 127.0.0.1:{topology.nginx_port};
        server_name {domain} *.{domain};
        client_max_body_size 2m;

        location / {{
{PROXY_LOCATION}
        }}
    }}
}}
"""


# The proxying itself, as in deploy/nginx.conf (a test keeps them equal).
PROXY_LOCATION = """\
            proxy_pass http://tenantchat;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Forwarded "";
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 3600s;"""


# --- processes -----------------------------------------------------------------------------


def answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.3):
        return True
    return False


def wait_for(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start in {seconds:.0f} s")
        time.sleep(0.1)


def spawn(topology: Topology, name: str, command: list[str], env: dict[str, str]) -> int:
    """Starts a detached process (its own session: it outlives this command), its output
    in logs/<name>.log and its pid in <name>.pid."""
    topology.logs.mkdir(parents=True, exist_ok=True)
    with (topology.logs / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    topology.pidfile(name).write_text(str(process.pid))
    return process.pid


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by the parent that started it) is not running.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def pid_of(topology: Topology, name: str) -> int | None:
    path = topology.pidfile(name)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if running(pid) else None


def stop_process(
    topology: Topology, name: str, sig: int = signal.SIGTERM, wait: float = 20
) -> None:
    """Signals the process of <name>.pid and waits for it to end (SIGKILL after `wait`)."""
    pid = pid_of(topology, name)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    topology.pidfile(name).unlink(missing_ok=True)


def run_user() -> str | None:
    """PgBouncer refuses to run as root: it switches to this user (`-u`): the one the
    embedded PostgreSQL runs as under root (its socket directory is that user's), else
    PostgreSQL's."""
    if os.geteuid() != 0:
        return None
    for user in ("pgserver", "postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            return user
    return None


def redis_url(topology: Topology) -> str:
    return (
        topology.redis_url
        or os.environ.get("REDIS_URL")
        or f"redis://127.0.0.1:{topology.redis_port}/0"
    )


def pgbouncer_url(topology: Topology, server: dict[str, str]) -> str:
    return (
        f"postgres://{quote(server['user'])}@127.0.0.1:{topology.pgbouncer_port}/{server['dbname']}"
    )


def worker_env(topology: Topology, server: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": pgbouncer_url(topology, server),
        "REDIS_URL": redis_url(topology),
        "BASE_DOMAIN": topology.base_domain,
        "DB_POOL_MAX_SIZE": str(topology.pool_size),
        "PORT": str(topology.nginx_port),  # links in mails and printed URLs: the proxy
        # Prometheus: each worker takes a free port of 9100-9101 on loopback (never proxied).
        "METRICS_PORT": os.environ.get("METRICS_PORT", "9100"),
        "METRICS_PORTS": "2",
        **topology.worker_env,
    }


def worker_name(port: int) -> str:
    return f"worker-{port}"


def start_worker(topology: Topology, port: int, server: dict[str, str]) -> None:
    if answers(port):
        raise SystemExit(f"Port {port} is taken: stop what listens there first")
    spawn(
        topology,
        worker_name(port),
        [PYTHON, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1",
         "--lifespan", "off", "--no-access-log", "--ws-per-message-deflate", "false",
         "--ws-max-size", "1048576"],
        worker_env(topology, server),
    )  # fmt: skip
    wait_healthy(topology, port)


def wait_healthy(topology: Topology, port: int) -> None:
    pid = pid_of(topology, worker_name(port))

    def up() -> bool:
        if pid is None or not running(pid):
            log = topology.logs / f"{worker_name(port)}.log"
            raise SystemExit(f"Worker on {port} exited:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # 503: up, Redis or the database is away
        except OSError:
            return False

    wait_for(up, f"worker on {port}", 60)


def start(topology: Topology, *, migrate: bool = True) -> dict[str, str]:
    """Starts everything that is not running yet; returns PgBouncer's backend."""
    own_redis = not (topology.redis_url or os.environ.get("REDIS_URL"))
    programs = ensure_programs(["nginx", "pgbouncer", *(["redis-server"] if own_redis else [])])
    topology.home.mkdir(parents=True, exist_ok=True)
    (topology.home / "nginx").mkdir(exist_ok=True)
    topology.logs.mkdir(exist_ok=True)

    if not (topology.database_url or os.environ.get("DATABASE_URL")) and not embedded_running():
        (topology.home / "started-postgres").touch()  # cluster-stop stops it again
    server = backend(topology)

    if own_redis and pid_of(topology, "redis") is None:
        spawn(
            topology, "redis",
            [programs["redis-server"], "--port", str(topology.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            dict(os.environ),
        )  # fmt: skip
        wait_for(lambda: answers(topology.redis_port), "redis-server")

    if pid_of(topology, "pgbouncer") is None:
        ini = topology.home / "pgbouncer.ini"
        ini.write_text(pgbouncer_ini(topology, server))
        ini.chmod(0o644)
        user = run_user()
        spawn(
            topology, "pgbouncer",
            [programs["pgbouncer"], *(["-u", user] if user else []), str(ini)],
            dict(os.environ),
        )  # fmt: skip
        wait_for(lambda: answers(topology.pgbouncer_port), "PgBouncer")

    env = worker_env(topology, server)
    if migrate:
        for command in (["migrate_schemas", "-v", "0"], ["seed_demo"]):
            subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True)

    for port in topology.worker_ports:
        if pid_of(topology, worker_name(port)) is None:
            start_worker(topology, port, server)

    if pid_of(topology, "nginx") is None:
        conf = topology.home / "nginx" / "nginx.conf"
        conf.write_text(nginx_conf(topology))
        prefix = str(topology.home / "nginx")
        subprocess.run(
            [programs["nginx"], "-t", "-q", "-p", prefix, "-c", str(conf), "-e", "stderr"],
            check=True,
        )
        spawn(
            topology, "nginx",
            [programs["nginx"], "-p", prefix, "-c", str(conf), "-e", "stderr"],
            dict(os.environ),
        )  # fmt: skip
        wait_for(lambda: answers(topology.nginx_port), "nginx")
    return server


def nginx_reload(topology: Topology, down: frozenset[int] = frozenset()) -> None:
    """New configuration: nginx's master starts new workers with it; the old ones finish
    the requests they have (and keep the WebSocket tunnels they hold) and exit."""
    conf = topology.home / "nginx" / "nginx.conf"
    conf.write_text(nginx_conf(topology, down))
    pid = pid_of(topology, "nginx")
    if pid is None:
        raise SystemExit("nginx is not running: make cluster")
    os.kill(pid, signal.SIGHUP)
    time.sleep(RELOAD_SETTLE)


RELOAD_SETTLE = 1.0  # seconds for nginx's new workers to take over and the old to finish


def rolling_restart(topology: Topology) -> None:
    """Each worker in turn: out of nginx, SIGTERM (its sockets close with 1001 and
    reconnect to the others; requests in flight finish), started again, back in nginx.
    No request is sent to a worker that is stopping."""
    server = backend(topology)
    for port in topology.worker_ports:
        nginx_reload(topology, down=frozenset({port}))
        stop_process(topology, worker_name(port))
        start_worker(topology, port, server)
        nginx_reload(topology)


def stop(topology: Topology) -> None:
    """Stops what `start` started, the front first: nginx (letting requests finish), the
    workers (graceful: sockets closed with 1001), PgBouncer, Redis."""
    stop_process(topology, "nginx", signal.SIGQUIT)
    for port in topology.worker_ports:
        stop_process(topology, worker_name(port))
    stop_process(topology, "pgbouncer", signal.SIGINT)  # safe shutdown
    stop_process(topology, "redis")
    marker = topology.home / "started-postgres"
    if marker.exists():
        stop_embedded()
        marker.unlink()


def print_cluster(topology: Topology) -> None:
    d = topology.base_domain
    port = topology.nginx_port
    print(
        f"""
Cluster up (files under {topology.home.relative_to(ROOT)}; stop it with `make cluster-stop`):
  nginx     http://{d}:{port}  http://acme.{d}:{port}  http://globex.{d}:{port}
  workers   {"  ".join(f"http://acme.{d}:{p}" for p in topology.worker_ports)}  (each directly)
  PgBouncer 127.0.0.1:{topology.pgbouncer_port} (session mode)
  Redis     {redis_url(topology)}
Demo accounts as for `make run` (password demo-pass-123)."""
    )


# --- make stop -----------------------------------------------------------------------------


def stop_run() -> None:
    """`make run`'s server (its pid in var/run.pid), then the embedded PostgreSQL."""
    local = Topology(home=ROOT / "var")
    if pid_of(local, "run") is not None:
        print("Stopping the server of make run", flush=True)
    stop_process(local, "run")
    if pid_of(Topology(), "nginx") is not None and not os.environ.get("DATABASE_URL"):
        print("Note: the cluster (make cluster) was using the embedded PostgreSQL too.")
    if embedded_running():
        print(f"Stopping the embedded PostgreSQL ({EMBEDDED_DATA_DIR.relative_to(ROOT)})")
    stop_embedded()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command", choices=["cluster-start", "cluster-restart", "cluster-stop", "stop"]
    )
    command = parser.parse_args().command
    topology = Topology()
    if command == "cluster-start":
        try:
            start(topology)
        except BaseException:
            stop(topology)
            raise
        print_cluster(topology)
    elif command == "cluster-restart":
        rolling_restart(topology)
        print("Workers restarted one by one.")
    elif command == "cluster-stop":
        stop(topology)
        print("Cluster stopped.")
    else:
        stop_run()


if __name__ == "__main__":
    main()
