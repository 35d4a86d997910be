from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django_tenants.middleware.main import TenantMainMiddleware
from rest_framework.exceptions import AuthenticationFailed

from apps.accounts.authentication import HOST_CREDENTIAL, bearer_from_header
from apps.core.db import enter_tenant
from apps.core.errors import error_response
from apps.tenancy.hosts import host_name, tenant_and_credential, tenant_for_host
from apps.tenancy.models import SUSPENDED_CODE, SUSPENDED_MESSAGE

# The web client's page answers a suspended tenant's host too, to say it is suspended.
PAGE_PATH = "/"


class TenantMiddleware(TenantMainMiddleware):
    """django-tenants' host routing, answering an unknown host with the JSON error shape.
    The host is read as sockets read it (`apps.tenancy.hosts`)."""

    @staticmethod
    def hostname_from_request(request: HttpRequest) -> str:
        return host_name(request.get_host())  # get_host checks ALLOWED_HOSTS

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        """As django-tenants' own, less its switch to the public schema first: the host
        lookup names the public tables, and the connection enters the tenant without a
        second `SET search_path` when it is on that schema already. With a bearer token,
        the same statement reads the credential for authentication."""
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return self._unknown_host()
        raw = self._bearer(request)
        if raw is None:
            tenant = tenant_for_host(hostname)
        else:
            tenant, credential = tenant_and_credential(hostname, raw)
            setattr(request, HOST_CREDENTIAL, (raw, credential))
        if tenant is None:
            return self._unknown_host()
        tenant.domain_url = hostname  # type: ignore[assignment]
        request.tenant = tenant  # type: ignore[attr-defined]
        enter_tenant(tenant)
        self.setup_url_routing(request)
        if tenant.is_suspended and request.path != PAGE_PATH:
            return error_response(403, SUSPENDED_CODE, SUSPENDED_MESSAGE)
        return None

    @staticmethod
    def _bearer(request: HttpRequest) -> str | None:
        """The request's bearer secret, read with the host in one statement; a malformed
        header is left to authentication to refuse."""
        try:
            return bearer_from_header(request.META.get("HTTP_AUTHORIZATION", ""))
        except AuthenticationFailed:
            return None

    @staticmethod
    def _unknown_host() -> HttpResponse:
        return error_response(404, "unknown_host", "No tenant is served on this host.")
