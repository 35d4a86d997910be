"""Limits that hold across server processes and transports.

With `REDIS_URL` set, counters live in Redis (keys under `REDIS_PREFIX`), so every
process and both transports (REST and WebSocket) count against one limit; without it, in
this process. Each check is one Redis round trip (a short Lua script). When Redis cannot
be reached the check falls back to this process's counters for the moment, so an outage
of Redis never refuses traffic by itself.

- `hit(scope, ident, rate)`: a fixed-window counter ("120/min": 120 events per minute,
  the window starting with the first event); the seconds to wait when over the limit.
- `SocketLeases`: open sockets per user, as a sorted set of socket ids whose scores are
  lease expiries. A process renews its sockets' leases while they are open and drops them
  when they close; a process that dies leaves leases that lapse within `LEASE_SECONDS`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.core.exceptions import ApplicationError

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
LEASE_SECONDS = 120  # a socket's lease lasts this long unless renewed
RENEW_SECONDS = 40  # how often a process renews the leases of its open sockets


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """ "20/min", "30/hour", "5/s": DRF's notation (the period's first letter counts)."""
        count, _, period = text.partition("/")
        return cls(int(count), _PERIODS[period.strip()[0].lower()])


class RateLimited(ApplicationError):
    """429 over REST (with Retry-After), `error` `rate_limited` with `retryAfter` on
    sockets."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- Redis -------------------------------------------------------------------------------

