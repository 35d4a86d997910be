from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.core.health import health_report


class HealthCheckMiddleware:
    """Answers `/healthz` before tenant routing, so a load balancer can probe by IP.
    Sync and async: under ASGI a request crosses into a thread once, for its view, and not
    once more for this middleware."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        if request.path == "/healthz":
            return _health()
        response: HttpResponse = self.get_response(request)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return await sync_to_async(_health)()
        response: HttpResponse = await self.get_response(request)
        return response


def _health() -> HttpResponse:
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
