"""The pages the product serves itself: the tenant app on a tenant's host, the super-admin
console on the public host. Each is one template loading ES modules; everything after
that goes through the REST API and the socket, as any other client would."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
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


def _served(request: HttpRequest, template: str, status: int = 200) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    response = render(
        request,
        template,
        {"tenant_name": tenant.name, "tenant_slug": tenant.schema_name},
        status=status,
    )
    response["Content-Security-Policy"] = content_security_policy(request.get_host())
    # The invitation and reset pages carry a token in their address: no referrer leaves.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Frame-Options"] = "DENY"
    response["Cache-Control"] = "no-store"
    return response


def _is_console(request: HttpRequest) -> bool:
    return bool(request.tenant.schema_name == settings.PUBLIC_SCHEMA_NAME)  # type: ignore[attr-defined]


@require_safe
def page(request: HttpRequest) -> HttpResponse:
    if request.tenant.is_suspended:  # type: ignore[attr-defined]
        return _served(request, "web/suspended.html", status=403)
    return _served(request, "web/console.html" if _is_console(request) else "web/app.html")


@require_safe
def join(request: HttpRequest) -> HttpResponse:
    """What a mailed invitation link opens (`INVITATION_URL`): on the tenant's host, the
    invitation and a form to accept it (choose a name and password, or give an existing
    account's password)."""
    if _is_console(request):
        raise Http404
    if request.tenant.is_suspended:  # type: ignore[attr-defined]
        return _served(request, "web/suspended.html", status=403)
    return _served(request, "web/join.html")


@require_safe
def reset_password(request: HttpRequest) -> HttpResponse:
    """What a mailed password-reset link opens (`PASSWORD_RESET_URL`), on any host: a
    form to choose the new password."""
    if request.tenant.is_suspended:  # type: ignore[attr-defined]
        return _served(request, "web/suspended.html", status=403)
    return _served(request, "web/reset.html")