_WINDOW_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"""

_LEASE_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) == false
   and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""

_threads = threading.local()


def _scripts() -> dict[str, Any] | None:
    """This thread's Redis client, on a connection of its own, and its registered scripts;
    None without Redis, or when Redis cannot be reached (the caller counts here). Threads
    share no connection: a call takes no pool lock and no connection from a pool, which
    made up a third of its cost."""
    url = settings.LIMITS_REDIS_URL
    if not url:
        return None
    mine: dict[str, Any] | None = getattr(_threads, "redis", None)
    # A forked child (a Celery worker) inherits its parent's thread state: its own connection.
    if mine is None or mine["url"] != url or mine["pid"] != os.getpid():
        import redis

        try:  # the connection is made here (and made again by a call after it broke)
            client = redis.Redis.from_url(
                url, socket_timeout=0.5, socket_connect_timeout=0.5, single_connection_client=True
            )
        except redis.RedisError as error:
            _redis_unreachable(error)
            return None
        mine = {
            "url": url,
            "pid": os.getpid(),
            "client": client,
            "window": client.register_script(_WINDOW_SCRIPT),
            "lease": client.register_script(_LEASE_SCRIPT),
        }
        _threads.redis = mine
    return mine


def _key(*parts: object) -> str:
    return ":".join([f"{settings.REDIS_PREFIX}limits", *map(str, parts)])


def _redis_unreachable(error: Exception) -> None:
    logger.warning("Limits: Redis unreachable, counting in this process: %s", error)


# --- in this process ---------------------------------------------------------------------

_local_lock = threading.Lock()
_windows: dict[str, tuple[int, float]] = {}  # key -> (count, window end)


def _local_hit(key: str, rate: Rate) -> tuple[int, float]:
    now = time.monotonic()
    with _local_lock:
        if len(_windows) > 100_000:  # drop lapsed windows now and then
            for stale in [k for k, (_, end) in _windows.items() if end <= now]:
                del _windows[stale]
        count, end = _windows.get(key, (0, 0.0))
        if end <= now:
            count, end = 0, now + rate.seconds
        _windows[key] = (count + 1, end)
        return count + 1, end - now


def reset() -> None:
    """Forgets every counter under this deployment's prefix, here and in Redis (the test
    suite starts each test clean)."""
    with _local_lock:
        _windows.clear()
    redis_ = _scripts()
    if redis_ is not None:
        client = redis_["client"]
        keys = list(client.scan_iter(match=_key("*"), count=1000))
        if keys:
            client.delete(*keys)


# --- checks ------------------------------------------------------------------------------


def hit(scope: str, ident: object, rate: str) -> float | None:
    """Counts one event for `ident` under `scope`; None when within `rate`, otherwise the
    seconds until the window ends."""
    parsed = Rate.parse(rate)
    key = _key(scope, ident)
    redis_ = _scripts()
    count, remaining = 0, 0.0
    if redis_ is not None:
        try:
            count, ttl_ms = redis_["window"](keys=[key], args=[parsed.seconds * 1000])
            remaining = max(ttl_ms, 0) / 1000
        except Exception as error:  # Redis down: count here for now
            _redis_unreachable(error)
            redis_ = None
    if redis_ is None:
        count, remaining = _local_hit(key, parsed)
    if count <= parsed.count:
        return None
    return round(max(remaining, 0.01), 2)


def enforce(scope: str, ident: object, rate: str, message: str) -> None:
    """`hit`, raising RateLimited when over the limit."""
    wait = hit(scope, ident, rate)
    if wait is not None:
        raise RateLimited(message, retry_after=wait)


class SocketLeases:
    """Open sockets per user across processes (see the module's docstring)."""

    _local_lock = threading.Lock()
    _local: dict[int, dict[str, float]] = {}  # without Redis: user -> socket -> expiry
    mine: dict[str, int] = {}  # this process's open sockets: socket id -> user id

    @classmethod
    def acquire(cls, user_id: int, socket_id: str, cap: int) -> bool:
        """Takes a lease for a new socket; False when the user holds `cap` already."""
        now = time.time()
        redis_ = _scripts()
        if redis_ is not None:
            try:
                args = [now, now + LEASE_SECONDS, socket_id, cap, LEASE_SECONDS * 1000]
                taken = bool(redis_["lease"](keys=[_key("sockets", user_id)], args=args))
            except Exception as error:
                _redis_unreachable(error)
            else:
                if taken:
                    cls.mine[socket_id] = user_id
                return taken
        return cls._acquire_here(user_id, socket_id, cap, now)

    @classmethod
    def _acquire_here(cls, user_id: int, socket_id: str, cap: int, now: float) -> bool:
        with cls._local_lock:
            leases = {s: t for s, t in cls._local.get(user_id, {}).items() if t > now}
            if len(leases) >= cap:
                return False
            leases[socket_id] = now + LEASE_SECONDS
            cls._local[user_id] = leases
        cls.mine[socket_id] = user_id
        return True

    @classmethod
    def release(cls, socket_id: str) -> None:
        user_id = cls.mine.pop(socket_id, None)
        if user_id is None:
            return
        with cls._local_lock:
            cls._local.get(user_id, {}).pop(socket_id, None)
        redis_ = _scripts()
        if redis_ is not None:
            try:
                redis_["client"].zrem(_key("sockets", user_id), socket_id)
            except Exception as error:  # the lease lapses by itself
                _redis_unreachable(error)

    @classmethod
    def renew(cls) -> None:
        """Extends the leases of this process's open sockets (one round trip)."""
        expiry = time.time() + LEASE_SECONDS
        sockets = list(cls.mine.items())
        with cls._local_lock:
            for socket_id, user_id in sockets:
                if socket_id in cls._local.get(user_id, {}):
                    cls._local[user_id][socket_id] = expiry
        redis_ = _scripts()
        if redis_ is None or not sockets:
            return
        try:
            pipe = redis_["client"].pipeline(transaction=False)
            for socket_id, user_id in sockets:
                key = _key("sockets", user_id)
                pipe.zadd(key, {socket_id: expiry}, xx=True)
                pipe.pexpire(key, LEASE_SECONDS * 1000)
            pipe.execute()
        except Exception as error:
            _redis_unreachable(error)

    @classmethod
    def reset(cls) -> None:
        with cls._local_lock:
            cls._local.clear()
        cls.mine.clear()
