"""Probes: `/livez` (the process answers; never asks the database, so a database outage
does not get every worker restarted), `/readyz` (the database and Redis answer: send
traffic here) and `/healthz` (as `/readyz`, kept for existing probes)."""

from __future__ import annotations

from django.conf import settings

from apps.core.db import tenant_connection


def _database_status() -> str:
    try:
        connection = tenant_connection()
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # reported, not raised: this is the health page
        return f"error: {type(exc).__name__}"


def _redis_status() -> str:
    if not settings.REDIS_URL:
        return "not_configured"
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1)
        client.ping()
        client.close()
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def liveness_report() -> dict[str, str]:
    return {"status": "ok"}


def readiness_report() -> dict[str, str]:
    return health_report()


def health_report() -> dict[str, str]:
    database = _database_status()
    redis_status = _redis_status()
    healthy = database == "ok" and redis_status in {"ok", "not_configured"}
    return {"status": "ok" if healthy else "error", "database": database, "redis": redis_status}
