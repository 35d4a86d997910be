"""WebSocket plumbing: the tenant from the Host header, the actor from the credential, and
the one helper through which consumers touch the database.

Sockets' database calls run on a few shared worker threads (`run_db`) whose connections
keep whatever schema the previous call set; `in_tenant` enters the connection's tenant
inside the thread for every unit of work, so two tenants' sockets interleaving can never
read or write each other's schema.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http.request import split_domain_port, validate_host
from django_tenants.utils import tenant_context

from apps.accounts.actors import Actor
from apps.accounts.selectors import credential_on_host
from apps.core.closecodes import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, CLOSE_UNKNOWN_HOST
from apps.core.db import tenant_connection
from apps.tenancy.models import SUSPENDED_CODE, SUSPENDED_MESSAGE, Tenant
from apps.tenancy.selectors import tenant_for_host

T = TypeVar("T")


_on_db_threads: Callable[..., Any] | None = None


def _db_threads() -> Callable[..., Any]:
    """`_keeping_connection` run on the socket database threads; built once, as building
    the wrapper costs more than the hop."""
    global _on_db_threads
    if _on_db_threads is None:
        executor = ThreadPoolExecutor(
            max_workers=settings.WS_DB_THREADS, thread_name_prefix="socket-db"
        )
        _on_db_threads = sync_to_async(
            _keeping_connection, thread_sensitive=False, executor=executor
        )
    return _on_db_threads


class Backlog:
    """Socket database calls waiting or running in this process."""

    waiting = 0

    @classmethod
    def full(cls) -> bool:
        return cls.waiting >= settings.WS_DB_BACKLOG


def _keeping_connection(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Runs `fn` on a socket database thread, which keeps its pooled connection between
    calls (no pool round trip and no search-path reset per call) unless the connection
    broke."""
    try:
        return fn(*args, **kwargs)
    finally:
        connection = connections[DEFAULT_DB_ALIAS]
        connection.close_at = None  # not obsolete: this thread's own, for good
        connection.close_if_unusable_or_obsolete()


async def run_db(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Runs `fn` on one of WS_DB_THREADS threads, so sockets' database work proceeds in
    parallel; each thread holds one connection of the process's pool. With
    WS_DB_THREADS=0, on Channels' one thread-sensitive thread instead (tests share their
    transaction that way)."""
    Backlog.waiting += 1
    try:
        if settings.WS_DB_THREADS <= 0:
            return await database_sync_to_async(fn)(*args, **kwargs)
        result: T = await _db_threads()(fn, *args, **kwargs)
        return result
    finally:
        Backlog.waiting -= 1


async def in_tenant(tenant: Tenant, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    def run() -> T:
        with tenant_context(tenant):
            return fn(*args, **kwargs)

    return await run_db(run)


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def _tenant_for_host(host: str) -> Tenant | None:
    tenant_connection().set_schema_to_public()
    return tenant_for_host(host)


def _origin_allowed(origin: str) -> bool:
    """Browsers always send Origin: it must be one of our hosts or a configured CORS
    origin. Tools such as wscat send none, and authenticate with a token anyway."""
    if not origin:
        return True
    if origin in settings.CORS_ALLOWED_ORIGINS:
        return True
    host = urlparse(origin).hostname or ""
    return validate_host(host, settings.ALLOWED_HOSTS)


def _raw_token(scope: dict[str, Any]) -> str | None:
    scheme, _, raw = _header(scope, b"authorization").partition(" ")
    if scheme.lower() == "bearer" and raw.strip():
        return raw.strip()
    query = parse_qs(scope.get("query_string", b"").decode())
    return query.get("token", [None])[0]


def _authenticate(scope: dict[str, Any]) -> tuple[Actor | None, int | None]:
    host, _port = split_domain_port(_header(scope, b"host"))
    if not _origin_allowed(_header(scope, b"origin")):
        return None, CLOSE_FORBIDDEN
    tenant = _tenant_for_host(host) if host else None
    if tenant is None:
        return None, CLOSE_UNKNOWN_HOST
    if tenant.is_suspended:
        scope["close_error"] = (SUSPENDED_CODE, SUSPENDED_MESSAGE)
        return None, CLOSE_FORBIDDEN
    raw = _raw_token(scope)
    found = credential_on_host(raw=raw, tenant=tenant) if raw else None
    if found is None:
        return None, CLOSE_UNAUTHENTICATED
    _token, actor = found
    if actor is None:
        return None, CLOSE_FORBIDDEN
    return actor, None


class ConnectionAuthMiddleware:
    """Resolves host and credential once per connection: `scope["actor"]` (with its
    tenant) or `scope["close_code"]` for the consumer to close with."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        actor, close_code = await run_db(_authenticate, scope)
        scope.update(actor=actor, close_code=close_code)
        return await self.inner(scope, receive, send)
