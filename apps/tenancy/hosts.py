"""The one reading of a Host header, for HTTP and WebSocket alike.

A host is lower-cased and loses its port and a trailing dot (`ACME.example.com.:443` is
`acme.example.com`); nothing else is rewritten. In particular `www.` is not stripped:
tenant hosts are exactly `<slug>.<BASE_DOMAIN>` (and `www` is a reserved slug), so
`www.acme.example.com` is an unknown host on both transports.
"""

from __future__ import annotations

from django.http.request import split_domain_port

from apps.tenancy.models import Domain, Tenant


def host_name(host_header: str) -> str:
    """The normalised host of a `Host` header; empty when it is malformed."""
    domain, _port = split_domain_port(host_header)
    return domain


def tenant_for_host(host: str) -> Tenant | None:
    """The tenant served on a normalised host, if any (on the public schema)."""
    if not host:
        return None
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    return domain.tenant if domain else None
