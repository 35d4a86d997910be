from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import structlog
from django.conf import settings
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.core.errors import too_large_response
from apps.core.health import health_report, liveness_report, readiness_report
from apps.core.metrics import HTTP_LATENCY, method_label

request_logger = logging.getLogger("apps.requests")

# A client's (or the proxy's) X-Request-ID is kept when it looks like an id; otherwise,
# or when absent, one is made.
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
PROBES = {"/healthz": health_report, "/livez": liveness_report, "/readyz": readiness_report}
UNMATCHED = "<unmatched>"  # no route: unknown host, 404, refused before routing


def request_id_of(value: str | None) -> str:
    return value if value and REQUEST_ID.match(value) else uuid4().hex


def route_of(request: HttpRequest) -> str:
    """The URL pattern that served the request (`api/chat/channels/<uuid:channel_id>`), so
    logs and metrics group requests without ids in them."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return str(match.route)
    if request.path in PROBES:
        return request.path.lstrip("/")
    return UNMATCHED


class RequestLogMiddleware:
    """Outermost: one log line and one latency observation per request, with its request
    id (taken from X-Request-ID or made, and returned in X-Request-ID), tenant, user,
    route, status and duration. Lines logged while serving carry the request id too.
    Probes log at DEBUG, so load balancers do not fill the log."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = request_id_of(request.META.get("HTTP_X_REQUEST_ID"))
        # Cleared when the response is closed (`request_finished`), after Django's own
        # line about a failed request, which comes after the middleware.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        elapsed = time.perf_counter() - started
        route = route_of(request)
        status = response.status_code
        HTTP_LATENCY.labels(route, method_label(request.method), str(status)).observe(elapsed)
        tenant = getattr(request, "tenant", None)
        user = getattr(request, "user", None)
        request_logger.log(
            logging.DEBUG if request.path in PROBES else logging.INFO,
            "request",
            extra={
                "method": request.method,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "tenant": getattr(tenant, "schema_name", None),
                "user": getattr(user, "pk", None),
            },
        )
        return response


class BodyLimitMiddleware:
    """Refuses a body over MAX_BODY_BYTES with 413 before anything reads it (or queries
    the database for the host)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_BODY_BYTES:
            return too_large_response()
        return self.get_response(request)


class HealthCheckMiddleware:
    """Answers the probes (`/livez`, `/readyz`, `/healthz`) before tenant routing, so a
    load balancer can probe by IP."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path)
        if probe is not None:
            report = probe()
            return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """API answers (JSON) get API_CONTENT_SECURITY_POLICY: nothing in them may load or
    run, nor be framed. The docs page (HTML) keeps what it needs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("application/json"):
            response.headers.setdefault(
                "Content-Security-Policy", settings.API_CONTENT_SECURITY_POLICY
            )
        return response


def _forget_request(**_: Any) -> None:
    structlog.contextvars.clear_contextvars()


request_finished.connect(_forget_request, dispatch_uid="apps.core.forget_request")
