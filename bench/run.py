"""The benchmark behind `make bench`: the product's real-time and REST paths, and two peers
on the same load, against the local PostgreSQL and Redis. Prints a table and writes
`bench/results/latest.json`.

    python bench/run.py [--only SCENARIOS] [--quick] [--workers 2] [--keep-db] [--out FILE]

Scenarios (run in this order; `--only` takes a comma-separated subset):
  ws_fanout    10 rooms x 50 sockets, steps of msgs/s until loss or p99 > 2 s
  ws_big_room  one room of 2,000 sockets at 5 msgs/s
  ws_connects  authenticated connects + joins per second, 100 at a time
  idle_ws      10,000 joined sockets per worker, server RSS per socket
  rest_send    POST .../messages from 50 clients across 10 tenants
  rest_reads   channel list (1,000 channels) and history pages, 1,000,000 messages
  auth_me      200 concurrent GET /api/auth/me
  peers        the Socket.IO and Channels peers on the ws_fanout load
                 (also `peer_socketio`, `peer_channels` alone)

Each scenario gets a freshly started server: `uvicorn config.asgi:application --workers N
--lifespan off --no-access-log` in its own process group, APP_ENV=production, its own
database `bench_product` (dropped and created each run unless --keep-db), Redis db 2,
LOGIN_RATE, LOGIN_ACCOUNT_RATE, MESSAGE_RATE, WS_RATE_FRAMES and WS_MAX_SOCKETS_PER_USER
lifted, no HTTPS redirect (loopback), permessage-deflate off as deployed
(BENCH_DEFLATE=1 turns it on).
Environment: BENCH_PG (server URL, default postgres://postgres@127.0.0.1:5432),
BENCH_REDIS (default redis://127.0.0.1:6379), BENCH_PORT (default 8610; peers +10, +20).
Every load goes to 127.0.0.1 and every step is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
STATE = Path(os.environ.get("BENCH_STATE", "/tmp/tenantchat-bench"))
LOADGEN = BENCH / "loadgen" / "loadgen.js"
PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379").rstrip("/")
PORT = int(os.environ.get("BENCH_PORT", "8610"))
PRODUCT_DB = "bench_product"
PEERS_DB = "bench_peers"
PRODUCT_REDIS_DB, SOCKETIO_REDIS_DB, CHANNELS_REDIS_DB = 2, 3, 4

KEYS = [
    "ws_fanout_deliveries_per_s",
    "ws_fanout_p50_ms",
    "ws_fanout_p99_ms",
    "ws_big_room_p99_ms",
    "ws_connects_per_s",
    "ws_reconnect_storm_s",
    "idle_ws_connections",
    "idle_ws_kib_per_conn",
    "rest_send_p95_ms",
    "rest_send_per_s",
    "channel_list_p95_ms",
    "history_first_page_p95_ms",
    "history_deep_page_p95_ms",
    "db_connections_peak",
    "peer_channels_deliveries_per_s",
    "peer_socketio_deliveries_per_s",
]
SCENARIOS = [
    "ws_fanout",
    "ws_big_room",
    "ws_connects",
    "ws_reconnect_storm",
    "idle_ws",
    "rest_send",
    "rest_reads",
    "auth_me",
    "peer_socketio",
    "peer_channels",
]
FANOUT_RATES = [5, 10, 25, 50, 100, 200, 400, 800, 1600]
HISTORY_CHANNELS = 1000
HISTORY_MESSAGES = 1_000_000
HISTORY_DEPTH = 900_000
OTHER_CHANNEL_MESSAGES = 99  # in each of the other 999 channels; the rest in the deep one


class ScenarioError(Exception):
    """A scenario could not produce its figure; the message goes to `notes`."""


class ServerStopped(ScenarioError):
    """The server under test exited before the scenario ended (crashed, or was stopped by
    something else on the machine); the scenario is run again once."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- processes --------------------------------------------------------------------------------


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:  # field 5 of stat: the process group
            pids.append(int(entry))
    return pids


