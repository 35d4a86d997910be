"""Where the channel layer's Redis is (see deploy/SCALING.md).

- `REDIS_URL` alone: one Redis.
- `CHANNEL_LAYER_REDIS_URLS` (comma-separated URLs): several Redis servers; channels-redis
  shards the layer over them by group name (the same group always on the same server, in
  every process, as long as every process lists the same URLs in the same order).
- `REDIS_SENTINELS` (comma-separated `host:port`) with `REDIS_SENTINEL_MASTER` (default
  `mymaster`): the master that Redis Sentinel names, followed across failovers;
  `REDIS_SENTINEL_DB` picks the database (0).

The cache (socket tickets) and the limits stay on `REDIS_URL` (and `LIMITS_REDIS_URL`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _listed(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def channel_layer_hosts(environ: Mapping[str, str], redis_url: str) -> list[Any]:
    """The `hosts` of channels-redis's layer."""
    sentinels = _listed(environ.get("REDIS_SENTINELS", ""))
    if sentinels:
        pairs = [(host, int(port)) for host, port in (s.rsplit(":", 1) for s in sentinels)]
        return [
            {
                "sentinels": pairs,
                "master_name": environ.get("REDIS_SENTINEL_MASTER", "mymaster"),
                "db": int(environ.get("REDIS_SENTINEL_DB", "0")),
            }
        ]
    return _listed(environ.get("CHANNEL_LAYER_REDIS_URLS", "")) or [redis_url]
