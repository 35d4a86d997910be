from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django_tenants.middleware.main import TenantMainMiddleware

from apps.core.errors import error_response
from apps.tenancy.hosts import host_name, tenant_for_host
from apps.tenancy.models import SUSPENDED_CODE, SUSPENDED_MESSAGE, Tenant

# The web client's page answers a suspended tenant's host too, to say it is suspended.
PAGE_PATH = "/"


class TenantMiddleware(TenantMainMiddleware):
    """django-tenants' host routing, answering an unknown host with the JSON error shape.
    The host is read as sockets read it (`apps.tenancy.hosts`)."""

    @staticmethod
    def hostname_from_request(request: HttpRequest) -> str:
        return host_name(request.get_host())  # get_host checks ALLOWED_HOSTS

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        response = super().process_request(request)
        if response is not None and response.get("Content-Type") != "application/json":
            # django-tenants answers a disallowed Host header with a bare 404.
            return self._unknown_host()
        suspended = response is None and request.tenant.is_suspended  # type: ignore[attr-defined]
        if suspended and request.path != PAGE_PATH:
            return error_response(403, SUSPENDED_CODE, SUSPENDED_MESSAGE)
        return response

    def get_tenant(self, domain_model: Any, hostname: str) -> Tenant:
        tenant = tenant_for_host(hostname)
        if tenant is None:
            raise domain_model.DoesNotExist
        return tenant

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        return self._unknown_host()

    @staticmethod
    def _unknown_host() -> HttpResponse:
        return error_response(404, "unknown_host", "No tenant is served on this host.")