def group_rss_kib(pgid: int) -> int:
    total = 0
    for pid in group_pids(pgid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def group_cpu_s(pgid: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in group_pids(pgid):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


class Server:
    """A server in its own session (process group), logging to a file."""

    def __init__(self, name: str, cmd: list[str], *, env: dict[str, str], cwd: Path, port: int):
        self.name, self.cmd, self.env, self.cwd, self.port = name, cmd, env, cwd, port
        self.log_path = STATE / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ready: str = "tcp", timeout: float = 60) -> None:
        if port_open(self.port):
            raise ScenarioError(f"port {self.port} is already in use; set BENCH_PORT")
        log_file = open(self.log_path, "ab")  # noqa: SIM115 (the server writes to it until stop)
        log_file.write(f"\n=== {time.ctime()} {' '.join(self.cmd)}\n".encode())
        log_file.flush()
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ScenarioError(f"{self.name} exited at start; see {self.log_path}")
            if (ready == "healthz" and healthz_ok(self.port)) or (
                ready == "tcp" and port_open(self.port)
            ):
                return
            time.sleep(0.2)
        self.stop()
        raise ScenarioError(
            f"{self.name} did not answer within {timeout:.0f} s; see {self.log_path}"
        )

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    @property
    def pgid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and group_pids(self.pgid):
            time.sleep(0.2)
        if group_pids(self.pgid):
            with suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.proc = None


def cpu_busy(seconds: float = 1.0) -> float:
    """The machine's busy fraction over `seconds` (/proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle, iowait
        return sum(fields) - idle, sum(fields)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_quiet(limit: float = 0.25, max_wait: float = 30) -> float:
    """Waits (up to `max_wait` s) until the machine is mostly idle, so a scenario does not
    start while PostgreSQL or a stopped server still works off the previous one."""
    deadline = time.monotonic() + max_wait
    busy = cpu_busy()
    while busy > limit and time.monotonic() < deadline:
        busy = cpu_busy()
    if busy > limit:
        log(f"the machine is still {busy:.0%} busy; going on")
    return busy


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def healthz_ok(port: int) -> bool:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Host": "localhost"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200
    except Exception:
        return False


def loadgen(command: str, *args: object, timeout: float) -> dict[str, Any]:
    """Runs the Node load generator; its progress goes to our stderr, its result is the last
    line of its stdout."""
    cmd = ["node", str(LOADGEN), command, *map(str, args)]
    try:
        done = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=None, timeout=timeout, cwd=LOADGEN.parent
        )
    except subprocess.TimeoutExpired:
        raise ScenarioError(f"load generator `{command}` ran over {timeout:.0f} s") from None
    lines = done.stdout.decode().strip().splitlines()
    if done.returncode != 0 or not lines:
        raise ScenarioError(f"load generator `{command}` failed (exit {done.returncode})")
    return json.loads(lines[-1])


def manage(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise ScenarioError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


# --- databases --------------------------------------------------------------------------------


def pg(database: str = "postgres"):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(f"{PG_SERVER}/{database}", autocommit=True)


def database_create(name: str, *, fresh: bool) -> bool:
    """Creates the database; drops it first when `fresh`. Returns whether it is new."""
    with pg() as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not fresh:
            return False
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return True


def redis_flush(db: int) -> None:
    import redis

    client = redis.Redis.from_url(f"{REDIS}/{db}")
    client.flushdb()
    client.close()


class ConnectionSampler(threading.Thread):
    """Counts the product database's connections every 100 ms; keeps the peak per label."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.label: str | None = None
        self.peaks: dict[str, int] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            conn = pg()
        except Exception as error:  # the figure becomes null, the run goes on
            log(f"connection sampler could not connect: {error}")
            return
        with conn:
            while not self.stopping.wait(0.1):
                label = self.label
                if label is None:
                    continue
                (count,) = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [PRODUCT_DB]
                ).fetchone()
                self.peaks[label] = max(self.peaks.get(label, 0), count)

    @contextmanager
    def measuring(self, label: str):  # type: ignore[no-untyped-def]
        self.label = label
        try:
            yield
        finally:
            time.sleep(0.2)
            self.label = None


