"""The pages the product serves itself: the tenant app on a tenant's host, the super-admin
console on the public host. Each is one template loading ES modules; everything after
that goes through the REST API and the socket, as any other client would."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe


def content_security_policy(host: str) -> str:
    """No inline script or style, nothing from another origin. Sockets may go to this host
    and, for the console answering an escalation live, to the tenants' hosts."""
    base = settings.BASE_DOMAIN
    sockets = (
        f"ws://{host} wss://{host} ws://*.{base}:* wss://*.{base}:* ws://*.{base} wss://*.{base}"
    )
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {sockets}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@require_safe
def page(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    is_console = tenant.schema_name == settings.PUBLIC_SCHEMA_NAME
    template = "web/console.html" if is_console else "web/app.html"
    if tenant.is_suspended:
        template = "web/suspended.html"
    response = render(
        request,
        template,
        {"tenant_name": tenant.name, "tenant_slug": tenant.schema_name},
        status=403 if tenant.is_suspended else 200,
    )
    response["Content-Security-Policy"] = content_security_policy(request.get_host())
    response["Referrer-Policy"] = "same-origin"
    response["X-Frame-Options"] = "DENY"
    response["Cache-Control"] = "no-store"
    return response
