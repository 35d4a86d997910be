"""WebSocket plumbing: the tenant from the Host header, the actor from the credential, and
the one helper through which consumers touch the database.

Sockets' database calls run on a few shared worker threads (`run_db`) whose connections
keep whatever schema the previous call set; `in_tenant` enters the connection's tenant
inside the thread for every unit of work, so two tenants' sockets interleaving can never
read or write each other's schema.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from functools import partial
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse
from uuid import uuid4

from channels.db import database_sync_to_async
from django.conf import settings
from django.http.request import validate_host
from django_tenants.utils import tenant_context

from apps.accounts.actors import Actor
from apps.accounts.models import ApiToken
from apps.accounts.selectors import actor_for, credential_on_host
from apps.accounts.tickets import ticket_redeem
from apps.core.closecodes import (
    CLOSE_FORBIDDEN,
    CLOSE_TOO_MANY,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHENTICATED,
    CLOSE_UNKNOWN_HOST,
)
from apps.core.db import enter_tenant, keep_connection
from apps.core.errors import UNAVAILABLE, database_unavailable
from apps.core.limits import SocketLeases
from apps.tenancy.hosts import active_tenant_for_host, host_name
from apps.tenancy.models import SUSPENDED_CODE, SUSPENDED_MESSAGE, Tenant

T = TypeVar("T")
logger = logging.getLogger(__name__)


_executor: ThreadPoolExecutor | None = None


def _db_threads() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=settings.WS_DB_THREADS, thread_name_prefix="socket-db"
        )
    return _executor


class Backlog:
    """Socket database calls waiting or running in this process, and how long one takes
    on its thread (a moving average), from which a refused frame learns when the backlog
    will have drained."""

    waiting = 0
    seconds_per_call = 0.001

    @classmethod
    def full(cls) -> bool:
        return cls.waiting >= settings.WS_DB_BACKLOG

    @classmethod
    def took(cls, seconds: float) -> None:
        cls.seconds_per_call += (seconds - cls.seconds_per_call) * 0.05

    @classmethod
    def retry_after(cls) -> float:
        """Seconds until the calls waiting now are done, between 0.1 and 2: clients come
        back when there is room, not all at once a fixed second later."""
        threads = max(settings.WS_DB_THREADS, 1)
        drained = cls.waiting * cls.seconds_per_call / threads
        return round(min(max(drained, 0.1), 2.0), 2)


def _keeping_connection(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Runs `fn` on a socket database thread, which keeps its pooled connection between
    calls (no pool round trip and no search-path reset per call) unless the connection
    broke."""
    started = time.perf_counter()
    try:
        return fn(*args, **kwargs)
    finally:
        keep_connection()
        Backlog.took(time.perf_counter() - started)


async def run_db(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Runs `fn` on one of WS_DB_THREADS threads, so sockets' database work proceeds in
    parallel; each thread holds one connection of the process's pool. With
    WS_DB_THREADS=0, on Channels' one thread-sensitive thread instead (tests share their
    transaction that way)."""
    Backlog.waiting += 1
    try:
        if settings.WS_DB_THREADS <= 0:
            return await database_sync_to_async(fn)(*args, **kwargs)
        return await _on_db_thread(fn, *args, **kwargs)
    finally:
        Backlog.waiting -= 1


async def _on_db_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """One hand-off to a socket database thread, in a copy of the caller's context
    variables (the request id of its log lines). Lighter than asgiref's `sync_to_async`,
    which also maps thread-sensitive executors and copies the context back afterwards;
    nothing set on these threads is read after the call. A cancelled caller still waits
    for the call to finish (as `sync_to_async` does): the work is not abandoned half-way
    from the caller's point of view, and the backlog stays counted."""
    context = contextvars.copy_context()
    future = asyncio.get_running_loop().run_in_executor(
        _db_threads(), partial(context.run, _keeping_connection, fn, *args, **kwargs)
    )
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with suppress(BaseException):
            await asyncio.wait([future])
        raise