# --- the run ------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick: bool = args.quick
        self.workers: int = args.workers
        self.results: dict[str, Any] = {key: None for key in KEYS}
        self.notes: dict[str, Any] = {}
        self.raw: dict[str, Any] = {}
        self.seeds: dict[str, dict[str, Any]] = {}
        self.sampler = ConnectionSampler()
        self.product_env = {
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "DATABASE_URL": f"{PG_SERVER}/{PRODUCT_DB}",
            "REDIS_URL": f"{REDIS}/{PRODUCT_REDIS_DB}",
            "BASE_DOMAIN": "localhost",
            "LOGIN_RATE": "1000000/min",
            "MESSAGE_RATE": "1000000/min",
            "WS_RATE_FRAMES": "1000000",
            "LOGIN_ACCOUNT_RATE": "1000000/min",
            "WS_MAX_SOCKETS_PER_USER": "1000000",
            "SECURE_SSL_REDIRECT": "false",  # loopback, no TLS in front
        }
        self.deflate = os.environ.get("BENCH_DEFLATE", "0") == "1"

    # -- set-up --

    def note(self, key: str, text: str) -> None:
        self.notes[key] = f"{self.notes[key]}; {text}" if key in self.notes else text

    def prepare(self, scenarios: list[str]) -> None:
        STATE.mkdir(parents=True, exist_ok=True)
        if not shutil.which("node"):
            raise SystemExit("node is needed for the load generator (Node 18+)")
        for folder in (BENCH / "loadgen", BENCH / "peers" / "socketio"):
            if not (folder / "node_modules").is_dir():
                log(f"npm ci in {folder.relative_to(ROOT)}")
                subprocess.run(
                    ["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=folder, check=True
                )
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (65536, max(hard, 65536)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if any(s for s in scenarios if not s.startswith("peer_")):
            started = time.monotonic()
            new = database_create(PRODUCT_DB, fresh=not self.args.keep_db)
            log(f"database {PRODUCT_DB} {'created' if new else 'kept'}; migrating")
            manage("migrate_schemas", "-v", "0", env=self.product_env)
            log(f"migrated in {time.monotonic() - started:.1f} s")

    def seed(self, name: str, tenant: str, rooms: int, members: int) -> dict[str, Any]:
        if name not in self.seeds:
            out = STATE / f"seed-{name}.json"
            started = time.monotonic()
            env = {**self.product_env, "REDIS_URL": ""}  # no events to deliver while seeding
            manage(
                "seed_bench",
                "--tenant",
                tenant,
                "--rooms",
                str(rooms),
                "--members",
                str(members),
                "--out",
                str(out),
                env=env,
            )
            self.seeds[name] = json.loads(out.read_text()) | {"_path": str(out)}
            log(f"seeded {tenant}: {rooms} x {members} in {time.monotonic() - started:.1f} s")
        return self.seeds[name]

    @contextmanager
    def product(self, label: str):  # type: ignore[no-untyped-def]
        redis_flush(PRODUCT_REDIS_DB)  # rate-limit counters and cache from earlier runs
        cmd = [
            str(Path(sys.executable).parent / "uvicorn"),
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(PORT),
            "--workers",
            str(self.workers),
            "--lifespan",
            "off",
            "--no-access-log",
        ]
        if not self.deflate:
            cmd += ["--ws-per-message-deflate", "false"]
        server = Server("product", cmd, env=self.product_env, cwd=ROOT, port=PORT)
        server.start(ready="healthz")
        time.sleep(1.0 if self.workers > 1 else 0.2)  # every worker up, not only the first
        cpu_before = group_cpu_s(server.pgid)
        started = time.monotonic()
        stopped = None
        try:
            with self.sampler.measuring(label):
                yield server
        except ScenarioError as error:
            if server.exited():
                stopped = error
            else:
                raise
        finally:
            if stopped is None and server.exited():
                stopped = ScenarioError("no error from the load")
            elapsed = time.monotonic() - started
            cpu = group_cpu_s(server.pgid) - cpu_before
            self.raw.setdefault("server_cpu", {})[label] = {
                "cpu_s": round(cpu, 1),
                "wall_s": round(elapsed, 1),
            }
            code = server.proc.returncode if server.proc is not None else None
            server.stop()
        if stopped is not None:
            raise ServerStopped(
                f"the server exited during {label} (exit status {code}), crashed or stopped by "
                f"something else; see {server.log_path} ({stopped})"
            )

    # -- scenarios --

    def fanout_args(self) -> list[object]:
        if self.quick:
            return ["--warmup", 2, "--duration", 4, "--drain", 5]
        return ["--warmup", 3, "--duration", 10, "--drain", 10]

    def fanout_timeout(self, rates: list[int], connect_s: float = 180) -> float:
        step = 25 if self.quick else 30
        return connect_s + step * len(rates) + 30

    def product_fanout(
        self,
        scenario: str,
        seed: dict[str, Any],
        rates: list[int],
        *extra: Any,
        connect_s: float = 180,
    ) -> dict[str, Any]:
        """The fan-out load against a fresh product server; the raw result is kept."""
        with self.product(scenario):
            result = loadgen(
                "fanout",
                "--target",
                "product",
                "--port",
                PORT,
                "--seed",
                seed["_path"],
                "--rates",
                ",".join(map(str, rates)),
                *extra,
                *self.fanout_args(),
                timeout=self.fanout_timeout(rates, connect_s=connect_s),
            )
        self.raw[scenario] = result
        return result

    def ws_fanout(self) -> None:
        seed = self.seed("fanout", "bench", 10, 50)
        result = self.product_fanout("ws_fanout", seed, FANOUT_RATES)
        self.fanout_figures(result, "ws_fanout_deliveries_per_s", "product")
        at100 = next((s for s in result.get("steps", []) if s["rate"] == 100), None)
        if at100 is None:
            reason = f"the run stopped before 100 msgs/s ({self.stop_reason(result)})"
            self.note("ws_fanout_p50_ms", reason)
            self.note("ws_fanout_p99_ms", reason)
        else:
            self.results["ws_fanout_p50_ms"] = at100["p50_ms"]
            self.results["ws_fanout_p99_ms"] = at100["p99_ms"]
            if not at100["ok"]:
                self.note("ws_fanout_p99_ms", f"the 100 msgs/s step failed: {at100['reason']}")

    @staticmethod
    def stop_reason(result: dict[str, Any]) -> str:
        if result.get("failure"):
            return result["failure"]
        stop = result.get("stoppedAt")
        return f"{stop['rate']} msgs/s: {stop['reason']}" if stop else "all steps passed"

    def fanout_figures(self, result: dict[str, Any], key: str, label: str) -> None:
        if result.get("failure"):
            raise ScenarioError(result["failure"])
        best = result.get("best")
        stopped = self.stop_reason(result)
        steps = ", ".join(
            f"{s['rate']}/s: {s['deliveries_per_s']:.0f} deliveries/s p99 {s['p99_ms']} ms"
            + ("" if s["ok"] else " FAILED")
            for s in result["steps"]
        )
        self.note(key, f"{label}: {steps}; stopped at {stopped}")
        if best is None:
            self.note(key, "no step was loss-free with p99 under 2 s")
        else:
            self.results[key] = best["deliveries_per_s"]

    def ws_big_room(self) -> None:
        seed = self.seed("big", "benchbig", 1, 2000)
        result = self.product_fanout(
            "ws_big_room",
            seed,
            [5],
            "--connect-concurrency",
            100,
            "--connect-timeout",
            240,
            connect_s=300,
        )
        if result.get("failure"):
            raise ScenarioError(result["failure"])
        step = result["steps"][0]
        # Like the fan-out steps: a latency only counts when nothing was lost.
        self.results["ws_big_room_p99_ms"] = None if step["lost"] else step["p99_ms"]
        if step["p99_ms"] is None:
            self.note("ws_big_room_p99_ms", "no message reached the room within the drain")
        elif step["lost"]:
            self.note(
                "ws_big_room_p99_ms",
                f"null: deliveries were lost (p99 of those that arrived {step['p99_ms']} ms)",
            )
        self.note(
            "ws_big_room_p99_ms",
            f"2,000 sockets joined in {result['connectS']} s; p50 {step['p50_ms']} ms, "
            f"{step['deliveries_per_s']:.0f} deliveries/s, lost {step['lost']} of "
            f"{step['expected']}, errors {step['errors'] or 'none'}",
        )

    def ws_connects(self) -> None:
        seed = self.seed("fanout", "bench", 10, 50)
        count = (300 if self.quick else 1000) * self.workers
        with self.product("ws_connects"):
            result = loadgen(
                "connect",
                "--port",
                PORT,
                "--seed",
                seed["_path"],
                "--count",
                count,
                "--concurrency",
                100,
                "--time-limit",
                60,
                timeout=120,
            )
        self.raw["ws_connects"] = result
        if not result["joined"]:
            raise ScenarioError(f"no socket joined: {result['failures']}")
        self.results["ws_connects_per_s"] = result["connects_per_s"]
        self.note(
            "ws_connects_per_s",
            f"{result['joined']}/{count} sockets (token + join_channel) in "
            f"{result['elapsed_s']} s, "
            f"100 at a time, {self.workers} workers; failures {result['failures'] or 'none'}",
        )

    def ws_reconnect_storm(self) -> None:
        """After a restart every client comes back at once: a freshly started server gets
        5,000 sockets (token + join_channel) with no pacing at all."""
        seed = self.seed("fanout", "bench", 10, 50)
        count = 1000 if self.quick else 5000
        with self.product("ws_reconnect_storm"):
            result = loadgen(
                "connect",
                "--port",
                PORT,
                "--seed",
                seed["_path"],
                "--count",
                count,
                "--concurrency",
                count,
                "--time-limit",
                60,
                timeout=120,
            )
        self.raw["ws_reconnect_storm"] = result
        text = (
            f"{result['joined']}/{count} sockets (token + join_channel) all at once on a "
            f"fresh server, {self.workers} workers, in {result['elapsed_s']} s; "
            f"failures {result['failures'] or 'none'}"
        )
        self.note("ws_reconnect_storm_s", text)
        if result["joined"] == count:
            self.results["ws_reconnect_storm_s"] = result["elapsed_s"]

    def idle_ws(self) -> None:
        seed = self.seed("fanout", "bench", 10, 50)
        per_worker = 1000 if self.quick else 10_000
        total = per_worker * self.workers
        time_limit = 60 if self.quick else 240
        # One load generator per 10,000 sockets keeps each under its descriptor limit.
        chunk = min(10_000, max(1000, self.nofile - 1000))
        shares = [min(chunk, total - i) for i in range(0, total, chunk)]
        with self.product("idle_ws") as server:
            time.sleep(2)
            before = group_rss_kib(server.pgid)
            procs = [
                subprocess.Popen(
                    [
                        "node",
                        str(LOADGEN),
                        "idle",
                        "--port",
                        str(PORT),
                        "--seed",
                        seed["_path"],
                        "--count",
                        str(share),
                        "--concurrency",
                        str(max(10, 100 // len(shares))),
                        "--time-limit",
                        str(time_limit),
                        "--hold",
                        str(time_limit + 120),
                    ],
                    cwd=LOADGEN.parent,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
                for share in shares
            ]
            ready = []
            try:
                for proc in procs:
                    line = self.read_line(proc, time_limit + 60)
                    ready.append(json.loads(line))
                time.sleep(5)  # let the server settle before reading its memory
                after = group_rss_kib(server.pgid)
            finally:
                finals = []
                for proc in procs:
                    try:
                        out, _ = proc.communicate(input=b"", timeout=60)  # EOF ends the hold
                        finals.append(json.loads(out.decode().strip().splitlines()[-1]))
                    except Exception:
                        proc.kill()
        joined = sum(r["joined"] for r in ready)
        still = sum(f.get("still_open", 0) for f in finals) if len(finals) == len(procs) else None
        self.raw["idle_ws"] = {
            "ready": ready,
            "final": finals,
            "rss_before_kib": before,
            "rss_after_kib": after,
        }
        if not joined:
            raise ScenarioError(f"no idle socket joined: {[r['failures'] for r in ready]}")
        self.results["idle_ws_connections"] = joined
        self.results["idle_ws_kib_per_conn"] = round((after - before) / joined, 1)
        failures: dict[str, int] = {}
        for r in ready:
            for reason, n in r["failures"].items():
                failures[reason] = failures.get(reason, 0) + n
        self.note(
            "idle_ws_connections",
            f"{joined} of {total} sockets joined ({per_worker} per worker asked, {self.workers} "
            f"workers, opening capped at {time_limit} s, took up to "
            f"{max(r['elapsed_s'] for r in ready)} s); still open at the end: {still}; "
            f"failures {failures or 'none'}",
        )
        self.note(
            "idle_ws_kib_per_conn",
            f"server process group RSS {before / 1024:.0f} MiB -> {after / 1024:.0f} MiB",
        )

    @staticmethod
    def read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
        assert proc.stdout is not None
        box: list[bytes] = []
        reader = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            raise ScenarioError(f"an idle load generator gave no ready line within {timeout:.0f} s")
        return box[0].decode()

    def rest_send(self) -> None:
        requests = []
        for t in range(10):
            seed = self.seed(f"rest{t}", f"benchrest{t}", 1, 5)
            for member in seed["members"]:
                requests.append(
                    {
                        "method": "POST",
                        "path": f"/api/chat/channels/{seed['rooms'][member['room']]}/messages",
                        "host": seed["host"],
                        "token": member["token"],
                        "body": {"content": "A benchmark message, sent over REST."},
                    }
                )
        plan = STATE / "plan-rest-send.json"
        plan.write_text(json.dumps({"requests": requests}))
        duration = 5 if self.quick else 15
        with self.product("rest_send"):
            result = loadgen(
                "http",
                "--port",
                PORT,
                "--plan",
                plan,
                "--concurrency",
                len(requests),
                "--warmup",
                2,
                "--duration",
                duration,
                timeout=duration + 120,
            )
        self.raw["rest_send"] = result
        if not result["ok"]:
            raise ScenarioError(f"no send succeeded: {result.get('first_failure')}")
        self.results["rest_send_p95_ms"] = result["p95_ms"]
        self.results["rest_send_per_s"] = result["ok_per_s"]
        text = (
            f"{len(requests)} clients (5 per tenant, 10 tenants) for {duration} s: "
            f"{result['requests']} requests, statuses {result['statuses']}, "
            f"p50 {result['p50_ms']} ms"
        )
        if result.get("first_failure"):
            text += f"; first failure: {result['first_failure']}"
        self.note("rest_send_per_s", text)

    def history_seed(self) -> dict[str, Any]:
        """A tenant where one user is in 1,000 channels holding 1,000,000 messages, one
        channel deep enough for a page 900,000 messages back. Written with SQL straight
        into the tenant's schema, consistent with what the services keep: sequence numbers
        per channel, each channel's last_seq and last message, participants' read state."""
        seed = self.seed("history", "benchhist", 1, 1)
        schema = seed["tenant"]
        deep_channel = seed["rooms"][0]
        member_email = seed["members"][0]["email"]
        with pg(PRODUCT_DB) as conn:
            users = dict(
                conn.execute(
                    "SELECT email, id FROM public.accounts_user WHERE email = ANY(%s)",
                    [[member_email, *seed["moderators"]]],
                ).fetchall()
            )
            member, mods = users[member_email], [users[e] for e in seed["moderators"]]
            (have,) = conn.execute(f'SELECT count(*) FROM "{schema}".chat_message').fetchone()
            if have >= HISTORY_MESSAGES:
                log(f"{schema} already holds {have} messages")
            else:
                started = time.monotonic()
                self.history_fill(conn, schema, deep_channel, member, mods)
                self.raw["history_seed_s"] = round(time.monotonic() - started, 1)
                log(f"{schema}: {HISTORY_MESSAGES} messages in {self.raw['history_seed_s']} s")
            last_seq, *_ = conn.execute(
                f'SELECT last_seq FROM "{schema}".chat_channel WHERE id = %s', [deep_channel]
            ).fetchone()
            (deep_id,) = conn.execute(
                f'SELECT id FROM "{schema}".chat_message WHERE channel_id = %s AND seq = %s',
                [deep_channel, last_seq - HISTORY_DEPTH],
            ).fetchone()
        return {**seed, "deep_channel": deep_channel, "deep_before": deep_id, "last_seq": last_seq}

    @staticmethod
    def history_fill(conn: Any, schema: str, deep: str, member: int, mods: list[int]) -> None:
        columns = {
            "chat_channel": {
                "id", "type", "status", "subject", "context_id", "created_by_id",
                "escalation_reason", "last_seq", "last_public_seq", "last_activity_at",
                "created_at", "updated_at",
            },
            "chat_participant": {
                "channel_id", "user_id", "role", "last_read_seq", "last_read_public_seq",
                "joined_at",
            },
            "chat_message": {
                "channel_id", "seq", "public_seq", "sender_id", "sender_type", "kind", "content",
                "created_at",
            },
        }  # fmt: skip
        for table, written in columns.items():
            required = {
                name
                for (name,) in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                    "AND table_name = %s AND is_nullable = 'NO' AND column_default IS NULL "
                    "AND is_identity = 'NO'",
                    [schema, table],
                )
            }
            if required - written:
                raise ScenarioError(
                    f"{table} has required columns the history seed does not write: "
                    f"{sorted(required - written)}; update Bench.history_fill in bench/run.py"
                )
        others = HISTORY_CHANNELS - 1
        deep_count = HISTORY_MESSAGES - others * OTHER_CHANNEL_MESSAGES
        s = f'"{schema}"'
        with conn.transaction():
            conn.execute(f"SET LOCAL search_path TO {s}")
            conn.execute("SET LOCAL synchronous_commit TO off")
            conn.execute(
                "DELETE FROM chat_message WHERE channel_id IN "
                "(SELECT id FROM chat_channel WHERE context_id LIKE 'bench-history-%%' OR id = %s)",
                [deep],
            )
            conn.execute(
                "DELETE FROM chat_participant WHERE channel_id IN "
                "(SELECT id FROM chat_channel WHERE context_id LIKE 'bench-history-%%')"
            )
            conn.execute("DELETE FROM chat_channel WHERE context_id LIKE 'bench-history-%%'")
            conn.execute(
                "INSERT INTO chat_channel (id, type, status, subject, context_id, created_by_id,"
                " escalation_reason, last_seq, last_public_seq, last_activity_at, created_at,"
                " updated_at) SELECT gen_random_uuid(), 'TOURNAMENT', 'ACTIVE', 'History ' || g,"
                " 'bench-history-' || g, %s, '', 0, 0, now() - g * interval '1 minute', now(),"
                " now()"
                " FROM generate_series(1, %s) g",
                [mods[0], others],
            )
            conn.execute(
                "INSERT INTO chat_participant (channel_id, user_id, role, last_read_seq,"
                " last_read_public_seq, joined_at)"
                " SELECT c.id, p.uid, p.role, 0, 0, now() FROM chat_channel c CROSS JOIN"
                " (VALUES (%s::bigint, 'MEMBER'), (%s::bigint, 'ADMIN'), (%s::bigint, 'ADMIN'))"
                " AS p(uid, role) WHERE c.context_id LIKE 'bench-history-%%'",
                [member, *mods],
            )
            conn.execute(
                "INSERT INTO chat_message (channel_id, seq, public_seq, sender_id, sender_type,"
                " kind, content, created_at)"
                " SELECT %s, g, g, %s, 'PARTICIPANT', 'USER', 'history message ' || g,"
                " now() - (%s - g) * interval '10 milliseconds' FROM generate_series(1, %s) g",
                [deep, member, deep_count, deep_count],
            )
            conn.execute(
                "INSERT INTO chat_message (channel_id, seq, public_seq, sender_id, sender_type,"
                " kind, content, created_at)"
                " SELECT c.id, g, g, %s, 'PARTICIPANT', 'USER', 'message ' || g,"
                " c.last_activity_at - (%s - g) * interval '1 second'"
                " FROM chat_channel c CROSS JOIN generate_series(1, %s) g"
                " WHERE c.context_id LIKE 'bench-history-%%' ORDER BY c.id, g",
                [mods[1], OTHER_CHANNEL_MESSAGES, OTHER_CHANNEL_MESSAGES],
            )
            conn.execute(
                "UPDATE chat_channel c SET last_seq = m.last_seq, last_public_seq = m.last_seq,"
                " last_message_id = m.id,"
                " last_activity_at = m.created_at FROM (SELECT DISTINCT ON (channel_id)"
                " channel_id, seq AS last_seq, id, created_at FROM chat_message"
                " ORDER BY channel_id, seq DESC) m WHERE m.channel_id = c.id"
            )
            # The member has read half of each channel; the moderators everything.
            conn.execute(
                "UPDATE chat_participant p SET last_read_seq = CASE WHEN p.user_id = %s"
                " THEN c.last_seq / 2 ELSE c.last_seq END,"
                " last_read_public_seq = CASE WHEN p.user_id = %s"
                " THEN c.last_seq / 2 ELSE c.last_seq END FROM chat_channel c"
                " WHERE p.channel_id = c.id",
                [member, member],
            )
        # Vacuumed now, so autovacuum does not wake up on these tables during later scenarios.
        conn.execute(f"VACUUM (ANALYZE) {s}.chat_channel, {s}.chat_participant, {s}.chat_message")

    def rest_reads(self) -> None:
        seed = self.history_seed()
        member = seed["members"][0]
        base = {"host": seed["host"], "token": member["token"]}
        messages = f"/api/chat/channels/{seed['deep_channel']}/messages"
        plans = {
            "channel_list_p95_ms": {**base, "path": "/api/chat/channels?limit=50"},
            "history_first_page_p95_ms": {**base, "path": messages},
            "history_deep_page_p95_ms": {
                **base,
                "path": f"{messages}?before={seed['deep_before']}",
            },
        }
        counts = {
            "channel_list_p95_ms": 20 if self.quick else 60,
            "history_first_page_p95_ms": 50 if self.quick else 200,
            "history_deep_page_p95_ms": 50 if self.quick else 200,
        }
        with self.product("rest_reads"):
            for key, spec in plans.items():
                plan = STATE / f"plan-{key}.json"
                plan.write_text(json.dumps({"requests": [spec]}))
                try:
                    # Warm-up: the first requests of a process connect and fill caches.
                    loadgen("http", "--port", PORT, "--plan", plan, "--count", 5, timeout=120)
                    result = loadgen(
                        "http",
                        "--port",
                        PORT,
                        "--plan",
                        plan,
                        "--count",
                        counts[key],
                        "--concurrency",
                        1,
                        timeout=counts[key] * 10 + 60,
                    )
                except ScenarioError as error:
                    self.note(key, str(error))
                    continue
                self.raw[key] = result
                if result["not_ok"]:
                    self.note(
                        key,
                        f"{result['not_ok']} answers were not 2xx: {result.get('first_failure')}",
                    )
                if result["ok"]:
                    self.results[key] = result["p95_ms"]
                    self.note(
                        key,
                        f"one client, {result['ok']} requests in sequence, "
                        f"p50 {result['p50_ms']} ms",
                    )
        self.note(
            "channel_list_p95_ms",
            f"user in {HISTORY_CHANNELS} channels, tenant with {HISTORY_MESSAGES:,} messages",
        )
        self.note(
            "history_deep_page_p95_ms",
            f"before=<message {HISTORY_DEPTH:,} back> in a channel of {seed['last_seq']:,}",
        )

    def auth_me(self) -> None:
        seed = self.seed("fanout", "bench", 10, 50)
        n = 200
        requests = [
            {"path": "/api/auth/me", "host": seed["host"], "token": m["token"]}
            for m in seed["members"][:n]
        ]
        plan = STATE / "plan-auth-me.json"
        plan.write_text(json.dumps({"requests": requests}))
        with self.product("auth_me"):
            result = loadgen(
                "http",
                "--port",
                PORT,
                "--plan",
                plan,
                "--count",
                n,
                "--concurrency",
                n,
                "--fresh-connections",
                timeout=120,
            )
        self.raw["auth_me"] = result
        self.notes["auth_me_200_concurrent"] = (
            f"{result['not_ok']} of {result['requests']} answers not 2xx (statuses "
            f"{result['statuses']}), p95 {result['p95_ms']} ms, peak "
            f"{self.sampler.peaks.get('auth_me')} database connections"
            + (f"; first failure: {result['first_failure']}" if result.get("first_failure") else "")
        )

    def peer(self, name: str) -> None:
        seed = self.seed("fanout", "bench", 10, 50)
        key = f"peer_{name}_deliveries_per_s"
        database_create(PEERS_DB, fresh=True)
        with pg(PEERS_DB) as conn:
            conn.execute(
                "CREATE TABLE peer_message (id bigserial PRIMARY KEY, room text NOT NULL,"
                " content text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
            )
        env = {"DATABASE_URL": f"{PG_SERVER}/{PEERS_DB}", "PG_POOL": "10"}
        port = PORT + (10 if name == "socketio" else 20)
        peer_workers = os.environ.get("BENCH_PEER_WORKERS", "1")
        if name == "socketio":
            redis_db = SOCKETIO_REDIS_DB
            cmd = ["node", "server.js"]
            cwd = BENCH / "peers" / "socketio"
            env |= {"PORT": str(port)}
            what = "Node Socket.IO, 1 process, @socket.io/redis-adapter, pg pool of 10"
        else:
            redis_db = CHANNELS_REDIS_DB
            cmd = [
                str(Path(sys.executable).parent / "uvicorn"),
                "peer.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                peer_workers,
                "--lifespan",
                "off",
                "--no-access-log",
                "--log-level",
                "warning",
            ]
            cwd = BENCH / "peers" / "channels"
            env |= {"DJANGO_SETTINGS_MODULE": "peer.settings"}
            what = (
                f"Channels tutorial consumer, uvicorn {peer_workers} worker(s), "
                "RedisChannelLayer, psycopg connections (10 per process)"
            )
        redis_flush(redis_db)
        env["REDIS_URL"] = f"{REDIS}/{redis_db}"
        server = Server(f"peer-{name}", cmd, env=env, cwd=cwd, port=port)
        server.start()
        time.sleep(1)
        try:
            result = loadgen(
                "fanout",
                "--target",
                name,
                "--port",
                port,
                "--seed",
                seed["_path"],
                "--rates",
                ",".join(map(str, FANOUT_RATES)),
                *self.fanout_args(),
                timeout=self.fanout_timeout(FANOUT_RATES),
            )
        finally:
            server.stop()
        self.raw[f"peer_{name}"] = result
        self.fanout_figures(result, key, what)

    # -- driving --

    def run(self, scenarios: list[str]) -> None:
        self.sampler.start()
        started = time.monotonic()
        handlers = {
            "ws_fanout": self.ws_fanout,
            "ws_big_room": self.ws_big_room,
            "ws_connects": self.ws_connects,
            "ws_reconnect_storm": self.ws_reconnect_storm,
            "idle_ws": self.idle_ws,
            "rest_send": self.rest_send,
            "rest_reads": self.rest_reads,
            "auth_me": self.auth_me,
            "peer_socketio": lambda: self.peer("socketio"),
            "peer_channels": lambda: self.peer("channels"),
        }
        owned = {
            "ws_fanout": ["ws_fanout_deliveries_per_s", "ws_fanout_p50_ms", "ws_fanout_p99_ms"],
            "ws_big_room": ["ws_big_room_p99_ms"],
            "ws_connects": ["ws_connects_per_s"],
            "ws_reconnect_storm": ["ws_reconnect_storm_s"],
            "idle_ws": ["idle_ws_connections", "idle_ws_kib_per_conn"],
            "rest_send": ["rest_send_p95_ms", "rest_send_per_s"],
            "rest_reads": [
                "channel_list_p95_ms",
                "history_first_page_p95_ms",
                "history_deep_page_p95_ms",
            ],
            "auth_me": [],
            "peer_socketio": ["peer_socketio_deliveries_per_s"],
            "peer_channels": ["peer_channels_deliveries_per_s"],
        }
        try:
            self.prepare(scenarios)
        except ScenarioError as error:
            raise SystemExit(f"set-up failed: {error}") from None
        for name in SCENARIOS:
            if name not in scenarios:
                for key in owned[name]:
                    self.note(key, "not run (--only)")
                continue
            busy = wait_quiet()
            self.raw.setdefault("cpu_busy_before", {})[name] = round(busy, 2)
            log(f"--- {name}")
            t0 = time.monotonic()
            for attempt in (1, 2):
                try:
                    handlers[name]()
                except ServerStopped as error:
                    if attempt == 1:
                        log(f"{name}: {error}; running it again")
                        self.raw.setdefault("server_stopped", []).append(f"{name}: {error}")
                        self.note("repeated_scenarios", f"{name}: {error}")
                        for key in owned[name]:
                            self.results[key] = None
                            self.notes.pop(key, None)
                        wait_quiet()
                        continue
                    self.scenario_failed(name, owned[name], error)
                except ScenarioError as error:
                    self.scenario_failed(name, owned[name], error)
                break
            self.raw.setdefault("scenario_s", {})[name] = round(time.monotonic() - t0, 1)
        self.sampler.stopping.set()
        product_peaks = {k: v for k, v in self.sampler.peaks.items()}
        if product_peaks:
            self.results["db_connections_peak"] = max(product_peaks.values())
            self.note(
                "db_connections_peak",
                f"connections to {PRODUCT_DB} (pg_stat_activity, sampled every 100 ms) per "
                f"scenario: {product_peaks}",
            )
        else:
            self.note("db_connections_peak", "no product scenario ran")
        self.raw["elapsed_s"] = round(time.monotonic() - started, 1)

    def scenario_failed(self, name: str, keys: list[str], error: ScenarioError) -> None:
        log(f"{name} failed: {error}")
        for key in keys or ["auth_me_200_concurrent"]:
            if self.results.get(key) is None:
                self.note(key, f"failed: {error}")

    def machine(self) -> dict[str, Any]:
        def first(cmd: list[str]) -> str | None:
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
                return out.stdout.strip().splitlines()[0] if out.stdout.strip() else None
            except Exception:
                return None

        cpu = None
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        mem_kib = None
        with suppress(OSError, ValueError, IndexError):
            mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
        with pg() as conn:
            (pg_version,) = conn.execute("SHOW server_version").fetchone()
            (max_conn,) = conn.execute("SHOW max_connections").fetchone()
        return {
            "cpus": os.cpu_count(),
            "cpu_model": cpu,
            "memory_gib": round(mem_kib / 1024 / 1024, 1) if mem_kib else None,
            "kernel": platform.release(),
            "python": platform.python_version(),
            "node": first(["node", "--version"]),
            "postgresql": pg_version,
            "postgresql_max_connections": int(max_conn),
            "redis": first(["redis-server", "--version"]),
            "server_workers": self.workers,
            "ws_per_message_deflate": self.deflate,
            "quick": self.quick,
            "loadgen_nofile": self.nofile,
            "load_average_at_end": list(os.getloadavg()),
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "commit": first(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        }


def print_table(results: dict[str, Any], notes: dict[str, Any]) -> None:
    width = max(map(len, KEYS))
    print()
    for key in KEYS:
        value = results[key]
        shown = (
            "null"
            if value is None
            else f"{value:,}"
            if isinstance(value, int)
            else f"{value:,.1f}"
            if value >= 100
            else f"{value:,.2f}"
        )
        print(f"{key:<{width}}  {shown:>12}")
    print()
    for key, text in notes.items():
        print(f"- {key}: {text}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="comma-separated scenarios (default: all)")
    parser.add_argument("--quick", action="store_true", help="shorter steps, fewer sockets")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers (default 2)")
    parser.add_argument("--keep-db", action="store_true", help=f"reuse {PRODUCT_DB} as it is")
    parser.add_argument(
        "--out", help="result file (default bench/results/latest.json for a full run)"
    )
    args = parser.parse_args()
    scenarios = list(SCENARIOS)
    if args.only:
        wanted = set()
        for name in (n.strip() for n in args.only.split(",") if n.strip()):
            if name == "peers":
                wanted |= {"peer_socketio", "peer_channels"}
            elif name in SCENARIOS:
                wanted.add(name)
            else:
                parser.error(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}, peers")
        scenarios = [s for s in SCENARIOS if s in wanted]
    partial = bool(args.only) or args.quick
    out = Path(args.out) if args.out else RESULTS / ("partial.json" if partial else "latest.json")

    bench = Bench(args)
    bench.run(scenarios)
    document = {
        **bench.results,
        "notes": bench.notes,
        "machine": bench.machine(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1) + "\n")
    raw_path = out.with_name(out.stem + ".raw.json")
    raw_path.write_text(json.dumps(bench.raw, indent=1) + "\n")
    print_table(bench.results, bench.notes)
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"\nwrote {shown} (details: {raw_path.name})")


if __name__ == "__main__":
    main()
