"""The Django cache on Redis with one connection pool per process.

Django keeps a cache instance per thread, and under ASGI every request runs in a thread of
its own, so the stock backend built a pool, and opened a Redis connection, per request
(the login and message throttles read the cache on every call). Here every instance
shares one client and its pool."""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_pools: dict[str, Any] = {}
_lock = threading.Lock()


class _SharedPoolClient(RedisCacheClient):
    def _get_connection_pool(self, write: bool) -> Any:
        this: Any = self  # the stubs leave out the stock client's private attributes
        server = this._servers[this._get_connection_pool_index(write)]
        pool = _pools.get(server)
        if pool is None:
            with _lock:
                pool = _pools.get(server)
                if pool is None:
                    pool = _pools[server] = this._pool_class.from_url(server, **this._pool_options)
        return pool


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _SharedPoolClient