async def in_tenant(tenant: Tenant, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Runs `fn` on a socket database thread, in the tenant's schema. The thread's
    connection stays there afterwards (the next call enters its own tenant): a thread
    serving one tenant's sockets in a row sets its search path once, not twice a call."""

    def run() -> T:
        enter_tenant(tenant)
        return fn(*args, **kwargs)

    if settings.WS_DB_THREADS <= 0:
        # Channels' one thread, shared with other sync code (tests): leave it as found.
        def run_shared() -> T:
            with tenant_context(tenant):
                return fn(*args, **kwargs)

        return await run_db(run_shared)

    return await run_db(run)


def header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def _origin_allowed(origin: str) -> bool:
    """Browsers always send Origin: it must be one of our hosts or a configured CORS
    origin. Tools such as wscat send none, and authenticate with a token anyway."""
    if not origin:
        return True
    if origin in settings.CORS_ALLOWED_ORIGINS:
        return True
    host = urlparse(origin).hostname or ""
    return validate_host(host, settings.ALLOWED_HOSTS)


def _query(scope: dict[str, Any]) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"))


def _credential(scope: dict[str, Any], tenant: Tenant) -> tuple[ApiToken, Actor | None] | None:
    """The token the socket acts for, from `Authorization: Bearer`, a single-use
    `?ticket=` (POST /api/auth/ws-ticket), or `?token=`; and the actor it gives on the
    tenant's host (None when it does not work there)."""
    scheme, _, raw = header(scope, b"authorization").partition(" ")
    if scheme.lower() == "bearer" and raw.strip():
        return credential_on_host(raw=raw.strip(), tenant=tenant)
    query = _query(scope)
    if ticket := query.get("ticket", [""])[0]:
        token = ticket_redeem(raw=ticket, tenant_id=tenant.pk)
        return (token, actor_for(user=token.user, tenant=tenant)) if token else None
    raw = query.get("token", [""])[0]
    return credential_on_host(raw=raw, tenant=tenant) if raw else None


def _host_tenant(scope: dict[str, Any]) -> tuple[Tenant | None, int | None]:
    if not _origin_allowed(header(scope, b"origin")):
        return None, CLOSE_FORBIDDEN
    host = host_name(header(scope, b"host"))
    tenant = active_tenant_for_host(host) if host else None
    if tenant is None:
        return None, CLOSE_UNKNOWN_HOST
    if tenant.is_suspended:
        scope["close_error"] = (SUSPENDED_CODE, SUSPENDED_MESSAGE)
        return None, CLOSE_FORBIDDEN
    return tenant, None


def _authenticate(scope: dict[str, Any]) -> tuple[Actor | None, int | None]:
    tenant, refused = _host_tenant(scope)
    if tenant is None:
        return None, refused
    found = _credential(scope, tenant)
    if found is None:
        return None, CLOSE_UNAUTHENTICATED
    token, actor = found
    if actor is None:
        return None, CLOSE_FORBIDDEN
    # Revocation closes the sockets opened with this token; expiry, those still open then.
    scope.update(token_id=token.pk, token_expires_at=token.expires_at)
    scope["socket_id"] = uuid4().hex
    cap = settings.WS_MAX_SOCKETS_PER_USER
    if not SocketLeases.acquire(actor.user.pk, scope["socket_id"], cap):
        scope["close_error"] = (
            "too_many_sockets",
            f"At most {cap} open sockets per user; close one first.",
        )
        return None, CLOSE_TOO_MANY
    return actor, None


class ConnectionAuthMiddleware:
    """Resolves host and credential once per connection: `scope["actor"]` (with its
    tenant), `scope["token_id"]` and `scope["token_expires_at"]`, or `scope["close_code"]`
    for the consumer to close with."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        try:
            actor, close_code = await run_db(_authenticate, scope)
        except Exception as error:
            if not database_unavailable(error):
                raise
            logger.warning("Socket refused, database unavailable: %s", error)
            scope["close_error"] = UNAVAILABLE
            actor, close_code = None, CLOSE_TRY_AGAIN
        scope.update(actor=actor, close_code=close_code)
        try:
            return await self.inner(scope, receive, send)
        finally:  # the socket's place under WS_MAX_SOCKETS_PER_USER, however it ended
            if socket_id := scope.get("socket_id"):
                await asyncio.get_running_loop().run_in_executor(
                    None, SocketLeases.release, socket_id
                )
