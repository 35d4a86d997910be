from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.core.errors import too_large_response
from apps.core.health import health_report


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
    """Answers `/healthz` before tenant routing, so a load balancer can probe by IP."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            report = health_report()
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
